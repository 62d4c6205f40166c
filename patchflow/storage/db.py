"""The db commands: typed, validated when built, each run as one backend transaction.

A `[db]` box and the Python `DB` both go through these classes, so a bad argument gives the same
message either way (see `kv.py` for the pattern). Each command has `run(backend, store)`, which
does it in one transaction (a write is committed before `run` returns) and returns a Python
result, and `reply(result)`, which builds the reply of storage.md's db table.

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

**Finding fast.** `find` and `count` read the collection in one read transaction. Before
decoding anything they test each document's raw msgpack bytes against the query's equality
terms (`_probes`): a document can only match `{group: 7}` if its bytes hold the key `group`
directly followed by `7` (as an int or an equal float) or by a list, which may contain it.
Only documents passing that test are decoded (all at once, as one msgpack array), matched and
sorted. `{_id: "..."}` is looked up by id instead, and `count` without a query decodes nothing.

A collection read in full is kept, as one bytes object (`_Snapshot`), in a small per-backend
cache (`_SnapshotCache`, at most `CACHE_BYTES`), together with the collection's entry in
`collections`. Every write to a collection rewrites that entry with a fresh random stamp (see
`keys.py`), in any process, so the next `find` reads the entry — one key, in the same read
transaction — and uses the cached copy only if the entry is unchanged. Repeated finds on a
collection that is not being written to then cost a regex scan of its bytes, not a walk over
its keys (which, through the backend's scan, costs about ten times as much).
"""

from __future__ import annotations

import math
import re
import threading
import time
import weakref
from array import array
from bisect import bisect_right
from collections import OrderedDict
from collections.abc import Callable, Iterable
from itertools import accumulate
from typing import Any, ClassVar

import attrs
import msgpack
import nanoid

from ..errors import CommandError
from . import codec, keys, query
from .backend import Backend, ReadTxn, WriteTxn
from .commands import MISSING, InvalidCommand, invalid, parse_command
from .keys import StoreRef
from .kv import SetStore

__all__ = [
    "DB_COMMANDS",
    "Count",
    "DbCommand",
    "DbSetStore",
    "DeleteDoc",
    "Drop",
    "Find",
    "FindOne",
    "Insert",
    "Replace",
    "Update",
    "new_id",
    "now_ms",
    "parse_db_command",
]

_DOCS, _IDS, _COLLECTIONS = "docs", "ids", "collections"

#: fields every stored document has, set by the store and never by an update or replace
SYSTEM_FIELDS = ("_id", "_created", "_updated")
_SYSTEM = frozenset(SYSTEM_FIELDS)

_unpackb = msgpack.unpackb
_MATCH_ALL = query.compile_query(None)


def _packb(value: Any) -> bytes:
    """Pack a value already checked by `codec.encode` (so it cannot fail)."""
    return msgpack.packb(value, use_bin_type=True)


def now_ms() -> int:
    """The current time in integer milliseconds since the epoch, as `_created`/`_updated` hold."""
    return time.time_ns() // 1_000_000


def new_id() -> str:
    """A new document id: a 21-character nanoid (`A-Za-z0-9_-`)."""
    return nanoid.generate()


# ---- field validation ----------------------------------------------------------------------


def _is_string(command: Any, attribute: attrs.Attribute, value: Any) -> None:
    if not isinstance(value, str):
        raise invalid(command)


def _is_dict(command: Any, attribute: attrs.Attribute, value: Any) -> None:
    if not isinstance(value, dict):
        raise invalid(command)


def _checked(command: Any, fn: Callable[..., Any], *args: Any) -> Any:
    """Call `fn(*args)`; turn its CommandError into the command's error, as `invalid` does."""
    try:
        return fn(*args)
    except CommandError as error:
        raise invalid(command, _problem(error)) from None


def _problem(error: CommandError) -> str:
    """An error's text without a leading `db: ` (query.py's messages start with it)."""
    return str(error).removeprefix("db: ")


