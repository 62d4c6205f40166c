"""[js] boxes and arrow-function message boxes: JavaScript run by an embedded engine."""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from patchflow import Patch
from patchflow.cli import main as patchflow_main
from patchflow.testing import exactly_equal, message_values
from patchflow.testing import first_problem as problem
from patchflow.testing import run_text as run

# -- one line -------------------------------------------------------------------------------


def test_one_line_js_evaluates_its_expression_for_each_message():
    out = run(
        """
        [loadbang] -> [msg {found: true, value: 41}, {found: false}] -> j
        j = [js: x.found ? x.value + 1 : 0]
        j -> [print]
        """
    )
    assert out.lines == ["print: 42", "print: 0"]


def test_one_line_js_binds_inlet_to_the_message_as_the_spec_examples_use_it():
    out = run("[loadbang] -> [msg hi] -> [js: ({text: inlet.type})] -> [print]")
    assert out.lines == ['print: {"text": "hi"}']


def test_one_line_js_sends_nothing_for_undefined_or_null():
    out = run(
        "[loadbang] -> [msg 1, 2, 3, 4] -> [js x % 2 ? x : (x === 2 ? null : undefined)] -> [print]"
    )
    assert out.lines == ["print: 1", "print: 3"]


def test_dollar_inputs_make_cold_inlets_as_in_expr():
    out = run(
        """
        j = [js: $1 * 10 + $2]
        [loadbang] -> [msg 1] -> j -> [print]
        [loadbang] -> [msg 5] -> 1:j
        [loadbang] -> [msg 2] -> j
        """
    )
    assert out.lines == ["print: 10", "print: 25"]  # $2 reads 0 until it is received


def test_a_dollar_in_a_string_or_comment_makes_no_inlet():
    found = problem("[loadbang] -> [js: '$2' + x /* $3 */] -> 1:[print]")
    assert "has no inlet" in found.message or "inlet 1 does not exist" in found.message


def test_one_line_js_awaits_a_promise_it_returns():
    out = run(
        """
        [loadbang] -> [msg 7] -> [js: kv.set("k", x).then(() => kv.get("k"))] -> [print]
        """
    )
    assert out.lines == ["print: 7"]


# -- bodies ---------------------------------------------------------------------------------


def test_a_body_sends_on_outlets_and_keeps_state():
    out = run(
        """
        total = [js outlets=2]
            state.sum = (state.sum ?? 0) + x;
            send(state.sum, 0);
            if (state.sum > 5) send("big", 1);
        [loadbang] -> [msg 3, 4] -> total
        total:0 -> [print sum]
        total:1 -> [print note]
        """
    )
    assert out.lines == ["sum: 3", "sum: 7", 'note: "big"']


def test_send_without_an_outlet_sends_on_every_outlet_right_to_left():
    out = run(
        """
        j = [js outlets=2]
            send(x);
        [loadbang] -> [msg 1] -> j
        j:0 -> [print left]
        j:1 -> [print right]
        """
    )
    assert out.lines == ["right: 1", "left: 1"]


def test_a_body_knows_its_inlet_number():
    out = run(
        """
        j = [js inlets=2]
            send([inlet, x]);
        [loadbang] -> [msg a] -> 1:j
        [loadbang] -> [msg 5] -> j
        j -> [print]
        """
    )
    assert out.lines == ['print: [1, {"type": "a"}]', "print: [0, 5]"]


def test_sends_go_out_in_order_around_awaited_storage_depth_first():
    out = run(
        """
        j = [js]
            send("before");
            await kv.set("k", 1);
            send("after");
        [loadbang] -> j -> [print]
        [loadbang] -> [msg last] -> [print]
        """
    )
    assert out.lines == ['print: "before"', 'print: "after"', 'print: {"type": "last"}']


