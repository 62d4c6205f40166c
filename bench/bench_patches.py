"""Benchmarks of patches that do work — a `[py]` box, the README counter — against a baseline
run interleaved in the same process, on the same machine and load.

The baseline of `py_sink_chain` and `counter_memory` is `chain10_msgs_per_s`'s patchflow side
itself (ten `[t a]` into a sink, see bench_delivery.py): the ratio says what a patch doing real
work costs next to the fastest patch there is. `counter_process` runs the counter on LMDB with
"process" durability against the same counter on in-memory storage: the ratio says what the
disk costs.
"""

from __future__ import annotations

import os
import shutil
from typing import Any

import trio
from bench_delivery import CHAIN_MSGS, chain_patch_text, chain_session
from harness import (
    CHUNK,
    BenchFailed,
    Config,
    Rate,
    Result,
    Size,
    Stopwatch,
    benchmark,
    check_errors,
    interleave,
)

from patchflow import Patch

CHAIN10 = "chain10: [t a] ×10 into a sink, sent from Python (patchflow)"

#: the chain of bench_delivery.py, its sink a `[py]` box that counts what arrives
PY_SINK = chain_patch_text().replace(
    "sink = [t a]\n", "sink = [py]\n    state['n'] = state.get('n', 0) + 1\n"
)

#: the README's counter cascade on one named store, fired from Python
COUNTER = """\
patch bench-counter
get   = [msg get count]
store = [kv counter]
next  = [msg set count $1]
get -> store
store -> [route op=get] -> [expr ($1.value or 0) + 1] -> next
next -> store
"""

COUNTER_MSGS = Size(full=30_000, quick=2_000)
#: counter_process's messages per round, both sides: the flusher fsyncs one second after the
#: first unflushed commit, so a round must last seconds for its flushes to be timed (30,000
#: messages took 0.45 s on LMDB, flushed only when the storage closed, untimed: 2026-11-29,
#: 2 shared CPUs; 150,000 took 3.1 s with 3 background flushes)
COUNTER_PROCESS_MSGS = Size(full=150_000, quick=10_000)

#: a command that opens the counter's store without touching the count
WARM_UP = {"type": "has", "key": "count"}


def _chain10(patch: Patch, n: int) -> Rate:
    return trio.run(chain_session, patch, [n], lambda: None)


async def py_sink_session(patch: Patch, n: int) -> Rate:
    """Send `n` messages into the chain; check the `[py]` sink counted them all; msgs/s."""
    errors: list[str] = []
    watch = Stopwatch()
    async with patch.running(data_dir=":memory:", errors=errors.append) as session:
        send = session.send
        for start in range(0, n, CHUNK):
            with watch:
                for i in range(start, min(start + CHUNK, n)):
                    await send("first", i)
        await session.idle()
        counted = session.runtime.graph.box("sink").state.get("n")
    check_errors(errors)
    if counted != n:
        raise BenchFailed(f"the [py] sink counted {counted} of {n} messages")
    return watch.rates(n)


@benchmark(
    "py_sink_chain_msgs_per_s",
    unit="msgs/s",
    baseline=CHAIN10,
    target=">= 0.5",
)
def bench_py_sink_chain(cfg: Config, tmp: str, result: Result) -> Result:
    """chain10 with its sink a `[py]` box counting what arrives (`state['n'] += 1`), through
    the public `Patch.running` session as chain10.

    A `[py]` box whose code cannot suspend (it awaits nothing, or only `send(...)` and its
    stores) runs inline like any box; the count is checked after the timed loop. Baseline:
    chain10's patchflow side, interleaved.
    """
    patch, chain = Patch.from_string(PY_SINK), Patch.from_string(chain_patch_text())
    n = cfg.size(CHAIN_MSGS)
    return interleave(
        result, cfg.rounds, lambda: trio.run(py_sink_session, patch, n), lambda: _chain10(chain, n)
    )


