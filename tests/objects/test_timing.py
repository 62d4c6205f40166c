"""[timer] and [line] on the patch clock: exact on trio's MockClock, close on the real one."""

from __future__ import annotations

import json
import math
from textwrap import dedent

import pytest

from patchflow import BANG
from patchflow.testing import first_problem as problem
from patchflow.testing import run_text

# Prints each message with the (virtual) time it arrived, in milliseconds from the start.
STAMP = "stamp = [py await send([x, round(trio.current_time() * 1000)])] -> [print]\n"


def run(text: str, *inject, **options):
    """Run dedented patch text plus the `stamp` box, injecting (box id, message[, inlet])."""
    return run_text(dedent(text).rstrip("\n") + "\n" + STAMP, inject=list(inject), **options)


def stamps(out) -> list[list]:
    """The [message, ms] pairs the `stamp` box printed."""
    assert out.errors == []
    return [json.loads(line.removeprefix("print: ")) for line in out.lines]


# -- timer ------------------------------------------------------------------------------------


def test_timer_measures_the_logical_time_between_reset_and_bang():
    out = run(
        """
        t = [timer] -> stamp
        [loadbang] -> [delay 100] -> t
        [loadbang] -> [delay 350] -> 1:t
        [loadbang] -> [delay 475.5] -> 1:t
        """
    )
    assert stamps(out) == [[250, 350], [375.5, 476]]


def test_timer_counts_from_the_start_before_the_first_reset():
    out = run("t = [timer] -> stamp\n[loadbang] -> [delay 300] -> 1:t")
    assert stamps(out) == [[300, 300]]


def test_timer_sends_whole_milliseconds_as_integers():
    out = run_text("t = [timer] -> p\np = [print]", ("t", BANG, 1), collect=["p"])
    assert out.seen["p"] == [0]
    assert type(out.seen["p"][0]) is int


def test_timer_rejects_what_is_not_a_bang():
    out = run_text("t = [timer]", ("t", 1), ("t", "now", 1))
    assert out.errors == [
        "test.patch:1 [t: timer]: inlet 0 cannot take 1; expected a bang",
        'test.patch:1 [t: timer]: inlet 1 cannot take "now"; expected a bang',
    ]


@pytest.mark.slow
def test_timer_measures_close_to_the_delay_on_the_real_clock():
    text = "t = [timer] -> p\np = [print]\n[loadbang] -> t\n[loadbang] -> [delay 50] -> 1:t"
    out = run_text(text, collect=["p"], mock_clock=False)
    (elapsed,) = out.seen["p"]
    assert 50 <= elapsed < 1000  # generous: only a loaded machine makes it late


# -- line -------------------------------------------------------------------------------------


def test_line_sends_the_start_at_once_then_a_value_every_grain():
    out = run("[loadbang] -> [msg 100 100] -> [line] -> stamp")
    assert stamps(out) == [[0, 0], [20, 20], [40, 40], [60, 60], [80, 80], [100, 100]]


def test_line_shortens_the_last_step_to_end_on_time():
    out = run("[loadbang] -> [msg 100 50] -> [line 0 20] -> stamp")
    assert stamps(out) == [[0, 0], [40, 20], [80, 40], [100, 50]]


def test_line_sends_whole_values_as_integers_and_others_as_floats():
    out = run_text("x = [line 0 10] -> p\np = [print]", ("x", [1, 30]), collect=["p"])
    sent = out.seen["p"]
    assert sent == [0, 1 / 3, 2 / 3, 1]
    assert [type(v) for v in sent] == [int, float, float, int]


def test_a_new_target_mid_ramp_starts_from_where_the_ramp_is():
    # Pd 0.53 prints 0 30 50 41 32 23 20 for this patch (tests/pd/line.pd).
    out = run(
        """
        l = [line 0 30] -> stamp
        [loadbang] -> [msg 100 100] -> l
        [loadbang] -> [delay 50] -> [msg 20 100] -> l
        """
    )
    assert stamps(out) == [[0, 0], [30, 30], [50, 50], [41, 80], [32, 110], [23, 140], [20, 150]]


