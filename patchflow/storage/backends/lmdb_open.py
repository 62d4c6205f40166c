"""Open an LMDB environment on disk safely: the open lock, read-only media, damaged files.

`lmdb_env.SharedEnv` calls `open_environment` each time it (re)opens; `LmdbLocation.delete`
(`lmdb_admin.py`) takes the same `open_lock`. This module knows the files in a storage
directory; sharing, growing and fork() safety are `lmdb_env.py`'s.

**The open lock.** `data rm` must never delete a store a run is opening: LMDB opens the lock
file first and the data file afterwards, by name, so a run starting while rm deletes could end
up on a deleted data file (its writes lost) or on a new data file with the old lock file. Every
opening therefore holds an exclusive `flock` on `DIR/open.lock` from before `lmdb.open` until
it returns (by then LMDB holds its shared lock on `lock.mdb`, which is how rm sees the store is
open), and rm holds it while it checks and renames the directory aside. The lock file moves
with a renamed directory, so a waiter checks after locking that its file is still the one at
that path, and starts again if not (it then creates a fresh, empty store).

**Read-only media.** When the directory cannot be written (the lock file cannot be created),
or a read-write open fails with EACCES/EROFS/EPERM, the environment is opened read-only without
LMDB's lock file (`lock=False`): reading works (`data ls`, `show`, `export`, `backup`), writes
fail with a StorageError saying why. Without the lock, readers are not registered, which is
safe only because nobody can write there either.

**Damaged files.** LMDB maps the data file; reading a page past the end of a file that was cut
short kills the process with SIGBUS. So after opening, the pages the newest commit uses,
`(last_pgno + 1) * psize`, must fit in the file, and an empty data file (which LMDB would
silently make into a new, empty store) is refused before opening. Both are `DamagedStorage`,
as are files LMDB does not recognise: the message names the directory and says to restore a
backup or delete the store with `patchflow data rm`.
"""

from __future__ import annotations

import contextlib
import errno
import os
from collections.abc import Iterator

import lmdb

from ...errors import StorageError
from .protocol import DamagedStorage

__all__ = [
    "DATA_FILE",
    "LOCK_FILE",
    "OPEN_LOCK_FILE",
    "make_directory",
    "open_environment",
    "open_lock",
    "storage_error",
]

DATA_FILE, LOCK_FILE, OPEN_LOCK_FILE = "data.mdb", "lock.mdb", "open.lock"
MAX_DBS = 32  # room for spaces later releases may add
_READ_ONLY_ERRNOS = frozenset({errno.EACCES, errno.EROFS, errno.EPERM})


# ---- the open lock -----------------------------------------------------------------------------


