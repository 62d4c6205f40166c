"""One notion of "the same JSON value" and of a number, for every object and storage query."""

from __future__ import annotations

import math

import pytest

from patchflow import is_number, is_string_or_control, same_value

NAN = math.nan


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (1, 1.0),
        (NAN, NAN),
        ([1, NAN], (1.0, NAN)),
        ({"a": 1, "b": [2]}, {"b": [2.0], "a": 1}),
        ("x", "x"),
        (None, None),
        (True, True),
        (b"ab", b"ab"),
    ],
)
def test_same_value_holds_for_equal_json_values(a, b):
    assert same_value(a, b) and same_value(b, a)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (1, True),
        (0, False),
        ([1], [True]),
        (NAN, 0),
        ({"a": 1}, {"a": 1, "b": 2}),
        ({"a": 1}, {"b": 1}),
        ("1", 1),
        (None, 0),
        ([1, 2], [1]),
    ],
)
def test_same_value_fails_for_different_values_or_kinds(a, b):
    assert not same_value(a, b) and not same_value(b, a)


def test_a_bool_is_not_a_number_and_a_control_message_is_a_string_or_typed_dict():
    assert is_number(1) and is_number(1.5) and is_number(NAN) and not is_number(True)
    assert is_string_or_control("x") and is_string_or_control({"type": "start"})
    assert not is_string_or_control({"kind": "start"}) and not is_string_or_control(1)
