"""The on-disk key layout: which space and which bytes each stored thing lives under.

Spaces (see `backend.py`), one per kind of thing, so kv and db data can never collide:

    meta         b"format"                                   → msgpack int: FORMAT_VERSION
    kv           STORE + key                                 → msgpack value
    docs         STORE + collection + b"\\0" + SEQ           → msgpack document
    ids          STORE + collection + b"\\0" + _id           → SEQ
    collections  STORE + collection                          → SEQ (the last one issued) + STAMP
    ttl          DUE + STORE + key                           → b"" (expiring kv keys by due time)
    indexes      STORE + collection + b"\\0" + ...           → db index definitions and entries
                                                               (`index_keys.py`)
    changes      SEQ                                         → a logged change (`changes.py`)

`STORE` is a one-byte kind tag, the store name in UTF-8, and a NUL: `b"L" + box_id + b"\\0"` for
a box's local store, `b"N" + name + b"\\0"` for a named one. The tag keeps local and named
stores apart (`[kv]` with box id `notes` and `[kv notes]` never share keys), and the NUL ends
the name, so no store's keys are a prefix-scan away from another's (`"a"` vs `"ab"`); store
names therefore may not contain NUL, and nor may collection names, for the same reason. Keys,
collection names and ids are UTF-8, whose byte order is code-point order, so a prefix scan
lists one store's keys (or one collection's ids) in code-point order.

db layout (the db commands build on it): each insert takes the next sequence number of its
collection, after the newest document's (and after the SEQ in the collection's entry); a
document lives in `docs` under its `SEQ` (8 bytes, big-endian, so byte order is insertion
order) and `ids` maps its `_id` to that `SEQ`. `find` scans `docs` under `collection_prefix` in
insertion order; `findOne`/`update`/`delete` look up `ids` first. A collection exists while its
`collections` entry does (created by the first insert); `drop` deletes the entry and both
prefixes. There is no limit on the number of collections. `STAMP` (8 random bytes) is rewritten
by every write that changes or removes existing documents, so that a reader holding a copy of
the documents can tell from the entry and the newest document's key whether the copy is still
current (`scan.py` caches collections this way): anything that changes or deletes documents
in `docs` must rewrite the entry with `collection_entry(seq)` in the same transaction; an
insert only appends. An entry without a stamp (just the SEQ) is valid too; such a collection
is simply never cached.

Length limits keep every key within the backend's 511 bytes: store names and collection names
up to 100 bytes of UTF-8, kv keys up to 400 bytes (storage.md), document ids up to 300 bytes.

`FORMAT_VERSION` is recorded in `meta` when storage is created and checked when it is opened:
storage from a newer release is refused, storage from an older one is refused with a message
saying to run `patchflow data migrate PATCH` (`migrations.py` upgrades it).
"""

from __future__ import annotations

import os
from typing import Literal

import attrs

from ...errors import CommandError, StorageError
from ..backends.protocol import Backend, ReadTxn, WriteTxn
from . import codec

__all__ = [
    "CHANGES",
    "COLLECTIONS",
    "DATA_SPACES",
    "DOCS",
    "FORMAT_VERSION",
    "IDS",
    "INDEXES",
    "KV_SPACE",
    "MAX_COLLECTION_BYTES",
    "MAX_DOC_ID_BYTES",
    "MAX_KV_KEY_BYTES",
    "MAX_STORE_NAME_BYTES",
    "META",
    "SEQ_BYTES",
    "SPACES",
    "STAMP_BYTES",
    "TTL_SPACE",
    "OldFormat",
    "StoreRef",
    "collection_entry",
    "collection_key",
    "collection_prefix",
    "decode_seq",
    "doc_key",
    "encode_collection",
    "encode_doc_id",
    "encode_key",
    "encode_seq",
    "ensure_format_version",
    "id_key",
    "read_format_version",
]

