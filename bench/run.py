"""patchflow benchmarks: each benchmark and its baseline, interleaved in one process run.

How to run (from the repository root, with the project installed in .venv):

    .venv/bin/python bench/run.py                  # full run: a few minutes
    .venv/bin/python bench/run.py --quick          # fewer operations: well under a minute
    .venv/bin/python bench/run.py --json out.json  # also write the results as JSON
    .venv/bin/python bench/run.py --only kv_get_ops_per_s --only startup_s --rounds 9

`make bench` runs the full suite; `.ci/run` runs `--quick` once so that the benchmarks cannot
rot. Nothing asserts anything about speed, here or in the test suite; the exit status is 1 only
when a benchmark FAILED (errors, wrong or missing replies). Record full runs in
bench/RESULTS.md (machine, date, table). Run on a quiet machine: durable writes time fsync,
which other processes' disk traffic slows by an order of magnitude.

**Method.** For each benchmark the patchflow side (A) and its baseline (B) run in the same
process, alternately: one untimed warm-up of each, then A B A B … for `--rounds` rounds
(default 9, and 15 shorter rounds for the durable-write benchmarks, whose fsync times swing
with other disk traffic; 5 with --quick; never fewer than 5). Each side's median is reported
with its min–max; `ratio` is median(A) / median(B) — for throughputs higher is better, for
`startup_s` lower is better. Setup (building patches, filling stores, opening storage) is never
timed. Every reply is checked after the timed loop, so a benchmark that stops working fails
loudly.

**Honest baselines.** The same data, the same number of operations, the same durability:
durable LMDB writes on both sides use `sync=True, metasync=True` (as patchflow's
`storage/lmdb_env.py` opens its environments), in temporary directories on one filesystem.

- `chain10_msgs_per_s`: `await session.send("first", i)` for each message, through the public
  `Patch.running` session, into `[t a]` ×10 ending in `sink = [t a]` (watched with
  `session.collect`). `send` returns when the message's cascade is complete, so everything it
  costs to inject one message from Python and have it delivered is included. Baseline: ten
  plain-Python objects whose `receive` checks the value and calls the next one's, depth-first,
  ending in a list append.
- `kv_get_ops_per_s`: `{type: "get", key}` sent to `s = [kv s]` holding 10,000 keys; replies
  collected at `sink`. Baseline: py-lmdb, one read transaction and one msgpack unpack per get,
  the same keys and values in the same order.
- `kv_set_durable_ops_per_s` / `db_insert_durable_ops_per_s`: `set` / `insert` commands, each
  committed (fsync) before its reply. Baseline: one durable py-lmdb write transaction and one
  msgpack pack per put of the same value / doc.
- `db_find_eq_10k_per_s`: `find` with `{group: v}` on `[db docs]` holding 10,000 docs (10
  match; a different `v` each call). Baseline: TinyDB with MemoryStorage holding the very
  documents patchflow stored (`_id`, `_created`, `_updated` included),
  `search(where("group") == v)` with the same values.
- `startup_s`: wall time of `python -m patchflow run ONE_LINE.patch --data-dir :memory:` in a
  new process vs `python -c "import trio, lmdb, msgpack, attrs"`. Both start with bytecode
  caches (a private PYTHONPYCACHEPREFIX, filled by the warm-up), as an installed package does;
  without that, PYTHONDONTWRITEBYTECODE=1 would make only patchflow compile its modules.
- `rss_growth_mib`: VmRSS after 1,000,000 messages minus VmRSS after 100,000 (quick: 200,000
  and 20,000) through the chain10 patch, one `send` each, `gc.collect()` before each reading
  (the sink's list is checked and emptied every 10,000 messages, so it is not what grows).

Stores are filled through the public `KV`/`DB` classes in one write transaction (see
`prefill`), not 10,000 separate fsyncs. A benchmark whose patchflow side is not implemented
yet (NotImplementedError, as `[db]` was before the db issue landed) is reported as
"unavailable: <reason>" instead of stopping the run.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import lmdb
import msgpack
import trio

from patchflow import Patch
from patchflow.storage import DB, KV, PatchStorage, StoreRef, open_storage

# ---- configuration ------------------------------------------------------------------------


@dataclass(frozen=True)
class Config:
    rounds: int
    durable_rounds: int  # more, shorter rounds: fsync times swing with other disk traffic
    chain_msgs: int
    kv_keys: int
    kv_gets: int
    kv_sets: int
    db_inserts: int
    db_docs: int
    db_finds: int
    rss_first: int
    rss_total: int
    tmp: str


FULL = dict(
    rounds=9,
    durable_rounds=15,
    chain_msgs=100_000,
    kv_keys=10_000,
    kv_gets=50_000,
    kv_sets=300,
    db_inserts=300,
    db_docs=10_000,
    db_finds=150,
    rss_first=100_000,
    rss_total=1_000_000,
)
QUICK = dict(
    rounds=5,
    durable_rounds=5,
    chain_msgs=4_000,
    kv_keys=10_000,
    kv_gets=3_000,
    kv_sets=60,
    db_inserts=60,
    db_docs=10_000,
    db_finds=10,
    rss_first=20_000,
    rss_total=200_000,
)

DB_GROUPS = 1_000  # docs have group = i % DB_GROUPS, so each find matches db_docs / 1000 docs


# ---- results ------------------------------------------------------------------------------


class Unavailable(Exception):
    """The patchflow side cannot run yet (not implemented)."""


class BenchFailed(Exception):
    """The patchflow side ran but did not do the work (errors, wrong replies)."""


Rate = tuple[float, float | None]  # (per wall-clock second, per CPU second of this process)


class Stopwatch:
    """Wall-clock time and this process's CPU time, summed over `with` blocks.

    The CPU figure leaves out time the process spent descheduled, so on a busy machine the
    CPU ratio of an in-process benchmark is steadier than the wall-clock one; the targets are
    judged on wall-clock time.
    """

    def __init__(self) -> None:
        self.wall = self.cpu = 0.0

    def __enter__(self) -> Stopwatch:
        self._wall, self._cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.wall += time.perf_counter() - self._wall
        self.cpu += time.process_time() - self._cpu

    def rates(self, n: int) -> Rate:
        return n / self.wall, (n / self.cpu if self.cpu > 0 else None)


@dataclass
class Result:
    name: str
    unit: str
    baseline: str
    target: str  # e.g. ">= 0.25" (on the ratio) or "<= 10" (on the value)
    value: float | None = None
    value_range: tuple[float, float] | None = None
    baseline_value: float | None = None
    baseline_range: tuple[float, float] | None = None
    cpu_value: float | None = None  # medians of the CPU-time rates, for in-process benchmarks
    cpu_baseline_value: float | None = None
    rounds: int = 0
    status: str = "ok"
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ratio(self) -> float | None:
        if self.value is None or not self.baseline_value:
            return None
        return self.value / self.baseline_value

    @property
    def cpu_ratio(self) -> float | None:
        if self.cpu_value is None or not self.cpu_baseline_value:
            return None
        return self.cpu_value / self.cpu_baseline_value

    @property
    def met(self) -> bool | None:
        if self.status != "ok":
            return None
        op, limit = self.target.split()
        subject = self.value if self.baseline_value is None else self.ratio
        if subject is None:
            return None
        return subject >= float(limit) if op == ">=" else subject <= float(limit)

    def as_json(self) -> dict[str, Any]:
        ratio = self.ratio
        return {
            "name": self.name,
            "value": self.value,
            "unit": self.unit,
            "baseline": self.baseline,
            "baseline_value": self.baseline_value,
            "ratio": None if ratio is None else round(ratio, 4),
            "min": None if self.value_range is None else self.value_range[0],
            "max": None if self.value_range is None else self.value_range[1],
            "baseline_min": None if self.baseline_range is None else self.baseline_range[0],
            "baseline_max": None if self.baseline_range is None else self.baseline_range[1],
            "cpu_value": self.cpu_value,
            "cpu_baseline_value": self.cpu_baseline_value,
            "cpu_ratio": None if self.cpu_ratio is None else round(self.cpu_ratio, 4),
            "rounds": self.rounds,
            "target": self.target,
            "met": self.met,
            "status": self.status,
            **self.extra,
        }


def interleave(
    result: Result, rounds: int, a: Callable[[], Rate | float], b: Callable[[], Rate | float]
) -> Result:
    """Run a (patchflow) and b (baseline) alternately: a warm-up of each, then A B × rounds.

    Each returns its rate, or (wall-clock rate, CPU-time rate). What setup built (messages,
    expected replies, TinyDB's table) is moved out of the garbage collector's sight first
    (`gc.freeze`): otherwise every collection either side triggers would walk it, a cost that
    belongs to neither.
    """
    gc.collect()
    gc.freeze()
    try:
        a()
        b()
        values: list[Rate] = []
        baselines: list[Rate] = []
        for _ in range(rounds):
            values.append(_rate(a()))
            baselines.append(_rate(b()))
    finally:
        gc.unfreeze()
    walls = [wall for wall, _ in values]
    base_walls = [wall for wall, _ in baselines]
    result.value = statistics.median(walls)
    result.value_range = (min(walls), max(walls))
    result.baseline_value = statistics.median(base_walls)
    result.baseline_range = (min(base_walls), max(base_walls))
    if all(cpu for _, cpu in values + baselines):
        result.cpu_value = statistics.median(cpu for _, cpu in values)
        result.cpu_baseline_value = statistics.median(cpu for _, cpu in baselines)
    result.rounds = rounds
    return result


def _rate(measured: Rate | float) -> Rate:
    return measured if isinstance(measured, tuple) else (measured, None)


def _check_errors(errors: list[str]) -> None:
    if errors:
        text = errors[0]
        if "NotImplementedError" in text:
            raise Unavailable(text.split("NotImplementedError:", 1)[-1].strip() or text)
        raise BenchFailed(f"{len(errors)} runtime error(s), first: {text}")


def _check_reply(reply: Any, op: str) -> None:
    if not isinstance(reply, dict) or reply.get("op") != op:
        raise BenchFailed(f"expected an {op!r} reply, got {reply!r:.300}")


# ---- filling stores (never timed) ---------------------------------------------------------


class _InOneTxn:
    """A backend whose every read and write runs inside one open write transaction."""

    def __init__(self, txn: Any) -> None:
        self._txn = txn

    def write(self, fn: Callable[[Any], Any]) -> Any:
        return fn(self._txn)

    read = write

    def get(self, space: str, key: bytes) -> bytes | None:
        return self._txn.get(space, key)


def _complete(coroutine: Any) -> Any:
    """Run a storage-facade coroutine that never yields (store.py promises this) to its end."""
    try:
        coroutine.send(None)
    except StopIteration as stop:
        return stop.value
    coroutine.close()
    raise RuntimeError("the storage facade yielded")


def prefill(
    storage: PatchStorage, make: Callable[[Any], Any], method: str, calls: list[tuple]
) -> None:
    """Call `make(backend).METHOD(*args)` for each args in `calls` through the public KV/DB
    classes, all in one write transaction (10,000 separate fsyncs would take seconds), or one
    call at a time through `storage.backend` should that not work."""
    try:
        storage.backend.write(
            lambda txn: [_complete(getattr(make(_InOneTxn(txn)), method)(*args)) for args in calls]
        )
    except RuntimeError:
        store = make(storage.backend)

        async def one_by_one() -> None:
            for args in calls:
                await getattr(store, method)(*args)

        trio.run(one_by_one)


# ---- durable py-lmdb baseline -------------------------------------------------------------


def _open_lmdb(path: str) -> tuple[lmdb.Environment, Any]:
    """An environment with patchflow's durability settings (lmdb_backend.py) and one db."""
    os.makedirs(path, exist_ok=True)
    env = lmdb.open(
        path, map_size=1 << 30, max_dbs=4, subdir=True, sync=True, metasync=True, lock=True
    )
    return env, env.open_db(b"bench")


def _lmdb_fill(env: lmdb.Environment, db: Any, items: list[tuple[str, Any]]) -> None:
    with env.begin(write=True, db=db) as txn:
        for key, value in items:
            txn.put(key.encode(), msgpack.packb(value, use_bin_type=True))


def _lmdb_durable_puts(env: lmdb.Environment, db: Any, items: list[tuple[str, Any]]) -> float:
    """ops/s of one durable write transaction + msgpack pack per put."""
    packb = msgpack.packb
    begin = env.begin
    start = time.perf_counter()
    for key, value in items:
        with begin(write=True, db=db) as txn:
            txn.put(key.encode(), packb(value, use_bin_type=True))
    return len(items) / (time.perf_counter() - start)


# ---- chain10 ------------------------------------------------------------------------------

CHAIN_LENGTH = 10


def chain_patch_text() -> str:
    """`[t a]` ×10 (first, b1 … b9) ending in `sink = [t a]`."""
    names = ["first", *(f"b{i}" for i in range(1, CHAIN_LENGTH))]
    lines = ["patch bench-chain"]
    lines += [f"{name} = [t a]" for name in names]
    lines.append("sink = [t a]")
    lines += [f"{a} -> {b}" for a, b in zip(names, [*names[1:], "sink"], strict=True)]
    return "\n".join(lines) + "\n"


_SKIP = object()


class _Link:
    """A plain-Python stand-in for `[t a]`: check the value, pass it on, depth-first."""

    __slots__ = ("next",)

    def __init__(self, next_: Any) -> None:
        self.next = next_

    def receive(self, message: Any) -> None:
        if message is not _SKIP:
            self.next.receive(message)


class _Sink:
    __slots__ = ("seen",)

    def __init__(self) -> None:
        self.seen: list[Any] = []

    def receive(self, message: Any) -> None:
        self.seen.append(message)


def _plain_chain() -> tuple[_Link, _Sink]:
    sink = _Sink()
    node: Any = sink
    for _ in range(CHAIN_LENGTH):
        node = _Link(node)
    return node, sink


#: Messages between (untimed) checks of what came back, which is then dropped. Results held
#: for checking are walked by every garbage collection: 50,000 retained values made the
#: py-lmdb get loop 2.4× slower, so neither side may keep more than this.
CHUNK = 1_000


async def _chain_session(patch: Patch, counts: list[int], probe: Callable[[], None]) -> Rate:
    """Send `sum(counts)` messages, one `send` each; call `probe` after each count; return
    msgs/s over the sends alone.

    Every CHUNK messages (untimed) the sink's list is checked and cleared, so that the messages
    collected for checking are neither what `rss_growth_mib` measures nor work for the GC.
    """
    errors: list[str] = []
    lost = ""
    watch = Stopwatch()
    async with patch.running(data_dir=":memory:", errors=errors.append) as session:
        seen = session.collect("sink")
        send = session.send
        sent = 0
        for count in counts:
            end = sent + count
            while sent < end and not lost:
                stop = min(sent + CHUNK, end)
                with watch:
                    for i in range(sent, stop):
                        await send("first", i)
                if len(seen) != stop - sent or seen[-1] != stop - 1:
                    lost = f"sink saw {len(seen)} of messages {sent}…{stop - 1}"
                seen.clear()
                sent = stop
            probe()
        await session.idle()
    _check_errors(errors)
    if lost:
        raise BenchFailed(lost)
    return watch.rates(sum(counts))


def bench_chain10(cfg: Config, tmp: str, result: Result) -> Result:
    patch = Patch.from_string(chain_patch_text())
    n = cfg.chain_msgs

    def a() -> Rate:
        return trio.run(_chain_session, patch, [n], lambda: None)

    def b() -> Rate:
        first, sink = _plain_chain()
        receive = first.receive
        with Stopwatch() as watch:
            for i in range(n):
                receive(i)
        if len(sink.seen) != n:
            raise BenchFailed("baseline lost messages")
        return watch.rates(n)

    return interleave(result, cfg.rounds, a, b)


# ---- rss ----------------------------------------------------------------------------------


def rss_mib() -> float:
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource  # peak, not current: a fallback for systems without /proc

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1 << 20) if sys.platform == "darwin" else peak / 1024


