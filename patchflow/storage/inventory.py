"""Take stock of a patch's stored data, and manage its storage directory on disk.

What `patchflow data ls`, `show`, `gc`, `rm` and `backup` need: the stores a patch holds (read
straight from the key layout, `keys.py`, so local and named, kv and db stores all show, with no
command classes involved), one store's keys or one collection's documents, deleting whole
stores, and — for the LMDB layout of one environment per patch in `DATA_DIR/PATCH_ID/` — the
patch directories, their size and last write, deleting one unless a process has it open, and a
consistent copy of a live one.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import os
import secrets
import shutil
import tempfile
from collections.abc import Iterator
from typing import Any

import attrs

from ..errors import PatchflowError, StorageError
from . import codec, keys, lmdb_env, lmdb_open
from .backend import Backend, ReadTxn, WriteTxn
from .keys import SPACES, StoreRef, ensure_format_version
from .lmdb_backend import LmdbBackend
from .store import check_patch_id

__all__ = [
    "BadPath",
    "StorageBusy",
    "StoreStats",
    "Totals",
    "backup",
    "check_not_open",
    "count_entries",
    "delete_patch",
    "delete_stores",
    "disk_usage",
    "has_storage",
    "inventory",
    "last_write",
    "list_patches",
    "patch_directory",
    "read_collection",
    "read_store",
    "split_store",
    "store_json",
    "store_of",
    "totals",
]

#: every space but `meta`: what a patch's stores hold
DATA_SPACES = tuple(space for space in SPACES if space != "meta")
_DATA_FILE, _LOCK_FILE = lmdb_open.DATA_FILE, lmdb_open.LOCK_FILE


class BadPath(PatchflowError, ValueError):
    """A path given for a backup (or a data directory) that cannot be used; says why."""


class StorageBusy(StorageError):
    """The patch's storage is open in another process (or this one), so it cannot be deleted."""


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


def count_entries(txn: ReadTxn, space: str) -> int:
    """Return how many keys `space` holds (LMDB knows without a scan)."""
    count = getattr(txn, "count", None)
    return count(space) if count is not None else sum(1 for _ in txn.scan(space, b""))


@attrs.frozen
class Totals:
    """How much a patch stores: kv keys, collections and documents over all its stores."""

    keys: int
    collections: int
    documents: int


def totals(backend: Backend) -> Totals:
    """Count a patch's kv keys, collections and documents (cheap on LMDB: no scan)."""
    return backend.read(
        lambda txn: Totals(
            count_entries(txn, "kv"), count_entries(txn, "collections"), count_entries(txn, "docs")
        )
    )


@attrs.frozen
class StoreStats:
    """One store of a patch: its kv keys, its collections with their document counts, and the
    bytes its keys and values take (before LMDB's own overhead)."""

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

        for key, value in txn.scan("kv", b""):
            entry(key, value)[0][0] += 1
        for key, value in txn.scan("collections", b""):
            stats, collection = entry(key, value)
            stats[1][collection] = 0
        for key, value in txn.scan("docs", b""):
            stats, rest = entry(key, value)
            collection = rest[:-9]  # NUL and the 8-byte sequence number
            stats[1][collection] = stats[1].get(collection, 0) + 1
        for key, value in txn.scan("ids", b""):
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
        start = len(store.prefix)
        return [
            (key[start:].decode("utf-8"), codec.decode(value))
            for key, value in txn.scan("kv", store.prefix)
        ]

    return backend.read(read)


def read_collection(backend: Backend, store: StoreRef, collection: str) -> list[Any] | None:
    """Return a collection's documents in insertion order, or None if it does not exist."""
    name = keys.encode_collection(collection)

    def read(txn: ReadTxn) -> list[Any] | None:
        if txn.get("collections", keys.collection_key(store, name)) is None:
            return None
        prefix = keys.collection_prefix(store, name)
        return [codec.decode(doc) for _, doc in txn.scan("docs", prefix)]

    return backend.read(read)


