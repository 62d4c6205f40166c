"""Keep a collection's indexes: their definitions, and each document's entries (`index_keys.py`).

Every write of a document — insert, update, replace, delete, drop, import, and `batch`, which
runs those — calls `reindex` (or deletes the collection's index data) inside its own write
transaction, so an index is never out of step with its documents, whatever crashes.

A document's entries in the index on a field (the values the field's path reaches,
`paths.resolve`, as the query language sees them):

- one SORTED entry: the document's sort value, as `find`'s sort takes it — missing, the value
  reached, or (when the path fanned out over a list) the list of values reached;
- when that value is a list, or the path fanned out, a MEMBERS entry for each scalar value
  reached and each scalar element of a list reached: what `{field: x}` (membership), `$in` and
  the ranges test. A document with a scalar needs none: its SORTED entry is its one value.

A **unique** index refuses a write that would give two documents an equal scalar value
(`1` equals `1.0`): the value itself, or an element of a list value. Documents that lack the
field, and dicts and nested lists, are not constrained; `null` is a value like any other.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import Any

import attrs
import msgpack

from ...errors import CommandError
from ...render import describe
from ..backends.protocol import ReadTxn, WriteTxn
from . import index_keys as ik
from .keys import DOCS, INDEXES, SEQ_BYTES
from .paths import Path, parse_path, resolve

__all__ = [
    "DuplicateValue",
    "IndexDef",
    "build_index",
    "doc_entries",
    "read_definitions",
    "rebuild_indexes",
    "reindex",
]

_SCALARS = (type(None), bool, int, float, str, bytes)


class DuplicateValue(CommandError):
    """A write that would give two documents the same value in a unique index."""


@attrs.frozen
class IndexDef:
    """One index of a collection: its field (path) and whether its values must be unique."""

    field: str
    unique: bool
    field_bytes: bytes = attrs.field(init=False, repr=False, eq=False)
    path: Path = attrs.field(init=False, repr=False, eq=False)

    def __attrs_post_init__(self) -> None:
        object.__setattr__(self, "field_bytes", ik.encode_field(self.field))
        object.__setattr__(self, "path", _path(self.field))


@functools.lru_cache(maxsize=256)
def _path(field: str) -> Path:
    return parse_path(field, "index")


def read_definitions(txn: ReadTxn, base: bytes) -> list[IndexDef]:
    """The indexes of the collection whose prefix is `base`, in field order."""
    prefix = ik.definition_prefix(base)
    found = []
    for key, value in txn.scan(INDEXES, prefix):
        options = msgpack.unpackb(value)
        found.append(IndexDef(key[len(prefix) :].decode("utf-8"), bool(options.get("unique"))))
    return found


def write_definition(txn: WriteTxn, base: bytes, index: IndexDef) -> None:
    """Record an index's definition (its entries are `build_index`'s)."""
    value = msgpack.packb({"unique": index.unique})
    txn.put(INDEXES, ik.definition_prefix(base) + index.field_bytes, value)


def delete_index(txn: WriteTxn, base: bytes, field_bytes: bytes) -> bool:
    """Remove an index's definition and entries; return whether it existed."""
    existed = txn.delete(INDEXES, ik.definition_prefix(base) + field_bytes)
    for section in (ik.SORTED, ik.MEMBERS):
        txn.delete_prefix(INDEXES, ik.entries_prefix(base, section, field_bytes))
    return existed


def doc_entries(doc: dict[str, Any], path: Path) -> tuple[bytes, set[bytes]]:
    """A document's (SORTED value encoding, MEMBERS value encodings) for the index on `path`."""
    found, fanned = resolve(doc, path)
    if not found:
        return ik.MISSING, set()
    if not fanned:
        value = found[0]
        if type(value) is not list and type(value) is not tuple:
            return _encoded(value), set()
        return ik.LIST + b"\x00\x02", {_encoded(v) for v in value if type(v) in _SCALARS}
    members = set()
    for value in found:
        if type(value) in _SCALARS:
            members.add(_encoded(value))
        elif type(value) is list or type(value) is tuple:
            members.update(_encoded(v) for v in value if type(v) in _SCALARS)
    return ik.LIST + b"\x00\x02", members


def _encoded(value: Any) -> bytes:
    try:
        return ik.encode_value(value)
    except ValueError:  # not in a stored document (the codec stores no such value)
        return ik.DICT + b"\x00\x02"


