"""Flush an LMDB environment opened for "process" durability to disk, within a second.

storage.md's "process" durability: every command is committed before its reply (so another
process sees it, and `kill -9` of this one loses nothing), but flushed to disk at most a second
later and at exit, for tens of thousands of writes a second instead of one fsync each.

**How, with LMDB.** The environment is opened with `sync=False` (MDB_NOSYNC) and the default
`writemap=False`. A commit then still writes every page and the new meta page into the file
with `pwrite` — into the operating system's page cache — but does not `fdatasync`. The page
cache belongs to the kernel, not to the process: a process that dies (`kill -9`, a crash, an
exception) loses nothing that was committed, and every other process reading the file sees the
commit at once. That is why process mode loses nothing on `kill -9`, and why it cannot corrupt
the store then: the file holds exactly the committed transactions, as it would with `sync=True`
(LMDB's copy-on-write never overwrites a page the last two commits use, and a writer killed
mid-transaction leaves only unreferenced pages and its robust write mutex, which the next
writer recovers). What NOSYNC gives up is the order in which those writes reach the disk:
after an OS crash or a power cut, LMDB keeps the store consistent when the file system
preserves write order (py-lmdb's docs: "if the filesystem preserves write order and
writemap=False, transactions exhibit ACI properties and only lose D"), losing the commits since
the last flush; on file systems that reorder writes a power cut in that window could damage
the store (restore a backup). With `writemap=True` it would be worse — pages written through
the map, in no order and even by a crashing process — so it stays False.

**The flusher.** `Flusher.committed()` (called after each commit, under the environment's lock)
wakes a daemon thread on the first commit not yet flushed; the thread waits `FLUSH_INTERVAL`
and calls `env.sync(True)` (one `fdatasync` of data and meta pages) under the same lock, so a
flush never races this process's transactions or the environment being closed around a
`fork()`. Writes in this process wait for that one fsync, once a second at most. Closing the
environment (the last handle released, a fork, the process exiting through `atexit`) flushes
first. A flush that fails (EIO, disk gone) is kept and raised by this process's next write, so
the failure is not silent.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import lmdb

from ...errors import StorageError
from .lmdb_open import storage_error
from .protocol import FLUSH_INTERVAL

__all__ = ["Flusher"]


class Flusher:
    """Flush one environment to disk at most `interval` seconds after its first unflushed commit.

    Args:
        path: the environment's directory, for error messages.
        lock: the environment's lock; `committed` and `flush` are called with it held, and the
            thread takes it to flush.
        current: returns the open environment, or None while it is closed.
        interval: seconds between the first unflushed commit and its flush.
    """

    def __init__(
        self,
        path: str,
        lock: threading.RLock,
        current: Callable[[], lmdb.Environment | None],
        interval: float = FLUSH_INTERVAL,
    ) -> None:
        self.path = path
        self.interval = interval
        #: committed transactions not yet flushed (read and written with `lock` held)
        self.pending = False
        #: how many flushes have been done (tests and benchmarks read it)
        self.flushes = 0
        #: a background flush that failed, raised by the next write
        self.error: StorageError | None = None
        self._lock = lock
        self._current = current
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def committed(self) -> None:
        """Note a commit that is not on disk yet. Call with the lock held."""
        if not self.pending:
            self.pending = True
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name=f"patchflow-flush {self.path}", daemon=True
                )
                self._thread.start()
            self._wake.set()

    def flush(self, env: lmdb.Environment) -> None:
        """Flush `env` to disk now if a commit is pending. Call with the lock held.

        Raises:
            StorageError: the flush failed (the commits stay pending, for the next try).
        """
        if not self.pending:
            return
        try:
            env.sync(True)
        except lmdb.Error as error:
            raise storage_error("flush", self.path, error) from error
        self.pending = False
        self.flushes += 1

    def stop(self) -> None:
        """End the thread (the environment is closed for good; closing flushed it)."""
        self._stopping.set()
        self._wake.set()

    def _run(self) -> None:
        while True:
            self._wake.wait()
            if self._stopping.wait(self.interval):
                return
            with self._lock:
                env = self._current()  # None: closed around a fork, and closing flushed it
                try:
                    if env is not None:
                        self.flush(env)
                except StorageError as error:
                    self.error = error  # and stay awake: try again after the interval
                    continue
                self._wake.clear()