def _user_fields(command: Any, doc: dict[str, Any]) -> dict[str, Any]:
    """Return the doc without its system fields, checking that it can be stored."""
    user = {key: value for key, value in doc.items() if key not in _SYSTEM}
    _checked(command, codec.encode, user, "doc")
    return user


class _CollectionCommand:
    """Shared by every db command but setStore: the collection name's bytes, computed once."""

    __slots__ = ()
    collection: str
    collection_bytes: bytes

    def __attrs_post_init__(self) -> None:
        encoded = _checked(self, keys.encode_collection, self.collection)
        object.__setattr__(self, "collection_bytes", encoded)


class _DocIdCommand(_CollectionCommand):
    """Shared by the commands that name one document: the id's bytes too."""

    __slots__ = ()
    id: str
    id_bytes: bytes

    def __attrs_post_init__(self) -> None:
        super().__attrs_post_init__()
        object.__setattr__(self, "id_bytes", _checked(self, keys.encode_doc_id, self.id))

    def _locate(self, store: StoreRef) -> tuple[bytes, bytes, bytes]:
        """Return the collection's prefix and entry key, and the key of this id in `ids`."""
        prefix = keys.collection_prefix(store, self.collection_bytes)
        entry_key = keys.collection_key(store, self.collection_bytes)
        return prefix, entry_key, prefix + self.id_bytes


def _restamp(txn: WriteTxn, entry_key: bytes) -> None:
    """Record that a collection's documents changed (see `_SnapshotCache`)."""
    entry = txn.get(_COLLECTIONS, entry_key)
    if entry is not None:
        txn.put(_COLLECTIONS, entry_key, keys.collection_entry(keys.decode_seq(entry)))


def _bumped(old: dict[str, Any], now: int) -> int:
    """The new `_updated` of a changed doc: now, but always more than the old value."""
    previous = old.get("_updated")
    if type(previous) is int and previous >= now:
        return previous + 1
    return now


# ---- commands ------------------------------------------------------------------------------


@attrs.frozen
class Insert(_CollectionCommand):
    """Add `doc` to `collection` (created by its first insert); the result is the new `_id`."""

    owner: ClassVar[str] = "db"
    verb: ClassVar[str] = "insert"
    needs: ClassVar[str] = "collection (string) and doc (dict)"

    collection: str = attrs.field(default=MISSING, validator=_is_string)
    doc: dict[str, Any] = attrs.field(default=MISSING, validator=_is_dict)
    collection_bytes: bytes = attrs.field(init=False, repr=False, eq=False)
    #: the doc's own `_id`, or None when the store is to make one
    given_id: str | None = attrs.field(init=False, repr=False, eq=False)
    user: dict[str, Any] = attrs.field(init=False, repr=False, eq=False)

    def __attrs_post_init__(self) -> None:
        super().__attrs_post_init__()
        given_id = self.doc.get("_id", MISSING)
        if given_id is MISSING:
            given_id = None
        elif not isinstance(given_id, str) or not given_id:
            raise invalid(self, "needs the doc's _id, when it has one, to be a non-empty string")
        else:
            given_id = str.__str__(given_id)
            try:
                keys.encode_doc_id(given_id)
            except CommandError as error:
                raise invalid(self, f"doc _id: {error}") from None
        object.__setattr__(self, "given_id", given_id)
        object.__setattr__(self, "user", _user_fields(self, self.doc))

    def run(self, backend: Backend, store: StoreRef) -> str:
        doc_id = self.given_id or new_id()
        now = now_ms()
        raw = _packb({"_id": doc_id, "_created": now, "_updated": now, **self.user})
        prefix = keys.collection_prefix(store, self.collection_bytes)
        entry_key = keys.collection_key(store, self.collection_bytes)
        id_key = prefix + doc_id.encode()

        def insert(txn: WriteTxn) -> None:
            if txn.get(_IDS, id_key) is not None:
                raise InvalidCommand(
                    "db", "insert", f"_id {doc_id!r} is taken in collection {self.collection!r}"
                )
            last = txn.get(_COLLECTIONS, entry_key)
            entry = keys.collection_entry(1 if last is None else keys.decode_seq(last) + 1)
            seq = entry[: keys.SEQ_BYTES]
            txn.put(_COLLECTIONS, entry_key, entry)
            txn.put(_DOCS, prefix + seq, raw)
            txn.put(_IDS, id_key, seq)

        backend.write(insert)
        return doc_id

    def reply(self, result: str) -> dict[str, Any]:
        return {"op": "insert", "collection": self.collection, "id": result}


