"""The async facade the runtime, the storage objects and Python programs use: one per patch.

    with open_storage("counter", data_dir) as storage:        # or ":memory:"
        kv = storage.kv(local="kv-1")                          # a box's local store
        settings = storage.kv(name="settings")                 # == kv.store("settings")
        await settings.set("volume", 0.8)
        notes = storage.db(local="db-1")                       # a [db] box's local store
        note_id = await notes.insert("notes", {"text": "hi"})

`KV` and `DB` have one method per command, generated from the command classes (`KV_COMMANDS`,
`DB_COMMANDS`: `kv.get(key)`, `db.find_one(collection, id)`), with the commands' signatures and
docstrings. The coroutines complete without yielding to the event loop. Reads are direct
synchronous transactions (about a microsecond; a thread hop would cost a hundred times that) and
durable writes run inline too (about 300 µs; through `trio.to_thread` they measured about
550 µs — see `lmdb_backend.py` for the figures). Completing without a checkpoint also means a
write is never committed and then cancelled before its caller hears of it, and the facade works
under any event loop. Should a backend ever need a worker thread, the `run` calls here are the
place to add it.

A `[kv]`/`[db]` box, whose delivery is synchronous, holds a `KV`/`DB` and for each message calls
`parse(message)` (a bad one raises CommandError: the box replies `error_reply(error)`); on a
`SetStore` command it switches to `store(command.value)` (`""` returns to its local store);
then `answer(command)` runs the command and returns its reply, never raising.
"""

from __future__ import annotations

import collections
import contextlib
import os
import weakref
from collections.abc import Callable
from typing import Any, ClassVar

from ..errors import CommandError, StorageError
from ..patchid import check_patch_id
from .backends import MEMORY, resolve_location
from .backends.protocol import Backend, StorageLocation, check_durability
from .commands.base import error_reply, invalid
from .commands.command_set import CommandSet
from .commands.db import DB_COMMANDS, DbSetStore
from .commands.kv import KV_COMMANDS, SetStore
from .layout.changes import POLL_SECONDS, ChangeLog, messages_for
from .layout.keys import SPACES, StoreRef, encode_collection, ensure_format_version

__all__ = [
    "DB",
    "KV",
    "MEMORY",
    "POLL_SECONDS",
    "Changes",
    "PatchStorage",
    "check_patch_id",
    "open_storage",
]


def open_storage(
    patch_id: str,
    data_dir: str | os.PathLike[str] | None = None,
    *,
    storage: str | os.PathLike[str] | StorageLocation | None = None,
    size_hint: int = 0,
    durability: str = "full",
) -> PatchStorage:
    """Open the storage of patch `patch_id`, created if missing.

    Args:
        patch_id: the patch id (language.md), `[A-Za-z0-9_.-]+` not starting with a dot.
        data_dir: the data directory (LMDB in `DATA_DIR/PATCH_ID/`), or `":memory:"` for
            in-memory storage that lives while it is open (opens of one patch id in one
            process share it).
        storage: where instead, as a URL (`lmdb:DIR`, `memory:`; see `backends.py`) or a
            `StorageLocation`. With neither: `$PATCHFLOW_STORAGE`, `$PATCHFLOW_DATA_DIR`, else
            the user data directory.
        size_hint: bytes the data is expected to need, so that a backend may size its storage
            up front (LMDB's map); it grows as needed regardless.
        durability: `"full"` (each command flushed to disk before its reply) or `"process"`
            (committed before its reply, so `kill -9` loses nothing; flushed to disk within a
            second and on close): storage.md, "Durability modes".

    Raises:
        ValueError: the patch id or the durability is not valid; `BadPath`: the URL names no
            backend.
        StorageError: the storage cannot be opened (says why and what to do), was written by
            a newer patchflow, or by an older one (`patchflow data migrate PATCH` upgrades it).
    """
    check_patch_id(patch_id)
    check_durability(durability)
    if storage is None or isinstance(storage, str | os.PathLike):
        location = resolve_location(storage, data_dir)
    else:
        location = storage
    backend = location.open(patch_id, SPACES, size_hint=size_hint, durability=durability)
    try:
        ensure_format_version(backend, patch_id)
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
        #: the patch's backend, logging every change for watchers (`layout/changes.py`)
        self.backend = backend if isinstance(backend, ChangeLog) else ChangeLog(backend)

    @property
    def poll_seconds(self) -> float:
        """How often a runtime calls `poll_changes` while something watches: `POLL_SECONDS`,
        or less often on a backend that pushes a notice of each change (`on_remote_change`)."""
        return self.backend.poll_seconds

    def poll_changes(self) -> None:
        """Tell this storage's watchers of what other processes committed (and of expiries).

        A runtime watching stores calls this every `poll_seconds`, and soon after
        `on_remote_change` wakes it; changes made through this storage reach its watchers
        right after their commit, without it. It also renews the watch lease that makes other
        processes log their writes (`layout/changes.py`).
        """
        self.backend.poll()

    def on_remote_change(self, wake: Callable[[], None]) -> Callable[[], None]:
        """Call `wake()`, from any thread, when another process may have committed a change
        (on backends that push notices: PostgreSQL, Redis); return the function that stops it.
        A runtime then calls `poll_changes` at once rather than at its next look."""
        return self.backend.on_remote_change(wake)

    @property
    def location(self) -> str:
        """Where the data lives: the patch's directory, `":memory:"`, or a URL without password."""
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

    def close(self) -> None:
        """Close the storage; closing twice does nothing."""
        self.backend.close()

    def __enter__(self) -> PatchStorage:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<PatchStorage {self.patch_id!r} at {self.location}>"


