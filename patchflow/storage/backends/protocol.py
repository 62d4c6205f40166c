"""The backend protocols: a transactional byte store per patch, and the location holding them.

Everything above these protocols (the key layout, kv and db commands, the async facade, the
`patchflow data` commands) works on them and nothing else, so a new backend — PostgreSQL or
Redis, say — drops in by implementing them and adding one line to `backends.BACKENDS`. They
say nothing about how a backend keeps its data. Two levels:

- A **`StorageLocation`** is what a storage URL names (`lmdb:DIR`, `memory:`,
  `postgresql://…`): a place holding the data of many patches. It opens one patch's `Backend`
  and does what `patchflow data` needs without knowing the backend: list the patches, their
  usage, delete one, back one up.
- A **`Backend`** is one patch's data, in several **spaces** (named, independent key spaces:
  `"meta"`, `"kv"`, ... — `keys.SPACES`), chosen when it is opened. Keys and values are
  `bytes`; a key is 1 to `MAX_KEY_BYTES` bytes.

What every backend guarantees (the contract suite, `tests/storage/test_backend_contract.py`,
checks it):

- **One transaction per call.** `read(fn)` and `write(fn)` run `fn` with a transaction and
  return what it returns; `get(space, key)` reads one value. Within `fn` the caller sees one
  consistent snapshot; a write is atomic and committed before `write` returns — or, if `fn`
  raises or the backend fails, nothing of it is stored. How durably depends on the
  **durability** given to the location's `open` (storage.md, "Durability modes"): `"full"`
  (the default) is flushed to disk (or the server's durable log) before `write` returns, so
  neither `kill -9` nor a power cut loses data a reply was sent for; `"process"` is committed
  before `write` returns, so other processes see it and `kill -9` of this one loses nothing,
  but flushed to disk at most `FLUSH_INTERVAL` (1 s) later and when the backend closes, so a
  power cut may lose that last second. No crash of the process may ever leave data unreadable,
  in either mode. A backend with nothing to flush (memory) accepts both and treats them alike.
- **`fn` may run more than once** (a backend retries after growing its storage, or after a
  conflict), so it must do nothing but transaction operations and pure computation; only the
  last run's effects and return value count. `fn` must not call the backend itself.
- **Writes are serialised** between every process (and machine) sharing the data: two writes
  never interleave, and a read never sees half of one.
- **Order.** Keys are ordered by unsigned byte comparison; `scan` walks one prefix in that order
  (or backwards). Since the key layout encodes text as UTF-8, byte order is code-point order;
  kv keys, documents (by sequence number) and dumps all rely on it.
- **Errors.** Failures of the storage itself (permissions, disk full, a closed backend, a lost
  connection) raise `StorageError`, whose message says where (the location, a URL without its
  password: `backends.redact`) and what to do; stored data that cannot be read is
  `DamagedStorage`. Exceptions raised by `fn` pass through unchanged.

The calls are synchronous: the embedded backends answer a read in about a microsecond and a
durable write in a few hundred microseconds; a hop to a worker thread would cost a hundred times
the read and nearly double the write (figures in `lmdb_backend`). A networked backend may block
longer; the async facade (`store.py`) is the one place that would then move calls to a thread.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Protocol, TypeVar

import attrs

from ...errors import PatchflowError, StorageError

__all__ = [
    "DURABILITIES",
    "FLUSH_INTERVAL",
    "MAX_KEY_BYTES",
    "Backend",
    "BadPath",
    "ChangeSignal",
    "DamagedStorage",
    "ReadTxn",
    "StorageBusy",
    "StorageLocation",
    "Unsupported",
    "Usage",
    "WriteTxn",
    "check_durability",
    "check_key",
    "prefix_end",
]

T = TypeVar("T")

#: Longest key every backend must store: LMDB's default limit. The key layout (`keys.py`)
#: keeps every key it builds within it.
MAX_KEY_BYTES = 511

#: The durability modes every backend's `open` accepts (the module docstring says what each
#: guarantees); the first is the default.
DURABILITIES = ("full", "process")
#: In `"process"` durability, the longest a commit may wait to be flushed to disk, in seconds.
FLUSH_INTERVAL = 1.0


def check_durability(durability: object) -> str:
    """Return `durability` if it is one of DURABILITIES; else raise ValueError saying which are."""
    if durability not in DURABILITIES:
        raise ValueError(
            f"unknown durability {durability!r}; expected one of {', '.join(DURABILITIES)}"
            " (full: flushed to disk before each reply; process: committed before each reply,"
            " flushed within a second)"
        )
    return durability  # type: ignore[return-value]


def check_key(key: object) -> None:
    """Raise unless `key` is a key every backend stores: bytes, 1 to MAX_KEY_BYTES long.

    Every backend's `WriteTxn.put` calls it first, so a key LMDB would refuse fails alike on all.
    """
    if type(key) is not bytes:
        raise TypeError(f"keys are bytes, not {type(key).__name__}")
    if not 0 < len(key) <= MAX_KEY_BYTES:
        raise StorageError(
            f"cannot store a key of {len(key)} bytes; keys are 1 to {MAX_KEY_BYTES} bytes"
        )


# ---- errors every backend uses -----------------------------------------------------------------


class DamagedStorage(StorageError):
    """A patch's stored data that cannot be read (cut short, emptied, not the backend's format).

    `patchflow data ls` flags such a patch DAMAGED rather than failing, and `data rm` deletes it
    without counting what it holds.
    """

    def __init__(self, where: str, problem: str, patch_id: str | None = None):
        self.path = where
        self.patch_id = os.path.basename(where) if patch_id is None else patch_id
        super().__init__(
            f"patch storage at {where} is damaged: {problem}; restore it from a backup, or"
            f" delete it with `patchflow data rm {self.patch_id}`"
        )


class StorageBusy(StorageError):
    """The patch's storage is open in another process (or this one), so it cannot be deleted."""


