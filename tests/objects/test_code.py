"""Code objects: expr, map, filter and tap (Python expressions with $n) and [py] blocks."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator

import pytest
import trio

from patchflow import Patch, Runtime
from patchflow.testing import first_problem as problem
from patchflow.testing import run_text as run
from patchflow_objects.py import Py

BANG_LINE = '{"type": "bang"}'


@contextlib.contextmanager
def python_recursion_limit(limit: int) -> Iterator[None]:
    before = sys.getrecursionlimit()
    sys.setrecursionlimit(limit)
    try:
        yield
    finally:
        sys.setrecursionlimit(before)


# -- expr -------------------------------------------------------------------------------------


def test_expr_sends_the_value_of_a_python_expression():
    out = run("[loadbang] -> [msg 3] -> [expr $1 * 2 + 1] -> [print]")
    assert out.lines == ["print: 7"]


def test_expr_reads_dict_fields_as_attributes_nested_too():
    out = run(
        """
        [loadbang] -> [msg {value: 20, meta: {w: 3}}] -> [expr $1.value + $1.meta.w] -> [print]
        """
    )
    assert out.lines == ["print: 23"]


def test_expr_reads_a_missing_field_as_none():
    out = run(
        """
        [loadbang] -> [msg {meta: {}}] -> [expr [$1.value, $1.meta.w, $1.value or 0]] -> [print]
        """
    )
    assert out.lines == ["print: [null, null, 0]"]


def test_expr_field_of_a_missing_field_is_an_error_as_in_javascript():
    out = run("[loadbang] -> [msg {a: 1}] -> [expr $1.b.c] -> [print]")
    assert out.lines == []
    assert len(out.errors) == 1
    assert out.errors[0].startswith("test.patch:1 [expr-1]: AttributeError")


def test_expr_dict_without_the_key_keeps_its_methods_and_a_key_wins_over_a_method():
    out = run(
        """
        src = [msg {a: 1, items: 5}]
        [loadbang] -> src
        src -> [expr [$1.get("b", 7), sorted($1.keys()), $1.items]] -> [print]
        """
    )
    assert out.lines == ['print: [7, ["a", "items"], 5]']


def test_expr_attributes_of_other_values_are_python_attributes():
    out = run("[loadbang] -> [msg 'abc'] -> [expr $1.upper()] -> [print]")
    assert out.lines == ['print: "ABC"']


def test_expr_leaves_dollar_inside_string_literals_alone():
    out = run(
        """
        [loadbang] -> [msg 5] -> [expr "$1 is " + str($1) + ' and $2'] -> [print]
        [loadbang] -> [msg 6] -> [expr f"{$1 * 2}$1"] -> [print]
        """
    )
    assert out.lines == ['print: "$1 is 5 and $2"', 'print: "12$1"']


def test_expr_inlet_0_stores_and_evaluates_and_cold_inlets_only_store():
    out = run("e = [expr $1 - $2] -> [print]", ("e", 10, 1), ("e", 3), ("e", 1, 1), ("e", 4))
    assert out.lines == ["print: -7", "print: 3"]


def test_expr_input_not_received_yet_reads_as_zero():
    out = run("e = [expr [$1, $2]] -> [print]", ("e", 5))
    assert out.lines == ["print: [5, 0]"]


def test_expr_has_as_many_inlets_as_the_highest_dollar_used():
    Patch.from_string("e = [expr $3]\n[loadbang] -> 2:e", file="ok.patch")
    assert "inlet 3 does not exist" in problem("e = [expr $3]\n[loadbang] -> 3:e").message
    assert "inlet 1 does not exist" in problem("e = [expr 1 + 1]\n[loadbang] -> 1:e").message


def test_expr_result_none_sends_nothing_and_a_tuple_goes_as_a_list():
    out = run(
        """
        [loadbang] -> [msg 1] -> [expr None] -> [print none]
        [loadbang] -> [msg 2] -> [expr ($1, $1 + 1)] -> [print tuple]
        """
    )
    assert out.lines == ["tuple: [2, 3]"]


def test_expr_can_use_builtins_comprehensions_and_the_modules():
    # [expr] has two inlets here, so a list on inlet 0 is spread: [[3, 1, 2]] puts the list in $1
    out = run(
        """
        [loadbang] -> [msg [[3, 1, 2]]] -> [expr [max($1), [n * $2 for n in $1 if n > 1]]] -> p
        p = [print]
        [loadbang] -> [expr [math.floor(math.pi), json.dumps({"a": 1})]] -> [print]
        [loadbang] -> [expr [0 <= random.random() < 1, time.time() > 0]] -> [print]
        """
    )
    assert out.lines == ["print: [3, [0, 0]]", 'print: [3, "{\\"a\\": 1}"]', "print: [true, true]"]


def test_expr_runtime_error_is_reported_and_the_patch_keeps_running():
    out = run("[loadbang] -> [msg 1, 'a', 2] -> [expr $1 + 1] -> [print]")
    assert out.lines == ["print: 2", "print: 3"]
    assert len(out.errors) == 1
    assert out.errors[0].startswith("test.patch:1 [expr-1]: TypeError")


def test_expr_syntax_error_is_a_patch_error_with_its_position():
    found = problem("[loadbang] -> [expr $1 + * 2]")
    assert (found.file, found.line, found.column) == ("bad.patch", 1, 21)
    assert "Python syntax error: invalid syntax (at column 6 of the expression)" in found.message
    found = problem("[loadbang] -> [expr ($1 +]")
    assert "Python syntax error" in found.message


def test_expr_unknown_name_is_a_patch_error():
    found = problem("[loadbang] -> [expr $1 + nope]")
    assert "unknown name 'nope'" in found.message
    assert "column 6" in found.message


def test_expr_a_long_sum_and_a_deep_chain_of_signs_work_as_in_python():
    # each overflowed the recursive tree rewriting with a RecursionError traceback
    with python_recursion_limit(1000):
        out = run(
            f"""
        [loadbang] -> [msg 1] -> [expr {"+".join(["$1"] * 1000)}] -> [print]
        [loadbang] -> [expr {"- " * 500}1] -> [print]
        [loadbang] -> [expr ({"lambda: " * 500}7){"()" * 500}] -> [print]
        """
        )
    assert out.lines == ["print: 1000", "print: 1", "print: 7"]


def test_expr_field_reads_keep_working_when_nested():
    out = run(
        "[loadbang] -> [msg {a: {a: {a: {a: 4}}}}] -> [expr $1.a.a.a.a + math.pi // 1] -> [print]"
    )
    assert out.lines == ["print: 7.0"]


@pytest.mark.parametrize("first", ["1", "$1.a"])  # compiled from the text, or from the tree
def test_expr_error_found_only_by_the_compiler_has_the_same_position_either_way(first):
    found = problem(f"[loadbang] -> [expr ({first} +\n  [x async for x in $1])]")
    assert "asynchronous comprehension outside of an asynchronous function" in found.message
    assert "(at line 2 column 3 of the expression)" in found.message


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("(" * 1000 + "1" + ")" * 1000, "too many nested parentheses (at column 201 of the"),
        ("-" * 100_000 + "1", "expression too deeply nested or too long"),
        ("+".join(["$1.a"] * 1000), "expression too deeply nested or too long"),
    ],
)
def test_expr_too_deep_for_python_is_a_patch_error_saying_to_split_it(text, words):
    # as in `patchflow check`: a run raises the limit (runtime.py), which lets deeper trees compile
    with python_recursion_limit(1000):
        found = problem(f"[loadbang] -> [expr {text}] -> [print]")
    assert (found.line, found.column) == (1, 21)
    assert words in found.message
    assert found.message.endswith(
        "split it into several boxes, e.g. [expr $1 * 2] -> [expr $1 + 1]"
    )
    assert len(found.message) < 300  # the box text is cut, not echoed whole


@pytest.mark.parametrize("text", ["$0", "$10", "$", "$1x"])
def test_expr_placeholder_other_than_dollar_1_to_9_is_a_patch_error(text):
    found = problem(f"[loadbang] -> [expr {text} + 1]")
    assert "$" in found.message and "column" in found.message


def test_expr_without_an_expression_or_with_await_is_a_patch_error():
    assert "needs a Python expression" in problem("[loadbang] -> [expr]").message
    assert "'await' cannot be used" in problem("[loadbang] -> [expr await $1]").message


# -- map, filter, tap -------------------------------------------------------------------------


def test_map_sends_the_value_of_its_expression():
    out = run("[loadbang] -> [msg [1, 2]] -> [map [n * 10 for n in $1]] -> [print]")
    assert out.lines == ["print: [10, 20]"]


def test_map_without_an_expression_passes_messages_through():
    out = run("[loadbang] -> [msg {a: 1}, 2] -> [map] -> [print]")
    assert out.lines == ['print: {"a": 1}', "print: 2"]


def test_map_result_none_sends_nothing():
    out = run("[loadbang] -> [msg {a: 1}, {b: 2}] -> [map $1.a] -> [print]")
    assert out.lines == ["print: 1"]


def test_filter_sends_the_message_itself_on_outlet_0_when_true_else_on_outlet_1():
    out = run(
        """
        f = [filter $1.score > $2]
        [loadbang] -> [msg {score: 7}, {score: -1}] -> f -> [print pass]
        f:1 -> [print fail]
        """,
        ("f", 6, 1),
        ("f", {"score": 3}),
        ("f", {"score": 7}),
    )
    assert out.lines == [
        'pass: {"score": 7}',
        'fail: {"score": -1}',
        'fail: {"score": 3}',
        'pass: {"score": 7}',
    ]


def test_filter_field_comparisons_with_none_are_reported():
    out = run("[loadbang] -> [msg {}] -> [filter $1.score > 5] -> [print]")
    assert out.lines == []
    assert "TypeError" in out.errors[0]


def test_filter_tests_python_truth():
    out = run(
        """
        f = [filter $1]
        [loadbang] -> [msg 0, 1, '', 'x', [], [0], null] -> f -> [print yes]
        f:1 -> [print no]
        """
    )
    assert out.lines == [
        "no: 0",
        "yes: 1",
        'no: ""',
        'yes: "x"',
        "no: []",
        "yes: [0]",
        "no: null",
    ]


def test_tap_evaluates_for_its_side_effect_then_sends_the_input_on():
    out = run('[loadbang] -> [msg {n: 2}] -> [tap print("saw", $1.n * 2)] -> [print]')
    assert out.lines == ["saw 4", 'print: {"n": 2}']


def test_tap_cold_inlet_stores_only():
    out = run("t = [tap print($1, $2)] -> [print]", ("t", "x", 1), ("t", 1))
    assert out.lines == ["1 x", "print: 1"]


# -- py ---------------------------------------------------------------------------------------


def test_py_runs_its_body_for_each_message_and_keeps_state():
    out = run(
        """
        total = [py]
            state["n"] = state.get("n", 0) + x
            await send(state["n"])
        [loadbang] -> [msg 1, 2, 3] -> total -> [print]
        """
    )
    assert out.lines == ["print: 1", "print: 3", "print: 6"]


def test_py_one_line_form_uses_the_argument_text_as_code():
    out = run("[loadbang] -> [msg 4] -> [py await send(x ** 2)] -> [print]")
    assert out.lines == ["print: 16"]


def test_py_ports_are_set_by_inlets_and_outlets_and_inlet_says_where_x_came_from():
    out = run(
        """
        p = [py inlets=2 outlets=3]
            await send([x, inlet], inlet + 1)
        p:0 -> [print zero]
        p:1 -> [print one]
        p:2 -> [print two]
        """,
        ("p", "a"),
        ("p", "b", 1),
    )
    assert out.lines == ['one: ["a", 0]', 'two: ["b", 1]']


def test_py_send_without_outlet_goes_to_every_outlet_right_to_left():
    out = run(
        """
        p = [py outlets=3]
            await send(x)
        [loadbang] -> [msg 7] -> p
        p:0 -> [print zero]
        p:1 -> [print one]
        p:2 -> [print two]
        """
    )
    assert out.lines == ["two: 7", "one: 7", "zero: 7"]


def test_py_send_is_depth_first_and_unawaited_sends_go_out_in_call_order():
    out = run(
        """
        p = [py]
            send("first")
            print("after send, before await")
            await send("second")
            send("third")
            print("end of code")
        [loadbang] -> p -> [print]
        """
    )
    assert out.lines == [
        "after send, before await",
        'print: "first"',
        'print: "second"',
        "end of code",
        'print: "third"',
    ]


def test_py_return_ends_the_call():
    out = run(
        """
        p = [py]
            if x > 1:
                return
            await send(x)
        [loadbang] -> [msg 1, 2, 0] -> p -> [print]
        """
    )
    assert out.lines == ["print: 1", "print: 0"]


def test_py_exception_is_reported_at_its_body_line_and_the_patch_keeps_running():
    out = run(
        """
        # a comment line
        p = [py]
            y = 10

            await send(y / x)
        [loadbang] -> [msg 2, 0, 5] -> p -> [print]
        """
    )
    assert out.lines == ["print: 5.0", "print: 2.0"]
    assert out.errors == ["test.patch:6 [p: py]: ZeroDivisionError: division by zero"]


def test_py_exception_in_a_function_defined_in_the_body_names_the_deepest_body_line():
    out = run(
        """
        p = [py]
            def fail(v):
                raise ValueError(f"bad {v}")
            fail(x)
        [loadbang] -> [msg 1] -> p
        [loadbang] -> [msg 2] -> [py 1 / 0]
        """
    )
    assert out.errors == [
        "test.patch:4 [p: py]: ValueError: bad 1",
        "test.patch:7 [py-1]: ZeroDivisionError: division by zero",
    ]


def test_py_sends_made_before_an_exception_still_go_out():
    out = run(
        """
        p = [py]
            send("before")
            raise RuntimeError("boom")
        [loadbang] -> p -> [print]
        """
    )
    assert out.lines == ['print: "before"']
    assert out.errors == ["test.patch:4 [p: py]: RuntimeError: boom"]


def test_py_send_to_a_missing_outlet_is_an_error_at_that_line():
    out = run(
        """
        p = [py outlets=2]
            await send(x, 2)
        [loadbang] -> p
        """
    )
    assert len(out.errors) == 1
    assert out.errors[0].startswith("test.patch:3 [p: py]: ValueError: send: no outlet 2")
    assert "0–1" in out.errors[0]


def test_py_awaiting_does_not_let_another_cascade_interleave():
    out = run(
        """
        slow = [py]
            await send(f"{x} start")
            await trio.sleep(1)
            await send(f"{x} end")
        [loadbang] -> [msg 'a'] -> slow -> [print]
        [loadbang] -> [msg 'b'] -> slow
        [loadbang] -> [delay 500] -> [msg 'c'] -> slow
        """
    )
    assert out.lines == [
        'print: "a start"',
        'print: "a end"',
        'print: "b start"',
        'print: "b end"',
        'print: "c start"',
        'print: "c end"',
    ]


def test_py_print_and_the_modules_are_there_without_importing():
    out = run("[loadbang] -> [py print(math.sqrt(16), json.dumps([x]), sep=' | ')]")
    assert out.lines == ['4.0 | [{"type": "bang"}]']


def test_py_syntax_error_is_a_patch_error_naming_the_body_line():
    found = problem(
        """
        p = [py]
            a = 1
            b = (2 +
        [loadbang] -> p
        """
    )
    assert "Python syntax error in line 2 of the body, column 5: '(' was never closed" in (
        found.message
    )
    found = problem("[loadbang] -> [py x +]")
    assert "Python syntax error in the code" in found.message


@pytest.mark.parametrize(
    ("code", "words"),
    [
        (
            "".join("    " * i + "if x:\n" for i in range(200)) + "    " * 200 + "pass",
            "in line 101 of the body, column 1: too many levels of indentation; split it",
        ),
        (
            "".join("    " * i + "for a in x:\n" for i in range(25)) + "    " * 25 + "pass",
            "in line 21 of the body, column 81: too many statically nested blocks; split it",
        ),
        ("await send(" + "(" * 1000 + "1" + ")" * 1000 + ")", "too many nested parentheses; split"),
        ("await send(" + "+".join(["1"] * 1000) + ")", "code too deeply nested or too long"),
        ("y = " + "-" * 100_000 + "1", "code too deeply nested or too long"),
    ],
)
def test_py_code_too_deep_for_python_is_a_patch_error_saying_to_split_it(code, words):
    body = "".join(f"    {line}\n" for line in code.splitlines())
    with python_recursion_limit(1000):
        found = problem(f"p = [py]\n{body}[loadbang] -> p\n")
    assert (found.line, found.column) == (1, 8)
    assert words in found.message
    assert "split it into smaller statements or functions" in found.message


def test_py_yield_is_a_patch_error():
    assert "'yield' cannot be used" in problem("p = [py]\n    yield x\n").message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[py]", "needs code"),
        ("[py inlets=2]", "sets the ports of a box with a body"),
        (
            "p = [py size=2]\n    pass\n",
            "may only set the ports (inlets=N outlets=N); got 'size=2'",
        ),
        ("p = [py inlets=2 inlets=3]\n    pass\n", "got 'inlets=3'"),
        ("p = [py inlets=0]\n    pass\n", "inlets must be at least 1"),
    ],
)
def test_py_bad_arguments_are_patch_errors(text, expected):
    assert expected in problem(text).message


def test_py_that_does_not_use_kv_or_db_opens_no_storage():
    opened: list[bool] = []

    def open_storage():
        opened.append(True)
        raise AssertionError("storage opened")

    patch = Patch.from_string("[loadbang] -> [py await send(repr(kv)[:4])] -> [print]", "t.patch")
    graph = patch.build()
    lines: list[str] = []
    trio.run(Runtime(graph, storage_opener=open_storage, output=lines.append).run)
    assert lines == ['print: "<kv "']
    assert opened == []


def test_py_kv_is_the_box_local_store_and_kv_store_name_a_shared_one():
    out = run(
        """
        a = [py]
            await kv.set("n", x)
            await kv.store("shared").set("n", x * 10)
            await send(await kv.get("n"))
        b = [py]
            await send([await kv.get("n"), await kv.store("shared").get("n")])
        [loadbang] -> [msg 4] -> a -> [print a]
        [loadbang] -> b -> [print b]
        """
    )
    assert out.lines == ["a: 4", "b: [null, 40]"]


def test_an_expression_with_several_inlets_spreads_a_list_and_one_with_one_inlet_does_not():
    out = run(
        """
        [loadbang] -> [msg 3 4] -> [expr $1 * 10 + $2] -> [print two]
        [loadbang] -> [msg 3 4] -> [expr sum($1)] -> [print one]
        [loadbang] -> [msg 1 2] -> [filter $1 < $2] -> [print passed]
        """
    )
    assert out.lines == ["two: 34", "one: 7", "passed: 1"]


# -- [py] code that cannot suspend runs inline (no cascade worker) ----------------------------


@pytest.mark.parametrize(
    ("code", "suspends"),
    [
        ("state['n'] = state.get('n', 0) + x", False),
        ("await send(x)", False),
        ("await kv.set('a', x)\nawait send(await kv.get('a'))", False),
        ("await db.store('n').insert('c', {'v': x})", False),
        ("print([await kv.get(k) for k in 'ab'])", False),
        ("async def later():\n    await trio.sleep(1)\nawait send(x)", True),
        ("await trio.sleep(0)", True),
        ("await later()", True),
        ("async with trio.open_nursery() as nursery:\n    pass", True),
        ("async for item in x:\n    pass", True),
        ("kv = trio\nawait kv.sleep(0)", True),
        ("from trio import sleep as send\nawait send(1)", True),
        ("def f(db):\n    return db\nawait send(x)", True),
        ("sending = send(x)\nawait sending", True),
    ],
)
def test_py_may_suspend_only_if_its_code_awaits_what_may_suspend(code, suspends):
    assert Py.from_text("", code).may_suspend is suspends


def test_py_awaiting_only_sends_and_stores_works_in_a_patch_without_a_worker():
    out = run(
        """
        p = [py]
            await kv.set("n", (await kv.get("n") or 0) + x)
            await send(await kv.get("n"))
        [loadbang] -> [msg 2, 3] -> p -> [print]
        """
    )
    assert out.errors == []
    assert out.lines == ["print: 2", "print: 5"]


def test_py_code_without_await_keeps_its_sends_in_call_order_and_its_errors():
    out = run(
        """
        p = [py]
            send("first")
            send(x * 2)
            if x > 1:
                raise ValueError("too big")
        [loadbang] -> [msg 1, 2] -> p -> [print]
        """
    )
    assert out.lines == ['print: "first"', "print: 2", 'print: "first"', "print: 4"]
    [error] = out.errors
    assert error.startswith("test.patch:6 [p: py]: ValueError: too big")  # the raise
