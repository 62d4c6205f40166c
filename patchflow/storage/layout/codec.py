"""Encode message values to bytes and back, so that every value round-trips exactly.

Values are stored with msgpack (`use_bin_type=True` when packing, `raw=False` when unpacking):
`bytes` come back as `bytes`, `str` as `str`, ints as ints (within msgpack's 64-bit range),
floats including NaN and ±inf as floats, and nested lists and dicts unchanged. Tuples are stored
as lists and `bytearray`/`memoryview` as `bytes`, as messages.md treats them.

msgpack accepts more than a message value is, and those extras would not come back as they went
in: a dict with int keys packs but fails to unpack, `bytes` keys come back as `bytes`, and
`msgpack.ExtType` comes back as itself. So containers get one cheap walk that checks dict keys,
leaf types, int range and nesting depth before msgpack packs them in C; a scalar (the common kv
value) skips the walk. Only when that quick check fails is the value walked again, to accept
subclasses of the plain types or to say *where* the problem is (`value.items[2]`).
"""

from __future__ import annotations

import threading
from typing import Any

import msgpack

from ...errors import CommandError

__all__ = ["MAX_DEPTH", "UnstorableValue", "decode", "encode"]

#: Deepest nesting of lists and dicts a stored value may have. msgpack's C packer and unpacker
#: refuse much deeper values anyway; a fixed limit makes the error say so plainly.
MAX_DEPTH = 256

_INT_MIN = -(2**63)
_INT_MAX = 2**64 - 1

# Exact types that msgpack stores and restores unchanged (checked with `type(x) in ...`, the
# fast path); subclasses of these are accepted too but found through the slower isinstance path.
_SCALARS = frozenset({type(None), bool, int, float, str, bytes})
_BYTES_LIKE = bytes | bytearray | memoryview
_WHAT_FITS = "store None, bool, int, float, str, bytes, and lists and dicts with string keys"
#: Each thread's own packer: `msgpack.packb` builds a Packer per call, half of what packing a
#: small document costs; a Packer is not safe to share between threads (it empties its buffer
#: after each `pack`, and on an error too).
_per_thread = threading.local()


class UnstorableValue(CommandError):
    """A value that is not a message value and so cannot be stored.

    `where` names the place inside the value (`value.items[2]`), `problem` says what is wrong.
    """

    def __init__(self, where: str, problem: str):
        self.where = where
        self.problem = problem
        super().__init__(f"cannot store {where}: {problem}")


class _Problem(Exception):
    """Raised inside the walk; each level on the way out prepends its part of the path."""

    def __init__(self, problem: str):
        self.problem = problem
        self.path: list[str] = []


def encode(value: Any, where: str = "value") -> bytes:
    """Return the msgpack bytes of a message value.

    Args:
        value: a message value (messages.md).
        where: how error messages name the value's root, e.g. `"value"` or `"doc"`.

    Raises:
        UnstorableValue (a CommandError): the value, or something inside it, cannot be stored.
    """
    if type(value) not in _SCALARS and not _plain_and_fits(value, 0):
        _check_storable(value, where)  # raises where the problem is, or accepts a subclass
    try:
        pack = _per_thread.pack
    except AttributeError:
        pack = _per_thread.pack = msgpack.Packer(use_bin_type=True).pack
    try:
        return pack(value)
    except OverflowError:
        raise UnstorableValue(where, _int_problem(value)) from None
    except (TypeError, ValueError, UnicodeEncodeError):
        # Only a str with a lone surrogate gets past the walk; find where it is.
        _locate_bad_text(value, where)
        raise  # pragma: no cover - the walk above always finds the culprit


def decode(data: bytes) -> Any:
    """Return the message value stored as `data` by `encode`."""
    return msgpack.unpackb(data, raw=False)