class Unsupported(StorageError):
    """The backend cannot do this (e.g. a native backup); the message says what to do instead."""


class BadPath(PatchflowError, ValueError):
    """A path or URL given for storage or a backup that cannot be used; says why."""


# ---- one patch's data --------------------------------------------------------------------------


class ReadTxn(Protocol):
    """A consistent read-only view of every space, valid only inside the `read`/`write` call.

    A backend's transaction class may subclass this protocol to inherit the default `count`.
    """

    __slots__ = ()

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

    def count(self, space: str) -> int:
        """Return how many keys `space` holds (`data ls` asks it of every patch).

        This default scans the space; a backend that keeps the number (LMDB's statistics, a
        list's length) answers without one.
        """
        return sum(1 for _ in self.scan(space, b""))


class WriteTxn(ReadTxn, Protocol):
    """A read-write transaction; its changes are visible to its own reads at once."""

    __slots__ = ()

    def put(self, space: str, key: bytes, value: bytes) -> None:
        """Store `value` under `key` in `space`, replacing any value there."""
        ...

    def replace(self, space: str, key: bytes, value: bytes) -> bytes | None:
        """Store `value` under `key` in `space`; return the value it replaced (None: none).

        This default is a `get` and a `put`; a backend that can do both in one step (LMDB's
        `replace`, one SQL statement) overrides it, since every kv write needs the old value.
        """
        old = self.get(space, key)
        self.put(space, key, value)
        return old

    def delete(self, space: str, key: bytes) -> bool:
        """Remove `key` from `space`; return whether it was there."""
        ...

    def delete_prefix(self, space: str, prefix: bytes) -> int:
        """Remove every key in `space` that begins with `prefix`; return how many there were."""
        ...


class Backend(Protocol):
    """One patch's data: a transactional byte store (the module docstring has the rules)."""

    #: Where the data lives, for error messages: a directory, `":memory:"`, a URL without its
    #: password.
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


class ChangeSignal(Protocol):
    """What a backend shared between processes may offer so that watchers need not poll.

    Watching (`layout/changes.py`) finds other processes' changes by reading a counter in the
    store; without a signal it reads it every `store.POLL_SECONDS`. A backend whose server can
    push a notification (PostgreSQL `LISTEN/NOTIFY`, Redis pub/sub) implements both halves:

    - its `WriteTxn` has `announce_changes()`, which the change log calls in every write
      transaction that logged changes; the notice must go out only if and when the
      transaction commits (a `NOTIFY` in the transaction, a `PUBLISH` in the commit);
    - its `Backend` has `subscribe_changes(wake)`, which calls `wake()` — from any thread —
      soon after any process commits an announced transaction to this patch's data, and
      returns the function that stops it (calling it twice does nothing). `wake` only
      schedules a look (it may be called spuriously, and a notice lost in a reconnect is
      caught by the slower polling that remains), so it must be cheap and must not touch the
      backend.
    """

    def subscribe_changes(self, wake: Callable[[], None]) -> Callable[[], None]: ...