def test_a_number_alone_or_with_no_time_jumps_and_stops_the_ramp():
    out = run(
        """
        l = [line] -> stamp
        [loadbang] -> [msg 5, 10 0, 20 -5, 100 100] -> l
        [loadbang] -> [delay 30] -> [msg 7] -> l
        """
    )
    assert stamps(out) == [[5, 0], [10, 0], [20, 0], [20, 0], [36, 20], [7, 30]]


def test_a_time_on_inlet_1_is_for_the_next_target_only():
    out = run(
        """
        l = [line] -> stamp
        [loadbang] -> [msg 40] -> 1:l
        [loadbang] -> [msg 40] -> l
        [loadbang] -> [delay 100] -> [msg 0] -> l
        """
    )
    assert stamps(out) == [[0, 0], [20, 20], [40, 40], [0, 100]]


def test_stop_leaves_the_value_where_the_ramp_was():
    # Pd 0.53: 0 20 40, stopped at 45, then 45 56 67 78 89 100 from 300 ms.
    out = run(
        """
        l = [line] -> stamp
        go = [msg 100 100]
        [loadbang] -> go -> l
        [loadbang] -> [delay 45] -> [msg stop] -> l
        [loadbang] -> [delay 300] -> go
        """
    )
    values = [value for value, _ in stamps(out)]
    assert values == [0, 20, 40, 45, 56, 67, 78, 89, 100]


def test_set_jumps_without_sending():
    out = run("[loadbang] -> [msg set 50, 100 50] -> [line 0 25] -> stamp")
    assert stamps(out) == [[50, 0], [75, 25], [100, 50]]


def test_grain_from_inlet_2_or_a_third_list_element_and_0_means_20():
    out = run(
        """
        l = [line 0 -1] -> stamp
        [loadbang] -> [msg 60 60 30] -> l
        [loadbang] -> [delay 100] -> [msg 0 40 0] -> l
        """
    )
    assert stamps(out) == [[0, 0], [30, 30], [60, 60], [60, 100], [30, 120], [0, 140]]


def test_a_running_ramp_keeps_the_patch_running_until_it_ends():
    out = run("[loadbang] -> [msg 1 1000] -> [line 0 1000] -> stamp")
    assert stamps(out) == [[0, 0], [1, 1000]]


@pytest.mark.slow
def test_line_values_follow_its_schedule_on_the_real_clock_too():
    text = "[loadbang] -> [msg 100 100] -> [line] -> p\np = [print]"
    out = run_text(text, collect=["p"], mock_clock=False)
    assert out.seen["p"] == [0, 20, 40, 60, 80, 100]


def test_line_rejects_what_it_cannot_take():
    out = run_text("x = [line]", ("x", BANG), ("x", "go"), ("x", math.inf, 1), ("x", "fast", 2))
    expected = "expected a number, a list `target time`, stop or set N"
    assert out.errors == [
        f'test.patch:1 [x: line]: inlet 0 cannot take {{"type": "bang"}}; {expected}',
        f'test.patch:1 [x: line]: inlet 0 cannot take "go"; {expected}',
        "test.patch:1 [x: line]: inlet 1 cannot take Infinity; expected a finite number",
        'test.patch:1 [x: line]: inlet 2 cannot take "fast"; expected a finite number',
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[line a]", "[line a]: expected up to 2 numbers, got 'a'; e.g. [line 0 20]"),
        (
            "[line 0 20 1]",
            "[line 0 20 1]: expected up to 2 numbers, got '0 20 1'; e.g. [line 0 20]",
        ),
        ("[timer 1]", "[timer 1]: [timer] takes no arguments; got '1'"),
    ],
)
def test_wrong_arguments_are_reported_with_the_right_form(text, message):
    found = problem(f"\n{text}")
    assert (found.line, found.message) == (2, message)
