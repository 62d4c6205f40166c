"""An in-memory backend with the same semantics as the LMDB one, for tests and throwaway runs.

Selected with the data directory `:memory:` (`patchflow run --data-dir :memory:`, or
`open_storage(patch_id, ":memory:")`) — the spelling SQLite uses, and not a name a real data
directory is likely to have. Nothing is written to disk; the data lives as long as some handle
on it is open. Handles opened with the same `name` in one process share one store, as LMDB
handles on one directory do, so a `[py]` box and the runtime see the same data.

Each space keeps a dict for lookups (`get`) and a sorted list of its keys (maintained with
`bisect`) for prefix scans in byte order. A write transaction changes the data in place and
records an undo log; if `fn` raises, the log is replayed backwards, so a failed write leaves the
data as it was. A lock serialises transactions between threads.
"""

from __future__ import annotations

import threading
from bisect import bisect_left, bisect_right, insort
from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

from ..errors import StorageError
from .backend import MAX_KEY_BYTES, prefix_end

__all__ = ["MEMORY", "MemoryBackend"]

T = TypeVar("T")

#: The data-directory spelling that selects this backend.
MEMORY = ":memory:"


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
        data = self._open_data()
        with data.lock:
            return data.spaces[space].values.get(key)

    def write(self, fn: Callable[[_WriteTxn], T]) -> T:
        data = self._open_data()
        with data.lock:
            txn = _WriteTxn(data.spaces)
            try:
                return fn(txn)
            except BaseException:
                txn.rollback()
                raise

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


class _ReadTxn:
    __slots__ = ("_spaces",)

    def __init__(self, spaces: dict[str, _Space]) -> None:
        self._spaces = spaces

    def get(self, space: str, key: bytes) -> bytes | None:
        return self._spaces[space].values.get(key)

    def scan(
        self, space: str, prefix: bytes, *, start: bytes | None = None, reverse: bool = False
    ) -> Iterator[tuple[bytes, bytes]]:
        store = self._spaces[space]
        keys = store.keys
        upper = prefix_end(prefix)
        lo = bisect_left(keys, prefix)
        hi = len(keys) if upper is None else bisect_left(keys, upper)
        if start is not None:
            if reverse:
                hi = min(hi, bisect_right(keys, start))
            else:
                lo = max(lo, bisect_left(keys, start))
        # A copy of the range, so that the iterator is not confused by keys moving in the list.
        chosen = keys[lo:hi]
        if reverse:
            chosen.reverse()
        values = store.values
        return ((key, values[key]) for key in chosen)


class _WriteTxn(_ReadTxn):
    __slots__ = ("_undo",)

    def __init__(self, spaces: dict[str, _Space]) -> None:
        super().__init__(spaces)
        self._undo: list[tuple[_Space, bytes, bytes | None]] = []

    def put(self, space: str, key: bytes, value: bytes) -> None:
        if type(key) is not bytes:
            raise TypeError(f"keys are bytes, not {type(key).__name__}")
        if not 0 < len(key) <= MAX_KEY_BYTES:
            raise StorageError(
                f"cannot store a key of {len(key)} bytes; keys are 1 to {MAX_KEY_BYTES} bytes"
            )
        store = self._spaces[space]
        old = store.values.get(key)
        if old is None:
            insort(store.keys, key)
        store.values[key] = bytes(value)
        self._undo.append((store, key, old))

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
