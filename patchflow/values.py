"""What kind of value a message is, and when two messages are the same value.

Messages are JSON-like values; these helpers give every object (built-in or from another
package) one reading of them. JSON has no `1 == true`, so a bool is never a number here, while
`1` and `1.0` are the same number. NaN is the same value as NaN, so that `[route n=NaN]` and a
storage query `{n: NaN}` (which uses this function) both find a NaN.
"""

from __future__ import annotations

from typing import Any

from .messages import message_type

Number = int | float


def is_number(message: Any) -> bool:
    """Whether `message` is a number: an int or a float, but not a bool (JSON has no 1 == true)."""
    kind = type(message)
    return kind is int or kind is float or (isinstance(message, int | float) and kind is not bool)


def is_string_or_control(message: Any) -> bool:
    """What Pd calls a symbol: a string, or a control message such as `[msg start]` sends."""
    return isinstance(message, str) or message_type(message) is not None


def same_value(a: Any, b: Any) -> bool:
    """Whether two messages are the same JSON value.

    `1` is `1.0`, NaN is NaN, but `1` is not `true` and `[1]` not `[true]`; a tuple is the
    list it holds; dicts are the same when they have the same keys (in any order) with the
    same values; anything else is the same when it has the same type and is equal.
    """
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if is_number(a) and is_number(b):
        return a == b or (a != a and b != b)  # NaN is the only value unequal to itself
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(same_value(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return len(a) == len(b) and all(k in b and same_value(v, b[k]) for k, v in a.items())
    return type(a) is type(b) and a == b