def bench_rss(cfg: Config, tmp: str, result: Result) -> Result:
    patch = Patch.from_string(chain_patch_text())
    readings: list[float] = []

    def probe() -> None:
        gc.collect()
        readings.append(rss_mib())

    rate, _ = trio.run(_chain_session, patch, [cfg.rss_first, cfg.rss_total - cfg.rss_first], probe)
    result.value = readings[1] - readings[0]
    result.rounds = 1
    result.extra = {
        "rss_at_first_mib": round(readings[0], 2),
        "rss_at_total_mib": round(readings[1], 2),
        "messages": [cfg.rss_first, cfg.rss_total],
        "msgs_per_s": round(rate),
    }
    return result


# ---- kv -----------------------------------------------------------------------------------

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


async def _command_session(
    patch: Patch,
    data_dir: str,
    box: str,
    warm_up: dict[str, Any],
    messages: list[Any],
    check: Callable[[list[Any], int], None],
) -> Rate:
    """Send `warm_up` (opens the storage; not timed), then each message to `box`, one `send`
    each; return the commands/s.

    Every CHUNK messages (untimed) `check(replies, index of the first)` looks at the replies
    that reached `sink` (raising BenchFailed if one is wrong), and they are dropped.
    """
    errors: list[str] = []
    problem = ""
    watch = Stopwatch()
    async with patch.running(data_dir=data_dir, errors=errors.append) as session:
        replies = session.collect("sink")
        send = session.send
        await send(box, warm_up)
        replies.clear()
        # (raising in here would come out wrapped in an ExceptionGroup: note, stop, raise later)
        for start in range(0, len(messages), CHUNK):
            if errors or problem:
                break
            chunk = messages[start : start + CHUNK]
            with watch:
                for message in chunk:
                    await send(box, message)
            if len(replies) != len(chunk):
                problem = f"{len(replies)} replies to {len(chunk)} commands"
            else:
                try:
                    check(replies, start)
                except BenchFailed as failed:
                    problem = str(failed)
            replies.clear()
        await session.idle()
    _check_errors(errors)
    if problem:
        raise BenchFailed(problem)
    return watch.rates(len(messages))


