"""Storage objects: `[kv]` and `[db]`, the patch's persistent key-value and document stores.

Both are thin: each message is parsed into a typed command by the patch's storage, which runs it
(committing it) and builds the `op`-tagged reply; the box sends the reply on, inside the
cascade, and switches stores itself on a setStore command. The storage is opened on first use,
so a patch whose stores are never used touches no disk.

What the boxes understand is declared once, by storage's command classes: the `[msg]` shorthand
schemas (`schemas`) and the command, reply and operator lists of the help text are derived from
`patchflow.KV_COMMANDS` / `patchflow.DB_COMMANDS` on first use rather than when this module is
imported, because importing storage costs startup time a patch without stores should not pay.
"""

from __future__ import annotations

import contextlib
import inspect
import re
import textwrap
from collections.abc import Callable
from typing import Any

import patchflow
from patchflow import ArgumentError, Box, CommandError


class _FromCommands:
    """A class attribute derived from the box's command set on first use, then kept."""

    def __init__(self, derive: Callable[[type], Any]) -> None:
        self.derive = derive

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, instance: Any, cls: type) -> Any:
        value = self.derive(cls)
        setattr(cls, self.name, value)  # the class now holds the value: derived once per class
        return value


_PLACEHOLDER = re.compile(r"^( *)\{(\w+)\}$", re.M)


def _fill(template: str, lists: dict[str, list[str]]) -> str:
    """Replace each line `{name}` of a help template by the lines of `lists[name]`, indented
    as the placeholder is (a long line wraps under itself)."""

    def lines(match: re.Match[str]) -> str:
        indent = match[1]
        return "\n".join(_wrap(item, indent) for item in lists[match[2]])

    return _PLACEHOLDER.sub(lines, template)


def _wrap(item: str, indent: str, width: int = 92) -> str:
    return textwrap.fill(
        item,
        width,
        initial_indent=indent,
        subsequent_indent=indent + "    ",
        break_on_hyphens=False,
    )


class _StoreBox(Box):
    """What `[kv]` and `[db]` share: a store name, lazy opening, setStore, one outlet."""

    kind = ""  # "kv" or "db": which space of the patch's storage
    commands = _FromCommands(lambda cls: getattr(patchflow, f"{cls.kind.upper()}_COMMANDS"))
    schemas = _FromCommands(lambda cls: cls.commands.schemas)

    def __init__(self, store: str = "") -> None:
        super().__init__(inlets=1, outlets=1)
        self.store_name = store
        self._store: Any = None
        #: what this box watches (kv: None, db: collection names) → the function that stops it
        self._watches: dict[str | None, Callable[[], None]] = {}
        self._hold: Any = None
        #: makes the poll task look now (as another process's change does, on backends that
        #: push notices); set by the poll task
        self._wake_poll: Callable[[], None] = lambda: None

    @classmethod
    def from_text(cls, args: str, body: str | None = None) -> _StoreBox:
        words = args.split()
        if len(words) > 1:
            raise ArgumentError(
                f"takes at most one store name; got {args.strip()!r}"
                f" (write [{cls.name} {words[0]}] for a named store)"
            )
        return cls(words[0] if words else "")

    @classmethod
    def help_text(cls) -> str:
        """The docstring with its `{commands}`, `{replies}`, ... lines filled in."""
        return _fill(inspect.cleandoc(cls.__doc__ or ""), cls.commands.help())

    def _open(self) -> Any:
        opener = getattr(self.patch.storage, self.kind)
        home = opener(local=self.id)
        return home.store(self.store_name) if self.store_name else home

    def receive(self, inlet: int, message: Any) -> None:
        store = self._store
        if store is None:
            store = self._store = self._open()
        try:
            command = store.parse(message)
        except CommandError as error:
            verb = _watch_verb(message)  # watch and unwatch are the box's, not the store's
            if verb is not None:
                self._watch_command(store, verb, message)
            else:
                self._outlets[0](store.error_reply(error))
            return
        if isinstance(command, store.SetStore):
            self._store = store.store(command.value)
            self.store_name = command.value
        # committed before the reply goes out (straight to the outlet's sender, as `send` does)
        self._outlets[0](store.answer(command))

    # ---- watching (storage.md, "Watching a store") ----------------------------------------

    def _watch_command(self, store: Any, verb: str, message: Any) -> None:
        """Start or stop watching; each change is then sent as a cascade of its own."""
        collection = message.get("collection") if isinstance(message, dict) else None
        if isinstance(message, list) and len(message) > 1:
            collection = message[1]
        if self.kind == "db" and verb == "watch" and not isinstance(collection, str):
            self.send(
                store.error_reply(
                    CommandError(
                        f"db: 'watch' needs a collection name, e.g. {{type: \"watch\","
                        f' collection: "notes"}}; got {message!r}'
                    )
                )
            )
            return
        what = collection if self.kind == "db" else None
        if verb == "unwatch":
            for name in [what] if what is not None else list(self._watches):
                stop = self._watches.pop(name, None)
                if stop is not None:
                    stop()
            if not self._watches and self._hold is not None:
                self._hold.release()
                self._hold = None
                self._wake_poll()  # the poll task ends now, not at its next look
            self.send({"op": "unwatch", "ok": True})
            return
        try:
            stop = store.on_change(self._changed, what)
        except CommandError as error:
            self.send(store.error_reply(error))
            return
        old = self._watches.pop(what, None)
        if old is not None:
            old()
        self._watches[what] = stop
        if self._hold is None:
            self._hold = self.patch.hold()
            self.patch.start_soon(self._poll, self._hold)
        self.send({"op": "watch", "ok": True})

    def _changed(self, message: dict[str, Any]) -> None:
        """Called right after a commit (maybe inside another box's cascade): send it later."""
        self.patch.post(lambda: self.send(message), self)

    async def _poll(self, hold: Any) -> None:
        """Look for other processes' changes (and expiries) while this watch lasts: every
        `poll_seconds`, and at once when the backend says another process changed something."""
        import trio

        storage = self.patch.storage
        token = trio.lowlevel.current_trio_token()
        woken = [trio.Event()]

        def wake() -> None:
            woken[0].set()

        def wake_from_thread() -> None:  # the backend's listening thread
            with contextlib.suppress(trio.RunFinishedError):
                token.run_sync_soon(wake)

        self._wake_poll = wake
        stop = storage.on_remote_change(wake_from_thread)
        try:
            while self._hold is hold:
                with trio.move_on_after(storage.poll_seconds):
                    await woken[0].wait()
                woken[0] = trio.Event()
                if self._hold is hold:
                    try:
                        storage.poll_changes()
                    except patchflow.PatchflowError as error:  # storage failed: say so, stop
                        self.patch.report(self, error)
                        return
        finally:
            stop()


