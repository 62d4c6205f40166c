"""LMDB storage as a location: patch directories in `DATA_DIR/PATCH_ID/`, and their administration.

`LmdbLocation` implements `backend.StorageLocation` for `lmdb:DIR` (and a plain `--data-dir`):
it opens a patch's `LmdbBackend`, lists the patch directories, measures them, deletes one unless
a process has it open, and makes a consistent, compacted copy of a live one. The open lock and
damaged files are `lmdb_open.py`'s; environments, `lmdb_env.py`'s.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import shutil
import tempfile
from collections.abc import Callable, Iterator
from typing import TypeVar

from ...errors import StorageError
from ...patchid import check_patch_id
from . import lmdb_env, lmdb_open
from .lmdb_backend import DEFAULT_INITIAL_MAP_SIZE, DEFAULT_MAX_MAP_SIZE, LmdbBackend
from .protocol import BadPath, StorageBusy, StorageLocation, Usage

__all__ = ["LmdbLocation"]

T = TypeVar("T")

_DATA_FILE, _LOCK_FILE = lmdb_open.DATA_FILE, lmdb_open.LOCK_FILE


class LmdbLocation(StorageLocation):
    """A data directory holding one LMDB environment per patch, in `DIR/PATCH_ID/`.

    Args:
        directory: the data directory; created when the first patch is opened.
        initial_map_size, max_map_size: passed to each `LmdbBackend` opened.
    """

    def __init__(
        self,
        directory: str | os.PathLike[str],
        *,
        initial_map_size: int = DEFAULT_INITIAL_MAP_SIZE,
        max_map_size: int = DEFAULT_MAX_MAP_SIZE,
    ) -> None:
        self.location = self.directory = os.fspath(directory)
        self._sizes = (initial_map_size, max_map_size)

    @classmethod
    def from_url(cls, url: str) -> LmdbLocation:
        """Return the location of `lmdb:DIR`."""
        directory = url.partition(":")[2]
        if not directory:
            raise BadPath("'lmdb:' needs a directory: lmdb:DIR, e.g. lmdb:./data")
        return cls(directory)

    def path(self, patch_id: str) -> str:
        """Return the directory of a patch's storage: `DIR/PATCH_ID`."""
        return os.path.join(self.directory, patch_id)

    def open(
        self,
        patch_id: str,
        spaces: tuple[str, ...],
        *,
        size_hint: int = 0,
        durability: str = "full",
    ) -> LmdbBackend:
        initial, most = self._sizes
        if size_hint > 0:
            # A map big enough from the start, so that an import seldom restarts to grow it.
            with contextlib.suppress(OSError):
                size_hint += _disk_usage(self.path(patch_id))
            initial = max(initial, 1 << (size_hint - 1).bit_length())
        return LmdbBackend(
            self.path(patch_id),
            spaces,
            initial_map_size=initial,
            max_map_size=most,
            durability=durability,
        )

    def has_patch(self, patch_id: str) -> bool:
        return os.path.isfile(os.path.join(self.path(patch_id), _DATA_FILE))

    def patches(self) -> list[str]:
        if not os.path.exists(self.directory):
            return []
        if not os.path.isdir(self.directory):
            raise BadPath(f"data directory {self.directory} is not a directory")
        try:
            names = os.listdir(self.directory)
        except OSError as error:
            raise BadPath(
                f"cannot read data directory {self.directory}: {error.strerror}"
            ) from None
        return sorted(name for name in names if _is_patch_id(name) and self.has_patch(name))

    def usage(self, patch_id: str) -> Usage:
        path = self.path(patch_id)
        last_write = os.stat(os.path.join(path, _DATA_FILE)).st_mtime
        return Usage(size=_disk_usage(path), last_write=last_write)

    def check_deletable(self, patch_id: str) -> None:
        with _exclusive(self.path(patch_id)):
            pass

    def delete(self, patch_id: str) -> None:
        """Delete the patch's directory, unless a process has it open (StorageBusy).

        No run may open a half-deleted store: under the open lock, which every opening takes
        (`lmdb_open`), this checks that no process has the store open and renames the directory
        aside in one step (`DIR/.deleting-PATCH-RANDOM`, a name no patch id can have), and only
        then deletes it. A run starting after the rename creates a fresh, empty store; one that
        opened before makes this refuse. A directory already gone is left so.
        """
        directory = self.path(patch_id)
        parent, name = os.path.split(os.path.abspath(directory))
        aside = os.path.join(parent, f".deleting-{name}-{secrets.token_hex(4)}")
        try:
            with lmdb_open.open_lock(directory, create=False), _exclusive(directory):
                os.rename(directory, aside)
        except FileNotFoundError:
            if os.path.exists(directory):
                raise
            return  # deleted meanwhile (another rm)
        shutil.rmtree(aside)

    def backup(
        self,
        patch_id: str,
        destination: str,
        spaces: tuple[str, ...],
        check: Callable[[LmdbBackend], T],
    ) -> T:
        """Copy the patch's environment, compacted and consistent, into directory `destination`.

        `destination` becomes an environment directory like `DIR/PATCH_ID`: it must be missing
        (its parent must exist) or an empty directory. The copy (LMDB's, from one read
        transaction, so writers go on meanwhile) is written to a temporary directory beside it,
        `DEST.partial-PID-RANDOM`, opened and passed to `check`, and only then renamed to
        `destination`: whatever stops the copy (an error, Ctrl-C, a kill), `destination` never
        holds half a backup. The temporary directory is removed on errors and on signals Python
        sees; one left by `kill -9` says what it is by its name.
        """
        if not self.has_patch(patch_id):
            raise StorageError(f"no stored data for patch {patch_id!r} in {self.location}")
        _check_backup_destination(destination)
        parent, name = os.path.split(os.path.abspath(destination))
        try:
            partial = tempfile.mkdtemp(prefix=f"{name}.partial-{os.getpid()}-", dir=parent)
        except OSError as error:
            raise BadPath(
                f"cannot write the backup beside {destination}: {error.strerror or error}"
            ) from None
        try:
            source = LmdbBackend(self.path(patch_id), ())
            try:
                source.copy(partial)
            finally:
                source.close()
            copy = LmdbBackend(partial, spaces)
            try:
                result = check(copy)
            finally:
                copy.close()
            os.chmod(partial, _new_directory_mode())  # mkdtemp made it private
            _fsync(os.path.join(partial, _DATA_FILE))
            try:
                os.rename(partial, destination)  # replaces an empty directory, not a full one
            except OSError as error:
                raise BadPath(
                    f"cannot move the backup to {destination}: {error.strerror or error}"
                    " (was it created meanwhile?)"
                ) from None
            with contextlib.suppress(OSError):  # not every file system syncs directories
                _fsync(parent)
            return result
        except BaseException:
            shutil.rmtree(partial, ignore_errors=True)
            raise

    def __repr__(self) -> str:
        return f"LmdbLocation({self.directory!r})"


