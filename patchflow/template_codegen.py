"""Generate the builder of a `[msg]` segment whose placeholders stand for whole values.

The code-generating half of templates.py (read its docstring first): a segment's text is
resolved once with a sentinel number in place of each `$n`, and `_Builder` turns the result
into the Python source of a function from the stored values to the message, so that a fired
message box places its values instead of printing and parsing them again. Kept apart because
it is a small compiler of its own, and templates.py reads better as the rules of when to use it.
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import pairwise
from typing import TYPE_CHECKING, Any, Final

import attrs

from .errors import MessageError
from .messages import (
    _NOT_JSON5,
    JSON5_MAX_DEPTH,
    Index,
    _json_text,
    _never_json5,
    _resolve_words,
    _split,
    _try_json5,
)

if TYPE_CHECKING:
    from .templates import _Filled

Builder = Callable[[list[Any]], Any]  # the values of a segment's placeholders → its message


@attrs.frozen
class _Placed:
    """A segment's builder, and how deep each placeholder's value may nest to be placed.

    `marked` (the segment resolved with `sentinels` for its placeholders) is kept so that a
    renderer can write the builder's expression into its own source (`inline`) instead of
    calling `build`: one call less each time the message box fires.
    """

    build: Builder
    limits: tuple[int, ...]
    marked: Any = attrs.field(eq=False, repr=False, default=None)
    sentinels: tuple[str, ...] = ()
    words: bool = False

    def inline(self, refs: list[str], prefix: str) -> tuple[str, dict[str, Any]]:
        """Return the source of what `build` returns, and the names that source reads.

        Value j is read from the name `refs[j]`; the constants are named `prefix` + a number.
        """
        builder = _Builder(list(self.sentinels), words=self.words, refs=refs, prefix=prefix)
        body = builder.source(self.marked, 0)
        assert body is not None and builder.ok  # as when `build` was made from the same text
        return body, builder.namespace()


_SCALARS: Final = frozenset({type(None), bool, int, float, str})


def _fits(value: Any, limit: int) -> bool:
    """Whether `value` reads back from its JSON text as itself, nested at most `limit` deep."""
    kind = type(value)
    if kind in _SCALARS:
        return True
    if limit <= 0:
        return False
    if kind is list:
        return all(_fits(item, limit - 1) for item in value)
    if kind is dict:
        return all(type(k) is str and _fits(v, limit - 1) for k, v in value.items())
    return False


def _sentinels(count: int) -> list[str]:
    """Number texts no template writes, one per placeholder, each read back as a float."""
    return [f"-9.{j:03d}7316e-301" for j in range(count)]


def _marked(literals: tuple[str, ...], sentinels: list[str]) -> str:
    pieces = [literals[0]]
    for sentinel, literal in zip(sentinels, literals[1:], strict=True):
        pieces += (sentinel, literal)
    return "".join(pieces)


#: what may stand just before and just after a whole JSON5 value (else the text path)
_BEFORE: Final = frozenset("[,:")
_AFTER: Final = frozenset("]},")


def _place_json5(segment: str, literals: tuple[str, ...]) -> _Placed | None:
    """The builder of a JSON5 segment whose placeholders all stand for whole values."""
    if _never_json5(segment):
        return None
    for before, after in pairwise(literals):  # around each `$n`
        if before.rstrip()[-1:] not in _BEFORE or (after.lstrip()[:1] or "]") not in _AFTER:
            return None  # `-$1`, `+$1`, `$1e5`, `"$1"`, a comment beside it: not a whole value
    sentinels = _sentinels(len(literals) - 1)
    if any(sentinel in segment for sentinel in sentinels):
        return None
    try:
        marked = _try_json5(_marked(literals, sentinels))
    except MessageError:  # nested too deep: the text path says so
        return None
    if marked is _NOT_JSON5:
        return None
    return _Builder(sentinels, words=False).placed(marked)


def _place_words(filled: _Filled, index: Index) -> _Placed | None:
    """The builder of a shorthand or list segment whose placeholders are whole tokens."""
    sentinels = _sentinels(len(filled.slots))
    if any(sentinel in filled.text for sentinel in sentinels):
        return None
    text = _marked(filled.literals, sentinels)
    try:
        message = _resolve_words(text, _split(text, at_commas=False), index)
    except MessageError:  # a constant token nested too deep: the text path says so
        return None
    return _Builder(sentinels, words=True).placed(message)


class _Builder:
    """Turn a message resolved with sentinels into the source of a function of the values.

    Value j is read from `refs[j]` (`_v[j]`, of the builder's list argument, by default) and
    the constants are named `prefix` + a number, so that a renderer can take the expression
    into its own source (`_Placed.inline`).
    """

    def __init__(
        self,
        sentinels: list[str],
        *,
        words: bool,
        refs: list[str] | None = None,
        prefix: str = "_c",
    ) -> None:
        self.sentinels = tuple(sentinels)
        self.texts = {text: j for j, text in enumerate(sentinels)}
        self.numbers = {float(text): j for j, text in enumerate(sentinels)}
        self.words = words  # shorthand: a token is read on its own, so depth does not add up
        self.refs = refs or [f"_v[{j}]" for j in range(len(sentinels))]
        #: the values as one sequence, for `_join`
        self.all_values = "_v" if refs is None else f"({', '.join(refs)},)"
        self.prefix = prefix
        self.limits: dict[int, int] = {}
        self.constants: list[Any] = []
        self.ok = True

    def placed(self, message: Any) -> _Placed | None:
        body = self.source(message, 0)
        if not self.ok or len(self.limits) != len(self.texts):  # lost in a comment, say
            return None
        namespace = self.namespace()
        code = f"def build(_v):\n    return {body}\n"
        exec(compile(code, "<patchflow msg template>", "exec"), namespace)
        limits = tuple(self.limits[j] for j in range(len(self.texts)))
        return _Placed(namespace["build"], limits, message, self.sentinels, self.words)

    def namespace(self) -> dict[str, Any]:
        """The names the generated source reads: the helpers and the constants."""
        return {
            "_as_text": _as_text,
            "_join": _join,
            **{f"{self.prefix}{k}": value for k, value in enumerate(self.constants)},
        }

    def slot(self, j: int, limit: int) -> None:
        if j in self.limits:
            self.ok = False  # a sentinel seen twice cannot be told apart
        self.limits[j] = limit

    def source(self, node: Any, depth: int) -> str | None:
        """Python source building `node`, or None when it holds no placeholder (a constant)."""
        kind = type(node)
        if kind is float and node in self.numbers:
            j = self.numbers[node]
            self.slot(j, JSON5_MAX_DEPTH if self.words else JSON5_MAX_DEPTH - depth)
            return self.refs[j]
        if kind is str:
            return self.text_source(node)
        if kind is list:
            items = [self.source(item, depth + 1) for item in node]
            if all(item is None for item in items):
                return None
            parts = (self.constant(v) if s is None else s for v, s in zip(node, items, strict=True))
            return f"[{', '.join(parts)}]"
        if kind is dict:
            if any(self.text_source(key) is not None for key in node):
                self.ok = False  # a placeholder in a key
            values = [self.source(value, depth + 1) for value in node.values()]
            if all(value is None for value in values):
                return None
            parts = (
                f"{k!r}: {self.constant(v) if s is None else s}"
                for (k, v), s in zip(node.items(), values, strict=True)
            )
            return "{" + ", ".join(parts) + "}"
        return None

    def text_source(self, text: str) -> str | None:
        if text in self.texts and self.words:  # the text of a `string` field
            j = self.texts[text]
            self.slot(j, JSON5_MAX_DEPTH)
            return f"_as_text({self.refs[j]})"
        found = [(text.find(s), s) for s in self.texts if s in text]
        if not found:
            return None
        if not self.words:
            self.ok = False  # `$n` inside a JSON5 string: text substitution it is
            return None
        pieces: list[Any] = []  # the remaining-text field of shorthand: literal, slot, …
        rest = text
        for _, sentinel in sorted(found):
            head, _, rest = rest.partition(sentinel)
            j = self.texts[sentinel]
            self.slot(j, JSON5_MAX_DEPTH)
            pieces += (head, j)
        pieces.append(rest)
        return f"_join({self.constant(tuple(pieces))}, {self.all_values})"

    def constant(self, value: Any) -> str:
        self.constants.append(value)
        return f"{self.prefix}{len(self.constants) - 1}"


def _as_text(value: Any) -> Any:
    """A `string` field's value: a string as it is, anything else as its JSON text."""
    return value if type(value) is str else _json_text(value)


def _join(pieces: tuple[Any, ...], values: list[Any]) -> str:
    """Literal text with the JSON text of `values[j]` for each int `j` among the pieces."""
    return "".join(piece if type(piece) is str else _json_text(values[piece]) for piece in pieces)
