"""Benchmarks of db indexes: finds through an index against the scan of the same collection."""

from __future__ import annotations

import os
from typing import Any

import trio
from harness import BenchFailed, Config, Rate, Result, Size, Stopwatch, benchmark, interleave
from stores import prefill

from patchflow.storage import DB, StoreRef, open_storage

INDEX_DOCS = Size(full=100_000, quick=10_000)  # docs in the collection searched
INDEX_FINDS = Size(full=200, quick=20)  # indexed finds per round
SCAN_FINDS = Size(full=3, quick=3)  # scans per round (each reads every document)
GROUPS = 10_000  # docs have group = i % GROUPS: an equality find matches docs / GROUPS


def _doc(i: int) -> dict[str, Any]:
    # `group`/`n` are indexed; `group_copy`/`n_copy` hold the same values without an index,
    # so the scan answers the very same question over the very same documents
    group = i % GROUPS
    n = (i * 7919) % 1_000_003  # spread, not in insertion order
    return {"name": f"item {i}", "group": group, "group_copy": group, "n": n, "n_copy": n}


def _prefilled(tmp: str, n_docs: int) -> tuple[Any, DB]:
    storage = open_storage("bench-indexes", os.path.join(tmp, "indexes"))
    ref = StoreRef.named("docs")
    prefill(
        storage,
        lambda backend: DB(backend, ref),
        "insert",
        [("items", _doc(i)) for i in range(n_docs)],
    )
    db = storage.db(name="docs")
    for field in ("group", "n"):
        trio.run(db.create_index, "items", field)
    return storage, db


def _timed(db: DB, messages: list[dict[str, Any]], check: Any) -> Rate:
    """Answer each message as a `[db]` box does (parse, answer); the replies checked after."""
    watch = Stopwatch()
    replies = []
    with watch:
        for message in messages:
            replies.append(db.answer(db.parse(message)))
    for reply in replies:
        check(reply)
    return watch.rates(len(messages))


def _expect(index: str | None, count: int):
    def check(reply: dict[str, Any]) -> None:
        if reply.get("op") != "find" or reply["plan"]["index"] != index or reply["count"] != count:
            raise BenchFailed(f"expected {count} docs through index {index}, got {reply!r:.300}")

    return check


@benchmark(
    "db_find_eq_indexed_100k",
    unit="finds/s",
    baseline="the same find on an unindexed field of the same 100,000 docs (a scan)",
    target=">= 100",
)
def bench_find_eq_indexed(cfg: Config, tmp: str, result: Result) -> Result:
    """`find {group: v}` through the index on `group` (10 of 100,000 docs match; a different
    `v` each call), answered as a `[db]` box does.

    Baseline: `find {group_copy: v}`, the same values in a field without an index, over the
    same collection: a scan (with its cached copy and byte prefilter, scan.py).
    """
    n_docs = cfg.size(INDEX_DOCS)
    storage, db = _prefilled(tmp, n_docs)
    per_find = n_docs // GROUPS
    round_no = [0]

    def finds(field: str, count: int) -> list[dict[str, Any]]:
        round_no[0] += 1
        values = [(round_no[0] * 7 + j * 37) % GROUPS for j in range(count)]
        return [
            {"type": "find", "collection": "items", "query": {field: v}, "explain": True}
            for v in values
        ]

    try:
        a = lambda: _timed(db, finds("group", cfg.size(INDEX_FINDS)), _expect("group", per_find))  # noqa: E731
        b = lambda: _timed(db, finds("group_copy", cfg.size(SCAN_FINDS)), _expect(None, per_find))  # noqa: E731
        return interleave(result, cfg.rounds, a, b)
    finally:
        storage.close()


@benchmark(
    "db_find_range_indexed_100k",
    unit="finds/s",
    baseline="the same find on an unindexed field of the same 100,000 docs (scan and sort)",
    target=">= 100",
)
def bench_find_range_indexed(cfg: Config, tmp: str, result: Result) -> Result:
    """`find {n: {$gte: x}}, sort {n: 1}, limit 10` through the index on `n` (about half the
    documents match; the ten smallest are wanted), answered as a `[db]` box does.

    Baseline: the same find on `n_copy`, the same values without an index: a scan of the
    collection, then a sort of what matched.
    """
    n_docs = cfg.size(INDEX_DOCS)
    storage, db = _prefilled(tmp, n_docs)

    def finds(field: str, count: int) -> list[dict[str, Any]]:
        return [
            {
                "type": "find",
                "collection": "items",
                "query": {field: {"$gte": 500_000 + j}},
                "sort": {field: 1},
                "limit": 10,
                "explain": True,
            }
            for j in range(count)
        ]

    try:
        a = lambda: _timed(db, finds("n", cfg.size(INDEX_FINDS)), _expect("n", 10))  # noqa: E731
        b = lambda: _timed(db, finds("n_copy", cfg.size(SCAN_FINDS)), _expect(None, 10))  # noqa: E731
        return interleave(result, cfg.rounds, a, b)
    finally:
        storage.close()
