"""Time objects: delay and metro, on trio's MockClock (timers take no real time)."""

from __future__ import annotations

from textwrap import dedent

import attrs
import pytest
import trio
import trio.testing

from patchflow import Patch
from patchflow.testing import first_problem as problem
from patchflow.testing import run_text

# Prints each message with the (virtual) time it arrived, in milliseconds from the start.
STAMP = "stamp = [py await send([x, round(trio.current_time() * 1000)])] -> [print]\n"
BANG = {"type": "bang"}


def run(text: str, *inject, **options):
    """Run dedented patch text plus the `stamp` box, injecting (box id, message[, inlet])."""
    return run_text(dedent(text).rstrip("\n") + "\n" + STAMP, inject=list(inject), **options)


def stamps(out) -> list[list]:
    """The [message, ms] pairs the `stamp` box printed."""
    import json

    return [json.loads(line.removeprefix("print: ")) for line in out.lines]


# -- delay ------------------------------------------------------------------------------------


def test_delay_sends_the_message_after_ms():
    out = run("[loadbang] -> [msg 'hi'] -> [delay 250] -> stamp")
    assert stamps(out) == [["hi", 250]]


def test_delay_waits_1000_ms_by_default_and_a_bang_schedules_a_bang():
    out = run("[loadbang] -> [delay] -> stamp")
    assert stamps(out) == [[BANG, 1000]]


def test_delay_keeps_several_messages_pending_each_with_the_ms_it_was_given():
    out = run(
        """
        drive = [py outlets=2]
            await send(300, 1)
            await send("a", 0)
            await send(100, 1)
            await send("b", 0)
            await send("c", 0)
        d = [delay]
        [loadbang] -> drive -> d -> stamp
        drive:1 -> 1:d
        """
    )
    assert stamps(out) == [["b", 100], ["c", 100], ["a", 300]]


def test_delay_sends_after_the_current_cascade_even_with_zero_ms():
    out = run(
        """
        drive = [py]
            await send("later")
            print("cascade goes on")
        [loadbang] -> drive -> [delay 0] -> stamp
        """
    )
    assert out.lines == ["cascade goes on", 'print: ["later", 0]']


@pytest.mark.parametrize("clear", ["'clear'", "{type: 'clear'}"])
def test_delay_clear_drops_every_pending_message(clear):
    out = run(
        f"""
        d = [delay 100] -> stamp
        [loadbang] -> [msg 1, 2] -> d
        [loadbang] -> [delay 50] -> [msg {clear}] -> 1:d
        [loadbang] -> [delay 60] -> [msg 3] -> d
        """
    )
    assert stamps(out) == [[3, 160]]


@pytest.mark.parametrize("flush", ["'flush'", "{type: 'flush'}"])
def test_delay_flush_sends_every_pending_message_now_in_the_order_they_were_due(flush):
    out = run(
        f"""
        drive = [py outlets=2]
            await send(300, 1)
            await send("a", 0)
            await send(100, 1)
            await send("b", 0)
        d = [delay]
        [loadbang] -> drive -> d -> stamp
        drive:1 -> 1:d
        [loadbang] -> [delay 50] -> [msg {flush}] -> 1:d
        """
    )
    assert stamps(out) == [["b", 50], ["a", 50]]


def test_delay_message_already_due_but_not_yet_sent_is_still_cleared():
    # Both timers are due at 100; the clear was set first, so its cascade runs first.
    out = run(
        """
        d = [delay 100] -> stamp
        [loadbang] -> [delay 100] -> [msg clear] -> 1:d
        [loadbang] -> [msg 1] -> d
        """
    )
    assert out.lines == []


def test_delay_rejects_what_inlet_1_cannot_take():
    out = run(
        """
        d = [delay 10] -> stamp
        [loadbang] -> [msg -5, 'soon', bang] -> 1:d
        [loadbang] -> [msg 1] -> d
        """
    )
    assert stamps(out) == [[1, 10]]
    assert len(out.errors) == 3
    assert all("expected a time in milliseconds (≥ 0), clear or flush" in e for e in out.errors)


@pytest.mark.parametrize("args", ["-1", "soon", "1 2"])
def test_delay_bad_argument_is_a_patch_error(args):
    found = problem(f"[loadbang] -> [delay {args}]")
    assert "expected a time in milliseconds (≥ 0)" in found.message
    assert (found.line, found.column) == (1, 22)


# -- metro ------------------------------------------------------------------------------------


def test_metro_bangs_every_ms_the_first_at_once_until_stopped():
    out = run(
        """
        m = [metro 100]
        [loadbang] -> m -> stamp
        [loadbang] -> [delay 350] -> [msg stop] -> m
        """
    )
    assert stamps(out) == [[BANG, 0], [BANG, 100], [BANG, 200], [BANG, 300]]