def _replies_are(op: str) -> Callable[[list[Any], int], None]:
    def check(replies: list[Any], start: int) -> None:
        for reply in replies:
            _check_reply(reply, op)

    return check


async def _kv_session(patch: Patch, data_dir: str, messages: list[Any], check: Any) -> Rate:
    warm_up = {"type": "has", "key": "warm-up"}
    return await _command_session(patch, data_dir, "s", warm_up, messages, check)


def bench_kv_get(cfg: Config, tmp: str, result: Result) -> Result:
    items = [(f"key{i:05d}", _kv_value(i)) for i in range(cfg.kv_keys)]
    data_dir = os.path.join(tmp, "kv-get")
    _kv_prefill(data_dir, items)
    env, db = _open_lmdb(os.path.join(tmp, "kv-get-baseline"))
    _lmdb_fill(env, db, items)

    # the same pseudo-random order of existing keys for both sides
    order = [(i * 7919) % cfg.kv_keys for i in range(cfg.kv_gets)]
    keys = [items[j][0] for j in order]
    messages = [{"type": "get", "key": key} for key in keys]
    expected = [items[j][1] for j in order]
    patch = Patch.from_string(KV_PATCH)

    def check(replies: list[Any], start: int) -> None:
        for reply, value in zip(replies, expected[start:], strict=False):
            _check_reply(reply, "get")
            if not reply["found"] or reply["value"] != value:
                raise BenchFailed(f"wrong get reply {reply!r:.300}")

    def a() -> Rate:
        return trio.run(_kv_session, patch, data_dir, messages, check)

    def b() -> Rate:
        unpackb = msgpack.unpackb
        begin = env.begin
        watch = Stopwatch()
        for start in range(0, len(keys), CHUNK):  # as _command_session does
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


