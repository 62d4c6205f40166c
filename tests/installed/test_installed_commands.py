"""The installed `patchflow` command works as a user runs it: every command's help, every
example patch, and the `data` commands on what a patch stored.

Each `patchflow` process costs ~0.25 s of start-up (measured 2026-11 on the 2-core CI
machine), so the examples run all at once, once per session, and the helps of all commands
come from one Python process that calls the console script's entry point; the executable
itself is run for the top-level and `data` helps.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import patchflow
import patchflow_objects

#: standard input for every example: the ones with [stdin] ([notes]) read it, the rest ignore it
EXAMPLE_INPUT = "buy milk\ncall mom\n"

#: a patch that prints where the `patchflow` executable imported patchflow and its objects from
WHERE_PATCH = """\
patch where

where = [py]
    import patchflow, patchflow_objects
    await send([patchflow.__file__, patchflow_objects.__file__])

[loadbang] -> where -> [print]
"""

#: the commands every installation must have (a `data` module missing from the wheel once
#: made `data` and its subcommands fail); the helps of any others are checked too
COMMANDS = {"run", "check", "help", "data"}
DATA_COMMANDS = {"ls", "show", "export", "import", "backup", "rm", "gc"}

#: run in a fresh Python with the installation's interpreter: every command's `--help`, through
#: the `patchflow` console-script entry point, found by walking the command groups
HELP_DRIVER = """\
import json, sys, traceback
from importlib.metadata import entry_points
import click
from click.testing import CliRunner

(script,) = entry_points(group="console_scripts", name="patchflow")
main = script.load()

def paths(group, ctx, path):
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        yield [*path, name]
        if isinstance(command, click.Group):
            inner = click.Context(command, parent=ctx, info_name=name)
            yield from paths(command, inner, [*path, name])

results = {}
for path in [[], *paths(main, click.Context(main, info_name="patchflow"), [])]:
    result = CliRunner().invoke(main, [*path, "--help"], prog_name="patchflow")
    error = result.exception is not None and not isinstance(result.exception, SystemExit)
    results[" ".join(path)] = {
        "exit_code": result.exit_code,
        "stdout": result.stdout,
        "error": "".join(traceback.format_exception(*result.exc_info)) if error else None,
    }
print(json.dumps(results))
"""


@pytest.fixture(scope="session")
def example_runs(tmp_path_factory, patchflow_executable, source_dir):
    """Run every example patch, and WHERE_PATCH, at once into one data directory.

    Returns the data directory and each run's (exit code, stdout, stderr) by patch stem.
    """
    work = tmp_path_factory.mktemp("installed")
    data_dir = work / "data"
    where = work / "where.patch"
    where.write_text(WHERE_PATCH, encoding="utf-8")
    patches = [*sorted((source_dir / "patches").glob("*.patch")), where]
    started = {
        path.stem: subprocess.Popen(
            [patchflow_executable, "run", str(path), "--data-dir", str(data_dir), *_args(path)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=work,
        )
        for path in patches
    }
    runs = {}
    for stem, process in started.items():
        try:
            stdout, stderr = process.communicate(EXAMPLE_INPUT, timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            stdout, stderr = process.communicate()
            stderr += "\n(killed: still running after 60 s)"
        runs[stem] = (process.returncode, stdout, stderr)
    return data_dir, runs


@pytest.mark.slow
def test_every_command_prints_its_help(tmp_path):
    driver = subprocess.run(
        [sys.executable, "-P", "-c", HELP_DRIVER],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
    )
    assert driver.returncode == 0, driver.stderr
    helps = json.loads(driver.stdout)
    for path, result in helps.items():
        assert result["error"] is None, f"patchflow {path} --help:\n{result['error']}"
        assert result["exit_code"] == 0, f"patchflow {path} --help: exit {result['exit_code']}"
        assert result["stdout"].startswith(f"Usage: patchflow {path}".rstrip() + " ")
    assert COMMANDS | {f"data {name}" for name in DATA_COMMANDS} <= set(helps)


@pytest.mark.slow
def test_the_executable_prints_the_top_level_and_data_helps(patchflow, tmp_path):
    for args, commands in [((), COMMANDS), (("data",), DATA_COMMANDS)]:
        result = patchflow(*args, "--help", cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        listed = {line.split()[0] for line in result.stdout.split("Commands:")[1].splitlines()[1:]}
        assert commands <= listed, result.stdout


@pytest.mark.slow
def _args(path: Path) -> list[str]:
    """Extra `run` options an example needs when it runs alone (PATCH.args, e.g. a timeout for
    a patch that watches its store until another process writes)."""
    extra = path.with_suffix(".args")
    return extra.read_text(encoding="utf-8").split() if extra.exists() else []


def test_example_runs_and_prints_its_expected_output(example_runs, example, patchflow_executable):
    data_dir, runs = example_runs
    code, stdout, stderr = runs[example.stem]
    assert (code, stderr) == (0, ""), f"patchflow run {example.name}:\n{stderr}"
    expected = example.with_suffix(".expected")
    if expected.exists():
        assert stdout.splitlines() == expected.read_text(encoding="utf-8").splitlines()
        return
    if not stdout:  # a patch that lists what earlier runs stored (the Notes app) shows it next run
        again = subprocess.run(
            [
                patchflow_executable,
                "run",
                str(example),
                "--data-dir",
                str(data_dir),
                *_args(example),
            ],
            input="",
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert (again.returncode, again.stderr) == (0, ""), again.stderr
        stdout = again.stdout
    assert stdout, f"patchflow run {example.name} printed nothing, twice"


@pytest.mark.slow
def test_the_executable_imports_the_same_installation_as_the_tests(
    example_runs, installed, source_dir
):
    _, runs = example_runs
    code, stdout, stderr = runs["where"]
    assert code == 0, stderr
    files = json.loads(stdout.removeprefix("print: "))
    assert files == [patchflow.__file__, patchflow_objects.__file__]
    if installed:
        from_source = [file for file in files if Path(file).resolve().is_relative_to(source_dir)]
        assert not from_source, f"the `patchflow` executable imported {from_source}"


@pytest.mark.slow
def test_data_commands_list_show_export_import_back_up_and_delete(example_runs, patchflow):
    data_dir, runs = example_runs
    assert runs["counter"][1] == "count: 1\n"  # what the commands below find stored
    work = data_dir.parent
    where = ("--data-dir", str(data_dir))

    def ok(*args: str) -> str:
        result = patchflow("data", *args, cwd=work)
        assert result.returncode == 0, f"patchflow data {' '.join(args)}:\n{result.stderr}"
        return result.stdout

    ok("export", "counter", "--output", str(work / "counter.jsonl"), *where)
    ok("import", "copy", str(work / "counter.jsonl"), *where)
    (work / "backups").mkdir()
    ok("backup", "counter", str(work / "backups" / "counter"), *where)
    ok("rm", "counter", "--yes", *where)

    keys = {row["patch"]: row["keys"] for row in json.loads(ok("ls", "--json", *where))}
    assert "counter" not in keys
    assert keys["copy"] == 1
    backed_up = ok(
        "show", "counter", "--store", "counter", "--json", "--data-dir", str(work / "backups")
    )
    assert json.loads(backed_up)["kv"] == {"count": 1}
