"""`patchflow data` against what disks do: damaged files, read-only media, a backup stopped
mid-copy, `rm` racing a starting run, a dump line nested absurdly deep."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile

import pytest
import trio
from click.testing import CliRunner

import patchflow
from patchflow.cli import main
from patchflow.storage import open_storage

CLI = "from patchflow.cli import main; main()"
#: the directory holding the `patchflow` package, for subprocesses to import it from
SOURCE_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(patchflow.__file__)))


def data(data_dir, *args: str, input: str | bytes | None = None):
    """Run `patchflow data ARGS --data-dir DATA_DIR` in this process."""
    return CliRunner().invoke(main, ["data", *args, "--data-dir", str(data_dir)], input=input)


def seed(data_dir, patch: str = "demo", keys: int = 300) -> str:
    """A patch with kv keys spanning many pages and a collection; return its directory."""

    async def fill() -> None:
        with open_storage(patch, data_dir) as storage:
            kv = storage.kv(name="s")
            for index in range(keys):
                await kv.set(f"k{index:04}", "x" * 1000)
            await storage.db(local="history").insert("runs", {"n": 1})

    trio.run(fill)
    return os.path.join(data_dir, patch)


# ---- damaged storage ---------------------------------------------------------------------------


@pytest.mark.slow
def test_ls_lists_the_other_patches_and_flags_the_damaged_one(tmp_path, python):
    # In a child process: reading pages past the end of a cut file would kill it (SIGBUS).
    seed(tmp_path, "good", keys=2)
    damaged = seed(tmp_path, "hurt")
    data_file = os.path.join(damaged, "data.mdb")
    os.truncate(data_file, os.path.getsize(data_file) // 2)
    listed = python(CLI, "data", "ls", "--data-dir", str(tmp_path))
    assert listed.returncode == 1, listed.stderr
    _, good, hurt = listed.stdout.splitlines()
    assert good.split()[0] == "good" and good.split()[3:] == ["2", "1", "1", *good.split()[6:]]
    assert len(good.split()) == 8  # no flag
    assert hurt.split()[0] == "hurt" and hurt.split()[3:6] == ["?", "?", "?"]
    assert hurt.split()[-1] == "DAMAGED"
    assert listed.stderr.startswith(f"patchflow: patch 'hurt': patch storage at {damaged}")
    assert "restore it from a backup, or delete it with `patchflow data rm hurt`" in listed.stderr
    as_json = python(CLI, "data", "ls", "--json", "--data-dir", str(tmp_path))
    rows = {row["patch"]: row for row in json.loads(as_json.stdout)}
    assert rows["good"]["keys"] == 2 and "error" not in rows["good"]
    assert rows["hurt"]["keys"] is None and "is damaged" in rows["hurt"]["error"]
    shown = python(CLI, "data", "show", "hurt", "--data-dir", str(tmp_path))
    assert shown.returncode == 1 and "is damaged" in shown.stderr
    assert "Traceback" not in listed.stderr + as_json.stderr + shown.stderr


def test_rm_deletes_damaged_storage_after_asking(tmp_path):
    damaged = seed(tmp_path, "hurt", keys=2)
    os.truncate(os.path.join(damaged, "data.mdb"), 0)
    kept = data(tmp_path, "rm", "hurt", input="n\n")
    assert kept.exit_code == 0 and kept.stdout == "Not deleted.\n"
    assert kept.stderr.startswith("This patch's stored data is damaged (")
    deleted = data(tmp_path, "rm", "hurt", input="y\n")
    assert deleted.exit_code == 0, deleted.stderr
    assert not os.path.exists(damaged)


# ---- read-only media ---------------------------------------------------------------------------


def as_reader() -> list[str]:
    """The command prefix that runs a process without the right to write others' files."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    nobody = [setpriv or "setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
    try:
        probe = subprocess.run([*nobody, sys.executable, "-c", "pass"], timeout=60, check=False)
    except OSError:
        probe = None
    if probe is None or probe.returncode != 0:
        pytest.skip("running as root without a way (setpriv) to drop the right to write")
    return nobody


