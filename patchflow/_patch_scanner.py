"""Scan `.patch` text into tokens, one statement (logical line) at a time.

The scanner is hand-written rather than generated from a grammar (lark, a regex): a box's text is
opaque — it is handed to its object unchanged — yet its brackets, braces and quotes must nest, so
the scanner itself has to find the matching `]`, across lines if need be. Writing it by hand also
lets it give every problem an exact line and column and carry on after it (an unclosed box ends
at the end of its line), so that a user sees all the problems in a file at once.
"""

from __future__ import annotations

import bisect
import re

import attrs

from .errors import Problem

QUOTES = "'\"`"
RIGHT_ARROWS = ("->", "→")
LEFT_ARROWS = ("<-", "←")

# Two-dimensional diagrams (docs/diagrams.md): these characters draw wires wherever they stand
# outside boxes and comments; `- < > → ←` and a lone `v` draw only in the contexts below.
WIRE_CHARS = "↓↑│─┌┐└┘├┤┬┴┼|+^"
UNICODE_WIRE_CHARS = "↓↑│─┌┐└┘├┤┬┴┼"
_RUNS_EAST = "─-+┌└├┬┴┼←"  # a horizontal run may go on to the right of these
_RUNS_WEST = "─-+┐┘┤┬┴┼→"  # ... and to the left of these

_ARROW = re.compile("|".join(re.escape(arrow) for arrow in RIGHT_ARROWS + LEFT_ARROWS))
_CLOSER = {"[": "]", "{": "}"}
_OPENER = {"]": "[", "}": "{"}
_BOX_SPECIAL = re.compile(r"[\[\]{}'\"`]")
_STRING_STOP = {q: re.compile(r"\\.|" + re.escape(q), re.DOTALL) for q in QUOTES}
# the class word stops where arguments obviously start, so `[msg{a: 1}]` and `[route:x]` work
_CLASS_WORD = re.compile(r"[^\s:\[\]{}'\"`]+")


@attrs.frozen
class Token:
    """One token of a statement, with its offsets in the text."""

    kind: str  # "box", "word", "colon", "equals", "arrow", "stray" (a `]`), "wire", "other"
    text: str  # as written
    start: int
    end: int
    cls: str = ""  # boxes: the class word ("" when the box has none)
    args: str = ""  # boxes: the argument text, trimmed
    args_start: int = 0  # boxes: first argument character, or just after the class word


class Source:
    """The text being parsed: offset → (line, column), and the problems found so far."""

    def __init__(self, text: str, file: str):
        self.text = text
        self.file = file
        self.line_starts = [0] + [m.end() for m in re.finditer("\n", text)]
        self.problems: list[Problem] = []
        self.draws_wires = False  # a statement had a "wire" token: the file draws a diagram

    def position(self, offset: int) -> tuple[int, int]:
        """Return the 1-based line and column (in characters) of `offset`."""
        line = bisect.bisect_right(self.line_starts, offset)
        return line, offset - self.line_starts[line - 1] + 1

    def report(self, offset: int, message: str) -> None:
        self.problems.append(Problem(self.file, *self.position(offset), message))

    def line_end(self, offset: int) -> int:
        """Return the offset of the newline ending the line of `offset` (or the text's end)."""
        end = self.text.find("\n", offset)
        return len(self.text) if end < 0 else end


def show(char: str) -> str:
    """Quote one character for a message, so that `'` reads as "'" rather than '''."""
    return '"\'"' if char == "'" else f"'{char}'"