def bench_kv_set(cfg: Config, tmp: str, result: Result) -> Result:
    data_dir = os.path.join(tmp, "kv-set")
    env, db = _open_lmdb(os.path.join(tmp, "kv-set-baseline"))
    patch = Patch.from_string(KV_PATCH)
    round_no = [0]

    def items() -> list[tuple[str, Any]]:
        round_no[0] += 1
        base = round_no[0] * cfg.kv_sets
        return [(f"key{i:05d}", _kv_value(base + i)) for i in range(cfg.kv_sets)]

    batch: list[tuple[str, Any]] = []  # this round's keys and values: A sets them, B puts them

    def a() -> float:
        batch[:] = items()
        messages = [{"type": "set", "key": k, "value": v} for k, v in batch]
        rate = trio.run(_kv_session, patch, data_dir, messages, _replies_are("set"))
        return rate[0]  # durable: wall-clock time is the cost

    def b() -> float:
        return _lmdb_durable_puts(env, db, batch)

    try:
        return interleave(result, cfg.durable_rounds, a, b)
    finally:
        env.close()


# ---- db -----------------------------------------------------------------------------------

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
    return await _command_session(patch, data_dir, "d", warm_up, messages, check)


def bench_db_insert(cfg: Config, tmp: str, result: Result) -> Result:
    data_dir = os.path.join(tmp, "db-insert")
    env, db = _open_lmdb(os.path.join(tmp, "db-insert-baseline"))
    patch = Patch.from_string(DB_PATCH)
    counter = [0]

    def docs() -> list[dict[str, Any]]:
        start = counter[0]
        counter[0] += cfg.db_inserts
        return [_doc(i) for i in range(start, start + cfg.db_inserts)]

    batch: list[dict[str, Any]] = []  # this round's docs: A inserts them, then B puts them

    def a() -> float:
        batch[:] = docs()
        messages = [{"type": "insert", "collection": "items", "doc": d} for d in batch]
        rate = trio.run(_db_session, patch, data_dir, messages, _replies_are("insert"))
        return rate[0]  # durable: wall-clock time is the cost

    def b() -> float:
        # a fresh key per put (an insert never overwrites), the doc packed as patchflow would
        return _lmdb_durable_puts(env, db, [(f"items\0{d['n']:012d}", d) for d in batch])

    try:
        return interleave(result, cfg.durable_rounds, a, b)
    finally:
        env.close()


