"""An in-memory backend with the same semantics as the LMDB one, for tests and throwaway runs.

Selected with the URL `memory:` or the data directory `:memory:` (`patchflow run --data-dir
:memory:`, or `open_storage(patch_id, ":memory:")`). Nothing is written to disk; a patch's data
lives as long as some handle on it is open, so each run of a patch starts empty. Handles
opened on one patch id in one process share one store, as LMDB handles on one directory do, so
a `[py]` box and the runtime see the same data — and `patchflow data` commands run in the same
process (`MemoryLocation`) see the patches open there: a patch is listed while it is open, and
`data rm` refuses it then, as on LMDB.

Each space keeps a dict for lookups (`get`) and a sorted list of its keys (maintained with
`bisect`) for prefix scans in byte order. A write transaction changes the data in place and
records an undo log; if `fn` raises, the log is replayed backwards, so a failed write leaves the
data as it was. A lock serialises transactions between threads.
"""

from __future__ import annotations

import threading
import time
from bisect import bisect_left, bisect_right, insort
from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

from ...errors import StorageError
from . import MEMORY
from .protocol import (
    BadPath,
    StorageBusy,
    StorageLocation,
    Usage,
    check_durability,
    check_key,
    prefix_end,
)

__all__ = ["MemoryBackend", "MemoryLocation"]

T = TypeVar("T")


class _Space:
    __slots__ = ("keys", "values")

    def __init__(self) -> None:
        self.values: dict[bytes, bytes] = {}
        self.keys: list[bytes] = []  # sorted


class _Data:
    """One store's spaces, shared by every handle opened with the same name."""

    def __init__(self) -> None:
        self.spaces: dict[str, _Space] = {}
        self.lock = threading.RLock()
        self.handles = 0
        self.last_write: float | None = None


_SHARED: dict[str, _Data] = {}
_SHARED_LOCK = threading.Lock()


class MemoryBackend:
    """A backend (see `backend.py`) that keeps everything in this process's memory.

    Args:
        spaces: the names of the spaces to hold.
        name: handles opened with the same name share one store, which is dropped when the
            last of them closes; None (the default) gives a private store.
    """

    location = MEMORY
    #: only this process can open it (the change log then needs no watch lease)
    process_local = True

    def __init__(self, spaces: Iterable[str], *, name: str | None = None) -> None:
        self._name = name
        with _SHARED_LOCK:
            data = _SHARED.get(name) if name is not None else None
            if data is None:
                data = _Data()
                if name is not None:
                    _SHARED[name] = data
            data.handles += 1
        for space in spaces:
            data.spaces.setdefault(space, _Space())
        self._data: _Data | None = data

    def read(self, fn: Callable[[_ReadTxn], T]) -> T:
        data = self._open_data()
        with data.lock:
            return fn(_ReadTxn(data.spaces))

    def get(self, space: str, key: bytes) -> bytes | None:
        data = self._data
        if data is None:
            data = self._open_data()  # raises: closed
        with data.lock:
            return data.spaces[space].values.get(key)

    def write(self, fn: Callable[[_WriteTxn], T]) -> T:
        data = self._data
        if data is None:
            data = self._open_data()  # raises: closed
        with data.lock:
            txn = _WriteTxn(data.spaces)
            try:
                result = fn(txn)
            except BaseException:
                txn.rollback()
                raise
            data.last_write = time.time()
            return result

    def close(self) -> None:
        data, self._data = self._data, None
        if data is None:
            return
        with _SHARED_LOCK:
            data.handles -= 1
            if data.handles == 0 and _SHARED.get(self._name) is data:
                del _SHARED[self._name]

    def _open_data(self) -> _Data:
        data = self._data
        if data is None:
            raise StorageError("in-memory patch storage is closed; open it again to use it")
        return data

    def __repr__(self) -> str:
        return f"MemoryBackend(name={self._name!r})"


class MemoryLocation(StorageLocation):
    """The `memory:` location: the patches whose in-memory storage is open in this process."""

    location = MEMORY

    @classmethod
    def from_url(cls, url: str) -> MemoryLocation:
        """Return the location of `memory:` (which takes no path)."""
        if url.partition(":")[2].strip("/"):
            raise BadPath(f"{url!r}: in-memory storage takes no path or name; write memory:")
        return cls()

    def open(
        self,
        patch_id: str,
        spaces: tuple[str, ...],
        *,
        size_hint: int = 0,
        durability: str = "full",
    ) -> MemoryBackend:
        """Open the patch's in-memory data; `durability` is checked, and changes nothing."""
        check_durability(durability)  # nothing to flush: both modes keep data as long
        return MemoryBackend(spaces, name=patch_id)

    def patches(self) -> list[str]:
        with _SHARED_LOCK:
            return sorted(name for name in _SHARED if name is not None)

    def has_patch(self, patch_id: str) -> bool:
        return patch_id in _SHARED

    def usage(self, patch_id: str) -> Usage:
        data = _SHARED.get(patch_id)
        if data is None:
            raise FileNotFoundError(f"no in-memory storage for patch {patch_id!r}")
        with data.lock:
            size = sum(
                len(key) + len(value)
                for space in data.spaces.values()
                for key, value in space.values.items()
            )
            return Usage(size=size, last_write=data.last_write)

    def check_deletable(self, patch_id: str) -> None:
        if patch_id in _SHARED:
            raise StorageBusy(
                f"in-memory storage of patch {patch_id!r} is open in this process; close it"
                " first (its data goes when the last handle closes)"
            )

    def delete(self, patch_id: str) -> None:
        # Open is the only state in which in-memory data exists, and deleting open data is
        # refused on every backend; a closed patch has nothing left to delete.
        self.check_deletable(patch_id)

    def __repr__(self) -> str:
        return "MemoryLocation()"


