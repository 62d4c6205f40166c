"""Boxes that await inside a cascade: the cascade waits, and no other one interleaves."""

from __future__ import annotations

import types

import pytest
import trio
import trio.testing

from patchflow import Patch


def test_a_box_awaiting_does_not_let_another_cascade_interleave():
    patch = Patch.from_string(
        "slow = [py]\n"
        "    await send(f'{x} start')\n"
        "    await trio.sleep(1)\n"
        "    await send(f'{x} end')\n"
        "slow -> [print]\n"
    )

    async def main():
        lines: list[str] = []
        async with patch.running(data_dir=":memory:", output=lines.append) as session:
            session.post("slow", "a")
            session.post("slow", "b")
            await session.idle()
        return lines

    lines = trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))
    assert lines == ['print: "a start"', 'print: "a end"', 'print: "b start"', 'print: "b end"']


def test_send_waits_for_a_cascade_that_suspends_in_a_py_box():
    patch = Patch.from_string(
        "slow = [py]\n    await trio.sleep(5)\n    await send(x + 1)\nslow -> sink\nsink = [t a]\n"
    )

    async def main():
        async with patch.running(data_dir=":memory:") as session:
            seen = session.collect("sink")
            before = trio.current_time()
            await session.send("slow", 1)
            assert seen == [2]  # the whole cascade, sleep included, ran before send returned
            assert trio.current_time() - before >= 5
            await session.send("slow", 10)
            return seen

    assert trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0)) == [2, 11]


def test_wait_returns_at_once_what_does_not_suspend_without_a_worker():
    from patchflow.suspend import wait

    async def ready():
        return 42

    assert wait(ready(), None) == 42


def test_wait_on_something_that_suspends_without_a_worker_says_what_to_set():
    from patchflow.suspend import SuspendError, wait

    @types.coroutine
    def suspends():
        yield "to the event loop"

    with pytest.raises(SuspendError, match="may_suspend = True"):
        wait(suspends(), None)


# -- a cascade pays for the worker only when a box may really suspend ------------------------

SLEEPY = (
    "slow = [py]\n"
    "    await send(f'{x} start')\n"
    "    await trio.sleep(1)\n"
    "    await send(f'{x} end')\n"
    "slow -> [print]\n"
    "[loadbang] -> [delay 500] -> [msg 'tick'] -> [print]\n"
)


def run_session(patch: Patch, body) -> tuple[list[str], list[str]]:
    """Run `body(session)` in a session on a mock clock; return (printed lines, errors)."""
    lines: list[str] = []
    errors: list[str] = []

    async def main():
        async with patch.running(
            data_dir=":memory:", output=lines.append, errors=errors.append
        ) as session:
            await trio.sleep(0.1)  # the loadbang has run: [delay] is pending
            await body(session)
            await session.idle()

    trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))
    return lines, errors


def test_a_send_from_python_that_suspends_finishes_before_a_timer_due_meanwhile():
    async def body(session):
        await session.send("slow", "a")  # run at once, in this task; suspends for 1 s

    lines, errors = run_session(Patch.from_string(SLEEPY), body)
    assert errors == []
    assert lines == ['print: "a start"', 'print: "a end"', 'print: "tick"']


def test_a_send_from_python_that_suspends_is_cancelled_with_its_task():
    async def body(session):
        with trio.move_on_after(0.2):
            await session.send("slow", "a")
        await session.send("slow", "b")  # the patch goes on

    lines, errors = run_session(Patch.from_string(SLEEPY), body)
    assert errors == []
    assert lines == ['print: "a start"', 'print: "b start"', 'print: "b end"', 'print: "tick"']


def test_a_send_that_suspends_but_is_not_awaited_is_stopped_and_reported():
    async def body(session):
        session.send("slow", "a")  # a mistake: not awaited
        await session.send("slow", "b")

    lines, errors = run_session(Patch.from_string(SLEEPY), body)
    assert lines == ['print: "a start"', 'print: "b start"', 'print: "b end"', 'print: "tick"']
    [error] = errors
    assert "[slow: py]" in error and "not awaited" in error and "await session.send" in error
