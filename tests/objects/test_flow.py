"""Flow objects: trigger, route, select, spigot."""

from __future__ import annotations

import math
from typing import Any

import pytest

from patchflow import BANG, same_value
from patchflow.testing import first_problem as problem
from patchflow.testing import run_text as run
from patchflow_objects.flow import _SKIP, Route, _field_test

BANG_LINE = '{"type": "bang"}'


# -- trigger ----------------------------------------------------------------------------------


def test_trigger_fires_outlets_right_to_left():
    out = run(
        """
        t = [t b a s]
        [loadbang] -> [msg 'x'] -> t
        t:0 -> [print zero]
        t:1 -> [print one]
        t:2 -> [print two]
        """
    )
    assert out.lines == ['two: "x"', 'one: "x"', f"zero: {BANG_LINE}"]


def test_trigger_completes_each_outlet_cascade_before_the_next_outlet():
    out = run(
        """
        t = [t b b]
        [loadbang] -> t
        t:1 -> [msg 1, 2] -> [t b a] -> [print deep]
        t:0 -> [print last]
        """
    )
    assert out.lines == [f"deep: {BANG_LINE}", f"deep: {BANG_LINE}", f"last: {BANG_LINE}"]


def test_trigger_without_arguments_is_bang_and_number():
    out = run(
        """
        t = [t]
        t:0 -> [print b]
        t:1 -> [print n]
        """,
        ("t", 5),
        ("t", "word"),
    )
    assert out.lines == ["n: 5", f"b: {BANG_LINE}", f"b: {BANG_LINE}"]


INPUTS = ["hi", {"type": "go"}, {"a": 1}, [1, 2], 3, 2.5, 4.0, True, None]


@pytest.mark.parametrize(
    ("spec", "passed"),
    [
        ("a", INPUTS),
        ("s", ["hi", {"type": "go"}]),
        ("t", ["hi"]),
        ("l", [[1, 2]]),
        ("n", [3, 2.5, 4.0]),
        ("f", [3, 2.5, 4.0]),
        ("i", [3, 4.0]),
        ("o", [{"type": "go"}, {"a": 1}]),
        ("null", [None]),
    ],
)
def test_trigger_passes_only_messages_of_its_type(spec, passed):
    out = run(f"t = [t {spec}]\nt -> p\np = [print]", *(("t", m) for m in INPUTS), collect=["p"])
    assert out.seen["p"] == passed
    assert out.errors == []


def test_trigger_bang_spec_sends_a_bang_whatever_arrives():
    out = run("t = [t b] -> p\np = [print]", *(("t", m) for m in INPUTS), collect=["p"])
    assert out.seen["p"] == [BANG] * len(INPUTS)


def test_trigger_passes_the_same_object_on_not_a_copy():
    message = {"list": [1, 2]}
    out = run("t = [t a a]\nt:1 -> p\np = [print]", ("t", message), collect=["p"])
    assert out.seen["p"][0] is message


def test_trigger_treats_a_tuple_as_a_list():
    out = run("t = [t l] -> p\np = [print]", ("t", (1, 2)), collect=["p"])
    assert out.lines == ["print: [1, 2]"]


def test_trigger_rejects_an_unknown_spec_listing_the_valid_ones():
    found = problem("[loadbang] -> [t b x]")
    assert (found.line, found.column) == (1, 18)
    assert found.message == (
        "[t b x]: unknown spec 'x'; each spec is one of b a s t l n f i o null (e.g. [t b a])"
    )


# -- route ------------------------------------------------------------------------------------

ROUTE = """
r = [route op=get op=set]
r:0 -> [print get]
r:1 -> [print set]
r:2 -> [print other]
"""


def test_route_sends_a_matching_message_unchanged_out_of_its_tests_outlet():
    out = run(ROUTE, ("r", {"op": "set", "value": 3}), collect=["r"])
    assert out.lines == ['set: {"op": "set", "value": 3}']


