"""`patchflow data`: each command's output and exit codes, prompts, and what happens with real
processes (a writer during a backup, a patch holding its storage open during rm)."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from pathlib import Path

import click
import pytest
import trio
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from patchflow.cli import main
from patchflow.datacli import data as data_group
from patchflow.storage import FORMAT_VERSION, SPACES, LmdbBackend, StoreRef, open_storage

ROOT = Path(__file__).resolve().parent.parent


def data(data_dir, *args: str, input: str | bytes | None = None):
    """Run `patchflow data ARGS --data-dir DATA_DIR` in this process."""
    return CliRunner().invoke(main, ["data", *args, "--data-dir", str(data_dir)], input=input)


def seed(data_dir, patch: str = "demo") -> None:
    """A patch with a local and a named kv store, an orphan-to-be, and a db collection."""

    async def fill() -> None:
        with open_storage(patch, data_dir) as storage:
            kv = storage.kv(local="kv-1")
            await kv.set("count", 3)
            await kv.set("blob", b"\x00\x01\x02")
            await storage.kv(name="settings").set("volume", 0.8)
            await storage.kv(name="old-box").set("shared", True)
            await storage.kv(local="old-box").set("left", "behind")
            db = storage.db(local="history")
            await db.insert("runs", {"n": 1})
            await db.insert("runs", {"n": 2, "tags": ["a"]})

    trio.run(fill)


def records(data_dir, patch: str = "demo") -> list[str]:
    """The patch's dump without its header line (which names the patch)."""
    result = data(data_dir, "export", patch)
    assert result.exit_code == 0, result.stderr
    return result.stdout.splitlines()[1:]


def stores(data_dir, patch: str = "demo") -> set[StoreRef]:
    from patchflow.storage.layout.inventory import inventory

    with open_storage(patch, data_dir) as storage:
        return {stats.store for stats in inventory(storage.backend)}


@pytest.fixture
def data_dir(tmp_path) -> Path:
    directory = tmp_path / "data"
    seed(directory)
    return directory


def python(code: str, *args: str, **options) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-c", code, *args], env=env, text=True, **options)


# ---- ls --------------------------------------------------------------------------------------


def test_ls_lists_every_patch_with_size_counts_and_last_write(data_dir):
    seed(data_dir, "other")
    result = data(data_dir, "ls")
    assert result.exit_code == 0, result.stderr
    header, *rows = result.stdout.splitlines()
    assert header.split() == ["PATCH", "SIZE", "KEYS", "COLLECTIONS", "DOCUMENTS", "LAST", "WRITE"]
    assert [row.split()[0] for row in rows] == ["demo", "other"]
    cells = rows[0].split()
    assert cells[1].endswith("KB") or cells[2] == "KB"
    assert cells[-5:-2] == ["5", "1", "2"]  # kv keys, collections, documents
    assert len(cells[-2]) == 10 and cells[-1].count(":") == 2  # date and time


def test_ls_json_gives_the_same_as_data(data_dir):
    result = data(data_dir, "ls", "--json")
    assert result.exit_code == 0
    (row,) = json.loads(result.stdout)
    assert {key: row[key] for key in ("patch", "keys", "collections", "documents")} == {
        "patch": "demo",
        "keys": 5,
        "collections": 1,
        "documents": 2,
    }
    assert row["size"] > 0 and "T" in row["last_write"]


def test_ls_of_an_empty_or_missing_data_dir_says_so_and_exits_0(tmp_path):
    result = data(tmp_path / "missing", "ls")
    assert result.exit_code == 0
    assert result.stdout == f"No stored patch data in {tmp_path / 'missing'}.\n"
    assert json.loads(data(tmp_path, "ls", "--json").stdout) == []


def test_a_data_dir_that_is_a_file_exits_2(tmp_path):
    (tmp_path / "file").write_text("x")
    for args in (["ls"], ["show", "demo"], ["export", "demo"], ["rm", "demo", "--yes"]):
        result = data(tmp_path / "file", *args)
        assert result.exit_code == 2, args
        assert result.stderr.startswith("patchflow: ") and "Traceback" not in result.output