def _db_prefill(data_dir: str, n: int) -> list[dict[str, Any]]:
    with open_storage("bench-db", data_dir) as storage:
        docs = [("items", _doc(i)) for i in range(n)]
        prefill(storage, lambda backend: DB(backend, StoreRef.named("docs")), "insert", docs)
        return trio.run(storage.db(name="docs").find, "items")


def bench_db_find(cfg: Config, tmp: str, result: Result) -> Result:
    from tinydb import TinyDB, where
    from tinydb.storages import MemoryStorage

    data_dir = os.path.join(tmp, "db-find")
    stored = _db_prefill(data_dir, cfg.db_docs)
    if len(stored) != cfg.db_docs:
        raise BenchFailed(f"prefill stored {len(stored)} of {cfg.db_docs} docs")
    tiny = TinyDB(storage=MemoryStorage)
    tiny.insert_multiple(stored)  # the very documents patchflow stored (TinyDB copies them)
    del stored
    patch = Patch.from_string(DB_PATCH)
    round_no = [0]

    def values() -> list[int]:
        round_no[0] += 1
        base = round_no[0] * cfg.db_finds
        return [((base + j) * 37) % DB_GROUPS for j in range(cfg.db_finds)]

    per_find = cfg.db_docs // DB_GROUPS

    queried: list[int] = []  # this round's values: A finds them, then B searches them

    def check(replies: list[Any], start: int) -> None:
        for reply in replies:
            _check_reply(reply, "find")
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