#: The spaces of the layout (the table above): the one place their names are written.
META, KV_SPACE, DOCS, IDS, COLLECTIONS = "meta", "kv", "docs", "ids", "collections"
#: The expiry index (`expiry.py`): an expiring kv key's value starts with its DUE time.
TTL_SPACE = "ttl"
#: The db indexes (`index_keys.py`): their definitions and entries, under the collection's prefix.
INDEXES = "indexes"
#: The change log watchers read (`changes.py`): not patch data, so not in DATA_SPACES.
CHANGES = "changes"
#: Every space the layout uses, opened by each backend.
SPACES = (META, KV_SPACE, DOCS, IDS, COLLECTIONS, TTL_SPACE, INDEXES, CHANGES)
#: Every space but `meta`: what a patch's stores hold.
DATA_SPACES = (KV_SPACE, DOCS, IDS, COLLECTIONS, TTL_SPACE, INDEXES)

#: The layout version this release writes; bump it (and add a step to `migrations.STEPS`) when
#: the layout changes. 1: the first layout. 2: format 1 plus the expiry space (`ttl`, and
#: expiring kv values: `expiry.py`) and the db index spaces; format 1 data is valid in format 2.
FORMAT_VERSION = 2
FORMAT_KEY = b"format"

MAX_KV_KEY_BYTES = 400
MAX_STORE_NAME_BYTES = 100
MAX_COLLECTION_BYTES = 100
MAX_DOC_ID_BYTES = 300

#: sizes of a document's sequence number and of a collection entry's stamp
SEQ_BYTES = 8
STAMP_BYTES = 8

_LOCAL_TAG = b"L"
_NAMED_TAG = b"N"
_END = b"\0"


@attrs.frozen
class StoreRef:
    """Which store a box or a Python `KV`/`DB` uses: a box's local store, or a named one.

    Build one with `StoreRef.local(box_id)`, `StoreRef.named(name)` or — as a `[kv NAME]` box
    does, and again on `setStore` — `StoreRef.for_box(box_id, name)`.
    """

    kind: Literal["local", "named"]
    name: str
    #: the bytes every key of this store starts with, in every space
    prefix: bytes = attrs.field(init=False, repr=False, eq=False)

    def __attrs_post_init__(self) -> None:
        tag = _LOCAL_TAG if self.kind == "local" else _NAMED_TAG
        name = _encode_name(self.name, "store name", MAX_STORE_NAME_BYTES)
        object.__setattr__(self, "prefix", tag + name + _END)

    @classmethod
    def local(cls, box_id: str) -> StoreRef:
        """Return the local store of the box with id `box_id`."""
        return cls("local", box_id)

    @classmethod
    def named(cls, name: str) -> StoreRef:
        """Return the store named `name`, shared by every box and program that names it."""
        return cls("named", name)

    @classmethod
    def for_box(cls, box_id: str, name: str = "") -> StoreRef:
        """Return the store a box uses: named `name`, or its local store when `name` is `""`."""
        return cls("named", name) if name else cls("local", box_id)

    def __str__(self) -> str:
        return f"{self.kind} store {self.name!r}"


def encode_key(key: str) -> bytes:
    """Return a kv key's bytes. Raises CommandError if it is not valid text or too long."""
    if len(key) <= MAX_KV_KEY_BYTES // 4:  # the hot path: this short a key cannot be too long
        try:
            return key.encode("utf-8")
        except UnicodeEncodeError:
            pass  # say why below
    return _encode_text(key, "key", MAX_KV_KEY_BYTES)


def encode_collection(collection: str) -> bytes:
    """Return a collection name's bytes (no NUL, 1 to MAX_COLLECTION_BYTES bytes)."""
    return _encode_name(collection, "collection name", MAX_COLLECTION_BYTES)


def encode_doc_id(doc_id: str) -> bytes:
    """Return a document id's bytes (1 to MAX_DOC_ID_BYTES bytes)."""
    return _encode_text(doc_id, "id", MAX_DOC_ID_BYTES, allow_empty=False)


def encode_seq(seq: int) -> bytes:
    """Return a sequence number as 8 big-endian bytes, so that byte order is numeric order."""
    return seq.to_bytes(SEQ_BYTES, "big")


def decode_seq(data: bytes) -> int:
    """Return the sequence number at the start of `data`: a doc's SEQ, or a collection's entry
    (whose stamp follows the SEQ)."""
    return int.from_bytes(data[:SEQ_BYTES], "big")


