"""The console script as a user runs it: output, diagnostics, exit codes, signals."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

import patchflow
from patchflow.cli import main as patchflow_main

ROOT = Path(__file__).resolve().parent.parent


def patchflow_cli(*args: str, stdin: str | None = None, env: dict | None = None, timeout=60):
    return subprocess.run(
        [sys.executable, "-m", "patchflow", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_run_prints_lines_and_exits_0_when_idle(tmp_path):
    patch = write(tmp_path, "p.patch", "[loadbang] -> [msg hi, {a: 'é'}] -> [print out]\n")
    result = patchflow_cli("run", str(patch), "--data-dir", ":memory:")
    assert result.returncode == 0, result.stderr
    assert result.stdout == 'out: {"type": "hi"}\nout: {"a": "é"}\n'


def test_run_reads_the_patch_from_standard_input_with_dash():
    result = patchflow_cli("run", "-", "--data-dir", ":memory:", stdin="[loadbang] -> [print]\n")
    assert result.returncode == 0, result.stderr
    assert result.stdout == 'print: {"type": "bang"}\n'


def test_patch_from_standard_input_stores_under_patch_id_stdin(tmp_path):
    text = "[loadbang] -> [msg set k 1] -> [kv]\n"
    result = patchflow_cli("run", "-", "--data-dir", str(tmp_path), stdin=text)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "stdin").is_dir()


def test_patch_errors_exit_2_with_positions(tmp_path):
    patch = write(tmp_path, "bad.patch", "[loadbang] -> [rout x]\n[print] <- nope\n")
    result = patchflow_cli("run", str(patch), "--data-dir", ":memory:")
    assert result.returncode == 2
    lines = result.stderr.splitlines()
    assert lines[0].startswith(f"{patch}:1:16: unknown object 'rout'")
    assert lines[1].startswith(f"{patch}:2:12: 'nope' is not declared")
    assert result.stdout == ""


def test_runtime_error_is_reported_with_box_and_line_and_the_run_goes_on(tmp_path):
    patch = write(
        tmp_path, "p.patch", "# c\n[loadbang] -> [msg 0] -> [expr 1 / $1]\n[loadbang] -> [print]\n"
    )
    result = patchflow_cli("run", str(patch), "--data-dir", ":memory:")
    assert result.returncode == 0
    assert f"{patch}:2 [expr-1]: ZeroDivisionError: division by zero" in result.stderr
    assert result.stdout == 'print: {"type": "bang"}\n'


def test_strict_exits_1_on_the_first_runtime_error(tmp_path):
    patch = write(tmp_path, "p.patch", "[loadbang] -> [msg 0] -> [expr 1 / $1]\n")
    result = patchflow_cli("run", str(patch), "--data-dir", ":memory:", "--strict")
    assert result.returncode == 1
    assert "ZeroDivisionError" in result.stderr


def test_timeout_is_a_clean_stop(tmp_path):
    patch = write(tmp_path, "p.patch", "[loadbang] -> [metro 20] -> [print]\n")
    result = patchflow_cli("run", str(patch), "--data-dir", ":memory:", "--timeout", "0.3")
    assert result.returncode == 0
    assert result.stdout.count("print:") >= 3


def test_storage_that_cannot_be_opened_exits_1(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    patch = write(tmp_path, "p.patch", "[loadbang] -> [msg get k] -> [kv] -> [print]\n")
    result = patchflow_cli("run", str(patch), "--data-dir", str(blocker))
    assert result.returncode == 1
    assert result.stderr.strip()
    assert "Traceback" not in result.stderr


def test_bad_patch_id_is_rejected_with_exit_2(tmp_path):
    patch = write(tmp_path, ".hidden.patch", "[print]\n")
    result = patchflow_cli("run", str(patch), "--data-dir", ":memory:")
    assert result.returncode == 2
    assert "invalid patch id" in result.stderr


def test_missing_file_and_bad_options_exit_2(tmp_path):
    assert patchflow_cli("run", str(tmp_path / "nope.patch")).returncode == 2
    assert patchflow_cli("run").returncode == 2
    assert patchflow_cli("run", "x.patch", "--timeout", "soon").returncode == 2
    assert patchflow_cli("frobnicate").returncode == 2


def test_check_reports_every_file_and_exits_0_only_when_all_are_clean(tmp_path):
    good = write(tmp_path, "good.patch", "[loadbang] -> [print]\n")
    bad = write(tmp_path, "bad.patch", "[loadbang] -> [prnt]\n")
    assert patchflow_cli("check", str(good)).returncode == 0
    result = patchflow_cli("check", str(good), str(bad))
    assert result.returncode == 2
    assert f"{bad}:1:16: unknown object 'prnt' — did you mean 'print'?" in result.stderr


def test_check_passes_on_every_example_patch():
    result = patchflow_cli("check", *map(str, sorted((ROOT / "patches").glob("*.patch"))))
    assert result.returncode == 0, result.stderr


def test_help_lists_objects_and_prints_one_objects_help():
    listing = patchflow_cli("help")
    assert listing.returncode == 0
    assert any(line.startswith("trigger, t ") for line in listing.stdout.splitlines())
    one = patchflow_cli("help", "route")
    assert one.returncode == 0
    assert "Inlets:" in one.stdout and "Example:" in one.stdout
    unknown = patchflow_cli("help", "rout")
    assert unknown.returncode == 2
    assert "did you mean 'route'" in unknown.stderr


def test_version():
    result = patchflow_cli("--version")
    assert result.returncode == 0
    assert patchflow.__version__ in result.stdout


def test_data_dir_comes_from_the_environment_when_not_given(tmp_path):
    patch = write(tmp_path, "envdir.patch", "[loadbang] -> [msg set k 1] -> [kv]\n")
    result = patchflow_cli("run", str(patch), env={"PATCHFLOW_DATA_DIR": str(tmp_path / "d")})
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "d" / "envdir").is_dir()


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_signals_stop_cleanly_and_keep_committed_data(tmp_path, signum, code):
    patch = write(
        tmp_path,
        "sig.patch",
        "[loadbang] -> [msg set k 42] -> [kv] -> [print]\n",
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "patchflow", "run", str(patch), "--forever"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PATCHFLOW_DATA_DIR": str(tmp_path)},
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().startswith("print: ")
    time.sleep(0.1)
    proc.send_signal(signum)
    assert proc.wait(timeout=20) == code
    proc.stdout.close()
    proc.stderr.close()
    reread = write(
        tmp_path, "sig2.patch", "patch sig\n[loadbang] -> [msg get k] -> [kv] -> [print]\n"
    )
    result = patchflow_cli("run", str(reread), "--data-dir", str(tmp_path))
    assert 'value": 42' in result.stdout, result.stderr


def test_a_patch_file_that_is_not_utf8_is_reported_at_the_bad_byte(tmp_path):
    patch = tmp_path / "bad.patch"
    patch.write_bytes(b"[loadbang] -> [print]\n[msg \xff] -> [print]\n")
    result = patchflow_cli("run", str(patch), "--data-dir", ":memory:")
    assert result.returncode == 2
    assert result.stderr.startswith(f"{patch}:2:6: byte 0xff is not UTF-8")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run", "x.patch", "--timeout", "nan"], "'nan' is not a number of seconds ≥ 0"),
        (["run", "x.patch", "--timeout", "-1"], "'-1' is not a number of seconds ≥ 0"),
        (["run", "x.patch", "--timeout", ""], "is empty; give a number of seconds"),
        (["run", "x.patch", "--data-dir", ""], "'--data-dir': is empty; give a directory"),
        *(
            (["data", *command, "--data-dir", ""], "'--data-dir': is empty; give a directory")
            for command in (
                ["ls"],
                ["show", "p"],
                ["export", "p"],
                ["import", "p", "f"],
                ["backup", "p", "d"],
                ["rm", "p"],
                ["gc", "p.patch"],
            )
        ),
    ],
)
def test_empty_nan_or_negative_option_values_are_usage_errors(args, message):
    result = CliRunner().invoke(patchflow_main, args)
    assert result.exit_code == 2
    assert message in result.output
