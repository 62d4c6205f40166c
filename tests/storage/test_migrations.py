"""Format versions and migrations (storage.md): old storage is refused until migrated, newer
storage is refused, `patchflow data migrate` backs up and upgrades, a current store is left as is.

The format-1 store is `fixtures/format1-store.mdb.gz`, written by the last format-1 release's
own code (`fixtures/make_format1_store.py` says how): a store written by this checkout with its
version number patched to 1 would already have this release's spaces, so it would not show
that a real format-1 store migrates.
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
from pathlib import Path

import pytest
import trio
from click.testing import CliRunner

from patchflow.datacli import data
from patchflow.datacli.migrate import _backup
from patchflow.errors import StorageError
from patchflow.storage import FORMAT_VERSION, SPACES, encode, open_storage
from patchflow.storage.backends.lmdb_admin import LmdbLocation
from patchflow.storage.backends.lmdb_backend import LmdbBackend
from patchflow.storage.backends.memory_backend import MemoryLocation
from patchflow.storage.layout import migrations
from patchflow.storage.layout.keys import FORMAT_KEY, META, OldFormat, read_format_version

FIXTURE = Path(__file__).parent / "fixtures" / "format1-store.mdb.gz"


@pytest.fixture
def old_store(tmp_path) -> Path:
    """A data directory holding patch `format1`, as the format-1 release wrote it."""
    store = tmp_path / "data" / "format1"
    store.mkdir(parents=True)
    with gzip.open(FIXTURE, "rb") as packed, open(store / "data.mdb", "wb") as out:
        shutil.copyfileobj(packed, out)
    return tmp_path / "data"


def _data(*args: str):
    return CliRunner().invoke(data, list(args))


def _recorded(path: Path) -> object:
    backend = LmdbBackend(path, (META,))
    try:
        return backend.read(read_format_version)
    finally:
        backend.close()


def test_the_fixture_is_format_1():
    assert FORMAT_VERSION == 2
    assert set(migrations.STEPS) == set(range(1, FORMAT_VERSION))


def test_opening_an_old_store_says_to_migrate_it(old_store):
    with pytest.raises(OldFormat, match=r"format version 1, written by an older patchflow;"):
        open_storage("format1", old_store)
    with pytest.raises(StorageError, match=r"Run `patchflow data migrate format1`"):
        open_storage("format1", old_store)


def test_data_commands_on_an_old_store_fail_with_exit_1_saying_what_to_run(old_store):
    done = _data("show", "format1", "--data-dir", str(old_store))
    assert done.exit_code == 1
    assert "patchflow data migrate format1" in done.output


def test_migrate_backs_up_then_upgrades_a_format_1_store(old_store):
    done = _data("migrate", "format1", "--data-dir", str(old_store))
    assert done.exit_code == 0, done.output
    backups = [path for path in old_store.iterdir() if path.name.startswith("format1~")]
    assert len(backups) == 1
    backup = backups[0]
    assert backup.name.startswith("format1~backup-format-1-")
    assert f"to {backup}" in done.output
    assert "Format 1 → 2: adds the expiry (ttl) and index spaces." in done.output
    assert "Migrated patch 'format1' from format 1 to 2 (1 step)." in done.output
    assert _recorded(backup) == 1  # the backup is the old store, untouched
    assert _recorded(old_store / "format1") == FORMAT_VERSION

    with open_storage("format1", old_store) as storage:  # opens now, with everything in it
        counter = storage.kv(name="counter")
        assert trio.run(counter.get, "count") == 41
        assert trio.run(counter.get, "blob") == b"\x00\xff"
        assert trio.run(counter.get, "nested") == {"a": [1, 2.5, None, True], "ü": "ünïcode"}
        assert trio.run(storage.kv(local="kv-1").get, "mine") == "local value"
        notes = storage.db(name="notes")
        assert trio.run(notes.find_one, "notes", "n1")["text"] == "first"
        assert trio.run(notes.find_one, "notes", "n2")["text"] == "second, edited"
        assert trio.run(notes.find_one, "notes", "n3") is None  # deleted before the migration
        assert trio.run(notes.find_one, "tags", "t1")["tag"] == "x"
        trio.run(counter.set, "count", 42)  # and it can be written, in the new format
        trio.run(notes.insert, "notes", {"_id": "n4", "text": "after"})
        assert trio.run(notes.find_one, "notes", "n4")["text"] == "after"

    listed = _data("ls", "--json", "--data-dir", str(old_store))
    assert listed.exit_code == 0, listed.output  # the backup is not taken for a patch
    assert [row["patch"] for row in json.loads(listed.output)] == ["format1"]


def test_migrating_a_current_store_says_so_and_writes_nothing(old_store):
    assert _data("migrate", "format1", "--data-dir", str(old_store)).exit_code == 0
    data_file = old_store / "format1" / "data.mdb"
    before = (data_file.read_bytes(), data_file.stat().st_mtime_ns, sorted(os.listdir(old_store)))
    done = _data("migrate", "format1", "--data-dir", str(old_store))
    assert done.exit_code == 0
    assert done.output == (
        "Patch 'format1' is already in format 2, the current one; nothing to migrate.\n"
    )
    after = (data_file.read_bytes(), data_file.stat().st_mtime_ns, sorted(os.listdir(old_store)))
    assert after == before


def test_migrate_refuses_a_store_of_a_newer_release_naming_both_versions(tmp_path):
    with open_storage("newer", tmp_path) as storage:
        storage.backend.write(lambda txn: txn.put(META, FORMAT_KEY, encode(FORMAT_VERSION + 1)))
    done = _data("migrate", "newer", "--data-dir", str(tmp_path))
    assert done.exit_code == 1
    assert f"format version {FORMAT_VERSION + 1}, written by a newer patchflow" in done.output
    assert f"reads format {FORMAT_VERSION} at most" in done.output
    assert sorted(os.listdir(tmp_path)) == ["newer"]  # no backup either


def test_migrate_refuses_a_store_that_is_open(old_store):
    holder = LmdbBackend(old_store / "format1", (META,))
    try:
        done = _data("migrate", "format1", "--data-dir", str(old_store))
    finally:
        holder.close()
    assert done.exit_code == 1
    assert "is open" in done.output
    assert _recorded(old_store / "format1") == 1
    assert sorted(os.listdir(old_store)) == ["format1"]


def test_migrate_of_a_patch_without_data_is_a_usage_error(tmp_path):
    done = _data("migrate", "nothing", "--data-dir", str(tmp_path))
    assert done.exit_code == 2
    assert "no stored data for patch 'nothing'" in done.output


# ---- the steps, on every backend ---------------------------------------------------------------


@pytest.fixture(params=["lmdb", "memory"])
def old_backend(request, tmp_path):
    """A backend holding a store recorded as format 1, with one kv key."""
    location = LmdbLocation(tmp_path) if request.param == "lmdb" else MemoryLocation()
    backend = location.open("old", SPACES)

    def write(txn):
        txn.put(META, FORMAT_KEY, encode(1))
        txn.put("kv", b"Ns\0k", encode("v"))

    backend.write(write)
    yield backend
    backend.close()


def test_migrate_runs_each_step_and_records_the_version(old_backend):
    seen = []
    done = migrations.migrate(old_backend, on_step=seen.append)
    assert [step.source for step in done] == [1] == [step.source for step in seen]
    assert old_backend.read(read_format_version) == FORMAT_VERSION
    assert old_backend.get("kv", b"Ns\0k") == encode("v")
    assert migrations.migrate(old_backend) == []  # current: nothing to do


def test_a_failing_step_stores_nothing_and_keeps_the_old_version(old_backend, monkeypatch):
    def half_then_fail(txn):
        txn.put("kv", b"Ns\0half", encode("written"))
        raise RuntimeError("step failed")

    monkeypatch.setitem(migrations.STEPS, 1, migrations.Step(1, "fails", half_then_fail))
    with pytest.raises(RuntimeError, match="step failed"):
        migrations.migrate(old_backend)
    assert old_backend.read(read_format_version) == 1
    assert old_backend.get("kv", b"Ns\0half") is None


def test_a_version_no_release_wrote_has_no_migration(old_backend):
    old_backend.write(lambda txn: txn.put(META, FORMAT_KEY, encode(0)))
    with pytest.raises(migrations.MigrationError, match="no migration from format version 0"):
        migrations.migrate(old_backend)


def test_a_location_without_a_native_backup_is_backed_up_as_a_dump(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    location = MemoryLocation()
    backend = location.open("old", SPACES)
    try:
        backend.write(lambda txn: txn.put("kv", b"Ns\0k", encode("v")))
        where = _backup(location, "old", 1)
    finally:
        backend.close()
    assert where.startswith("old~backup-format-1-") and where.endswith(".jsonl")
    lines = [json.loads(line) for line in (tmp_path / where).read_text().splitlines()]
    assert lines[0]["patchflow"] == "dump"
    assert [(line["kind"], line["key"], line["value"]) for line in lines[1:-1]] == [
        ("kv", "k", "v")
    ]


def test_an_old_store_can_be_backed_up_before_migrating(old_store, tmp_path):
    (tmp_path / "saved").mkdir()
    dest = tmp_path / "saved" / "format1"
    done = _data("backup", "format1", str(dest), "--data-dir", str(old_store))
    assert done.exit_code == 0, done.output
    assert _recorded(dest) == 1  # a copy of the old store, still format 1
    assert _recorded(old_store / "format1") == 1  # and the original untouched