@pytest.mark.slow
def test_ls_show_and_export_work_on_read_only_storage():
    prefix = as_reader()
    top = tempfile.mkdtemp()  # not under pytest's private tmp_path: the reader must get in
    try:
        os.chmod(top, 0o755)
        seed(top, "demo", keys=3)
        for root, dirs, files in os.walk(top):
            for name in dirs + files:
                os.chmod(os.path.join(root, name), 0o555 if name in dirs else 0o444)
        os.chmod(top, 0o555)
        env = {**os.environ, "PYTHONPATH": SOURCE_ROOT}

        def run(*args: str) -> subprocess.CompletedProcess[str]:
            command = [*prefix, sys.executable, "-c", CLI, "data", *args, "--data-dir", top]
            return subprocess.run(
                command, capture_output=True, text=True, env=env, cwd="/", timeout=60, check=False
            )

        listed = run("ls")
        assert listed.returncode == 0, listed.stderr
        row = listed.stdout.splitlines()[1].split()
        assert row[0] == "demo" and row[3:6] == ["3", "1", "1"]
        shown = run("show", "demo", "--store", "s")
        assert shown.returncode == 0, shown.stderr
        assert shown.stdout.startswith("named store 's': 3 keys\n")
        exported = run("export", "demo")
        assert exported.returncode == 0, exported.stderr
        assert json.loads(exported.stdout.splitlines()[-1]) == {"patchflow": "end", "records": 5}
        refused = subprocess.run(
            [*prefix, sys.executable, "-c", CLI, "data", "import", "demo", "--data-dir", top],
            input=exported.stdout,
            capture_output=True,
            text=True,
            env=env,
            cwd="/",
            timeout=60,
            check=False,
        )
        assert refused.returncode == 1 and "opened read-only" in refused.stderr
    finally:
        for root, dirs, _ in os.walk(top):
            os.chmod(root, 0o755)
            for name in dirs:
                os.chmod(os.path.join(root, name), 0o755)
        shutil.rmtree(top)


# ---- backup ------------------------------------------------------------------------------------

STOPPED_BACKUP = """
import sys, time
from patchflow.storage.backends import lmdb_env
copy = lmdb_env.SharedEnv.copy
def copy_then_hang(self, destination):  # a copy caught half-way, held there
    copy(self, destination)
    print("copied", flush=True)
    time.sleep(60)
lmdb_env.SharedEnv.copy = copy_then_hang
import patchflow
from patchflow.cli import main
main()
"""


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGKILL, signal.SIGTERM, signal.SIGINT])
def test_a_backup_stopped_mid_copy_leaves_nothing_under_its_name(tmp_path, start, signum):
    seed(tmp_path / "data", keys=20)
    destination = tmp_path / "backup"
    data_dir = str(tmp_path / "data")
    child = start(
        STOPPED_BACKUP, "data", "backup", "demo", str(destination), "--data-dir", data_dir
    )
    try:
        assert child.stdout.readline() == "copied\n"
        child.send_signal(signum)
        _, stderr = child.communicate(timeout=60)
    finally:
        child.kill()
    assert not destination.exists()
    left = [name for name in os.listdir(tmp_path) if name != "data"]
    if signum == signal.SIGKILL:  # nothing could clean up: the leftover says what it is
        (partial,) = left
        assert partial.startswith(f"backup.partial-{child.pid}-")
    else:
        assert left == []
        assert "Traceback" not in stderr
    if signum == signal.SIGTERM:
        assert child.returncode == 143
        assert stderr == f"patchflow: stopped by SIGTERM; nothing was written to {destination}\n"