def _is_patch_id(name: str) -> bool:
    try:
        check_patch_id(name)
    except ValueError:
        return False
    return True


def _disk_usage(directory: str) -> int:
    """Return the bytes the files in `directory` take on disk (as `du` counts them)."""
    used = 0
    with os.scandir(directory) as entries:
        for entry in entries:
            if entry.is_file(follow_symlinks=False):
                stat = entry.stat(follow_symlinks=False)
                blocks = getattr(stat, "st_blocks", None)
                used += stat.st_size if blocks is None else blocks * 512
    return used


@contextlib.contextmanager
def _exclusive(directory: str) -> Iterator[None]:
    """Hold the storage so that no process can open it; raise StorageBusy if one has it open.

    Every process with an LMDB environment open holds a shared `fcntl` lock on the first byte of
    its `lock.mdb` for as long as it is open (LMDB takes it on open to learn whether it is the
    first user), and one opening it waits while another holds that byte exclusively. Taking
    the byte exclusively without waiting therefore fails exactly when another process has the
    storage open. POSIX record locks belong to the process, so an environment open in this
    process would not show, and closing our descriptor would drop its lock: that case is found
    through `lmdb_env` instead.
    """
    if lmdb_env.is_open_here(directory):
        raise StorageBusy(f"patch storage at {directory} is open in this process; close it first")
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX: LMDB's open files refuse deletion
        yield
        return
    try:
        fd = os.open(os.path.join(directory, _LOCK_FILE), os.O_RDWR)
    except FileNotFoundError:  # never opened, or not LMDB storage: nobody holds it
        yield
        return
    try:
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, 0)
        except OSError as error:
            if error.errno not in (errno.EAGAIN, errno.EACCES):
                raise
            raise StorageBusy(
                f"patch storage at {directory} is open in another process (a running patch or"
                " a script); stop it and try again"
            ) from None
        yield
    finally:
        os.close(fd)


def _check_backup_destination(destination: str) -> None:
    if os.path.isdir(destination):
        if os.listdir(destination):
            raise BadPath(f"backup destination {destination} is not empty; choose a new directory")
        return
    if os.path.exists(destination):
        raise BadPath(f"backup destination {destination} exists and is not a directory")
    parent = os.path.dirname(os.path.abspath(destination))
    if not os.path.isdir(parent):
        raise BadPath(
            f"cannot create backup directory {destination}: its parent {parent} is not a"
            " directory; create it first"
        )


def _new_directory_mode() -> int:
    """The mode `os.mkdir` would give: 0o777 less the umask."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o777 & ~umask


def _fsync(path: str) -> None:
    """Flush a file or directory to disk, so that a completed backup survives a power cut."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