def _watch_verb(message: Any) -> str | None:
    """Return "watch" or "unwatch" if the message asks for it (not a storage command)."""
    if isinstance(message, dict):
        verb = message.get("type")
    elif isinstance(message, list) and message:
        verb = message[0]
    else:
        verb = message
    return verb if verb in ("watch", "unwatch") else None


class KV(_StoreBox):
    """A key-value store of this patch's persistent storage.

    `[kv]` is a local store, private to this box (keyed by its id); `[kv NAME]` is the named
    store NAME, shared by every `[kv NAME]` box and by `kv.store("NAME")` in `[py]`. Every
    reply is sent after its command is committed to disk, inside the sending cascade. Commands
    come as typed dicts (`{type: "get", key: "count"}`), verb-keyed dicts
    (`{set: ["count", 5]}`) or lists (`["set", "count", 5]`); what is not understood gets an
    `{op: "error", message}` reply and nothing is stored.

    Arguments:
        store: the name of a shared store (default: this box's local store)

    Inlets:
        0: a command:
           {commands}
           {type: "watch"}: send {op: "changed", key, value, found} for every later change
               to the store, by any box, program or process (found: false when deleted or
               expired), each as a cascade of its own; the patch runs on until
           {type: "unwatch"}

    Outlets:
        0: the replies:
           {replies}
           {op: "watch", ok}, {op: "unwatch", ok}, {op: "changed", key, value, found}

    Example:
        store = [kv counter]
        [loadbang] -> [msg set count 1, get count] -> store -> [print]
    """

    name = "kv"
    kind = "kv"


class DB(_StoreBox):
    """A document store of this patch's persistent storage: collections of documents.

    `[db]` is a local store, `[db NAME]` the shared store NAME (also `db.store("NAME")` in
    `[py]`). Collections are created by their first insert. Documents get `_id` (a 21-character
    nanoid unless the doc brings its own unused string `_id`), `_created` and `_updated`
    (milliseconds since the epoch). `find` returns insertion order unless `sort` is given.
    Queries match fields or dotted paths by equality (list fields by membership) or with
    operators, e.g. `{age: {$gte: 18}, tags: "x"}`:
        {operators}

    Arguments:
        store: the name of a shared store (default: this box's local store)

    Inlets:
        0: a command:
           {commands}
           {type: "watch", collection}: send {op: "changed", collection, id, doc} for every
               later change to the collection (doc: null when deleted), each as a cascade of
               its own; the patch runs on until
           {type: "unwatch", collection?} (without collection: every watch of this box)

    Outlets:
        0: the replies:
           {replies}
           {op: "watch", ok}, {op: "unwatch", ok}, {op: "changed", collection, id, doc}

    Example:
        notes = [db]
        [loadbang] -> [msg insert notes {text: "hi"}, find notes] -> notes -> [print]
    """

    name = "db"
    kind = "db"


BOXES = (KV, DB)