def test_a_failed_copy_leaves_no_destination_and_no_temporary(tmp_path, monkeypatch):
    from patchflow.storage.backends import lmdb_env

    seed(tmp_path / "data", keys=2)

    def half_copy(self, destination):
        with open(os.path.join(destination, "data.mdb"), "wb") as out:
            out.write(b"\0" * 4096)
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(lmdb_env.SharedEnv, "copy", half_copy)
    result = data(tmp_path / "data", "backup", "demo", str(tmp_path / "backup"))
    assert result.exit_code == 1 and "No space left on device" in result.stderr
    assert os.listdir(tmp_path) == ["data"]


def test_a_backup_into_an_empty_directory_replaces_it(tmp_path):
    seed(tmp_path / "data", keys=2)
    (tmp_path / "backups" / "demo").mkdir(parents=True)
    result = data(tmp_path / "data", "backup", "demo", str(tmp_path / "backups" / "demo"))
    assert result.exit_code == 0, result.stderr
    assert os.listdir(tmp_path / "backups") == ["demo"]
    assert data(tmp_path / "backups", "show", "demo", "--json").exit_code == 0


# ---- rm racing a starting run ------------------------------------------------------------------

WRITER = """
import os, random, sys, time, trio
from patchflow.storage import open_storage
data_dir = sys.argv[1]
data_file = os.path.join(data_dir, "race", "data.mdb")
for line in sys.stdin:
    time.sleep(random.random() * float(line))  # spread the opening over rm's steps
    try:
        with open_storage("race", data_dir) as storage:
            opened = os.stat(data_file).st_ino
            kv = storage.kv(name="s")
            trio.run(kv.set, "n", 1)
            found = trio.run(kv.get, "n")
            # Still the file at that path: rm has not deleted it from under the open store.
            same = os.stat(data_file).st_ino == opened
        print("ok" if same and found == 1 else f"lost {same} {found}", flush=True)
    except Exception as error:
        print(f"error {type(error).__name__}: {error}", flush=True)
"""


@pytest.mark.slow
def test_rm_never_deletes_storage_from_under_a_run_that_opens_it(tmp_path):
    data_dir = tmp_path / "data"
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(data_dir)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": SOURCE_ROOT},
    )
    outcomes: dict[int, int] = {}
    try:
        for _ in range(60):
            if not (data_dir / "race").exists():
                open_storage("race", data_dir).close()
            writer.stdin.write("0.003\n")
            writer.stdin.flush()
            removed = data(data_dir, "rm", "race", "--yes")
            assert removed.exit_code in (0, 1, 2), removed.output
            assert "Traceback" not in removed.output
            outcomes[removed.exit_code] = outcomes.get(removed.exit_code, 0) + 1
            assert writer.stdout.readline() == "ok\n"
    finally:
        writer.kill()
        writer.communicate(timeout=60)
    if (data_dir / "race").exists():
        with open_storage("race", data_dir) as storage:  # whatever is left is sound
            assert trio.run(storage.kv(name="s").get, "n") in (1, None)
    assert outcomes.get(0), outcomes  # rm did delete, racing the writer's opening
    assert not [name for name in os.listdir(data_dir) if name.startswith(".deleting-")]


# ---- import ------------------------------------------------------------------------------------


def test_a_line_nested_100000_deep_is_reported_and_nothing_is_stored(tmp_path):
    seed(tmp_path, keys=2)
    before = data(tmp_path, "export", "demo").stdout
    header = '{"patchflow": "dump", "format": 1, "patch": "x", "storage_format": 1}\n'
    deep = "[" * 100_000 + "]" * 100_000
    line = '{"kind": "kv", "store": {"name": "s"}, "key": "deep", "value": ' + deep + "}\n"
    dump_text = header + line + '{"patchflow": "end", "records": 1}\n'
    for patch in ("demo", "fresh"):
        result = data(tmp_path, "import", patch, input=dump_text)
        assert result.exit_code == 2
        assert result.stderr == (
            "<stdin>:2: a value nested deeper than 256 levels; a stored value nests 256 levels"
            " at most\n"
        )
    assert data(tmp_path, "export", "demo").stdout == before
    assert not (tmp_path / "fresh").exists()
