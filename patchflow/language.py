"""Parse `.patch` text into frozen declarations: boxes, wires and bodies, with positions.

Kept whole (~430 lines): the parser is one state machine (`_Parser`) over one line cursor;
split, its states would reach into each other's position bookkeeping across files.

The parser knows nothing of objects or the runtime: a box's class name and argument text are
kept as written, and checking them is the graph's job. Every syntax problem is collected (not
only the first), each with a 1-based line and column.

The parser is hand-written (with its scanner in `_patch_scanner`) rather than generated from a
grammar, because a box's text is opaque — handed to its object unchanged, yet with nesting
brackets and quotes that may span lines — because every problem needs its exact position, and
because it must carry on after a problem to report all of them at once. It works line by line:
a statement is a line (longer while a box is open); the lines under a declaration that stands
alone on its line, indented deeper, are its body and are not parsed at all. A wire's positions
are where its endpoints' box `[` or name starts (port numbers do not move them), so a graph
problem about a port points at the box it concerns.

Indentation is measured with a tab advancing to the next multiple of 8 columns, as Python 2 and
most terminals do, so mixing tabs and spaces is allowed. A body loses the indentation its lines
share; if the lines do not share it character for character (tabs here, spaces there), their
leading whitespace is rewritten as spaces first.

An anonymous box's id is `CLASS-N`, where N counts the anonymous boxes written with that same
class word (an alias counts apart from its full name), from 1 in file order. Named boxes do not
count, and they cannot clash: a name never contains `-`.
"""

from __future__ import annotations

import difflib
import re

import attrs

from ._patch_scanner import (
    RIGHT_ARROWS,
    UNICODE_WIRE_CHARS,
    Source,
    Token,
    line_width,
    read_body,
    scan_statement,
)
from .errors import PatchError, Problem
from .patchid import patch_id_problem


@attrs.frozen
class BoxDecl:
    """One box as written: `[class args]`, declared by name or inline in a chain."""

    id: str  # the declared name, or CLASS-N for an anonymous box
    cls: str  # the class word as written (an alias stays an alias)
    args: str  # the argument text after the class (and optional colon), trimmed
    body: str | None  # dedented body lines, or None when the box has no body
    line: int  # position of the opening `[`
    column: int
    args_line: int  # position of the first character of the argument text
    args_column: int
    body_line: int  # line of the first body line (0 without a body)
    named: bool  # declared with `NAME = [...]`


@attrs.frozen
class PortColumn:
    """Where a drawn wire meets a box: its port follows the column (docs/diagrams.md).

    The parser cannot count a box's ports, so the graph chooses the port once it has made the
    box: the box's `width` columns are split into equal parts, one per port, left to right."""

    line: int  # position of the wire character touching the box (problems point here)
    column: int
    index: int  # the wire's column within the box, from 0 at its `[`
    width: int  # the box's width in columns on the line the wire touches


@attrs.frozen
class WireDecl:
    """A wire from one box's outlet to another box's inlet, in file order."""

    source: str  # box id
    outlet: int
    target: str  # box id
    inlet: int
    line: int  # position of the source endpoint (outlet number checks point here)
    column: int
    target_line: int  # position of the target endpoint (inlet number checks point here)
    target_column: int
    outlet_column: PortColumn | None = None  # drawn wires: the outlet follows this column
    inlet_column: PortColumn | None = None  # drawn wires: the inlet follows this column


@attrs.frozen
class PatchDecl:
    """A whole patch file: its id, its boxes and wires in file order, and any problems."""

    file: str
    patch_id: str | None  # from the `patch ID` line, or None
    boxes: tuple[BoxDecl, ...]
    wires: tuple[WireDecl, ...]
    problems: tuple[Problem, ...] = ()

    def raise_problems(self) -> None:
        if self.problems:
            raise PatchError(self.problems)


