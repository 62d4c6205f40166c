"""Keys that expire: how an expiring kv value is stored, the expiry index, the clock, the sweep.

A kv value written with a ttl is stored in the `kv` space as `MARKER + DUE + msgpack`, where
`MARKER` is the byte 0xc1 and `DUE` the moment it expires, in integer milliseconds since the
epoch, 8 bytes big-endian. msgpack never writes 0xc1 (its spec reserves it as "never used"), so
a plain value can never be taken for an expiring one; a value without a ttl is plain msgpack as
before. Keeping the due time in the value itself means a `get` stays one lookup: the expiry
check is a look at the first byte. (A release that knows nothing of expiry cannot decode such a
value and fails loudly rather than showing an expired key as live, which is why the layout's
format version must change with it.)

The `ttl` space indexes the expiring keys by due time, `DUE + STORE + key → b""`, so that the
sweep reads only what is due. The value is the authority, the index a list of places to look:
an index entry whose key now holds another value (set again, deleted, or its store cleared) is
dropped without touching the key. Writes keep the index tidy (`put`/`remove` drop the entry of
the value they replace), so it never holds more than one entry per expiring key plus the
entries of cleared stores, which the sweep drops when they fall due.

An expired key is missing for every reader (get, has, ttl, keys, export, the Python API) from
the millisecond it falls due; its space is reclaimed by `sweep`, which deletes up to
`SWEEP_LIMIT` due keys, reading only the due part of the index (one cursor step when nothing is
due). Writes sweep inside their own transaction (no extra commit), but not every write: the
write path (`changes.ChangeLog.write`) sweeps at most every `SWEEP_EVERY_MS` per open storage,
and at once again while a sweep finds a full batch (a backlog). A look at the index on every
write cost about a fifth of a `set` in process durability; once per 100 ms it costs nothing
measurable, and a backlog still drains at `SWEEP_LIMIT` keys per write. Reads never write.

`now_ms` is the one clock of expiry; tests replace it (`monkeypatch.setattr(expiry, "now_ms",
...)`), so callers must call it as `expiry.now_ms()`, never import the function itself.
"""

from __future__ import annotations

import time

from ..backends.protocol import ReadTxn, WriteTxn
from .keys import KV_SPACE, TTL_SPACE

__all__ = [
    "DUE_BYTES",
    "MARKER",
    "MAX_DUE_MS",
    "SWEEP_EVERY_MS",
    "SWEEP_LIMIT",
    "due_entries",
    "due_of",
    "index_key",
    "is_expired",
    "now_ms",
    "payload",
    "put",
    "remove",
    "sweep",
    "wrap",
]

MARKER = 0xC1
_MARKER_BYTE = bytes([MARKER])
DUE_BYTES = 8
_HEADER = 1 + DUE_BYTES
#: The latest due time the layout can hold (so `now + ttl` must stay below it).
MAX_DUE_MS = 2**63 - 1
#: Most keys one sweep deletes, so that no single write pays for a backlog of expired keys.
SWEEP_LIMIT = 256
#: The longest a storage's writes go without sweeping (ms, on the expiry clock).
SWEEP_EVERY_MS = 100


def now_ms() -> int:
    """The current time in integer milliseconds since the epoch: expiry's clock."""
    return time.time_ns() // 1_000_000


def wrap(encoded: bytes, due: int | None) -> bytes:
    """Return what the kv space stores for the msgpack bytes `encoded`, expiring at `due`."""
    if due is None:
        return encoded
    return _MARKER_BYTE + due.to_bytes(DUE_BYTES, "big") + encoded


def due_of(raw: bytes) -> int | None:
    """Return when a stored kv value expires (ms since the epoch), or None if it never does."""
    if raw[0] != MARKER:
        return None
    return int.from_bytes(raw[1:_HEADER], "big")


def payload(raw: bytes) -> bytes:
    """Return the msgpack bytes of a stored kv value, without its expiry header if it has one."""
    return raw[_HEADER:] if raw[0] == MARKER else raw


def is_expired(raw: bytes, now: int) -> bool:
    """Whether a stored kv value has expired at `now`: it then reads as missing everywhere."""
    return raw[0] == MARKER and int.from_bytes(raw[1:_HEADER], "big") <= now


def index_key(due: int, full_key: bytes) -> bytes:
    """Return the `ttl` space's entry for kv key `full_key` (store prefix + key), due at `due`."""
    return due.to_bytes(DUE_BYTES, "big") + full_key


def put(txn: WriteTxn, full_key: bytes, encoded: bytes, due: int | None = None) -> bytes | None:
    """Store `encoded` under `full_key`, expiring at `due` (None: never); return the old value.

    Drops the index entry of the value it replaces, and indexes the new one if it expires.
    """
    if due is None:
        old = txn.replace(KV_SPACE, full_key, encoded)
    else:
        old = txn.replace(KV_SPACE, full_key, wrap(encoded, due))
        txn.put(TTL_SPACE, index_key(due, full_key), b"")
    if old is not None and old[0] == MARKER:
        old_entry = index_key(due_of(old), full_key)  # type: ignore[arg-type]
        if due is None or old_entry != index_key(due, full_key):
            txn.delete(TTL_SPACE, old_entry)
    return old


def remove(txn: WriteTxn, full_key: bytes) -> bytes | None:
    """Delete `full_key` and its index entry; return the value it held (None: there was none)."""
    old = txn.get(KV_SPACE, full_key)
    if old is None:
        return None
    txn.delete(KV_SPACE, full_key)
    if old[0] == MARKER:
        txn.delete(TTL_SPACE, index_key(due_of(old), full_key))  # type: ignore[arg-type]
    return old


def due_entries(txn: ReadTxn, now: int, limit: int) -> list[bytes]:
    """Return up to `limit` index entries due at `now`, reading only due ones."""
    # Walking backwards from `now` reads only what is due, on every backend: the first step
    # already lands among the due entries (or before them all, when nothing is due).
    found = []
    start = (now + 1).to_bytes(DUE_BYTES, "big")  # every entry due at `now` sorts below this
    for entry, _ in txn.scan(TTL_SPACE, b"", start=start, reverse=True):
        if entry >= start:
            continue
        found.append(entry)
        if len(found) >= limit:
            break
    return found


def sweep(txn: WriteTxn, now: int, limit: int | None = None) -> list[bytes]:
    """Delete up to `limit` (default `SWEEP_LIMIT`) keys expired at `now`; return their full keys.

    Drops the due index entries it reads; an entry whose key holds another value now (set
    again without expiry, deleted, cleared) is dropped without touching the key.
    """
    if now < 0:
        return []
    deleted = []
    for entry in due_entries(txn, now, SWEEP_LIMIT if limit is None else limit):
        full_key = entry[DUE_BYTES:]
        txn.delete(TTL_SPACE, entry)
        raw = txn.get(KV_SPACE, full_key)
        if raw is not None and is_expired(raw, now):
            txn.delete(KV_SPACE, full_key)
            deleted.append(full_key)
    return deleted