def _validate_paging(command: Any) -> None:
    _checked(command, query.validate_paging, command.skip, command.limit)


@attrs.frozen
class Find(_CollectionCommand):
    """List the documents of `collection` matching `query`, sorted, then skipped and limited.

    Without `sort`, documents come in insertion order. The query, sort and paging are checked
    (and compiled) when the command is built.
    """

    owner: ClassVar[str] = "db"
    verb: ClassVar[str] = "find"
    needs: ClassVar[str] = (
        "collection (string), and optionally query (dict), sort ({field: 1 or -1}),"
        " limit and skip (non-negative integers)"
    )

    collection: str = attrs.field(default=MISSING, validator=_is_string)
    query: dict[str, Any] | None = None
    sort: dict[str, int] | None = None
    limit: int | None = None
    skip: int | None = 0
    collection_bytes: bytes = attrs.field(init=False, repr=False, eq=False)
    plan: _Plan = attrs.field(init=False, repr=False, eq=False)
    sorter: Callable[[Iterable[dict[str, Any]]], list[dict[str, Any]]] | None = attrs.field(
        init=False, repr=False, eq=False
    )

    def __attrs_post_init__(self) -> None:
        super().__attrs_post_init__()
        object.__setattr__(self, "plan", _checked(self, _Plan, self.query))
        sorter = None if self.sort is None else _checked(self, query.compile_sort, self.sort)
        object.__setattr__(self, "sorter", sorter)
        _validate_paging(self)

    def run(self, backend: Backend, store: StoreRef) -> list[dict[str, Any]]:
        skip, limit = self.skip or 0, self.limit
        if self.sorter is None:
            # no sort: paging can stop the reading as soon as it has what it needs
            wanted = None if limit is None else skip + limit
            docs = self.plan.find(backend, store, self.collection_bytes, wanted)
            return docs[skip:] if skip else docs
        docs = self.sorter(self.plan.find(backend, store, self.collection_bytes, None))
        return docs[skip:] if limit is None else docs[skip : skip + limit]

    def reply(self, result: list[dict[str, Any]]) -> dict[str, Any]:
        return {"op": "find", "collection": self.collection, "docs": result, "count": len(result)}


@attrs.frozen
class FindOne(_DocIdCommand):
    """Read the document with `_id` `id`; the result is None when there is none."""

    owner: ClassVar[str] = "db"
    verb: ClassVar[str] = "findOne"
    needs: ClassVar[str] = "collection (string) and id (string)"

    collection: str = attrs.field(default=MISSING, validator=_is_string)
    id: str = attrs.field(default=MISSING, validator=_is_string)
    collection_bytes: bytes = attrs.field(init=False, repr=False, eq=False)
    id_bytes: bytes = attrs.field(init=False, repr=False, eq=False)

    def run(self, backend: Backend, store: StoreRef) -> dict[str, Any] | None:
        prefix, _, id_key = self._locate(store)
        raw = backend.read(lambda txn: _read_doc(txn, prefix, id_key)[1])
        return None if raw is None else _unpackb(raw)

    def reply(self, result: dict[str, Any] | None) -> dict[str, Any]:
        return {"op": "findOne", "collection": self.collection, "id": self.id, "doc": result}


