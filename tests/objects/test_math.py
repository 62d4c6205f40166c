"""Values and arithmetic: float, int, the arithmetic operators and the comparisons."""

from __future__ import annotations

import math

import pytest

from patchflow import BANG, default_registry
from patchflow.testing import first_problem as problem
from patchflow.testing import run_text as run

ARITHMETIC = ["+", "-", "*", "/", "%", "min", "max"]
COMPARISONS = ["==", "!=", "<", "<=", ">", ">="]


def compute(symbol: str, left, operand, *, argument: str | None = None) -> list:
    """What `[symbol operand]` sends for `left`; the operand is set through inlet 1."""
    arg = "" if argument is None else f" {argument}"
    out = run(
        f"op = [{symbol}{arg}] -> p\np = [print]", ("op", operand, 1), ("op", left), collect=["p"]
    )
    assert out.errors == []
    return out.seen["p"]


# -- float and int ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["float", "f"])
def test_float_bang_sends_the_stored_number(name):
    out = run(f"[loadbang] -> [{name} 2.5] -> [print]\n[loadbang] -> [{name}] -> [print]")
    assert out.lines == ["print: 2.5", "print: 0"]


def test_float_number_on_inlet_0_is_stored_and_sent():
    out = run("v = [f] -> [print]", ("v", 7), ("v", BANG), ("v", -1.5), ("v", BANG))
    assert out.lines == ["print: 7", "print: 7", "print: -1.5", "print: -1.5"]


def test_float_inlet_1_stores_without_sending():
    out = run("v = [f 1] -> [print]", ("v", 4, 1), ("v", BANG))
    assert out.lines == ["print: 4"]


def test_float_rejects_what_is_not_a_number_on_each_inlet():
    out = run(
        "v = [f 1] -> [print]",
        ("v", "3"),
        ("v", True),
        ("v", BANG, 1),
        ("v", False, 1),
        ("v", BANG),
    )
    assert out.errors == [
        'test.patch:1 [v: f]: inlet 0 cannot take "3"; expected a number or bang',
        "test.patch:1 [v: f]: inlet 0 cannot take true; expected a number or bang",
        'test.patch:1 [v: f]: inlet 1 cannot take {"type": "bang"}; expected a number',
        "test.patch:1 [v: f]: inlet 1 cannot take false; expected a number",
    ]
    assert out.lines == ["print: 1"]


@pytest.mark.parametrize("name", ["int", "i"])
def test_int_truncates_toward_zero(name):
    text = f"v = [{name} 2.9] -> p\np = [print]"
    out = run(
        text, ("v", BANG), ("v", 3.7), ("v", -3.7), ("v", -0.5, 1), ("v", BANG), collect=["p"]
    )
    assert out.seen["p"] == [2, 3, -3, 0]
    assert all(type(value) is int for value in out.seen["p"])


def test_int_rejects_an_infinite_number():
    out = run("v = [i] -> [print]", ("v", math.inf), ("v", math.nan, 1), ("v", BANG))
    assert out.errors == [
        "test.patch:1 [v: i]: inlet 0 cannot take Infinity; expected a finite number or bang",
        "test.patch:1 [v: i]: inlet 1 cannot take NaN; expected a finite number",
    ]
    assert out.lines == ["print: 0"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[f x]", "[f x]: expected one number, got 'x'; e.g. [f 1]"),
        ("[float 1 2]", "[float 1 2]: expected one number, got '1 2'; e.g. [f 1]"),
        ("[i true]", "[i true]: expected one number, got 'true'; e.g. [i 1]"),
        ("[int Infinity]", "[int Infinity]: expected a finite number, got 'Infinity'; e.g. [i 1]"),
    ],
)
def test_float_and_int_reject_an_initial_value_that_is_not_a_number(text, message):
    found = problem(f"\n{text}")
    assert (found.line, found.message) == (2, message)


# -- arithmetic -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("symbol", "left", "operand", "result"),
    [
        ("+", 3, 4, 7),
        ("+", 3, 0.5, 3.5),
        ("-", 3, 4, -1),
        ("*", 3, 4, 12),
        ("*", 1.5, 2, 3.0),
        ("/", 7, 2, 3.5),
        ("/", 6, 3, 2),
        ("/", 6.0, 3, 2.0),
        ("/", 1, 0, 0),
        ("/", 1.5, 0.0, 0),
        ("%", 7, 3, 1),
        ("%", -7, 3, 2),
        ("%", 7, -3, -2),
        ("%", 7.5, 2, 1.5),
        ("%", 7, 0, 0),
        ("min", 3, 4, 3),
        ("min", 3, -4.5, -4.5),
        ("max", 3, 4, 4),
    ],
)
def test_arithmetic_computes_left_op_operand(symbol, left, operand, result):
    (sent,) = compute(symbol, left, operand)
    assert sent == result and type(sent) is type(result)


@pytest.mark.parametrize("symbol", ARITHMETIC)
def test_arithmetic_keeps_integers_integer(symbol):
    (sent,) = compute(symbol, 9, 3)  # `/` only when they divide evenly: 7 / 2 is 3.5
    assert type(sent) is int


