"""Read two-dimensional diagrams in `.patch` files, into the same declarations as chains.

A diagram is a stage of the parser, not a second language: a file that draws a wire in two
dimensions anywhere (`↓`, `│`, `┘`, `──→` …) is parsed by `DiagramParser`, which is the chain
parser with three differences (docs/diagrams.md):

- the wire characters the scanner found are kept aside and traced (`_wire_tracer`), and the
  wires they draw join the chains' wires in file order (a drawn wire's place is its arrowhead);
- boxes may stand side by side on a line without an arrow, and anonymous boxes with exactly
  the same text are one box, drawn twice to avoid crossing wires;
- a port number written beside a box (`[t b b]:1`, `1:[pack]`) that its chain does not use
  belongs to the wires drawn from (or into) that box; without one, a wire meeting a box's top
  or bottom takes the port under its column, which the graph chooses once it knows how many
  ports the box has (`choose_ports`).

A file without 2D wires never reaches this module, so it parses exactly as before.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Protocol

import attrs

from ._patch_scanner import Token
from ._wire_tracer import Fastening, trace_wires
from .errors import Problem
from .language import PatchDecl, PortColumn, WireDecl, _End, _Parser

_NUMBER = re.compile(r"[0-9]+")


@attrs.define
class _DrawnEnd(_End):
    """An end of a drawn wire: like a chain's, plus the column that chooses its port."""

    column: PortColumn | None = None


class DiagramParser(_Parser):
    """Parse a file that draws a diagram: chains, plus the wires drawn in two dimensions."""

    def __init__(self, text: str, file: str):
        super().__init__(text, file)
        self.wire_cells: dict[int, str] = {}  # offset → wire character
        self.box_ends: dict[int, int] = {}  # `[` offset → offset just after the box
        self.box_ids: dict[int, str] = {}  # `[` offset → id of the box written there
        self.drawn: dict[str, tuple[str, int | None]] = {}  # box text → (id, index), anonymous
        self.sides: dict[int, int] = {}  # cell of a port number beside a box → box `[` offset
        self.pending: dict[tuple[int, str], tuple[int, Problem]] = {}  # unused port numbers
        self.link_keys: list[int] = []  # each chain wire's place in the file: its arrow

    # ---- statements ----

    def _statement(self, tokens: list[Token], indent: int) -> tuple[int | None, int] | None:
        rest = []
        for token in tokens:
            if token.kind == "wire":
                self.wire_cells[token.start] = token.text
            else:
                if token.kind == "box":
                    self.box_ends[token.start] = token.end
                rest.append(token)
        segments = _segments(rest)
        if not segments:
            return None
        lone = super()._statement(segments[0], indent)
        for segment in segments[1:]:
            self._chain(segment, 0, declared=None)
        # a declaration with wires drawn beside it has no body
        return lone if len(segments) == 1 and len(rest) == len(tokens) else None

    def _chain(
        self, tokens: list[Token], i: int, declared: str | None
    ) -> tuple[list[_End], list[Token]]:
        ends, arrows = super()._chain(tokens, i, declared)
        self.link_keys.extend(arrow.start for arrow in arrows)  # one wire per arrow kept
        return ends, arrows

    def _box(self, token: Token, declared: str | None) -> _End:
        if declared is None and token.cls and token.text in self.drawn:
            box_id, index = self.drawn[token.text]  # the same box, drawn again
            self.box_ids[token.start] = box_id
            who = f"[{token.cls} …]" if token.args else f"[{token.cls}]"
            return _End(box_id, who, token.start, box_index=index)
        end = super()._box(token, declared)
        if end.ref is not None:
            self.box_ids[token.start] = end.ref
            if declared is None:
                self.drawn[token.text] = (end.ref, end.box_index)
        return end

    def _check_ports(self, ends: list[_End], arrows: list[Token]) -> None:
        """Keep aside the port numbers a chain does not use: drawn wires may use them."""
        before = len(self.src.problems)
        super()._check_ports(ends, arrows)
        reported = self.src.problems[before:]
        del self.src.problems[before:]
        at = self.src.position
        unused: dict[tuple[int, int], tuple[int, str, int]] = {}
        for end in ends:
            if end.offset not in self.box_ends:  # a name, not a box written here
                continue
            if end.outlet is not None:
                stop = _number_end(self.src.text, end.outlet_at)
                self.sides.update(dict.fromkeys(range(self.box_ends[end.offset], stop), end.offset))
                unused[at(end.outlet_at)] = (end.offset, "outlet", end.outlet)
            if end.inlet is not None:
                self.sides.update(dict.fromkeys(range(end.inlet_at, end.offset), end.offset))
                unused[at(end.inlet_at)] = (end.offset, "inlet", end.inlet)
        for problem in reported:
            owner = unused.get((problem.line, problem.column))
            if owner is None:
                self.src.problems.append(problem)
            else:
                self.pending[owner[0], owner[1]] = (owner[2], problem)

    # ---- the drawn wires ----

    def _finish(self) -> PatchDecl:
        boxes = {
            offset: start
            for start, end in self.box_ends.items()
            for offset in range(start, end)
            if self.src.text[offset] != "\n"
        }
        used: set[tuple[int, str]] = set()
        keyed = list(zip(self.link_keys, self.links, strict=True))
        for wire in trace_wires(self.src, self.wire_cells, boxes, self.sides):
            source = self._drawn_end(wire.source, "outlet", used)
            target = self._drawn_end(wire.target, "inlet", used)
            if source is not None and target is not None:
                keyed.append((wire.key, (source, target)))
        keyed.sort(key=lambda pair: pair[0])
        self.links = [link for _, link in keyed]
        for key, (_, problem) in self.pending.items():
            if key not in used:
                self.src.problems.append(problem)
        decl = super()._finish()
        ids = {box.id for box in decl.boxes}
        links = [(a, b) for a, b in self.links if a.ref in ids and b.ref in ids]
        wires = tuple(
            attrs.evolve(
                wire,
                outlet_column=getattr(a, "column", None),
                inlet_column=getattr(b, "column", None),
            )
            for wire, (a, b) in zip(decl.wires, links, strict=True)
        )
        return attrs.evolve(decl, wires=wires)

    def _drawn_end(
        self, fastening: Fastening, kind: str, used: set[tuple[int, str]]
    ) -> _DrawnEnd | None:
        """The endpoint a drawn wire has at `fastening`; None if its box is broken (reported)."""
        box_id = self.box_ids.get(fastening.box)
        if box_id is None:
            return None
        end = _DrawnEnd(box_id, box_id, fastening.box)
        written = self.pending.get((fastening.box, kind))
        if written is not None:
            used.add((fastening.box, kind))
            setattr(end, kind, written[0])
        elif fastening.vertical:
            end.column = self._column(fastening)
        return end

    def _column(self, fastening: Fastening) -> PortColumn:
        """Where a wire meets the top or bottom of a box, within the box's line there."""
        src = self.src
        line_start = src.line_starts[src.position(fastening.box_cell)[0] - 1]
        start = max(fastening.box, line_start)
        end = min(self.box_ends[fastening.box], src.line_end(line_start))
        line, column = src.position(fastening.cell)
        return PortColumn(line, column, column - src.position(start)[1], end - start)


