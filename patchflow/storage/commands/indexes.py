"""The db index commands (`createIndex`, `dropIndex`, `indexes`), and finding with indexes.

What an index holds and how writes keep it is `layout/indexing.py`'s; which index a `find` or
`count` uses, and how it walks it, `index_scan.py`'s. Here: the commands, `keep_indexes` (what
every document write calls inside its transaction) and `find_documents`/`count_documents`,
which try an index and otherwise read the collection as `scan.py` does, and say which they did
(`explain`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, ClassVar

import attrs
import msgpack

from ..backends.protocol import Backend, ReadTxn, WriteTxn
from ..layout import keys
from ..layout.index_keys import encode_field
from ..layout.indexing import (
    DuplicateValue,
    IndexDef,
    build_index,
    delete_index,
    read_definitions,
    reindex,
    write_definition,
)
from ..layout.keys import COLLECTIONS, DOCS, StoreRef
from ..layout.paths import parse_path
from .base import InvalidCommand, command_class, invalid, optional, text
from .documents import CollectionCommand, checked
from .index_scan import choose, walk

__all__ = [
    "INDEX_COMMANDS",
    "STORED",
    "CreateIndex",
    "DropIndex",
    "Found",
    "Indexes",
    "count_documents",
    "find_documents",
    "keep_indexes",
]

#: `keep_indexes`'s `old` for "the document now stored under `seq`"
STORED: Any = object()


def keep_indexes(
    txn: WriteTxn,
    base: bytes,
    seq: bytes,
    old: bytes | dict[str, Any] | None,
    new: dict[str, Any] | None,
    command: CollectionCommand,
) -> None:
    """Bring the collection's indexes in step with one document write, in its transaction.

    `old`/`new`: the document before and after (raw bytes, a dict, None for none, or STORED
    to read it); costs one short scan when the collection has no index.

    Raises:
        InvalidCommand: a unique index already has one of `new`'s values (the write is undone).
    """
    indexes = read_definitions(txn, base)
    if not indexes:
        return
    if old is STORED:
        old = txn.get(DOCS, base + seq)
    if type(old) is bytes:
        old = msgpack.unpackb(old)
    try:
        reindex(txn, base, seq, old, new, indexes)  # type: ignore[arg-type]
    except DuplicateValue as error:
        raise InvalidCommand(
            "db", command.verb, f"in collection {command.collection!r} {error}"
        ) from None


@command_class
class _IndexCommand(CollectionCommand):
    """What createIndex and dropIndex share: the field, checked as a path an index can hold."""

    replies: ClassVar[tuple[str, ...]] = ("collection", "field", "ok")

    field: str = text()
    field_bytes: bytes = attrs.field(init=False, repr=False, eq=False)

    def __attrs_post_init__(self) -> None:
        super().__attrs_post_init__()
        checked(self, parse_path, self.field, "index")
        object.__setattr__(self, "field_bytes", checked(self, encode_field, self.field))

    def reply(self, result: bool) -> dict[str, Any]:
        return {"op": self.verb, "collection": self.collection, "field": self.field, "ok": result}


@command_class
class CreateIndex(_IndexCommand):
    """Index `field` (a name or dotted path) of `collection`; `unique` refuses equal values.

    Built from the existing documents in one transaction, then kept by every write. Creating
    an index that exists already does nothing; one that differs in `unique` is an error.
    """

    verb: ClassVar[str] = "createIndex"

    unique: bool = optional(False, "true or false")

    def __attrs_post_init__(self) -> None:
        super().__attrs_post_init__()
        if type(self.unique) is not bool:
            raise invalid(self, f"needs unique to be true or false, not {self.unique!r}")

    def run(self, backend: Backend, store: StoreRef) -> bool:
        base, entry_key = self._where(store)
        index = IndexDef(self.field, self.unique)

        def create(txn: WriteTxn) -> bool:
            existing = {found.field: found for found in read_definitions(txn, base)}
            if self.field in existing:
                if existing[self.field].unique != self.unique:
                    raise invalid(
                        self,
                        f"finds an index on {self.field!r} with unique:"
                        f" {str(not self.unique).lower()} in collection {self.collection!r};"
                        " drop it first (dropIndex) to change it",
                    )
                return True
            if txn.get(COLLECTIONS, entry_key) is None:  # as an insert would create it
                txn.put(COLLECTIONS, entry_key, keys.collection_entry(0))
            write_definition(txn, base, index)
            try:
                build_index(txn, base, index)
            except DuplicateValue as error:
                raise invalid(self, f"on collection {self.collection!r}: {error}") from None
            return True

        return backend.write(create)


@command_class
class DropIndex(_IndexCommand):
    """Remove the index on `field` of `collection`; say whether there was one."""

    verb: ClassVar[str] = "dropIndex"

    def run(self, backend: Backend, store: StoreRef) -> bool:
        base = self._where(store)[0]
        return backend.write(lambda txn: delete_index(txn, base, self.field_bytes))


@command_class
class Indexes(CollectionCommand):
    """List the indexes of `collection` (`[{field, unique}]`, by field)."""

    verb: ClassVar[str] = "indexes"
    replies: ClassVar[tuple[str, ...]] = ("collection", "indexes")

    def run(self, backend: Backend, store: StoreRef) -> list[dict[str, Any]]:
        base = self._where(store)[0]
        found = backend.read(lambda txn: read_definitions(txn, base))
        return [{"field": index.field, "unique": index.unique} for index in found]

    def reply(self, result: list[dict[str, Any]]) -> dict[str, Any]:
        return {"op": "indexes", "collection": self.collection, "indexes": result}


INDEX_COMMANDS = (CreateIndex, DropIndex, Indexes)


# ---- find and count ---------------------------------------------------------------------


@attrs.frozen
class Found:
    """What a find or count read: the documents (or their number), and how (`explain`)."""

    docs: list[dict[str, Any]]
    count: int
    #: the indexed field used, or None for a read of the whole collection (or by `_id`)
    index: str | None
    #: documents read to answer
    examined: int

    def plan(self) -> dict[str, Any]:
        return {"index": self.index, "examined": self.examined}


Sorter = Callable[[Iterable[dict[str, Any]]], list[dict[str, Any]]]


def _indexed(
    backend: Backend,
    store: StoreRef,
    collection: bytes,
    answer: Callable[[ReadTxn, bytes, list[IndexDef]], Found | None],
) -> Found | None:
    """Run `answer` with the collection's indexes, if it has any; None if it has none or
    `answer` finds none of them fits."""
    base = keys.collection_prefix(store, collection)

    def read(txn: ReadTxn) -> Found | None:
        indexes = read_definitions(txn, base)
        return answer(txn, base, indexes) if indexes else None

    return backend.read(read)


def find_documents(backend: Backend, store: StoreRef, find: Any) -> Found:
    """`find` (a `db.Find`): the page of matching documents, sorted, through an index if one
    fits."""
    collection, plan, query, sort = find.collection_bytes, find.plan, find.query, find.sort
    sorter: Sorter | None = find.sorter
    skip, limit = find.skip or 0, find.limit
    end = None if limit is None else skip + limit

    def answer(txn: ReadTxn, base: bytes, indexes: list[IndexDef]) -> Found | None:
        choice = choose(indexes, query, sort, limit)
        if choice is None:
            return None
        several = sort is not None and len(sort) > 1
        if choice.sort_walk:
            docs, examined = walk(txn, base, choice, plan.matcher, end, sorter, several)
        elif sorter is None:
            docs, examined = walk(txn, base, choice, plan.matcher, end)
        else:
            docs, examined = walk(txn, base, choice, plan.matcher, None)
            docs = sorter(docs)
        docs = docs[skip:end]
        return Found(docs, len(docs), choice.index.field, examined)

    if limit != 0 and plan.by_id is None and (query or (sort and limit is not None)):
        found = _indexed(backend, store, collection, answer)
        if found is not None:
            return found
    if sorter is None:
        # no sort: paging can stop the reading as soon as it has what it needs
        docs, examined = plan.find(backend, store, collection, end)
        docs = docs[skip:] if skip else docs
    else:
        docs, examined = plan.find(backend, store, collection, None)
        docs = sorter(docs)[skip:end]
    return Found(docs, len(docs), None, examined)


def count_documents(backend: Backend, store: StoreRef, count: Any) -> Found:
    """`count` (a `db.Count`): how many documents match, through an index if one fits."""
    collection, plan, query = count.collection_bytes, count.plan, count.query

    def answer(txn: ReadTxn, base: bytes, indexes: list[IndexDef]) -> Found | None:
        choice = choose(indexes, query, None, None)
        if choice is None:
            return None
        docs, examined = walk(txn, base, choice, plan.matcher, None)
        return Found([], len(docs), choice.index.field, examined)

    if query and plan.by_id is None:
        found = _indexed(backend, store, collection, answer)
        if found is not None:
            return found
    count, examined = plan.count(backend, store, collection)
    return Found([], count, None, examined)
