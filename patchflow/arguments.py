"""Read an object's argument text (`[route op=get "two words"]`), as the built-in objects do.

Objects parse their arguments in `from_text`, when the patch is built; these helpers give every
object, built-in or from another package, the same reading of words, quotes and numbers.
"""

from __future__ import annotations

import re
from typing import Any

from .errors import ArgumentError
from .messages import parse_json5
from .values import Number, is_number

_ARG_TOKEN = re.compile(
    r""" "(?:[^"\\]|\\.)*"? | '(?:[^'\\]|\\.)*'? | `(?:[^`\\]|\\.)*`? | [\[{(] | [\]})] | \s+
       | [^"'`\[\]{}()\s]+ """,
    re.VERBOSE | re.DOTALL,
)


def split_arguments(text: str) -> list[str]:
    """Split argument text at top-level whitespace, keeping quotes and brackets whole.

    `a={x: 1, y: 2} "two words"` is two arguments, as the message box would read them.
    """
    words: list[str] = []
    current: list[str] = []
    depth = 0
    for match in _ARG_TOKEN.finditer(text):
        piece = match.group()
        if piece in "[{(":
            depth += 1
        elif piece in "]})":
            depth = max(0, depth - 1)
        elif depth == 0 and piece.isspace():
            if current:
                words.append("".join(current))
                current = []
            continue
        current.append(piece)
    if current:
        words.append("".join(current))
    return words


def json5_or_text(text: str) -> Any:
    """The JSON5 value of `text`, or `text` itself when it does not parse (`get` → "get")."""
    try:
        return parse_json5(text)
    except ArgumentError:
        raise  # JSON5 nested too deep to read: a value, not a word
    except ValueError:
        return text


def parse_number(text: str) -> Number | None:
    """The number argument text spells (JSON5: `3`, `-1.5`, `0x10`), or None."""
    try:
        value = parse_json5(text)
    except ValueError:
        return None
    return value if is_number(value) else None