# A backend whose data no other process can open (memory) may say so with a class attribute
# `process_local = True`: the change log then knows every watcher is its own, and writes skip
# the lookup of the watch lease that tells them another process watches.


# ---- the place holding every patch's data ------------------------------------------------------


@attrs.frozen
class Usage:
    """How much room a patch's data takes, and when it was last written (None: not known)."""

    #: bytes used: on disk for LMDB (as `du` counts), of keys and values in memory
    size: int
    #: seconds since the epoch, as `time.time()`
    last_write: float | None


class StorageLocation(Protocol):
    """What a storage URL names: where every patch's data lives, and its administration.

    `backends.open_location(url)` makes one from the scheme table; `open_storage` and every
    `patchflow data` command use nothing else, so they work on every backend unchanged. A
    backend module may subclass this protocol to inherit the default `backup` (unsupported).
    """

    #: The location for messages: a directory, `:memory:`, or a URL without its password.
    location: str

    def open(
        self,
        patch_id: str,
        spaces: tuple[str, ...],
        *,
        size_hint: int = 0,
        durability: str = "full",
    ) -> Backend:
        """Open (creating if missing) the data of patch `patch_id`, holding `spaces`.

        `size_hint` is how many bytes the data is expected to need (an import knows); a backend
        may size its storage from it up front (LMDB: its initial map size), or ignore it.
        `durability` is one of DURABILITIES (the module docstring says what each promises).

        Raises:
            StorageError: it cannot be opened or created (says why and what to do);
                DamagedStorage if what is stored cannot be read.
        """
        ...

    def patches(self) -> list[str]:
        """Return the ids of the patches that have data here, sorted.

        Raises:
            BadPath: the location itself cannot be read (a data directory that is a file).
        """
        ...

    def has_patch(self, patch_id: str) -> bool:
        """Return whether patch `patch_id` has data here (without opening or creating it)."""
        ...

    def usage(self, patch_id: str) -> Usage:
        """Return how much room the patch's data takes and when it was last written.

        Raises:
            FileNotFoundError: the patch has no data (it was deleted meanwhile).
        """
        ...

    def check_deletable(self, patch_id: str) -> None:
        """Raise StorageBusy if `delete` would refuse now: some process has the data open."""
        ...

    def delete(self, patch_id: str) -> None:
        """Delete all of the patch's data, unless a process has it open (StorageBusy).

        Must be safe against a run opening the patch meanwhile: the run then sees either all of
        the old data (and delete refuses) or none of it, never half. Damaged data can be
        deleted. A patch without data is left so.
        """
        ...

    def backup(
        self,
        patch_id: str,
        destination: str,
        spaces: tuple[str, ...],
        check: Callable[[Backend], T],
    ) -> T:
        """Copy the patch's data, consistent as of one moment, to `destination` in native form.

        Writers may go on meanwhile. Before the copy takes `destination`'s name, it is opened
        with `spaces` and passed to `check` (which may raise to abandon it); its result is
        returned. Whatever stops the copy, `destination` never holds half of one.

        This default raises Unsupported: `patchflow data backup` then writes an export dump
        (the backend-neutral backup), as storage.md allows.

        Raises:
            BadPath: `destination` cannot be used; Unsupported: no native backup.
        """
        raise Unsupported(
            f"storage at {self.location} has no native backup; `patchflow data backup` writes"
            " an export dump instead"
        )


def prefix_end(prefix: bytes) -> bytes | None:
    """Return the smallest key above every key that starts with `prefix`; None if there is none.

    A helper for backends: the keys starting with `prefix` are exactly those in
    `prefix <= key < prefix_end(prefix)`.
    """
    trimmed = prefix.rstrip(b"\xff")
    if not trimmed:
        return None
    return trimmed[:-1] + bytes([trimmed[-1] + 1])