def test_console_log_writes_to_the_patch_output_like_print():
    out = run(
        """
        j = [js]
            console.log("got", x, {a: [1, null]}, undefined, new Uint8Array(2));
        [loadbang] -> [msg 5] -> j
        """
    )
    assert out.lines == ['got 5 {"a": [1, null]} undefined "<2 bytes>"']


def test_kv_and_db_are_the_boxes_local_stores_and_named_stores_are_shared():
    out = run(
        """
        j = [js]
            await kv.set("count", 1);
            await kv.store("shared").set("count", 2);
            const id = await db.insert("notes", {text: "hi"});
            const doc = await db.findOne("notes", id);
            send([await kv.get("count"), doc.text, await db.count("notes"), await kv.has("nope")]);
            send((await db.find("notes", {text: "hi"}, {limit: 1})).map((d) => d.text));
        [loadbang] -> j -> [print]
        [loadbang] -> [msg get count] -> [kv shared] -> [print shared]
        """
    )
    assert out.lines == [
        'print: [1, "hi", 1, false]',
        'print: ["hi"]',
        'shared: {"op": "get", "key": "count", "value": 2, "found": true}',
    ]


def test_a_refused_storage_call_is_a_rejected_promise_the_code_can_catch():
    out = run(
        """
        j = [js]
            try { await kv.set(5, 1); } catch (e) { send(e.message.startsWith("kv: 'set'")); }
        [loadbang] -> j -> [print]
        """
    )
    assert out.lines == ["print: true"]


# -- values ---------------------------------------------------------------------------------


def js_normal(value):
    """What a value is after a trip through JavaScript: integral numbers are ints, and
    objects list their integer-like keys first, in numeric order (as every JS engine does)."""
    if type(value) is float and math.isfinite(value) and value.is_integer():
        return value if math.copysign(1, value) < 0 and value == 0 else int(value)
    if isinstance(value, list):
        return [js_normal(item) for item in value]
    if isinstance(value, dict):

        def index(key):
            return key.isascii() and key.isdigit() and str(int(key)) == key and int(key) < 2**32 - 1

        keys = sorted((k for k in value if index(k)), key=int) + [k for k in value if not index(k)]
        return {key: js_normal(value[key]) for key in keys}
    return value


@pytest.fixture(scope="module")
def echo():
    from patchflow_objects._js_engine import Program

    program = Program('(function (x, inlet) { "use strict"; return (', "x", "); })")
    program.start(1)

    def trip(value):
        return program.run(
            [value, value],
            timeout=5,
            sends_result=True,
            deliver=None,
            log=None,
            storage=None,
        )

    return trip


@settings(max_examples=300, deadline=None)
@given(message_values(extra_keys=st.sampled_from(["\x00pf", "__proto__", "7", "4294967295"])))
def test_message_values_cross_to_javascript_and_back_exactly(echo, value):
    back = echo(value)
    assert exactly_equal(back, js_normal(value)), (value, back)


def test_values_arrive_in_javascript_as_their_javascript_kinds():
    out = run(
        """
        j = [js]
            send([x.b instanceof Uint8Array, x.b[1], typeof x.big, x.big + 1n, x.n + 1, x.f]);
        [loadbang] -> j -> [print]
        """,
        inject=[("j", {"b": b"\x01\x02", "big": 2**70, "n": 41, "f": 1.5})],
    )
    assert out.lines[-1] == f'print: [true, 2, "bigint", {2**70 + 1}, 42, 1.5]'


def test_integral_numbers_come_back_as_ints_and_buffers_as_bytes():
    out = run(
        """
        j = [js]
            send([6 / 3, 2 ** 60, new Uint8Array([7]).buffer, -0, 0.5]);
        [loadbang] -> j -> [print]
        """,
        collect=["print-1"],
    )
    [value] = out.seen["print-1"]
    assert exactly_equal(value, [2, 2**60, b"\x07", -0.0, 0.5])


# -- errors ---------------------------------------------------------------------------------


