"""[list append], [list prepend], [list split] and [list length], as Pd's [list] does them."""

from __future__ import annotations

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


# -- append and prepend -----------------------------------------------------------------------


def test_append_joins_the_stored_list_after_the_input():
    sent = outputs("[list append a 9]", ([1, 2, 3],), (7,), (BANG,), ("x",))
    assert sent == [[1, 2, 3, "a", 9], [7, "a", 9], ["a", 9], ["x", "a", 9]]


def test_prepend_joins_the_stored_list_before_the_input():
    sent = outputs("[list prepend a 9]", ([1, 2],), (BANG,), ({"k": 1},))
    assert sent == [["a", 9, 1, 2], ["a", 9], ["a", 9, {"k": 1}]]


def test_inlet_1_stores_the_list_without_sending():
    sent = outputs("[list append]", ([1],), ([2, 3], 1), ([1],), (4, 1), ([1],), (BANG, 1), ([1],))
    assert sent == [[1], [1, 2, 3], [1, 4], [1]]


@pytest.mark.parametrize("text", ["[list]", "[list 5 'b c']"])
def test_list_without_a_sub_command_is_append(text):
    stored = [] if text == "[list]" else [5, "b c"]
    assert outputs(text, ([1],)) == [[1, *stored]]


def test_append_arguments_are_json5_values_or_words():
    assert outputs('[list append {x: 1} [2] "two words" true]', (BANG,)) == [
        [{"x": 1}, [2], "two words", True]
    ]


# -- split ------------------------------------------------------------------------------------


def test_split_sends_the_rest_first_then_the_head():
    sent = outputs("[list split 2]", ([1, 2, 3],), ([1, 2],), outlets=3)
    assert sent == [[1, [3]], [0, [1, 2]], [1, []], [0, [1, 2]]]


def test_split_sends_a_shorter_input_out_of_the_last_outlet():
    sent = outputs("[list split 2]", ([1],), (7,), (BANG,), outlets=3)
    assert sent == [[2, [1]], [2, [7]], [2, []]]


def test_split_0_sends_everything_as_the_rest_and_an_empty_head():
    assert outputs("[list split]", ([1, 2],), outlets=3) == [[1, [1, 2]], [0, []]]


def test_split_inlet_1_sets_the_count_truncated():
    sent = outputs("[list split 1]", (2.7, 1), ([1, 2, 3],), (-1, 1), ([1],), outlets=3)
    assert sent == [[1, [3]], [0, [1, 2]], [1, [1]], [0, []]]


def test_split_rejects_a_count_that_is_not_a_number():
    out = run("x = [list split 1]", ("x", "two", 1))
    assert out.errors == [
        'test.patch:1 [x: list]: inlet 1 cannot take "two"; '
        "expected a number (how many elements to split off)"
    ]


# -- length -----------------------------------------------------------------------------------


def test_length_counts_elements_a_lone_value_as_1_and_a_bang_as_0():
    assert outputs("[list length]", ([1, 2, 3],), ([],), (BANG,), ("hi",), ({"a": 1},)) == [
        3,
        0,
        0,
        1,
        1,
    ]


def test_list_ports_depend_on_the_sub_command():
    found = problem("x = [list length]\n[loadbang] -> 1:x")
    assert "inlet 1" in found.message


# -- arguments --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "[list trim]",
            "[list trim]: unknown sub-command 'trim'; [list] takes append, prepend, split or "
            "length, e.g. [list split 2]",
        ),
        (
            "[list split x]",
            "[list split x]: [list split] needs a count of 0 or more, got 'x'; e.g. [list split 2]",
        ),
        (
            "[list split -1]",
            "[list split -1]: [list split] needs a count of 0 or more, got '-1'; "
            "e.g. [list split 2]",
        ),
        ("[list split 1 2]", "[list split 1 2]: [list split] takes one count, got '1 2'"),
        ("[list length 3]", "[list length 3]: [list length] takes no arguments, got '3'"),
    ],
)
def test_wrong_arguments_are_reported_with_the_right_form(text, message):
    found = problem(f"\n{text}")
    assert (found.line, found.message) == (2, message)
