"""Output that cannot be written ends the run: quietly for a closed pipe, with one error else."""

from __future__ import annotations

import errno
import os
import subprocess
import sys

import pytest
import trio

from patchflow import Patch

TICKING = "[loadbang] -> [metro 1] -> [print tick]\n"  # prints for ever, if it can


def run_into(output) -> tuple[str, list[str], object]:
    """Run TICKING with `output` as its output function: (reason, error lines, output_error)."""
    errors: list[str] = []
    patch = Patch.from_string(TICKING, file="tick.patch")
    runtime = patch.runtime(data_dir=":memory:", output=output, errors=errors.append)
    reason = trio.run(lambda: runtime.run(timeout=5))
    return reason, errors, runtime.output_error


def test_a_closed_output_ends_the_run_without_an_error_line():
    def closed(text: str) -> None:
        raise BrokenPipeError(errno.EPIPE, "Broken pipe")

    reason, errors, failure = run_into(closed)
    assert reason == "failed"
    assert isinstance(failure, BrokenPipeError)
    assert errors == []


def test_an_output_that_cannot_be_written_ends_the_run_with_one_error_line():
    def full(text: str) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    reason, errors, failure = run_into(full)
    assert reason == "failed"
    assert isinstance(failure, OSError)
    assert errors == ["tick.patch: cannot write the output: No space left on device"]


def test_print_in_code_that_cannot_be_written_ends_the_run_too():
    errors: list[str] = []

    def full(text: str) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    patch = Patch.from_string("[loadbang] -> [metro 1] -> [py print(x)]\n", file="p.patch")
    result = patch.run_sync(data_dir=":memory:", output=full, errors=errors.append, timeout=5)
    assert result.reason == "failed"
    assert errors == ["p.patch: cannot write the output: No space left on device"]


@pytest.mark.slow
def test_run_into_a_pipe_closed_by_its_reader_stops_quietly_with_141(tmp_path):
    patch = tmp_path / "tick.patch"
    patch.write_text(TICKING)
    proc = subprocess.Popen(
        [sys.executable, "-m", "patchflow", "run", str(patch), "--data-dir", ":memory:"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stderr is not None
    assert proc.stdout.readline() == b'tick: {"type": "bang"}\n'
    proc.stdout.close()  # as `| head -1` does
    try:
        assert proc.wait(timeout=20) == 141
        assert proc.stderr.read() == b""
    finally:
        proc.kill()
        proc.stderr.close()


@pytest.mark.slow
@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_run_into_a_full_device_exits_1_with_one_error_line(tmp_path):
    patch = tmp_path / "tick.patch"
    patch.write_text(TICKING)
    with open("/dev/full", "w") as full:
        result = subprocess.run(
            [sys.executable, "-m", "patchflow", "run", str(patch), "--data-dir", ":memory:"],
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            timeout=20,
        )
    assert result.returncode == 1
    assert result.stderr == f"{patch}: cannot write the output: No space left on device\n"