def test_route_sends_unmatched_message_out_last_outlet():
    out = run(ROUTE, ("r", {"op": "put"}), ("r", "get"), ("r", 5), ("r", {"type": "get"}))
    assert out.lines == [
        'other: {"op": "put"}',
        'other: "get"',
        "other: 5",
        'other: {"type": "get"}',
    ]


def test_route_uses_the_first_test_that_matches():
    out = run("r = [route n=1 n=1.0]\nr:0 -> [print first]\nr:1 -> [print second]", ("r", {"n": 1}))
    assert out.lines == ['first: {"n": 1}']


def test_route_field_value_is_json5_and_compares_numbers_but_never_booleans():
    text = "r = [route n=1]\nr:0 -> [print yes]\nr:1 -> [print no]"
    out = run(text, ("r", {"n": 1.0}), ("r", {"n": True}), ("r", {"n": "1"}))
    assert out.lines == ['yes: {"n": 1.0}', 'no: {"n": true}', 'no: {"n": "1"}']


def test_route_field_value_that_is_not_json5_is_the_raw_text():
    out = run("r = [route op=get]\nr:0 -> [print yes]", ("r", {"op": "get"}))
    assert out.lines == ['yes: {"op": "get"}']


def test_route_field_value_may_be_quoted_or_a_nested_value():
    text = """
    r = [route name="a b" pos={x: 1, y: [2]}]
    r:0 -> [print name]
    r:1 -> [print pos]
    r:2 -> [print other]
    """
    messages = [{"name": "a b"}, {"pos": {"x": 1, "y": [2.0]}}, {"pos": {"x": 1, "y": [True]}}]
    out = run(text, *(("r", m) for m in messages))
    assert out.lines == [
        'name: {"name": "a b"}',
        'pos: {"pos": {"x": 1, "y": [2.0]}}',
        'other: {"pos": {"x": 1, "y": [true]}}',
    ]


def test_route_field_null_needs_the_field_to_be_present():
    out = run(
        "r = [route x=null]\nr:0 -> [print yes]\nr:1 -> [print no]", ("r", {}), ("r", {"x": None})
    )
    assert out.lines == ["no: {}", 'yes: {"x": null}']


def test_route_word_matches_a_string_a_control_type_or_a_lists_first_element():
    text = "r = [route go]\nr:0 -> [print yes]\nr:1 -> [print no]"
    yes = ["go", {"type": "go", "n": 1}, ["go", 1, 2], [{"type": "go"}, 1]]
    no = ["gone", {"op": "go"}, ["x", "go"], [], 5, None, [1, "go"], [{"op": "go"}, 1]]
    out = run(text, *(("r", m) for m in [*yes, *no]), collect=["r"])
    # a list loses its head, as in Pd: several left as a list, one alone
    assert out.lines[:4] == ['yes: "go"', 'yes: {"type": "go", "n": 1}', "yes: [1, 2]", "yes: 1"]
    assert [line.split(":")[0] for line in out.lines[4:]] == ["no"] * len(no)
    assert out.lines[4:8] == ['no: "gone"', 'no: {"op": "go"}', 'no: ["x", "go"]', "no: []"]


def test_route_strips_the_head_of_what_a_message_box_makes_as_pd_does():
    # Pd 0.53: [foo 1 2( → [route foo] prints "1 2" and [foo 7( prints 7
    out = run(
        """
        r = [route foo]
        [loadbang] -> [msg foo 1 2, foo 7, foo, 'foo' 3 4] -> r
        r:0 -> [print foo]
        r:1 -> [print other]
        """
    )
    assert out.errors == []
    assert out.lines == [
        "foo: [1, 2]",
        "foo: 7",
        'foo: {"type": "foo"}',  # a control message (it may have fields): sent whole
        "foo: [3, 4]",
    ]


