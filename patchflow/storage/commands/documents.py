"""What a stored db document is, and the bases the db commands share.

Documents (keys.py has the layout): an insert takes the collection's next sequence number, so a
prefix scan of the collection's `docs` lists documents in insertion order whatever their `_id`s.
Every stored document is `{_id, _created, _updated, ...user fields}`, in that field order:

- `_id`: the inserted doc's own `_id` if it has one (a non-empty string, unused in that
  collection — otherwise the insert is an error), else a new 21-character nanoid.
- `_created`, `_updated`: integer milliseconds since the epoch. Insert sets both, overwriting
  any the doc brings. `update`/`replace` keep `_created` and set `_updated` to the current time,
  or to one more than its old value if the clock has not moved on (or went back), so every
  change strictly increases it. `_id`, `_created` and `_updated` in an update or replace doc
  are ignored.
- `update` merges shallowly (the doc's fields replace whole fields; new fields go last);
  `replace` swaps every user field for the doc's.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, ClassVar

import attrs
import nanoid

from ...errors import CommandError
from ..backends.protocol import WriteTxn
from ..layout import codec, keys
from ..layout.keys import StoreRef
from .base import Command, command_class, invalid, text
from .scan import COLLECTIONS

#: fields every stored document has, set by the store and never by an update or replace
SYSTEM_FIELDS = ("_id", "_created", "_updated")
_SYSTEM = frozenset(SYSTEM_FIELDS)


def now_ms() -> int:
    """The current time in integer milliseconds since the epoch, as `_created`/`_updated` hold."""
    return time.time_ns() // 1_000_000


def new_id() -> str:
    """A new document id: a 21-character nanoid (`A-Za-z0-9_-`)."""
    return nanoid.generate()


def checked(command: Any, fn: Callable[..., Any], *args: Any) -> Any:
    """Call `fn(*args)`; turn its CommandError into the command's error, as `invalid` does."""
    try:
        return fn(*args)
    except CommandError as error:
        # query.py's messages start with `db: `, which the command's error adds again
        raise invalid(command, str(error).removeprefix("db: ")) from None


def user_fields(command: Any, doc: dict[str, Any]) -> dict[str, Any]:
    """Return the doc without its system fields, checking that it can be stored."""
    user = {key: value for key, value in doc.items() if key not in _SYSTEM}
    checked(command, codec.encode, user, "doc")
    return user


def restamp(txn: WriteTxn, entry_key: bytes) -> None:
    """Record that a collection's documents changed (see scan.py's cache)."""
    entry = txn.get(COLLECTIONS, entry_key)
    if entry is not None:
        txn.put(COLLECTIONS, entry_key, keys.collection_entry(keys.decode_seq(entry)))


def bumped(old: dict[str, Any], now: int) -> int:
    """The new `_updated` of a changed doc: now, but always more than the old value."""
    previous = old.get("_updated")
    if type(previous) is int and previous >= now:
        return previous + 1
    return now


class DbCommandBase(Command):
    __slots__ = ()
    owner: ClassVar[str] = "db"


@command_class
class CollectionCommand(DbCommandBase):
    """Shared by every db command but setStore: the collection, and its bytes computed once."""

    collection: str = text()
    collection_bytes: bytes = attrs.field(init=False, repr=False, eq=False)

    def __attrs_post_init__(self) -> None:
        encoded = checked(self, keys.encode_collection, self.collection)
        object.__setattr__(self, "collection_bytes", encoded)

    def _where(self, store: StoreRef) -> tuple[bytes, bytes]:
        """Return the collection's key prefix and the key of its entry in `collections`."""
        return (
            keys.collection_prefix(store, self.collection_bytes),
            keys.collection_key(store, self.collection_bytes),
        )


@command_class
class DocIdCommand(CollectionCommand):
    """Shared by the commands that name one document: collection and id, and their bytes."""

    id: str = text()
    id_bytes: bytes = attrs.field(init=False, repr=False, eq=False)

    def __attrs_post_init__(self) -> None:
        super().__attrs_post_init__()
        object.__setattr__(self, "id_bytes", checked(self, keys.encode_doc_id, self.id))

    def _locate(self, store: StoreRef) -> tuple[bytes, bytes, bytes]:
        """Return the collection's prefix and entry key, and the key of this id in `ids`."""
        prefix, entry_key = self._where(store)
        return prefix, entry_key, prefix + self.id_bytes
