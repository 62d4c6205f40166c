"""Write a patch as a two-dimensional text diagram that `patchflow run` runs as the same graph.

The diagram follows the layered layout of the pictures: each layer is a line of boxes, and a
wire between neighbouring layers is drawn in the gap below its source — down from the outlet's
column, along a track of its own, down into the inlet's column with an arrowhead (`↓`), with
`┼` where it crosses another wire. The diagram language fixes a few things, handled here:

- a named box is declared `name = [...]` and must come first on its line, so a layer shows at
  most one named box (first); a named box with a body, or a second named box in a layer, is
  declared above the diagram and wired by name below it;
- anonymous boxes with the same text are one box in a diagram, so the second and later of
  them get a name (`loadbang_2`): the only change of box id the round trip makes;
- an anonymous box's id counts boxes of its class in file order, so when the diagram would
  meet them in another order, a line of the boxes in their original order comes first;
- a wire the gap cannot draw (it spans several layers, goes back up, or its port has no
  free column) is written as a chain below the diagram, and wires from one outlet are kept
  in their delivery order (a drawn wire's place in the file is its arrowhead).

What is written is read back and compared with the patch; if anything differs (a case the
drawing does not handle), the patch is written as plain chains instead, which always holds.
"""

from __future__ import annotations

from ..diagram import port_at
from .chains import (
    anchored_chains,
    box_lines,
    chain_names,
    declaration,
    duplicate_names,
    plain_chains,
    reads_back,
    render_chains,
    wire,
)
from .layout import lay_out
from .model import Drawing, Edge

GAP = 3  # columns between boxes on a line


def render_text(drawing: Drawing) -> str:
    """The patch as a diagram, or as chains when the diagram would not read back the same."""
    return write_text(drawing)[0]


def write_text(drawing: Drawing) -> tuple[str, dict[str, str]]:
    """The text and the new ids it gives boxes (old id → new), trying the forms in order."""
    try:
        written = _Diagram(drawing).write()
    except _Unfit:
        written = None
    for attempt in (written, anchored_chains(drawing), plain_chains(drawing)):
        if attempt is not None and reads_back(drawing, *attempt):
            return attempt
    names = chain_names(drawing)
    return render_chains(drawing), {k: v for k, v in names.items() if k != v}


class _Unfit(Exception):
    """The patch has something the diagram writer does not draw (multi-line box text)."""


