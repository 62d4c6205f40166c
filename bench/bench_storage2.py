"""Benchmarks of Storage II's kv commands: atomic increments and batches, durably committed."""

from __future__ import annotations

import os
from typing import Any

import trio
from harness import BenchFailed, Config, Result, Size, benchmark, interleave
from stores import check_reply, command_session, lmdb_durable_puts, open_lmdb, replies_are

from patchflow import Patch

KV_INCRS = Size(full=300, quick=60)  # durable incrs per round
BATCHES = Size(full=60, quick=15)  # durable batches of BATCH_SETS sets per round
SETS = Size(full=60, quick=15)  # durable single sets per round (the batch's baseline)
BATCH_SETS = 100

KV_PATCH = """\
patch bench-storage2
s = [kv s]
sink = [t a]
s -> sink
"""


async def _session(patch: Patch, data_dir: str, messages: list[Any], check: Any) -> float:
    warm_up = {"type": "has", "key": "warm-up"}
    rate = await command_session(patch, data_dir, "s", warm_up, messages, check)
    return rate[0]  # durable: wall-clock time is the cost


@benchmark(
    "kv_incr_durable_ops_per_s",
    unit="ops/s",
    baseline="py-lmdb: durable write txn + msgpack pack per put",
    target=">= 0.80",
)
def bench_kv_incr(cfg: Config, tmp: str, result: Result) -> Result:
    """`incr` commands to `[kv s]` (one read-modify-write transaction each, committed with
    fsync before its reply), over 10 counters.

    Baseline: one durable py-lmdb write transaction and one msgpack pack per put: the same
    number of commits (fsyncs).
    """
    n = cfg.size(KV_INCRS)
    data_dir = os.path.join(tmp, "kv-incr")
    env, db = open_lmdb(os.path.join(tmp, "kv-incr-baseline"))
    patch = Patch.from_string(KV_PATCH)
    messages = [{"type": "incr", "key": f"counter{i % 10}"} for i in range(n)]
    items = [(f"counter{i % 10}", i) for i in range(n)]

    def a() -> float:
        return trio.run(_session, patch, data_dir, messages, replies_are("incr"))

    def b() -> float:
        return lmdb_durable_puts(env, db, items)

    try:
        return interleave(result, cfg.durable_rounds, a, b)
    finally:
        env.close()


@benchmark(
    "batch_100_sets_per_s",
    unit="ms",
    baseline="[kv]: one durable set (ms)",
    target="<= 2.0",
)
def bench_batch_100_sets(cfg: Config, tmp: str, result: Result) -> Result:
    """Milliseconds per `batch` of 100 `set`s to `[kv s]` (one transaction, one commit).

    Baseline: milliseconds per single durable `set` to the same box; the ratio is what a batch
    of 100 costs in single sets (target: at most 2).
    """
    n_batches, n_sets = cfg.size(BATCHES), cfg.size(SETS)
    data_dir = os.path.join(tmp, "kv-batch")
    patch = Patch.from_string(KV_PATCH)
    value = {"text": "value", "tags": ["a", "b"]}
    batches = [
        {"type": "batch", "commands": [["set", f"b{j:03d}", value] for j in range(BATCH_SETS)]}
        for _ in range(n_batches)
    ]
    singles = [{"type": "set", "key": f"s{i % 100:03d}", "value": value} for i in range(n_sets)]

    def batch_replies(replies: list[Any], start: int) -> None:
        for reply in replies:
            check_reply(reply, "batch")
            if len(reply["results"]) != BATCH_SETS:
                raise BenchFailed(f"a batch reply with {len(reply['results'])} results")

    def a() -> float:
        return 1000 / trio.run(_session, patch, data_dir, batches, batch_replies)

    def b() -> float:
        return 1000 / trio.run(_session, patch, data_dir, singles, replies_are("set"))

    return interleave(result, cfg.durable_rounds, a, b)