@pytest.mark.parametrize("symbol", ["+", "-", "*", "/", "min", "max", "=="])
def test_operator_argument_is_the_operand_and_defaults_to_0(symbol):
    with_argument = run(f"[loadbang] -> [msg 6] -> [{symbol} 2] -> [print]").lines
    default = run(f"[loadbang] -> [msg 6] -> [{symbol}] -> [print]").lines
    (expected_with,) = compute(symbol, 6, 2)
    (expected_default,) = compute(symbol, 6, 0)
    assert with_argument == [f"print: {str(expected_with).lower()}"]
    assert default == [f"print: {str(expected_default).lower()}"]


def test_arithmetic_bang_computes_again_from_the_stored_left_value_and_current_operand():
    text = "add = [+ 1] -> [print]"
    out = run(text, ("add", BANG), ("add", 3), ("add", BANG), ("add", 10, 1), ("add", BANG))
    assert out.lines == ["print: 1", "print: 4", "print: 4", "print: 13"]


def test_arithmetic_inlet_1_stores_without_sending():
    out = run("add = [+ 1] -> [print]", ("add", 5, 1), ("add", 2.5, 1))
    assert out.lines == []


@pytest.mark.parametrize("symbol", ARITHMETIC + COMPARISONS)
def test_operator_rejects_what_is_not_a_number_and_keeps_running(symbol):
    out = run(
        f"op = [{symbol} 1] -> [print]",
        ("op", "2"),
        ("op", True),
        ("op", [[2]]),  # a list is spread: its element [2] reaches inlet 0
        ("op", BANG, 1),
        ("op", "2", 1),
        ("op", False, 1),
        ("op", 2),
    )
    label = f"test.patch:1 [op: {symbol}]"
    assert out.errors == [
        f'{label}: inlet 0 cannot take "2"; expected a number or bang',
        f"{label}: inlet 0 cannot take true; expected a number or bang",
        f"{label}: inlet 0 cannot take [2]; expected a number or bang",
        f'{label}: inlet 1 cannot take {{"type": "bang"}}; expected a number',
        f'{label}: inlet 1 cannot take "2"; expected a number',
        f"{label}: inlet 1 cannot take false; expected a number",
    ]
    assert len(out.lines) == 1


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[+ x]", "[+ x]: expected one number, got 'x'; e.g. [+ 1]"),
        ("[min 1 2]", "[min 1 2]: expected one number, got '1 2'; e.g. [min 1]"),
        ("[== 'a']", "[== 'a']: expected one number, got \"'a'\"; e.g. [== 1]"),
        ("[< false]", "[< false]: expected one number, got 'false'; e.g. [< 1]"),
    ],
)
def test_operator_rejects_an_operand_that_is_not_a_number(text, message):
    found = problem(f"[loadbang] -> {text}")
    assert (found.line, found.column, found.message) == (1, 14 + len(text.split()[0]) + 2, message)


# -- comparisons ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("symbol", "left", "operand", "result"),
    [
        ("==", 1, 1.0, True),
        ("==", 1, 2, False),
        ("!=", 1, 2, True),
        ("!=", 2, 2, False),
        ("<", 1, 2, True),
        ("<", 2, 2, False),
        ("<=", 2, 2, True),
        ("<=", 3, 2, False),
        (">", 3, 2.5, True),
        (">", 2, 2, False),
        (">=", 2, 2, True),
        (">=", -1, 2, False),
    ],
)
def test_comparison_sends_true_or_false(symbol, left, operand, result):
    assert compute(symbol, left, operand) == [result]
    assert type(compute(symbol, left, operand)[0]) is bool


def test_comparison_bang_compares_again_with_the_current_operand():
    out = run("lt = [< 5] -> [print]", ("lt", 3), ("lt", 2, 1), ("lt", BANG))
    assert out.lines == ["print: true", "print: false"]


def test_comparison_prints_as_json_booleans():
    out = run("[loadbang] -> [msg 3] -> [>= 3] -> [print]")
    assert out.lines == ["print: true"]


# -- the families ---------------------------------------------------------------------------


@pytest.mark.parametrize("symbol", ARITHMETIC + COMPARISONS)
def test_every_operator_documents_its_own_symbol(symbol):
    help_text = default_registry().get(symbol).help_text()
    assert f"[{symbol} 2]" in help_text
    assert f"`left {symbol} operand`" in help_text


# -- a list on the hot inlet (Pd's list rule) -----------------------------------------------------


@pytest.mark.parametrize(
    ("symbol", "sent"), [("+", 7), ("-", -1), ("*", 12), ("/", 0.75), ("max", 4), ("<", True)]
)
def test_operator_takes_a_list_as_left_value_and_operand(symbol, sent):
    out = run(f"[loadbang] -> [msg 3 4] -> op\nop = [{symbol}] -> p\np = [print]", collect=["p"])
    assert out.seen["p"] == [sent]


def test_operator_list_of_one_keeps_the_operand_and_extra_elements_are_dropped():
    out = run("op = [+ 10] -> p\np = [print]", ("op", [1]), ("op", [1, 2, 3]), collect=["p"])
    assert out.seen["p"] == [11, 3]
    out = run("op = [+ 10] -> p\np = [print]", ("op", []), collect=["p"])  # a bang
    assert out.seen["p"] == [10]


@pytest.mark.parametrize("name", ["f", "i"])
def test_float_and_int_store_the_second_element_then_send_the_first(name):
    out = run(f"x = [{name}] -> p\np = [print]", ("x", [3, 4]), ("x", BANG), collect=["p"])
    assert out.seen["p"] == [3, 3]
