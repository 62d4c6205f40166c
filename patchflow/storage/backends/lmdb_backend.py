"""The default backend: one LMDB environment per patch, in `DATA_DIR/PATCH_ID/`.

LMDB gives what storage.md asks for: every write is one transaction committed with fsync before
`write` returns, so a reply is never sent for data a crash could lose ("full" durability; in
"process" durability it is committed without the fsync and flushed within a second, see
`lmdb_flush.py`); a crash mid-write leaves the last committed state (LMDB never overwrites live
pages); several processes share one environment, readers never blocking and writers
serialised. Each space is a named LMDB database. How environments are opened, grown, shared
and kept out of forked children is in `lmdb_env.py`; this module is the handle and the
transactions in the backend protocol's terms, and `lmdb_admin.py` the data directory holding
one environment per patch.

**Reads run inline; so do writes.** Measured on the development machine (a 2-CPU Linux VM,
ext4 on virtio, Python 3.11, py-lmdb 3.0; best or median of interleaved runs, the machine
shared with other work):

    raw py-lmdb read txn + get + msgpack unpack        ~1.0 µs
    LmdbBackend.get (lock, read txn, get)              ~1.0-1.1 µs (no unpack)
    await kv.get(key) through the facade               ~2.8-2.9 µs
    raw py-lmdb durable put + commit (sync=True)       ~260-330 µs (fsync)
    await kv.set(key, value) through the facade       ~290-440 µs
    trio.to_thread.run_sync of a no-op                 ~110-185 µs
    durable put + commit through trio.to_thread        ~450-550 µs

A read is therefore a direct synchronous read transaction: a thread hop would cost a hundred
times the read. A write through a worker thread takes nearly twice as long as inline, and the
patch runtime delivers one cascade at a time and waits for each commit before sending the
reply anyway, so nothing else could use the time the thread would free. Writes therefore also
run inline on the calling (trio) thread; the async facade (`store.py`) is the one place to
change if a slow disk or a networked backend ever makes blocking the event loop for a commit
costlier than the hop.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

import lmdb

from ...errors import StorageError
from . import lmdb_env
from .protocol import check_durability, prefix_end

__all__ = ["DEFAULT_INITIAL_MAP_SIZE", "DEFAULT_MAX_MAP_SIZE", "LmdbBackend"]

T = TypeVar("T")

DEFAULT_INITIAL_MAP_SIZE = 16 << 20  # 16 MiB
DEFAULT_MAX_MAP_SIZE = 1 << 40  # 1 TiB of address space; the disk fills long before


class LmdbBackend:
    """A backend (see `backend.py`) on the LMDB environment in directory `path`.

    Args:
        path: the environment's directory (`DATA_DIR/PATCH_ID`); created if missing.
        spaces: the names of the spaces (LMDB named databases) to open, created if missing.
        initial_map_size: the map size of a new environment, in bytes.
        max_map_size: the map never grows beyond this; a write that needs more fails with
            StorageError and stores nothing.
        durability: `"full"` (each commit fsynced before `write` returns) or `"process"`
            (committed before, flushed to disk within a second; see `lmdb_flush.py`).

    Storage on media that cannot be written opens read-only: reads work, writes raise
    StorageError (see `lmdb_open.py`).

    Raises:
        StorageError: the directory cannot be created or the environment cannot be opened;
            `backend.DamagedStorage` if its data file is empty, cut short or not LMDB.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        spaces: Iterable[str],
        *,
        initial_map_size: int = DEFAULT_INITIAL_MAP_SIZE,
        max_map_size: int = DEFAULT_MAX_MAP_SIZE,
        durability: str = "full",
    ) -> None:
        self.location = os.fspath(path)
        self.durability = check_durability(durability)
        self._spaces = tuple(spaces)
        self._sizes = (initial_map_size, max(initial_map_size, max_map_size))
        self._closed = False
        self._shared = lmdb_env.acquire(self.location, self._spaces, *self._sizes, durability)
        self._pid = lmdb_env.current_pid
        #: the transaction object every write gets, pointed at its LMDB transaction
        self._write_view = _LmdbTxn(None, {})

    def read(self, fn: Callable[[_LmdbTxn], T]) -> T:
        shared = self._env()
        return shared.read(lambda txn: fn(_LmdbTxn(txn, shared.dbs)))

    def get(self, space: str, key: bytes) -> bytes | None:
        return self._env().get(space, key)

    def write(self, fn: Callable[[_LmdbTxn], T]) -> T:
        shared = self._env()
        result = shared.write(fn, self._write_view)
        if shared.flusher is not None and self.durability == "full":
            shared.flush()  # a "full" handle on an environment another opened for "process"
        return result

    def flush(self) -> None:
        """Flush commits not yet on disk ("process" durability) now; else do nothing."""
        self._env().flush()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._pid == lmdb_env.current_pid:  # a handle inherited across fork() owns nothing here
            lmdb_env.release(self._shared)

    @property
    def map_size(self) -> int:
        """The current map size in bytes (grows as the data does)."""
        shared = self._env()
        with shared.lock:
            return shared.opened().info()["map_size"]

    def copy(self, destination: str | os.PathLike[str]) -> None:
        """Copy this storage, compacted and consistent, into the empty directory `destination`.

        Writers may go on meanwhile; the copy holds what was committed when it began.
        """
        self._env().copy(os.fspath(destination))

    def _env(self) -> lmdb_env.SharedEnv:
        if self._closed:
            raise StorageError(f"patch storage at {self.location} is closed; open it again")
        if self._pid != lmdb_env.current_pid:
            # Used in a forked child: never touch the parent's environment, open our own.
            self._shared = lmdb_env.acquire(
                self.location, self._spaces, *self._sizes, self.durability
            )
            self._pid = lmdb_env.current_pid
        return self._shared

    def __repr__(self) -> str:
        return f"LmdbBackend({self.location!r})"