def parse_patch(text: str, file: str = "<patch>") -> PatchDecl:
    """Parse patch text; syntax problems are collected in `PatchDecl.problems`, not raised.

    Whatever could be understood is still returned, so that later checks (the graph's) can add
    their own problems and a user sees them all together.

    Raises:
        TypeError: `text` is not a str (bytes must be decoded as UTF-8 first).
    """
    if not isinstance(text, str):
        raise TypeError(f"parse_patch needs the patch text as str, not {type(text).__name__}")
    # dropping the `\r` of `\r\n` moves no character to another line or column
    text = text.replace("\r\n", "\n")
    parser = _Parser(text, file)
    decl = parser.parse()
    if parser.src.draws_wires:
        # a file that draws a diagram anywhere is read again as one (its boxes are identified
        # by their text), so the stage imports lazily: it builds on this module's parser
        from .diagram import DiagramParser

        decl = DiagramParser(text, file).parse()
    return decl


_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_NUMBER = re.compile(r"[0-9]+")


@attrs.define
class _End:
    """One endpoint of a chain as parsed: a box or a name, with its port numbers."""

    ref: str | None  # box id or name; None when the endpoint is broken (already reported)
    who: str  # how messages show it: 'name' or [class …]
    offset: int  # of the `[` or the name
    box_index: int | None = None  # the box it created, if any
    inlet: int | None = None
    inlet_at: int = 0
    outlet: int | None = None
    outlet_at: int = 0