# ---- startup ------------------------------------------------------------------------------


def bench_startup(cfg: Config, tmp: str, result: Result) -> Result:
    patch_file = os.path.join(tmp, "startup.patch")
    with open(patch_file, "w", encoding="utf-8") as f:
        f.write("[loadbang] -> [print]\n")
    patchflow_cmd = [sys.executable, "-m", "patchflow", "run", patch_file, "--data-dir", ":memory:"]
    baseline_cmd = [sys.executable, "-c", "import trio, lmdb, msgpack, attrs"]
    # Both sides start with bytecode caches, as an installed package does: an editable install
    # under PYTHONDONTWRITEBYTECODE=1 would otherwise compile patchflow's modules from source on
    # every start while trio & co. load their .pyc. The warm-up runs fill the cache.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = os.path.join(tmp, "pycache")

    def timed(cmd: list[str]) -> float:
        start = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False, env=env)
        elapsed = time.perf_counter() - start
        if proc.returncode != 0:
            last = (proc.stderr.strip().splitlines() or ["(no output)"])[-1]
            what = "patchflow run" if cmd is patchflow_cmd else "the baseline"
            raise BenchFailed(f"{what} exited {proc.returncode}: {last}")
        return elapsed

    return interleave(result, cfg.rounds, lambda: timed(patchflow_cmd), lambda: timed(baseline_cmd))


