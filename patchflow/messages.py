"""Message values, bang, JSON text and the message-box (`[msg]`) text resolution.

A message is a plain JSON-like value (plus `bytes`); a control message is a dict with a string
`type`, and a bang is `{"type": "bang"}`. Messages are shared, not copied, as they fan out — and
the values a `MessageTemplate` returns for constant text are the same objects on every render —
so receivers must never mutate what they get.

The message box resolves its text by Patchies' rules (messages.md): the rules are here, and
templates.py compiles a box's text once (`MessageTemplate`) so that each message costs little.

Decisions beyond the spec text (to document):

- `bytes` print as the JSON string `"<N bytes>"`, so a printed line stays valid JSON. They
  have no JSON text: putting them into text (`{a: $1}`) raises MessageError, while a segment
  that is exactly `$n` passes any stored value through unchanged.
- `$n` is replaced everywhere, inside quotes too, in one pass; `$10` is `$1` then `0`.
- Shorthand tries all-named first (typed by the first schema of that type holding every key),
  then an exact positional count over every candidate, and only then the rest-of-tokens rule —
  so `find notes {…}` is `find{collection, query}`, not `find{collection}` eating the rest. The
  rest is the remaining text as written, so multi-line code keeps its layout.
- `number` fields document what receivers expect; tokens are not coerced or rejected for them.
- JSON5 nested deeper than `JSON5_MAX_DEPTH` (pyjson5's limit) is an error, at creation or
  when `$n` makes it, not a word: it is a value that cannot be read, and `{type: TEXT}` hid it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from json.encoder import encode_basestring
from typing import Any, Final

import pyjson5

from .errors import ArgumentError, MessageError
from .render import bytes_label
from .schemas import BUILTIN_SCHEMAS, Field, Schema

BANG: Final[dict[str, Any]] = {"type": "bang"}  # shared: never mutate


def is_bang(value: Any) -> bool:
    """Whether `value` is a bang: a dict whose `type` is "bang" (the string "bang" is not)."""
    return isinstance(value, dict) and value.get("type") == "bang"


def message_type(value: Any) -> str | None:
    """The `type` of a control message (a dict with a string `type`), else None."""
    kind = value.get("type") if isinstance(value, dict) else None
    return kind if isinstance(kind, str) else None


# -- JSON text ------------------------------------------------------------------------------


def _print_default(value: Any) -> Any:
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes_label(value)
    return repr(value)


_PRINT = json.JSONEncoder(ensure_ascii=False, default=_print_default)
_TEXT = json.JSONEncoder(ensure_ascii=False)  # substitution: no fallback, errors are errors


def _json_text(value: Any, encoder: json.JSONEncoder = _TEXT) -> str:
    """JSON text, NaN and Infinity spelt as in JSON5; raises TypeError/ValueError if none."""
    kind = type(value)
    if kind is str:
        return encode_basestring(value)
    if kind is int:
        return int.__repr__(value)
    return encoder.encode(value)


def to_json(value: Any) -> str:
    """Return the print text of a message: JSON, unicode unescaped, keys in insertion order.

    Tuples become lists, bytes the string `"<N bytes>"` and other objects their quoted
    `repr`; a value JSON cannot hold at all (a cycle, tuple keys) is its quoted `repr`.
    """
    try:
        return _json_text(value, _PRINT)
    except (TypeError, ValueError):
        return encode_basestring(repr(value))


#: how deep `[]` and `{}` may nest in JSON5 text: pyjson5's fixed limit (a test checks it)
JSON5_MAX_DEPTH: Final = 32


def _too_deep(text: str) -> str:
    """The error text for JSON5 that nests deeper than the reader allows."""
    shown = " ".join(text.split())
    shown = shown if len(shown) <= 30 else shown[:29] + "…"
    return (
        f"the value '{shown}' nests [] and {{}} more than {JSON5_MAX_DEPTH} levels deep, the "
        "most the JSON5 reader allows; nest it less deeply, or build the value in [py]"
    )


def parse_json5(text: str) -> Any:
    """Parse JSON5 text; raise ValueError saying why it is not JSON5.

    Nesting deeper than `JSON5_MAX_DEPTH` raises ArgumentError (a ValueError), so that callers
    that read other text as a plain word can tell a value too deep to read from a word.
    """
    try:
        return pyjson5.decode(text)
    except pyjson5.Json5NestingTooDeep:
        raise ArgumentError(_too_deep(text)) from None
    except pyjson5.Json5Exception as error:
        raise ValueError(f"not JSON5: {error.message}: {text!r}") from None


_NOT_JSON5: Final = object()
# What JSON5 text can start with; anything else is rejected without the (slow) exception.
_JSON5_START: Final = frozenset("{[\"'-+.0123456789/\ufeff")
_JSON5_WORDS: Final = ("true", "false", "null", "Infinity", "NaN")


def _never_json5(text: str) -> bool:
    """Whether `text` starts so that it cannot be JSON5, whatever follows (a bare word)."""
    first = text[:1]
    return first not in _JSON5_START and not first.isspace() and not text.startswith(_JSON5_WORDS)


def _try_json5(text: str) -> Any:
    """The JSON5 value of `text`, or _NOT_JSON5; bare words, common here, skip the exception.

    JSON5 nested too deep raises MessageError: it is no word, and `{type: TEXT}` would hide it.
    """
    if _never_json5(text):
        return _NOT_JSON5
    try:
        return pyjson5.decode(text)
    except pyjson5.Json5NestingTooDeep:
        raise MessageError(_too_deep(text)) from None
    except pyjson5.Json5Exception:
        return _NOT_JSON5


Index = dict[str, tuple[Schema, ...]]


def _by_type(schemas: Sequence[Schema]) -> Index:
    index: dict[str, list[Schema]] = {}
    for s in dict.fromkeys(schemas):
        index.setdefault(s.type, []).append(s)
    # fewest required fields first, then fewest fields; the sort is stable for ties
    return {k: tuple(sorted(v, key=lambda s: (s.required, s.total))) for k, v in index.items()}


_BUILTIN_INDEX: Final = _by_type(BUILTIN_SCHEMAS)


def _index(schemas: Sequence[Schema]) -> Index:
    """Candidates per type: the wired schemas first, then the built-in ones."""
    if not schemas:
        return _BUILTIN_INDEX
    index = dict(_BUILTIN_INDEX)
    for name, wired in _by_type(schemas).items():
        index[name] = tuple(dict.fromkeys(wired + _BUILTIN_INDEX.get(name, ())))
    return index


# -- splitting and shorthand ----------------------------------------------------------------

_LEX = re.compile(
    r"""  "(?:[^"\\]|\\.)*"? | '(?:[^'\\]|\\.)*'? | `(?:[^`\\]|\\.)*`?   # quoted, maybe open
        | [\[{(] | [\]})] | , | \s+ | [^"'`\[\]{}(),\s]+ """,
    re.VERBOSE | re.DOTALL,
)
_NESTING = re.compile(r"[\"'`\[\]{}()]")
_WORD = re.compile(r"\S+")
_PLACEHOLDER = re.compile(r"\$([1-9])")
_NAMED = re.compile(r"([A-Za-z_]\w*)=(.*)", re.DOTALL)


