"""Trace the wires a diagram draws, from the box where each starts to the arrowhead that ends it.

The tracer sees a patch file as a grid of characters (a character is one column; tabs are not
widened, so diagrams are drawn with spaces). It knows three kinds of cell, all found by the
scanner and handed in by offset: wire characters, box cells (a box's text from `[` to `]`)
and port-number cells beside a box (`:1`, `1:`). Everything else — names, chain arrows,
comments, bodies — is an obstacle a wire may not run into.

Each wire character has arms (`│` up and down, `┘` up and left, `+` wherever a wire or box
touches it). Arms that meet join pieces into one drawn wire; an arm that meets a box fastens
the wire to it — as the wire's target if the piece is an arrowhead pointing into the box,
else as its source. A vertical arm meets only the cell next to it; a horizontal arm looks
across spaces, as the spec's examples leave a space between a box and its arrowhead. Hand-drawn
slack — a vertical arm facing a blank where the next piece stands one column to the side —
joins the two when that is the only way on. `┼` (and a `+` with four arms) is a crossing: its
vertical and horizontal wires pass without joining. Every arm that goes nowhere, every
ambiguity, is a problem at its cell; a drawn wire with a problem wires nothing.
"""

from __future__ import annotations

from collections.abc import Mapping

import attrs

from ._patch_scanner import Source, show

N, S, E, W = (-1, 0), (1, 0), (0, 1), (0, -1)  # (line step, column step)
_OPPOSITE = {N: S, S: N, E: W, W: E}
_WHERE = {N: "above", S: "below", E: "right of", W: "left of"}
_ARMS = {
    **dict.fromkeys("│|", (N, S)),
    **dict.fromkeys("↓v↑^", (N, S)),
    **dict.fromkeys("─-→>←<", (E, W)),
    "┌": (S, E),
    "┐": (S, W),
    "└": (N, E),
    "┘": (N, W),
    "├": (N, S, E),
    "┤": (N, S, W),
    "┬": (S, E, W),
    "┴": (N, E, W),
    "┼": (N, S, E, W),
}
_HEADS = {"↓": S, "v": S, "↑": N, "^": N, "→": E, ">": E, "←": W, "<": W}

Direction = tuple[int, int]
Node = tuple[int, str]  # (offset, "v"/"h" for the two wires through a crossing, else "*")


@attrs.frozen
class Fastening:
    """Where a drawn wire meets a box."""

    box: int  # offset of the box's `[` (the occurrence the wire touches)
    cell: int  # offset of the wire character touching the box
    box_cell: int  # offset of the box cell it touches (its line gives the box's width there)
    vertical: bool  # the wire meets the box's top or bottom (so its port follows the column)


@attrs.frozen
class TracedWire:
    """One wire a diagram draws: from `source` to `target`, placed in file order at `key`."""

    source: Fastening
    target: Fastening
    key: int  # offset of the arrowhead: a drawn wire's place in file order


def trace_wires(
    src: Source, wires: Mapping[int, str], boxes: Mapping[int, int], sides: Mapping[int, int]
) -> list[TracedWire]:
    """Trace every wire drawn with the characters `wires` (offset → character).

    `boxes` maps each box cell to its box's `[` offset and `sides` each port-number cell beside
    a box likewise. Problems are reported to `src`; the wires returned are those without any.
    """
    return _Tracer(src, wires, boxes, sides).trace()


