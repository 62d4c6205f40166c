"""The kv commands: typed, validated when built, each run as one backend transaction.

A `[kv]` box and the Python `KV` both go through these classes, so a bad argument gives the same
message either way. Each command has:

- `run(backend, store)`: do it against `store` (a `StoreRef`) in one transaction and return a
  Python result (`Get` returns `MISSING` when the key is absent, so a stored `None` is found);
- `reply(result)`: the reply dict of storage.md's kv table.

`SetStore` changes no data: it validates the store name and builds the reply; switching stores
is the box's business (`StoreRef.for_box(box_id, command.value)`, or `KV.store(value)`).
"""

from __future__ import annotations

from typing import Any, ClassVar

import attrs

from ..errors import CommandError
from . import codec, keys
from .backend import Backend
from .commands import MISSING, invalid, parse_command
from .keys import StoreRef

__all__ = [
    "KV_COMMANDS",
    "Clear",
    "Delete",
    "Get",
    "Has",
    "Keys",
    "KvCommand",
    "Set",
    "SetStore",
    "parse_kv_command",
]

_SPACE = "kv"


def _is_string(command: Any, attribute: attrs.Attribute, value: Any) -> None:
    if not isinstance(value, str):
        raise invalid(command)


def _is_present(command: Any, attribute: attrs.Attribute, value: Any) -> None:
    if value is MISSING:
        raise invalid(command)


def _key_bytes(command: Any) -> bytes:
    try:
        return keys.encode_key(command.key)
    except CommandError as error:
        raise invalid(command, str(error)) from None


@attrs.frozen
class _KeyCommand:
    """Shared by the commands that name one key: the key, and its bytes computed once."""

    owner: ClassVar[str] = "kv"
    needs: ClassVar[str] = "key (string)"

    key: str = attrs.field(default=MISSING, validator=_is_string)
    key_bytes: bytes = attrs.field(init=False, repr=False, eq=False)

    def __attrs_post_init__(self) -> None:
        object.__setattr__(self, "key_bytes", _key_bytes(self))


@attrs.frozen
class Get(_KeyCommand):
    """Read the value under `key`."""

    verb: ClassVar[str] = "get"

    @classmethod
    def of(cls, key: Any) -> Get:
        """A get of `key`, built without attrs' generic path (the hot read path); or the
        CommandError the generic path gives."""
        if type(key) is not str:
            return cls(key)  # raises the documented error
        command = object.__new__(cls)
        object.__setattr__(command, "key", key)
        object.__setattr__(command, "key_bytes", _key_bytes(command))
        return command

    def run(self, backend: Backend, store: StoreRef) -> Any:
        raw = backend.get(_SPACE, store.prefix + self.key_bytes)
        return MISSING if raw is None else codec.decode(raw)

    def reply(self, result: Any) -> dict[str, Any]:
        found = result is not MISSING
        return {"op": "get", "key": self.key, "value": result if found else None, "found": found}


@attrs.frozen
class Set(_KeyCommand):
    """Store `value` under `key` (a stored `None` is a value like any other)."""

    verb: ClassVar[str] = "set"
    needs: ClassVar[str] = "key (string) and value"

    value: Any = attrs.field(default=MISSING, validator=_is_present)
    #: the value's msgpack bytes, encoded (and so checked) once, when the command is built
    encoded: bytes = attrs.field(init=False, repr=False, eq=False)

    def __attrs_post_init__(self) -> None:
        super().__attrs_post_init__()
        try:
            encoded = codec.encode(self.value, "value")
        except CommandError as error:
            raise invalid(self, str(error)) from None
        object.__setattr__(self, "encoded", encoded)

    def run(self, backend: Backend, store: StoreRef) -> None:
        full_key, encoded = store.prefix + self.key_bytes, self.encoded
        backend.write(lambda txn: txn.put(_SPACE, full_key, encoded))

    def reply(self, result: None) -> dict[str, Any]:
        return {"op": "set", "key": self.key, "ok": True}


