"""Stored values as JSON and back, exactly: the markers of the dump format (`dump.py`).

JSON cannot say everything a stored value may be, so markers say the rest: `bytes` are
`{"$bytes": BASE64}`, the infinities and NaN `{"$float": "inf" | "-inf" | "nan" | "-nan"}` (a
NaN with other bits is `"nan:"` and its 16 hex digits), and a dict that itself has a single key
`$bytes`, `$float` or `$escape` is wrapped as `{"$escape": {...}}`. JSON keeps `1`, `1.0` and
`true` apart, and ints of any size, so every stored value comes back exactly as it was, bit for
bit. `data export`/`import` and `data show --json` write values this way.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import math
import struct
from typing import Any

__all__ = ["decode_value", "encode_value", "shorten"]

_MARKERS = frozenset({"$bytes", "$float", "$escape"})
_FLOATS = {"nan": math.nan, "-nan": -math.nan, "inf": math.inf, "-inf": -math.inf}
_NAN_NAMES = {0x7FF8000000000000: "nan", 0xFFF8000000000000: "-nan"}


def encode_value(value: Any) -> Any:
    """Return a stored value as JSON-ready data, with the markers of the dump format."""
    kind = type(value)
    if kind is str or kind is int or kind is bool or value is None:
        return value
    if kind is float:
        if math.isfinite(value):
            return value
        if value == value:
            return {"$float": repr(value)}  # "inf", "-inf"
        bits = _float_bits(value)  # keep a NaN's sign and payload too
        return {"$float": _NAN_NAMES.get(bits) or f"nan:{bits:016x}"}
    if kind is bytes:
        return {"$bytes": base64.b64encode(value).decode("ascii")}
    if kind is list:
        return [encode_value(item) for item in value]
    if kind is dict:
        encoded = {key: encode_value(item) for key, item in value.items()}
        if len(encoded) == 1 and next(iter(encoded)) in _MARKERS:
            return {"$escape": encoded}
        return encoded
    raise TypeError(f"{kind.__name__} is not a stored value")


def decode_value(data: Any) -> Any:
    """Return the value `encode_value` made `data` from; raise ValueError on a bad marker."""
    kind = type(data)
    if kind is dict:
        if len(data) == 1:
            ((marker, inner),) = data.items()
            if marker in _MARKERS:
                return _decode_marker(marker, inner)
        return {key: decode_value(item) for key, item in data.items()}
    if kind is list:
        return [decode_value(item) for item in data]
    return data


def _decode_marker(marker: str, inner: Any) -> Any:
    if marker == "$bytes":
        if isinstance(inner, str):
            with contextlib.suppress(binascii.Error, ValueError):
                return base64.b64decode(inner, validate=True)
        raise ValueError(f'{{"$bytes": ...}} needs base64 text, not {shorten(inner)}')
    if marker == "$float":
        if isinstance(inner, str):
            if inner in _FLOATS:
                return _FLOATS[inner]
            number = _nan_from_bits(inner)
            if number is not None:
                return number
        raise ValueError(
            f'{{"$float": ...}} needs "nan", "-nan", "inf", "-inf" or "nan:" and 16 hex digits'
            f" (a NaN's bits), not {shorten(inner)}"
        )
    if not isinstance(inner, dict):
        raise ValueError(f'{{"$escape": ...}} needs an object, not {shorten(inner)}')
    return {key: decode_value(item) for key, item in inner.items()}


def _float_bits(value: float) -> int:
    return int.from_bytes(struct.pack(">d", value), "big")


def _nan_from_bits(text: str) -> float | None:
    hex_digits = text.removeprefix("nan:")
    if len(hex_digits) != 16 or hex_digits == text:
        return None
    try:
        bits = int(hex_digits, 16)
    except ValueError:
        return None
    value = struct.unpack(">d", bits.to_bytes(8, "big"))[0]
    return value if value != value else None


def shorten(data: Any, limit: int = 60) -> str:
    """Return JSON text of `data` for an error message, cut to `limit` characters."""
    text = json.dumps(data, ensure_ascii=False, default=_bytes_as_size)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _bytes_as_size(value: Any) -> str:
    if isinstance(value, bytes):
        return f"<{len(value)} bytes>"
    raise TypeError(type(value).__name__)
