"""Ctrl-C and SIGTERM stop a run whose box is busy, close storage and exit 130 / 143.

Each test starts one process that stores a value, then gets busy in a box (a Python loop, a
long `time.sleep`, C code that never returns), signals it once the busy box has printed, and
then reads the value back in this process: the run ended, and its LMDB storage is usable.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from patchflow import Patch

pytestmark = pytest.mark.slow

STORE_THEN_BUSY = """\
patch {name}
[loadbang] -> [msg set k 42] -> [kv signals] -> [print stored]
busy = [py]
    print("busy")
    {busy}
{trigger} -> busy
"""

EMBEDDED = """\
import sys, trio
from patchflow import Patch
from patchflow.stopping import stop_on_signals, supervise

TEXT = '''patch embedded
store = [kv signals]
busy = [py]
    print("busy")
    while True:
        pass
'''

async def main():
    patch = Patch.from_string(TEXT)
    async with patch.running(data_dir=sys.argv[1]) as session:
        await session.send("store", {"type": "set", "key": "k", "value": 42})
        await session.send("busy", 1)

supervise()
with stop_on_signals() as stop:
    trio.run(main)
sys.exit(stop.exit_code)
"""


def signal_when_busy(command: list[str], signum: int, data_dir: Path) -> tuple[int, float, str]:
    """Run `command`, send `signum` once it printed `busy`; (exit code, seconds taken, stderr)."""
    env = {**os.environ, "PATCHFLOW_DATA_DIR": str(data_dir)}
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    assert proc.stdout is not None and proc.stderr is not None
    try:
        for line in proc.stdout:
            if line.strip() == b"busy":
                break
        else:
            pytest.fail(f"never got busy: {proc.stderr.read().decode()}")
        time.sleep(0.2)  # well inside the busy code
        start = time.monotonic()
        proc.send_signal(signum)
        code = proc.wait(timeout=20)
        return code, time.monotonic() - start, proc.stderr.read().decode()
    finally:
        proc.kill()
        proc.wait()
        proc.stdout.close()
        proc.stderr.close()


def stored_value(patch_id: str, data_dir: Path) -> object:
    """The value of `k` in the patch's storage, read in this process (LMDB is free)."""
    lines: list[str] = []
    text = f"patch {patch_id}\n[loadbang] -> [msg get k] -> [kv signals] -> [print]"
    reader = Patch.from_string(text)
    reader.run_sync(data_dir=data_dir, output=lines.append)
    [line] = lines
    return json.loads(line.removeprefix("print: "))["value"]


@pytest.mark.parametrize(
    ("case", "busy", "trigger", "signum"),
    [
        ("loadbang", "while True: pass", "[loadbang]", signal.SIGINT),
        ("loadbang", "time.sleep(100)", "[loadbang]", signal.SIGTERM),
        ("timer", "while True: pass", "[loadbang] -> [delay 50]", signal.SIGTERM),
    ],
)
def test_a_signal_stops_a_busy_box_cleanly(tmp_path, case, busy, trigger, signum):
    patch = tmp_path / "busy.patch"
    patch.write_text(STORE_THEN_BUSY.format(name=case, busy=busy, trigger=trigger))
    command = [sys.executable, "-m", "patchflow", "run", str(patch)]
    code, seconds, errors = signal_when_busy(command, signum, tmp_path)
    assert code == {signal.SIGINT: 130, signal.SIGTERM: 143}[signum], errors
    assert seconds < 5
    assert errors == ""  # no traceback, no box error: the stop is not the box's fault
    assert stored_value(case, tmp_path) == 42


def test_a_box_stuck_in_c_code_is_ended_by_the_supervisor(tmp_path):
    patch = tmp_path / "c.patch"
    patch.write_text(
        STORE_THEN_BUSY.format(name="c", busy="sum(range(10**12))", trigger="[loadbang]")
    )
    command = [sys.executable, "-m", "patchflow", "run", str(patch)]
    code, seconds, errors = signal_when_busy(command, signal.SIGINT, tmp_path)
    assert code == 130
    assert seconds < 5
    assert "stopped by SIGINT" in errors and "committed data is safe" in errors
    assert stored_value("c", tmp_path) == 42


def test_a_signal_stops_a_cascade_sent_from_python(tmp_path):
    script = tmp_path / "embedded.py"
    script.write_text(textwrap.dedent(EMBEDDED))
    command = [sys.executable, str(script), str(tmp_path)]
    code, seconds, errors = signal_when_busy(command, signal.SIGTERM, tmp_path)
    assert code == 143, errors
    assert seconds < 5
    assert errors == ""
    assert stored_value("embedded", tmp_path) == 42
