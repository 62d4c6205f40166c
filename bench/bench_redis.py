"""Benchmarks of the `[kv]` store on the Redis backend, against redis-py on the same server.

The server is `$PATCHFLOW_BENCH_REDIS`, by default `redis://127.0.0.1:6379/0`; the benchmarks
use keys under a prefix of their own (`pfbench-PID`) and delete them afterwards. Without a
server they are reported unavailable, saying how to start one.
"""

from __future__ import annotations

import os
from typing import Any

import msgpack
import trio
from harness import (
    CHUNK,
    BenchFailed,
    Config,
    Rate,
    Result,
    Size,
    Stopwatch,
    Unavailable,
    benchmark,
    interleave,
)
from stores import command_session, get_workload, prefill, replies_are

from patchflow import Patch
from patchflow.storage import KV, StoreRef, open_storage

SERVER = os.environ.get("PATCHFLOW_BENCH_REDIS", "redis://127.0.0.1:6379/0")
KV_KEYS = Size(full=2_000, quick=500)  # keys in the store read from
KV_GETS = Size(full=5_000, quick=500)  # gets per round
KV_SETS = Size(full=2_000, quick=300)  # sets per round

KV_PATCH = """\
patch bench-redis
s = [kv s]
sink = [t a]
s -> sink
"""


def _server(name: str) -> tuple[Any, str, str]:
    """A redis-py client, a storage URL with a fresh prefix, and the raw keys' prefix."""
    try:
        import redis
    except ImportError:
        raise Unavailable("redis-py is not installed: pip install -e '.[dev]'") from None
    client = redis.Redis.from_url(SERVER, socket_connect_timeout=5)
    try:
        client.ping()
    except redis.RedisError as error:
        raise Unavailable(
            f"no Redis at {SERVER} ({error}); start one: redis-server --port 6379"
        ) from None
    prefix = f"pfbench-{os.getpid()}-{name}"
    return client, f"{SERVER}?prefix={prefix}", f"{prefix}:raw:"


def _clean(client: Any, prefix: str) -> None:
    """Delete every key under `prefix`: the patch's and the baseline's."""
    doomed = list(client.scan_iter(match=f"{prefix}*", count=1000))
    for start in range(0, len(doomed), 500):
        client.delete(*doomed[start : start + 500])
    client.close()


def _value(i: int) -> Any:
    return {"i": i, "text": f"value {i}", "tags": ["a", "b"]}


async def _session(patch: Patch, url: str, messages: list[Any], check: Any) -> Rate:
    warm_up = {"type": "has", "key": "warm-up"}
    return await command_session(patch, None, "s", warm_up, messages, check, storage=url)


@benchmark(
    "redis_kv_get_ops_per_s",
    unit="ops/s",
    baseline="redis-py: GET + msgpack unpack per get",
    target=">= 0.7",
)
def bench_redis_kv_get(cfg: Config, tmp: str, result: Result) -> Result:
    """`{type: "get", key}` sent to `s = [kv s]` on Redis holding 2,000 keys; replies collected
    at `sink`.

    Baseline: redis-py `GET` and one msgpack unpack per get, on the same server, of the same
    values in the same order (plain keys, one per value).
    """
    client, url, raw = _server("get")
    try:
        n_keys, n_gets = cfg.size(KV_KEYS), cfg.size(KV_GETS)
        items = [(f"key{i:05d}", _value(i)) for i in range(n_keys)]
        with open_storage("bench-redis", storage=url) as storage:
            prefill(storage, lambda backend: KV(backend, StoreRef.named("s")), "set", items)
        client.mset({f"{raw}{key}": msgpack.packb(value) for key, value in items})
        keys, messages, expected, check = get_workload(items, n_gets)
        patch = Patch.from_string(KV_PATCH)

        def a() -> Rate:
            return trio.run(_session, patch, url, messages, check)

        def b() -> Rate:
            get, unpackb = client.get, msgpack.unpackb
            raw_keys = [f"{raw}{key}" for key in keys]
            watch = Stopwatch()
            for start in range(0, len(raw_keys), CHUNK):
                chunk = raw_keys[start : start + CHUNK]
                values: list[Any] = []
                append = values.append
                with watch:
                    for key in chunk:
                        append(unpackb(get(key), raw=False))
                if values != expected[start : start + CHUNK]:
                    raise BenchFailed("baseline read wrong values")
            return watch.rates(len(raw_keys))

        return interleave(result, cfg.rounds, a, b)
    finally:
        _clean(client, url.rsplit("=", 1)[1])


@benchmark(
    "redis_kv_set_ops_per_s",
    unit="ops/s",
    baseline="redis-py: SET + msgpack pack per set",
    target=">= 0.5",
)
def bench_redis_kv_set(cfg: Config, tmp: str, result: Result) -> Result:
    """`set` commands to `[kv s]` on Redis, each committed (on the server) before its reply,
    to 100 keys in turn: a patch updating its state. The first set of a key in a run costs a
    second round trip (a set reads the old value; later writes find it in the backend's cache).

    Baseline: redis-py `SET` of one msgpack pack per set of the same keys and values.
    """
    client, url, raw = _server("set")
    try:
        n_sets = cfg.size(KV_SETS)
        patch = Patch.from_string(KV_PATCH)
        round_no = [0]
        batch: list[tuple[str, Any]] = []  # this round's keys and values: A sets, B SETs them

        def a() -> Rate:
            round_no[0] += 1
            base = round_no[0] * n_sets
            batch[:] = [(f"key{i % 100:05d}", _value(base + i)) for i in range(n_sets)]
            messages = [{"type": "set", "key": k, "value": v} for k, v in batch]
            return trio.run(_session, patch, url, messages, replies_are("set"))

        def b() -> Rate:
            set_, packb = client.set, msgpack.packb
            watch = Stopwatch()
            for start in range(0, len(batch), CHUNK):
                chunk = batch[start : start + CHUNK]
                with watch:
                    for key, value in chunk:
                        set_(f"{raw}{key}", packb(value))
            return watch.rates(len(batch))

        return interleave(result, cfg.rounds, a, b)
    finally:
        _clean(client, url.rsplit("=", 1)[1])