@contextlib.contextmanager
def open_lock(directory: str, *, create: bool = True) -> Iterator[bool]:
    """Hold `directory/open.lock` exclusively; yield whether it could be taken.

    Args:
        directory: a storage directory.
        create: create `directory` if it is missing (opening); else a missing directory raises
            FileNotFoundError (deleting).

    Yields False, holding nothing, when the lock file cannot be created because the directory
    is not writable (read-only media: nobody can delete or create a store there either).
    """
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        yield False
        return
    path = os.path.join(directory, OPEN_LOCK_FILE)
    while True:
        if create:
            make_directory(directory)
        try:
            # Read-only is enough for flock, and works for a lock file on read-only media.
            fd = os.open(path, os.O_RDONLY | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as error:
            if error.errno in _READ_ONLY_ERRNOS:
                yield False
                return
            if error.errno == errno.ENOENT and create:
                continue  # renamed away (data rm) between makedirs and open: again
            raise
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            if _same_file(fd, path):
                yield True
                return
        finally:
            os.close(fd)  # also releases the flock
        # The directory was renamed aside (data rm) while we waited: lock its successor.


def make_directory(directory: str) -> None:
    """`os.makedirs(directory, exist_ok=True)`, unmoved by `data rm` renaming it meanwhile.

    makedirs finds the directory there, then checks it is one: renamed away in between, it
    raises FileExistsError for a directory that no longer exists. Then it is made again.
    """
    while True:
        try:
            os.makedirs(directory, exist_ok=True)
            return
        except FileExistsError:
            if os.path.lexists(directory):  # something that is not a directory
                raise


def _same_file(fd: int, path: str) -> bool:
    try:
        now = os.stat(path)
    except FileNotFoundError:
        return False
    held = os.fstat(fd)
    return (held.st_dev, held.st_ino) == (now.st_dev, now.st_ino)


# ---- opening -----------------------------------------------------------------------------------


def open_environment(
    path: str, map_size: int, *, sync: bool = True
) -> tuple[lmdb.Environment, bool]:
    """Open the environment in directory `path`; return it and whether it is read-only.

    `sync=False` opens it without flushing each commit to disk ("process" durability: the
    caller flushes, see `lmdb_env.py`).

    Raises:
        DamagedStorage: the data file is empty, cut short or not an LMDB file.
        StorageError: it cannot be opened (says why and what to do).
    """
    try:
        with open_lock(path) as locked:
            _check_not_emptied(path)
            env = _open(path, map_size, read_only=False, sync=sync) if locked else None
            read_only = env is None
            if env is None:
                env = _open(path, map_size, read_only=True, sync=sync)
    except OSError as error:
        raise StorageError(
            f"cannot open patch storage at {path}: {error.strerror or error}; check that you may"
            " read and write that directory, or choose another data directory (--data-dir or"
            " PATCHFLOW_DATA_DIR)"
        ) from error
    try:
        _check_pages(env, path)
    except BaseException:
        env.close()
        raise
    return env, read_only


def _open(path: str, map_size: int, *, read_only: bool, sync: bool) -> lmdb.Environment | None:
    """Open read-write (None if the media refuse writing) or read-only without LMDB's lock."""
    try:
        return lmdb.open(
            path,
            map_size=map_size,
            max_dbs=MAX_DBS,
            subdir=True,
            readonly=read_only,
            sync=sync,
            metasync=True,  # with sync=False LMDB flushes nothing at commit, metadata included
            lock=not read_only,
            create=not read_only,
        )
    except lmdb.Error as error:
        if not read_only and _refuses_writing(error):
            return None
        raise storage_error("open", path, error) from error


def _refuses_writing(error: lmdb.Error) -> bool:
    """Whether an open failed because the media or permissions refuse writing."""
    if isinstance(error, lmdb.ReadonlyError):  # EACCES
        return True
    return getattr(error, "code", None) in _READ_ONLY_ERRNOS  # set by py-lmdb's C extension


def _check_not_emptied(path: str) -> None:
    """Refuse an empty data file: LMDB would quietly make it a new, empty store.

    Under the open lock no patchflow process is half-way through creating one, so an empty
    file was truncated (or its creator killed in the microseconds before LMDB wrote it).
    """
    try:
        size = os.stat(os.path.join(path, DATA_FILE)).st_size
    except FileNotFoundError:
        return  # a new store
    if size == 0:
        raise DamagedStorage(path, f"its data file {DATA_FILE} is empty")


def _check_pages(env: lmdb.Environment, path: str) -> None:
    """Refuse a data file shorter than the pages its newest commit uses (reading them: SIGBUS)."""
    needed = (env.info()["last_pgno"] + 1) * env.stat()["psize"]
    size = os.stat(os.path.join(path, DATA_FILE)).st_size
    if size < needed:
        raise DamagedStorage(
            path, f"its data file {DATA_FILE} has {size} bytes of the {needed} it needs (cut short)"
        )


# ---- errors that say what to do ----------------------------------------------------------------

_DAMAGE = (
    lmdb.CorruptedError,
    lmdb.InvalidError,
    lmdb.VersionMismatchError,
    lmdb.IncompatibleError,
    lmdb.PageNotFoundError,
)


def storage_error(action: str, path: str, error: lmdb.Error) -> StorageError:
    """Return the StorageError for an LMDB error while `action`-ing the storage at `path`."""
    text = str(error)
    lowered = text.lower()
    if isinstance(error, _DAMAGE):
        return DamagedStorage(path, f"cannot {action} it ({text.removeprefix(path + ': ')})")
    if "no space left" in lowered or "disk quota" in lowered:
        advice = "the disk is full; free some space and try again"
    elif (
        isinstance(error, lmdb.ReadonlyError)
        or "permission denied" in lowered
        or "read-only file system" in lowered
        or "operation not permitted" in lowered
    ):
        advice = (
            "check that you may read and write that directory, or choose another data"
            " directory (--data-dir or PATCHFLOW_DATA_DIR)"
        )
    elif isinstance(error, lmdb.ReadersFullError):
        advice = "too many processes are reading it at once; stop some of them"
    else:
        advice = "nothing was changed"
    return StorageError(f"cannot {action} patch storage at {path}: {text}; {advice}")