def test_route_field_tests_pass_a_list_or_dict_unchanged():
    out = run(
        "r = [route op=get]\nr:0 -> [print yes]\nr:1 -> [print no]",
        ("r", {"op": "get", "value": 1}),
        ("r", ["op=get", 1]),
    )
    assert out.lines == ['yes: {"op": "get", "value": 1}', 'no: ["op=get", 1]']


def test_route_word_is_always_a_string_so_a_number_word_does_not_match_numbers():
    out = run("r = [route 1]\nr:0 -> [print yes]\nr:1 -> [print no]", ("r", 1), ("r", "1"))
    assert out.lines == ["no: 1", 'yes: "1"']


def test_route_passes_the_same_object_on():
    message = {"op": "get"}
    out = run("r = [route op=get]\nr:0 -> p\np = [print]", ("r", message), collect=["p"])
    assert out.seen["p"][0] is message


class _Str(str):
    pass


class _Int(int):
    pass


class _Dict(dict):
    pass


#: what a field may hold: every kind `same_value` tells apart, and subclasses of str and int
FOUND = [
    "get", "", "1", _Str("get"), 1, 1.0, _Int(1), 0, -2.5, math.nan, math.inf, True, False,
    None, [1], [True], (1.0,), {"a": 1}, {"a": True}, b"get",
]  # fmt: skip


@pytest.mark.parametrize(
    "wanted", ["get", "", 1, 1.0, 0, 1.5, math.nan, True, False, None, [1], {"a": 1}, b"get"]
)
def test_route_field_tests_are_same_value_with_the_value_fixed(wanted):
    # `_field_test` is specialised for the kind of the value (flow.py): each form must answer
    # as `same_value` does, for a dict and a dict subclass, and never pass a message without
    # the field or a non-dict
    test = _field_test("f", wanted)
    for found in FOUND:
        for message in ({"f": found}, _Dict(f=found)):
            assert (test(message) is message) is same_value(found, wanted), (found, wanted)
        assert test({"g": found}) is _SKIP
        assert test(found) is _SKIP


@pytest.mark.parametrize("tests", [("op=get",), ("op=get", "op=set", 'op="get"', "op=''")])
def test_a_route_of_strings_on_one_field_sends_where_its_tests_in_order_would(tests):
    # such a route finds the outlet in a table, not by calling each test: the same outlets
    route = Route(tests)
    assert route._field == "op"
    assert Route(("op=get", "bang"))._field is None  # a word test: the loop over the tests
    assert Route(("op=get", "op=1"))._field is None  # a number: the loop
    assert Route(("op=get", "kind=set"))._field is None  # two fields: the loop
    sent: list[tuple[int, Any]] = []
    route._outlets = tuple((lambda m, n=n: sent.append((n, m))) for n in range(len(tests) + 1))
    messages = [{"op": v} for v in FOUND] + [_Dict(op="set"), {"other": "get"}, "get", None]
    for message in messages:
        sent.clear()
        route.receive(0, message)
        [(outlet, passed)] = sent
        assert passed is message
        expected = next((n for n, test in route._tests if test(message) is not _SKIP), len(tests))
        assert outlet == expected, message


def test_route_needs_at_least_one_test():
    found = problem("[route]")
    assert found.message == "[route]: needs at least one test, e.g. [route op=get] or [route bang]"


def test_route_rejects_a_test_without_a_value():
    found = problem("\n[route op=]")
    assert found.line == 2
    assert "'op=' has no value after '='; write field=value" in found.message


# -- select -----------------------------------------------------------------------------------

SELECT = """
s = [sel 1 stop]
s:0 -> [print one]
s:1 -> [print stop]
s:2 -> [print other]
"""


def test_select_sends_a_bang_out_of_the_outlet_of_the_equal_value():
    out = run(SELECT, ("s", 1), ("s", "stop"), ("s", 1.0))
    assert out.lines == [f"one: {BANG_LINE}", f"stop: {BANG_LINE}", f"one: {BANG_LINE}"]