def _read_doc(txn: ReadTxn, prefix: bytes, id_key: bytes) -> tuple[bytes, bytes | None]:
    """Return (the doc's key in `docs`, its raw bytes or None) for the id under `id_key`."""
    seq = txn.get(_IDS, id_key)
    if seq is None:
        return b"", None
    doc_key = prefix + seq
    return doc_key, txn.get(_DOCS, doc_key)


class _ChangeCommand(_DocIdCommand):
    """What update and replace share: find the doc, build its new version, write it back."""

    __slots__ = ()
    user: dict[str, Any]
    #: the new version of the stored doc `old`, changed at time `now` (each subclass has one)
    changed: Callable[[dict[str, Any], int], dict[str, Any]]

    def __attrs_post_init__(self) -> None:
        super().__attrs_post_init__()
        object.__setattr__(self, "user", _user_fields(self, self.doc))

    def run(self, backend: Backend, store: StoreRef) -> bool:
        prefix, entry_key, id_key = self._locate(store)
        now = now_ms()

        def change(txn: WriteTxn) -> bool:
            doc_key, raw = _read_doc(txn, prefix, id_key)
            if raw is None:
                return False
            txn.put(_DOCS, doc_key, _packb(self.changed(_unpackb(raw), now)))
            _restamp(txn, entry_key)
            return True

        return backend.write(change)

    def reply(self, result: bool) -> dict[str, Any]:
        return {"op": self.verb, "collection": self.collection, "id": self.id, "ok": result}


@attrs.frozen
class Update(_ChangeCommand):
    """Merge `doc` into the document `id` (shallowly); the result says whether it existed."""

    owner: ClassVar[str] = "db"
    verb: ClassVar[str] = "update"
    needs: ClassVar[str] = "collection (string), id (string) and doc (dict)"

    collection: str = attrs.field(default=MISSING, validator=_is_string)
    id: str = attrs.field(default=MISSING, validator=_is_string)
    doc: dict[str, Any] = attrs.field(default=MISSING, validator=_is_dict)
    collection_bytes: bytes = attrs.field(init=False, repr=False, eq=False)
    id_bytes: bytes = attrs.field(init=False, repr=False, eq=False)
    user: dict[str, Any] = attrs.field(init=False, repr=False, eq=False)

    def changed(self, old: dict[str, Any], now: int) -> dict[str, Any]:
        old["_updated"] = _bumped(old, now)
        old.update(self.user)
        return old


@attrs.frozen
class Replace(_ChangeCommand):
    """Swap the user fields of document `id` for `doc`'s; the result says whether it existed."""

    owner: ClassVar[str] = "db"
    verb: ClassVar[str] = "replace"
    needs: ClassVar[str] = "collection (string), id (string) and doc (dict)"

    collection: str = attrs.field(default=MISSING, validator=_is_string)
    id: str = attrs.field(default=MISSING, validator=_is_string)
    doc: dict[str, Any] = attrs.field(default=MISSING, validator=_is_dict)
    collection_bytes: bytes = attrs.field(init=False, repr=False, eq=False)
    id_bytes: bytes = attrs.field(init=False, repr=False, eq=False)
    user: dict[str, Any] = attrs.field(init=False, repr=False, eq=False)

    def changed(self, old: dict[str, Any], now: int) -> dict[str, Any]:
        kept = {"_id": old.get("_id", self.id), "_created": old.get("_created")}
        return {**kept, "_updated": _bumped(old, now), **self.user}


