"""The patch's logical clock: timers fire at their scheduled times, ties in the order set.

On trio's MockClock (exact) and on the real clock (marked slow: it takes real time), where
wall-clock jitter must never reorder timers due at the same logical time.
"""

from __future__ import annotations

import math

import pytest
import trio
import trio.testing

from patchflow import BANG, Patch
from patchflow.clock import Clock
from patchflow.testing import run_text

METRO_STOPPED_AT_300 = """
m = [metro 100]
[loadbang] -> m -> [print tick]
[loadbang] -> [delay 300] -> [msg stop] -> m
"""


def test_a_tick_and_a_stop_due_at_the_same_time_run_in_the_order_set_on_the_mock_clock():
    for _ in range(5):
        assert len(run_text(METRO_STOPPED_AT_300).lines) == 3  # 0, 100, 200 (as Pd)


@pytest.mark.slow
@pytest.mark.parametrize("attempt", range(5))
def test_a_tick_and_a_stop_due_at_the_same_time_run_in_the_order_set_on_the_real_clock(attempt):
    # With wall-clock deadlines the metro's tick at 300 came out microseconds earlier than
    # the delay's and ran first on most runs: 4 ticks. Logical time makes them equal.
    assert len(run_text(METRO_STOPPED_AT_300, mock_clock=False).lines) == 3


@pytest.mark.slow
def test_timers_set_at_different_times_for_the_same_moment_fire_in_the_order_set_real_clock():
    text = """
    [loadbang] -> [delay 60] -> [msg 'set first, at 0'] -> [print]
    [loadbang] -> [delay 20] -> [delay 40] -> [msg 'set second, at 20'] -> [print]
    [loadbang] -> [delay 10] -> [delay 10] -> [delay 40] -> [msg 'set last, at 20'] -> [print]
    """
    for _ in range(3):
        assert run_text(text, mock_clock=False).lines == [
            'print: "set first, at 0"',
            'print: "set second, at 20"',
            'print: "set last, at 20"',
        ]


@pytest.mark.slow
def test_timer_measures_the_scheduled_time_exactly_on_the_real_clock():
    # a cascade that takes real time does not move the logical time of the timers after it
    text = """
    t = [timer] -> p
    p = [print]
    [loadbang] -> t
    [loadbang] -> [py import time; time.sleep(0.03)]
    [loadbang] -> [delay 50] -> [delay 25] -> 1:t
    """
    assert run_text(text, collect=["p"], mock_clock=False).seen["p"] == [75]


def test_a_cascade_not_run_by_a_timer_sees_the_real_time_since_the_start():
    patch = Patch.from_string("t = [timer] -> p\np = [print]\n")

    async def main() -> list:
        async with patch.running(data_dir=":memory:") as session:
            seen = session.collect("p")
            await trio.sleep(0.25)
            await session.send("t", BANG, 1)
            await trio.sleep(0.5)
            await session.send("t", BANG, 1)
            return seen

    assert trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0)) == [250, 750]


def test_loadbangs_all_run_at_time_zero_and_timers_they_set_for_zero_run_after_them():
    out = run_text(
        """
        t = [timer] -> [print at]
        [loadbang] -> [delay 0] -> [msg 'delayed'] -> [print]
        [loadbang] -> [msg 'second loadbang'] -> [print]
        [loadbang] -> [py import time; time.sleep(0.02)]
        [loadbang] -> [t b] -> 1:t
        """,
        mock_clock=False,
    )
    assert out.lines == ['print: "second loadbang"', "at: 0", 'print: "delayed"']


async def _clock_on(mock: trio.testing.MockClock) -> list[float]:
    """Drive a bare Clock: the time a cascade sees is held back to the earliest pending timer."""

    class Holder:
        _holds = 0

        def _release(self) -> None:
            self._holds -= 1

    holder = Holder()
    clock = Clock(holder, lambda event: None, None)
    clock.start()
    seen = []
    timer = clock.call_later(100, lambda: None, None)  # set at 0, due at 100
    assert holder._holds == 1
    mock.jump(0.040)
    clock.fixed = False  # a new cascade, not run by a timer
    seen.append(clock.current())
    seen.append(clock.current())  # fixed for the rest of the cascade
    mock.jump(0.100)  # real time 140: the timer at 100 has not run yet
    clock.fixed = False
    seen.append(clock.current())
    timer.cancel()
    timer.cancel()
    assert holder._holds == 0
    clock.fixed = False
    seen.append(clock.current())  # no pending timer: the real time
    return seen


def test_the_time_of_a_cascade_is_held_back_to_the_earliest_pending_timer():
    mock = trio.testing.MockClock()
    seen = trio.run(_clock_on, mock, clock=mock)
    assert seen == [pytest.approx(40), pytest.approx(40), 100, pytest.approx(140)]


def test_a_timer_needs_a_delay_of_zero_or_more():
    clock = Clock(type("H", (), {"_holds": 0})(), lambda event: None, None)
    for bad in (-1, math.nan):
        with pytest.raises(ValueError, match="0 ms or more"):
            clock.call_later(bad, lambda: None, None)


def test_a_pending_timer_keeps_the_patch_from_being_idle_and_a_cancelled_one_does_not():
    out = run_text(
        """
        d = [delay 5000] -> [print late]
        [loadbang] -> [msg 1] -> d
        [loadbang] -> [delay 10] -> [msg clear] -> 1:d
        """
    )
    assert out.lines == []