def test_memory_as_data_dir_holds_nothing_in_a_fresh_process(tmp_path):
    """`--data-dir :memory:` is the memory backend: in a new process no patch is open there."""
    assert data(":memory:", "ls").stdout == "No stored patch data in :memory:.\n"
    result = data(":memory:", "show", "demo")
    assert result.exit_code == 2 and "no stored data for patch 'demo' in :memory:" in result.stderr


def test_the_data_dir_defaults_to_patchflow_data_dir(data_dir, monkeypatch):
    monkeypatch.setenv("PATCHFLOW_DATA_DIR", str(data_dir))
    result = CliRunner().invoke(main, ["data", "ls"])
    assert result.stdout.splitlines()[1].startswith("demo ")


# ---- show ------------------------------------------------------------------------------------


def test_show_lists_the_stores_with_keys_and_collections(data_dir):
    result = data(data_dir, "show", "demo")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines() == [
        "STORE           KEYS  COLLECTIONS (DOCUMENTS)",
        "local history      0  runs (2)",
        "local kv-1         2  -",
        "local old-box      1  -",
        "named old-box      1  -",
        "named settings     1  -",
    ]


def test_show_a_store_prints_its_keys_with_values_and_bytes_as_sizes(data_dir):
    result = data(data_dir, "show", "demo", "--local", "kv-1")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == 'local store \'kv-1\': 2 keys\n  "blob": "<3 bytes>"\n  "count": 3\n'
    named = data(data_dir, "show", "demo", "--store", "settings").stdout
    assert named == "named store 'settings': 1 key\n  \"volume\": 0.8\n"
    history = data(data_dir, "show", "demo", "--local", "history").stdout
    assert history.splitlines()[-2:] == ["collections: 1", "  runs: 2 documents"]


def test_show_a_collection_prints_its_documents_in_insertion_order(data_dir):
    result = data(data_dir, "show", "demo", "--local", "history", "--collection", "runs")
    assert result.exit_code == 0, result.stderr
    first, *rest = result.stdout.split("\n{")
    assert first == "collection 'runs' of local store 'history': 2 documents"
    docs = [json.loads("{" + text) for text in rest]
    assert [doc["n"] for doc in docs] == [1, 2] and docs[1]["tags"] == ["a"]


def test_show_json_is_machine_readable_and_keeps_bytes(data_dir):
    overview = json.loads(data(data_dir, "show", "demo", "--json").stdout)
    assert overview["patch"] == "demo"
    assert {key: overview["stores"][0][key] for key in ("store", "keys", "collections")} == {
        "store": {"local": "history"},
        "keys": 0,
        "collections": {"runs": 2},
    }
    store = json.loads(data(data_dir, "show", "demo", "--local", "kv-1", "--json").stdout)
    assert store["kv"] == {"blob": {"$bytes": "AAEC"}, "count": 3}
    docs = json.loads(
        data(
            data_dir, "show", "demo", "--local", "history", "--collection", "runs", "--json"
        ).stdout
    )
    assert [doc["n"] for doc in docs["docs"]] == [1, 2]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nope"], "no stored data for patch 'nope' in "),
        (["../x"], "invalid patch id '../x'"),
        (["demo", "--store", "nope"], "patch 'demo' has no named store 'nope'; its stores: "),
        (["demo", "--local", "settings"], "has no local store 'settings'"),
        (["demo", "--store", "a", "--local", "b"], "not both"),
        (["demo", "--collection", "runs"], "--collection needs the store"),
        (["demo", "--local", "history", "--collection", "x"], "has no collection 'x'"),
    ],
)
def test_show_exits_2_with_a_message_for_what_is_not_there(data_dir, args, message):
    result = data(data_dir, "show", *args)
    assert result.exit_code == 2
    assert message in result.stderr and "Traceback" not in result.output


