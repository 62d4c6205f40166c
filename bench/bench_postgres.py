"""Benchmarks of the kv store on PostgreSQL, against psycopg doing the same by hand.

The server is `$PATCHFLOW_BENCH_POSTGRESQL`, by default `postgresql://127.0.0.1:5432/test` as
the current user (CI's server trusts loopback). Without one the group is reported unavailable,
saying why. Each benchmark works in a schema of its own (`pfbench_PID`), dropped afterwards.
"""

from __future__ import annotations

import contextlib
import getpass
import os
from collections.abc import Iterator
from typing import Any

import msgpack
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
from stores import prefill

from patchflow.storage import KV, StoreRef, open_storage

SERVER = os.environ.get(
    "PATCHFLOW_BENCH_POSTGRESQL", f"postgresql://{getpass.getuser()}@127.0.0.1:5432/test"
)
PG_KEYS = Size(full=10_000, quick=1_000)  # keys in the store read from
PG_GETS = Size(full=20_000, quick=1_000)  # gets per round
PG_SETS = Size(full=1_000, quick=50)  # durable sets per round

PATCH_ID = "bench-pg"


def _value(i: int) -> Any:
    return {"i": i, "text": f"value {i}", "tags": ["a", "b"]}


@contextlib.contextmanager
def _schema() -> Iterator[str]:
    """The URL of a fresh schema on the server, dropped afterwards."""
    try:
        import psycopg
    except ImportError:
        raise Unavailable(
            "psycopg is not installed (pip install 'patchflow[postgresql]')"
        ) from None
    schema = f"pfbench_{os.getpid()}"
    try:
        admin = psycopg.connect(SERVER, autocommit=True, connect_timeout=5)
    except psycopg.Error as error:
        raise Unavailable(f"no PostgreSQL at {SERVER}: {' '.join(str(error).split())}") from None
    with admin:
        admin.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        admin.execute(f"CREATE SCHEMA {schema}")
        url = f"{SERVER}{'&' if '?' in SERVER else '?'}options=-csearch_path%3D{schema}"
        try:
            yield url
        finally:
            admin.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


def _run(coroutine: Any) -> Any:
    """Run a storage-facade coroutine, which never yields (store.py promises it), to its end."""
    try:
        coroutine.send(None)
    except StopIteration as stop:
        return stop.value
    raise BenchFailed("the storage facade yielded")


@benchmark(
    "pg_kv_get_ops_per_s",
    unit="ops/s",
    baseline="psycopg: SELECT by primary key + msgpack unpack, on the store's connection",
    target=">= 0.70",
)
def bench_pg_get(cfg: Config, tmp: str, result: Result) -> Result:
    """`await kv.get(key)` (the API `[kv]` boxes and `[py]` use) on PostgreSQL, 10,000 keys.

    Baseline: psycopg on the store's own connection, one `SELECT value … WHERE patch, space,
    key` (the primary key) and one msgpack unpack per get, of the same rows in the same order.
    What a patch adds around a command (parsing, delivery) is the same on every backend and is
    measured by `kv_get_ops_per_s`.
    """
    n_keys, n_gets = cfg.size(PG_KEYS), cfg.size(PG_GETS)
    items = [(f"key{i:05d}", _value(i)) for i in range(n_keys)]
    order = [(i * 7919) % n_keys for i in range(n_gets)]
    keys = [items[j][0] for j in order]
    expected = [items[j][1] for j in order]
    with _schema() as url, open_storage(PATCH_ID, storage=url) as storage:
        prefill(storage, lambda backend: KV(backend, StoreRef.named("s")), "set", items)
        kv = KV(storage.backend, StoreRef.named("s"))
        prefix = _stored_prefix(storage, items[0][0])
        stored = [prefix + key.encode() for key in keys]
        cursor = storage.backend._conn.cursor(binary=True)
        sql = "SELECT value FROM patchflow_data WHERE patch = %s AND space = %s AND key = %s"

        def a() -> Rate:
            get = kv.get
            watch = Stopwatch()
            for start in range(0, len(keys), CHUNK):
                with watch:
                    values = [_run(get(key)) for key in keys[start : start + CHUNK]]
                if values != expected[start : start + CHUNK]:
                    raise BenchFailed("kv.get read wrong values")
            return watch.rates(len(keys))

        def b() -> Rate:
            unpackb, execute = msgpack.unpackb, cursor.execute
            watch = Stopwatch()
            for start in range(0, len(stored), CHUNK):
                with watch:
                    values = [
                        unpackb(execute(sql, (PATCH_ID, "kv", key)).fetchone()[0])
                        for key in stored[start : start + CHUNK]
                    ]
                if values != expected[start : start + CHUNK]:
                    raise BenchFailed("baseline read wrong values")
            return watch.rates(len(stored))

        return interleave(result, cfg.rounds, a, b)


@benchmark(
    "pg_kv_set_ops_per_s",
    unit="ops/s",
    baseline="psycopg: one-row upsert transaction + msgpack pack, on the store's connection",
    target=">= 0.70",
)
def bench_pg_set(cfg: Config, tmp: str, result: Result) -> Result:
    """`await kv.set(key, value)` on PostgreSQL, each committed before it returns.

    Baseline: psycopg on the store's own connection, one transaction per put (`BEGIN`,
    `INSERT … ON CONFLICT DO UPDATE`, `COMMIT`) of the same key and msgpack-packed value. Both
    commit with the server's `synchronous_commit = on`: `full` durability.
    """
    n_sets = cfg.size(PG_SETS)
    round_no = [0]
    batch: list[tuple[str, Any]] = []  # this round's keys and values: A sets them, B puts them

    def items() -> list[tuple[str, Any]]:
        round_no[0] += 1
        base = round_no[0] * n_sets
        return [(f"key{i:05d}", _value(base + i)) for i in range(n_sets)]

    with _schema() as url, open_storage(PATCH_ID, storage=url) as storage:
        kv = KV(storage.backend, StoreRef.named("s"))
        conn = storage.backend._conn
        cursor = conn.cursor()
        sql = (
            "INSERT INTO patchflow_data (patch, space, key, value) VALUES (%s, %s, %s, %s)"
            " ON CONFLICT (patch, space, key) DO UPDATE SET value = EXCLUDED.value"
        )

        def a() -> float:
            batch[:] = items()
            set_ = kv.set
            watch = Stopwatch()
            with watch:
                for key, value in batch:
                    _run(set_(key, value))
            return watch.rates(len(batch))[0]  # durable: wall-clock time is the cost

        def b() -> float:
            packb, execute, transaction = msgpack.packb, cursor.execute, conn.transaction
            watch = Stopwatch()
            with watch:
                for key, value in batch:
                    with transaction():
                        execute(
                            sql, ("baseline", "kv", key.encode(), packb(value, use_bin_type=True))
                        )
            return watch.rates(len(batch))[0]

        return interleave(result, cfg.durable_rounds, a, b)


def _stored_prefix(storage: Any, key: str) -> bytes:
    """The prefix `[kv s]` stores keys under (read back, not rebuilt by hand)."""
    found = [k for k, _ in storage.backend.read(lambda txn: list(txn.scan("kv", b"")))]
    matching = [k for k in found if k.endswith(key.encode())]
    if len(matching) != 1:
        raise BenchFailed(f"expected one stored key ending in {key!r}, found {matching!r:.200}")
    return matching[0][: -len(key.encode())]
