"""The backend protocol: a small, synchronous, transactional byte store with named spaces.

Everything above this protocol (the key layout, kv and db commands, the async facade) works on
it and nothing else, so a new backend — Redis, say — drops in without touching objects. It is
deliberately small and says nothing about how a backend keeps its data:

- A backend holds several **spaces** (named, independent key spaces: `"meta"`, `"kv"`, ...),
  chosen when it is opened. Keys and values are `bytes`; a key is 1 to `MAX_KEY_BYTES` bytes.
- **One transaction per call.** `read(fn)` and `write(fn)` run `fn` with a transaction and
  return what it returns; `get(space, key)` reads one value. Within `fn` the caller sees one
  consistent snapshot; a write is atomic and durably committed before `write` returns, or — if
  `fn` raises, or the backend fails — nothing of it is stored.
- **`fn` may run more than once** (a backend retries after growing its storage, or after a
  conflict), so it must do nothing but transaction operations and pure computation; only the
  last run's effects and return value count. `fn` must not call the backend itself.
- Keys are ordered by unsigned byte comparison; `scan` walks one prefix in that order (or
  backwards). Since the key layout encodes text as UTF-8, byte order is code-point order.
- Failures of the storage itself (permissions, disk full, a closed backend) raise
  `StorageError`; exceptions raised by `fn` pass through unchanged.

The calls are synchronous: the embedded backends answer a read in about a microsecond and a
durable write in a few hundred microseconds; a hop to a worker thread would cost a hundred times
the read and nearly double the write (figures in `lmdb_backend`). A networked backend may block
longer; the async facade (`store.py`) is the one place that would then move calls to a thread.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Protocol, TypeVar

__all__ = ["MAX_KEY_BYTES", "Backend", "ReadTxn", "WriteTxn", "prefix_end"]

T = TypeVar("T")

#: Longest key every backend must store: LMDB's default limit. The key layout (`keys.py`)
#: keeps every key it builds within it.
MAX_KEY_BYTES = 511


class ReadTxn(Protocol):
    """A consistent read-only view of every space, valid only inside the `read`/`write` call."""

    def get(self, space: str, key: bytes) -> bytes | None:
        """Return the value stored under `key` in `space`, or None if there is none."""
        ...

    def scan(
        self, space: str, prefix: bytes, *, start: bytes | None = None, reverse: bool = False
    ) -> Iterator[tuple[bytes, bytes]]:
        """Yield `(key, value)` for the keys in `space` that begin with `prefix`, in key order.

        Keys are yielded whole (prefix included). `start` (a whole key) skips ahead: forwards,
        scanning begins at the first key ≥ `start`; with `reverse=True`, the walk goes from the
        last key downwards and begins at the last key ≤ `start`. The iterator is only valid inside
        the transaction, and the space must not be changed while it is being iterated.
        """
        ...


class WriteTxn(ReadTxn, Protocol):
    """A read-write transaction; its changes are visible to its own reads at once."""

    def put(self, space: str, key: bytes, value: bytes) -> None:
        """Store `value` under `key` in `space`, replacing any value there."""
        ...

    def delete(self, space: str, key: bytes) -> bool:
        """Remove `key` from `space`; return whether it was there."""
        ...

    def delete_prefix(self, space: str, prefix: bytes) -> int:
        """Remove every key in `space` that begins with `prefix`; return how many there were."""
        ...


class Backend(Protocol):
    """A transactional byte store; see the module docstring for the rules every backend keeps."""

    #: Where the data lives, for error messages: a directory, `":memory:"`, a URL.
    location: str

    def read(self, fn: Callable[[ReadTxn], T]) -> T:
        """Run `fn` in a read transaction and return its result."""
        ...

    def get(self, space: str, key: bytes) -> bytes | None:
        """Return one value, read in a transaction of its own (None if there is none).

        The same as `read(lambda txn: txn.get(space, key))`, offered separately because it is
        the hot path (kv get and has) and a backend can do it with less overhead.
        """
        ...

    def write(self, fn: Callable[[WriteTxn], T]) -> T:
        """Run `fn` in a write transaction, commit it durably, and return `fn`'s result.

        `fn` may run more than once; if it raises, nothing is stored and the exception passes
        through. Writes from every process sharing the store are serialised.
        """
        ...

    def close(self) -> None:
        """Release the store; later calls raise StorageError. Closing twice does nothing."""
        ...


def prefix_end(prefix: bytes) -> bytes | None:
    """Return the smallest key above every key that starts with `prefix`; None if there is none.

    A helper for backends: the keys starting with `prefix` are exactly those in
    `prefix <= key < prefix_end(prefix)`.
    """
    trimmed = prefix.rstrip(b"\xff")
    if not trimmed:
        return None
    return trimmed[:-1] + bytes([trimmed[-1] + 1])