def test_a_thrown_error_is_a_box_error_at_its_body_line_and_the_patch_goes_on():
    out = run(
        """
        j = [js]
            const a = 1;
            if (x === 1) throw new TypeError("one is bad");
            send(x);
        [loadbang] -> [msg 1, 2] -> j -> [print]
        """
    )
    assert out.errors == ["test.patch:4 [j: js]: TypeError: one is bad"]
    assert out.lines == ["print: 2"]


def test_a_syntax_error_in_a_body_is_a_patch_error_at_its_line():
    found = problem(
        """
        j = [js]
            const a = 1;
            const b = ;
        [loadbang] -> j
        """
    )
    assert (found.line, found.column) == (4, 1)
    assert "JavaScript SyntaxError" in found.message
    assert "line 2, column 11 of the code" in found.message


def test_a_syntax_error_in_one_line_points_at_its_column():
    found = problem("[loadbang] -> [js: x.a + + ] -> [print]")
    assert found.line == 1
    assert found.column == len("[loadbang] -> [js: x.a + +") + 1  # just after the code
    found = problem("[loadbang] -> [js: 1 2] -> [print]")
    assert found.column == len("[loadbang] -> [js: 1 ") + 1


def test_a_message_longer_than_the_time_limit_is_a_box_error_and_the_box_goes_on():
    out = run(
        """
        j = [js timeout=50]
            if (x === 1) { while (true) {} }
            send(x);
        [loadbang] -> [msg 1, 2] -> j -> [print]
        """
    )
    assert len(out.errors) == 1 and "longer than its time limit of 50 ms" in out.errors[0]
    assert out.lines == ["print: 2"]


def test_awaiting_a_promise_that_never_settles_is_a_box_error():
    out = run("j = [js]\n    await new Promise(() => {});\n[loadbang] -> j")
    assert "a promise that nothing will settle" in out.errors[0]


def test_sending_on_a_missing_outlet_is_an_error_at_the_line():
    out = run("j = [js]\n    send(1, 3);\n[loadbang] -> j -> [print]")
    assert out.errors == [
        "test.patch:2 [j: js]: RangeError: send: no outlet 3; this box has one outlet, 0"
    ]


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("[js]", "needs code"),
        ("[js inlets=2]", "sets options of a box with a body"),
        ("j = [js foo]\n    send(1);", "may only be inlets=N outlets=N timeout=MS"),
        ("j = [js timeout=0]\n    send(1);", "at least 1"),
    ],
)
def test_bad_arguments_say_what_is_expected(text, words):
    assert words in problem(text).message


def test_check_compiles_but_never_runs_code_even_code_that_closes_its_wrapper(tmp_path):
    path = tmp_path / "escape.patch"
    path.write_text('j = [js]\n    }); throw new Error("RAN"); (function () {\n', encoding="utf-8")
    result = CliRunner().invoke(patchflow_main, ["check", str(path)])
    assert result.exit_code == 0, result.output
    assert "RAN" not in result.output


# -- arrow-function message boxes -----------------------------------------------------------


def test_a_message_box_holding_an_arrow_function_applies_it():
    out = run(
        """
        [loadbang] -> [msg 3] -> [msg: x => ({set: ["count", x]})] -> [print]
        [loadbang] -> [msg 4] -> [msg (a) => a * 2] -> [print]
        [loadbang] -> [msg 5] -> [m async x => (await kv.set("k", x), await kv.get("k"))] -> [print]
        """
    )
    assert out.lines == ['print: {"set": ["count", 3]}', "print: 8", "print: 5"]


def test_other_message_boxes_are_unchanged():
    out = run("[loadbang] -> [msg get count, {a: 1}] -> [print]")
    assert out.lines == ['print: {"type": "get", "key": "count"}', 'print: {"a": 1}']


def test_an_arrow_message_box_with_a_syntax_error_is_a_patch_error():
    found = problem("[loadbang] -> [msg: x => x +] -> [print]")
    assert "JavaScript SyntaxError" in found.message


# -- help, import cost and Ctrl-C -----------------------------------------------------------


