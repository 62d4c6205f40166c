"""Benchmarks of timing: how late the patch's timers fire on the real clock."""

from __future__ import annotations

import statistics
from typing import Any

import trio
from harness import BenchFailed, Config, Result, Size, benchmark, check_errors

from patchflow import Box, Patch, Registry, default_registry

METRO_MS = 10
METRO_SECONDS = Size(full=5, quick=1)


class _Stamp(Box):
    """Record, for each message, how late its cascade runs: real time minus logical time."""

    name = "bench-stamp"

    def __init__(self) -> None:
        super().__init__(inlets=1, outlets=0)
        self.lateness: list[float] = []

    def receive(self, inlet: int, message: Any) -> None:
        clock = self.patch.clock  # type: ignore[attr-defined]  # the runtime's, not the API's
        real = (trio.current_time() - clock.origin) * 1000.0
        self.lateness.append(real - self.patch.now())


def metro_patch_text(seconds: int) -> str:
    """`[metro 10]` from the loadbang, stopped by a `[delay]` after `seconds`, into a stamp."""
    return (
        "patch bench-metro\n"
        f"m = [metro {METRO_MS}]\n"
        "[loadbang] -> m -> stamp\n"
        "stamp = [bench-stamp]\n"
        f"[loadbang] -> [delay {seconds * 1000}] -> [msg stop] -> m\n"
    )


@benchmark("metro_lateness_ms", unit="ms (p99)", baseline="none", target="<= 2")
def bench_metro_lateness(cfg: Config, tmp: str, result: Result) -> Result:
    """`[metro 10]` for 5 s on the real clock (1 s with --quick); the value is the 99th
    percentile of how late each tick's cascade ran (real time since the start minus the
    tick's logical time), the range its min–max.

    The run must give exactly one tick per 10 ms — 500 — since the stop, set at load, is due
    at the same logical time as the 501st tick and was set first. No baseline: the target is
    on the value. Lateness is bounded below by how trio sleeps (epoll waits whole
    milliseconds), above by the machine's load: the same run measures bare
    `trio.sleep_until` at the same deadlines (`trio_sleep_until_p99_ms` in the JSON) for
    comparison.
    """
    seconds = cfg.size(METRO_SECONDS)
    registry = Registry([*default_registry(), _Stamp])
    patch = Patch.from_string(metro_patch_text(seconds), registry=registry)
    errors: list[str] = []
    runtime = patch.runtime(data_dir=":memory:", errors=errors.append)
    trio.run(runtime.run)
    check_errors(errors)
    lateness = runtime.graph.box("stamp").lateness
    expected = seconds * 1000 // METRO_MS
    if len(lateness) != expected:
        raise BenchFailed(
            f"{len(lateness)} ticks in {seconds} s of [metro {METRO_MS}], not {expected}"
        )
    floor = trio.run(_trio_sleep_lateness, seconds)
    result.value = _p99(lateness)
    result.value_range = (min(lateness), max(lateness))
    result.rounds = 1
    result.extra.update(
        ticks=len(lateness),
        median_ms=round(statistics.median(lateness), 3),
        trio_sleep_until_p99_ms=round(_p99(floor), 3),
        trio_sleep_until_median_ms=round(statistics.median(floor), 3),
        seconds_run=seconds,
    )
    return result


def _p99(values: list[float]) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[98]


async def _trio_sleep_lateness(seconds: int) -> list[float]:
    """The floor, measured right after: how late bare `trio.sleep_until` wakes at the same
    deadlines (epoll rounds a wait up to whole milliseconds; the rest is the machine)."""
    start, late = trio.current_time(), []
    for k in range(seconds * 1000 // METRO_MS):
        deadline = start + k * METRO_MS / 1000
        await trio.sleep_until(deadline)
        late.append((trio.current_time() - deadline) * 1000)
    return late
