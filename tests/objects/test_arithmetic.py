"""Pd's extra arithmetic: mod, div, abs, sqrt, pow and clip, with Pd's results at the edges."""

from __future__ import annotations

import math

import pytest

from patchflow import BANG
from patchflow.testing import first_problem as problem
from patchflow.testing import run_text as run


def outputs(box: str, *inject) -> list:
    """What `box` (given the id `x`) sends for the injected (message[, inlet]) pairs."""
    out = run(f"x = {box} -> p\np = [print]", *[("x", *item) for item in inject], collect=["p"])
    assert out.errors == []
    return out.seen["p"]


# -- mod and div ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("left", "divisor", "mod", "div"),
    [
        (7, 3, 1, 2),
        (-7, 3, 2, -3),
        (7, -3, 1, 2),
        (-7, -3, 2, -3),
        (7.9, 3, 1, 2),  # truncated first
        (-7.9, 3, 2, -3),
        (7, 2.7, 1, 3),  # the divisor too
        (7, 0, 0, 7),  # a divisor of 0 counts as 1
        (7, -0.5, 0, 7),  # truncates to 0
        (0, 5, 0, 0),
        (-1, 3, 2, -1),
    ],
)
def test_mod_and_div_truncate_both_operands_as_pd_does(left, divisor, mod, div):
    assert outputs("[mod]", (divisor, 1), (left,)) == [mod]
    assert outputs("[div]", (divisor, 1), (left,)) == [div]
    assert all(type(v) is int for v in outputs("[mod 3]", (7.5,)) + outputs("[div 3]", (7.5,)))


def test_mod_and_div_take_the_divisor_as_argument_and_repeat_on_bang():
    assert outputs("[mod 8]", (9,), (BANG,), (3, 1), (BANG,)) == [1, 1, 0]
    assert outputs("[div 8]", (17,), (BANG,), (5, 1), (BANG,)) == [2, 2, 3]


def test_mod_and_div_default_divisor_is_1():
    assert outputs("[mod]", (7,)) == [0]
    assert outputs("[div]", (7.5,)) == [7]


def test_a_list_on_mod_sets_the_divisor_then_the_dividend():
    assert outputs("[mod]", ([7, 3],), ([9],), (BANG,)) == [1, 0, 0]


@pytest.mark.parametrize("name", ["mod", "div"])
def test_mod_and_div_reject_what_is_not_a_finite_number(name):
    out = run(f"x = [{name} 3] -> [print]", ("x", math.inf), ("x", "3", 1), ("x", True), ("x", 4))
    assert out.errors == [
        f"test.patch:1 [x: {name}]: inlet 0 cannot take Infinity; expected a finite number or bang",
        f'test.patch:1 [x: {name}]: inlet 1 cannot take "3"; expected a finite number',
        f"test.patch:1 [x: {name}]: inlet 0 cannot take true; expected a finite number or bang",
    ]
    assert len(out.lines) == 1


# -- pow --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("base", "exponent", "result"),
    [
        (3, 2, 9),
        (2, -1, 0.5),
        (-4, -1, -0.25),
        (-8, 3, -512),
        (4, 0.5, 2.0),
        (0, 0, 1),
        (-4, 0.5, 0),  # not a real number
        (0, -1, 0),  # infinite
        (10, 400, 0),  # too large for a float
        (10.0, 400, 0),
        (math.inf, 2, 0),
    ],
)
def test_pow_sends_0_where_pd_does(base, exponent, result):
    assert outputs("[pow]", (exponent, 1), (base,)) == [result]


def test_pow_keeps_whole_numbers_whole_and_repeats_on_bang():
    sent = outputs("[pow 2]", (3,), (BANG,), (1.5,), (3, 1), (BANG,))
    assert sent == [9, 9, 2.25, 3.375]
    assert type(sent[0]) is int


def test_pow_rejects_what_is_not_a_number():
    out = run("x = [pow 2] -> [print]", ("x", "2"), ("x", BANG, 1))
    assert out.errors == [
        'test.patch:1 [x: pow]: inlet 0 cannot take "2"; expected a number or bang',
        'test.patch:1 [x: pow]: inlet 1 cannot take {"type": "bang"}; expected a number',
    ]


# -- abs and sqrt -----------------------------------------------------------------------------


def test_abs_keeps_the_type_of_its_number():
    sent = outputs("[abs]", (-3,), (2.5,), (-0.5,), (0,))
    assert sent == [3, 2.5, 0.5, 0]
    assert [type(v) for v in sent] == [int, float, float, int]


def test_sqrt_of_a_negative_number_is_0_and_of_a_square_an_integer():
    sent = outputs("[sqrt]", (9,), (2,), (-4,), (6.25,), (10**30,))
    assert sent == [3, math.sqrt(2), 0, 2.5, 10**15]
    assert type(sent[0]) is int


@pytest.mark.parametrize("name", ["abs", "sqrt"])
def test_abs_and_sqrt_take_a_lists_first_element_and_reject_a_bang(name):
    out = run(f"x = [{name}] -> p\np = [print]", ("x", [-4, 5]), ("x", BANG), collect=["p"])
    assert out.seen["p"] == [4 if name == "abs" else 0]
    assert out.errors == [
        f'test.patch:1 [x: {name}]: inlet 0 cannot take {{"type": "bang"}}; expected a number'
    ]


# -- clip -------------------------------------------------------------------------------------


def test_clip_clamps_into_its_bounds():
    assert outputs("[clip 0 10]", (-5,), (5,), (12.5,), (BANG,)) == [0, 5, 10, 10]


def test_clip_tests_the_low_bound_first_as_pd_does():
    assert outputs("[clip 10 0]", (5,), (20,), (10,)) == [10, 0, 0]


def test_clip_inlets_1_and_2_set_the_bounds_without_sending():
    assert outputs("[clip]", (3,), (-1, 1), (2, 2), (BANG,), (1.5,)) == [0, 2, 1.5]


def test_clip_spreads_a_list_over_its_inlets():
    assert outputs("[clip]", ([15, 0, 10],), ([-3],)) == [10, 0]


def test_clip_rejects_what_is_not_a_number():
    out = run("x = [clip 0 1] -> [print]", ("x", "a"), ("x", BANG, 1), ("x", None, 2))
    assert out.errors == [
        'test.patch:1 [x: clip]: inlet 0 cannot take "a"; expected a number or bang',
        'test.patch:1 [x: clip]: inlet 1 cannot take {"type": "bang"}; expected a number',
        "test.patch:1 [x: clip]: inlet 2 cannot take null; expected a number",
    ]


# -- arguments --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[mod x]", "[mod x]: expected one number, got 'x'; e.g. [mod 3]"),
        ("[div 1 2]", "[div 1 2]: expected one number, got '1 2'; e.g. [div 3]"),
        (
            "[mod Infinity]",
            "[mod Infinity]: expected a finite number, got 'Infinity'; e.g. [mod 3]",
        ),
        ("[pow two]", "[pow two]: expected one number, got 'two'; e.g. [pow 3]"),
        ("[clip 0 1 2]", "[clip 0 1 2]: expected up to 2 numbers, got '0 1 2'; e.g. [clip 0 127]"),
        ("[abs 1]", "[abs 1]: [abs] takes no arguments; got '1'"),
    ],
)
def test_wrong_arguments_are_reported_with_the_right_form(text, message):
    found = problem(f"\n{text}")
    assert (found.line, found.message) == (2, message)
