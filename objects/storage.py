"""Storage objects: `[kv]` and `[db]`, the patch's persistent key-value and document stores.

Both are thin: they hand each message to the patch's storage (which parses it into a typed
command, commits it and builds the `op`-tagged reply) and send the reply on, inside the cascade.
The storage is opened on first use, so a patch whose stores are never used touches no disk.
"""

from __future__ import annotations

from typing import Any

from patchflow import DB_SCHEMAS, KV_SCHEMAS, ArgumentError, Box


class _StoreBox(Box):
    """What `[kv]` and `[db]` share: a store name, lazy opening, setStore, one outlet."""

    kind = ""  # "kv" or "db": which space of the patch's storage

    def __init__(self, store: str = "") -> None:
        super().__init__(inlets=1, outlets=1)
        self.store_name = store
        self._store: Any = None

    @classmethod
    def from_text(cls, args: str, body: str | None = None) -> _StoreBox:
        words = args.split()
        if len(words) > 1:
            raise ArgumentError(
                f"takes at most one store name; got {args.strip()!r}"
                f" (write [{cls.name} {words[0]}] for a named store)"
            )
        return cls(words[0] if words else "")

    def _open(self) -> Any:
        opener = getattr(self.patch.storage, self.kind)
        home = opener(local=self.id)
        return home.store(self.store_name) if self.store_name else home

    def receive(self, inlet: int, message: Any) -> None:
        store = self._store
        if store is None:
            store = self._store = self._open()
        reply = store.reply_to(message)  # commits inline, before the reply goes out
        if reply.get("op") == "setStore":
            self._store = store.store(reply["value"])
            self.store_name = reply["value"]
        self.send(reply)


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
        0: a command: get{key}, set{key, value}, delete{key}, has{key}, keys, clear,
           setStore{value} ("" returns to the local store)

    Outlets:
        0: the replies: {op: "get", key, value, found}, {op: "set", key, ok},
           {op: "delete", key, deleted}, {op: "has", key, exists}, {op: "keys", keys},
           {op: "clear", ok}, {op: "setStore", value, ok}, {op: "error", message}

    Example:
        store = [kv counter]
        [loadbang] -> [msg set count 1, get count] -> store -> [print]
    """

    name = "kv"
    kind = "kv"
    schemas = KV_SCHEMAS


class DB(_StoreBox):
    """A document store of this patch's persistent storage: collections of documents.

    `[db]` is a local store, `[db NAME]` the shared store NAME (also `db.store("NAME")` in
    `[py]`). Collections are created by their first insert. Documents get `_id` (a 21-character
    nanoid unless the doc brings its own unused string `_id`), `_created` and `_updated`
    (milliseconds since the epoch). `find` returns insertion order unless `sort` is given.
    Queries match fields or dotted paths by equality (list fields by membership) or with the
    operators $eq $ne $gt $gte $lt $lte $in $nin $contains $exists.

    Arguments:
        store: the name of a shared store (default: this box's local store)

    Inlets:
        0: a command: insert{collection, doc}, find{collection, query?, sort?, limit?, skip?},
           findOne{collection, id}, update{collection, id, doc}, replace{collection, id, doc},
           delete{collection, id}, count{collection, query?}, drop{collection},
           setStore{value}

    Outlets:
        0: the replies: {op: "insert", collection, id}, {op: "find", collection, docs, count},
           {op: "findOne", collection, id, doc}, {op: "update" | "replace" | "delete",
           collection, id, ok}, {op: "count", collection, count}, {op: "drop", collection,
           ok}, {op: "error", message}

    Example:
        notes = [db]
        [loadbang] -> [msg insert notes {text: "hi"}, find notes] -> notes -> [print]
    """

    name = "db"
    kind = "db"
    schemas = DB_SCHEMAS


BOXES = (KV, DB)
