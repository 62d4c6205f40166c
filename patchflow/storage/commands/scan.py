"""Read many documents of a collection fast: prefilter raw bytes, decode once, cache.

`find` and `count` read the collection in one read transaction. Before
decoding anything they test each document's raw msgpack bytes against the query's equality
terms (`_probes`): a document can only match `{group: 7}` if its bytes hold the key `group`
directly followed by `7` (as an int or an equal float) or by a list, which may contain it.
Only documents passing that test are decoded (all at once, as one msgpack array), matched and
sorted. `{_id: "..."}` is looked up by id instead, and `count` without a query decodes nothing.

A collection read in full is kept, as one bytes object (`_Snapshot`), in a small per-backend
cache (`_SnapshotCache`, at most `CACHE_BYTES`), together with the collection's stamp: its
entry in `collections`, which every update, replace, delete and drop rewrites with fresh random
bytes (see `keys.py`), and the key of its newest document, which every insert changes. The
next `find` reads both — a key and a cursor step, in the same read transaction — and uses the
cached copy only if they are unchanged. Repeated finds on a
collection that is not being written to then cost a regex scan of its bytes, not a walk over
its keys (which, through the backend's scan, costs about ten times as much).
"""

from __future__ import annotations

import math
import re
import threading
import weakref
from array import array
from bisect import bisect_right
from collections import OrderedDict
from collections.abc import Iterable
from itertools import accumulate
from typing import Any

import msgpack

from ...errors import CommandError
from ..backends.protocol import Backend, ReadTxn
from ..layout import keys
from ..layout.keys import COLLECTIONS, DOCS, IDS, StoreRef
from . import query

_DOCS, _IDS, _COLLECTIONS = DOCS, IDS, COLLECTIONS
_unpackb = msgpack.unpackb
_MATCH_ALL = query.compile_query(None)


def packb(value: Any) -> bytes:
    """Pack a value already checked by `codec.encode` (so it cannot fail)."""
    return msgpack.packb(value, use_bin_type=True)


def read_doc(txn: ReadTxn, prefix: bytes, id_key: bytes) -> tuple[bytes, bytes | None]:
    """Return (the doc's key in `docs`, its raw bytes or None) for the id under `id_key`."""
    seq = txn.get(_IDS, id_key)
    if seq is None:
        return b"", None
    doc_key = prefix + seq
    return doc_key, txn.get(_DOCS, doc_key)


_ARRAY_HEADER = rb"[\x90-\x9f\xdc\xdd]"  # msgpack's fixarray, array 16 and array 32
_DIGITS = re.compile(r"[0-9]+", re.ASCII)