# ---- running and reporting ----------------------------------------------------------------


@dataclass(frozen=True)
class Bench:
    name: str
    unit: str
    baseline: str
    target: str  # ">= R" / "<= R" on the ratio, or on the value when there is no baseline
    run: Callable[[Config, str, Result], Result]


BENCHES = [
    Bench(
        "chain10_msgs_per_s",
        "msgs/s",
        "plain-Python depth-first chain of 10 objects + sink",
        ">= 0.25",
        bench_chain10,
    ),
    Bench(
        "kv_get_ops_per_s",
        "ops/s",
        "py-lmdb: read txn + msgpack unpack per get",
        ">= 0.25",
        bench_kv_get,
    ),
    Bench(
        "kv_set_durable_ops_per_s",
        "ops/s",
        "py-lmdb: durable write txn + msgpack pack per put",
        ">= 0.80",
        bench_kv_set,
    ),
    Bench(
        "db_insert_durable_ops_per_s",
        "ops/s",
        "py-lmdb: durable write txn + msgpack pack per put",
        ">= 0.70",
        bench_db_insert,
    ),
    Bench(
        "db_find_eq_10k_per_s",
        "finds/s",
        "TinyDB (MemoryStorage): search(where(field) == v)",
        ">= 1.0",
        bench_db_find,
    ),
    Bench(
        "startup_s",
        "s",
        'python -c "import trio, lmdb, msgpack, attrs"',
        "<= 2.0",
        bench_startup,
    ),
    Bench("rss_growth_mib", "MiB", "—", "<= 10", bench_rss),
]


def run_one(bench: Bench, cfg: Config) -> Result:
    """Run one benchmark in its own temporary directory; never raise for a benchmark that
    cannot run (unavailable) or that does not do its work (FAILED)."""
    result = Result(bench.name, bench.unit, bench.baseline, bench.target)
    started = time.perf_counter()
    tmp = tempfile.mkdtemp(prefix=f"{bench.name}-", dir=cfg.tmp)
    try:
        try:
            bench.run(cfg, tmp, result)
        except BaseExceptionGroup as group:  # from inside a trio nursery: raise the cause
            raise _leaf(group) from group
    except (Unavailable, NotImplementedError) as exc:
        result = Result(bench.name, bench.unit, bench.baseline, bench.target)
        result.status = f"unavailable: {exc or 'not implemented'}"
    except BenchFailed as exc:
        result = Result(bench.name, bench.unit, bench.baseline, bench.target)
        result.status = f"FAILED: {exc}"
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    result.extra["seconds"] = round(time.perf_counter() - started, 2)
    return result


def _leaf(group: BaseExceptionGroup) -> BaseException:
    """The first of our own exceptions in a (nested) group, else the group itself."""
    for exc in group.exceptions:
        if isinstance(exc, BaseExceptionGroup):
            exc = _leaf(exc)
        if isinstance(exc, Unavailable | BenchFailed | NotImplementedError):
            return exc
    return group


def _fmt(value: float | None) -> str:
    if value is None:
        return "—"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 1:
        return f"{value:.2f}"
    return f"{value:.3f}"


def _fmt_range(value: float | None, span: tuple[float, float] | None) -> str:
    if value is None:
        return "—"
    if span is None:
        return _fmt(value)
    return f"{_fmt(value)} ({_fmt(span[0])}–{_fmt(span[1])})"