class _Diagram:
    """One diagram being written: rows of boxes, the wires in the gaps, chains for the rest."""

    def __init__(self, drawing: Drawing) -> None:
        if any("\n" in n.text for n in drawing.nodes):
            raise _Unfit
        self.drawing = drawing
        self.nodes = {n.id: n for n in drawing.nodes}
        self.renames = duplicate_names(drawing)
        self.label: dict[str, str | None] = {  # id → the name it is declared with, or None
            n.id: n.id if n.named else self.renames.get(n.id) for n in drawing.nodes
        }

    def write(self) -> tuple[str, dict[str, str]]:
        layout = lay_out(self.drawing)
        tops = sorted({p.y for p in layout.places.values()})
        layer = {key: tops.index(p.y) for key, p in layout.places.items()}
        rows: list[list[str]] = [[] for _ in tops]
        declared_above: list[str] = []
        for n in sorted(self.drawing.nodes, key=lambda n: layout.places[n.id].x):
            row = rows[layer[n.id]]
            if self.label[n.id] is None:
                row.append(n.id)
            elif n.body is None and not any(self.label[k] for k in row):
                row.insert(0, n.id)
            else:
                declared_above.append(n.id)
        top = self._top_section(rows, declared_above)
        rows = [[k for k in row if self.label[k] is None or k not in top] for row in rows]
        rows = [row for row in rows if row]
        layer = {k: r for r, row in enumerate(rows) for k in row}
        self.layer = layer
        self.placed = {k for row in rows for k in row}
        self.start: dict[str, int] = {}  # id → column of its `[`
        self.width = {k: len(self.nodes[k].text) + 2 for k in self.nodes}
        self.xs = {k: p.x for k, p in layout.places.items()}
        gaps = [self._gap_edges(r) for r in range(len(rows))]
        self._columns(rows, gaps)
        left = min((self.start[k] - self._prefix(k) for k in self.start), default=0)
        for k in self.start:
            self.start[k] -= left
        return self._assemble(rows, gaps, top), self.renames

    def _top_section(self, rows: list[list[str]], declared_above: list[str]) -> list[str]:
        """The boxes written above the diagram, in file order: those it cannot show, and,
        when the diagram would meet them in another order, every anonymous box (their ids
        count in file order) or every box that acts at start (loadbangs fire in file order).
        """
        order = [n.id for n in self.drawing.nodes]
        listed = set(declared_above)

        def met(listed: set[str]) -> list[str]:
            grid = [k for row in rows for k in row if k not in listed or not self.label[k]]
            first = [k for k in order if k in listed]
            return first + [k for k in grid if k not in listed]

        anonymous = [k for k in order if self.label[k] is None]
        if not _same_per_class([k for k in met(listed) if k in anonymous], anonymous, self.nodes):
            listed |= set(anonymous)
        starts = [k for k in order if self.nodes[k].starts]
        if [k for k in met(listed) if k in starts] != starts:
            listed |= set(starts)
        return [k for k in order if k in listed]

    def _gap_edges(self, r: int) -> list[int]:
        """Indices of the wires that may be drawn below row r (to a box of row r + 1)."""
        return [
            i
            for i, e in enumerate(self.drawing.edges)
            if e.source in self.placed
            and e.target in self.placed
            and self.layer[e.source] == r
            and self.layer[e.target] == r + 1
        ]

    def _columns(self, rows: list[list[str]], gaps: list[list[int]]) -> None:
        """Place boxes on their lines: under their first source's outlet where there is room."""
        from .layout import CHAR_WIDTH

        # every line starts at least as far in as the longest `name = `, so that a box can
        # stand right under a named box's `[` (a name only comes first on its line)
        base = max((self._prefix(k) for row in rows for k in row), default=0)
        for r, row in enumerate(rows):
            end = 0
            for k in row:
                prefix = self._prefix(k)
                lowest = end + GAP + prefix if end else base
                want = round(self.xs[k] / CHAR_WIDTH)
                feeding = [i for i in gaps[r - 1] if self.drawing.edges[i].target == k] if r else []
                if feeding:
                    e = self.drawing.edges[feeding[0]]
                    outs = self._port_cols(e.source, "out", e.outlet)
                    ins = self._port_cols(k, "in", e.inlet)
                    if outs and ins:
                        want = self.start[e.source] + outs[0] - ins[0]
                self.start[k] = max(want, lowest)
                end = self.start[k] + self.width[k]

    def _prefix(self, key: str) -> int:
        """Columns the `name = ` before a named box takes."""
        return len(self.label[key]) + 3 if self.label[key] else 0

    def _port_cols(self, key: str, side: str, port: int) -> list[int]:
        """Columns within the box (from its `[`) that choose this port, best first."""
        node, width = self.nodes[key], self.width[key]
        count = node.inlets if side == "in" else node.outlets
        cols = [i for i in range(width) if port_at(i, width, count) == port]
        if count <= 1 or not cols:
            return sorted(cols, key=lambda i: (i == 0 or i == width - 1, i))
        middle = (cols[0] + cols[-1]) / 2
        if port == 0:
            middle = 1
        elif port == count - 1:
            middle = width - 2
        return sorted(cols, key=lambda i: (abs(i - middle), i))

    def _target_guess(self, i: int) -> int:
        e = self.drawing.edges[i]
        cols = self._port_cols(e.target, "in", e.inlet)
        return self.start[e.target] + (cols[0] if cols else 0)

    def _spread(self, edges: list[int], side: str, other_end) -> dict[int, int]:
        """Give the wires of each port distinct columns, in the order of their other ends."""
        groups: dict[tuple[str, int], list[int]] = {}
        for i in edges:
            e = self.drawing.edges[i]
            key = (e.source, e.outlet) if side == "out" else (e.target, e.inlet)
            groups.setdefault(key, []).append(i)
        chosen: dict[int, int] = {}
        for (box, port), wires in groups.items():
            cols = self._port_cols(box, side, port)[: len(wires)]
            if len(cols) < len(wires):
                continue  # too narrow a port: these wires are written as chains
            wires = sorted(wires, key=lambda i: (other_end(i), i))
            for i, col in zip(wires, sorted(cols), strict=True):
                chosen[i] = self.start[box] + col
        return chosen

    def _route_gap(self, edges: list[int]) -> dict[int, tuple[int, int, int | None]]:
        """Choose each wire's outlet and inlet column and its track; drop what cannot fit."""
        ends: dict[int, tuple[int, int]] = {}
        outs = self._spread(edges, "out", lambda i: self._target_guess(i))
        ins = self._spread([i for i in edges if i in outs], "in", lambda i: outs[i])
        for i in edges:
            if i in outs and i in ins:
                ends[i] = (outs[i], ins[i])
        # a wire whose outlet column is another's inlet column must turn above that one
        bent = [i for i in ends if ends[i][0] != ends[i][1]]
        straight = {ends[i][0] for i in ends if ends[i][0] == ends[i][1]}
        bent = [i for i in bent if ends[i][0] not in straight and ends[i][1] not in straight]
        order: list[int] = []
        # rightward wires turn rightmost first, leftward ones leftmost first: then they do
        # not cross each other (a channel router's classic order)
        pending = sorted(
            bent,
            key=lambda i: (
                ends[i][1] < ends[i][0],
                -ends[i][0] if ends[i][1] > ends[i][0] else ends[i][0],
            ),
        )
        while pending:
            for i in pending:
                # i may take the next track if no other pending wire must turn above it
                if not any(ends[j][0] == ends[i][1] for j in pending if j != i):
                    order.append(i)
                    pending.remove(i)
                    break
            else:
                break  # a cycle: the rest are written as chains
        routed = {i: (*ends[i], None) for i in ends if ends[i][0] == ends[i][1]}
        routed.update({i: (*ends[i], t) for t, i in enumerate(order)})
        return routed

    def _assemble(self, rows, gaps, top) -> str:
        lines: list[str] = []
        arrows: dict[int, tuple[int, int]] = {}  # edge → (line, column) of its arrowhead
        gap_cells: list[dict[tuple[int, int], str]] = []
        row_line: list[int] = []
        routes = []
        line_no = 0
        for r in range(len(rows)):
            routed = self._route_gap(gaps[r]) if r + 1 < len(rows) else {}
            routes.append(routed)
            tracks = sum(1 for v in routed.values() if v[2] is not None)
            row_line.append(line_no)
            height = (tracks + 1) if routed else 0
            for i, (_, into, _) in routed.items():
                arrows[i] = (line_no + height, into)
            line_no += 1 + max(height, 1)
        drawn = self._keep_delivery_order(arrows)
        for r, row in enumerate(rows):
            lines.append(self._row_text(row))
            routed = {i: v for i, v in routes[r].items() if i in drawn}
            cells = self._gap_cells(routes[r], routed)
            height = (
                (sum(1 for v in routes[r].values() if v[2] is not None) + 1) if routes[r] else 0
            )
            for y in range(height):
                line = "".join(cells.get((y, x), " ") for x in range(self._right(cells) + 1))
                lines.append(line.rstrip())
            if not height:
                lines.append("")  # rows apart, though no wire is drawn between them
            gap_cells.append(cells)
        if not drawn:
            raise _Unfit  # without a drawn wire the file is no diagram: boxes would not merge
        self._break_lone_declarations(lines, rows, row_line)
        while lines and not lines[-1]:
            lines.pop()
        out = [f"patch {self.drawing.patch_id}", ""]
        if top:
            out.append("# boxes declared before the diagram")
        batch: list[str] = []
        for key in top:
            if self.label[key] is None:
                batch.append(f"[{self.nodes[key].text}]")
                continue
            out.extend(box_lines(batch))
            batch = []
            out.extend(declaration(self.label[key], self.nodes[key]))
        out.extend(box_lines(batch))
        out.append("# the diagram")
        out.extend(lines)
        rest = [self._chain(e) for i, e in enumerate(self.drawing.edges) if i not in drawn]
        if rest:
            out += ["", "# wires not drawn above", *rest]
        return "\n".join(out) + "\n"

    def _keep_delivery_order(self, arrows: dict[int, tuple[int, int]]) -> set[int]:
        """The wires to draw: per outlet, the longest prefix of its wires drawn in file order."""
        by_outlet: dict[tuple[str, int], list[int]] = {}
        for i, e in enumerate(self.drawing.edges):
            by_outlet.setdefault((e.source, e.outlet), []).append(i)
        drawn: set[int] = set()
        for wires in by_outlet.values():
            last = (-1, -1)
            for i in wires:
                if i not in arrows or arrows[i] <= last:
                    break
                drawn.add(i)
                last = arrows[i]
        return drawn

    def _gap_cells(self, routes, routed) -> dict[tuple[int, int], str]:
        tracks = sum(1 for v in routes.values() if v[2] is not None)
        arrow_y = tracks
        cells: dict[tuple[int, int], str] = {}

        def put(y: int, x: int, ch: str) -> None:
            old = cells.get((y, x))
            cells[y, x] = "┼" if old in ("│", "─") and ch in ("│", "─") and old != ch else ch

        for out, into, track in routed.values():
            turn = arrow_y if track is None else track
            for y in range(turn):
                put(y, out, "│")
            if track is not None:
                for y in range(track + 1, arrow_y):
                    put(y, into, "│")
            put(arrow_y, into, "↓")
        for out, into, track in routed.values():
            if track is None:
                continue
            left, right = sorted((out, into))
            for x in range(left + 1, right):
                put(track, x, "─")
            cells[track, out] = "└" if into > out else "┘"
            cells[track, into] = "┐" if into > out else "┌"
        return cells

    @staticmethod
    def _right(cells) -> int:
        return max((x for _, x in cells), default=0)

    def _row_text(self, row: list[str]) -> str:
        text = ""
        for k in row:
            prefix = f"{self.label[k]} = " if self.label[k] else ""
            column = self.start[k] - len(prefix)
            text += " " * (column - len(text)) + prefix + f"[{self.nodes[k].text}]"
        return text

    def _break_lone_declarations(self, lines, rows, row_line) -> None:
        """A lone `name = [...]` line followed by an indented line would take it as its body;
        a comment line at column 0 between them ends the declaration instead."""
        for r in reversed(range(len(rows))):
            row, at = rows[r], row_line[r]
            if len(row) != 1 or not self.label[row[0]] or at + 1 >= len(lines):
                continue
            after = next((line for line in lines[at + 1 :] if line.strip()), "")
            if after[:1] == " " and after.lstrip()[:1] not in ("│", "└", "┘", "↓", "┼", ""):
                lines.insert(at + 1, "#")

    def _chain(self, e: Edge) -> str:
        def ref(key: str) -> str:
            return self.label[key] or f"[{self.nodes[key].text}]"

        return wire(ref(e.source), e.outlet, ref(e.target), e.inlet)


def _same_per_class(met: list[str], order: list[str], nodes) -> bool:
    """Whether boxes of each class are met in their file order (anonymous ids count so)."""

    def by_class(keys: list[str]) -> dict[str, list[str]]:
        classes: dict[str, list[str]] = {}
        for k in keys:
            classes.setdefault(nodes[k].cls, []).append(k)
        return classes

    return by_class(met) == by_class(order)
