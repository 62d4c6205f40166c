"""Pd's control flow: bang, change, moses, swap, until and value."""

from __future__ import annotations

import math

import pytest

from patchflow import BANG
from patchflow.testing import first_problem as problem
from patchflow.testing import run_text as run


def outputs(box: str, *inject, outlets: int = 1) -> list:
    """What `box` (id `x`) sends for the injected (message[, inlet]) pairs: [outlet, message]."""
    wires = "\n".join(f"x:{n} -> [py await send([{n}, x])] -> p" for n in range(outlets))
    out = run(f"x = {box}\n{wires}\np = [print]", *[("x", *item) for item in inject], collect=["p"])
    assert out.errors == []
    sent = out.seen["p"]
    return sent if outlets > 1 else [message for _, message in sent]


# -- bang -------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["bang", "b"])
def test_bang_sends_a_bang_for_any_message(name):
    assert outputs(f"[{name}]", (5,), ("hi",), ([1, 2],), (None,), (BANG,)) == [BANG] * 5


# -- change -----------------------------------------------------------------------------------


def test_change_passes_a_number_only_when_it_differs_from_the_last():
    assert outputs("[change]", (0,), (1,), (1.0,), (2.5,), (2.5,), (0,)) == [1, 2.5, 0]


def test_change_starts_from_its_argument_and_a_bang_sends_the_last():
    assert outputs("[change 3]", (BANG,), (3,), (4,), (BANG,)) == [3, 4, 4]


def test_change_set_keeps_a_number_without_sending():
    sent = outputs("[change]", ({"type": "set", "value": 7},), (7,), (BANG,), (["set", 8],), (8,))
    assert sent == [7]


def test_change_set_from_a_message_box():
    out = run("[loadbang] -> [msg set 7, 7, 8] -> [change] -> [print]")
    assert out.lines == ["print: 8"]


def test_change_rejects_what_is_not_a_number():
    out = run("x = [change]", ("x", "a"), ("x", {"type": "set"}), ("x", True))
    assert out.errors == [
        'test.patch:1 [x: change]: inlet 0 cannot take "a"; expected a number, a bang or set N',
        'test.patch:1 [x: change]: inlet 0 cannot take {"type": "set"}; '
        "expected a number, a bang or set N",
        "test.patch:1 [x: change]: inlet 0 cannot take true; expected a number, a bang or set N",
    ]


# -- moses ------------------------------------------------------------------------------------


def test_moses_splits_numbers_at_its_bound():
    sent = outputs("[moses 2]", (1,), (2,), (3,), (1.99,), outlets=2)
    assert sent == [[0, 1], [1, 2], [1, 3], [0, 1.99]]


def test_moses_inlet_1_sets_the_bound_and_a_list_spreads():
    sent = outputs("[moses]", (-1,), (0,), (5, 1), (4,), ([10, 9],), outlets=2)
    assert sent == [[0, -1], [1, 0], [0, 4], [1, 10]]


def test_moses_rejects_a_bang_as_pd_does():
    out = run("x = [moses]", ("x", BANG), ("x", "1", 1))
    assert out.errors == [
        'test.patch:1 [x: moses]: inlet 0 cannot take {"type": "bang"}; expected a number',
        'test.patch:1 [x: moses]: inlet 1 cannot take "1"; expected a number',
    ]


# -- swap -------------------------------------------------------------------------------------


def test_swap_sends_the_left_number_right_first_then_the_stored_one_left():
    sent = outputs("[swap 5]", (1,), (2.5,), (BANG,), (7, 1), (BANG,), outlets=2)
    assert sent == [[1, 1], [0, 5], [1, 2.5], [0, 5], [1, 2.5], [0, 5], [1, 2.5], [0, 7]]


def test_swap_spreads_a_list():
    assert outputs("[swap]", ([1, 2],), outlets=2) == [[1, 1], [0, 2]]


def test_swap_rejects_what_is_not_a_number():
    out = run("x = [swap]", ("x", "a"), ("x", BANG, 1))
    assert out.errors == [
        'test.patch:1 [x: swap]: inlet 0 cannot take "a"; expected a number or bang',
        'test.patch:1 [x: swap]: inlet 1 cannot take {"type": "bang"}; expected a number',
    ]


# -- until ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("count", "bangs"), [(3, 3), (0, 0), (-2, 0), (2.7, 2), ([4], 4)])
def test_until_sends_n_bangs_for_a_number(count, bangs):
    assert outputs("[until]", (count,)) == [BANG] * bangs


COUNTER = """
u = [until]
n = [f]
u -> n -> [+ 1] -> 1:n
n -> [sel {stop}] -> 1:u
n -> [print]
"""


def test_until_loops_until_a_bang_on_its_right_inlet():
    out = run(COUNTER.format(stop=5), ("u", BANG))
    assert out.errors == []
    assert out.lines == [f"print: {n}" for n in range(6)]


def test_until_loops_far_past_the_runaway_guard_without_nesting():
    out = run(COUNTER.format(stop=5000), ("u", BANG))
    assert out.errors == []
    assert len(out.lines) == 5001


def test_until_gives_up_on_an_endless_loop_with_an_error():
    out = run("u = [until] -> [f]", ("u", BANG), ("u", 2))
    assert out.errors == [
        "test.patch:1 [u: until]: looped 1,000,000 times without a bang on inlet 1 to stop "
        "it; wire the stopping condition to the right inlet, or send a number of bangs"
    ]


def test_until_rejects_what_is_neither_a_bang_nor_a_finite_number():
    out = run("u = [until]", ("u", math.inf), ("u", "go"), ("u", 3, 1))
    assert out.errors == [
        "test.patch:1 [u: until]: inlet 0 cannot take Infinity; expected a bang or a finite "
        "number of bangs",
        'test.patch:1 [u: until]: inlet 0 cannot take "go"; expected a bang or a finite '
        "number of bangs",
        "test.patch:1 [u: until]: inlet 1 cannot take 3; expected a bang (to stop the loop)",
    ]


# -- value ------------------------------------------------------------------------------------


def test_value_is_shared_by_every_box_of_the_same_name():
    out = run(
        """
        a = [value tempo] -> [print a]
        b = [v tempo] -> [print b]
        c = [v other] -> [print c]
        """,
        ("a", 120),
        ("b", BANG),
        ("c", BANG),
        ("b", {"bpm": 90}),
        ("a", BANG),
    )
    assert out.lines == ["b: 120", "c: 0", 'a: {"bpm": 90}']


def test_value_starts_afresh_on_each_run():
    text = "[loadbang] -> [v x] -> [print]\n[loadbang] -> [msg 5] -> [v x]"
    assert run(text).lines == run(text).lines == ["print: 0"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[v]", "[v]: takes one name, got none; e.g. [v tempo]"),
        ("[value a b]", "[value a b]: takes one name, got 'a b'; e.g. [v tempo]"),
        ("[change x]", "[change x]: expected one number, got 'x'; e.g. [change 0]"),
        ("[moses 1 2]", "[moses 1 2]: expected one number, got '1 2'; e.g. [moses 10]"),
        ("[swap a]", "[swap a]: expected one number, got 'a'; e.g. [swap 5]"),
        ("[until 3]", "[until 3]: [until] takes no arguments; got '3'"),
        ("[b 1]", "[b 1]: [bang] takes no arguments; got '1'"),
    ],
)
def test_wrong_arguments_are_reported_with_the_right_form(text, message):
    found = problem(f"\n{text}")
    assert (found.line, found.message) == (2, message)
