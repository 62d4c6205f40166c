"""Benchmarks of message delivery: messages through a chain of boxes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import trio
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

CHAIN_LENGTH = 10
CHAIN_MSGS = Size(full=100_000, quick=4_000)  # messages per round


def chain_patch_text() -> str:
    """`[t a]` ×10 (first, b1 … b9) ending in `sink = [t a]`."""
    names = ["first", *(f"b{i}" for i in range(1, CHAIN_LENGTH))]
    lines = ["patch bench-chain"]
    lines += [f"{name} = [t a]" for name in names]
    lines.append("sink = [t a]")
    lines += [f"{a} -> {b}" for a, b in zip(names, [*names[1:], "sink"], strict=True)]
    return "\n".join(lines) + "\n"


async def chain_session(patch: Patch, counts: list[int], probe: Callable[[], None]) -> Rate:
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
    check_errors(errors)
    if lost:
        raise BenchFailed(lost)
    return watch.rates(sum(counts))


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


@benchmark(
    "chain10_msgs_per_s",
    unit="msgs/s",
    baseline="plain-Python depth-first chain of 10 objects + sink",
    target=">= 0.25",
)
def bench_chain10(cfg: Config, tmp: str, result: Result) -> Result:
    """`await session.send("first", i)` for each message, through the public `Patch.running`
    session, into `[t a]` ×10 ending in `sink = [t a]` (watched with `session.collect`).

    `send` returns when the message's cascade is complete, so everything it costs to inject one
    message from Python and have it delivered is included. Baseline: ten plain-Python objects
    whose `receive` checks the value and calls the next one's, depth-first, ending in a list
    append.
    """
    patch = Patch.from_string(chain_patch_text())
    n = cfg.size(CHAIN_MSGS)

    def a() -> Rate:
        return trio.run(chain_session, patch, [n], lambda: None)

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