def _keys(base: bytes, index: IndexDef, doc: dict[str, Any] | None, seq: bytes) -> set[bytes]:
    if doc is None:
        return set()
    sort_value, members = doc_entries(doc, index.path)
    keys = {ik.entries_prefix(base, ik.SORTED, index.field_bytes) + sort_value + seq}
    members_prefix = ik.entries_prefix(base, ik.MEMBERS, index.field_bytes)
    keys.update(members_prefix + member + seq for member in members)
    return keys


def _unique_values(doc: dict[str, Any], path: Path) -> dict[bytes, Any]:
    """encoding → value of each scalar the unique index constrains in `doc`."""
    found, _ = resolve(doc, path)
    values: dict[bytes, Any] = {}
    for value in found:
        for item in value if type(value) is list or type(value) is tuple else (value,):
            if type(item) in _SCALARS:
                values.setdefault(_encoded(item), item)
    return values


def reindex(
    txn: WriteTxn,
    base: bytes,
    seq: bytes,
    old: dict[str, Any] | None,
    new: dict[str, Any] | None,
    indexes: Iterable[IndexDef],
) -> None:
    """Change a document's entries from those of `old` to those of `new` (None: no document).

    Raises:
        DuplicateValue: `new` has a value another document has in a unique index.
    """
    for index in indexes:
        before, after = _keys(base, index, old, seq), _keys(base, index, new, seq)
        if index.unique and new is not None:
            had = set() if old is None else set(_unique_values(old, index.path))
            for encoded, value in _unique_values(new, index.path).items():
                if encoded not in had:
                    _check_unique(txn, base, index, seq, encoded, value)
        for key in before - after:
            txn.delete(INDEXES, key)
        for key in after - before:
            txn.put(INDEXES, key, b"")


def _check_unique(
    txn: ReadTxn, base: bytes, index: IndexDef, seq: bytes, encoded: bytes, value: Any
) -> None:
    exact = ik.is_exact(encoded)
    for section in (ik.SORTED, ik.MEMBERS):
        prefix = ik.entries_prefix(base, section, index.field_bytes) + encoded
        for key, _ in txn.scan(INDEXES, prefix):
            other = key[-SEQ_BYTES:]
            if len(key) != len(prefix) + SEQ_BYTES or other == seq:
                continue
            raw = txn.get(DOCS, base + other)
            doc = {} if raw is None else msgpack.unpackb(raw)
            if exact or any(
                type(v) is type(value) and v == value
                for v in _unique_values(doc, index.path).values()
            ):
                raise DuplicateValue(
                    f"would duplicate {describe(value, 60)}, which document"
                    f" {describe(doc.get('_id'), 60)} has, in the unique index on"
                    f" {index.field!r}; change the value, or drop the index with dropIndex"
                )


def build_index(txn: WriteTxn, base: bytes, index: IndexDef) -> None:
    """Write the entries of every document of the collection (whose entries must be none).

    Raises:
        DuplicateValue: the index is unique and two documents have an equal value.
    """
    seen: dict[bytes, list[tuple[Any, Any]]] = {}  # encoding → (value, _id) of docs having it
    puts = []
    for key, raw in txn.scan(DOCS, base):
        doc = msgpack.unpackb(raw)
        seq = key[len(base) :]
        if index.unique:
            for encoded, value in _unique_values(doc, index.path).items():
                others = seen.setdefault(encoded, [])
                exact = ik.is_exact(encoded)
                for other, other_id in others:
                    if exact or (type(other) is type(value) and other == value):
                        raise DuplicateValue(
                            f"cannot be unique: documents {describe(other_id, 60)} and"
                            f" {describe(doc.get('_id'), 60)} both have"
                            f" {describe(value, 60)} in {index.field!r}"
                        )
                others.append((value, doc.get("_id")))
        puts.extend(_keys(base, index, doc, seq))
    # written after the scan: the protocol forbids changing a space while scanning it (here
    # another space, but one ordering rule is simpler to keep than two)
    for key in puts:
        txn.put(INDEXES, key, b"")


def rebuild_indexes(txn: WriteTxn, base: bytes) -> None:
    """Rebuild every index of a collection from its documents (after an import wrote them)."""
    for index in read_definitions(txn, base):
        for section in (ik.SORTED, ik.MEMBERS):
            txn.delete_prefix(INDEXES, ik.entries_prefix(base, section, index.field_bytes))
        build_index(txn, base, index)
