"""The compiled text of a message box (`[msg]`): stored `$n` values in, messages out.

The message box resolves its text by Patchies' rules (messages.md; the rules themselves are in
messages.py) each time it fires, so the text is compiled once: segments are split and
tokenised up front, constant JSON5 is parsed at compile time, constant shorthand once per set
of wired schemas, and a segment that is exactly `$n` hands the stored value through.

**Values are placed, not printed and read again**, where `$n` stands for a whole JSON value:
`{a: $1}`, `[$1, 2]`, `set count $1` (a shorthand field or a token of a list). Such a segment
is compiled into a builder function (generated source, as delivery.py generates its senders;
template_codegen.py)
that puts the stored value where `$n` was. Which placeholders those are is found by putting a
sentinel number in place of each `$n` and resolving the text once — at compile time for JSON5,
once per set of schemas for shorthand: a sentinel that comes back as its number is a whole
value, one that comes back as the text of a `string` field is that field's text (a string
value, or the JSON text of another), one inside the remaining-text field of shorthand is
text; anything else (a `$n` inside a quoted string, a key, a comment or a partial token such
as `key=$1` or `-$1`) leaves the segment to the text path: substitute JSON text, resolve.

A value is placed only if its JSON text would read back as itself: None, bools, ints, floats,
strings, and lists and string-keyed dicts of them, nested no deeper than the JSON5 reader
allows at that place. Anything else (bytes, tuples, other keys, too deep) takes the text path,
which gives the reference result or says what is wrong. tests/test_messages.py holds the two
paths to exactly the same results over random values and templates.

Measured (2026-11-29, 2-core Intel Xeon VM busy with other jobs; CPU time, best of 7 × 50,000
renders with the storage schemas bound): `set count $1` with an int 7.85 µs by text, 1.75 µs
placed; `{a: $1, b: [$2, 1]}` 4.35 → 1.99 µs. The whole README counter cascade, storage left
out, went from 16.0 to 6.6 µs a message with this and the `[expr]` change (bench/RESULTS.md).
The renderer then took each builder's expression into its own source (one call less) and
a message box came to keep its renderer (`renderer`, one call less again): `set count $1`
0.31 → 0.19 µs a fire (2026-11-29, the same machine and measure).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Final

import attrs

from .errors import ArgumentError, MessageError
from .messages import (
    _NOT_JSON5,
    _PLACEHOLDER,
    Index,
    _index,
    _json_text,
    _never_json5,
    _resolve_text,
    _resolve_words,
    _split,
    _try_json5,
)
from .render import describe
from .schemas import Schema
from .template_codegen import _SCALARS, _fits, _place_json5, _place_words, _Placed


class _Unset:
    __slots__ = ()

    def __repr__(self) -> str:
        return "UNSET"


UNSET: Final = _Unset()  # a `$n` slot that holds no value yet
_SKIP: Final = object()
_PENDING: Final = object()  # a segment filled by text (no placeholder stands for a whole value)


@attrs.frozen
class _Filled:
    """A segment with placeholders: literal text around 0-based slot numbers."""

    text: str
    literals: tuple[str, ...]  # one more than slots
    slots: tuple[int, ...]  # per placeholder, in text order
    alone: bool  # the segment is exactly `$n`
    # Token spans in the template, with the placeholder index of whole-token placeholders (or
    # -1), when substitution cannot change the tokens or make the segment JSON5: JSON text is
    # one balanced token, and a first bare word is never JSON5. None: resolve from scratch.
    layout: tuple[tuple[int, int, int], ...] | None
    # JSON5 text with every placeholder a whole value: its builder and each one's depth limit
    placed: _Placed | None

    @classmethod
    def compile(cls, segment: str) -> _Filled:
        parts = _PLACEHOLDER.split(segment)
        literals, slots = tuple(parts[::2]), tuple(int(d) - 1 for d in parts[1::2])
        spans = _split(segment, at_commas=False)
        tokens = [segment[a:b] for a, b in spans]
        marks = [0 if _PLACEHOLDER.fullmatch(t) else -1 for t in tokens]  # 0: a whole `$n`
        layout = None
        if len(tokens) > 1 and marks.count(0) == len(slots) and marks[0] and _never_json5(segment):
            numbering = iter(range(len(slots)))
            layout = tuple(
                (a, b, next(numbering) if mark == 0 else -1)
                for (a, b), mark in zip(spans, marks, strict=True)
            )
        alone = len(slots) == 1 and not literals[0] and not literals[1]
        placed = None if alone or layout is not None else _place_json5(segment, literals)
        return cls(segment, literals, slots, alone, layout, placed)

    def plan(self, index: Index) -> _Placed | None:
        """How to place the values for these schemas, if every placeholder is a whole value."""
        if self.placed is not None:
            return self.placed
        if self.layout is None:
            return None
        return _place_words(self, index)

    def fill(self, values: Sequence[Any], index: Index) -> Any:
        """The segment's message for `values` by text, or _SKIP if a slot is unset."""
        n = len(values)
        got = [values[s] if s < n else UNSET for s in self.slots]
        if UNSET in got:  # `in` compares by identity first; UNSET equals nothing else
            return _SKIP
        return got[0] if self.alone else self.fill_text(got, index)

    def fill_text(self, got: list[Any], index: Index) -> Any:
        """The text path: substitute each value's JSON text and resolve the segment."""
        texts = [_text_for(value, slot) for slot, value in zip(self.slots, got, strict=True)]
        pieces = [self.literals[0]]
        for piece, literal in zip(texts, self.literals[1:], strict=True):
            pieces += (piece, literal)
        if self.layout is None:
            return _resolve_text("".join(pieces), index)
        spans, shift = [], 0
        for a, b, j in self.layout:
            grow = len(texts[j]) - 2 if j >= 0 else 0  # `$n` is two characters
            spans.append((a + shift, b + shift + grow))
            shift += grow
        return _resolve_words("".join(pieces), spans, index)