# ---- export and import -----------------------------------------------------------------------


def test_export_writes_a_dump_to_stdout(data_dir):
    lines = [json.loads(line) for line in data(data_dir, "export", "demo").stdout.splitlines()]
    now = FORMAT_VERSION
    assert lines[0] == {"patchflow": "dump", "format": 1, "patch": "demo", "storage_format": now}
    assert lines[-1] == {"patchflow": "end", "records": len(lines) - 2}
    assert {
        "kind": "kv",
        "store": {"local": "kv-1"},
        "key": "blob",
        "value": {"$bytes": "AAEC"},
    } in (lines)


def test_export_to_a_file_and_import_it_into_another_patch_reproduces_the_data(data_dir, tmp_path):
    dump_file = tmp_path / "demo.jsonl"
    assert data(data_dir, "export", "demo", "-o", str(dump_file)).exit_code == 0
    assert sorted(os.listdir(tmp_path)) == ["data", "demo.jsonl"]  # no temporary file left
    result = data(data_dir, "import", "copy", str(dump_file))
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "Imported 5 keys, 1 collection and 2 documents into patch 'copy'.\n"
    assert records(data_dir, "copy") == records(data_dir, "demo")


def test_export_piped_into_import_between_processes(data_dir):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    base = [sys.executable, "-m", "patchflow", "data"]
    exporter = subprocess.Popen(
        [*base, "export", "demo", "--data-dir", str(data_dir)], stdout=subprocess.PIPE, env=env
    )
    importer = subprocess.run(
        [*base, "import", "piped", "--data-dir", str(data_dir)],
        stdin=exporter.stdout,
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    exporter.stdout.close()
    assert exporter.wait(timeout=60) == 0
    assert importer.returncode == 0, importer.stderr
    assert "Traceback" not in importer.stderr
    assert records(data_dir, "piped") == records(data_dir, "demo")


values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats()
    | st.text()
    | st.binary(),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(st.text(max_size=5) | st.sampled_from(["$bytes", "$escape"]), children)
    ),
    max_leaves=12,
)


@settings(max_examples=25, deadline=None)
@given(kv=st.dictionaries(st.text(max_size=10), values, max_size=5), doc=values)
def test_a_round_trip_through_the_cli_keeps_every_value_exactly(kv, doc):
    import tempfile

    with tempfile.TemporaryDirectory() as directory:

        async def fill() -> None:
            with open_storage("source", directory) as storage:
                for key, value in kv.items():
                    await storage.kv(name="values").set(key, value)
                await storage.db(local="db-1").insert("docs", {"value": doc})

        trio.run(fill)
        exported = data(directory, "export", "source")
        assert exported.exit_code == 0, exported.stderr
        imported = data(directory, "import", "target", input=exported.stdout_bytes)
        assert imported.exit_code == 0, imported.stderr

        def raw(patch: str) -> list[tuple[bytes, bytes]]:
            backend = LmdbBackend(Path(directory) / patch, SPACES)
            try:
                return backend.read(
                    lambda txn: [
                        (space, key, value[:8] if space == "collections" else value)
                        for space in SPACES
                        if space != "changes"  # the change log for watchers: not data
                        for key, value in txn.scan(space, b"")
                        if (space, key) != ("meta", b"changes")
                    ]
                )
            finally:
                backend.close()

        # byte for byte: same keys, values and types (a collection's stamp is fresh)
        assert raw("target") == raw("source")


def test_import_merges_by_default_and_replace_clears_first(data_dir, tmp_path):
    seed(data_dir, "small")
    dump_file = tmp_path / "d.jsonl"

    async def change() -> None:
        with open_storage("small", data_dir) as storage:
            await storage.kv(name="settings").clear()
            await storage.kv(name="settings").set("only", 1)

    trio.run(change)
    data(data_dir, "export", "small", "-o", str(dump_file))
    assert data(data_dir, "import", "demo", str(dump_file)).exit_code == 0
    after_merge = json.loads(data(data_dir, "show", "demo", "--store", "settings", "--json").stdout)
    assert after_merge["kv"] == {"only": 1, "volume": 0.8}
    assert data(data_dir, "import", "demo", str(dump_file), "--replace").exit_code == 0
    assert records(data_dir, "demo") == records(data_dir, "small")


