"""The same patches in Pd 0.53 and in patchflow print the same (a differential test).

Each NAME.pd here has a NAME.patch doing the same: Pd runs the .pd headless (`-batch` runs
its logical clock as fast as it can; the .pd quits itself with `; pd quit`), and patchflow
runs the .patch on the mock clock. patchflow's printed JSON is turned into what Pd's
`[print]` shows (numbers as C's %g, strings as `symbol x`, lists space-separated, an empty
list as `bang`) before comparing. Skipped where `pd` is not on PATH; `make pd-test`
installs Debian's puredata-core and runs these.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from patchflow import Patch, is_bang
from patchflow.testing import run_patch

HERE = Path(__file__).resolve().parent
CASES = sorted(path.stem for path in HERE.glob("*.pd") if path.with_suffix(".patch").exists())
PD = shutil.which("pd")

pytestmark = [
    pytest.mark.slow,
    # CI installs Pd (.ci/run) and must not pass without comparing; elsewhere Pd is optional
    pytest.mark.skipif(
        PD is None and os.environ.get("CI") != "true",
        reason="Pd is not installed (`make pd-test` installs it)",
    ),
]


def pd_atom(value: Any) -> str:
    """One list element as Pd prints it."""
    if isinstance(value, bool) or value is None:
        raise AssertionError(f"Pd has no {value!r}: keep it out of differential patches")
    if isinstance(value, int | float):
        return f"{value:g}"
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and isinstance(value.get("type"), str) and len(value) == 1:
        return value["type"]  # `{type: word}`, what a message box makes of a bare word
    raise AssertionError(f"Pd has no {value!r}: keep it out of differential patches")


def pd_text(value: Any) -> str:
    """A patchflow message as Pd's `[print]` shows it (without the label)."""
    if is_bang(value) or value == []:
        return "bang"
    if isinstance(value, str):
        return f"symbol {value}"
    if isinstance(value, list):
        if len(value) == 1:
            return pd_text(value[0])
        words = " ".join(pd_atom(item) for item in value)
        return words if isinstance(value[0], int | float) else f"list {words}"
    return pd_atom(value)


def as_pd(line: str) -> str:
    label, _, text = line.partition(": ")
    return f"{label}: {pd_text(json.loads(text))}"


def run_pd(path: Path) -> list[str]:
    done = subprocess.run(
        [PD, "-nogui", "-nosound", "-nomidi", "-batch", "-stderr", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return done.stderr.splitlines()


@pytest.mark.parametrize("name", CASES)
def test_patch_prints_what_pd_prints(name):
    expected = run_pd(HERE / f"{name}.pd")
    assert expected, f"Pd printed nothing for {name}.pd"
    outcome = run_patch(Patch.from_file(HERE / f"{name}.patch"))
    assert outcome.errors == []
    assert [as_pd(line) for line in outcome.lines] == expected


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (3, "3"),
        (2.6457513110645907, "2.64575"),
        ([1, 2], "1 2"),
        (["a", 9], "list a 9"),
        ([7], "7"),
        (["x"], "symbol x"),
        ([], "bang"),
        ({"type": "bang"}, "bang"),
        ("x", "symbol x"),
    ],
)
def test_patchflow_values_print_as_pd_would_print_them(value, text):
    assert pd_text(value) == text
