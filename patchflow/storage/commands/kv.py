"""The kv commands: one class per command, each run as one backend transaction.

A `[kv]` box and the Python `KV` both go through these classes, so a bad argument gives the same
message either way. Each class is the one declaration of its command (see `commands.py`): its
fields, verb, reply fields and one-line help, from which `KV_COMMANDS` derives the parser, the
`[msg]` shorthand schemas, the `[kv]` help lists and the `KV` methods. To add a command, write
its class here and list it in `KV_COMMANDS`.

`SetStore` changes no data: it validates the store name; switching stores is the box's business
(it sees the SetStore command and calls `KV.store(value)`).

Expiry (`set` with `ttl`) is `layout/expiry.py`'s: an expired key reads as missing to every
command here, and writes sweep expired keys away (`ChangeLog.write`, the write path). `keys` queries
are `key_query.py`'s, `batch` is `batch.py`'s; `incr`, `cas` and `ttl` are in `kv_updates.py`
(the bases all kv commands share are in `kv_base.py`).
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import attrs

from ...errors import CommandError
from ...values import is_number
from ..backends.protocol import Backend, WriteTxn
from ..layout import codec, expiry, keys
from ..layout.keys import StoreRef
from .base import ABSENT, any_value, command_class, describe, invalid, optional, text
from .batch import BatchBase
from .command_set import CommandSet
from .key_query import KeyRange, compile_glob
from .kv_base import (
    MARKER,
    MAX_TTL_MS,
    SPACE,
    KeyCommand,
    KvBase,
    live_value,
)
from .kv_updates import Cas, Incr, Ttl

__all__ = [
    "KV_COMMANDS",
    "Batch",
    "Cas",
    "Clear",
    "Delete",
    "Get",
    "Has",
    "Incr",
    "Keys",
    "KvCommand",
    "Set",
    "SetStore",
    "Ttl",
    "parse_kv_command",
]


@command_class
class Get(KeyCommand):
    """Read the value under `key`.

    In Python a missing key reads as None; the reply's `found` tells a stored None apart.
    """

    verb: ClassVar[str] = "get"
    replies: ClassVar[tuple[str, ...]] = ("key", "value", "found")

    def run(self, backend: Backend, store: StoreRef) -> Any:
        raw = backend.get(SPACE, store.prefix + self.key_bytes)
        if raw is None:
            return ABSENT
        if raw[0] == MARKER:
            return live_value(raw, expiry.now_ms())
        return codec.decode(raw)

    def reply(self, result: Any) -> dict[str, Any]:
        found = result is not ABSENT
        return {"op": "get", "key": self.key, "value": result if found else None, "found": found}

    def python_value(self, result: Any) -> Any:
        return None if result is ABSENT else result


@command_class
class Set(KeyCommand):
    """Store `value` under `key`, expiring `ttl` milliseconds later if given.

    A stored `None` is a value like any other. Without `ttl` the key never expires (a ttl it
    had is dropped).
    """

    verb: ClassVar[str] = "set"
    replies: ClassVar[tuple[str, ...]] = ("key", "ok")

    value: Any = any_value()
    ttl: int | float | None = optional(None, "milliseconds > 0", keyword=True)
    #: the value's msgpack bytes, encoded (and so checked) once, when the command is built
    encoded: bytes = attrs.field(init=False, repr=False, eq=False)
    #: the ttl in whole milliseconds (rounded up), or None
    ttl_ms: int | None = attrs.field(init=False, repr=False, eq=False)

    def __attrs_post_init__(self) -> None:
        # (the hot path of every set and of each set in a batch: no super(), no helper calls;
        # the errors are KeyCommand's and encoded_value's)
        try:
            self.key_bytes = keys.encode_key(self.key)
            self.encoded = codec.encode(self.value, "value")
        except CommandError as error:
            raise invalid(self, str(error)) from None
        ttl = self.ttl
        if ttl is None:
            self.ttl_ms = None
            return
        if not is_number(ttl) or not 0 < ttl <= MAX_TTL_MS:
            raise invalid(self, f"needs ttl to be milliseconds, a number > 0 and <= {MAX_TTL_MS}")
        self.ttl_ms = math.ceil(ttl)

    def run(self, backend: Backend, store: StoreRef) -> None:
        backend.write(lambda txn: self.apply(txn, store))

    def apply(self, txn: WriteTxn, store: StoreRef) -> None:
        ttl = self.ttl_ms
        due = None if ttl is None else expiry.now_ms() + ttl
        expiry.put(txn, store.prefix + self.key_bytes, self.encoded, due)

    def reply(self, result: None) -> dict[str, Any]:
        return {"op": "set", "key": self.key, "ok": True}


@command_class
class Delete(KeyCommand):
    """Remove `key`; say whether it was there."""

    verb: ClassVar[str] = "delete"
    replies: ClassVar[tuple[str, ...]] = ("key", "deleted")

    def run(self, backend: Backend, store: StoreRef) -> bool:
        full_key = store.prefix + self.key_bytes

        def delete(txn: WriteTxn) -> bool:
            old = expiry.remove(txn, full_key)
            return old is not None and not expiry.is_expired(old, expiry.now_ms())

        return backend.write(delete)

    def reply(self, result: bool) -> dict[str, Any]:
        return {"op": "delete", "key": self.key, "deleted": result}


@command_class
class Has(KeyCommand):
    """Say whether `key` holds a value (a stored `None` counts)."""

    verb: ClassVar[str] = "has"
    replies: ClassVar[tuple[str, ...]] = ("key", "exists")

    def run(self, backend: Backend, store: StoreRef) -> bool:
        raw = backend.get(SPACE, store.prefix + self.key_bytes)
        return raw is not None and not (
            raw[0] == MARKER and expiry.is_expired(raw, expiry.now_ms())
        )

    def reply(self, result: bool) -> dict[str, Any]:
        return {"op": "has", "key": self.key, "exists": result}


@command_class
class Keys(KvBase):
    """List this store's keys in code-point order: all, or those a glob, prefix or range names.

    `pattern` is a glob (`*`, `?`, `[abc]`, `\\` escapes); `start` (inclusive) and `end`
    (exclusive) bound a range; `limit` caps the count; `reverse` lists the same keys from the
    highest down. Only the keys named are read, not the whole store.
    """

    verb: ClassVar[str] = "keys"
    replies: ClassVar[tuple[str, ...]] = ("keys",)

    pattern: str | None = optional(None, "glob", keyword=True)
    prefix: str | None = optional(None, "string", keyword=True)
    start: str | None = optional(None, "string", keyword=True)
    end: str | None = optional(None, "string", keyword=True)
    limit: int | None = optional(None, "integer >= 0", keyword=True)
    reverse: bool = optional(False, "bool", keyword=True)
    query: KeyRange = attrs.field(init=False, repr=False, eq=False)

    def __attrs_post_init__(self) -> None:
        for name in ("pattern", "prefix", "start", "end"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, str):
                raise invalid(self, f"needs {name} to be a string, not {describe(value)}")
            if value is not None:
                try:
                    keys.encode_key(value) if name != "pattern" else value.encode("utf-8")
                except (CommandError, UnicodeEncodeError) as error:
                    raise invalid(self, f"{name}: {error}") from None
        limit = self.limit
        if limit is not None and not (is_number(limit) and limit == int(limit) and limit >= 0):
            raise invalid(self, f"needs limit to be an integer >= 0, not {describe(limit)}")
        if not isinstance(self.reverse, bool):
            raise invalid(self, f"needs reverse to be true or false, not {describe(self.reverse)}")
        try:
            glob = None if self.pattern is None else compile_glob(self.pattern)
        except CommandError as error:
            raise invalid(self, str(error)) from None
        query = KeyRange(
            self.prefix or "",
            glob,
            self.start,
            self.end,
            None if limit is None else int(limit),
            self.reverse,
        )
        object.__setattr__(self, "query", query)

    def run(self, backend: Backend, store: StoreRef) -> list[str]:
        prefix, query = store.prefix, self.query
        return backend.read(lambda txn: query.read(txn, prefix, expiry.now_ms()))

    def reply(self, result: list[str]) -> dict[str, Any]:
        return {"op": "keys", "keys": result}


@command_class
class Clear(KvBase):
    """Remove every key of this store (other stores keep theirs)."""

    verb: ClassVar[str] = "clear"
    replies: ClassVar[tuple[str, ...]] = ("ok",)

    def run(self, backend: Backend, store: StoreRef) -> None:
        prefix = store.prefix

        # the index entries of cleared expiring keys stay until they fall due (expiry.py)
        backend.write(lambda txn: txn.delete_prefix(SPACE, prefix))

    def reply(self, result: None) -> dict[str, Any]:
        return {"op": "clear", "ok": True}


@command_class
class SetStore(KvBase):
    """Switch the box to the store named `value`; "" returns to its local store.

    Running it changes no data; the box that receives it switches (`KV.store(value)`).
    """

    verb: ClassVar[str] = "setStore"
    replies: ClassVar[tuple[str, ...]] = ("value", "ok")
    as_method: ClassVar[bool] = False  # in Python, `KV.store(name)` returns a new KV
    batchable: ClassVar[bool] = False  # it switches the box, which a transaction cannot undo

    value: str = text()

    def __attrs_post_init__(self) -> None:
        if self.value:
            try:
                StoreRef.named(self.value)
            except CommandError as error:
                raise invalid(self, str(error)) from None

    def run(self, backend: Backend, store: StoreRef) -> None:
        return None

    def reply(self, result: None) -> dict[str, Any]:
        return {"op": "setStore", "value": self.value, "ok": True}


@command_class
class Batch(BatchBase):
    # its help is BatchBase's docstring
    owner: ClassVar[str] = "kv"

    @classmethod
    def command_set(cls) -> CommandSet:
        return KV_COMMANDS


KvCommand = Get | Set | Delete | Has | Keys | Clear | SetStore | Incr | Cas | Ttl | Batch


#: verb → command class, in the order help and error messages list them
KV_COMMANDS = CommandSet(
    "kv",
    (Get, Set, Delete, Has, Keys, Clear, SetStore, Incr, Cas, Ttl, Batch),
)


def parse_kv_command(message: Any) -> KvCommand:
    """Return the kv command `message` asks for, in any of the three forms (see `command_set`).

    Raises:
        CommandError: with the message of the `{op: "error"}` reply, e.g.
            `kv: unknown command "bang"; expected one of get, set, delete, has, keys, clear,
            setStore`.
    """
    return KV_COMMANDS.parse(message)
