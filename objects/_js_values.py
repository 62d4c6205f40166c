"""Carry message values between Python and the JavaScript engine of `[js]`, exactly.

The engine's binding converts only strings and numbers (and turns every number with a
fraction into a float, every object into an opaque handle), so values cross as JSON text
that both sides encode and decode themselves. Plain JSON carries most values; the rest are
written as a one-key object `{MARK: [tag, payload]}`:

    "b"  bytes            hex digits          ↔ Uint8Array (ArrayBuffer and other views go
                                                 out as bytes too)
    "n"  int beyond ±2**53  decimal digits    ↔ BigInt (a JS BigInt always comes back an int)
    "f"  NaN, ±Infinity, -0.0                 ↔ the same number
    "o"  a dict that has MARK as a key        ↔ the object, from its [key, value] pairs

Numbers: a JS number that is integral comes back as a Python int (so `x + 1` on an int stays
an int; the JS engine cannot tell 2.0 from 2), except -0, which stays the float -0.0. A
number too large to be exact in a double (beyond ±2**53) comes back as the exact int it
holds. Objects keep their key order except that JavaScript puts integer-like keys ("1",
"42") first, as every engine does. JSON text is passed as ASCII (`ensure_ascii`), so NUL and
lone surrogates cross too.
"""

from __future__ import annotations

import json
import math
from typing import Any

MARK = "\x00pf"
_SAFE = 2**53

#: The JavaScript half: `revive` for JSON.parse, `replace` for JSON.stringify. Written
#: without line comments and with every `;`, because the glue is joined into one line (see
#: _js_engine.py for why).
JS_CODEC = r"""
const MARK = "\u0000pf";
class Tag { constructor(tag, payload) { this[MARK] = [tag, payload]; } }
const HEX = [];
for (let i = 0; i < 256; i++) { HEX.push((i < 16 ? "0" : "") + i.toString(16)); }
const toHex = (view) => {
  const bytes = new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
  const parts = new Array(bytes.length);
  for (let i = 0; i < bytes.length; i++) { parts[i] = HEX[bytes[i]]; }
  return parts.join("");
};
const fromHex = (text) => {
  const bytes = new Uint8Array(text.length / 2);
  for (let i = 0; i < bytes.length; i++) { bytes[i] = parseInt(text.substr(2 * i, 2), 16); }
  return bytes;
};
const own = (object, key) => Object.prototype.hasOwnProperty.call(object, key);
const revive = (key, value) => {
  if (value === null || typeof value !== "object" || Array.isArray(value) || !own(value, MARK)) {
    return value;
  }
  const [tag, payload] = value[MARK];
  if (tag === "b") { return fromHex(payload); }
  if (tag === "n") { return BigInt(payload); }
  if (tag === "f") { return Number(payload); }
  if (tag === "o") { return Object.fromEntries(payload); }
  return value;
};
const keep = (value) => (
  value !== undefined && typeof value !== "function" && typeof value !== "symbol"
);
const replace = function (key, value) {
  if (typeof value === "number") {
    if (Number.isSafeInteger(value)) { return Object.is(value, -0) ? new Tag("f", "-0") : value; }
    if (Number.isInteger(value)) { return new Tag("n", BigInt(value).toString()); }
    return Number.isFinite(value) ? value : new Tag("f", String(value));
  }
  if (typeof value === "bigint") { return new Tag("n", value.toString()); }
  if (value === null || typeof value !== "object" || value instanceof Tag || Array.isArray(value)) {
    return value;
  }
  if (value instanceof ArrayBuffer) { return new Tag("b", toHex(new Uint8Array(value))); }
  if (ArrayBuffer.isView(value)) { return new Tag("b", toHex(value)); }
  if (own(value, MARK)) {
    return new Tag("o", Object.entries(value).filter((pair) => keep(pair[1])));
  }
  return value;
};
const encode = (value) => JSON.stringify(value, replace);
const decode = (text) => JSON.parse(text, revive);
"""


def to_js(value: Any) -> str:
    """Encode a message value as the JSON text the JavaScript side decodes (ASCII only).

    Raises:
        TypeError: the value holds something that is no message value (a set, an object).
    """
    return json.dumps(_plain(value), ensure_ascii=True, allow_nan=False, separators=(",", ":"))


def from_js(text: str) -> Any:
    """Decode the JSON text the JavaScript side encoded back into a message value."""
    return json.loads(text, object_hook=_unmark)


def _plain(value: Any) -> Any:
    """`value` with every value plain JSON cannot carry exactly written as a MARK object."""
    if value is None or value is True or value is False or type(value) is str:
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return int(value) if -_SAFE <= value <= _SAFE else {MARK: ["n", str(int(value))]}
    if isinstance(value, float):
        if math.isfinite(value) and not (value == 0 and math.copysign(1, value) < 0):
            return float(value)
        return {MARK: ["f", _FLOAT_NAMES.get(str(value), "-0")]}
    if isinstance(value, str):
        return str(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return {MARK: ["b", bytes(value).hex()]}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if isinstance(value, dict):
        for key in value:
            if not isinstance(key, str):
                raise TypeError(f"a dict key for JavaScript must be a string, not {key!r}")
        if MARK in value:
            return {MARK: ["o", [[key, _plain(item)] for key, item in value.items()]]}
        return {key: _plain(item) for key, item in value.items()}
    raise TypeError(f"{type(value).__name__} is no message value; JavaScript cannot take it")


_FLOAT_NAMES = {"nan": "NaN", "inf": "Infinity", "-inf": "-Infinity"}


def _unmark(obj: dict[str, Any]) -> Any:
    if len(obj) != 1 or MARK not in obj:
        return obj
    tag, payload = obj[MARK]
    if tag == "b":
        return bytes.fromhex(payload)
    if tag == "n":
        return int(payload)
    if tag == "f":
        return float(payload)
    if tag == "o":
        return dict(payload)
    return obj