def _plain_and_fits(value: Any, depth: int) -> bool:
    """Whether `value` is made of plain lists, tuples, dicts with str keys and scalars, within
    the int range and `MAX_DEPTH`: the common case, checked without building error paths.

    False does not mean unstorable (a subclass, an IntEnum), only that `_walk` must look. The
    leaves are checked inline, without a call each: that halves the cost of a small document.
    """
    if depth >= MAX_DEPTH:
        return False
    kind = type(value)
    if kind is dict:
        for key in value:
            if type(key) is not str:
                return False
        items = value.values()
    elif kind is list or kind is tuple:
        items = value
    else:
        return False
    for item in items:
        kind = type(item)
        if kind is str or kind is float or kind is bool or item is None or kind is bytes:
            continue
        if kind is int:
            if _INT_MIN <= item <= _INT_MAX:
                continue
            return False
        if not _plain_and_fits(item, depth + 1):
            return False
    return True


def _check_storable(value: Any, where: str) -> None:
    try:
        _walk(value, 0)
    except _Problem as problem:
        raise UnstorableValue(where + "".join(reversed(problem.path)), problem.problem) from None


def _walk(value: Any, depth: int) -> None:
    kind = type(value)
    if kind in _SCALARS:
        if kind is int and not _INT_MIN <= value <= _INT_MAX:
            raise _Problem(_int_problem(value))
        return
    if kind is list or kind is tuple:
        if depth >= MAX_DEPTH:
            raise _Problem(f"nested more than {MAX_DEPTH} levels deep")
        for index, item in enumerate(value):
            try:
                _walk(item, depth + 1)
            except _Problem as problem:
                problem.path.append(f"[{index}]")
                raise
        return
    if kind is dict:
        if depth >= MAX_DEPTH:
            raise _Problem(f"nested more than {MAX_DEPTH} levels deep")
        for key, item in value.items():
            if type(key) is not str and not isinstance(key, str):
                raise _Problem(
                    f"dict key {key!r} ({type(key).__name__}) is not a string;"
                    " dict keys must be strings"
                )
            try:
                _walk(item, depth + 1)
            except _Problem as problem:
                problem.path.append(_field_path(key))
                raise
        return
    _walk_unusual(value, depth)


def _walk_unusual(value: Any, depth: int) -> None:
    """Accept subclasses of the plain types (IntEnum, OrderedDict, ...) and bytes-likes."""
    if isinstance(value, msgpack.ExtType | msgpack.Timestamp):
        raise _Problem(f"{type(value).__name__} is not a message value; {_WHAT_FITS}")
    if isinstance(value, bool | float | str | _BYTES_LIKE):
        return
    if isinstance(value, int):
        _walk(int(value), depth)
    elif isinstance(value, list | tuple | dict):
        _walk(_plain(value), depth)
    else:
        raise _Problem(f"{type(value).__name__} is not a message value; {_WHAT_FITS}")


def _plain(value: list | tuple | dict) -> list | tuple | dict:
    return dict(value) if isinstance(value, dict) else list(value)


def _int_problem(value: Any) -> str:
    text = str(value) if abs(value) < 10**30 else f"{value:.3e}"
    return f"integer {text} is outside the 64-bit range ({_INT_MIN} to {_INT_MAX})"


def _field_path(key: str) -> str:
    return f".{key}" if key.isidentifier() else f"[{key!r}]"


def _locate_bad_text(value: Any, where: str, depth: int = 0) -> None:
    """Raise UnstorableValue for the first string in `value` that is not valid Unicode text."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as error:
            bad = value[error.start]
            raise UnstorableValue(
                where,
                f"the string contains a lone surrogate {bad!r} at index {error.start},"
                " which is not valid Unicode text",
            ) from None
    elif isinstance(value, list | tuple) and depth < MAX_DEPTH:
        for index, item in enumerate(value):
            _locate_bad_text(item, f"{where}[{index}]", depth + 1)
    elif isinstance(value, dict) and depth < MAX_DEPTH:
        for key, item in value.items():
            _locate_bad_text(key, f"{where} key {key!r}", depth + 1)
            _locate_bad_text(item, where + _field_path(key), depth + 1)