@attrs.frozen
class DeleteDoc(_DocIdCommand):
    """Remove the document `id`; the result says whether it existed."""

    owner: ClassVar[str] = "db"
    verb: ClassVar[str] = "delete"
    needs: ClassVar[str] = "collection (string) and id (string)"

    collection: str = attrs.field(default=MISSING, validator=_is_string)
    id: str = attrs.field(default=MISSING, validator=_is_string)
    collection_bytes: bytes = attrs.field(init=False, repr=False, eq=False)
    id_bytes: bytes = attrs.field(init=False, repr=False, eq=False)

    def run(self, backend: Backend, store: StoreRef) -> bool:
        prefix, entry_key, id_key = self._locate(store)

        def delete(txn: WriteTxn) -> bool:
            seq = txn.get(_IDS, id_key)
            if seq is None:
                return False
            txn.delete(_IDS, id_key)
            txn.delete(_DOCS, prefix + seq)
            _restamp(txn, entry_key)
            return True

        return backend.write(delete)

    def reply(self, result: bool) -> dict[str, Any]:
        return {"op": "delete", "collection": self.collection, "id": self.id, "ok": result}


@attrs.frozen
class Count(_CollectionCommand):
    """Count the documents of `collection` matching `query` (all of them without one)."""

    owner: ClassVar[str] = "db"
    verb: ClassVar[str] = "count"
    needs: ClassVar[str] = "collection (string), and optionally query (dict)"

    collection: str = attrs.field(default=MISSING, validator=_is_string)
    query: dict[str, Any] | None = None
    collection_bytes: bytes = attrs.field(init=False, repr=False, eq=False)
    plan: _Plan = attrs.field(init=False, repr=False, eq=False)

    def __attrs_post_init__(self) -> None:
        super().__attrs_post_init__()
        object.__setattr__(self, "plan", _checked(self, _Plan, self.query))

    def run(self, backend: Backend, store: StoreRef) -> int:
        return self.plan.count(backend, store, self.collection_bytes)

    def reply(self, result: int) -> dict[str, Any]:
        return {"op": "count", "collection": self.collection, "count": result}


@attrs.frozen
class Drop(_CollectionCommand):
    """Remove `collection` and every document in it (and nothing else)."""

    owner: ClassVar[str] = "db"
    verb: ClassVar[str] = "drop"
    needs: ClassVar[str] = "collection (string)"

    collection: str = attrs.field(default=MISSING, validator=_is_string)
    collection_bytes: bytes = attrs.field(init=False, repr=False, eq=False)

    def run(self, backend: Backend, store: StoreRef) -> None:
        prefix = keys.collection_prefix(store, self.collection_bytes)
        entry_key = keys.collection_key(store, self.collection_bytes)

        def drop(txn: WriteTxn) -> None:
            txn.delete(_COLLECTIONS, entry_key)
            txn.delete_prefix(_DOCS, prefix)
            txn.delete_prefix(_IDS, prefix)

        backend.write(drop)

    def reply(self, result: None) -> dict[str, Any]:
        return {"op": "drop", "collection": self.collection, "ok": True}


@attrs.frozen
class DbSetStore(SetStore):
    """kv's setStore, for a db box (its errors say `db:`)."""

    owner: ClassVar[str] = "db"


DbCommand = Insert | Find | FindOne | Update | Replace | DeleteDoc | Count | Drop | DbSetStore

#: verb → command class, in the order error messages list them
DB_COMMANDS: dict[str, type[DbCommand]] = {
    cls.verb: cls
    for cls in (Insert, Find, FindOne, Update, Replace, DeleteDoc, Count, Drop, DbSetStore)
}


def parse_db_command(message: Any) -> DbCommand:
    """Return the db command `message` asks for, in any of the three forms (see `commands.py`).

    Raises:
        CommandError: with the message of the `{op: "error"}` reply, e.g.
            `db: unknown command "bang"; expected one of insert, find, findOne, update,
            replace, delete, count, drop, setStore`.
    """
    return parse_command("db", message, DB_COMMANDS)


# ---- reading many documents fast -----------------------------------------------------------

_ARRAY_HEADER = rb"[\x90-\x9f\xdc\xdd]"  # msgpack's fixarray, array 16 and array 32
_DIGITS = re.compile(r"[0-9]+", re.ASCII)