class _ReadTxn:
    __slots__ = ("_spaces",)

    def __init__(self, spaces: dict[str, _Space]) -> None:
        self._spaces = spaces

    def get(self, space: str, key: bytes) -> bytes | None:
        return self._spaces[space].values.get(key)

    def count(self, space: str) -> int:
        return len(self._spaces[space].keys)

    def scan(
        self, space: str, prefix: bytes, *, start: bytes | None = None, reverse: bool = False
    ) -> Iterator[tuple[bytes, bytes]]:
        store = self._spaces[space]
        keys = store.keys
        upper = prefix_end(prefix) if prefix else None
        lo = bisect_left(keys, prefix) if prefix else 0
        hi = len(keys) if upper is None else bisect_left(keys, upper)
        if start is not None:
            if reverse:
                hi = min(hi, bisect_right(keys, start))
            else:
                lo = max(lo, bisect_left(keys, start))
        if lo >= hi:
            return iter(())  # the sweep's "nothing due": no generator at all
        if reverse:
            return _backward(store, keys[lo], hi - 1)
        return _forward(store, lo, keys[hi - 1])


def _forward(store: _Space, at: int, last: bytes) -> Iterator[tuple[bytes, bytes]]:
    """Yield the keys from position `at` up to `last`, copying them a chunk at a time.

    Copying the whole range first made every bounded read (a `keys` query with a limit, the
    sweep's first step) pay for the whole range; chunks of 8 doubling to 1024 keep a short
    read short and a long one as fast as walking a copy. The next chunk starts after the last
    key yielded, found again by bisecting.
    """
    keys, values = store.keys, store.values
    size = 8
    while True:
        chunk = keys[at : at + size]
        for key in chunk:
            if key > last:
                return
            yield key, values[key]
        if len(chunk) < size:
            return
        at = bisect_right(keys, chunk[-1])
        size = min(size * 2, 1024)


def _backward(store: _Space, first: bytes, at: int) -> Iterator[tuple[bytes, bytes]]:
    """Yield the keys from position `at` down to `first` (see `_forward`)."""
    keys, values = store.keys, store.values
    size = 8
    while at >= 0:
        chunk = keys[max(0, at - size + 1) : at + 1]
        if not chunk:
            return
        chunk.reverse()
        for key in chunk:
            if key < first:
                return
            yield key, values[key]
        at = bisect_left(keys, chunk[-1]) - 1
        size = min(size * 2, 1024)


class _WriteTxn(_ReadTxn):
    __slots__ = ("_undo",)

    def __init__(self, spaces: dict[str, _Space]) -> None:
        self._spaces = spaces  # (what _ReadTxn.__init__ does, without the call: every write)
        self._undo: list[tuple[_Space, bytes, bytes | None]] = []

    def put(self, space: str, key: bytes, value: bytes) -> None:
        self.replace(space, key, value)

    def replace(self, space: str, key: bytes, value: bytes) -> bytes | None:
        check_key(key)
        store = self._spaces[space]
        old = store.values.get(key)
        if old is None:
            insort(store.keys, key)
        store.values[key] = bytes(value)
        self._undo.append((store, key, old))
        return old

    def delete(self, space: str, key: bytes) -> bool:
        store = self._spaces[space]
        old = store.values.pop(key, None)
        if old is None:
            return False
        del store.keys[bisect_left(store.keys, key)]
        self._undo.append((store, key, old))
        return True

    def delete_prefix(self, space: str, prefix: bytes) -> int:
        store = self._spaces[space]
        keys = store.keys
        upper = prefix_end(prefix)
        lo = bisect_left(keys, prefix)
        hi = len(keys) if upper is None else bisect_left(keys, upper)
        for key in keys[lo:hi]:
            self._undo.append((store, key, store.values.pop(key)))
        del keys[lo:hi]
        return hi - lo

    def rollback(self) -> None:
        """Undo every change of this transaction, newest first."""
        for store, key, old in reversed(self._undo):
            if old is None:
                del store.values[key]
                del store.keys[bisect_left(store.keys, key)]
            else:
                if key not in store.values:
                    insort(store.keys, key)
                store.values[key] = old
        self._undo.clear()
