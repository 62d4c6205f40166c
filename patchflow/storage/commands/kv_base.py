"""What every kv command shares: its owner, the key it names, and reading a stored value.

`kv.py` lists the commands; this module is their common ground, so that `kv_updates.py` can
declare commands without importing `kv.py` (which imports it).
"""

from __future__ import annotations

from typing import Any, ClassVar

import attrs

from ...errors import CommandError
from ..layout import codec, expiry, keys
from .base import ABSENT, Command, command_class, invalid, text

__all__ = [
    "MARKER",
    "MAX_TTL_MS",
    "SPACE",
    "KeyCommand",
    "KvBase",
    "encoded_value",
    "key_bytes_of",
    "live_value",
]

SPACE = "kv"
MARKER = expiry.MARKER
#: the longest ttl (ms): about 285,000 years, and still an exact float
MAX_TTL_MS = 2**53


def live_value(raw: bytes | None, now: int) -> Any:
    """The value stored as `raw`, or ABSENT when there is none or it has expired at `now`."""
    if raw is None:
        return ABSENT
    if raw[0] == MARKER:
        return ABSENT if expiry.is_expired(raw, now) else codec.decode(expiry.payload(raw))
    return codec.decode(raw)


def encoded_value(command: Any, value: Any) -> bytes:
    try:
        return codec.encode(value, "value")
    except CommandError as error:
        raise invalid(command, str(error)) from None


def key_bytes_of(command: Any) -> bytes:
    try:
        return keys.encode_key(command.key)
    except CommandError as error:
        raise invalid(command, str(error)) from None


class KvBase(Command):
    """Every kv command: its owner."""

    __slots__ = ()
    owner: ClassVar[str] = "kv"


@command_class
class KeyCommand(KvBase):
    """Shared by the commands that name one key: the key, and its bytes computed once."""

    key: str = text()
    key_bytes: bytes = attrs.field(init=False, repr=False, eq=False)

    def __attrs_post_init__(self) -> None:
        self.key_bytes = key_bytes_of(self)