def delete_stores(backend: Backend, stores: list[StoreRef]) -> None:
    """Delete every key, collection and document of `stores`, in one transaction."""

    def delete(txn: WriteTxn) -> None:
        for store in stores:
            for space in DATA_SPACES:
                txn.delete_prefix(space, store.prefix)

    backend.write(delete)


# ---- patch directories on disk (LMDB) -----------------------------------------------------------


def patch_directory(data_dir: str, patch_id: str) -> str:
    """Return the directory of a patch's storage: `DATA_DIR/PATCH_ID`."""
    return os.path.join(data_dir, patch_id)


def has_storage(directory: str) -> bool:
    """Return whether `directory` holds a patch's LMDB storage."""
    return os.path.isfile(os.path.join(directory, _DATA_FILE))


def list_patches(data_dir: str) -> list[str]:
    """Return the patch ids with storage in `data_dir`, sorted (none if it does not exist).

    Raises:
        BadPath: `data_dir` exists but is not a directory, or cannot be read.
    """
    if not os.path.exists(data_dir):
        return []
    if not os.path.isdir(data_dir):
        raise BadPath(f"data directory {data_dir} is not a directory")
    try:
        names = os.listdir(data_dir)
    except OSError as error:
        raise BadPath(f"cannot read data directory {data_dir}: {error.strerror}") from None
    return sorted(
        name
        for name in names
        if _is_patch_id(name) and has_storage(patch_directory(data_dir, name))
    )


def _is_patch_id(name: str) -> bool:
    try:
        check_patch_id(name)
    except ValueError:
        return False
    return True


def disk_usage(directory: str) -> int:
    """Return the bytes the files in `directory` take on disk (as `du` counts them)."""
    used = 0
    with os.scandir(directory) as entries:
        for entry in entries:
            if entry.is_file(follow_symlinks=False):
                stat = entry.stat(follow_symlinks=False)
                blocks = getattr(stat, "st_blocks", None)
                used += stat.st_size if blocks is None else blocks * 512
    return used


def last_write(directory: str) -> float:
    """Return when the patch's storage was last written (the data file's mtime)."""
    return os.stat(os.path.join(directory, _DATA_FILE)).st_mtime


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


def check_not_open(directory: str) -> None:
    """Raise StorageBusy if any process (this one included) has the storage open."""
    with _exclusive(directory):
        pass


def delete_patch(directory: str) -> None:
    """Delete a patch's storage directory, unless a process has it open (StorageBusy).

    No run may open a half-deleted store: under the open lock, which every opening takes
    (`lmdb_open`), rm checks that no process has the store open and renames the directory
    aside in one step (`DATA_DIR/.deleting-PATCH-RANDOM`, a name no patch id can have), and
    only then deletes it. A run starting after the rename creates a fresh, empty store; one
    that opened before makes rm refuse. A directory already gone is left so.
    """
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


def backup(backend: LmdbBackend, destination: str) -> Totals:
    """Copy the storage, compacted and consistent, into `destination`; return what it holds.

    `destination` becomes an LMDB environment directory, the same as `DATA_DIR/PATCH_ID`: it
    must be missing (its parent must exist) or an empty directory. The copy is written to a
    temporary directory beside it, `DEST.partial-PID-RANDOM`, opened and its format checked,
    and only then renamed to `destination`: whatever stops the copy (an error, Ctrl-C, a
    kill), `destination` never holds half a backup. The temporary directory is removed on
    errors and on signals Python sees; one left by `kill -9` says what it is by its name.

    Raises:
        BadPath: `destination` cannot be used.
        StorageError: the copy failed or does not open.
    """
    _check_backup_destination(destination)
    parent, name = os.path.split(os.path.abspath(destination))
    try:
        partial = tempfile.mkdtemp(prefix=f"{name}.partial-{os.getpid()}-", dir=parent)
    except OSError as error:
        raise BadPath(
            f"cannot write the backup beside {destination}: {error.strerror or error}"
        ) from None
    try:
        backend.copy(partial)
        copy = LmdbBackend(partial, SPACES)
        try:
            ensure_format_version(copy)
            counts = totals(copy)
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
        return counts
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise


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
