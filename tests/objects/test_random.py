"""[random]: Pd's generator, a fixed seed per box, so runs repeat and match Pd 0.53."""

from __future__ import annotations

import math

import pytest

from patchflow import BANG
from patchflow.testing import first_problem as problem
from patchflow.testing import run_text as run

# What Pd 0.53 prints for the same boxes (two [random] created in this order, five bangs each,
# then `seed 5` and two bangs): see tests/pd/random.pd.
PD_FIRST = [7, 5, 7, 4, 5]
PD_SECOND = [929, 663, 107, 736, 387]


def test_each_box_starts_from_pds_seed_for_its_place_in_the_patch():
    text = "a = [random 10] -> [print a]\nb = [random 1000] -> [print b]"
    out = run(text, *[(box, BANG) for box in "ab" for _ in range(5)])
    assert out.lines == [f"a: {n}" for n in PD_FIRST] + [f"b: {n}" for n in PD_SECOND]


def test_runs_repeat():
    text = "[loadbang] -> [msg bang, bang, bang] -> [random 100] -> [print]"
    assert run(text).lines == run(text).lines


def test_seed_restarts_the_sequence():
    out = run(
        "a = [random 10] -> [print a]\nb = [random 1000] -> [print b]",
        *[(box, message) for box in "ab" for message in ({"type": "seed", "value": 5}, BANG, BANG)],
        ("a", ["seed", 5]),
        ("a", BANG),
    )
    assert out.lines == ["a: 7", "a: 0", "b: 744", "b: 49", "a: 7"]


def test_seed_from_a_message_box_wired_to_the_random():
    out = run("[loadbang] -> [msg seed 5, bang] -> [random 10] -> [print]")
    assert out.lines == ["print: 7"]


def test_inlet_1_sets_the_range_truncated_and_1_or_less_always_sends_0():
    sent = run(
        "x = [random 1000] -> p\np = [print]",
        *[("x", n, 1) if i % 2 == 0 else ("x", BANG) for i, n in enumerate([2.9, 0, 0, 0, -3, 0])],
        collect=["p"],
    ).seen["p"]
    assert sent[0] in (0, 1)
    assert sent[1:] == [0, 0]
    assert all(type(n) is int for n in sent)


def test_numbers_stay_in_range():
    out = run("x = [random 3] -> p\np = [print]", *[("x", BANG)] * 200, collect=["p"])
    assert set(out.seen["p"]) == {0, 1, 2}


def test_random_rejects_what_it_cannot_take():
    out = run("x = [random]", ("x", 3), ("x", ["seed", "a"]), ("x", math.nan, 1))
    assert out.errors == [
        "test.patch:1 [x: random]: inlet 0 cannot take 3; expected a bang or seed N",
        'test.patch:1 [x: random]: inlet 0 cannot take ["seed", "a"]; expected a bang or seed N',
        "test.patch:1 [x: random]: inlet 1 cannot take NaN; expected a finite number",
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [("[random x]", "[random x]: expected one number, got 'x'; e.g. [random 100]")],
)
def test_wrong_arguments_are_reported_with_the_right_form(text, message):
    found = problem(f"\n{text}")
    assert (found.line, found.message) == (2, message)
