"""The kv commands that read and write in one transaction: incr, cas, and the ttl query.

Declared like every kv command (`kv.py` lists them in `KV_COMMANDS`); kept apart only to keep
`kv.py` small.
"""

from __future__ import annotations

from typing import Any, ClassVar

import attrs

from ...errors import CommandError
from ...values import is_number, same_value
from ..backends.protocol import Backend, WriteTxn
from ..layout import codec, expiry
from ..layout.keys import StoreRef
from .base import ABSENT, InvalidCommand, any_value, command_class, describe, invalid, optional
from .kv_base import SPACE, KeyCommand, encoded_value, live_value

__all__ = ["Cas", "Incr", "Ttl"]


@command_class
class Incr(KeyCommand):
    """Add `by` (default 1) to the number under `key` in one transaction; give the new value.

    A missing key counts from 0; a key holding anything but a number is an error. Atomic across
    processes: N processes each adding 1 a thousand times leave exactly N×1000. A ttl is kept.
    """

    verb: ClassVar[str] = "incr"
    replies: ClassVar[tuple[str, ...]] = ("key", "value")

    by: int | float = optional(1, "number")

    def __attrs_post_init__(self) -> None:
        super().__attrs_post_init__()
        if not is_number(self.by):
            raise invalid(self, f"needs by to be a number, not {describe(self.by)}")

    def run(self, backend: Backend, store: StoreRef) -> int | float:
        full_key, by = store.prefix + self.key_bytes, self.by

        def add(txn: WriteTxn) -> int | float:
            now = expiry.now_ms()
            raw = txn.get(SPACE, full_key)
            current = live_value(raw, now)
            due = None
            if current is ABSENT:
                current = 0
            elif not is_number(current):
                raise InvalidCommand(
                    "kv",
                    "incr",
                    f"cannot add to key {describe(self.key)}: it holds {describe(current)},"
                    " not a number; set it to a number first",
                )
            else:
                due = expiry.due_of(raw)  # type: ignore[arg-type]
            value = current + by
            try:
                encoded = codec.encode(value, "value")
            except CommandError as error:
                raise InvalidCommand("kv", "incr", f"cannot store the sum: {error}") from None
            expiry.put(txn, full_key, encoded, due)
            return value

        return backend.write(add)

    def reply(self, result: int | float) -> dict[str, Any]:
        return {"op": "incr", "key": self.key, "value": result}


@command_class
class Cas(KeyCommand):
    """Store `value` under `key` only if it holds `expected` now (`None`: only if missing).

    The reply's `value` is what the key holds afterwards; in Python, `cas` returns whether it
    stored. Equality is `patchflow.values.same_value` (1 is 1.0, not true). The key keeps no ttl.
    """

    verb: ClassVar[str] = "cas"
    replies: ClassVar[tuple[str, ...]] = ("key", "ok", "value")

    expected: Any = any_value()
    value: Any = any_value()
    encoded: bytes = attrs.field(init=False, repr=False, eq=False)

    def __attrs_post_init__(self) -> None:
        super().__attrs_post_init__()
        object.__setattr__(self, "encoded", encoded_value(self, self.value))

    def run(self, backend: Backend, store: StoreRef) -> tuple[bool, Any]:
        full_key, expected = store.prefix + self.key_bytes, self.expected

        def swap(txn: WriteTxn) -> tuple[bool, Any]:
            now = expiry.now_ms()
            current = live_value(txn.get(SPACE, full_key), now)
            if expected is None:
                ok = current is ABSENT
            else:
                ok = current is not ABSENT and same_value(current, expected)
            if ok:
                expiry.put(txn, full_key, self.encoded)
            return ok, (self.value if ok else current)

        return backend.write(swap)

    def reply(self, result: tuple[bool, Any]) -> dict[str, Any]:
        ok, value = result
        value = None if value is ABSENT else value
        return {"op": "cas", "key": self.key, "ok": ok, "value": value}

    def python_value(self, result: tuple[bool, Any]) -> bool:
        return result[0]


@command_class
class Ttl(KeyCommand):
    """Say how many milliseconds `key` has left before it expires (`None`: it never does).

    `found` is false for a missing (or expired) key; in Python, `ttl` returns the milliseconds
    left, or None both for a key without expiry and a missing one (`has` tells them apart).
    """

    verb: ClassVar[str] = "ttl"
    replies: ClassVar[tuple[str, ...]] = ("key", "ttl", "found")

    def run(self, backend: Backend, store: StoreRef) -> tuple[bool, int | None]:
        raw = backend.get(SPACE, store.prefix + self.key_bytes)
        if raw is None:
            return False, None
        due = expiry.due_of(raw)
        if due is None:
            return True, None
        left = due - expiry.now_ms()
        return (True, left) if left > 0 else (False, None)

    def reply(self, result: tuple[bool, int | None]) -> dict[str, Any]:
        found, left = result
        return {"op": "ttl", "key": self.key, "ttl": left, "found": found}

    def python_value(self, result: tuple[bool, int | None]) -> int | None:
        return result[1]