class _Plan:
    """How `find` and `count` read a collection for one query: compiled once per command.

    - `matcher`: the query's `doc -> bool` (query.py).
    - `probes`: regexes every matching document's raw bytes must contain (see `_probes`); a
      document failing one is never decoded.
    - `by_id`: the `_id` the query requires, if it names one: then only that doc is read.
    """

    __slots__ = ("by_id", "matcher", "probes")

    def __init__(self, query_doc: dict[str, Any] | None) -> None:
        self.matcher = query.compile_query(query_doc)
        self.probes = _probes(query_doc) if query_doc else []
        self.by_id = _required_id(query_doc) if query_doc else None

    def find(
        self, backend: Backend, store: StoreRef, collection: bytes, wanted: int | None
    ) -> list[dict[str, Any]]:
        """The matching documents in insertion order; at most `wanted` of them if not None."""
        if wanted == 0:
            return []
        prefix = keys.collection_prefix(store, collection)
        entry_key = keys.collection_key(store, collection)
        cache = _cache_for(backend)

        def read(txn: ReadTxn) -> tuple[list[dict[str, Any]], _Snapshot | None, bytes]:
            entry = txn.get(_COLLECTIONS, entry_key)
            if entry is None:  # no such collection
                return [], None, b""
            if self.by_id is not None:
                raw = _read_doc(txn, prefix, prefix + self.by_id)[1]
                raws = [] if raw is None or not _passes(raw, self.probes) else [raw]
                return self._matching(_decode_all(raws), wanted), None, entry
            snapshot = None if cache is None else cache.get(prefix, entry)
            if snapshot is not None:
                return self._from_snapshot(snapshot, wanted), None, entry
            if wanted is not None and not self.probes:  # stop reading once there are enough
                raws = (raw for _, raw in txn.scan(_DOCS, prefix))
                return self._first(raws, wanted), None, entry
            snapshot = _Snapshot.scan(txn, prefix)
            return self._from_snapshot(snapshot, wanted), snapshot, entry

        docs, fresh, entry = backend.read(read)
        if fresh is not None and cache is not None:
            cache.put(prefix, entry, fresh)
        return docs

    def count(self, backend: Backend, store: StoreRef, collection: bytes) -> int:
        """How many documents match; without a query, counted without decoding any."""
        if self.matcher is not _MATCH_ALL:
            return len(self.find(backend, store, collection, None))
        prefix = keys.collection_prefix(store, collection)
        entry_key = keys.collection_key(store, collection)
        cache = _cache_for(backend)

        def read(txn: ReadTxn) -> int:
            entry = txn.get(_COLLECTIONS, entry_key)
            if entry is None:
                return 0
            snapshot = None if cache is None else cache.get(prefix, entry)
            if snapshot is not None:
                return len(snapshot)
            return sum(1 for _ in txn.scan(_DOCS, prefix))

        return backend.read(read)

    def _from_snapshot(self, snapshot: _Snapshot, wanted: int | None) -> list[dict[str, Any]]:
        if self.probes:
            return self._matching(_decode_all(snapshot.search(self.probes)), wanted)
        if wanted is None:
            return self._matching(snapshot.decode_all(), None)
        return self._first(snapshot.raws(), wanted)

    def _matching(self, docs: list[dict[str, Any]], wanted: int | None) -> list[dict[str, Any]]:
        matcher = self.matcher
        if matcher is not _MATCH_ALL:
            docs = [doc for doc in docs if matcher(doc)]
        return docs if wanted is None else docs[:wanted]

    def _first(self, raws: Iterable[bytes], wanted: int) -> list[dict[str, Any]]:
        """Decode documents one at a time until `wanted` have matched."""
        matcher = self.matcher
        found: list[dict[str, Any]] = []
        for raw in raws:
            doc = _unpackb(raw)
            if matcher(doc):
                found.append(doc)
                if len(found) == wanted:
                    break
        return found


def _passes(raw: bytes, probes: list[re.Pattern[bytes]]) -> bool:
    return all(probe.search(raw) for probe in probes)


