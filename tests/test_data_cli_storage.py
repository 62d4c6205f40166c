"""`patchflow data` on every backend: the same commands through `--storage URL`, in one process,
on LMDB and on the in-memory backend (whose patches exist while they are open, so each test
holds its patch open the way a running patch would)."""

from __future__ import annotations

import contextlib
import json

import pytest
import trio
from click.testing import CliRunner

from patchflow.cli import main
from patchflow.storage import open_storage

PATCH_FILE = """patch demo
[loadbang] -> [kv] -> [kv settings]
"""


@pytest.fixture(params=["lmdb", "memory"])
def url(request, tmp_path) -> str:
    return f"lmdb:{tmp_path / 'data'}" if request.param == "lmdb" else "memory:"


def data(url: str, *args: str, input: str | bytes | None = None):
    return CliRunner().invoke(main, ["data", *args, "--storage", url], input=input)


@contextlib.contextmanager
def running(url: str, patch: str = "demo", *, seeded: bool = True):
    """Hold a patch's storage open, as a run does, with a local, a named and an orphan store."""

    async def fill(storage) -> None:
        await storage.kv(local="kv-1").set("count", 3)
        await storage.kv(local="kv-1").set("blob", b"\x00\x01")
        await storage.kv(name="settings").set("volume", 0.8)
        await storage.kv(local="old-box").set("left", "behind")
        db = storage.db(local="history")
        await db.insert("runs", {"n": 1})

    with open_storage(patch, storage=url) as storage:
        if seeded:
            trio.run(fill, storage)
        yield storage


def body(dump_text: str) -> list[str]:
    """A dump without its header line (which names the patch)."""
    return dump_text.splitlines()[1:]


def test_ls_and_show_read_every_backend_alike(url):
    with running(url):
        (row,) = json.loads(data(url, "ls", "--json").stdout)
        assert (row["patch"], row["keys"], row["collections"], row["documents"]) == (
            "demo",
            4,
            1,
            1,
        )
        assert row["size"] > 0 and row["last_write"] is not None
        table = data(url, "ls").stdout.splitlines()
        assert table[0].split() == [
            "PATCH",
            "SIZE",
            "KEYS",
            "COLLECTIONS",
            "DOCUMENTS",
            "LAST",
            "WRITE",
        ]
        shown = json.loads(data(url, "show", "demo", "--local", "kv-1", "--json").stdout)
        assert shown["kv"] == {"blob": {"$bytes": "AAE="}, "count": 3}
        result = data(url, "show", "demo", "--local", "history", "--collection", "runs")
        assert result.exit_code == 0 and '"n": 1' in result.stdout


def test_export_and_import_move_a_patch_on_every_backend(url):
    with running(url), running(url, "copy", seeded=False):
        dump_text = data(url, "export", "demo").stdout
        imported = data(url, "import", "copy", input=dump_text)
        assert imported.exit_code == 0, imported.stderr
        assert (
            imported.stdout == "Imported 4 keys, 1 collection and 1 document into patch 'copy'.\n"
        )
        assert body(data(url, "export", "copy").stdout) == body(dump_text)


def test_a_dump_moves_a_patch_between_backends(tmp_path):
    lmdb, memory = f"lmdb:{tmp_path / 'data'}", "memory:"
    with running(lmdb), running(memory, "moved", seeded=False):
        dump_text = data(lmdb, "export", "demo").stdout
        assert data(memory, "import", "moved", input=dump_text).exit_code == 0
        assert body(data(memory, "export", "moved").stdout) == body(dump_text)


def test_gc_deletes_orphaned_stores_on_every_backend(url, tmp_path):
    patch_file = tmp_path / "demo.patch"
    patch_file.write_text(PATCH_FILE)
    with running(url):
        result = data(url, "gc", "demo", "--patch-file", str(patch_file), "--yes")
        assert result.exit_code == 0, result.stderr
        assert (
            result.stdout.splitlines()[-1] == "Deleted 2 orphaned local stores."
        )  # old-box, history
        stores = json.loads(data(url, "show", "demo", "--json").stdout)["stores"]
        assert [store["store"] for store in stores] == [{"local": "kv-1"}, {"name": "settings"}]


