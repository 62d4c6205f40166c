"""The async facade the runtime, the storage objects and Python programs use: one per patch.

    with open_storage("counter", data_dir) as storage:        # or ":memory:"
        kv = storage.kv(local="kv-1")                          # a box's local store
        settings = storage.kv(name="settings")                 # == kv.store("settings")
        await settings.set("volume", 0.8)
        reply = await storage.execute_kv(StoreRef.named("settings"), {"get": "volume"})
        notes = storage.db(local="db-1")                       # a [db] box's local store
        note_id = await notes.insert("notes", {"text": "hi"})
        reply = await storage.execute_db(StoreRef.named("shop"), {"find": "items"})

The coroutines complete without yielding to the event loop. Reads are direct synchronous
transactions (about a microsecond; a thread hop would cost a hundred times that) and durable
writes run inline too (about 300 µs; through `trio.to_thread` they measured about 550 µs — see
`lmdb_backend.py` for the figures). Completing without a checkpoint also means a write is never
committed and then cancelled before its caller hears of it, and the facade works under any event
loop. Should a backend ever need a worker thread, the `run` calls here are the place to add it.

A `[kv]` box holds a `StoreRef` (`StoreRef.for_box(box.id, name)`) and calls `execute_kv` (a
`[db]` box: `execute_db`), which never raises for a bad command or a storage failure: it
returns `{op: "error", message}`. On a `{op: "setStore"}` reply the box switches:
`store = StoreRef.for_box(box.id, reply["value"])`.
Alternatively a box may hold a `KV` and call `KV.execute(message)`, then `kv = kv.store(value)`
on setStore — `KV.store("")` returns to the box's local store, exactly as setStore does. `DB`
works the same way with db commands.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from ..errors import CommandError, StorageError
from ..patchid import check_patch_id
from .backend import Backend
from .commands import MISSING, error_reply, invalid
from .db import (
    Count,
    DbSetStore,
    DeleteDoc,
    Drop,
    Find,
    FindOne,
    Insert,
    Replace,
    Update,
    parse_db_command,
)
from .keys import SPACES, StoreRef, ensure_format_version
from .kv import Clear, Delete, Get, Has, Keys, Set, SetStore, parse_kv_command
from .lmdb_backend import DEFAULT_INITIAL_MAP_SIZE, DEFAULT_MAX_MAP_SIZE, LmdbBackend
from .memory_backend import MEMORY, MemoryBackend

__all__ = ["DB", "KV", "MEMORY", "PatchStorage", "check_patch_id", "open_storage"]


def open_storage(
    patch_id: str,
    data_dir: str | os.PathLike[str],
    *,
    initial_map_size: int = DEFAULT_INITIAL_MAP_SIZE,
    max_map_size: int = DEFAULT_MAX_MAP_SIZE,
) -> PatchStorage:
    """Open the storage of patch `patch_id`: LMDB in `DATA_DIR/PATCH_ID/`, created if missing.

    Args:
        patch_id: the patch id (language.md), `[A-Za-z0-9_.-]+` not starting with a dot.
        data_dir: the data directory, or `":memory:"` for in-memory storage that lives while
            it is open (opens of one patch id in one process share it).
        initial_map_size, max_map_size: LMDB's map size when new, and the most it may grow to.

    Raises:
        ValueError: the patch id is not valid.
        StorageError: the storage cannot be opened (says why and what to do), or was written by
            a newer patchflow.
    """
    check_patch_id(patch_id)
    location = os.fspath(data_dir)
    backend: Backend
    if location == MEMORY:
        backend = MemoryBackend(SPACES, name=patch_id)
    else:
        backend = LmdbBackend(
            os.path.join(location, patch_id),
            SPACES,
            initial_map_size=initial_map_size,
            max_map_size=max_map_size,
        )
    try:
        ensure_format_version(backend)
    except BaseException:
        backend.close()
        raise
    return PatchStorage(patch_id, backend)


class PatchStorage:
    """One patch's storage: every kv and db store of the patch, in one backend.

    Use as a context manager, or call `close()`; `open_storage` makes one.
    """

    def __init__(self, patch_id: str, backend: Backend) -> None:
        self.patch_id = patch_id
        self.backend = backend

    @property
    def location(self) -> str:
        """Where the data lives: the patch's directory, or `":memory:"`."""
        return self.backend.location

    def kv(self, *, local: str | None = None, name: str | None = None) -> KV:
        """Return a `KV` on a store of this patch.

        Args:
            local: a box id. Alone, it selects that box's local store; it is also where
                `KV.store("")` returns to.
            name: a store name, selecting that named store (`""` means the local store).

        Raises:
            CommandError: the name or box id cannot name a store (NUL, too long, not a string).
            TypeError: neither `local` nor `name` given.
        """
        home, store = _stores("kv", local, name)
        return KV(self.backend, store, home)

    def db(self, *, local: str | None = None, name: str | None = None) -> DB:
        """Return a `DB` on a store of this patch; arguments as for `kv`."""
        home, store = _stores("db", local, name)
        return DB(self.backend, store, home)

    async def execute_kv(self, store: StoreRef, message: Any) -> dict[str, Any]:
        """Run a kv command message against `store`; return its reply.

        Never raises for a bad command or a storage failure: those give
        `{"op": "error", "message": ...}`, and nothing is stored. A setStore command is only
        checked and answered; the caller switches stores (see the module docstring).
        """
        return _execute(self.backend, store, message, parse_kv_command)

    async def execute_db(self, store: StoreRef, message: Any) -> dict[str, Any]:
        """Run a db command message against `store`; return its reply (as `execute_kv`).

        An insert whose `_id` is taken is an error reply too, and stores nothing.
        """
        return _execute(self.backend, store, message, parse_db_command)

    def close(self) -> None:
        """Close the storage; closing twice does nothing."""
        self.backend.close()

    def __enter__(self) -> PatchStorage:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<PatchStorage {self.patch_id!r} at {self.location}>"