def _segments(tokens: list[Token]) -> list[list[Token]]:
    """Split a statement into chains where a box (or `N:` before one) follows an endpoint
    with no arrow between: in a diagram, boxes stand side by side."""
    segments: list[list[Token]] = []
    start = 0
    for k in range(1, len(tokens)):
        before, token = tokens[k - 1], tokens[k]
        ends = before.kind == "box" or (
            _is_number(before) and k >= 2 and tokens[k - 2].kind == "colon"
        )
        begins = token.kind == "box" or (
            _is_number(token) and k + 1 < len(tokens) and tokens[k + 1].kind == "colon"
        )
        if ends and begins:
            segments.append(tokens[start:k])
            start = k
    if start < len(tokens):
        segments.append(tokens[start:])
    return segments


def _is_number(token: Token) -> bool:
    return token.kind == "word" and _NUMBER.fullmatch(token.text) is not None


def _number_end(text: str, start: int) -> int:
    match = _NUMBER.match(text, start)
    return match.end() if match else start + 1


# ---- ports by column, chosen once the graph knows how many there are ----


class _Ported(Protocol):
    inlets: int
    outlets: int
    text: str


def port_at(index: int, width: int, count: int) -> int | None:
    """The port under column `index` of a box `width` columns wide with `count` ports, split
    left to right into equal parts as Pd draws them; None when the column straddles two."""
    if count <= 1 or width <= 0:
        return 0
    port = index * count // width
    return port if (index + 1) * count <= (port + 1) * width else None


def choose_ports(
    wire: WireDecl,
    source: _Ported,
    target: _Ported,
    problem: Callable[[int, int, str], None],
) -> WireDecl | None:
    """Give a drawn wire the ports under its columns; None (reported) if one is ambiguous."""
    outlet, inlet = wire.outlet, wire.inlet
    if wire.outlet_column is not None:
        outlet = _port(wire.outlet_column, source.outlets, f"[{source.text}]", "outlet", problem)
    if wire.inlet_column is not None:
        inlet = _port(wire.inlet_column, target.inlets, f"[{target.text}]", "inlet", problem)
    if outlet is None or inlet is None:
        return None
    return attrs.evolve(wire, outlet=outlet, inlet=inlet)


def _port(
    at: PortColumn, count: int, label: str, kind: str, problem: Callable[[int, int, str], None]
) -> int | None:
    port = port_at(at.index, at.width, count)
    if port is not None:
        return port
    left = at.index * count // at.width
    first = at.column - at.index  # the file column of the box's first character there

    def columns(port: int) -> str:
        cells = [first + i for i in range(at.width) if port_at(i, at.width, count) == port]
        if not cells:
            return ""
        span = f"{cells[0]}–{cells[-1]}" if len(cells) > 1 else str(cells[0])
        return f"column {span} for {kind} {port}"

    choices = [c for c in (columns(left), columns(left + 1)) if c]
    move = f"move it to {' or '.join(choices)}, or " if choices else ""
    number = f"[{label[1:-1]}]:N" if kind == "outlet" else f"N:[{label[1:-1]}]"
    problem(
        at.line,
        at.column,
        f"the wire at column {at.column} meets {label} between {kind} {left} and "
        f"{kind} {left + 1} ({count} {kind}s across {at.width} columns); "
        f"{move}write the port number beside the box ({number})",
    )
    return None