class _Facade:
    """What `KV` and `DB` share: the store they use, switching stores, and the box's path."""

    __slots__ = ("_backend", "_home", "store_ref")
    commands: ClassVar[CommandSet]
    SetStore: ClassVar[type[SetStore]]  # the command a box switches stores on

    def __init__(self, backend: Backend, store_ref: StoreRef, home: StoreRef | None = None):
        self._backend = backend
        self._home = home
        #: the store this facade reads and writes
        self.store_ref = store_ref

    def store(self, name: str) -> Any:
        """Return a facade on the store named `name`; `""` returns to this one's local store."""
        command = self.SetStore(name)
        if command.value:
            return type(self)(self._backend, StoreRef.named(command.value), self._home)
        if self._home is None:
            what = type(self).__name__
            raise invalid(
                command, f"needs a store name: this {what} has no local store to return to"
            )
        return type(self)(self._backend, self._home, self._home)

    def parse(self, message: Any) -> Any:
        """Return the typed command a message asks for (any of the three forms).

        Raises:
            CommandError: the message is no valid command; `error_reply(error)` is its reply.
        """
        return self.commands.parse(message)

    def answer(self, command: Any) -> dict[str, Any]:
        """Run a command against this store and return its reply; never raise.

        A command the data refuses (an insert whose `_id` is taken) or a storage failure gets
        an `{op: "error", message}` reply, and nothing is stored. Synchronous, for the boxes,
        whose delivery is synchronous: the backend commits inline.
        """
        try:
            return command.reply(command.run(self._backend, self.store_ref))
        except CommandError as error:
            return error_reply(error)
        except StorageError as error:
            return {"op": "error", "message": f"{command.owner}: '{command.verb}' failed: {error}"}

    error_reply = staticmethod(error_reply)

    def on_change(
        self, send: Callable[[dict[str, Any]], None], collection: str | None = None
    ) -> Callable[[], None]:
        """Call `send(message)` for every later change to this store; return the stop function.

        The messages are a watching box's: `{op: "changed", key, value, found}` for a kv
        store, `{op: "changed", collection, id, doc}` for `collection` of a db store. Changes
        made in this process arrive right after their commit, inside the writer's call (so
        `send` must only queue them); other processes' with `PatchStorage.poll_changes`.
        """
        name = None if collection is None else encode_collection(collection)
        return self._backend.listen(messages_for(self.store_ref.prefix, name, send))

    def _changes(self, collection: str | None) -> Changes:
        return Changes(self._backend, lambda send: self.on_change(send, collection))

    def __repr__(self) -> str:
        return f"<{type(self).__name__} on {self.store_ref}>"


@KV_COMMANDS.add_methods
class KV(_Facade):
    """A key-value store of a patch: a box's local store or a named one (storage.md).

    Keys are strings (up to 400 bytes of UTF-8); values are message values. There is one
    async method per kv command (`get`, `set`, `delete`, `has`, `keys`, `clear`); bad arguments
    raise CommandError with the message the `[kv]` box would reply with; storage failures
    raise StorageError.
    """

    __slots__ = ()
    commands = KV_COMMANDS

    def watch(self) -> Changes:
        """Yield `{op: "changed", key, value, found}` for every later change to this store.

        `async for change in kv.watch():` sees changes made by this process and by others
        (within `POLL_SECONDS`, or at once on a backend that pushes notices), in commit order;
        `found` is false for a delete or an expiry.
        """
        return self._changes(None)

    parse = staticmethod(KV_COMMANDS.parse)  # the box's hot path: no extra call
    SetStore = SetStore


