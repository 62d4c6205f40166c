"""Export a patch's stored data as a dump, and import a dump: `patchflow data export/import`.

Both work on the key layout (`keys.py`) through the backend protocol, so a dump holds every
store of a patch — local and named, kv and db — without going through the command classes.

**Dump format** (`format` 1): JSON Lines, UTF-8, one JSON object per line.

    {"patchflow": "dump", "format": 1, "patch": "counter", "storage_format": 1}
    {"kind": "kv", "store": {"local": "kv-1"}, "key": "count", "value": 3}
    {"kind": "kv", "store": {"name": "settings"}, "key": "blob", "value": {"$bytes": "AP8="}}
    {"kind": "collection", "store": {"local": "history"}, "collection": "runs"}
    {"kind": "doc", "store": {"local": "history"}, "collection": "runs", "doc": {"_id": ...}}
    {"patchflow": "end", "records": 4}

The first line is the header, the last the end line with the number of records between them:
without it a dump cut short at a line boundary would look complete. A store is `{"local":
BOX_ID}` or `{"name": NAME}`. Records come in key order: every kv key, then each collection
followed by its documents in insertion order; a `collection` record keeps an empty collection.
Documents keep their `_id`, `_created` and `_updated`, so an import reproduces them exactly.

Values are JSON, with markers for what JSON cannot say: `bytes` are `{"$bytes": BASE64}`, the
infinities and NaN `{"$float": "inf" | "-inf" | "nan" | "-nan"}` (a NaN with other bits is
`"nan:"` and its 16 hex digits), and a dict that itself has a single key `$bytes`, `$float` or
`$escape` is wrapped as `{"$escape": {...}}`. JSON keeps `1`, `1.0` and `true` apart, and ints
of any size, so every stored value comes back exactly as it was, bit for bit.

**Import** applies the whole dump in one write transaction: the first bad line raises
`DumpError` (`FILE:LINE: message`), the transaction is aborted and nothing is changed. It
merges by default: kv keys are overwritten, a document whose `_id` is already in its collection
is replaced in place, other documents are appended after the collection's existing ones (new
sequence numbers, so later inserts never collide), and each collection written gets a fresh
stamp in its entry (keys.py), as every db write does; `replace=True` clears every store first,
in the same transaction. Input that cannot be read twice (a pipe) is spooled to a temporary file
first, because the backend may run the transaction again after growing its map.

Both stream through the data, a line at a time. Export's memory use stays flat; an import's
single write transaction keeps the pages it changes in memory until LMDB spills them to the
file (from about 512 MiB on), the price of all-or-nothing.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import math
import os
import shutil
import struct
import tempfile
from collections.abc import Callable, Iterator
from typing import IO, Any

import attrs

from ..errors import CommandError, PatchflowError
from . import codec, keys
from .backend import Backend, ReadTxn, WriteTxn
from .inventory import DATA_SPACES, count_entries, split_store, store_json, store_of
from .keys import FORMAT_VERSION, StoreRef

__all__ = [
    "DUMP_FORMAT",
    "DumpError",
    "ImportResult",
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

_MARKERS = frozenset({"$bytes", "$float", "$escape"})
_FLOATS = {"nan": math.nan, "-nan": -math.nan, "inf": math.inf, "-inf": -math.inf}
_NAN_NAMES = {0x7FF8000000000000: "nan", 0xFFF8000000000000: "-nan"}
_TICK = 512  # report progress every this many lines


class DumpError(PatchflowError, ValueError):
    """A dump line that cannot be imported; `str()` is `FILE:LINE: message`."""

    def __init__(self, file: str, line: int, message: str):
        self.file, self.line, self.message = file, line, message
        super().__init__(f"{file}:{line}: {message}")


class _Bad(Exception):
    """A problem with one record, raised while applying it; becomes a DumpError with its line."""


# ---- values: JSON with markers ------------------------------------------------------------------


def encode_value(value: Any) -> Any:
    """Return a stored value as JSON-ready data, with the markers of the dump format."""
    kind = type(value)
    if kind is str or kind is int or kind is bool or value is None:
        return value
    if kind is float:
        if math.isfinite(value):
            return value
        if value == value:
            return {"$float": repr(value)}  # "inf", "-inf"
        bits = _float_bits(value)  # keep a NaN's sign and payload too
        return {"$float": _NAN_NAMES.get(bits) or f"nan:{bits:016x}"}
    if kind is bytes:
        return {"$bytes": base64.b64encode(value).decode("ascii")}
    if kind is list:
        return [encode_value(item) for item in value]
    if kind is dict:
        encoded = {key: encode_value(item) for key, item in value.items()}
        if len(encoded) == 1 and next(iter(encoded)) in _MARKERS:
            return {"$escape": encoded}
        return encoded
    raise TypeError(f"{kind.__name__} is not a stored value")


def decode_value(data: Any) -> Any:
    """Return the value `encode_value` made `data` from; raise ValueError on a bad marker."""
    kind = type(data)
    if kind is dict:
        if len(data) == 1:
            ((marker, inner),) = data.items()
            if marker in _MARKERS:
                return _decode_marker(marker, inner)
        return {key: decode_value(item) for key, item in data.items()}
    if kind is list:
        return [decode_value(item) for item in data]
    return data


def _decode_marker(marker: str, inner: Any) -> Any:
    if marker == "$bytes":
        if isinstance(inner, str):
            with contextlib.suppress(binascii.Error, ValueError):
                return base64.b64decode(inner, validate=True)
        raise ValueError(f'{{"$bytes": ...}} needs base64 text, not {_short(inner)}')
    if marker == "$float":
        if isinstance(inner, str):
            if inner in _FLOATS:
                return _FLOATS[inner]
            number = _nan_from_bits(inner)
            if number is not None:
                return number
        raise ValueError(
            f'{{"$float": ...}} needs "nan", "-nan", "inf", "-inf" or "nan:" and 16 hex digits'
            f" (a NaN's bits), not {_short(inner)}"
        )
    if not isinstance(inner, dict):
        raise ValueError(f'{{"$escape": ...}} needs an object, not {_short(inner)}')
    return {key: decode_value(item) for key, item in inner.items()}


def _float_bits(value: float) -> int:
    return int.from_bytes(struct.pack(">d", value), "big")


def _nan_from_bits(text: str) -> float | None:
    hex_digits = text.removeprefix("nan:")
    if len(hex_digits) != 16 or hex_digits == text:
        return None
    try:
        bits = int(hex_digits, 16)
    except ValueError:
        return None
    value = struct.unpack(">d", bits.to_bytes(8, "big"))[0]
    return value if value != value else None


def _short(data: Any, limit: int = 60) -> str:
    """Return JSON text of `data` for an error message, cut to `limit` characters."""
    text = json.dumps(data, ensure_ascii=False, default=_bytes_as_size)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _bytes_as_size(value: Any) -> str:
    if isinstance(value, bytes):
        return f"<{len(value)} bytes>"
    raise TypeError(type(value).__name__)


def _line(record: dict[str, Any]) -> bytes:
    return (json.dumps(record, ensure_ascii=False, allow_nan=False) + "\n").encode("utf-8")


# ---- stores ------------------------------------------------------------------------------------


def _store_from_json(data: Any) -> StoreRef:
    if type(data) is dict and len(data) == 1:
        ((kind, name),) = data.items()
        if kind in ("local", "name") and isinstance(name, str):
            return StoreRef.local(name) if kind == "local" else StoreRef.named(name)
    raise _Bad(f'"store" must be {{"local": BOX_ID}} or {{"name": NAME}}, not {_short(data)}')


# ---- export -------------------------------------------------------------------------------------


def export_dump(
    backend: Backend, patch_id: str, out: IO[bytes], *, progress: Progress | None = None
) -> int:
    """Write everything the patch stores to `out` as a dump; return the number of records.

    The dump is taken from one read transaction: a consistent snapshot, even while the patch
    runs and writes.
    """

    def dump(txn: ReadTxn) -> int:
        raw_version = txn.get("meta", keys.FORMAT_KEY)
        version = FORMAT_VERSION if raw_version is None else codec.decode(raw_version)
        total = (
            count_entries(txn, "kv")
            + count_entries(txn, "collections")
            + count_entries(txn, "docs")
        )
        header = {"patchflow": "dump", "format": DUMP_FORMAT, "patch": patch_id}
        out.write(_line({**header, "storage_format": version}))
        written = 0
        for record in _records(txn):
            out.write(_line(record))
            written += 1
            if progress is not None and written % _TICK == 0:
                progress(written, total)
        out.write(_line({"patchflow": "end", "records": written}))
        if progress is not None:
            progress(written, total)
        return written

    return backend.read(dump)


def _records(txn: ReadTxn) -> Iterator[dict[str, Any]]:
    for key, value in txn.scan("kv", b""):
        prefix, name = split_store(key)
        store = store_json(store_of(prefix))
        value = encode_value(codec.decode(value))
        yield {"kind": "kv", "store": store, "key": name.decode("utf-8"), "value": value}
    for key, _ in txn.scan("collections", b""):
        prefix, name = split_store(key)
        store = store_json(store_of(prefix))
        collection = name.decode("utf-8")
        yield {"kind": "collection", "store": store, "collection": collection}
        for _, doc in txn.scan("docs", key + b"\0"):
            doc = encode_value(codec.decode(doc))
            yield {"kind": "doc", "store": store, "collection": collection, "doc": doc}


# ---- import -------------------------------------------------------------------------------------


@attrs.frozen
class ImportResult:
    """What an import stored: kv keys, collection records and documents."""

    keys: int
    collections: int
    documents: int


def import_dump(
    backend: Backend,
    source: IO[bytes],
    name: str,
    *,
    replace: bool = False,
    progress: Progress | None = None,
) -> ImportResult:
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

        def apply(txn: WriteTxn) -> ImportResult:
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
        self.counts = {"kv": 0, "collection": 0, "doc": 0}

    def run(self, source: IO[bytes], replace: bool) -> ImportResult:
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
                        f"bad end line {_short(record)}; expected"
                        f' {{"patchflow": "end", "records": {records}}}',
                    )
                state = "end"
            else:
                try:
                    self.apply(record)
                except (_Bad, CommandError, ValueError) as error:
                    raise DumpError(self.name, number, str(error)) from None
                records += 1
        if state == "header":
            raise DumpError(self.name, 1, "empty file: not a patchflow dump")
        if state != "end":
            raise DumpError(
                self.name,
                number + 1,
                f"the dump ends after {records} records without its end line: it is truncated",
            )
        if self.progress is not None:
            self.progress(done, self.total)
        return ImportResult(self.counts["kv"], self.counts["collection"], self.counts["doc"])

    def parse(self, raw: bytes, number: int) -> Any:
        try:
            return json.loads(raw.decode("utf-8"))
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
            raise DumpError(self.name, number, 'the header needs "format" and "storage_format"')
        if dump_format > DUMP_FORMAT or storage_format > FORMAT_VERSION:
            raise DumpError(
                self.name,
                number,
                f"dump format {dump_format} (storage format {storage_format}) was written by a"
                f" newer patchflow; this one reads dump format {DUMP_FORMAT} at most. Upgrade"
                " patchflow (pip install --upgrade patchflow) to import it",
            )

    def apply(self, record: Any) -> None:
        if type(record) is not dict:
            raise _Bad(f"a record must be a JSON object, not {_short(record)}")
        kind = record.get("kind")
        fields = _FIELDS.get(kind) if isinstance(kind, str) else None
        if fields is None:
            raise _Bad(f'unknown record kind {_short(kind)}; expected "kv", "collection" or "doc"')
        if record.keys() != fields:
            missing = ", ".join(sorted(fields - record.keys())) or "none"
            extra = ", ".join(sorted(record.keys() - fields)) or "none"
            raise _Bad(
                f"a {kind} record has the fields {', '.join(sorted(fields))};"
                f" missing: {missing}, unexpected: {extra}"
            )
        store = _store_from_json(record["store"])
        self.counts[kind] += 1
        if kind == "kv":
            key = record["key"]
            if not isinstance(key, str):
                raise _Bad(f'"key" must be a string, not {_short(key)}')
            value = codec.encode(decode_value(record["value"]), "value")
            self.txn.put("kv", store.prefix + keys.encode_key(key), value)
            return
        collection = record["collection"]
        if not isinstance(collection, str):
            raise _Bad(f'"collection" must be a string, not {_short(collection)}')
        name = keys.encode_collection(collection)
        if kind == "collection":
            self.last_seq(store, name)  # creates the collection if need be
        else:
            self.put_doc(store, name, decode_value(record["doc"]))

    def last_seq(self, store: StoreRef, name: bytes) -> int:
        key = keys.collection_key(store, name)
        raw = self.txn.get("collections", key)
        if raw is None:
            self.txn.put("collections", key, keys.collection_entry(0))
            return 0
        return keys.decode_seq(raw)

    def put_doc(self, store: StoreRef, name: bytes, doc: Any) -> None:
        if type(doc) is not dict or not isinstance(doc.get("_id"), str):
            raise _Bad(f'"doc" must be an object with an "_id" string, not {_short(doc)}')
        data = codec.encode(doc, "doc")
        id_key = keys.id_key(store, name, keys.encode_doc_id(doc["_id"]))
        found = self.txn.get("ids", id_key)
        last = self.last_seq(store, name)
        if found is None:  # a new document: append it after the collection's others
            seq = last = last + 1
            self.txn.put("ids", id_key, keys.encode_seq(seq))
        else:  # the same _id: replace the document in place
            seq = keys.decode_seq(found)
        self.txn.put("docs", keys.doc_key(store, name, seq), data)
        # a fresh stamp too, so that cached copies of the collection are seen to be stale
        self.txn.put("collections", keys.collection_key(store, name), keys.collection_entry(last))


_FIELDS: dict[str, frozenset[str]] = {
    "kv": frozenset({"kind", "store", "key", "value"}),
    "collection": frozenset({"kind", "store", "collection"}),
    "doc": frozenset({"kind", "store", "collection", "doc"}),
}