# ---- transactions ------------------------------------------------------------------------------


class _LmdbTxn:
    """A read or write transaction in the backend protocol's terms."""

    __slots__ = ("_dbs", "_txn")

    def __init__(self, txn: lmdb.Transaction | None, dbs: dict[str, lmdb._Database]) -> None:
        self._txn = txn
        self._dbs = dbs

    def get(self, space: str, key: bytes) -> bytes | None:
        return self._txn.get(key, db=self._dbs[space])

    def count(self, space: str) -> int:
        """Return how many keys `space` holds (from LMDB's statistics: no scan)."""
        return self._txn.stat(self._dbs[space])["entries"]

    def scan(
        self, space: str, prefix: bytes, *, start: bytes | None = None, reverse: bool = False
    ) -> Iterator[tuple[bytes, bytes]]:
        cursor = self._txn.cursor(db=self._dbs[space])
        if reverse:
            return _scan_backward(cursor, prefix, start)
        return _scan_forward(cursor, prefix, start)

    def put(self, space: str, key: bytes, value: bytes) -> None:
        self._txn.put(key, value, db=self._dbs[space])

    def replace(self, space: str, key: bytes, value: bytes) -> bytes | None:
        return self._txn.replace(key, value, db=self._dbs[space])

    def delete(self, space: str, key: bytes) -> bool:
        return self._txn.delete(key, db=self._dbs[space])

    def delete_prefix(self, space: str, prefix: bytes) -> int:
        cursor = self._txn.cursor(db=self._dbs[space])
        if not _seek(cursor, prefix):
            return 0
        count = 0
        while True:
            key = cursor.key()  # b"" once the cursor has run off the end
            if not key or not key.startswith(prefix) or not cursor.delete():
                return count
            count += 1


def _scan_forward(
    cursor: lmdb.Cursor, prefix: bytes, start: bytes | None
) -> Iterator[tuple[bytes, bytes]]:
    if not _seek(cursor, prefix if start is None or start < prefix else start):
        return
    for key, value in cursor.iternext():
        if not key.startswith(prefix):
            return
        yield key, value


def _seek(cursor: lmdb.Cursor, key: bytes) -> bool:
    """Position `cursor` on the first key >= `key`; return False if there is none."""
    return cursor.set_range(key) if key else cursor.first()


def _scan_backward(
    cursor: lmdb.Cursor, prefix: bytes, start: bytes | None
) -> Iterator[tuple[bytes, bytes]]:
    upper = prefix_end(prefix)
    if start is not None and (upper is None or start < upper):
        # position on the last key <= start
        if _seek(cursor, start):
            if cursor.key() != start and not cursor.prev():
                return
        elif not cursor.last():
            return
    elif upper is not None and cursor.set_range(upper):
        if not cursor.prev():
            return
    elif not cursor.last():
        return
    for key, value in cursor.iterprev():
        if not key.startswith(prefix):
            return
        yield key, value
