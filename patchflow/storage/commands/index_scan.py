"""Answer `find` and `count` from an index (`layout/indexing.py`) when one fits the query.

Choosing (`choose`), among the collection's indexes, for one command:

1. a **condition** on an indexed field that an index can bound: a plain scalar value or
   `$eq`, `$in` of scalars (points), else `$gt $gte $lt $lte` with a number, string, bytes or
   bool (a range within that kind: `{n: {$gt: 5}}` only walks numbers); equality before
   ranges, then the query's field order;
2. with `limit` and a `sort` whose first field is indexed, and no condition on another indexed
   field: a **sort walk** of that index, in sort order, restricted to the condition's values
   when the condition is on the same field, reading documents only until the page is full.

An index only narrows which documents are read: every document read is still tested by the
whole query (so other fields' conditions, `$ne` and the like hold as without an index), and
documents come out in insertion order (condition) or in exactly the stable order of
`sorting.py` (sort walk: a run of entries with one encoding is reordered in memory when its
encoding is inexact or the sort has further fields, descending runs keep insertion order).
List fields match by membership, so a condition also looks in the MEMBERS entries, and a sort
walk also visits the list group. Everything else — no fitting index, `{_id: …}`, conditions
on non-scalar values, numbers no float holds — reads the collection as `scan.py` does.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import attrs
import msgpack

from ..backends.protocol import ReadTxn, prefix_end
from ..layout import index_keys as ik
from ..layout.index_keys import entry_value, is_exact
from ..layout.indexing import IndexDef
from ..layout.keys import DOCS, INDEXES, SEQ_BYTES

__all__ = ["Choice", "choose", "walk"]

_RANGES = ("$gt", "$gte", "$lt", "$lte")
_SCALARS = (type(None), bool, int, float, str, bytes)
_ORDERED = {ik.FALSE: (ik.FALSE, ik.TRUE), ik.TRUE: (ik.FALSE, ik.TRUE)}
_ORDERED |= {tag: (tag, tag) for tag in (ik.NUMBER, ik.STRING, ik.BYTES)}
Interval = tuple[bytes, bytes]  # [low, high) within one section, relative to its prefix


@attrs.frozen
class Choice:
    """An index chosen for a command, and which of its entries to walk.

    `sorted_part`/`members`: intervals of VALUE encodings in the SORTED and MEMBERS sections,
    each in ascending order; `sort_walk`: walk SORTED in sort order (`descending`) for a page.
    """

    index: IndexDef
    sorted_part: tuple[Interval, ...]
    members: tuple[Interval, ...]
    sort_walk: bool = False
    descending: bool = False


def choose(
    indexes: list[IndexDef],
    query: dict[str, Any] | None,
    sort: dict[str, int] | None,
    limit: int | None,
) -> Choice | None:
    """The index to answer a find (or count: no sort, no limit) with, or None for a scan."""
    by_field = {index.field: index for index in indexes}
    conditions = []  # (rank, position, index, sorted intervals, member intervals)
    for position, (field, condition) in enumerate((query or {}).items()):
        index = by_field.get(field)
        bounds = None if index is None else _bounds(condition)
        if bounds is not None:
            conditions.append((bounds[0], position, index, bounds[1], bounds[2]))
    condition = min(conditions, key=lambda c: c[:2]) if conditions else None
    first_sort = next(iter(sort), None) if sort else None
    sort_index = by_field.get(first_sort) if first_sort is not None else None
    if limit is not None and sort_index is not None:
        if condition is None:
            return Choice(sort_index, ((b"", b"\xff"),), (), True, sort[first_sort] == -1)
        if condition[2] is sort_index:
            # documents with a list can match by membership: the list group is walked too
            lists = (ik.LIST, _after(ik.LIST))
            intervals = tuple(sorted({*condition[3], lists}))
            return Choice(sort_index, intervals, (), True, sort[first_sort] == -1)
    if condition is None:
        return None
    return Choice(condition[2], condition[3], condition[4])


def _bounds(condition: Any) -> tuple[int, tuple[Interval, ...], tuple[Interval, ...]] | None:
    """(rank, SORTED intervals, MEMBERS intervals) a field's condition allows; None: any."""
    if (
        type(condition) is not dict
        or not condition
        or not all(isinstance(k, str) and k.startswith("$") for k in condition)
    ):
        return _points([condition])
    if "$eq" in condition:
        return _points([condition["$eq"]])
    if type(condition.get("$in")) in (list, tuple):
        return _points(list(condition["$in"]))
    ranges = [(op, condition[op]) for op in _RANGES if op in condition]
    if not ranges:
        return None
    intervals = [_range(op, operand) for op, operand in ranges]
    if any(interval is None for interval in intervals):
        return None
    low = max(interval[0] for interval in intervals)  # a scalar holds all of them at once
    high = min(interval[1] for interval in intervals)
    both = ((low, high),) if low < high else ()
    # a list holds each with an element of its own: only the first bounds its members
    return 1, both, (intervals[0],)