def scan_statement(src: Source, start: int) -> tuple[list[Token], int]:
    """Scan the statement starting at `start` (a line start); return its tokens and where the
    next statement starts. A statement ends at the first newline outside a box."""
    text = src.text
    tokens: list[Token] = []
    i = start
    while i < len(text):
        c = text[i]
        arrow = _ARROW.match(text, i)
        if c == "\n":
            return _mark_arrowheads(src, tokens), i + 1
        if c.isspace() or c == "\ufeff":  # a byte-order mark reads as nothing
            i += 1
        elif c == "#":
            i = src.line_end(i)
        elif c == "[":
            token, i = _scan_box(src, i)
            tokens.append(token)
        elif is_wire(text, i):
            tokens.append(Token("wire", c, i, i + 1))
            i += 1
        elif arrow:
            tokens.append(Token("arrow", arrow.group(), i, arrow.end()))
            i = arrow.end()
        elif c in ":=]":
            kind = {":": "colon", "=": "equals", "]": "stray"}[c]
            tokens.append(Token(kind, c, i, i + 1))
            i += 1
        else:
            j = i + 1
            word = _is_word_char(text, i)
            while j < len(text) and (
                _is_word_char(text, j)
                if word
                else not (text[j].isspace() or _starts_token(text, j))
            ):
                j += 1
            tokens.append(Token("word" if word else "other", text[i:j], i, j))
            i = j
    return _mark_arrowheads(src, tokens), len(text)


def is_wire(text: str, i: int) -> bool:
    """Whether the character at `i` (outside a box) draws a wire.

    `-`, `>` and `<` draw only as part of a run (`--->`, `<--+`), so that the chain arrows
    `->` and `<-` stay arrows; `→` and `←` are arrowheads of a run when a run touches them.
    """
    c = text[i]
    before = text[i - 1] if i else " "
    after = text[i + 1 : i + 2] or " "
    if c in WIRE_CHARS:
        return True
    if c in "→>":
        return before in _RUNS_EAST
    if c == "-":
        return before in _RUNS_EAST or after in _RUNS_WEST
    if c == "←":
        return after in _RUNS_WEST
    if c == "<":  # `<-` alone is a chain arrow; `<--` and `<─` start a run
        return after in _RUNS_WEST.replace("-", "") or (
            after == "-" and (text[i + 2 : i + 3] or " ") in _RUNS_WEST
        )
    return False


def _mark_arrowheads(src: Source, tokens: list[Token]) -> list[Token]:
    """Turn each `v` that is not a name (no arrow, `:` or `=` beside it) into a wire arrowhead,
    and note whether the statement draws wires at all."""
    for k, token in enumerate(tokens):
        if token.kind == "word" and token.text == "v":
            before = tokens[k - 1] if k else None
            after = tokens[k + 1].kind if k + 1 < len(tokens) else None
            if before is not None and (
                before.kind in ("arrow", "colon") or (k == 1 and before.text == "patch")
            ):
                continue
            if after not in ("arrow", "colon", "equals"):
                tokens[k] = attrs.evolve(token, kind="wire")
    if any(token.kind == "wire" for token in tokens):
        src.draws_wires = True
    return tokens


def _is_word_char(text: str, i: int) -> bool:
    # `.` and `-` belong to words so that `my-box` is one (bad) name, not three tokens
    c = text[i]
    return c.isalnum() or c in "_." or (c == "-" and text[i + 1 : i + 2] != ">")


def _starts_token(text: str, i: int) -> bool:
    c = text[i]
    return (
        c in "[]#:="
        or _ARROW.match(text, i) is not None
        or _is_word_char(text, i)
        or is_wire(text, i)
    )


def _scan_box(src: Source, start: int) -> tuple[Token, int]:
    """Scan the box opening at `start` up to its matching `]`, honouring nesting and quotes.

    A box still open at the end of the text ends at the end of its first line instead, and the
    lines after it are scanned again as statements; so only the problems on that first line are
    reported, the others would be found (or not) once more.
    """
    text = src.text
    stack = [start]  # offsets of the open brackets and braces
    depth = {"[": 1, "{": 0}
    found: list[tuple[int, str]] = []  # reported once the box's extent is known
    open_quote = None
    i = start + 1
    while (match := _BOX_SPECIAL.search(text, i)) is not None:
        i = match.start()
        c = text[i]
        if c in QUOTES:
            end = _string_end(text, i)
            if end is None:
                open_quote = i
                break
            i = end
            continue
        if c in "[{":
            stack.append(i)
            depth[c] += 1
        elif depth[_OPENER[c]]:
            opened = stack.pop()
            while text[opened] != _OPENER[c]:  # close what `c` skips over: it was left open
                found.append((opened, f"unclosed {show(text[opened])} opened here"))
                depth[text[opened]] -= 1
                opened = stack.pop()
            depth[_OPENER[c]] -= 1
            if not stack:
                for offset, message in found:
                    src.report(offset, message)
                return _box_token(src, start, i, closed=True), i + 1
        else:
            found.append((i, f"unmatched {show(c)} in a box; remove it or put it in quotes"))
        i += 1
    first_line_end = src.line_end(start)
    if open_quote is not None and open_quote < first_line_end:
        q = show(text[open_quote])
        found.append((open_quote, f"unclosed quote {q} opened here; end the string with {q}"))
    else:
        for opened in stack:
            closer = show(_CLOSER[text[opened]])
            found.append(
                (opened, f"unclosed {show(text[opened])} opened here; close it with {closer}")
            )
    for offset, message in found:
        if offset < first_line_end:
            src.report(offset, message)
    return _recovered_box(src, start)