def _split(text: str, at_commas: bool) -> list[tuple[int, int]]:
    """Spans of the pieces of `text` between top-level commas (or whitespace), trimmed."""
    if not at_commas and not _NESTING.search(text):
        return [m.span() for m in _WORD.finditer(text)]
    spans, depth, start = [], 0, 0
    for match in _LEX.finditer(text):
        char = text[match.start()]
        if char in "[{(":
            depth += 1
        elif char in "]})":
            depth = max(0, depth - 1)
        elif depth == 0 and (char == "," if at_commas else char.isspace()):
            spans.append((start, match.start()))
            start = match.end()
    spans.append((start, len(text)))
    trimmed = []
    for a, b in spans:
        piece = text[a:b]
        if piece.strip():
            a += len(piece) - len(piece.lstrip())
            trimmed.append((a, a + len(piece.strip())))
    return trimmed


def _value(token: str, field: Field | None = None) -> Any:
    """A token's value: JSON5, else the raw text; a `string` field keeps non-strings raw."""
    value = _try_json5(token)
    if value is _NOT_JSON5 or (field and field.kind == "string" and type(value) is not str):
        return token
    return value


def _resolve_words(text: str, spans: Sequence[tuple[int, int]], index: Index) -> Any:
    """Resolve a segment of 2+ top-level tokens: shorthand, else a list of tokens."""
    tokens = [text[a:b] for a, b in spans]
    if _try_json5(tokens[0]) is _NOT_JSON5:  # a type is a word, not a value
        result = _shorthand(text, spans, tokens, index.get(tokens[0], ()))
        if result is not None:
            return result
    return [{"type": t} if (v := _try_json5(t)) is _NOT_JSON5 else v for t in tokens]