def _text_for(value: Any, slot: int) -> str:
    try:
        return _json_text(value)
    except (TypeError, ValueError):
        raise MessageError(
            f"cannot put {describe(value, 40)} into ${slot + 1}: it has no JSON text; "
            f"send it from a segment that is just ${slot + 1}"
        ) from None


# -- the template ---------------------------------------------------------------------------


@attrs.frozen
class _Words:
    """A constant segment of 2+ tokens: its result depends on the schemas."""

    text: str
    spans: tuple[tuple[int, int], ...]


class MessageTemplate:
    """The compiled text of a message box; `render` turns stored values into messages."""

    __slots__ = ("_bound_to", "_renderer", "_segments", "slots", "text")

    def __init__(self, text: str, segments: list[Any], slots: int) -> None:
        self.text = text
        self.slots = slots  # highest `$n` used; the box has max(1, slots) inlets
        self._segments = segments  # constant values, _Words or _Filled
        self._bound_to: Any = None
        self._renderer = self._bind(())

    @classmethod
    def compile(cls, text: str) -> MessageTemplate:
        """Split `text` into segments and pre-resolve every one whose result is fixed.

        Raises:
            ArgumentError: a constant value nests deeper than `JSON5_MAX_DEPTH`.
        """
        try:
            return cls._compile(text)
        except MessageError as error:
            raise ArgumentError(str(error)) from None

    @classmethod
    def _compile(cls, text: str) -> MessageTemplate:
        segments: list[Any] = []
        slots = 0
        for a, b in _split(text, at_commas=True):
            segment = text[a:b]
            if _PLACEHOLDER.search(segment):
                filled = _Filled.compile(segment)
                slots = max(slots, *(n + 1 for n in filled.slots))
                segments.append(filled)
                continue
            value = _try_json5(segment)
            if value is not _NOT_JSON5:
                segments.append(value)
                continue
            spans = _split(segment, at_commas=False)
            segments.append(_Words(segment, tuple(spans)) if len(spans) >= 2 else {"type": segment})
        return cls(text, segments, slots)

    @property
    def uses_shorthand(self) -> bool:
        """Whether a segment may be shorthand (2+ words), so that its result needs schemas."""
        return any(type(s) in (_Words, _Filled) for s in self._segments)

    def _bind(self, schemas: Sequence[Schema]) -> Callable[[Sequence[Any]], list[Any]]:
        """Resolve constant shorthand and plan the placing of values for these schemas, into
        a renderer; remember it when they are a tuple."""
        index = _index(schemas)
        resolved: list[Any] = []
        for s in self._segments:
            if type(s) is _Words:
                resolved.append(_resolve_words(s.text, s.spans, index))
            elif type(s) is _Filled:
                resolved.append(s.plan(index) or _PENDING)
            else:
                resolved.append(s)
        renderer = _renderer(self._segments, resolved, index)
        if type(schemas) is tuple:  # immutable, so identity is a safe cache key
            self._bound_to, self._renderer = schemas, renderer
        return renderer

    def render(self, values: Sequence[Any], schemas: Sequence[Schema] = ()) -> list[Any]:
        """Return the messages to send, in order, for the stored `values` (`$1` is values[0]).

        Missing or UNSET slots skip the segments that use them. `schemas` are those of the
        boxes the message box feeds; pass the same tuple each time so constant shorthand is
        resolved once. Returned values may be shared with earlier renders and with `values`:
        do not mutate them.

        Raises:
            MessageError: a value with no JSON text (bytes, an arbitrary object) was put into
                a segment that is more than just its placeholder, or the text it made nests
                deeper than `JSON5_MAX_DEPTH`.
        """
        if schemas is self._bound_to:
            return self._renderer(values)
        return self._bind(schemas)(values)

    def renderer(self, schemas: Sequence[Schema] = ()) -> Callable[[Sequence[Any]], list[Any]]:
        """`render` for these schemas as a function of the values alone (the same results).

        For a message box, which fires with the same schemas until its text changes: keeping
        the function saves a call per fire over `render` (a hop's cost is its calls).
        """
        if schemas is self._bound_to:
            return self._renderer
        return self._bind(schemas)

    def render_text(self, values: Sequence[Any], schemas: Sequence[Schema] = ()) -> list[Any]:
        """`render` without placing values: every placeholder by text (the reference path)."""
        index = _index(schemas)
        out = []
        for segment in self._segments:
            value = (
                _resolve_words(segment.text, segment.spans, index)
                if type(segment) is _Words
                else segment
            )
            if type(segment) is _Filled:
                got = [values[s] if s < len(values) else UNSET for s in segment.slots]
                if UNSET in got:
                    continue
                value = got[0] if segment.alone else segment.fill_text(got, index)
            out.append(value)
        return out

    def __repr__(self) -> str:
        return f"MessageTemplate.compile({self.text!r})"


