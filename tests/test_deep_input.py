"""Very long or very deep code and values: a positioned patch error (exit 2), never a traceback.

Python's parser and compiler give up on such input with RecursionError, MemoryError or a
SyntaxError of their own limits; the build must turn each into a problem saying what to do,
in `patchflow check` (which compiles but runs nothing) and `patchflow run` alike.
"""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from patchflow.testing import first_problem as problem
from patchflow.testing import run_text as run

DEEP_IF = "".join("    " * i + "if True:\n" for i in range(200)) + "    " * 200 + "await send(1)\n"

DEEP_INPUTS = {
    "expr-100000-unary-minuses": "[loadbang] -> [expr " + "-" * 100_000 + "1] -> [print]\n",
    "expr-1000-parentheses": "[loadbang] -> [expr "
    + "(" * 1000
    + "1"
    + ")" * 1000
    + "] -> [print]\n",
    "expr-1000-field-reads": "[loadbang] -> [msg {a: 1}] -> [expr "
    + "+".join(["$1.a"] * 1000)
    + "] -> [print]\n",
    "py-200-nested-ifs": "p = [py]\n"
    + "".join(f"    {line}\n" for line in DEEP_IF.splitlines())
    + "[loadbang] -> p -> [print]\n",
    "py-1000-parentheses": "p = [py]\n    await send(" + "(" * 1000 + "1" + ")" * 1000 + ")\n"
    "[loadbang] -> p -> [print]\n",
    "py-1000-term-sum": "p = [py]\n    await send(" + "+".join(["1"] * 1000) + ")\n"
    "[loadbang] -> p -> [print]\n",
    "msg-1000-deep-list": "[loadbang] -> [msg " + "[" * 1000 + "]" * 1000 + "] -> [print]\n",
    "msg-1000-deep-object": "[loadbang] -> [msg "
    + "{a:" * 1000
    + "1"
    + "}" * 1000
    + "] -> [print]\n",
}


def patchflow_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "patchflow", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.slow
@pytest.mark.parametrize("command", ["check", "run"])
@pytest.mark.parametrize("name", sorted(DEEP_INPUTS))
def test_too_deep_code_or_value_is_a_positioned_error_with_exit_2(tmp_path, name, command):
    patch = tmp_path / "deep.patch"
    patch.write_text(DEEP_INPUTS[name], encoding="utf-8")
    options = ["--data-dir", ":memory:"] if command == "run" else []
    result = patchflow_cli(command, str(patch), *options)
    assert result.returncode == 2, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    [line] = result.stderr.splitlines()
    assert re.match(rf"{re.escape(str(patch))}:1:\d+: \[(expr|py|msg)", line), line
    assert re.search(r"split it|nest it less deeply", line), line
    assert len(line) < 400  # the 2000-character box text is cut, not echoed whole


@pytest.mark.slow
def test_a_1000_term_sum_compiles_and_runs_as_python_would(tmp_path):
    patch = tmp_path / "sum.patch"
    patch.write_text("[loadbang] -> [expr " + "+".join(["1"] * 1000) + "] -> [print]\n")
    assert patchflow_cli("check", str(patch)).returncode == 0
    result = patchflow_cli("run", str(patch), "--data-dir", ":memory:")
    assert (result.returncode, result.stdout, result.stderr) == (0, "print: 1000\n", "")


@pytest.mark.parametrize(
    ("box", "column"),
    [
        ("[msg " + "[" * 1000 + "]" * 1000 + "]", 20),
        ("[m {a:" + "{a:" * 40 + "1" + "}" * 41 + "]", 18),
        ("[msg set key " + "[" * 40 + "]" * 40 + "]", 20),
        ("[route a=" + "[" * 40 + "]" * 40 + "]", 22),
    ],
)
def test_a_value_nested_deeper_than_json5_allows_is_a_creation_error(box, column):
    # [msg] sent it as {type: TEXT}, [route] compared with the raw text: both silently wrong
    found = problem(f"[loadbang] -> {box} -> [print]")
    assert (found.line, found.column) == (1, column)
    assert "more than 32 levels deep, the most the JSON5 reader allows" in found.message


def test_a_value_put_into_message_text_too_deep_is_an_error_naming_the_box():
    out = run(
        """
        p = [py]
            v = 1
            for _ in range(x):
                v = [v]
            await send(v)
        [loadbang] -> [msg 3, 40, 4] -> p -> [msg {a: $1}] -> [print]
        """
    )
    assert out.lines == ['print: {"a": [[[1]]]}', 'print: {"a": [[[[1]]]]}']
    [error] = out.errors
    assert error.startswith("test.patch:7 [msg-2]: the value '{a: [[[[")
    assert "more than 32 levels deep" in error
