"""Lists: pack and unpack."""

from __future__ import annotations

import pytest

from patchflow import BANG
from patchflow.testing import first_problem as problem
from patchflow.testing import run_text as run

BANG_LINE = '{"type": "bang"}'

# -- pack -------------------------------------------------------------------------------------


def test_pack_inlet_0_stores_and_outputs_the_list_and_other_inlets_only_store():
    text = "p = [pack f s a] -> [print]"
    out = run(text, ("p", "hi", 1), ("p", {"k": 1}, 2), ("p", 5), ("p", 6))
    assert out.lines == ['print: [5, "hi", {"k": 1}]', 'print: [6, "hi", {"k": 1}]']


def test_pack_bang_outputs_the_initial_values():
    out = run("p = [pack f s a 2.5] -> [print]", ("p", BANG))
    assert out.lines == ['print: [0, "", null, 2.5]']


def test_pack_without_arguments_packs_two_numbers():
    out = run("p = [pack] -> [print]", ("p", 3, 1), ("p", 1))
    assert out.lines == ["print: [1, 3]"]


def test_pack_string_slot_takes_a_control_message_as_trigger_s_does():
    out = run("p = [pack s s] -> [print]", ("p", {"type": "go"}, 1), ("p", "x"))
    assert out.lines == ['print: ["x", {"type": "go"}]']


def test_pack_a_slot_stores_a_bang_on_a_cold_inlet_but_a_bang_on_inlet_0_sends():
    out = run("p = [pack a a] -> [print]", ("p", BANG, 1), ("p", BANG))
    assert out.lines == [f"print: [null, {BANG_LINE}]"]


def test_pack_sends_a_new_list_each_time():
    out = run("p = [pack] -> q\nq = [print]", ("p", 1), ("p", BANG), collect=["q"])
    first, second = out.seen["q"]
    assert first == second and first is not second


def test_pack_rejects_values_of_the_wrong_kind_on_each_inlet():
    out = run("p = [pack f s] -> [print]", ("p", "x"), ("p", True), ("p", 5, 1), ("p", 1))
    assert out.errors == [
        'test.patch:1 [p: pack]: inlet 0 cannot take "x"; expected a number or bang',
        "test.patch:1 [p: pack]: inlet 0 cannot take true; expected a number or bang",
        "test.patch:1 [p: pack]: inlet 1 cannot take 5; expected a string or control message",
    ]
    assert out.lines == ['print: [1, ""]']


def test_pack_rejects_an_unknown_slot():
    found = problem("[pack f x]")
    assert (found.line, found.column) == (1, 7)
    assert (
        found.message
        == "[pack f x]: unknown slot 'x'; each slot is f, s, a or a number (e.g. [pack f s 0])"
    )


# -- unpack -----------------------------------------------------------------------------------

UNPACK = """
u = [unpack]
u:0 -> [print a]
u:1 -> [print b]
u:2 -> [print rest]
"""


def test_unpack_sends_elements_right_to_left_with_the_rest_first():
    out = run(UNPACK, ("u", [1, "two", [3], 4]))
    assert out.lines == ["rest: [[3], 4]", 'b: "two"', "a: 1"]


def test_unpack_sends_only_the_elements_a_short_list_has():
    out = run(UNPACK, ("u", [1]), ("u", []), ("u", (7, 8)))
    assert out.lines == ["a: 1", "b: 8", "a: 7"]


def test_unpack_count_sets_the_outlets():
    text = "u = [unpack 3]\nu:2 -> [print c]\nu:3 -> [print rest]"
    out = run(text, ("u", [1, 2, 3]), ("u", [1, 2, 3, 4]))
    assert out.lines == ["c: 3", "rest: [4]", "c: 3"]


def test_unpack_takes_a_lone_value_as_a_list_of_one_and_a_bang_as_the_empty_list():
    out = run(UNPACK, ("u", {"a": 1}), ("u", "ab"), ("u", BANG))
    assert out.errors == []
    assert out.lines == ['a: {"a": 1}', 'a: "ab"']  # as Pd: `5` → 5 out of outlet 0, bang → none


@pytest.mark.parametrize("count", ["0", "-1", "x", "2 3", "1.5"])
def test_unpack_rejects_a_count_that_is_not_a_positive_integer(count):
    found = problem(f"[unpack {count}]")
    assert (
        found.message
        == f"[unpack {count}]: expected a count of 1 or more, got {count!r}; e.g. [unpack 3]"
    )


def test_pack_spreads_a_list_on_its_hot_inlet_over_the_slots():
    out = run("[loadbang] -> [msg 1 2] -> [pack 0 0] -> [print]")
    assert out.lines == ["print: [1, 2]"]
    out = run("p = [pack f s 9] -> [print]", ("p", [5, "x"]), ("p", [6, "y", 7, 8]))
    assert out.lines == ['print: [5, "x", 9]', 'print: [6, "y", 7]']