def _renderer(
    segments: list[Any], resolved: list[Any], index: Index
) -> Callable[[Sequence[Any]], list[Any]]:
    """The function of the stored values that renders these segments (generated source).

    Per segment: a constant is its value; `$n` alone is the value; a planned segment places
    its values when they fit (`_fits`), with the builder's expression written in (not
    called), else takes the text path; any other fills by text. A segment with an unset or
    missing slot is skipped. A text of constants returns its list at once, one segment
    returns a list of one or none; only several segments with placeholders append, in order.
    """
    namespace: dict[str, Any] = {
        "UNSET": UNSET,
        "_S": _SCALARS,
        "_fits": _fits,
        "_index": index,
        "_SKIP": _SKIP,
    }
    parts: list[tuple[str | None, str]] = []  # per segment: (condition or None, expression)
    for k, (segment, value) in enumerate(zip(segments, resolved, strict=True)):
        namespace[f"_c{k}"] = value
        if type(segment) is not _Filled:
            parts.append((None, f"_c{k}"))
            continue
        namespace[f"_f{k}"] = segment
        if value is _PENDING and not segment.alone:
            parts.append((f"(v{k} := _f{k}.fill(values, _index)) is not _SKIP", f"v{k}"))
            continue
        names = [f"a{k}_{j}" for j in range(len(segment.slots))]
        ready = " and ".join(
            f"({name} := values[{slot}]) is not UNSET"
            for name, slot in zip(names, segment.slots, strict=True)
        )
        condition = f"n > {max(segment.slots)} and {ready}"
        if segment.alone:
            parts.append((condition, names[0]))
            continue
        built, constants = value.inline(names, f"_b{k}_")
        namespace |= constants
        got = f"[{', '.join(names)}]"
        fits = " and ".join(
            f"(type({name}) in _S or _fits({name}, {limit}))"
            for name, limit in zip(names, value.limits, strict=True)
        )
        parts.append((condition, f"({built}) if {fits} else _f{k}.fill_text({got}, _index)"))
    lines = ["def render(values):"]
    if any(condition is not None for condition, _ in parts):
        lines.append("    n = len(values)")
    if all(condition is None for condition, _ in parts):
        lines.append(f"    return [{', '.join(expression for _, expression in parts)}]")
    elif len(parts) == 1:
        [(condition, expression)] = parts
        lines += [f"    if {condition}:", f"        return [{expression}]", "    return []"]
    else:
        lines.append("    out = []")
        for condition, expression in parts:
            if condition is None:
                lines.append(f"    out.append({expression})")
            else:
                lines += [f"    if {condition}:", f"        out.append({expression})"]
        lines.append("    return out")
    exec(compile("\n".join(lines) + "\n", "<patchflow msg render>", "exec"), namespace)
    return namespace["render"]
