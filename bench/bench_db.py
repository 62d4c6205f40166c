"""Benchmarks of the `[db]` store: durable inserts, and equality finds."""

from __future__ import annotations

import os
from typing import Any

import trio
from harness import BenchFailed, Config, Rate, Result, Size, Stopwatch, benchmark, interleave
from stores import check_reply, command_session, lmdb_durable_puts, open_lmdb, prefill, replies_are

from patchflow import Patch
from patchflow.storage import DB, StoreRef, open_storage

DB_INSERTS = Size(full=300, quick=60)  # durable inserts per round
DB_DOCS = Size(full=10_000, quick=10_000)  # docs in the collection searched
DB_FINDS = Size(full=150, quick=10)  # finds per round
DB_GROUPS = 1_000  # docs have group = i % DB_GROUPS, so each find matches DB_DOCS / 1000 docs

DB_PATCH = """\
patch bench-db
d = [db docs]
sink = [t a]
d -> sink
"""


def _doc(i: int) -> dict[str, Any]:
    return {"name": f"item {i}", "group": i % DB_GROUPS, "n": i, "tags": ["a", "b"]}


async def _db_session(patch: Patch, data_dir: str, messages: list[Any], check: Any) -> Rate:
    warm_up = {"type": "count", "collection": "warm-up"}
    return await command_session(patch, data_dir, "d", warm_up, messages, check)


@benchmark(
    "db_insert_durable_ops_per_s",
    unit="ops/s",
    baseline="py-lmdb: durable write txn + msgpack pack per put",
    target=">= 0.70",
)
def bench_db_insert(cfg: Config, tmp: str, result: Result) -> Result:
    """`insert` commands to `[db docs]`, each committed (fsync) before its reply.

    Baseline: one durable py-lmdb write transaction and one msgpack pack per put of the same
    doc, under a fresh key each.
    """
    n_inserts = cfg.size(DB_INSERTS)
    data_dir = os.path.join(tmp, "db-insert")
    env, db = open_lmdb(os.path.join(tmp, "db-insert-baseline"))
    patch = Patch.from_string(DB_PATCH)
    counter = [0]

    def docs() -> list[dict[str, Any]]:
        start = counter[0]
        counter[0] += n_inserts
        return [_doc(i) for i in range(start, start + n_inserts)]

    batch: list[dict[str, Any]] = []  # this round's docs: A inserts them, then B puts them

    def a() -> float:
        batch[:] = docs()
        messages = [{"type": "insert", "collection": "items", "doc": d} for d in batch]
        rate = trio.run(_db_session, patch, data_dir, messages, replies_are("insert"))
        return rate[0]  # durable: wall-clock time is the cost

    def b() -> float:
        # a fresh key per put (an insert never overwrites), the doc packed as patchflow would
        return lmdb_durable_puts(env, db, [(f"items\0{d['n']:012d}", d) for d in batch])

    try:
        return interleave(result, cfg.durable_rounds, a, b)
    finally:
        env.close()


def _db_prefill(data_dir: str, n: int) -> list[dict[str, Any]]:
    with open_storage("bench-db", data_dir) as storage:
        docs = [("items", _doc(i)) for i in range(n)]
        prefill(storage, lambda backend: DB(backend, StoreRef.named("docs")), "insert", docs)
        return trio.run(storage.db(name="docs").find, "items")


@benchmark(
    "db_find_eq_10k_per_s",
    unit="finds/s",
    baseline="TinyDB (MemoryStorage): search(where(field) == v)",
    target=">= 1.0",
)
def bench_db_find(cfg: Config, tmp: str, result: Result) -> Result:
    """`find` with `{group: v}` on `[db docs]` holding 10,000 docs (10 match; a different `v`
    each call).

    Baseline: TinyDB with MemoryStorage holding the very documents patchflow stored (`_id`,
    `_created`, `_updated` included), `search(where("group") == v)` with the same values.
    """
    from tinydb import TinyDB, where
    from tinydb.storages import MemoryStorage

    n_docs, n_finds = cfg.size(DB_DOCS), cfg.size(DB_FINDS)
    data_dir = os.path.join(tmp, "db-find")
    stored = _db_prefill(data_dir, n_docs)
    if len(stored) != n_docs:
        raise BenchFailed(f"prefill stored {len(stored)} of {n_docs} docs")
    tiny = TinyDB(storage=MemoryStorage)
    tiny.insert_multiple(stored)  # the very documents patchflow stored (TinyDB copies them)
    del stored
    patch = Patch.from_string(DB_PATCH)
    round_no = [0]

    def values() -> list[int]:
        round_no[0] += 1
        base = round_no[0] * n_finds
        return [((base + j) * 37) % DB_GROUPS for j in range(n_finds)]

    per_find = n_docs // DB_GROUPS

    queried: list[int] = []  # this round's values: A finds them, then B searches them

    def check(replies: list[Any], start: int) -> None:
        for reply in replies:
            check_reply(reply, "find")
            if len(reply["docs"]) != per_find:
                raise BenchFailed(f"find returned {len(reply['docs'])} docs, not {per_find}")

    def a() -> Rate:
        queried[:] = values()
        messages = [{"type": "find", "collection": "items", "query": {"group": v}} for v in queried]
        return trio.run(_db_session, patch, data_dir, messages, check)

    def b() -> Rate:
        search = tiny.search
        found = []
        vs = queried
        with Stopwatch() as watch:
            for v in vs:
                found.append(search(where("group") == v))
        if any(len(docs) != per_find for docs in found):
            raise BenchFailed("baseline found the wrong number of docs")
        return watch.rates(len(vs))

    return interleave(result, cfg.rounds, a, b)