def test_backup_copies_natively_or_as_an_export_that_imports_back(url, tmp_path):
    destination = tmp_path / "backup"
    with running(url), running(url, "restored", seeded=False):
        result = data(url, "backup", "demo", str(destination))
        assert result.exit_code == 0, result.stderr
        assert result.stdout.startswith(f"Backed up patch 'demo' to {destination}")
        assert ": 4 keys, 1 document, " in result.stdout
        if destination.is_dir():  # LMDB's compacting copy: a storage directory
            restore = data(f"lmdb:{tmp_path}", "export", "backup").stdout
        else:  # no native copy: an export dump
            assert " as an export: " in result.stdout
            restore = destination.read_text()
        assert data(url, "import", "restored", input=restore).exit_code == 0
        assert body(data(url, "export", "restored").stdout) == body(
            data(url, "export", "demo").stdout
        )
        again = data(url, "backup", "demo", str(destination))
        assert again.exit_code == 2 and "backup destination" in again.stderr


def test_rm_refuses_a_patch_that_is_open_on_every_backend(url):
    with running(url):
        result = data(url, "rm", "demo", "--yes")
        assert result.exit_code == 1 and "is open in this process" in result.stderr
        assert data(url, "show", "demo").exit_code == 0  # still there
    result = data(url, "rm", "demo", "--yes")
    if url == "memory:":  # in-memory data goes with its last handle: nothing left to delete
        assert result.exit_code == 2 and "no stored data for patch 'demo'" in result.stderr
    else:
        assert (
            result.exit_code == 0 and result.stdout == "Deleted the stored data of patch 'demo'.\n"
        )
    assert json.loads(data(url, "ls", "--json").stdout) == []


def test_storage_and_data_dir_together_are_a_usage_error(tmp_path):
    result = CliRunner().invoke(
        main, ["data", "ls", "--storage", "memory:", "--data-dir", str(tmp_path)]
    )
    assert result.exit_code == 2 and "not both" in result.stderr


def test_an_unknown_scheme_is_a_usage_error_naming_the_known_ones_without_the_password():
    result = data("mysql://u:secret@127.0.0.1:1/x", "ls")
    assert result.exit_code == 2
    assert "unknown scheme 'mysql'" in result.stderr and "lmdb:, memory:" in result.stderr
    assert "secret" not in result.output


def test_the_data_commands_know_no_backend_by_name():
    """`patchflow data` works through the registry and the protocols only, so that a new backend
    needs no change here."""
    import ast
    from pathlib import Path

    import patchflow.datacli

    for path in Path(patchflow.datacli.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.ImportFrom | ast.Import):
                names = [node.module or ""] if isinstance(node, ast.ImportFrom) else []
                names += [alias.name for alias in node.names]
                assert not any("lmdb" in name or "memory_backend" in name for name in names), (
                    f"{path.name}:{node.lineno} imports a backend"
                )


@pytest.mark.slow
def test_run_stores_where_storage_says_and_refuses_it_with_data_dir(tmp_path):
    import subprocess
    import sys

    patch = tmp_path / "note.patch"
    patch.write_text(
        'patch note\n[loadbang] -> [msg {type: "set", key: "k", value: 1}] -> [kv saved]\n'
    )
    url = f"lmdb:{tmp_path / 'data'}"
    command = [sys.executable, "-m", "patchflow", "run", str(patch)]
    done = subprocess.run([*command, "--storage", url], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    shown = json.loads(data(url, "show", "note", "--store", "saved", "--json").stdout)
    assert shown["kv"] == {"k": 1}
    both = [*command, "--storage", url, "--data-dir", str(tmp_path)]
    refused = subprocess.run(both, capture_output=True, text=True, timeout=60)
    assert refused.returncode == 2 and "not both" in refused.stderr