class Plan:
    """How `find` and `count` read a collection for one query: compiled once per command.

    - `matcher`: the query's `doc -> bool` (query.py).
    - `probes`: regexes every matching document's raw bytes must contain (see `_probes`); a
      document failing one is never decoded. Compiled when first needed: a find answered by
      an index (indexes.py) never needs them, and compiling costs more than such a find.
    - `by_id`: the `_id` the query requires, if it names one: then only that doc is read.
    """

    __slots__ = ("_probes", "by_id", "matcher", "query")

    def __init__(self, query_doc: dict[str, Any] | None) -> None:
        self.matcher = query.compile_query(query_doc)
        self.query = query_doc
        self._probes: list[re.Pattern[bytes]] | None = None
        self.by_id = _required_id(query_doc) if query_doc else None

    @property
    def probes(self) -> list[re.Pattern[bytes]]:
        if self._probes is None:
            self._probes = _probes(self.query) if self.query else []
        return self._probes

    def find(
        self, backend: Backend, store: StoreRef, collection: bytes, wanted: int | None
    ) -> tuple[list[dict[str, Any]], int]:
        """The matching documents in insertion order, at most `wanted` of them if not None, and
        how many documents were examined (read or walked over) to find them."""
        if wanted == 0:
            return [], 0
        prefix = keys.collection_prefix(store, collection)
        entry_key = keys.collection_key(store, collection)
        cache = _cache_for(backend)

        def read(txn: ReadTxn) -> tuple[tuple[list[dict[str, Any]], int], _Snapshot | None, bytes]:
            entry = txn.get(_COLLECTIONS, entry_key)
            if entry is None:  # no such collection
                return ([], 0), None, None
            if self.by_id is not None:
                raw = read_doc(txn, prefix, prefix + self.by_id)[1]
                raws = [] if raw is None or not _passes(raw, self.probes) else [raw]
                return (self._matching(_decode_all(raws), wanted), int(raw is not None)), None, None
            stamp = _stamp(txn, prefix, entry)
            snapshot = None if cache is None else cache.get(prefix, stamp)
            if snapshot is not None:
                return self._from_snapshot(snapshot, wanted), None, None
            if wanted is not None and not self.probes:  # stop reading once there are enough
                raws = (raw for _, raw in txn.scan(_DOCS, prefix))
                return self._first(raws, wanted), None, None
            snapshot = _Snapshot.scan(txn, prefix)
            return self._from_snapshot(snapshot, wanted), snapshot, stamp

        found, fresh, stamp = backend.read(read)
        if fresh is not None and cache is not None:
            cache.put(prefix, stamp, fresh)
        return found

    def count(self, backend: Backend, store: StoreRef, collection: bytes) -> tuple[int, int]:
        """How many documents match, and how many were examined; without a query, counted
        without decoding any."""
        if self.matcher is not _MATCH_ALL:
            docs, examined = self.find(backend, store, collection, None)
            return len(docs), examined
        prefix = keys.collection_prefix(store, collection)
        entry_key = keys.collection_key(store, collection)
        cache = _cache_for(backend)

        def read(txn: ReadTxn) -> int:
            entry = txn.get(_COLLECTIONS, entry_key)
            if entry is None:
                return 0
            snapshot = None if cache is None else cache.get(prefix, _stamp(txn, prefix, entry))
            if snapshot is not None:
                return len(snapshot)
            return sum(1 for _ in txn.scan(_DOCS, prefix))

        counted = backend.read(read)
        return counted, counted

    def _from_snapshot(
        self, snapshot: _Snapshot, wanted: int | None
    ) -> tuple[list[dict[str, Any]], int]:
        if self.probes:
            return self._matching(_decode_all(snapshot.search(self.probes)), wanted), len(snapshot)
        if wanted is None:
            return self._matching(snapshot.decode_all(), None), len(snapshot)
        return self._first(snapshot.raws(), wanted)

    def _matching(self, docs: list[dict[str, Any]], wanted: int | None) -> list[dict[str, Any]]:
        matcher = self.matcher
        if matcher is not _MATCH_ALL:
            docs = [doc for doc in docs if matcher(doc)]
        return docs if wanted is None else docs[:wanted]

    def _first(self, raws: Iterable[bytes], wanted: int) -> tuple[list[dict[str, Any]], int]:
        """Decode documents one at a time until `wanted` have matched; say how many were read."""
        matcher = self.matcher
        found: list[dict[str, Any]] = []
        read = 0
        for raw in raws:
            read += 1
            doc = _unpackb(raw)
            if matcher(doc):
                found.append(doc)
                if len(found) == wanted:
                    break
        return found, read


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

    An entry is used only while the collection's stamp (see `_stamp`) is the one it was read
    with, so it never serves data a later write, in any process, has changed.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._entries: OrderedDict[bytes, tuple[bytes, _Snapshot]] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()

    def get(self, prefix: bytes, stamp: bytes | None) -> _Snapshot | None:
        if stamp is None:
            return None
        with self._lock:
            found = self._entries.get(prefix)
            if found is None or found[0] != stamp:
                return None
            self._entries.move_to_end(prefix)
            return found[1]

    def put(self, prefix: bytes, stamp: bytes | None, snapshot: _Snapshot) -> None:
        if stamp is None or snapshot.size > self.limit // 4:
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


def _stamp(txn: ReadTxn, prefix: bytes, entry: bytes) -> bytes | None:
    """What identifies this version of a collection: its entry and its newest document's key.

    Every update, replace, delete and drop rewrites the entry's random stamp; every insert
    appends a document under a new newest key. None for an entry without a stamp (never cached).
    """
    if len(entry) != _STAMPED:
        return None
    return entry + last_doc_key(txn, prefix)


def last_doc_key(txn: ReadTxn, prefix: bytes) -> bytes:
    """The key of the collection's newest document, b"" if it has none."""
    for key, _ in txn.scan(_DOCS, prefix, reverse=True):
        return key
    return b""


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
    # Numbers, bools and $in are covered as well as strings, since a common query value — a
    # group, a count, a flag — is often one; and each value is tied to its key, which turns
    # away far more documents than the value alone.
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
                key = re.escape(packb(last))
                pattern = key + b"(?:" + values + b"|" + _ARRAY_HEADER + b")"
            probes.append(re.compile(pattern))
    return probes


def _encodings(value: Any) -> set[bytes] | None:
    """Every msgpack encoding of a value kind-safely equal to `value`; None when not known."""
    kind = type(value)
    try:
        if kind in (str, bytes, bool):
            return {packb(value)}
        if kind is int:
            found = {packb(value)}
            as_float = float(value)
            if as_float == value:
                found |= _float_encodings(as_float)
            return found
        if kind is float:
            if math.isnan(value):
                return None
            found = _float_encodings(value)
            if value.is_integer() and -(2**63) <= value < 2**64:
                found.add(packb(int(value)))
            return found
    except (OverflowError, ValueError, UnicodeEncodeError):
        return None  # no stored value can equal it; let the matcher say so
    return None


def _float_encodings(value: float) -> set[bytes]:
    if value == 0:
        return {packb(0.0), packb(-0.0)}
    return {packb(value)}


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
