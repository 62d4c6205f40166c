"""Benchmarks of the durability modes: `set` in "process" durability against unsynced py-lmdb."""

from __future__ import annotations

import os
from typing import Any

import lmdb
import msgpack
import trio
from harness import CHUNK, Config, Result, Size, Stopwatch, benchmark, interleave
from stores import command_session, replies_are

from patchflow import Patch

PROCESS_SETS = Size(full=20_000, quick=3_000)  # sets per round: a few seconds' worth of flushes

KV_PATCH = """\
patch bench-durability
s = [kv s]
sink = [t a]
s -> sink
"""


def _value(i: int) -> Any:
    return {"i": i, "text": f"value {i}", "tags": ["a", "b"]}


def _open_unsynced(path: str) -> tuple[lmdb.Environment, Any]:
    """py-lmdb opened as patchflow opens "process" durability (sync=False), never flushed."""
    os.makedirs(path, exist_ok=True)
    env = lmdb.open(
        path, map_size=1 << 30, max_dbs=4, subdir=True, sync=False, metasync=True, lock=True
    )
    return env, env.open_db(b"bench")


@benchmark(
    "kv_set_process_ops_per_s",
    unit="ops/s",
    baseline="py-lmdb: write txn + msgpack pack per put, sync=False, never flushed",
    target=">= 0.50",
)
def bench_kv_set_process(cfg: Config, tmp: str, result: Result) -> Result:
    """`set` commands to `[kv s]` run with `durability="process"`: each committed before its
    reply, flushed to disk by the background flusher at most a second later (its fsyncs, while
    they hold the environment's lock, count against patchflow).

    Baseline: one py-lmdb write transaction and one msgpack pack per put of the same keys and
    values, in an environment opened with `sync=False` and never flushed at all.
    """
    n_sets = cfg.size(PROCESS_SETS)
    data_dir = os.path.join(tmp, "kv-set-process")
    env, db = _open_unsynced(os.path.join(tmp, "kv-set-process-baseline"))
    patch = Patch.from_string(KV_PATCH)
    warm_up = {"type": "has", "key": "warm-up"}
    round_no = [0]
    batch: list[tuple[str, Any]] = []  # this round's keys and values: A sets them, B puts them

    def a() -> tuple[float, float | None]:
        round_no[0] += 1
        base = round_no[0] * n_sets
        batch[:] = [(f"key{i:06d}", _value(base + i)) for i in range(n_sets)]
        messages = [{"type": "set", "key": k, "value": v} for k, v in batch]
        return trio.run(
            lambda: command_session(
                patch, data_dir, "s", warm_up, messages, replies_are("set"), durability="process"
            )
        )

    def b() -> tuple[float, float | None]:
        packb = msgpack.packb
        begin = env.begin
        watch = Stopwatch()
        for start in range(0, len(batch), CHUNK):  # as command_session does
            chunk = batch[start : start + CHUNK]
            with watch:
                for key, value in chunk:
                    with begin(write=True, db=db) as txn:
                        txn.put(key.encode(), packb(value, use_bin_type=True))
        return watch.rates(len(batch))

    try:
        return interleave(result, cfg.rounds, a, b)
    finally:
        env.close()
