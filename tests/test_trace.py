"""`run --trace` and `trace=`: every delivery, in delivery order, as visual.md §5 writes it."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest
import trio
import trio.testing

from patchflow import Patch

CASCADE = """\
n = [msg 1]
t = [t b a]
[loadbang] -> n -> t
t:1 -> [+ 10] -> [print sum]
t:0 -> [print bang]
"""


def _traced(text: str, *inject: tuple[str, Any]) -> tuple[list[str], list[str]]:
    """Run `text` on a mock clock with a trace; return (trace lines, printed lines)."""
    lines: list[str] = []
    printed: list[str] = []
    patch = Patch.from_string(text, file="t.patch")

    async def main() -> None:
        async with patch.running(
            data_dir=":memory:", output=printed.append, trace=lines.append
        ) as session:
            await session.idle()
            for box, message in inject:
                await session.send(box, message)
            await session.idle()

    trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))
    return lines, printed


def test_trace_writes_each_delivery_in_depth_first_order():
    lines, printed = _traced(CASCADE)
    assert lines == [
        '[loadbang-1:0] -> [n:0] {"type": "bang"}',
        "[n:0] -> [t:0] 1",
        "[t:1] -> [+-1:0] 1",
        "[+-1:0] -> [print-1:0] 11",
        '[t:0] -> [print-2:0] {"type": "bang"}',
    ]
    assert printed == ["sum: 11", 'bang: {"type": "bang"}']


def test_trace_shows_messages_from_python_the_bus_and_spread_lists_and_cuts_long_ones():
    text = "add = [+]\nadd -> [s total]\n[r total] -> out\nout = [t a]\n"
    lines, _ = _traced(text, ("add", [3, 4]), ("out", "x" * 300))
    assert lines[:3] == [
        "[python] -> [add:0] [3, 4]",  # one delivery: the list, spread inside the box
        "[add:0] -> [s-1:0] 7",
        "[send total] -> [r-1] 7",
    ]
    assert lines[3] == "[r-1:0] -> [out:0] 7"
    long = lines[4]
    assert long.startswith('[python] -> [out:0] "xxx') and long.endswith("…")
    assert len(long) == len("[python] -> [out:0] ") + 200


def test_without_trace_nothing_is_traced():
    lines: list[str] = []
    patch = Patch.from_string(CASCADE)
    patch.run_sync(data_dir=":memory:", output=lines.append)
    assert lines == ["sum: 11", 'bang: {"type": "bang"}']


@pytest.mark.slow
def test_run_trace_writes_the_deliveries_to_standard_error(tmp_path):
    path = tmp_path / "cascade.patch"
    path.write_text(CASCADE, encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "patchflow", "run", str(path), "--data-dir", ":memory:", "--trace"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0
    assert done.stdout.splitlines() == ["sum: 11", 'bang: {"type": "bang"}']
    assert done.stderr.splitlines() == [
        '[loadbang-1:0] -> [n:0] {"type": "bang"}',
        "[n:0] -> [t:0] 1",
        "[t:1] -> [+-1:0] 1",
        "[+-1:0] -> [print-1:0] 11",
        '[t:0] -> [print-2:0] {"type": "bang"}',
    ]
