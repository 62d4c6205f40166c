"""Benchmarks of patches that do work — a `[py]` box, the README counter — against the bare chain.

The baseline of each is `chain10_msgs_per_s`'s patchflow side itself (ten `[t a]` into a
sink, see bench_delivery.py), run interleaved in the same process: the ratio says what a
patch doing real work costs next to the fastest patch there is, on the same machine and load.
"""

from __future__ import annotations

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


async def counter_session(patch: Patch, n: int) -> Rate:
    """Fire the counter `n` times (one `send` each); check the count every CHUNK; msgs/s."""
    errors: list[str] = []
    watch = Stopwatch()
    lost = ""
    async with patch.running(data_dir=":memory:", errors=errors.append) as session:
        counts = session.collect("next")
        send = session.send
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
