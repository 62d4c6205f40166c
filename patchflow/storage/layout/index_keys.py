"""Index keys: an order-preserving byte encoding of document values, and where index data lives.

**The value encoding** (`encode_value`) maps a value to bytes whose unsigned byte order is the
sort order of `find` (`commands/sorting.py`), so that a range of values is one cursor walk:

    missing < null < false < true < numbers < strings < bytes < lists < dicts

- Numbers: ints and floats together, by value (`1` and `1.0` encode the same, as do `-0.0` and
  `0.0`); NaN before every other number, as sorting puts it. A float is its IEEE 754 bits with
  the sign bit flipped (all bits for a negative) and `00`; an int a float cannot hold exactly
  (beyond 2**53) is the float just below it, `01`, and the 8-byte difference, which lands it
  between that float and the next one.
- Strings (UTF-8, whose byte order is code-point order) and bytes: the bytes with `00` escaped
  as `00 FF`, then `00 01`. A value longer than `MAX_VALUE_BYTES` keeps only its first
  `MAX_VALUE_BYTES` bytes and ends in `00 02`: it still sorts after every shorter value with
  that beginning and before every greater beginning, so a range walk stays right, but values
  sharing those first bytes tie. Such an encoding is **inexact** (`is_exact`), like the one of
  every list and every dict (the kind's tag and `00 02`): readers of an index reorder or
  re-test what shares an inexact encoding.

Every encoding is prefix-free (no encoding is the beginning of another), so an encoding
followed by anything still sorts as the encoding does.

**Where** (space `indexes`, keys.py), under the collection's prefix `STORE + collection + 00`:

    DEFINED + field                         → msgpack {"unique": bool}   (one per index)
    SORTED + field + 00 + VALUE + SEQ       → b""   one per document: its sort value
    MEMBERS + field + 00 + VALUE + SEQ      → b""   one per value a list field holds
    (field: UTF-8, no NUL, at most MAX_FIELD_BYTES)

`indexing.py` says which entries a document has.
"""

from __future__ import annotations

import math
import struct
from typing import Any

from ...errors import CommandError
from .keys import SEQ_BYTES

__all__ = [
    "DEFINED",
    "MAX_FIELD_BYTES",
    "MAX_VALUE_BYTES",
    "MEMBERS",
    "MISSING",
    "SORTED",
    "TAGS",
    "definition_prefix",
    "encode_field",
    "encode_value",
    "entries_prefix",
    "is_exact",
    "kind_tag",
]

# Kind tags, in sort order; booleans are two tags so that false < true needs no body.
MISSING, NULL, FALSE, TRUE = b"\x10", b"\x20", b"\x30", b"\x31"
NUMBER, STRING, BYTES, LIST, DICT = b"\x40", b"\x50", b"\x60", b"\x70", b"\x80"
#: the tags of the scalar kinds, by Python type
TAGS: dict[type, bytes] = {type(None): NULL, int: NUMBER, float: NUMBER, str: STRING, bytes: BYTES}

#: sections of a collection's index data (the module docstring)
DEFINED, SORTED, MEMBERS = b"d", b"s", b"m"

#: Key budget: STORE (102) + collection (100) + NUL + section + field (100) + NUL + value
#: (1 + 2 * 96 + 2) + SEQ (8) = 508, within the 511 bytes every backend stores.
MAX_FIELD_BYTES = 100
MAX_VALUE_BYTES = 96

_EXACT_END, _CUT_END = b"\x00\x01", b"\x00\x02"
_DOUBLE = struct.Struct(">d")
_BITS = struct.Struct(">Q")
_NAN = bytes(8)
_ALL = (1 << 64) - 1


def kind_tag(value: Any) -> bytes | None:
    """The tag of a value's kind, or None for something that is no stored value."""
    t = type(value)
    if t is bool:
        return TRUE if value else FALSE
    if t is list or t is tuple:
        return LIST
    if t is dict:
        return DICT
    return TAGS.get(t)


def encode_value(value: Any) -> bytes:
    """Return the order-preserving encoding of a value (the module docstring).

    Raises:
        ValueError: the value has no place in an index (an int too big for a float, something
            that is not a message value); callers then do without the index.
    """
    tag = kind_tag(value)
    if tag is None:
        raise ValueError(f"no index encoding for {type(value).__name__}")
    if tag is NUMBER:
        try:
            return tag + _number(value)
        except OverflowError:
            raise ValueError(f"no index encoding for the number {value}") from None
    if tag is STRING:
        return tag + _text(value.encode("utf-8", "surrogatepass"))
    if tag is BYTES:
        return tag + _text(value)
    if tag is LIST or tag is DICT:
        return tag + _CUT_END
    return tag  # null, false, true


def is_exact(encoded: bytes) -> bool:
    """Whether only values equal to one another have this encoding (not a cut-short string or
    bytes, not a list or dict)."""
    tag = encoded[:1]
    if tag in (STRING, BYTES, LIST, DICT):
        return not encoded.endswith(_CUT_END)
    return True


def _text(data: bytes) -> bytes:
    if len(data) > MAX_VALUE_BYTES:
        return data[:MAX_VALUE_BYTES].replace(b"\0", b"\0\xff") + _CUT_END
    return data.replace(b"\0", b"\0\xff") + _EXACT_END


def _float_bits(value: float) -> bytes:
    if value != value:
        return _NAN  # every NaN: below -inf, whose bits end up 000FFF...
    (bits,) = _BITS.unpack(_DOUBLE.pack(value + 0.0))  # + 0.0 makes -0.0 into 0.0
    return (bits ^ _ALL if bits >> 63 else bits | (1 << 63)).to_bytes(8, "big")


def _number(value: int | float) -> bytes:
    if type(value) is float:
        return _float_bits(value) + b"\x00"
    as_float = float(value)  # OverflowError beyond the floats
    if as_float == value:
        return _float_bits(as_float) + b"\x00"
    below = as_float if as_float < value else math.nextafter(as_float, -math.inf)
    return _float_bits(below) + b"\x01" + (value - int(below)).to_bytes(8, "big")


def encode_field(field: str) -> bytes:
    """Return an indexed field's bytes: UTF-8, no NUL, at most MAX_FIELD_BYTES.

    Raises:
        CommandError: saying which rule the field breaks.
    """
    try:
        data = field.encode("utf-8")
    except UnicodeEncodeError:
        raise CommandError(f"db: index field {field!r} is not valid Unicode text") from None
    if b"\0" in data:
        raise CommandError(f"db: index field {field!r} contains NUL (\\0), which it may not")
    if len(data) > MAX_FIELD_BYTES:
        raise CommandError(
            f"db: index field {field[:40]!r}... is {len(data)} bytes in UTF-8; an indexed field"
            f" may be at most {MAX_FIELD_BYTES}"
        )
    return data


def definition_prefix(collection_prefix: bytes) -> bytes:
    """The prefix of a collection's index definitions (field bytes follow)."""
    return collection_prefix + DEFINED


def entries_prefix(collection_prefix: bytes, section: bytes, field: bytes) -> bytes:
    """The prefix of one index's entries in a section (SORTED or MEMBERS); VALUE + SEQ follow."""
    return collection_prefix + section + field + b"\0"


def entry_value(key: bytes, prefix_length: int) -> bytes:
    """The VALUE encoding of an entry key whose entries prefix is `prefix_length` long."""
    return key[prefix_length:-SEQ_BYTES]