class _Parser:
    """One parse of one text; the mutable state lives here and nowhere else."""

    def __init__(self, text: str, file: str):
        self.src = Source(text, file)
        self.boxes: list[BoxDecl] = []
        self.links: list[tuple[_End, _End]] = []  # (source, target), in file order
        self.declared: dict[str, int] = {}  # name → line of its declaration
        self.uses: list[tuple[str, int]] = []  # (name, offset), checked once all are declared
        self.anonymous: dict[str, int] = {}  # class word → anonymous boxes so far
        self.patch_id: str | None = None
        self.patch_line = 0
        self.first_box_line = 0

    def parse(self) -> PatchDecl:
        src, text = self.src, self.src.text
        pos = 0
        lone: tuple[int | None, int] | None = None  # (box index, indent) of a lone declaration
        while pos < len(text):
            line = text[pos : src.line_end(pos)]
            if not line.strip():
                pos += len(line) + 1
            elif (
                lone is not None
                and line_width(line) > lone[1]
                and line.lstrip()[0] not in UNICODE_WIRE_CHARS  # a wire drawn under the box
            ):
                body, body_line, pos = read_body(src, pos, lone[1])
                if lone[0] is not None:
                    box = self.boxes[lone[0]]
                    self.boxes[lone[0]] = attrs.evolve(box, body=body, body_line=body_line)
                lone = None
            else:
                tokens, pos = scan_statement(src, pos)
                lone = self._statement(tokens, line_width(line))
        return self._finish()

    def _finish(self) -> PatchDecl:
        for name, offset in self.uses:
            if name not in self.declared:
                close = difflib.get_close_matches(name, list(self.declared), n=1)
                hint = f"did you mean '{close[0]}'?" if close else f"declare it: '{name} = [...]'"
                self.src.report(offset, f"'{name}' is not declared — {hint}")
        ids = {box.id for box in self.boxes}
        at = self.src.position
        wires = tuple(
            WireDecl(a.ref, a.outlet or 0, b.ref, b.inlet or 0, *at(a.offset), *at(b.offset))
            for a, b in self.links
            if a.ref in ids and b.ref in ids  # a wire to a broken box was reported already
        )
        problems = tuple(sorted(self.src.problems, key=lambda p: (p.line, p.column)))
        return PatchDecl(self.src.file, self.patch_id, tuple(self.boxes), wires, problems)

    def _statement(self, tokens: list[Token], indent: int) -> tuple[int | None, int] | None:
        """Parse one statement; return (box index, indent) when it is a lone declaration."""
        if not tokens:
            return None
        first = tokens[0]
        following = tokens[1].kind if len(tokens) > 1 else None
        if first.text == "patch" and following not in ("equals", "arrow", "colon"):
            self._patch_line(tokens)
            return None
        if first.kind == "word" and following == "equals":
            ok = self._declare(first)
            if len(tokens) < 3 or tokens[2].kind != "box":
                self._expected(tokens[2:], f"a box '[...]' after '{first.text} ='", tokens[1])
                return None
            ends, arrows = self._chain(tokens, 2, declared=first.text if ok else "")
            if arrows:
                return None
            return (ends[0].box_index if ends else None), indent
        self._chain(tokens, 0, declared=None)
        return None

    def _patch_line(self, tokens: list[Token]) -> None:
        keyword = tokens[0]
        line = self.src.position(keyword.start)[0]
        if len(tokens) == 1:
            self.src.report(
                keyword.start, "expected a patch id after 'patch', e.g. 'patch counter'"
            )
            return
        if self.patch_line:
            self.src.report(
                keyword.start,
                f"the patch id is already set on line {self.patch_line}; write 'patch ID' once",
            )
            return
        self.patch_line = line
        if self.first_box_line:
            self.src.report(
                keyword.start,
                f"'patch ID' must come before any box; move it above line {self.first_box_line}",
            )
        start = tokens[1].start
        patch_id = self.src.text[start : tokens[-1].end]
        problem = patch_id_problem(patch_id, "write e.g. 'patch {id}'")
        if problem is not None:
            self.src.report(start, f"bad patch id '{_short(patch_id)}': {problem}")
        else:
            self.patch_id = patch_id

    def _declare(self, name: Token) -> bool:
        """Declare `name`; return whether its box may be created (the name is usable)."""
        line = self.src.position(name.start)[0]
        if not self._check_name(name):
            return False
        if name.text in self.declared:
            first = self.declared[name.text]
            self.src.report(
                name.start,
                f"'{name.text}' is already declared on line {first}; choose another name",
            )
            return False
        self.declared[name.text] = line
        return True

    def _check_name(self, name: Token) -> bool:
        if name.text == "patch":
            message = "'patch' is reserved for the 'patch ID' line; choose another name"
        elif not _NAME.fullmatch(name.text):
            message = (
                f"bad name '{_short(name.text)}': use letters, digits and '_', "
                "not starting with a digit, e.g. 'my_box'"
            )
        else:
            return True
        self.src.report(name.start, message)
        return False

    def _chain(
        self, tokens: list[Token], i: int, declared: str | None
    ) -> tuple[list[_End], list[Token]]:
        """Parse `endpoint (arrow endpoint)*` from `tokens[i]`; record its wires.

        `declared` is the name the first box is declared with ("" if the declaration is
        broken), or None for a plain chain. The chain stops at its first syntax problem.
        """
        ends: list[_End] = []
        arrows: list[Token] = []
        while True:
            end, i = self._endpoint(tokens, i, declared, arrows[-1] if arrows else None)
            if end is None:
                break
            ends.append(end)
            if i >= len(tokens):
                break
            if tokens[i].kind != "arrow":
                if i == 1 and tokens[0].kind == "word":
                    what = f"'=' or an arrow '->' after '{tokens[0].text}'"
                else:
                    what = f"an arrow '->' or '<-' after {end.who}"
                self._expected(tokens[i:], what, tokens[i - 1])
                break
            arrows.append(tokens[i])
            i += 1
            declared = None
        # an arrow without its second endpoint wires nothing
        arrows = arrows[: max(len(ends) - 1, 0)]
        for left, arrow, right in zip(ends, arrows, ends[1:], strict=False):
            self.links.append((left, right) if arrow.text in RIGHT_ARROWS else (right, left))
        self._check_ports(ends, arrows)
        return ends, arrows

    def _endpoint(
        self, tokens: list[Token], i: int, declared: str | None, after: Token | None
    ) -> tuple[_End | None, int]:
        """Parse `[N:] (box | name) [:N]` at `tokens[i]`; None (reported) if it is not one."""
        src = self.src
        if i >= len(tokens):
            assert after is not None  # a chain has at least one token
            src.report(
                after.start,
                f"missing endpoint after '{after.text}': write a box or a name, "
                f"e.g. '{after.text} [print]'",
            )
            return None, i
        token = tokens[i]
        inlet: Token | None = None
        if token.kind == "word" and _NUMBER.fullmatch(token.text):
            if i + 1 >= len(tokens) or tokens[i + 1].kind != "colon":
                src.report(
                    token.start,
                    f"a port number needs ':' — write '{token.text}:NAME' for an inlet "
                    f"or 'NAME:{token.text}' for an outlet",
                )
                return None, i
            inlet, i = token, i + 2
            if i >= len(tokens) or tokens[i].kind not in ("box", "word"):
                self._expected(tokens[i:], f"a box or a name after '{token.text}:'", tokens[i - 1])
                return None, i
            token = tokens[i]
        if token.kind == "arrow":
            where = f"between '{after.text}' and" if after else "before"
            src.report(
                token.start,
                f"missing endpoint {where} '{token.text}': write a box '[...]' or a name there",
            )
            return None, i
        if token.kind == "box":
            end = self._box(token, declared)
        elif token.kind == "word" and declared is None:
            end = _End(
                token.text if self._check_name(token) else None, f"'{token.text}'", token.start
            )
            if end.ref is not None:
                self.uses.append((token.text, token.start))
        else:
            self._expected(tokens[i:], "a box '[...]' or a name", token)
            return None, i
        i += 1
        if inlet is not None:
            end.inlet, end.inlet_at = int(inlet.text), inlet.start
        if i < len(tokens) and tokens[i].kind == "colon":
            number = tokens[i + 1] if i + 1 < len(tokens) else None
            if number is None or number.kind != "word" or not _NUMBER.fullmatch(number.text):
                self._expected(
                    tokens[i + 1 :],
                    f"an outlet number after ':', e.g. '{end.who.strip(chr(39))}:1'",
                    tokens[i],
                )
                return None, i
            end.outlet, end.outlet_at = int(number.text), number.start
            i += 2
        return end, i

    def _box(self, token: Token, declared: str | None) -> _End:
        """Create the box `token` stands for (unless broken) and return it as an endpoint."""
        if not self.first_box_line:
            self.first_box_line = self.src.position(token.start)[0]
        who = f"[{token.cls} …]" if token.args else f"[{token.cls}]"
        if not token.cls:  # an empty box, already reported
            return _End(None, who, token.start)
        if declared is not None:
            if not declared:  # a broken declaration, already reported
                return _End(None, who, token.start)
            box_id, who = declared, f"'{declared}'"
        else:
            count = self.anonymous[token.cls] = self.anonymous.get(token.cls, 0) + 1
            box_id = f"{token.cls}-{count}"
        at = self.src.position
        named = declared is not None
        box = BoxDecl(
            box_id, token.cls, token.args, None, *at(token.start), *at(token.args_start), 0, named
        )
        self.boxes.append(box)
        return _End(box_id, who, token.start, box_index=len(self.boxes) - 1)

    def _check_ports(self, ends: list[_End], arrows: list[Token]) -> None:
        """Report port numbers on the side of an endpoint that is not wired."""
        directions = [arrow.text in RIGHT_ARROWS for arrow in arrows]
        for k, end in enumerate(ends):
            into = directions[k - 1] if k > 0 else None  # the arrow before: True if it points here
            out_of = directions[k] if k < len(directions) else None
            sends = into is False or out_of is True
            receives = into is True or out_of is False
            where = "which is not wired"
            if len(ends) > 1:
                where = ("the first", "a middle", "the last")[(k > 0) + (k == len(ends) - 1)]
                where += " endpoint of the chain"
            name = end.who.strip("'")
            if end.outlet is not None and not sends:
                n = end.outlet
                fix = f"for inlet {n} write '{n}:{name}'" if receives else "wire it with '->'"
                only = ", which only receives here" if receives else ""
                self.src.report(end.outlet_at, f"outlet number on {end.who}, {where}{only}; {fix}")
            if end.inlet is not None and not receives:
                n = end.inlet
                fix = f"for outlet {n} write '{name}:{n}'" if sends else "wire it with '->'"
                only = ", which only sends here" if sends else ""
                self.src.report(end.inlet_at, f"inlet number on {end.who}, {where}{only}; {fix}")

    def _expected(self, rest: list[Token], what: str, before: Token) -> None:
        """Report that `what` was expected where `rest` starts (or after `before` at the end)."""
        if not rest:
            self.src.report(before.start, f"expected {what}")
        elif rest[0].kind == "stray":
            self.src.report(rest[0].start, "stray ']' with no '[' to close; remove it")
        else:
            found = "a box" if rest[0].kind == "box" else f"'{_short(rest[0].text)}'"
            self.src.report(rest[0].start, f"expected {what}, found {found}")


def _short(text: str) -> str:
    first = text.split("\n", 1)[0]
    return first if len(first) <= 30 and first == text else first[:29] + "…"