def _shorthand(
    text: str, spans: Sequence[tuple[int, int]], tokens: list[str], candidates: tuple[Schema, ...]
) -> dict[str, Any] | None:
    name = tokens[0]
    named: dict[str, str] = {}
    positional: list[int] = []  # indices into tokens
    for i in range(1, len(tokens)):
        match = _NAMED.fullmatch(tokens[i]) if "=" in tokens[i] else None
        if match and match[1] != "type":
            named[match[1]] = match[2]
        else:
            positional.append(i)
    if named:  # a schema fits when it has every named field; the others stay free
        options = [
            (s, free, sum(not f.optional for f in free))
            for s in candidates
            if named.keys() <= s.names
            for free in [tuple(f for f in s.fields if f.name not in named)]
        ]
    else:
        options = [(s, s.fields, s.required) for s in candidates]
    if not positional:  # all named: any type name, typed by a schema that knows every key
        kinds = {f.name: f for f in options[0][0].fields} if options else {}
        return {"type": name} | {k: _value(v, kinds.get(k)) for k, v in named.items()}
    count = len(positional)
    for s, free, required in options:  # exact positional count
        if required <= count <= len(free):
            given = {f.name: _value(tokens[i], f) for f, i in zip(free, positional, strict=False)}
            return _ordered(name, s, given, named)
    for s, free, _ in options:  # rest of tokens: a last string field takes the remaining text
        if 0 < len(free) < count and free[-1] is s.fields[-1] and free[-1].kind == "string":
            head = len(free) - 1
            given = {
                f.name: _value(tokens[i], f)
                for f, i in zip(free[:head], positional[:head], strict=True)
            }
            rest = positional[head:]
            if rest[-1] - rest[0] == len(rest) - 1:  # contiguous: keep the text as written
                given[free[-1].name] = text[spans[rest[0]][0] : spans[rest[-1]][1]]
            else:
                given[free[-1].name] = " ".join(tokens[i] for i in rest)
            return _ordered(name, s, given, named)
    return None


def _ordered(name: str, s: Schema, given: dict[str, Any], named: dict[str, str]) -> dict:
    """The message with its fields in schema order."""
    if not named:
        return {"type": name} | given  # `given` is already in schema order
    message: dict[str, Any] = {"type": name}
    for f in s.fields:
        if f.name in named:
            message[f.name] = _value(named[f.name], f)
        elif f.name in given:
            message[f.name] = given[f.name]
    return message


def _resolve_text(text: str, index: Index) -> Any:
    """Resolve one (substituted, trimmed) segment: JSON5, shorthand or list, or a bare word."""
    value = _try_json5(text)
    if value is not _NOT_JSON5:
        return value
    spans = _split(text, at_commas=False)
    if len(spans) >= 2:
        return _resolve_words(text, spans, index)
    return {"type": text}
