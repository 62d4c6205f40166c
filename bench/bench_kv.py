"""Benchmarks of the `[kv]` store: reads, and durable writes."""

from __future__ import annotations

import os
from typing import Any

import msgpack
import trio
from harness import CHUNK, BenchFailed, Config, Rate, Result, Size, Stopwatch, benchmark, interleave
from stores import (
    command_session,
    get_workload,
    lmdb_durable_puts,
    lmdb_fill,
    open_lmdb,
    prefill,
    replies_are,
)

from patchflow import Patch
from patchflow.storage import KV, StoreRef, open_storage

KV_KEYS = Size(full=10_000, quick=10_000)  # keys in the store read from
KV_GETS = Size(full=50_000, quick=3_000)  # gets per round
KV_SETS = Size(full=300, quick=60)  # durable sets per round

KV_PATCH = """\
patch bench-kv
s = [kv s]
sink = [t a]
s -> sink
"""


def _kv_value(i: int) -> Any:
    return {"i": i, "text": f"value {i}", "tags": ["a", "b"]}


def _kv_prefill(data_dir: str, items: list[tuple[str, Any]]) -> None:
    with open_storage("bench-kv", data_dir) as storage:
        prefill(storage, lambda backend: KV(backend, StoreRef.named("s")), "set", items)


async def _kv_session(patch: Patch, data_dir: str, messages: list[Any], check: Any) -> Rate:
    warm_up = {"type": "has", "key": "warm-up"}
    return await command_session(patch, data_dir, "s", warm_up, messages, check)


@benchmark(
    "kv_get_ops_per_s",
    unit="ops/s",
    baseline="py-lmdb: read txn + msgpack unpack per get",
    target=">= 0.25",
)
def bench_kv_get(cfg: Config, tmp: str, result: Result) -> Result:
    """`{type: "get", key}` sent to `s = [kv s]` holding 10,000 keys; replies collected at
    `sink`.

    Baseline: py-lmdb, one read transaction and one msgpack unpack per get, the same keys and
    values in the same order. Both stores are filled untimed (see `stores.prefill`).
    """
    n_keys, n_gets = cfg.size(KV_KEYS), cfg.size(KV_GETS)
    items = [(f"key{i:05d}", _kv_value(i)) for i in range(n_keys)]
    data_dir = os.path.join(tmp, "kv-get")
    _kv_prefill(data_dir, items)
    env, db = open_lmdb(os.path.join(tmp, "kv-get-baseline"))
    lmdb_fill(env, db, items)

    # the same pseudo-random order of existing keys for both sides
    keys, messages, expected, check = get_workload(items, n_gets)
    patch = Patch.from_string(KV_PATCH)

    def a() -> Rate:
        return trio.run(_kv_session, patch, data_dir, messages, check)

    def b() -> Rate:
        unpackb = msgpack.unpackb
        begin = env.begin
        watch = Stopwatch()
        for start in range(0, len(keys), CHUNK):  # as command_session does
            chunk = keys[start : start + CHUNK]
            values: list[Any] = []
            append = values.append
            with watch:
                for key in chunk:
                    txn = begin(db=db)
                    append(unpackb(txn.get(key.encode()), raw=False))
                    txn.abort()
            if values != expected[start : start + CHUNK]:
                raise BenchFailed("baseline read wrong values")
        return watch.rates(len(keys))

    try:
        return interleave(result, cfg.rounds, a, b)
    finally:
        env.close()


@benchmark(
    "kv_set_durable_ops_per_s",
    unit="ops/s",
    baseline="py-lmdb: durable write txn + msgpack pack per put",
    target=">= 0.80",
)
def bench_kv_set(cfg: Config, tmp: str, result: Result) -> Result:
    """`set` commands to `[kv s]`, each committed (fsync) before its reply.

    Baseline: one durable py-lmdb write transaction and one msgpack pack per put of the same
    key and value.
    """
    n_sets = cfg.size(KV_SETS)
    data_dir = os.path.join(tmp, "kv-set")
    env, db = open_lmdb(os.path.join(tmp, "kv-set-baseline"))
    patch = Patch.from_string(KV_PATCH)
    round_no = [0]

    def items() -> list[tuple[str, Any]]:
        round_no[0] += 1
        base = round_no[0] * n_sets
        return [(f"key{i:05d}", _kv_value(base + i)) for i in range(n_sets)]

    batch: list[tuple[str, Any]] = []  # this round's keys and values: A sets them, B puts them

    def a() -> float:
        batch[:] = items()
        messages = [{"type": "set", "key": k, "value": v} for k, v in batch]
        rate = trio.run(_kv_session, patch, data_dir, messages, replies_are("set"))
        return rate[0]  # durable: wall-clock time is the cost

    def b() -> float:
        return lmdb_durable_puts(env, db, batch)

    try:
        return interleave(result, cfg.durable_rounds, a, b)
    finally:
        env.close()