def _string_end(text: str, quote_at: int) -> int | None:
    """Return the offset just after the string opening at `quote_at`, or None if unclosed."""
    stop = _STRING_STOP[text[quote_at]]
    i = quote_at + 1
    while (match := stop.search(text, i)) is not None:
        if match.group() == text[quote_at]:
            return match.end()
        i = match.end()  # a backslash escape
    return None


def _recovered_box(src: Source, start: int) -> tuple[Token, int]:
    # an unclosed box ends at the end of its first line, so the next lines are parsed as usual
    end = src.line_end(start)
    return _box_token(src, start, end, closed=False), end


def _box_token(src: Source, start: int, close: int, closed: bool) -> Token:
    """Split the box text between `start` (`[`) and `close` into class word and arguments."""
    text = src.text
    k = start + 1
    while k < close and text[k].isspace():
        k += 1
    match = _CLASS_WORD.match(text, k, close)
    cls = match.group() if match else ""
    after = match.end() if match else k
    rest = after + 1 if cls and after < close and text[after] == ":" else after
    args = text[rest:close].strip()
    args_start = text.index(args[0], rest) if args else after
    if closed and not cls:
        if k == close:
            src.report(start, "empty box '[]'; write a class in it, e.g. '[print]'")
        else:
            found = show(text[k])
            src.report(k, f"expected a class name at the start of the box, found {found}")
    end = close + 1 if closed else close
    return Token("box", text[start:end], start, end, cls, args, args_start)


def read_body(src: Source, pos: int, indent: int) -> tuple[str, int, int]:
    """Read the body starting at `pos`: the lines indented deeper than `indent`, blank lines
    among them kept, trailing ones dropped. Return the dedented body, its first line number,
    and where the next statement starts (trailing blank lines are left there; they read as
    nothing)."""
    text = src.text
    body_line = src.position(pos)[0]
    lines: list[str] = []
    kept, end = 0, pos
    while pos < len(text):
        line = text[pos : src.line_end(pos)]
        if line.strip() and line_width(line) <= indent:
            break
        lines.append(line)
        pos += len(line) + 1
        if line.strip():
            kept, end = len(lines), pos
    return _dedent(lines[:kept]), body_line, end


def line_width(line: str) -> int:
    """Return the indentation of `line` in columns, a tab advancing to the next multiple of 8."""
    width = 0
    for char in line:
        if char == " ":
            width += 1
        elif char == "\t":
            width = width // 8 * 8 + 8
        else:
            break
    return width


def _dedent(lines: list[str]) -> str:
    """Remove the indentation the non-blank `lines` share; blank lines become empty."""
    indents = [line[: len(line) - len(line.lstrip(" \t"))] for line in lines if line.strip()]
    least = min(line_width(indent) for indent in indents)
    prefix = indents[0]
    for indent in indents:
        while not indent.startswith(prefix):
            prefix = prefix[:-1]
    if line_width(prefix) == least:  # textwrap.dedent's way: inner tabs stay tabs
        return "\n".join(line[len(prefix) :] if line.strip() else "" for line in lines)
    # tabs in some lines, spaces in others: rewrite the indentation as spaces
    return "\n".join(
        " " * (line_width(line) - least) + line.lstrip(" \t") if line.strip() else ""
        for line in lines
    )