@DB_COMMANDS.add_methods
class DB(_Facade):
    """A document store of a patch (storage.md's db): collections of documents.

    Collections are strings (up to 100 bytes of UTF-8), created by their first insert; documents
    are dicts of message values with string keys. There is one async method per db command
    (`insert`, `find`, `find_one`, `update`, `replace`, `delete`, `count`, `drop`); bad
    arguments raise CommandError with the message the `[db]` box would reply with (an insert
    whose `_id` is taken too); storage failures raise StorageError. See `documents.py` for what
    the store does to `_id`, `_created` and `_updated`.
    """

    __slots__ = ()
    commands = DB_COMMANDS
    parse = staticmethod(DB_COMMANDS.parse)
    SetStore = DbSetStore

    def watch(self, collection: str) -> Changes:
        """Yield `{op: "changed", collection, id, doc}` for every later change to `collection`.

        As `KV.watch`; `doc` is None when the document was deleted (or its collection dropped).
        """
        return self._changes(collection)


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


class Changes:
    """What `KV.watch`/`DB.watch` return: an async iterator of every later change.

    A plain iterator class rather than an async generator, so that leaving an `async for`
    early needs no `aclose()`: the watch stops when the iterator is dropped, or at once with
    `close()` or `async with kv.watch() as changes:`.
    """

    def __init__(self, backend: Any, listen: Callable[[Callable[[Any], None]], Any]) -> None:
        self._backend = backend
        self._queue: collections.deque[dict[str, Any]] = collections.deque()
        self._wakeup: Callable[[], Any] | None = None  # wakes `__anext__` for a change of ours
        #: wakes `__anext__` from another thread: another process committed a change
        self._wakeup_threadsafe: Callable[[], Any] | None = None
        #: another process committed a change since the last poll (set from any thread)
        self._woken = False
        me = weakref.ref(self)  # the storage's listener must not keep the iterator alive

        def queued(message: dict[str, Any]) -> None:
            changes = me()
            if changes is not None:
                changes._queue.append(message)
                if changes._wakeup is not None:
                    changes._wakeup()

        def remote() -> None:
            changes = me()
            if changes is None:
                return
            changes._woken = True  # seen by a wait that has not begun yet
            wake = changes._wakeup_threadsafe
            if wake is not None:
                with contextlib.suppress(RuntimeError):  # the event loop has ended meanwhile
                    wake()

        self._stop = listen(queued)
        self._unsubscribe = backend.on_remote_change(remote)

    def __aiter__(self) -> Changes:
        return self

    async def __anext__(self) -> dict[str, Any]:
        queue = self._queue
        while not queue:
            self._woken = False  # before the poll: a notice after it is not lost
            self._backend.poll()
            if not queue and not self._woken:
                await self._wait(self._backend.poll_seconds)
        return queue.popleft()

    async def _wait(self, seconds: float) -> None:
        """Wait `seconds` (for other processes' changes) or until this process makes a change,
        under whichever event loop runs us (the facade works under trio and asyncio)."""
        import sniffio

        try:
            if sniffio.current_async_library() == "trio":
                import trio

                event = trio.Event()
                token = trio.lowlevel.current_trio_token()
                self._wakeup = event.set
                self._wakeup_threadsafe = lambda: token.run_sync_soon(event.set)
                if self._woken:  # a notice came while we were getting ready
                    return
                with trio.move_on_after(seconds):
                    await event.wait()
            else:
                import asyncio

                waiting = asyncio.Event()
                loop = asyncio.get_running_loop()
                self._wakeup = waiting.set
                self._wakeup_threadsafe = lambda: loop.call_soon_threadsafe(waiting.set)
                if self._woken:  # a notice came while we were getting ready
                    return
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(waiting.wait(), seconds)
        finally:
            self._wakeup = self._wakeup_threadsafe = None

    def close(self) -> None:
        """Stop watching (idempotent)."""
        self._stop()
        self._unsubscribe()

    async def __aenter__(self) -> Changes:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self.close()

    def __del__(self) -> None:
        self.close()