@attrs.frozen
class Delete(_KeyCommand):
    """Remove `key`; the result says whether it was there."""

    verb: ClassVar[str] = "delete"

    def run(self, backend: Backend, store: StoreRef) -> bool:
        full_key = store.prefix + self.key_bytes
        return backend.write(lambda txn: txn.delete(_SPACE, full_key))

    def reply(self, result: bool) -> dict[str, Any]:
        return {"op": "delete", "key": self.key, "deleted": result}


@attrs.frozen
class Has(_KeyCommand):
    """Say whether `key` holds a value (a stored `None` counts)."""

    verb: ClassVar[str] = "has"

    def run(self, backend: Backend, store: StoreRef) -> bool:
        return backend.get(_SPACE, store.prefix + self.key_bytes) is not None

    def reply(self, result: bool) -> dict[str, Any]:
        return {"op": "has", "key": self.key, "exists": result}


@attrs.frozen
class Keys:
    """List this store's keys, sorted by code point, without the store prefix."""

    owner: ClassVar[str] = "kv"
    verb: ClassVar[str] = "keys"
    needs: ClassVar[str] = ""

    def run(self, backend: Backend, store: StoreRef) -> list[str]:
        prefix = store.prefix
        start = len(prefix)
        return backend.read(
            lambda txn: [key[start:].decode() for key, _ in txn.scan(_SPACE, prefix)]
        )

    def reply(self, result: list[str]) -> dict[str, Any]:
        return {"op": "keys", "keys": result}


@attrs.frozen
class Clear:
    """Remove every key of this store (and of no other)."""

    owner: ClassVar[str] = "kv"
    verb: ClassVar[str] = "clear"
    needs: ClassVar[str] = ""

    def run(self, backend: Backend, store: StoreRef) -> None:
        prefix = store.prefix
        backend.write(lambda txn: txn.delete_prefix(_SPACE, prefix))

    def reply(self, result: None) -> dict[str, Any]:
        return {"op": "clear", "ok": True}


@attrs.frozen
class SetStore:
    """Switch the box to the store named `value`; `""` returns it to its local store.

    Running it changes no data; the box switches (`StoreRef.for_box(box_id, value)`).
    """

    owner: ClassVar[str] = "kv"
    verb: ClassVar[str] = "setStore"
    needs: ClassVar[str] = "value (string)"

    value: str = attrs.field(default=MISSING, validator=_is_string)

    def __attrs_post_init__(self) -> None:
        if self.value:
            try:
                StoreRef.named(self.value)
            except CommandError as error:
                raise invalid(self, str(error)) from None

    def store_for(self, box_id: str) -> StoreRef:
        """Return the store a box with id `box_id` uses after this command."""
        return StoreRef.for_box(box_id, self.value)

    def run(self, backend: Backend, store: StoreRef) -> None:
        return None

    def reply(self, result: None) -> dict[str, Any]:
        return {"op": "setStore", "value": self.value, "ok": True}


KvCommand = Get | Set | Delete | Has | Keys | Clear | SetStore

#: verb → command class, in the order error messages list them
KV_COMMANDS: dict[str, type[KvCommand]] = {
    cls.verb: cls for cls in (Get, Set, Delete, Has, Keys, Clear, SetStore)
}


def parse_kv_command(message: Any) -> KvCommand:
    """Return the kv command `message` asks for, in any of the three forms (see `commands.py`).

    Raises:
        CommandError: with the message of the `{op: "error"}` reply, e.g.
            `kv: unknown command "bang"; expected one of get, set, delete, has, keys, clear,
            setStore`.
    """
    # the typed get, by far the most frequent command, skips the generic parse
    if (
        type(message) is dict
        and len(message) == 2
        and message.get("type") == "get"
        and "key" in message
    ):
        return Get.of(message["key"])
    return parse_command("kv", message, KV_COMMANDS)