def _array_header(count: int) -> bytes:
    if count < 16:
        return bytes([0x90 | count])
    if count < 0x10000:
        return b"\xdc" + count.to_bytes(2, "big")
    return b"\xdd" + count.to_bytes(4, "big")


def _decode_all(raws: list[bytes]) -> list[dict[str, Any]]:
    """Decode many raw documents in one msgpack call, as the elements of one array."""
    if len(raws) < 2:
        return [_unpackb(raw) for raw in raws]
    return _unpackb(_array_header(len(raws)) + b"".join(raws))


class _Snapshot:
    """A collection's documents as read once: their msgpack bytes back to back, in insertion
    order (`blob`), and where each ends (`ends`, cumulative)."""

    __slots__ = ("blob", "ends", "size")

    def __init__(self, blob: bytes, ends: array[int]) -> None:
        self.blob = blob
        self.ends = ends
        #: about how much memory it holds, for the cache's limit
        self.size = len(blob) + ends.itemsize * len(ends) + 100

    @classmethod
    def scan(cls, txn: ReadTxn, prefix: bytes) -> _Snapshot:
        values = [value for _, value in txn.scan(_DOCS, prefix)]
        return cls(b"".join(values), array("q", accumulate(map(len, values))))

    def __len__(self) -> int:
        return len(self.ends)

    def raws(self) -> Iterable[bytes]:
        """Each document's bytes, in order."""
        blob, start = self.blob, 0
        for end in self.ends:
            yield blob[start:end]
            start = end

    def decode_all(self) -> list[dict[str, Any]]:
        return _unpackb(_array_header(len(self.ends)) + self.blob) if self.ends else []

    def search(self, probes: list[re.Pattern[bytes]]) -> list[bytes]:
        """The bytes of each document that every probe finds something in, in order.

        The first probe runs over the whole blob (one regex scan in C rather than a call per
        document), restarting at the next document after each hit; a hit that runs over the
        end of a document only lets through a document the matcher will turn away.
        """
        blob, ends = self.blob, self.ends
        first, rest = probes[0].search, probes[1:]
        found = []
        position = 0
        while (hit := first(blob, position)) is not None:
            index = bisect_right(ends, hit.start())
            start = ends[index - 1] if index else 0
            position = ends[index]
            raw = blob[start:position]
            if _passes(raw, rest):
                found.append(raw)
        return found