def _points(values: list[Any]) -> tuple[int, tuple[Interval, ...], tuple[Interval, ...]] | None:
    found = set()
    for value in values:
        if type(value) not in _SCALARS:
            return None  # a list or dict operand, or a subclass: the scan handles those
        try:
            encoded = ik.encode_value(value)
        except ValueError:
            return None
        found.add((encoded, _after(encoded)))
    members = tuple(sorted(found))
    if any(value is None for value in values):  # null matches a missing field too
        found.add((ik.MISSING, _after(ik.MISSING)))
    return 0, tuple(sorted(found)), members


def _range(op: str, operand: Any) -> Interval | None:
    tag = ik.kind_tag(operand) if type(operand) in _SCALARS else None
    kind = _ORDERED.get(tag)
    if kind is None:
        return None  # None, a list or a dict is never ordered: let the scan say "nothing"
    try:
        encoded = ik.encode_value(operand)
    except ValueError:
        return None
    low, high = kind[0], _after(kind[1])
    exact = is_exact(encoded)
    if op == "$gt":
        low = _after(encoded) if exact else encoded
    elif op == "$gte":
        low = encoded
    elif op == "$lt":
        high = encoded if exact else _after(encoded)
    else:
        high = _after(encoded)
    return (low, high)


def _after(encoded: bytes) -> bytes:
    """The least VALUE above every VALUE starting with `encoded` (which starts with a tag)."""
    after = prefix_end(encoded)
    assert after is not None  # a tag is never FF
    return after


def _keys(txn: ReadTxn, prefix: bytes, interval: Interval, descending: bool) -> Iterator[bytes]:
    """The entry keys whose VALUE lies in `interval`, in key order (or backwards)."""
    low, high = prefix + interval[0], prefix + interval[1]
    if not descending:
        for key, _ in txn.scan(INDEXES, prefix, start=low):
            if key >= high:
                return
            yield key
    else:
        for key, _ in txn.scan(INDEXES, prefix, start=high, reverse=True):
            if key < low:
                return
            if key < high:
                yield key


Matcher = Callable[[dict[str, Any]], bool]
Sorter = Callable[[list[dict[str, Any]]], list[dict[str, Any]]]


def walk(
    txn: ReadTxn,
    base: bytes,
    choice: Choice,
    matcher: Matcher,
    wanted: int | None,
    sorter: Sorter | None = None,
    several_keys: bool = False,
) -> tuple[list[dict[str, Any]], int]:
    """The matching documents the choice leads to, and how many documents were read.

    A condition gives them in insertion order, at most `wanted`; a sort walk in sort order
    (`sorter` reorders a run of equal entries when needed), at least `wanted` if there are.
    """
    field = choice.index.field_bytes
    sorted_prefix = ik.entries_prefix(base, ik.SORTED, field)
    if choice.sort_walk:
        return _sort_walk(txn, base, sorted_prefix, choice, matcher, wanted, sorter, several_keys)
    seqs = set()
    for interval in choice.sorted_part:
        seqs.update(key[-SEQ_BYTES:] for key in _keys(txn, sorted_prefix, interval, False))
    members_prefix = ik.entries_prefix(base, ik.MEMBERS, field)
    for interval in choice.members:
        seqs.update(key[-SEQ_BYTES:] for key in _keys(txn, members_prefix, interval, False))
    found: list[dict[str, Any]] = []
    examined = 0
    for seq in sorted(seqs):
        raw = txn.get(DOCS, base + seq)
        if raw is None:
            continue
        examined += 1
        doc = msgpack.unpackb(raw)
        if matcher(doc):
            found.append(doc)
            if len(found) == wanted:
                break
    return found, examined


def _sort_walk(
    txn: ReadTxn,
    base: bytes,
    prefix: bytes,
    choice: Choice,
    matcher: Matcher,
    wanted: int | None,
    sorter: Sorter | None,
    several_keys: bool,
) -> tuple[list[dict[str, Any]], int]:
    found: list[dict[str, Any]] = []
    examined = 0
    intervals = reversed(choice.sorted_part) if choice.descending else choice.sorted_part
    run: list[bytes] = []  # the seqs of the current run of equal encodings
    run_value = None

    def finish() -> None:
        """Add the run's matching documents, in order; stop early if it needs no reordering."""
        nonlocal examined
        seqs = run[::-1] if choice.descending else run  # ties keep insertion order
        reorder = sorter is not None and (several_keys or not is_exact(run_value or b""))
        docs = []
        for seq in seqs:
            raw = txn.get(DOCS, base + seq)
            if raw is not None:
                examined += 1
                doc = msgpack.unpackb(raw)
                if matcher(doc):
                    docs.append(doc)
                    if not reorder and wanted is not None and len(found) + len(docs) >= wanted:
                        break
        found.extend(sorter(docs) if reorder and sorter is not None else docs)

    for interval in intervals:
        for key in _keys(txn, prefix, interval, choice.descending):
            value = entry_value(key, len(prefix))
            if value != run_value and run:
                finish()
                run.clear()
                if wanted is not None and len(found) >= wanted:
                    return found, examined
            run_value = value
            run.append(key[-SEQ_BYTES:])
    if run:
        finish()
    return found, examined