class _Tracer:
    """One tracing: the pieces joined so far, where they meet boxes, and which are broken."""

    def __init__(
        self,
        src: Source,
        wires: Mapping[int, str],
        boxes: Mapping[int, int],
        sides: Mapping[int, int],
    ):
        self.src, self.wires, self.boxes, self.sides = src, wires, boxes, sides
        self.parent: dict[Node, Node] = {}
        self.fastened: list[tuple[Node, int, Direction, Fastening]] = []
        self.broken: set[Node] = set()
        self.arms_of: dict[int, tuple[Direction, ...]] = {}

    # ---- the grid ----

    def step(self, offset: int, direction: Direction) -> int | None:
        """The offset of the cell next to `offset` in `direction`, None off the text."""
        line, column = self.src.position(offset)
        return self.cell(line + direction[0], column - 1 + direction[1])

    def cell(self, line: int, column: int) -> int | None:
        """The offset of the cell at 1-based `line` and 0-based `column`, None off the text."""
        starts = self.src.line_starts
        if not 1 <= line <= len(starts) or column < 0:
            return None
        start = starts[line - 1]
        return start + column if start + column < self.src.line_end(start) else None

    def blank(self, offset: int | None) -> bool:
        return offset is None or self.src.text[offset] in " \t"

    def arms(self, offset: int) -> tuple[Direction, ...]:
        """The directions the wire character at `offset` reaches out in."""
        if offset not in self.arms_of:
            char = self.wires[offset]
            if char == "+":
                self.arms_of[offset] = tuple(d for d in (N, S, E, W) if self._plus_arm(offset, d))
            else:
                self.arms_of[offset] = _ARMS[char]
        return self.arms_of[offset]

    def _plus_arm(self, offset: int, d: Direction) -> bool:
        other = self.step(offset, d)
        if other is None:
            return False
        if other in self.wires:
            char = self.wires[other]
            return char == "+" or _OPPOSITE[d] in _ARMS[char]
        return other in self.boxes or (d in (E, W) and other in self.sides)

    def node(self, offset: int, d: Direction) -> Node:
        if len(self.arms(offset)) == 4:  # a crossing: two wires pass without joining
            return offset, "v" if d in (N, S) else "h"
        return offset, "*"

    def find(self, node: Node) -> Node:
        root = self.parent.setdefault(node, node)
        while root != self.parent[root]:
            root = self.parent[root]
        while node != root:
            node, self.parent[node] = self.parent[node], root
        return root

    def join(self, a: Node, b: Node) -> None:
        self.parent[self.find(a)] = self.find(b)

    def problem(self, offset: int, d: Direction | None, message: str) -> None:
        self.src.report(offset, message)
        self.broken.add(self.node(offset, d or N))

    # ---- tracing ----

    def trace(self) -> list[TracedWire]:
        open_ends: list[tuple[int, Direction]] = []  # vertical arms facing a blank
        for offset in sorted(self.wires):
            arms = self.arms(offset)
            for d in arms or (N,):  # every piece is a node, even one that joins nothing
                self.find(self.node(offset, d))
            if self.wires[offset] == "+" and len(arms) < 2:
                self.problem(
                    offset, None, "'+' joins fewer than two wire pieces; remove it or draw on"
                )
                continue
            for d in arms:
                self._follow(offset, d, open_ends)
        self._take_slack(open_ends)
        return self._wires()

    def _follow(self, offset: int, d: Direction, open_ends: list[tuple[int, Direction]]) -> None:
        """Join the arm `d` of the piece at `offset` to what it meets."""
        other = self.step(offset, d)
        back = _OPPOSITE[d]
        if other is not None and other in self.wires:
            if back in self.arms(other):
                self.join(self.node(offset, d), self.node(other, back))
                return
        elif d in (N, S):
            if other is not None and other in self.boxes:
                self._fasten(offset, d, other, self.boxes[other])
                return
            if self.blank(other):
                open_ends.append((offset, d))
                return
        else:
            while other is not None and self.blank(other):
                other = self.step(other, d)
            owner = self.boxes.get(other) if other is not None else None
            if owner is None and other is not None:
                owner = self.sides.get(other)
            if owner is not None:
                assert other is not None
                self._fasten(offset, d, other, owner)
                return
        self._nowhere(offset, d, other)

    def _fasten(self, offset: int, d: Direction, box_cell: int, box: int) -> None:
        fastening = Fastening(box, offset, box_cell, d in (N, S))
        self.fastened.append((self.node(offset, d), offset, d, fastening))

    def _nowhere(self, offset: int, d: Direction, other: int | None) -> None:
        char = self.wires[offset]
        where = _WHERE[d]
        found = None if self.blank(other) else self.src.text[other]  # type: ignore[index]
        if _HEADS.get(char) == d:
            thing = f"points at {show(found)}, not at a box" if found else "points at no box"
            box_at = "right " + where if d in (N, S) else where
            fix = f"draw the box it leads to {box_at} it"
        else:
            thing = f"runs into {show(found)} {where} it" if found else f"has nothing {where} it"
            fix = "draw it on to a box, or turn it with a bend (┘ └ ┐ ┌ or +)"
        self.problem(offset, d, f"wire {show(char)} {thing}; {fix}")

    def _take_slack(self, open_ends: list[tuple[int, Direction]]) -> None:
        """Join vertical arms that face a blank to a piece one column to the side, when that
        piece's arm faces them and it is the only way on."""
        facing = set(open_ends)

        def candidates(offset: int, d: Direction) -> list[tuple[int, Direction]]:
            line, column = self.src.position(offset)
            found = []
            for side in (-1, 1):
                beside = self.cell(line + d[0], column - 1 + side)
                if beside is not None and (beside, _OPPOSITE[d]) in facing:
                    found.append((beside, _OPPOSITE[d]))
            return found

        for offset, d in open_ends:
            found = candidates(offset, d)
            if len(found) == 1 and candidates(*found[0]) == [(offset, d)]:
                self.join(self.node(offset, d), self.node(found[0][0], found[0][1]))
            elif len(found) > 1:
                columns = " and ".join(str(self.src.position(o)[1]) for o, _ in found)
                self.problem(
                    offset,
                    d,
                    f"wire {show(self.wires[offset])} could go on at column {columns} "
                    f"{_WHERE[d]} it; draw it straight into the piece it joins",
                )
            elif not found:
                self._nowhere(offset, d, self.step(offset, d))
            else:  # the one piece it could join could join another too: reported there
                self.broken.add(self.node(offset, d))

    def _wires(self) -> list[TracedWire]:
        nets: dict[Node, list[tuple[int, tuple[int, int], Fastening]]] = {}
        for node, offset, d, fastening in self.fastened:
            nets.setdefault(self.find(node), []).append((offset, d, fastening))
        broken = {self.find(node) for node in self.broken}
        groups: dict[Node, list[int]] = {}
        for node in sorted(self.parent):
            groups.setdefault(self.find(node), []).append(node[0])
        traced: list[TracedWire] = []
        for root, members in groups.items():
            if root in broken:
                continue
            ends = nets.get(root, [])
            heads = [(o, f) for o, d, f in ends if _HEADS.get(self.wires[o]) == d]
            tails = [(o, f) for o, d, f in ends if _HEADS.get(self.wires[o]) != d]
            if not heads:
                first = tails[0][0] if tails else members[0]
                self.src.report(
                    first,
                    "wire has no arrowhead; draw one (↓ ↑ → ← or v ^ > <) where it enters "
                    "the box it leads to",
                )
            elif not tails:
                self.src.report(
                    heads[0][0],
                    "wire has arrowheads at every end, so it starts nowhere; "
                    "remove the arrowhead at the box it comes from",
                )
            elif len(heads) > 1 and len(tails) > 1:
                junction = next((o for o in members if len(self.arms(o)) == 3), members[0])
                self.src.report(
                    junction,
                    f"this junction joins {len(tails)} boxes to {len(heads)} boxes and could "
                    "wire them several ways; draw separate wires",
                )
            else:
                for head, target in sorted(heads, key=lambda h: h[0]):
                    for _, source in sorted(tails, key=lambda t: t[0]):
                        traced.append(TracedWire(source, target, head))
        return traced