class _SnapshotCache:
    """Recently read collections of one backend, least recently used dropped first.

    An entry is used only while the collection's stamp (its `collections` entry, rewritten with
    fresh random bytes by every write to the collection, in any process) is the one it was read
    with, so it never serves data a later write has changed.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._entries: OrderedDict[bytes, tuple[bytes, _Snapshot]] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()

    def get(self, prefix: bytes, stamp: bytes) -> _Snapshot | None:
        if len(stamp) != _STAMPED:
            return None
        with self._lock:
            found = self._entries.get(prefix)
            if found is None or found[0] != stamp:
                return None
            self._entries.move_to_end(prefix)
            return found[1]

    def put(self, prefix: bytes, stamp: bytes, snapshot: _Snapshot) -> None:
        if len(stamp) != _STAMPED or snapshot.size > self.limit // 4:
            return  # not stamped (see keys.py), or so big it would push out every other
        with self._lock:
            old = self._entries.pop(prefix, None)
            if old is not None:
                self._size -= old[1].size
            self._entries[prefix] = (stamp, snapshot)
            self._size += snapshot.size
            while self._size > self.limit:
                _, (_, dropped) = self._entries.popitem(last=False)
                self._size -= dropped.size


#: most memory the snapshots of one backend may hold
CACHE_BYTES = 64 << 20
_STAMPED = keys.SEQ_BYTES + keys.STAMP_BYTES  # the length of a collection entry with a stamp
_CACHES: weakref.WeakKeyDictionary[Backend, _SnapshotCache] = weakref.WeakKeyDictionary()


def _cache_for(backend: Backend) -> _SnapshotCache | None:
    cache = _CACHES.get(backend)
    if cache is None:
        try:
            cache = _CACHES.setdefault(backend, _SnapshotCache(CACHE_BYTES))
        except TypeError:  # a backend that cannot be weakly referenced goes without
            return None
    return cache


def _conditions(query_doc: dict[str, Any]) -> Iterable[tuple[str, list[Any]]]:
    """Yield (field, operands) for each field the query requires to equal one of `operands`.

    Only plain values, `$eq` and `$in` count; every other operator may match without the value
    being there. The query has been compiled (so validated) already.
    """
    for field, condition in query_doc.items():
        if type(condition) is dict and condition and all(str(k)[:1] == "$" for k in condition):
            if "$eq" in condition:
                yield field, [condition["$eq"]]
            elif type(condition.get("$in")) in (list, tuple):
                yield field, list(condition["$in"])
        else:
            yield field, [condition]


def _probes(query_doc: dict[str, Any]) -> list[re.Pattern[bytes]]:
    """Regexes over a document's msgpack bytes that any document matching the query satisfies.

    For a term `{field: v}` (or `$eq`/`$in`) with v a string, bytes, bool or number: a matching
    document reaches the field's last name through a dict (directly or fanning out over a
    list of dicts), so its bytes hold that key directly followed by v's encoding — or by a list
    header, as a list field matches by membership. Numbers may be stored as int or float
    (`1 == 1.0`, `0.0 == -0.0`), so each encoding is an alternative. When the last segment is a
    list index (`tags.0`) only v's encoding is required. Any other term adds no probe. Documents
    are packed by this module, always the same way, so the encodings are exactly these; a
    probe may let through documents that do not match (the matcher then rejects them) but never
    turns away one that does.
    """
    # (query.equality_probes lists the string terms alone; these also cover numbers, bools and
    # $in, since a common query value — a group, a count, a flag — is often one, and tie each
    # value to its key, which turns away far more documents than the value alone.)
    probes = []
    for field, operands in _conditions(query_doc):
        encodings: set[bytes] = set()
        for operand in operands:
            found = _encodings(operand)
            if found is None:
                break
            encodings |= found
        else:
            if not encodings:
                continue
            values = b"|".join(re.escape(e) for e in sorted(encodings))
            last = field.rpartition(".")[2]
            if "." in field and _DIGITS.fullmatch(last):
                pattern = b"(?:" + values + b")"
            else:
                key = re.escape(_packb(last))
                pattern = key + b"(?:" + values + b"|" + _ARRAY_HEADER + b")"
            probes.append(re.compile(pattern))
    return probes


def _encodings(value: Any) -> set[bytes] | None:
    """Every msgpack encoding of a value kind-safely equal to `value`; None when not known."""
    kind = type(value)
    try:
        if kind in (str, bytes, bool):
            return {_packb(value)}
        if kind is int:
            found = {_packb(value)}
            as_float = float(value)
            if as_float == value:
                found |= _float_encodings(as_float)
            return found
        if kind is float:
            if math.isnan(value):
                return None
            found = _float_encodings(value)
            if value.is_integer() and -(2**63) <= value < 2**64:
                found.add(_packb(int(value)))
            return found
    except (OverflowError, ValueError, UnicodeEncodeError):
        return None  # no stored value can equal it; let the matcher say so
    return None


def _float_encodings(value: float) -> set[bytes]:
    if value == 0:
        return {_packb(0.0), _packb(-0.0)}
    return {_packb(value)}


def _required_id(query_doc: dict[str, Any]) -> bytes | None:
    """The `_id` bytes a query requires by plain string equality or `$eq`, if any."""
    condition = query_doc.get("_id")
    if type(condition) is dict and set(condition) == {"$eq"}:
        condition = condition["$eq"]
    if type(condition) is not str:
        return None
    try:
        return keys.encode_doc_id(condition)
    except CommandError:
        return None