class KV:
    """A key-value store of a patch: a box's local store or a named one (storage.md).

    Keys are strings (up to 400 bytes of UTF-8); values are message values. Bad arguments
    raise CommandError with the message the `[kv]` box would reply with; storage failures
    raise StorageError.
    """

    __slots__ = ("_backend", "_home", "store_ref")

    def __init__(self, backend: Backend, store_ref: StoreRef, home: StoreRef | None = None):
        self._backend = backend
        self._home = home
        #: the store this KV reads and writes
        self.store_ref = store_ref

    async def get(self, key: str) -> Any:
        """Return the value under `key`, or None if there is none."""
        value = Get(key).run(self._backend, self.store_ref)
        return None if value is MISSING else value

    async def set(self, key: str, value: Any) -> None:
        """Store `value` under `key`, durably, before returning."""
        Set(key, value).run(self._backend, self.store_ref)

    async def delete(self, key: str) -> bool:
        """Remove `key`; return whether it was there."""
        return Delete(key).run(self._backend, self.store_ref)

    async def has(self, key: str) -> bool:
        """Return whether `key` holds a value (a stored None counts)."""
        return Has(key).run(self._backend, self.store_ref)

    async def keys(self) -> list[str]:
        """Return this store's keys, sorted by code point."""
        return Keys().run(self._backend, self.store_ref)

    async def clear(self) -> None:
        """Remove every key of this store (other stores keep theirs)."""
        Clear().run(self._backend, self.store_ref)

    def store(self, name: str) -> KV:
        """Return a KV on the store named `name`; `""` returns to this KV's local store."""
        return KV(self._backend, _switch(SetStore(name), self._home, "KV"), self._home)

    def reply_to(self, message: Any) -> dict[str, Any]:
        """Run a kv command message against this store; return its reply (as `execute_kv`).

        Synchronous, for the `[kv]` box, whose delivery is synchronous: the backend commits
        inline, so the coroutine `execute` would only add a layer.
        """
        return _execute(self._backend, self.store_ref, message, parse_kv_command)

    async def execute(self, message: Any) -> dict[str, Any]:
        """Run a kv command message against this store; return its reply (as `execute_kv`)."""
        return self.reply_to(message)

    def __repr__(self) -> str:
        return f"<KV on {self.store_ref}>"