def test_metro_tick_and_stop_due_at_the_same_time_run_in_the_order_their_timers_were_set():
    text = """
        m = [metro 100]
        [loadbang] -> m -> stamp
        [loadbang] -> [delay 300] -> [msg stop] -> m
        """
    for _ in range(10):  # trio wakes same-time tasks in random order; the result must not vary
        assert [ms for _, ms in stamps(run(text))] == [0, 100, 200]


def test_metro_first_bang_is_part_of_the_cascade_that_starts_it():
    out = run(
        """
        drive = [py]
            await send("start")
            print("start has returned")
        m = [metro 100] -> stamp
        [loadbang] -> drive -> m
        [loadbang] -> [delay 150] -> [msg stop] -> m
        """
    )
    assert out.lines == [
        'print: [{"type": "bang"}, 0]',
        "start has returned",
        'print: [{"type": "bang"}, 100]',
    ]


def test_metro_stopped_by_its_first_bang_sends_nothing_more():
    out = run(
        """
        m = [metro 100]
        [loadbang] -> m -> stamp
        m -> [msg stop] -> m
        """
    )
    assert stamps(out) == [[BANG, 0]]


@pytest.mark.parametrize(("on", "off"), [("start", "stop"), ("true", "false"), ("1", "0")])
def test_metro_switches_on_and_off(on, off):
    out = run(
        f"""
        m = [metro 100] -> stamp
        [loadbang] -> [msg {on}] -> m
        [loadbang] -> [delay 250] -> [msg {off}] -> m
        """
    )
    assert [ms for _, ms in stamps(out)] == [0, 100, 200]


def test_metro_switched_on_again_restarts_from_now():
    out = run(
        """
        m = [metro 100] -> stamp
        [loadbang] -> m
        [loadbang] -> [delay 150] -> m
        [loadbang] -> [delay 300] -> [msg 0] -> m
        """
    )
    assert [ms for _, ms in stamps(out)] == [0, 100, 150, 250]


def test_metro_new_interval_applies_after_the_tick_already_scheduled():
    out = run(
        """
        m = [metro 100] -> stamp
        [loadbang] -> m
        [loadbang] -> [delay 150] -> [msg 50] -> 1:m
        [loadbang] -> [delay 320] -> [msg stop] -> m
        """
    )
    assert [ms for _, ms in stamps(out)] == [0, 100, 200, 250, 300]


def test_metro_late_ticks_run_as_soon_as_they_can_each_at_its_logical_time():
    # As in Pd: a tick is set when the one before it has run, so ticks never pile up; a late
    # one runs as soon as the cascade before it ends, at its own logical time, and the stop
    # due at 650 comes after the tick of 600 — however late both run.
    out = run(
        """
        m = [metro 100]
        [loadbang] -> [delay 650] -> [msg stop] -> m
        [loadbang] -> m -> slow
        slow = [py]
            await send(x)
            await trio.sleep(0.23)
        slow -> stamp
        t = [timer]
        m -> 1:t
        t -> logical
        logical = [print logical]
        """
    )
    real = [line for line in out.lines if line.startswith("print: ")]
    assert [ms for _, ms in stamps(attrs.evolve(out, lines=real))] == [
        0, 230, 460, 690, 920, 1150, 1380
    ]  # fmt: skip
    assert [line for line in out.lines if line not in real] == [
        f"logical: {ms}" for ms in range(0, 700, 100)
    ]


def test_metro_rejects_what_its_inlets_cannot_take():
    out = run(
        """
        m = [metro 100] -> stamp
        [loadbang] -> [msg 'go', {a: 1}] -> m
        [loadbang] -> [msg 0, -1, 'fast'] -> 1:m
        """
    )
    assert out.lines == []
    assert len(out.errors) == 5
    assert "expected a bang, start, stop, true/false or a number (0 stops)" in out.errors[0]
    assert "expected an interval in milliseconds (> 0)" in out.errors[2]


@pytest.mark.parametrize("args", ["0", "-10", "fast"])
def test_metro_bad_argument_is_a_patch_error(args):
    assert "expected a time in milliseconds (> 0)" in problem(f"[metro {args}]").message


def _run_for(text: str, seconds: float) -> tuple[str, list[str]]:
    patch = Patch.from_string(dedent(text), file="t.patch")
    lines: list[str] = []

    async def main():
        return await patch.run(data_dir=":memory:", output=lines.append, timeout=seconds)

    result = trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))
    return result.reason, lines


def test_running_metro_keeps_the_patch_from_being_idle():
    reason, lines = _run_for("[loadbang] -> [metro 100] -> [print]", 0.95)
    assert reason == "timeout"
    assert len(lines) == 10


def test_stopped_metro_and_delivered_delays_let_the_run_end_when_idle():
    text = """
        m = [metro 100] -> [print]
        [loadbang] -> m
        [loadbang] -> [delay 250] -> [msg stop] -> m
        """
    reason, lines = _run_for(text, 60)
    assert reason == "idle"
    assert len(lines) == 3