def test_select_sends_anything_else_unchanged_out_of_the_last_outlet():
    out = run(SELECT, ("s", 2), ("s", True), ("s", "1"), ("s", {"type": "stop"}))
    assert out.lines == ["other: 2", "other: true", 'other: "1"', 'other: {"type": "stop"}']


def test_select_with_one_value_sets_it_through_inlet_1():
    text = "s = [sel 1]\ns:0 -> [print yes]\ns:1 -> [print no]"
    out = run(text, ("s", 2), ("s", 2, 1), ("s", 2), ("s", "go", 1), ("s", "go"))
    assert out.lines == ["no: 2", f"yes: {BANG_LINE}", f"yes: {BANG_LINE}"]


def test_select_inlet_1_rejects_what_is_not_a_number_or_string():
    out = run("s = [sel 1] -> [print]", ("s", True, 1), ("s", 1))
    assert out.errors == [
        "test.patch:1 [s: sel]: inlet 1 cannot take true; expected a number or string to select"
    ]
    assert out.lines == [f"print: {BANG_LINE}"]


def test_select_with_several_values_has_no_value_inlet():
    found = problem("[loadbang] -> 1:[sel 1 2]")
    assert "[sel 1 2] has 1 inlet (0); inlet 1 does not exist" in found.message


def test_select_quoted_word_matches_that_string():
    out = run(
        "s = [sel '2' \"a b\"]\ns:0 -> [print two]\ns:1 -> [print ab]",
        ("s", "2"),
        ("s", "a b"),
        ("s", 2),
    )
    assert out.lines == [f"two: {BANG_LINE}", f"ab: {BANG_LINE}"]


def test_select_needs_at_least_one_value():
    assert (
        problem("[sel]").message
        == "[sel]: needs at least one value, e.g. [sel 0] or [sel start stop]"
    )


# -- spigot -----------------------------------------------------------------------------------


def test_spigot_starts_closed_and_passes_inlet_0_when_opened():
    out = run("g = [spigot] -> [print]", ("g", 1), ("g", 1, 1), ("g", 2))
    assert out.lines == ["print: 2"]


def test_spigot_starts_open_with_argument_1():
    out = run("g = [spigot 1] -> [print]", ("g", {"type": "x"}))
    assert out.lines == ['print: {"type": "x"}']


@pytest.mark.parametrize(
    ("control", "is_open"),
    [
        (1, True),
        (-0.5, True),
        (True, True),
        ("yes", True),
        (0, False),
        (0.0, False),
        (False, False),
        ("", False),
        (None, False),
        ({"type": "open"}, False),
        ([1], False),
    ],
)
def test_spigot_inlet_1_opens_or_closes(control, is_open):
    for start in ("0", "1"):
        out = run(f"g = [spigot {start}] -> [print]", ("g", control, 1), ("g", "m"))
        assert out.lines == (['print: "m"'] if is_open else []), start


def test_spigot_bang_on_inlet_1_toggles():
    bang = ("g", BANG, 1)
    out = run("g = [spigot] -> [print]", bang, ("g", 1), bang, ("g", 2), bang, ("g", 3))
    assert out.lines == ["print: 1", "print: 3"]


def test_spigot_rejects_an_argument_other_than_0_or_1():
    found = problem("[spigot 2]")
    assert (found.line, found.column) == (1, 9)
    assert found.message == "[spigot 2]: expected 0 (closed) or 1 (open), got '2'; e.g. [spigot 1]"


def test_route_and_select_find_nan_as_a_storage_query_does():
    out = run(
        "r = [route n=NaN]\nr:0 -> [print nan]\nr:1 -> [print other]\n"
        "s = [sel NaN]\ns:0 -> [print sel]\n",
        ("r", {"n": math.nan}),
        ("r", {"n": 1}),
        ("s", math.nan),
    )
    assert out.lines == ['nan: {"n": NaN}', 'other: {"n": 1}', f"sel: {BANG_LINE}"]