def collection_entry(seq: int) -> bytes:
    """Return a collection's entry in `collections`: a SEQ and a fresh random stamp.

    Every write that changes or removes a collection's documents (update, replace, delete,
    drop, import) must (re)write its entry with this, in the same transaction, so that cached
    copies of the collection are seen to be stale. An insert need not: it adds a document under
    a new newest key, which cached copies check too. New documents take SEQs after both this
    SEQ and the newest document's.
    """
    return seq.to_bytes(SEQ_BYTES, "big") + os.urandom(STAMP_BYTES)


def collection_prefix(store: StoreRef, collection: bytes) -> bytes:
    """Return the prefix of a collection's keys in the `docs` and `ids` spaces."""
    return store.prefix + collection + _END


def collection_key(store: StoreRef, collection: bytes) -> bytes:
    """Return the key of a collection's entry (a sequence number and a stamp) in `collections`."""
    return store.prefix + collection


def doc_key(store: StoreRef, collection: bytes, seq: int) -> bytes:
    """Return the key of a document in `docs`."""
    return store.prefix + collection + _END + seq.to_bytes(SEQ_BYTES, "big")


def id_key(store: StoreRef, collection: bytes, doc_id: bytes) -> bytes:
    """Return the key of a document id's entry in `ids`."""
    return store.prefix + collection + _END + doc_id


class OldFormat(StorageError):
    """Storage written by an older patchflow, in a layout `patchflow data migrate` upgrades."""


def read_format_version(txn: ReadTxn) -> int | None:
    """Return the format version the storage records (None: new storage, nothing recorded)."""
    raw = txn.get(META, FORMAT_KEY)
    return None if raw is None else codec.decode(raw)


def ensure_format_version(backend: Backend, patch_id: str | None = None) -> int:
    """Record the layout version in new storage; refuse storage of any other version.

    Returns the version found (or just recorded): FORMAT_VERSION. `patch_id` names the patch
    in the message for old storage (the command to run).

    Raises:
        OldFormat: the storage was written by an older patchflow; `patchflow data migrate`
            upgrades it.
        StorageError: it was written by a newer patchflow, with a layout this one does not know.
    """

    def record_version(txn: WriteTxn) -> int:
        found = read_format_version(txn)
        if found is None:
            txn.put(META, FORMAT_KEY, codec.encode(FORMAT_VERSION))
            return FORMAT_VERSION
        return found

    version = backend.read(read_format_version)
    if version is None:  # new storage (another process may be creating it too: check again)
        version = backend.write(record_version)
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise StorageError(
            f"patch storage at {backend.location} has format version {version!r}, written by a"
            f" newer patchflow; this one reads format {FORMAT_VERSION} at most."
            " Upgrade patchflow (pip install --upgrade patchflow) to open it"
        )
    if version < FORMAT_VERSION:
        raise OldFormat(
            f"patch storage at {backend.location} has format version {version}, written by an"
            f" older patchflow; this one reads format {FORMAT_VERSION}. Run `patchflow data"
            f" migrate {patch_id or 'PATCH'}` to upgrade it (it writes a backup first)"
        )
    return version


def _encode_text(text: str, what: str, limit: int, *, allow_empty: bool = True) -> bytes:
    try:
        data = text.encode("utf-8")
    except UnicodeEncodeError as error:
        raise CommandError(
            f"{what} is not valid Unicode text: it has a lone surrogate"
            f" {text[error.start]!r} at index {error.start}"
        ) from None
    if len(data) > limit:
        raise CommandError(
            f"{what} is {len(data)} bytes in UTF-8, but may be at most {limit} bytes"
        )
    if not data and not allow_empty:
        raise CommandError(f"{what} may not be empty")
    return data


def _encode_name(name: str, what: str, limit: int) -> bytes:
    if not isinstance(name, str):
        raise CommandError(f"{what} must be a string, not {type(name).__name__}")
    data = _encode_text(name, what, limit, allow_empty=False)
    if _END in data:
        raise CommandError(f"{what} {name!r} contains NUL (\\0), which {what}s may not contain")
    return data
