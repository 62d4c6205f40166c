"""LMDB storage as a location (`storage/lmdb_admin.py`): patch directories, their usage,
deleting one unless it is open, and backups of a live patch."""

from __future__ import annotations

import pytest
import trio

from patchflow.storage import SPACES, StorageBusy, open_storage
from patchflow.storage.backends.lmdb_admin import LmdbLocation
from patchflow.storage.backends.protocol import BadPath
from patchflow.storage.layout.inventory import Totals, totals


def test_patches_are_the_directories_holding_storage(tmp_path):
    for name in ("b", "a"):
        open_storage(name, tmp_path).close()
    (tmp_path / "not-a-patch").mkdir()
    open_storage("a", tmp_path / "x").close()
    (tmp_path / "x" / "a").rename(tmp_path / "bad id")  # storage, but no patch id names it
    (tmp_path / "file").write_text("x")
    assert LmdbLocation(tmp_path).patches() == ["a", "b"]
    assert LmdbLocation(tmp_path / "missing").patches() == []
    with pytest.raises(BadPath, match="not a directory"):
        LmdbLocation(tmp_path / "file").patches()
    usage = LmdbLocation(tmp_path).usage("a")
    assert usage.size > 0 and usage.last_write is not None and usage.last_write > 0


def test_storage_open_in_this_process_cannot_be_deleted(tmp_path):
    location = LmdbLocation(tmp_path)
    with (
        open_storage("open", tmp_path),
        pytest.raises(StorageBusy, match="open in this process"),
    ):
        location.delete("open")
    location.delete("open")
    assert not (tmp_path / "open").exists()


def test_a_size_hint_sizes_the_map_of_new_storage_up_front(tmp_path):
    location = LmdbLocation(tmp_path, initial_map_size=64 << 10)
    small = location.open("small", SPACES)
    big = location.open("big", SPACES, size_hint=3 << 20)
    try:
        assert small.map_size == 64 << 10
        assert big.map_size == 4 << 20  # the next power of two
    finally:
        small.close()
        big.close()


def checked(copy) -> Totals:
    return totals(copy)


def test_a_backup_needs_a_new_or_empty_directory(tmp_path):
    location = LmdbLocation(tmp_path / "data")
    with open_storage("p", storage=location) as storage:
        trio.run(storage.kv(name="s").set, "k", "v")
        (tmp_path / "full").mkdir()
        (tmp_path / "full" / "x").write_text("x")
        with pytest.raises(BadPath, match="not empty"):
            location.backup("p", str(tmp_path / "full"), SPACES, checked)
        with pytest.raises(BadPath, match="cannot create"):
            location.backup("p", str(tmp_path / "no" / "such"), SPACES, checked)
        (tmp_path / "empty").mkdir()
        assert location.backup("p", str(tmp_path / "empty"), SPACES, checked) == Totals(1, 0, 0)
    with open_storage("empty", tmp_path) as copy:
        assert trio.run(copy.kv(name="s").get, "k") == "v"


def test_a_backup_whose_check_fails_leaves_nothing(tmp_path):
    location = LmdbLocation(tmp_path / "data")
    open_storage("p", storage=location).close()

    def refuse(copy):
        raise ValueError("no")

    with pytest.raises(ValueError, match="no"):
        location.backup("p", str(tmp_path / "copy"), SPACES, refuse)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["data"]