def broken_dumps(data_dir) -> dict[str, bytes]:
    good = data(data_dir, "export", "demo").stdout_bytes
    lines = good.splitlines(keepends=True)
    return {
        "truncated at a line": b"".join(lines[:-1]),
        "truncated mid-line": good[: len(good) - len(lines[-1]) - 20],
        "corrupted byte": good.replace(b'"count"', b'"co\xffnt"'),
        "corrupted json": good.replace(b'"n": 2', b'"n": 2,,'),
        "corrupted value": good.replace(b'"AAEC"', b'"A!EC"'),
    }


@pytest.mark.parametrize(
    "kind",
    [
        "truncated at a line",
        "truncated mid-line",
        "corrupted byte",
        "corrupted json",
        "corrupted value",
    ],
)
def test_a_truncated_or_corrupted_dump_changes_nothing(data_dir, tmp_path, kind):
    seed(data_dir, "target")
    broken = tmp_path / "broken.jsonl"
    broken.write_bytes(broken_dumps(data_dir)[kind])
    before = records(data_dir, "target")
    for replace in ([], ["--replace"]):
        result = data(data_dir, "import", "target", str(broken), *replace)
        assert result.exit_code == 2
        assert result.stderr.startswith(f"{broken}:")
        assert result.stderr.split(":")[1].isdigit() and "Traceback" not in result.output
    assert records(data_dir, "target") == before
    # into a patch that had no storage: none is left behind
    assert data(data_dir, "import", "fresh", input=broken.read_bytes()).exit_code == 2
    assert "fresh" not in data(data_dir, "ls").stdout
    assert not (data_dir / "fresh").exists()


def test_a_bad_line_on_stdin_is_reported_as_stdin(data_dir):
    result = data(data_dir, "import", "demo", input=b"[]\n")
    assert result.exit_code == 2
    assert result.stderr.startswith("<stdin>:1: not a patchflow dump")


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["export", "nope"], 2, "no stored data for patch 'nope'"),
        (["export", "demo", "-o", "/no/such/dir/x.jsonl"], 2, "no directory /no/such/dir"),
        (["import", "demo", "/no/such/file"], 2, "cannot read /no/such/file"),
        (["import", ".hidden"], 2, "invalid patch id"),
        (["backup", "nope", "/tmp/x"], 2, "no stored data"),
        (["rm", "nope"], 2, "no stored data"),
        (["gc", "nope", "--patch-file", "x.patch"], 2, "no stored data"),
    ],
)
def test_unknown_patches_and_bad_paths_exit_2_with_a_message(data_dir, args, code, message):
    result = data(data_dir, *args)
    assert result.exit_code == code
    assert message in result.stderr and "Traceback" not in result.output


# ---- backup ----------------------------------------------------------------------------------


def test_backup_makes_a_copy_that_opens_as_patch_storage(data_dir, tmp_path):
    destination = tmp_path / "backups" / "demo"
    destination.parent.mkdir()
    result = data(data_dir, "backup", "demo", str(destination))
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith(f"Backed up patch 'demo' to {destination}: 5 keys, 2 documents")
    assert records(destination.parent, "demo") == records(data_dir, "demo")


def test_backup_refuses_a_destination_that_is_not_new_and_empty(data_dir, tmp_path):
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("x")
    (tmp_path / "file").write_text("x")
    for destination, message in [
        (tmp_path / "full", "is not empty"),
        (tmp_path / "file", "is not a directory"),
        (tmp_path / "no" / "such", "cannot create backup directory"),
    ]:
        result = data(data_dir, "backup", "demo", str(destination))
        assert result.exit_code == 2 and message in result.stderr
    assert (tmp_path / "full" / "x").read_text() == "x"


