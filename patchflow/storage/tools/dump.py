"""Export a patch's stored data as a dump, and import a dump: `patchflow data export/import`.

Kept whole (~450 lines): export and import are the two halves of one file format, described once
below; apart, the format and its reader and writer would drift.

Both work on the key layout (`keys.py`) through the backend protocol, so a dump holds every
store of a patch — local and named, kv and db — without going through the command classes.

**Dump format** (`format` 1): JSON Lines, UTF-8, one JSON object per line.

    {"patchflow": "dump", "format": 1, "patch": "counter", "storage_format": 1}
    {"kind": "kv", "store": {"local": "kv-1"}, "key": "count", "value": 3}
    {"kind": "kv", "store": {"name": "settings"}, "key": "blob", "value": {"$bytes": "AP8="}}
    {"kind": "kv", "store": {"name": "c"}, "key": "token", "value": 1, "expires": 1767225600000}
    {"kind": "collection", "store": {"local": "history"}, "collection": "runs"}
    {"kind": "index", "store": {"local": "history"}, "collection": "runs", "field": "at",
     "unique": false}
    {"kind": "doc", "store": {"local": "history"}, "collection": "runs", "doc": {"_id": ...}}
    {"patchflow": "end", "records": 4}

The first line is the header, the last the end line with the number of records between them:
without it a dump cut short at a line boundary would look complete. A store is `{"local":
BOX_ID}` or `{"name": NAME}`. Records come in key order: every kv key, then each collection
followed by its indexes (`createIndex`) and its documents in insertion order; a `collection`
record keeps an empty collection. An import rebuilds the indexes of each collection it writes.
Documents keep their `_id`, `_created` and `_updated`, so an import reproduces them exactly.
A kv key set with a ttl has `"expires"` (when it expires, in milliseconds since the epoch; the
field is optional, and absent for keys that never expire); a key that has expired when the
export reads it is left out, as it is missing everywhere (`layout/expiry.py`).

Values are JSON, with markers for what JSON cannot say (`dump_values.py`): `bytes` are
`{"$bytes": BASE64}`, the infinities and NaN `{"$float": "inf"}` etc., and a dict that looks
like a marker is wrapped in `{"$escape": {...}}`; every stored value comes back exactly.

**Import** applies the whole dump in one write transaction: the first bad line raises
`DumpError` (`FILE:LINE: message`), the transaction is aborted and nothing is changed. It
merges by default: kv keys are overwritten, a document whose `_id` is already in its collection
is replaced in place, other documents are appended after the collection's existing ones (new
sequence numbers, so later inserts never collide), and each collection written gets a fresh
stamp in its entry (keys.py), as every db write does; `replace=True` clears every store first,
in the same transaction. Input that cannot be read twice (a pipe) is spooled to a temporary file
first, because the backend may run the transaction again after growing its map.

What an import refuses, beyond malformed lines: a header whose `format` is not 1 (a newer one
says to upgrade), a document without integer `_created` and `_updated` (a document always has
them; a string or float would break later updates), the same `_id` twice in one collection
(`duplicate _id X (first at line N)`: a dump holds each document once, so the second is a
mistake, and keeping either would silently drop the other), and values nested deeper than the
codec stores (`codec.MAX_DEPTH`), however deep, without a RecursionError.

Both stream through the data, a line at a time. Export's memory use stays flat; an import's
single write transaction keeps what it changes in memory (on LMDB until it spills pages to the
file, from about 512 MiB on), the price of all-or-nothing.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from typing import IO, Any

import attrs

from ...errors import CommandError, PatchflowError
from ..backends.protocol import Backend, ReadTxn, WriteTxn
from ..layout import codec, expiry, indexing, keys
from ..layout.codec import MAX_DEPTH
from ..layout.inventory import split_store, store_json, store_of
from ..layout.keys import (
    COLLECTIONS,
    DATA_SPACES,
    DOCS,
    FORMAT_VERSION,
    IDS,
    KV_SPACE,
    META,
    StoreRef,
)
from .dump_values import decode_value, encode_value, shorten

__all__ = [
    "DUMP_FORMAT",
    "DumpCounts",
    "DumpError",
    "Progress",
    "decode_value",
    "encode_value",
    "export_dump",
    "import_dump",
    "rereadable",
]

DUMP_FORMAT = 1

#: `progress(done, total)`: records (export) or bytes (import) done so far, of `total` (0 when
#: unknown). It may start again from 0 if the backend runs a transaction again.
Progress = Callable[[int, int], None]

# JSON's parser and `decode_value` recurse once (or a few times) per level, so a line nested
# thousands deep stops them with RecursionError; whatever reaches it nests far more than the
# codec stores (`codec.MAX_DEPTH`; shallower values past that limit get the codec's own error).
_TOO_DEEP = (
    f"a value nested deeper than {MAX_DEPTH} levels; a stored value nests {MAX_DEPTH} levels"
    " at most"
)
_TICK = 512  # report progress every this many lines


class DumpError(PatchflowError, ValueError):
    """A dump line that cannot be imported; `str()` is `FILE:LINE: message`."""

    def __init__(self, file: str, line: int, message: str):
        self.file, self.line, self.message = file, line, message
        super().__init__(f"{file}:{line}: {message}")


class _Bad(Exception):
    """A problem with one record, raised while applying it; becomes a DumpError with its line."""


def _line(record: dict[str, Any]) -> bytes:
    return (json.dumps(record, ensure_ascii=False, allow_nan=False) + "\n").encode("utf-8")


# ---- stores ------------------------------------------------------------------------------------


def _store_from_json(data: Any) -> StoreRef:
    if type(data) is dict and len(data) == 1:
        ((kind, name),) = data.items()
        if kind in ("local", "name") and isinstance(name, str):
            return StoreRef.local(name) if kind == "local" else StoreRef.named(name)
    raise _Bad(f'"store" must be {{"local": BOX_ID}} or {{"name": NAME}}, not {shorten(data)}')


# ---- export -------------------------------------------------------------------------------------


@attrs.frozen
class DumpCounts:
    """What a dump holds (export) or an import stored: kv keys, collection records, documents."""

    keys: int
    collections: int
    documents: int


def export_dump(
    backend: Backend, patch_id: str, out: IO[bytes], *, progress: Progress | None = None
) -> DumpCounts:
    """Write everything the patch stores to `out` as a dump; return how many of each it holds.

    The dump is taken from one read transaction: a consistent snapshot, even while the patch
    runs and writes.
    """

    def dump(txn: ReadTxn) -> DumpCounts:
        raw_version = txn.get(META, keys.FORMAT_KEY)
        version = FORMAT_VERSION if raw_version is None else codec.decode(raw_version)
        total = txn.count(KV_SPACE) + txn.count(COLLECTIONS) + txn.count(DOCS)
        header = {"patchflow": "dump", "format": DUMP_FORMAT, "patch": patch_id}
        out.write(_line({**header, "storage_format": version}))
        written = 0
        kinds = {"kv": 0, "collection": 0, "doc": 0, "index": 0}
        for record in _records(txn):
            out.write(_line(record))
            kinds[record["kind"]] += 1
            written += 1
            if progress is not None and written % _TICK == 0:
                progress(written, total)
        out.write(_line({"patchflow": "end", "records": written}))
        if progress is not None:
            progress(written, total)
        return DumpCounts(kinds["kv"], kinds["collection"], kinds["doc"])

    return backend.read(dump)


def _records(txn: ReadTxn) -> Iterator[dict[str, Any]]:
    now = expiry.now_ms()
    for key, raw in txn.scan(KV_SPACE, b""):
        due = expiry.due_of(raw)
        if due is not None and due <= now:
            continue  # expired: missing everywhere, exports included
        prefix, name = split_store(key)
        store = store_json(store_of(prefix))
        value = encode_value(codec.decode(expiry.payload(raw)))
        record = {"kind": "kv", "store": store, "key": name.decode("utf-8"), "value": value}
        if due is not None:
            record["expires"] = due
        yield record
    for key, _ in txn.scan(COLLECTIONS, b""):
        prefix, name = split_store(key)
        store = store_json(store_of(prefix))
        collection = name.decode("utf-8")
        yield {"kind": "collection", "store": store, "collection": collection}
        for index in indexing.read_definitions(txn, key + b"\0"):
            fields = {"field": index.field, "unique": index.unique}
            yield {"kind": "index", "store": store, "collection": collection, **fields}
        for _, doc in txn.scan(DOCS, key + b"\0"):
            doc = encode_value(codec.decode(doc))
            yield {"kind": "doc", "store": store, "collection": collection, "doc": doc}


# ---- import -------------------------------------------------------------------------------------


def import_dump(
    backend: Backend,
    source: IO[bytes],
    name: str,
    *,
    replace: bool = False,
    progress: Progress | None = None,
) -> DumpCounts:
    """Load a dump from `source` into the patch's storage, all of it or (on error) nothing.

    Args:
        source: the dump, opened in binary mode; a pipe is spooled to a temporary file first.
        name: what `DumpError` calls the file (`-` or a path).
        replace: delete everything the patch stores first (else merge; see the module doc).

    Raises:
        DumpError: a line that is not valid (`FILE:LINE: message`); nothing was changed.
        StorageError: the storage could not be written; nothing was changed.
    """
    with rereadable(source) as dump:
        dump.seek(0, os.SEEK_END)
        total = dump.tell()

        def apply(txn: WriteTxn) -> DumpCounts:
            dump.seek(0)
            return _Import(txn, name, progress, total).run(dump, replace)

        return backend.write(apply)


@contextlib.contextmanager
def rereadable(source: IO[bytes]) -> Iterator[IO[bytes]]:
    """Yield `source` if it can be read again from the start, else a temporary copy of it."""
    try:
        seekable = source.seekable()
    except (OSError, ValueError):
        seekable = False
    if seekable:
        yield source
        return
    with tempfile.TemporaryFile() as spool:
        shutil.copyfileobj(source, spool, 1 << 20)
        yield spool


class _Import:
    """One run of an import inside a write transaction."""

    def __init__(self, txn: WriteTxn, name: str, progress: Progress | None, total: int):
        self.txn, self.name, self.progress, self.total = txn, name, progress, total
        self.counts = {"kv": 0, "collection": 0, "doc": 0, "index": 0}
        self.doc_lines: dict[bytes, int] = {}  # each document's id key -> its line in the dump
        self.written: dict[bytes, int] = {}  # prefix of each collection written -> first line

    def run(self, source: IO[bytes], replace: bool) -> DumpCounts:
        if replace:
            for space in DATA_SPACES:
                self.txn.delete_prefix(space, b"")
        state, records, number, done = "header", 0, 0, 0
        for number, raw in enumerate(source, 1):
            done += len(raw)
            if self.progress is not None and number % _TICK == 0:
                self.progress(done, self.total)
            if state == "end" or (not raw.strip() and state != "header"):
                if raw.strip():
                    raise DumpError(self.name, number, "text after the dump's end line")
                continue  # blank lines carry nothing
            record = self.parse(raw, number)
            if state == "header":
                self.check_header(record, number)
                state = "records"
            elif type(record) is dict and "patchflow" in record:
                if record != {"patchflow": "end", "records": records}:
                    raise DumpError(
                        self.name,
                        number,
                        f"bad end line {shorten(record)}; expected"
                        f' {{"patchflow": "end", "records": {records}}}',
                    )
                state = "end"
            else:
                try:
                    self.apply(record, number)
                except (_Bad, CommandError, ValueError) as error:
                    raise DumpError(self.name, number, str(error)) from None
                except RecursionError:
                    raise DumpError(self.name, number, _TOO_DEEP) from None
                records += 1
        if state == "header":
            raise DumpError(self.name, 1, "empty file: not a patchflow dump")
        if state != "end":
            raise DumpError(
                self.name,
                number + 1,
                f"the dump ends after {records} records without its end line: it is truncated",
            )
        for base, line in self.written.items():  # its documents changed: so do its indexes
            try:
                indexing.rebuild_indexes(self.txn, base)
            except indexing.DuplicateValue as error:
                raise DumpError(self.name, line, f"collection {base[:-1]!r}: {error}") from None
        if self.progress is not None:
            self.progress(done, self.total)
        return DumpCounts(self.counts["kv"], self.counts["collection"], self.counts["doc"])

    def parse(self, raw: bytes, number: int) -> Any:
        try:
            return json.loads(raw.decode("utf-8"))
        except RecursionError:
            message = _TOO_DEEP
        except UnicodeDecodeError as error:
            message = f"not UTF-8 text (byte {error.start + 1} of the line)"
        except json.JSONDecodeError as error:
            message = f"not valid JSON: {error.msg} at column {error.colno}"
        except ValueError as error:  # e.g. an int with too many digits
            message = f"not valid JSON: {error}"
        raise DumpError(self.name, number, message)

    def check_header(self, header: Any, number: int) -> None:
        expected = '{"patchflow": "dump", "format": 1, ...}'
        if type(header) is not dict or header.get("patchflow") != "dump":
            raise DumpError(
                self.name, number, f"not a patchflow dump: the first line should be {expected}"
            )
        dump_format, storage_format = header.get("format"), header.get("storage_format")
        if type(dump_format) is not int or type(storage_format) is not int:
            raise DumpError(
                self.name, number, 'the header needs "format" and "storage_format" as integers'
            )
        if dump_format < DUMP_FORMAT or storage_format < 1:
            raise DumpError(
                self.name,
                number,
                f"unknown dump format {dump_format} (storage format {storage_format}); this"
                f" patchflow reads dump format {DUMP_FORMAT}, as `patchflow data export` writes",
            )
        if dump_format > DUMP_FORMAT or storage_format > FORMAT_VERSION:
            raise DumpError(
                self.name,
                number,
                f"dump format {dump_format} (storage format {storage_format}) was written by a"
                f" newer patchflow; this one reads dump format {DUMP_FORMAT} at most. Upgrade"
                " patchflow (pip install --upgrade patchflow) to import it",
            )

    def apply(self, record: Any, number: int) -> None:
        if type(record) is not dict:
            raise _Bad(f"a record must be a JSON object, not {shorten(record)}")
        kind = record.get("kind")
        fields = _FIELDS.get(kind) if isinstance(kind, str) else None
        if fields is None:
            raise _Bad(
                f'unknown record kind {shorten(kind)}; expected "kv", "collection", "index" or'
                ' "doc"'
            )
        optional = _OPTIONAL_FIELDS.get(kind, frozenset())
        if record.keys() - optional != fields:
            missing = ", ".join(sorted(fields - record.keys())) or "none"
            extra = ", ".join(sorted(record.keys() - fields - optional)) or "none"
            raise _Bad(
                f"a {kind} record has the fields {', '.join(sorted(fields))};"
                f" missing: {missing}, unexpected: {extra}"
            )
        store = _store_from_json(record["store"])
        self.counts[kind] += 1
        if kind == "kv":
            key = record["key"]
            if not isinstance(key, str):
                raise _Bad(f'"key" must be a string, not {shorten(key)}')
            value = codec.encode(decode_value(record["value"]), "value")
            expires = record.get("expires")
            if expires is not None and (
                type(expires) is not int or not 0 <= expires <= expiry.MAX_DUE_MS
            ):
                raise _Bad(
                    f'"expires" must be an integer (milliseconds since the epoch), not'
                    f" {shorten(expires)}"
                )
            expiry.put(self.txn, store.prefix + keys.encode_key(key), value, expires)
            return
        collection = record["collection"]
        if not isinstance(collection, str):
            raise _Bad(f'"collection" must be a string, not {shorten(collection)}')
        name = keys.encode_collection(collection)
        if kind == "collection":
            self.last_seq(store, name)  # creates the collection if need be
        elif kind == "index":
            if type(record["field"]) is not str or type(record["unique"]) is not bool:
                raise _Bad('an index needs "field" as a string and "unique" as true or false')
            self.last_seq(store, name)
            base = keys.collection_prefix(store, name)
            index = indexing.IndexDef(record["field"], record["unique"])
            indexing.write_definition(self.txn, base, index)
            self.written.setdefault(base, number)
        else:
            self.put_doc(store, name, decode_value(record["doc"]), number)

    def last_seq(self, store: StoreRef, name: bytes) -> int:
        key = keys.collection_key(store, name)
        raw = self.txn.get(COLLECTIONS, key)
        if raw is None:
            self.txn.put(COLLECTIONS, key, keys.collection_entry(0))
            return 0
        return keys.decode_seq(raw)

    def put_doc(self, store: StoreRef, name: bytes, doc: Any, number: int) -> None:
        if type(doc) is not dict or not isinstance(doc.get("_id"), str):
            raise _Bad(f'"doc" must be an object with an "_id" string, not {shorten(doc)}')
        for field in ("_created", "_updated"):
            if type(doc.get(field)) is not int:
                found = "none" if field not in doc else shorten(doc[field])
                raise _Bad(
                    f'"doc" needs "{field}" as an integer (milliseconds since the epoch), not'
                    f" {found}"
                )
        data = codec.encode(doc, "doc")
        id_key = keys.id_key(store, name, keys.encode_doc_id(doc["_id"]))
        first = self.doc_lines.setdefault(id_key, number)
        if first != number:
            raise _Bad(f"duplicate _id {shorten(doc['_id'])} (first at line {first})")
        found = self.txn.get(IDS, id_key)
        last = self.last_seq(store, name)
        if found is None:  # a new document: append it after the collection's others
            seq = last = last + 1
            self.txn.put(IDS, id_key, keys.encode_seq(seq))
        else:  # the same _id: replace the document in place
            seq = keys.decode_seq(found)
        self.txn.put(DOCS, keys.doc_key(store, name, seq), data)
        self.written.setdefault(keys.collection_prefix(store, name), number)
        # a fresh stamp too, so that cached copies of the collection are seen to be stale
        self.txn.put(COLLECTIONS, keys.collection_key(store, name), keys.collection_entry(last))


#: fields a record may leave out: a kv key's expiry time
_OPTIONAL_FIELDS: dict[str, frozenset[str]] = {"kv": frozenset({"expires"})}
_FIELDS: dict[str, frozenset[str]] = {
    "kv": frozenset({"kind", "store", "key", "value"}),
    "collection": frozenset({"kind", "store", "collection"}),
    "doc": frozenset({"kind", "store", "collection", "doc"}),
    "index": frozenset({"kind", "store", "collection", "field", "unique"}),
}