async def counter_session(patch: Patch, n: int, data_dir: str = ":memory:", **options: Any) -> Rate:
    """Open the storage with an untimed `has` command, then fire the counter `n` times (one
    `send` each) on a store that starts empty; check the count every CHUNK; msgs/s.

    `options` go to `Patch.running` (e.g. `durability`).
    """
    errors: list[str] = []
    watch = Stopwatch()
    lost = ""
    async with patch.running(data_dir=data_dir, errors=errors.append, **options) as session:
        counts = session.collect("next")
        send = session.send
        # The store opens on first use: open it here, untimed (its reply, op "has", leaves
        # [route op=get] by the unconnected outlet and never reaches `next`).
        await send("store", WARM_UP)
        done = 0
        while done < n and not lost:
            stop = min(done + CHUNK, n)
            with watch:
                for _ in range(done, stop):
                    await send("get", None)
            if len(counts) != stop - done or counts[-1] != stop:
                lost = f"the counter reached {counts[-1:]} after {stop} messages"
            counts.clear()
            done = stop
        await session.idle()
    check_errors(errors)
    if lost:
        raise BenchFailed(lost)
    return watch.rates(n)


@benchmark(
    "counter_memory_msgs_per_s",
    unit="msgs/s",
    baseline=CHAIN10,
    target=">= 0.25",
)
def bench_counter_memory(cfg: Config, tmp: str, result: Result) -> Result:
    """The README counter cascade — `[msg get count] → [kv counter] → [route op=get] →
    [expr ($1.value or 0) + 1] → [msg set count $1] → [kv counter]` — on in-memory storage
    (`data_dir=":memory:"`), fired from Python with `await session.send("get", None)`.

    Each message is a read and a write of the store, two `[msg]` renders (one placing `$1`),
    a `[route]` and an `[expr]`; the count is checked every CHUNK messages, untimed.
    Baseline: chain10's patchflow side, interleaved.
    """
    patch, chain = Patch.from_string(COUNTER), Patch.from_string(chain_patch_text())
    n, chain_n = cfg.size(COUNTER_MSGS), cfg.size(CHAIN_MSGS)
    return interleave(
        result,
        cfg.rounds,
        lambda: trio.run(counter_session, patch, n),
        lambda: _chain10(chain, chain_n),
    )


@benchmark(
    "counter_process_msgs_per_s",
    unit="msgs/s",
    baseline="counter_memory: the same counter cascade on :memory: storage (patchflow)",
    target=">= 0.5",
)
def bench_counter_process(cfg: Config, tmp: str, result: Result) -> Result:
    """The README counter cascade of `counter_memory_msgs_per_s`, run the same way, on LMDB
    storage opened with `durability="process"`: each `[kv counter]` command committed before
    its reply, flushed to disk by the background flusher at most a second later (its fsyncs,
    while they hold the environment's lock, count against this side).

    Each round starts from an empty store in a fresh directory under `tmp` (opened untimed,
    removed after the round), so the count is checked from 1 as on the memory side; a round is
    COUNTER_PROCESS_MSGS messages on both sides, enough for the LMDB side's timed loop to span
    a few flushes.
    Baseline: `counter_memory_msgs_per_s`'s patchflow side — the same patch and messages on
    `data_dir=":memory:"` — interleaved, so the ratio is LMDB-process over memory.
    """
    patch = Patch.from_string(COUNTER)
    n = cfg.size(COUNTER_PROCESS_MSGS)
    round_no = [0]

    def on_lmdb() -> Rate:
        round_no[0] += 1
        data_dir = os.path.join(tmp, f"counter-process-{round_no[0]}")
        try:
            return trio.run(
                lambda: counter_session(patch, n, data_dir=data_dir, durability="process")
            )
        finally:
            shutil.rmtree(data_dir, ignore_errors=True)

    return interleave(result, cfg.rounds, on_lmdb, lambda: trio.run(counter_session, patch, n))