def table(results: list[Result]) -> str:
    """The results as a Markdown table (what bench/RESULTS.md records)."""
    header = [
        "name",
        "value (min–max)",
        "unit",
        "baseline (min–max)",
        "ratio",
        "CPU ratio",
        "target",
        "met",
    ]
    rows = []
    for r in results:
        target = r.target.replace(">=", "≥").replace("<=", "≤")
        if r.status != "ok":
            status = r.status if len(r.status) <= 90 else r.status[:89] + "…"
            rows.append([r.name, status, r.unit, "", "", "", target, "—"])
            continue
        ratio, cpu_ratio = r.ratio, r.cpu_ratio
        rows.append(
            [
                r.name,
                _fmt_range(r.value, r.value_range),
                r.unit,
                _fmt_range(r.baseline_value, r.baseline_range),
                "—" if ratio is None else f"{ratio:.3f}",
                "—" if cpu_ratio is None else f"{cpu_ratio:.3f}",
                target + (" (value)" if r.baseline_value is None else ""),
                "yes" if r.met else "NO",
            ]
        )
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    lines = ["| " + " | ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)) + " |"]
    lines.append("| " + " | ".join("-" * w for w in widths) + " |")
    for row in rows:
        lines.append(
            "| " + " | ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)) + " |"
        )
    return "\n".join(lines)


def machine() -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    versions = {}
    for module in ("trio", "lmdb", "msgpack", "tinydb"):
        try:
            from importlib.metadata import version

            versions[module] = version(module)
        except Exception:
            versions[module] = "?"
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "packages": versions,
    }


def revision() -> str:
    """The checked-out commit, with "+changes" if the working tree differs (read-only git)."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    try:
        head = subprocess.run(
            ["git", "-C", root, "rev-parse", "--short", "HEAD"], capture_output=True, text=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", root, "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
        ).stdout.strip()
    except OSError:
        return "?"
    return (head or "?") + ("+changes" if dirty else "")


def _filesystem(path: str) -> str:
    try:
        with open("/proc/mounts", encoding="utf-8") as f:
            mounts = [line.split()[:3] for line in f]
    except OSError:
        return "?"
    real = os.path.realpath(path)
    best = ("", "?")
    for _dev, point, kind in mounts:
        if (real == point or real.startswith(point.rstrip("/") + "/")) and len(point) > len(
            best[0]
        ):
            best = (point, kind)
    return best[1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer operations (CI smoke run)")
    parser.add_argument("--json", metavar="FILE", help="write the results as JSON to FILE")
    parser.add_argument(
        "--rounds",
        type=int,
        help="A/B rounds of every benchmark, at least 5 (default: 9, and 15 shorter ones for"
        " durable writes; 5 with --quick)",
    )
    parser.add_argument(
        "--only", action="append", metavar="NAME", help="run only this benchmark (repeatable)"
    )
    parser.add_argument(
        "--tmp", metavar="DIR", help="where durable data goes (default: the system temp dir)"
    )
    args = parser.parse_args(argv)
    settings = dict(QUICK if args.quick else FULL)
    if args.rounds is not None:
        if args.rounds < 5:
            parser.error("--rounds must be at least 5")
        settings["rounds"] = settings["durable_rounds"] = args.rounds
    tmp = tempfile.mkdtemp(prefix="patchflow-bench-", dir=args.tmp)
    cfg = Config(tmp=tmp, **settings)
    names = {bench.name for bench in BENCHES}
    for name in args.only or ():
        if name not in names:
            parser.error(f"unknown benchmark {name!r}; choose from {', '.join(sorted(names))}")

    info = machine()
    info["data_filesystem"] = _filesystem(tmp)
    info["revision"] = revision()
    print(
        f"patchflow bench ({'quick' if args.quick else 'full'}, {cfg.rounds} rounds):"
        f" patchflow {info['revision']}, {info['cpu']}, {info['nproc']} CPUs,"
        f" Python {info['python']},"
        f" data in {tmp} ({info['data_filesystem']})",
        flush=True,
    )
    results = []
    try:
        for bench in BENCHES:
            if args.only and bench.name not in args.only:
                continue
            print(f"  {bench.name} …", end="", flush=True)
            result = run_one(bench, cfg)
            status = "" if result.status == "ok" else f" {result.status}"
            print(f" {result.extra['seconds']:.1f} s{status}", flush=True)
            results.append(result)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print()
    print(table(results))
    if args.json:
        document = {
            "results": [r.as_json() for r in results],
            "mode": "quick" if args.quick else "full",
            "date": time.strftime("%Y-%m-%d %H:%M:%S %z"),
            "machine": info,
        }
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(document, f, indent=2)
            f.write("\n")
    failed = [r for r in results if r.status.startswith("FAILED")]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
