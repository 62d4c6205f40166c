"""One LMDB environment per patch directory per process: opening, growing, fork() safety.

Kept whole (~400 lines): the environment cache, its reference counts and the fork()/exit hooks
guard one invariant (one environment per patch per process); split, that invariant would have no
one home.

`lmdb_backend.LmdbBackend` handles share a `SharedEnv` through this module's cache, keyed by
`(realpath, pid)` with reference counts, because LMDB forbids opening one environment twice in a
process (closing either would drop the other's locks).

**Durability and sharing.** Environments are opened with `lock=True` (several processes share
one environment: readers never block, writers are serialised by LMDB's process-shared write
lock) and, for "full" durability, `sync=True` (every commit is fsynced before `write` returns).
For "process" durability they are opened with `sync=False` and a `lmdb_flush.Flusher` flushes
them within a second (that module says why this never corrupts the store on a process crash).
An environment has the durability of the handle that opened it; a "full" handle on a "process"
environment (one process opening a patch twice, with both) flushes after each of its own
commits, and a "process" handle on a "full" environment simply gets full durability.

**Map size.** LMDB maps the file at a fixed size. It starts modest (16 MiB by default, so a small
patch takes little address space) and grows on demand: when a write hits `MapFullError` the
transaction is aborted, the map doubled and the write run again, up to `max_map_size`. When
another process has grown the file, our next transaction gets `MapResizedError`; we adopt the
new size (`set_mapsize(0)`) and retry.

**Threads.** A write transaction stays on the thread that opened it: `write` opens, runs and
commits in one synchronous call. A lock per environment serialises this process's transactions,
so that growing the map never races an open transaction in another thread; a transaction takes
microseconds, so readers in one process hardly wait, and other processes' readers never do.

**fork().** An environment never crosses `fork()`. The obvious way — the child forgets the
inherited environment without closing it and opens its own — does not work with py-lmdb 3,
which refuses to open an environment its process (as the child sees it) holds open already; and
closing the inherited one in the child would abort the parent's cached read transaction there,
freeing the parent's slot in the shared reader table. So `os.register_at_fork` hooks close this
process's environments just before a fork (waiting for running transactions and holding their
locks until the fork is done), and both parent and child reopen on next use: a handle used in
the child opens a fresh environment of its own (about a millisecond, once per fork).

**Opening** is `lmdb_open.open_environment`'s: under the open lock that `data rm` takes too,
read-only (without LMDB's lock file) on media that cannot be written, and never on a data file
cut short (which would crash the process with SIGBUS).

**Errors** from LMDB become `StorageError`s that say what to do (free disk space, fix
permissions, choose another data directory, restore a damaged store); a failed write is
aborted, so it stores nothing.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import threading
from collections.abc import Callable
from typing import Any, TypeVar

import lmdb

from ...errors import StorageError
from .lmdb_flush import Flusher
from .lmdb_open import make_directory, open_environment, storage_error

__all__ = ["SharedEnv", "acquire", "current_pid", "is_open_here", "release"]

T = TypeVar("T")

_MAX_RESIZE_RETRIES = 100  # other processes growing the map under us, in a row


class SharedEnv:
    """One LMDB environment, shared by every handle on its directory in this process.

    The environment is closed around a fork (`_close_envs_before_fork`) and opened again on
    next use, so `env` is None in between.
    """

    def __init__(
        self,
        path: str,
        spaces: tuple[str, ...],
        initial_map_size: int,
        max_map_size: int,
        durability: str = "full",
    ) -> None:
        self.path = path
        self.max_map_size = max_map_size
        self.map_size = initial_map_size  # the size to open with (remembered across reopening)
        self.lock = threading.RLock()
        self.handles = 0
        self.busy = 0  # transactions running now (on the thread holding `lock`)
        self.spaces: tuple[str, ...] = ()
        self.env: lmdb.Environment | None = None
        self.read_only = False  # opened read-only: the media or permissions refuse writing
        self.dbs: dict[str, lmdb._Database] = {}
        #: flushes a "process"-durability environment; None for "full" (LMDB syncs each commit)
        self.flusher = (
            Flusher(path, self.lock, lambda: self.env) if durability == "process" else None
        )
        self.open_spaces(spaces)

    def opened(self) -> lmdb.Environment:
        """Return the environment, opening it (again) if needed. Call with `lock` held."""
        if self.env is None:
            self.env, self.read_only = open_environment(
                self.path, self.map_size, sync=self.flusher is None
            )
            self.dbs = {}
            try:
                self._open_dbs(self.spaces)
            except BaseException:
                self.close()
                raise
        return self.env

    def open_spaces(self, spaces: tuple[str, ...]) -> None:
        with self.lock:
            self.opened()
            added = tuple(space for space in spaces if space not in self.spaces)
            self._open_dbs(added)
            self.spaces += added

    def _open_dbs(self, spaces: tuple[str, ...]) -> None:
        missing = [space for space in spaces if space not in self.dbs]
        if missing and self.read_only:
            self.dbs.update(self._existing_dbs(missing))
        elif missing:
            env = self.opened()
            # One transaction for all of them: a single commit instead of one fsync each (and
            # none at all when they exist already).
            self.dbs.update(
                self.write(
                    lambda txn: {
                        space: env.open_db(space.encode(), txn=txn, create=True)
                        for space in missing
                    }
                )
            )

    def _existing_dbs(self, spaces: list[str]) -> dict[str, lmdb._Database]:
        """Open spaces of a read-only environment, which cannot create them."""
        env = self.opened()
        found = {}
        try:
            for space in spaces:
                # Without a transaction of ours: py-lmdb opens the handle in one of its own
                # that keeps it (one opened in a read transaction we commit does not last).
                found[space] = env.open_db(space.encode(), create=False)
        except lmdb.NotFoundError:
            raise StorageError(
                f"cannot open patch storage at {self.path} read-only: it has no space"
                f" {space!r}, so it is not patchflow storage, or it must be opened once where it"
                " can be written"
            ) from None
        except lmdb.Error as error:
            raise storage_error("open", self.path, error) from error
        return found

    def read(self, fn: Callable[[lmdb.Transaction], T]) -> T:
        """Run `fn` in a read transaction and return its result."""
        with self.lock:
            env = self.env if self.env is not None else self.opened()
            self.busy += 1
            try:
                txn = self._begin_read(env)
                try:
                    return fn(txn)
                finally:
                    txn.abort()  # a read has nothing to commit, and aborting is cheaper
            except lmdb.Error as error:
                raise storage_error("read", self.path, error) from error
            finally:
                self.busy -= 1

    def get(self, space: str, key: bytes) -> bytes | None:
        """`read(lambda txn: txn.get(space, key))` without the lambda and the wrapper."""
        with self.lock:
            env = self.env if self.env is not None else self.opened()
            self.busy += 1
            try:
                txn = self._begin_read(env)
                try:
                    return txn.get(key, db=self.dbs[space])
                finally:
                    txn.abort()
            except lmdb.Error as error:
                raise storage_error("read", self.path, error) from error
            finally:
                self.busy -= 1

    def _begin_read(self, env: lmdb.Environment) -> lmdb.Transaction:
        try:
            return env.begin()
        except lmdb.MapResizedError:
            pass
        for _ in range(_MAX_RESIZE_RETRIES):  # another process grew the map: adopt its size
            env.set_mapsize(0)
            try:
                return env.begin()
            except lmdb.MapResizedError:
                continue
        raise _unsettled(self.path)

    def write(self, fn: Callable[[Any], T], view: Any = None) -> T:
        """Run `fn` in a write transaction and commit it, growing the map as needed.

        `fn` gets the LMDB transaction, or `view` pointed at it if given: the backend's
        transaction object, reused by every write (writes hold the lock, one at a time) rather
        than built for each, and pointed at nothing afterwards, so that one kept past its
        write fails rather than reads another's.
        """
        with self.lock:
            env = self.env if self.env is not None else self.opened()
            if self.read_only:
                raise StorageError(
                    f"cannot write patch storage at {self.path}: it was opened read-only, because"
                    " its directory or files cannot be written (read-only media or permissions);"
                    " copy it somewhere writable (patchflow data backup) to change it"
                )
            flusher = self.flusher
            if flusher is not None and flusher.error is not None:
                error, flusher.error = flusher.error, None
                raise error  # a background flush failed: say so rather than go on silently
            self.busy += 1
            try:
                resizes = 0
                while True:
                    try:
                        with env.begin(write=True) as txn:
                            if view is None:
                                result = fn(txn)
                            else:
                                view._txn, view._dbs = txn, self.dbs
                                try:
                                    result = fn(view)
                                finally:
                                    view._txn = None
                        if flusher is not None:
                            flusher.committed()
                        return result
                    except lmdb.MapFullError:
                        self._grow(env)
                    except lmdb.MapResizedError:
                        resizes += 1
                        if resizes > _MAX_RESIZE_RETRIES:
                            raise _unsettled(self.path) from None
                        env.set_mapsize(0)
                    except lmdb.Error as error:
                        raise storage_error("write", self.path, error) from error
            finally:
                self.busy -= 1

    def copy(self, destination: str) -> None:
        """Write a compacted, consistent copy of the environment into directory `destination`.

        LMDB copies from one read transaction, so writers (here or in other processes) go on
        while it runs and the copy holds exactly what was committed when it began.
        """
        with self.lock:
            env = self.env if self.env is not None else self.opened()
            self.busy += 1
            try:
                for _ in range(_MAX_RESIZE_RETRIES):
                    try:
                        env.copy(destination, compact=True)
                        return
                    except lmdb.MapResizedError:  # another process grew the map: adopt it
                        env.set_mapsize(0)
                    except lmdb.Error as error:
                        raise storage_error("copy", self.path, error) from error
                raise _unsettled(self.path)
            finally:
                self.busy -= 1

    def _grow(self, env: lmdb.Environment) -> None:
        size = env.info()["map_size"]
        if size >= self.max_map_size:
            raise StorageError(
                f"cannot write patch storage at {self.path}: it has reached its size limit of"
                f" {_mib(self.max_map_size)}; delete data you no longer need"
            )
        env.set_mapsize(min(size * 2, self.max_map_size))

    def flush(self) -> None:
        """Flush commits not yet on disk ("process" durability) now; else do nothing."""
        with self.lock:
            if self.flusher is not None and self.env is not None:
                self.flusher.flush(self.env)

    def close(self) -> None:
        """Close the environment, flushed (it opens again on next use). Call with `lock` held."""
        if self.env is not None:
            try:
                if self.flusher is not None:
                    self.flusher.flush(self.env)
            finally:
                self.map_size = self.env.info()["map_size"]
                self.env.close()
                self.env = None
                self.dbs = {}


# ---- one environment per directory per process, and fork() safety ----------------------------

current_pid = os.getpid()
_envs: dict[tuple[str, int], SharedEnv] = {}
_envs_lock = threading.RLock()
# Environments a fork caught inside a transaction on the forking thread, so that they could not
# be closed: referenced forever in the child, never used, and never closed there.
_inherited: list[SharedEnv] = []


def _close_envs_before_fork() -> None:
    """Close every environment, once no transaction runs, so that none crosses the fork.

    LMDB forbids using an environment in a forked child, and py-lmdb refuses to open one the
    process (as the child sees it) has open already; closing one in the child instead would
    abort the parent's cached read transaction there and free its slot in the shared reader
    table. So the parent closes them before forking, keeping every environment's lock until
    the fork is done; each process reopens on next use.
    """
    _envs_lock.acquire()
    for shared in _envs.values():
        shared.lock.acquire()
        if not shared.busy:  # fork() from inside a transaction: leave that one open
            with contextlib.suppress(Exception):  # never stop a fork over this
                shared.close()


def _release_envs_after_fork() -> None:
    for shared in _envs.values():
        shared.lock.release()
    _envs_lock.release()


def _forget_envs_after_fork() -> None:
    global current_pid, _envs_lock
    current_pid = os.getpid()
    _inherited.extend(shared for shared in _envs.values() if shared.env is not None)
    _envs.clear()
    _envs_lock = threading.RLock()  # the parent's is held, by a thread the child lacks


os.register_at_fork(
    before=_close_envs_before_fork,
    after_in_parent=_release_envs_after_fork,
    after_in_child=_forget_envs_after_fork,
)


def acquire(
    location: str,
    spaces: tuple[str, ...],
    initial_map_size: int,
    max_map_size: int,
    durability: str = "full",
) -> SharedEnv:
    """Return this process's environment in directory `location`, opening it if need be.

    Each call counts as one more handle; `release` it when done. The sizes and the durability
    only matter when this call opens the environment.
    """
    try:
        make_directory(location)
        path = os.path.realpath(location)
    except OSError as error:
        raise StorageError(
            f"cannot create patch storage directory {location}: {error.strerror or error};"
            " choose a writable data directory (--data-dir or PATCHFLOW_DATA_DIR)"
        ) from error
    with _envs_lock:
        shared = _envs.get((path, current_pid))
        if shared is None:
            shared = SharedEnv(path, spaces, initial_map_size, max_map_size, durability)
            _envs[path, current_pid] = shared
        else:
            shared.open_spaces(spaces)
        shared.handles += 1
        return shared


def is_open_here(location: str) -> bool:
    """Return whether this process holds the environment in directory `location` open.

    Without `_envs_lock`: `data rm` asks while holding the open lock, and a thread of this
    process may hold `_envs_lock` while it waits for that same open lock in `acquire`. A dict
    lookup is atomic; an environment still being opened is not open yet.
    """
    path = os.path.realpath(location)
    return (path, current_pid) in _envs


def release(shared: SharedEnv) -> None:
    """Give back a handle from `acquire`; the last one closes the environment."""
    with _envs_lock:
        shared.handles -= 1
        if shared.handles == 0:
            _envs.pop((shared.path, current_pid), None)
            if shared.flusher is not None:
                shared.flusher.stop()
            with shared.lock:
                shared.close()


@atexit.register
def _flush_at_exit() -> None:
    """Flush every "process"-durability environment still open when the interpreter exits."""
    for shared in list(_envs.values()):
        with contextlib.suppress(Exception):  # nothing to tell at exit; the page cache has it
            shared.flush()


# ---- errors that say what to do ----------------------------------------------------------------


def _unsettled(path: str) -> StorageError:
    return StorageError(
        f"cannot use patch storage at {path}: other processes keep resizing it; try again"
    )


def _mib(size: int) -> str:
    return f"{size / (1 << 20):g} MiB"