WRITER = """
import sys, trio
from patchflow.storage import open_storage
from patchflow.storage.backends.lmdb_admin import LmdbLocation
async def main():
    # a small first map, so that the writer grows it while the backup runs
    location = LmdbLocation(sys.argv[1], initial_map_size=64 << 10)
    with open_storage("live", storage=location) as storage:
        kv = storage.kv(name="s")
        for index in range(1_000_000):
            await kv.set(f"k{index:07}", ["x" * 200, index])
            print(index, flush=True)
trio.run(main)
"""


@pytest.mark.slow
def test_a_backup_taken_while_a_writer_runs_holds_every_committed_key(tmp_path):
    data_dir, destination = tmp_path / "data", tmp_path / "backup"
    writer = python(WRITER, str(data_dir), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        for _ in range(300):  # wait until it has committed 300 keys
            committed = int(writer.stdout.readline())
        result = data(data_dir, "backup", "live", str(destination))
        assert writer.poll() is None, "the writer should still be running"
    finally:
        writer.kill()
        writer.communicate()
    assert result.exit_code == 0, result.stderr
    backend = LmdbBackend(destination, SPACES)
    try:
        prefix = StoreRef.named("s").prefix
        found = backend.read(lambda txn: [key for key, _ in txn.scan("kv", prefix)])
    finally:
        backend.close()
    numbers = [int(key[len(prefix) + 1 :]) for key in found]
    assert numbers == list(range(len(numbers)))  # a consistent prefix of the writes
    assert len(numbers) > committed  # every key committed before the backup began


# ---- rm --------------------------------------------------------------------------------------

PROMPT = "This patch has stored data (5 keys, 2 documents, {} MB). Delete it? [y/N] "


@pytest.mark.parametrize("answer", ["y\n", "yes\n", "Y\n"])
def test_rm_deletes_when_the_answer_is_yes(data_dir, answer):
    result = data(data_dir, "rm", "demo", input=answer)
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "Deleted the stored data of patch 'demo'.\n"
    assert not (data_dir / "demo").exists()


@pytest.mark.parametrize("answer", ["n\n", "\n", "", "maybe\n"], ids=["n", "empty", "EOF", "other"])
def test_rm_keeps_the_data_on_no_an_empty_answer_or_end_of_input(data_dir, answer):
    before = records(data_dir)
    result = data(data_dir, "rm", "demo", input=answer)
    assert result.exit_code == 0
    assert result.stdout == "Not deleted.\n"
    size = result.stderr.split(", ")[2].split()[0]
    assert result.stderr.rstrip("\n") == PROMPT.format(size).rstrip("\n")
    assert float(size) >= 0 and len(size.split(".")[1]) == 1
    assert records(data_dir) == before


def test_rm_yes_deletes_without_asking(data_dir):
    result = data(data_dir, "rm", "demo", "--yes")
    assert result.exit_code == 0 and result.stderr == ""
    assert data(data_dir, "ls").stdout.startswith("No stored patch data")


HOLDER = """
import sys
from patchflow.storage import open_storage
with open_storage("demo", sys.argv[1]):
    print("open", flush=True)
    sys.stdin.readline()
"""


@pytest.mark.slow
def test_rm_refuses_while_another_process_has_the_patch_open(data_dir):
    holder = python(HOLDER, str(data_dir), stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        assert holder.stdout.readline() == "open\n"
        result = data(data_dir, "rm", "demo", "--yes")
        assert result.exit_code == 1
        assert "is open in another process" in result.stderr and "Traceback" not in result.output
        assert data(data_dir, "rm", "demo", input="y\n").exit_code == 1  # before it asks
        assert (data_dir / "demo" / "data.mdb").exists()
    finally:
        holder.communicate("\n", timeout=60)
    assert data(data_dir, "rm", "demo", "--yes").exit_code == 0
    assert not (data_dir / "demo").exists()


# ---- gc --------------------------------------------------------------------------------------

PATCH_FILE = """patch demo
history = [py]
    await kv.set("n", 1)
[loadbang] -> [kv] -> [kv settings] -> history
"""


@pytest.fixture
def patch_file(tmp_path) -> Path:
    path = tmp_path / "demo.patch"
    path.write_text(PATCH_FILE)
    return path


def test_gc_lists_orphaned_local_stores_and_deletes_them_on_yes(data_dir, patch_file):
    result = data(data_dir, "gc", "demo", "--patch-file", str(patch_file), input="y\n")
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == f"Local stores of boxes not in {patch_file}:"
    assert lines[1].startswith("  old-box: 1 key, 0 collections (0 documents), ")
    assert lines[2] == "Deleted 1 orphaned local store."
    assert result.stderr == "Delete 1 orphaned local store? [y/N] "
    # the named store of the same name, and local stores of boxes in the file, stay
    assert stores(data_dir) == {
        StoreRef.local("history"),
        StoreRef.local("kv-1"),
        StoreRef.named("old-box"),
        StoreRef.named("settings"),
    }


@pytest.mark.parametrize("answer", ["n\n", ""], ids=["n", "EOF"])
def test_gc_keeps_everything_unless_the_answer_is_yes(data_dir, patch_file, answer):
    before = records(data_dir)
    result = data(data_dir, "gc", "demo", "--patch-file", str(patch_file), input=answer)
    assert result.exit_code == 0
    assert result.stdout.splitlines()[-1] == "Not deleted."
    assert records(data_dir) == before


def test_gc_yes_deletes_every_orphan_without_asking_and_never_a_named_store(data_dir, tmp_path):
    bare = tmp_path / "demo.patch"
    bare.write_text("[loadbang] -> [print]\n")  # no box owns any store now
    result = data(data_dir, "gc", "demo", "--patch-file", str(bare), "--yes")
    assert result.exit_code == 0 and result.stderr == ""
    assert result.stdout.splitlines()[-1] == "Deleted 3 orphaned local stores."
    assert stores(data_dir) == {StoreRef.named("old-box"), StoreRef.named("settings")}
    again = data(data_dir, "gc", "demo", "--patch-file", str(bare))
    assert again.stdout.startswith("No orphaned local stores")


@pytest.mark.parametrize(
    ("text", "name", "message"),
    [
        ("[loadbang -> [print]\n", "demo.patch", "demo.patch:1:1: unclosed '['"),
        ("[print]\n", "other.patch", "is patch 'other', not 'demo'"),
        (None, "missing.patch", "cannot read patch file"),
    ],
)
def test_gc_exits_2_for_a_patch_file_it_cannot_trust(data_dir, tmp_path, text, name, message):
    path = tmp_path / name
    if text is not None:
        path.write_text(text)
    before = records(data_dir)
    result = data(data_dir, "gc", "demo", "--patch-file", str(path), "--yes")
    assert result.exit_code == 2
    assert message in result.stderr and "Traceback" not in result.output
    assert records(data_dir) == before


# ---- help, start-up and the progress bar -----------------------------------------------------


def test_every_data_command_and_option_is_documented_in_help():
    runner = CliRunner()
    commands = {"ls", "show", "export", "import", "backup", "migrate", "rm", "gc"}
    assert set(data_group.commands) == commands
    for name, command in data_group.commands.items():
        text = runner.invoke(main, ["data", name, "--help"]).stdout
        assert command.help and command.help.split("\n")[0] in text
        for param in command.params:
            if isinstance(param, click.Option):
                assert param.help, f"{name} {param.opts}"
                assert all(opt in text for opt in param.opts), f"{name} {param.opts}"
    assert "--data-dir" in runner.invoke(main, ["data", "ls", "--help"]).stdout


def test_the_cli_does_not_import_rich_at_start_up_or_without_a_terminal(data_dir):
    code = (
        "import sys\n"
        "from patchflow.cli import main\n"
        "assert 'rich' not in sys.modules\n"
        "main(['data', 'export', 'demo', '--data-dir', sys.argv[1], '-o', sys.argv[2]],"
        " standalone_mode=False)\n"
        "print('rich' in sys.modules)\n"
    )
    process = python(code, str(data_dir), str(data_dir / "out.jsonl"), stdout=subprocess.PIPE)
    assert process.communicate(timeout=60)[0] == "False\n"


@pytest.mark.slow
def test_export_and_import_show_a_progress_bar_on_a_terminal(data_dir, tmp_path):
    pty = pytest.importorskip("pty")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TERM": "xterm", "COLUMNS": "100"}
    dump_file = str(tmp_path / "d.jsonl")
    for args, label in [
        (["export", "demo", "-o", dump_file], b"Exporting"),
        (["import", "copy", dump_file], b"Importing"),
    ]:
        master, slave = pty.openpty()
        process = subprocess.Popen(
            [sys.executable, "-m", "patchflow", "data", *args, "--data-dir", str(data_dir)],
            stdout=subprocess.DEVNULL,
            stderr=slave,
            env=env,
        )
        os.close(slave)
        seen = b""
        with contextlib.suppress(OSError):  # EIO once the process has closed the terminal
            while chunk := os.read(master, 4096):
                seen += chunk
        os.close(master)
        assert process.wait(timeout=60) == 0
        assert label in seen
    assert records(data_dir, "copy") == records(data_dir, "demo")


# ---- names that could rewrite the terminal ---------------------------------------------------

EVIL = "a\x1b[2J\nb\t\x7f\x9b\u202e\u2028"  # ESC sequence, newline, tab, DEL, C1 CSI, bidi, LS


def test_show_escapes_unprintable_characters_in_names_keys_and_values(tmp_path):
    async def fill() -> None:
        with open_storage("demo", tmp_path) as storage:
            await storage.kv(name=EVIL).set(EVIL, EVIL)
            await storage.db(local=EVIL).insert(EVIL, {EVIL: EVIL})

    trio.run(fill)
    outputs = [
        data(tmp_path, "show", "demo"),
        data(tmp_path, "show", "demo", "--store", EVIL),
        data(tmp_path, "show", "demo", "--local", EVIL),
        data(tmp_path, "show", "demo", "--local", EVIL, "--collection", EVIL),
        data(tmp_path, "show", "demo", "--store", "nope"),  # the error lists the stores
    ]
    for result in outputs:
        text = result.stdout + result.stderr
        assert all(char.isprintable() or char == "\n" for char in text), repr(text)
    overview = outputs[0].stdout.splitlines()
    assert "named a\\x1b[2J\\nb\\t\\x7f\\x9b\\u202e\\u2028" in overview[2]
    assert "local a\\x1b[2J\\nb\\t\\x7f\\x9b\\u202e\\u2028" in overview[1]
    store = outputs[1].stdout.splitlines()
    escaped = '"a\\u001b[2J\\nb\\t\\u007f\\u009b\\u202e\\u2028"'  # still a JSON string
    assert store[1] == f"  {escaped}: {escaped}"
    # JSON for people stays JSON, meaning the same values
    docs = outputs[3].stdout.split("\n", 1)[1]
    assert json.loads(docs)[EVIL] == EVIL
    assert "its stores: local a\\x1b[2J" in outputs[4].stderr


def test_show_and_ls_json_keep_names_exactly(tmp_path):
    async def fill() -> None:
        with open_storage("demo", tmp_path) as storage:
            await storage.kv(name=EVIL).set(EVIL, 1)

    trio.run(fill)
    overview = json.loads(data(tmp_path, "show", "demo", "--json").stdout)
    assert overview["stores"][0]["store"] == {"name": EVIL}
    store = json.loads(data(tmp_path, "show", "demo", "--store", EVIL, "--json").stdout)
    assert store["kv"] == {EVIL: 1}
    assert json.loads(data(tmp_path, "ls", "--json").stdout)[0]["patch"] == "demo"