def test_help_names_the_sections_and_warns_that_patches_run_code():
    result = CliRunner().invoke(patchflow_main, ["help", "js"])
    assert result.exit_code == 0
    for section in ("Arguments:", "Inlets:", "Outlets:", "Example:", "Security:"):
        assert section in result.output


@pytest.mark.slow
def test_a_patch_without_javascript_never_imports_the_engine(tmp_path):
    plain = tmp_path / "plain.patch"
    plain.write_text("[loadbang] -> [msg 1, {a: 1}] -> [print]\n", encoding="utf-8")
    with_js = tmp_path / "with-js.patch"
    with_js.write_text("[loadbang] -> [msg 1] -> [js: x + 1] -> [print]\n", encoding="utf-8")

    def imported(path):
        command = [sys.executable, "-X", "importtime", "-m", "patchflow", "run", str(path)]
        done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=True)
        return {line.split("|")[-1].strip() for line in done.stderr.splitlines()}

    assert "quickjs" not in imported(plain) and "_quickjs" not in imported(plain)
    assert "quickjs" in imported(with_js)  # the check itself works


@pytest.mark.slow
def test_ctrl_c_stops_a_looping_js_box_with_exit_130(tmp_path):
    path = tmp_path / "loop.patch"
    text = """\
        spin = [js timeout=600000]
            while (true) {}
        [loadbang] -> [msg busy] -> [js: x.type] -> [print]
        [loadbang] -> spin
        """
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    env = {**os.environ, "PATCHFLOW_DATA_DIR": str(tmp_path)}
    command = [sys.executable, "-m", "patchflow", "run", str(path)]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == b'print: "busy"'
        time.sleep(0.3)  # inside the loop
        started = time.monotonic()
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=20) == 130
        assert time.monotonic() - started < 10
    finally:
        proc.kill()
        proc.wait()
        proc.stdout.close()
        proc.stderr.close()


def test_a_patch_with_js_builds_once_per_run_with_fresh_state():
    text = "j = [js]\n    state.n = (state.n ?? 0) + 1; send(state.n);\n[loadbang] -> j -> [print]"
    patch = Patch.from_string(text)
    lines: list[str] = []
    first = patch.run_sync(data_dir=":memory:", output=lines.append)
    patch.run_sync(data_dir=":memory:", output=lines.append)
    assert first.error_count == 0 and lines == ["print: 1", "print: 1"]


def test_js_storage_methods_are_every_python_method_storage_ii_included():
    # kv/db in [js] derive from the command sets: a new command is there with no edit here
    text = textwrap.dedent(
        """\
        code = [js]
            await kv.set("a", 1)
            console.log(await kv.incr("n"), await kv.incr("n", 5))
            console.log(await kv.cas("a", 1, 2), await kv.get("a"))
            await kv.set("t", "x", {ttl: 60000})
            console.log((await kv.ttl("t")) > 0, JSON.stringify(await kv.keys({prefix: "a"})))
            const done = await kv.batch([["set", "b", 1], ["incr", "b"]])
            console.log(done.map((reply) => reply.op).join(" "))
            await db.createIndex("notes", "n")
            await db.insert("notes", {n: 1})
            await db.insert("notes", {n: 2})
            const found = await db.find("notes", {n: {$gt: 1}}, {explain: true})
            console.log(found.docs.length, JSON.stringify(found.plan))
            console.log(JSON.stringify(await db.indexes("notes")))
        [loadbang] -> code
        """
    )
    out = run(text)
    assert out.errors == []
    assert out.lines == [
        "1 6",
        "true 2",
        'true ["a"]',
        "set incr",
        '1 {"index":"n","examined":1}',
        '[{"field":"n","unique":false}]',
    ]


def test_js_options_object_names_what_is_wrong():
    out = run('code = [js]\n    await kv.set("t", "x", 5)\n[loadbang] -> code\n')
    assert "kv.set: options must be an object {ttl}" in out.errors[0]