class DB:
    """A document store of a patch (storage.md's db): collections of documents.

    Collections are strings (up to 100 bytes of UTF-8), created by their first insert; documents
    are dicts of message values with string keys. Bad arguments raise CommandError with the
    message the `[db]` box would reply with (an insert whose `_id` is taken too); storage
    failures raise StorageError. See `db.py` for what the store does to `_id`, `_created` and
    `_updated`.
    """

    __slots__ = ("_backend", "_home", "store_ref")

    def __init__(self, backend: Backend, store_ref: StoreRef, home: StoreRef | None = None):
        self._backend = backend
        self._home = home
        #: the store this DB reads and writes
        self.store_ref = store_ref

    async def insert(self, collection: str, doc: dict[str, Any]) -> str:
        """Add `doc` to `collection`, durably, before returning; return its `_id`."""
        return Insert(collection, doc).run(self._backend, self.store_ref)

    async def find(
        self,
        collection: str,
        query: dict[str, Any] | None = None,
        *,
        sort: dict[str, int] | None = None,
        limit: int | None = None,
        skip: int = 0,
    ) -> list[dict[str, Any]]:
        """Return the documents matching `query` (all without one), in insertion order unless
        `sort` (`{field: 1 | -1, ...}`) is given; `skip` and `limit` apply after sorting."""
        return Find(collection, query, sort, limit, skip).run(self._backend, self.store_ref)

    async def find_one(self, collection: str, id: str) -> dict[str, Any] | None:
        """Return the document with `_id` `id`, or None if there is none."""
        return FindOne(collection, id).run(self._backend, self.store_ref)

    async def update(self, collection: str, id: str, doc: dict[str, Any]) -> bool:
        """Merge `doc`'s fields into document `id` (shallowly); return whether it existed."""
        return Update(collection, id, doc).run(self._backend, self.store_ref)

    async def replace(self, collection: str, id: str, doc: dict[str, Any]) -> bool:
        """Replace document `id`'s fields by `doc`'s (keeping `_id` and `_created`); return
        whether it existed."""
        return Replace(collection, id, doc).run(self._backend, self.store_ref)

    async def delete(self, collection: str, id: str) -> bool:
        """Remove document `id`; return whether it existed."""
        return DeleteDoc(collection, id).run(self._backend, self.store_ref)

    async def count(self, collection: str, query: dict[str, Any] | None = None) -> int:
        """Return how many documents match `query` (all of the collection's without one)."""
        return Count(collection, query).run(self._backend, self.store_ref)

    async def drop(self, collection: str) -> None:
        """Remove `collection` and its documents (other collections keep theirs)."""
        Drop(collection).run(self._backend, self.store_ref)

    def store(self, name: str) -> DB:
        """Return a DB on the store named `name`; `""` returns to this DB's local store."""
        return DB(self._backend, _switch(DbSetStore(name), self._home, "DB"), self._home)

    def reply_to(self, message: Any) -> dict[str, Any]:
        """Run a db command message against this store; return its reply (as `execute_db`)."""
        return _execute(self._backend, self.store_ref, message, parse_db_command)

    async def execute(self, message: Any) -> dict[str, Any]:
        """Run a db command message against this store; return its reply (as `execute_db`)."""
        return self.reply_to(message)

    def __repr__(self) -> str:
        return f"<DB on {self.store_ref}>"


def _switch(command: SetStore, home: StoreRef | None, what: str) -> StoreRef:
    """Return the store a `KV.store`/`DB.store` call selects (`""`: the local store `home`)."""
    if command.value:
        return StoreRef.named(command.value)
    if home is None:
        raise invalid(command, f"needs a store name: this {what} has no local store to return to")
    return home


def _execute(
    backend: Backend, store: StoreRef, message: Any, parse: Callable[[Any], Any]
) -> dict[str, Any]:
    """Parse and run one command message; return its reply, or an error reply (never raise)."""
    try:
        command = parse(message)
    except CommandError as error:
        return error_reply(error)
    try:
        result = command.run(backend, store)
    except CommandError as error:  # a command the data refuses: an insert with a taken _id
        return error_reply(error)
    except StorageError as error:
        return {"op": "error", "message": f"{command.owner}: '{command.verb}' failed: {error}"}
    return command.reply(result)


def _stores(owner: str, local: str | None, name: str | None) -> tuple[StoreRef | None, StoreRef]:
    """Return (the local store or None, the store selected) for `PatchStorage.kv`/`db`."""
    if local is None and not name:
        raise TypeError(f"{owner}() needs local= (a box id) or name= (a store name)")
    try:
        home = None if local is None else StoreRef.local(local)
    except CommandError as error:
        raise CommandError(
            f"{owner}: box id {local!r} cannot name a local store: {error}"
        ) from None
    if not name:
        assert home is not None
        return home, home
    try:
        return home, StoreRef.named(name)
    except CommandError as error:
        raise CommandError(f"{owner}: {error}") from None
