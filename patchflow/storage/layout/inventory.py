"""Take stock of a patch's stored data: what `patchflow data ls`, `show`, `gc` and `rm` read.

The stores a patch holds, read straight from the key layout (`keys.py`) through the backend
protocol's scans, so local and named, kv and db stores all show on every backend, with no
command classes involved; one store's keys or one collection's documents; deleting whole
stores. Where patches live, and deleting or copying a whole patch, belong to the backend's
`StorageLocation` (`backend.py`).
"""

from __future__ import annotations

import functools
from typing import Any

import attrs

from ..backends.protocol import Backend, ReadTxn, WriteTxn
from . import codec, expiry, keys
from .keys import COLLECTIONS, DATA_SPACES, DOCS, IDS, KV_SPACE, StoreRef

__all__ = [
    "StoreStats",
    "Totals",
    "delete_stores",
    "inventory",
    "read_collection",
    "read_store",
    "split_store",
    "store_json",
    "store_of",
    "totals",
]


# ---- stores in the key layout -------------------------------------------------------------------


def split_store(key: bytes) -> tuple[bytes, bytes]:
    """Split a key of any data space into (its store prefix, the rest)."""
    end = key.index(b"\0", 1) + 1
    return key[:end], key[end:]


@functools.lru_cache(maxsize=256)
def store_of(prefix: bytes) -> StoreRef:
    """Return the store whose keys start with `prefix` (from `split_store`)."""
    return StoreRef("local" if prefix[:1] == b"L" else "named", prefix[1:-1].decode("utf-8"))


def store_json(store: StoreRef) -> dict[str, str]:
    """Return how dumps and `--json` output name a store: `{"local": ID}` or `{"name": NAME}`."""
    return {"local": store.name} if store.kind == "local" else {"name": store.name}


@attrs.frozen
class Totals:
    """How much a patch stores: kv keys, collections and documents over all its stores."""

    keys: int
    collections: int
    documents: int


def totals(backend: Backend) -> Totals:
    """Count a patch's kv keys, collections and documents (`ReadTxn.count`: no scan on LMDB)."""
    return backend.read(
        lambda txn: Totals(txn.count(KV_SPACE), txn.count(COLLECTIONS), txn.count(DOCS))
    )


@attrs.frozen
class StoreStats:
    """One store of a patch: its kv keys, its collections with their document counts, and the
    bytes its keys and values take (before the backend's own overhead)."""

    store: StoreRef
    keys: int
    collections: tuple[tuple[str, int], ...]
    size: int

    @property
    def documents(self) -> int:
        return sum(count for _, count in self.collections)


def inventory(backend: Backend) -> list[StoreStats]:
    """List every store that holds anything, local stores first, each kind in name order."""

    def tally(txn: ReadTxn) -> list[StoreStats]:
        found: dict[bytes, list[Any]] = {}  # prefix -> [keys, {collection: docs}, size]

        def entry(key: bytes, value: bytes) -> tuple[list[Any], bytes]:
            prefix, rest = split_store(key)
            stats = found.setdefault(prefix, [0, {}, 0])
            stats[2] += len(key) + len(value)
            return stats, rest

        for key, value in txn.scan(KV_SPACE, b""):
            entry(key, value)[0][0] += 1
        for key, value in txn.scan(COLLECTIONS, b""):
            stats, collection = entry(key, value)
            stats[1][collection] = 0
        for key, value in txn.scan(DOCS, b""):
            stats, rest = entry(key, value)
            collection = rest[: -1 - keys.SEQ_BYTES]  # NUL and the sequence number
            stats[1][collection] = stats[1].get(collection, 0) + 1
        for key, value in txn.scan(IDS, b""):
            entry(key, value)
        return [
            StoreStats(
                store_of(prefix),
                count,
                tuple((name.decode("utf-8"), docs) for name, docs in sorted(collections.items())),
                size,
            )
            for prefix, (count, collections, size) in sorted(found.items())
        ]

    return backend.read(tally)


def read_store(backend: Backend, store: StoreRef) -> list[tuple[str, Any]]:
    """Return a store's kv keys and values, in key order."""

    def read(txn: ReadTxn) -> list[tuple[str, Any]]:
        start, now = len(store.prefix), expiry.now_ms()
        return [
            (key[start:].decode("utf-8"), codec.decode(expiry.payload(value)))
            for key, value in txn.scan(KV_SPACE, store.prefix)
            if not expiry.is_expired(value, now)  # an expired key is missing everywhere
        ]

    return backend.read(read)


def read_collection(backend: Backend, store: StoreRef, collection: str) -> list[Any] | None:
    """Return a collection's documents in insertion order, or None if it does not exist."""
    name = keys.encode_collection(collection)

    def read(txn: ReadTxn) -> list[Any] | None:
        if txn.get(COLLECTIONS, keys.collection_key(store, name)) is None:
            return None
        prefix = keys.collection_prefix(store, name)
        return [codec.decode(doc) for _, doc in txn.scan(DOCS, prefix)]

    return backend.read(read)


def delete_stores(backend: Backend, stores: list[StoreRef]) -> None:
    """Delete every key, collection and document of `stores`, in one transaction."""

    def delete(txn: WriteTxn) -> None:
        for store in stores:
            for space in DATA_SPACES:
                txn.delete_prefix(space, store.prefix)

    backend.write(delete)
