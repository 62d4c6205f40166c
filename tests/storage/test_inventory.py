"""Inventories (`storage/inventory.py`): what a patch stores, per store and in total; deleting
stores and whole patches; backups of a live patch."""

from __future__ import annotations

import pytest
import trio

from patchflow.storage import StoreRef, open_storage
from patchflow.storage import inventory as inv


@pytest.fixture
def seeded(storage):
    """Storage holding kv keys in a local and a named store and a collection of three docs."""

    async def fill() -> None:
        await storage.kv(local="kv-1").set("count", 3)
        await storage.kv(name="s").set("blob", b"\x00\x01")
        db = storage.db(local="history")
        for n in (1, 2, 3):
            await db.insert("runs", {"n": n})

    trio.run(fill)
    return storage.backend


def test_inventory_lists_each_store_with_its_keys_collections_and_bytes(seeded):
    found = {stats.store: stats for stats in inv.inventory(seeded)}
    assert list(found) == [StoreRef.local("history"), StoreRef.local("kv-1"), StoreRef.named("s")]
    assert found[StoreRef.local("history")].collections == (("runs", 3),)
    assert found[StoreRef.local("history")].documents == 3
    assert found[StoreRef.local("kv-1")].keys == 1 and found[StoreRef.local("kv-1")].size > 0
    assert inv.totals(seeded) == inv.Totals(keys=2, collections=1, documents=3)


def test_an_empty_collection_still_counts(storage):
    async def fill() -> None:
        db = storage.db(name="d")
        doc_id = await db.insert("empty", {})
        await db.delete("empty", doc_id)

    trio.run(fill)
    (stats,) = inv.inventory(storage.backend)
    assert stats.collections == (("empty", 0),)


def test_delete_stores_removes_only_those_stores(seeded):
    inv.delete_stores(seeded, [StoreRef.local("history")])
    assert [stats.store for stats in inv.inventory(seeded)] == [
        StoreRef.local("kv-1"),
        StoreRef.named("s"),
    ]


def test_reading_one_store_and_one_collection(seeded):
    assert inv.read_store(seeded, StoreRef.named("s")) == [("blob", b"\x00\x01")]
    docs = inv.read_collection(seeded, StoreRef.local("history"), "runs")
    assert [doc["n"] for doc in docs] == [1, 2, 3]
    assert inv.read_collection(seeded, StoreRef.local("history"), "nope") is None


def test_patches_are_the_directories_holding_storage(tmp_path):
    for name in ("b", "a"):
        open_storage(name, tmp_path).close()
    (tmp_path / "not-a-patch").mkdir()
    open_storage("a", tmp_path / "x").close()
    (tmp_path / "x" / "a").rename(tmp_path / "bad id")  # storage, but no patch id names it
    (tmp_path / "file").write_text("x")
    assert inv.list_patches(str(tmp_path)) == ["a", "b"]
    assert inv.list_patches(str(tmp_path / "missing")) == []
    with pytest.raises(inv.BadPath, match="not a directory"):
        inv.list_patches(str(tmp_path / "file"))
    directory = inv.patch_directory(str(tmp_path), "a")
    assert inv.disk_usage(directory) > 0 and inv.last_write(directory) > 0


def test_storage_open_in_this_process_cannot_be_deleted(tmp_path):
    with (
        open_storage("open", tmp_path),
        pytest.raises(inv.StorageBusy, match="open in this process"),
    ):
        inv.delete_patch(str(tmp_path / "open"))
    inv.delete_patch(str(tmp_path / "open"))
    assert not (tmp_path / "open").exists()


def test_a_backup_needs_a_new_or_empty_directory(tmp_path):
    with open_storage("p", tmp_path / "data") as storage:
        trio.run(storage.kv(name="s").set, "k", "v")
        (tmp_path / "full").mkdir()
        (tmp_path / "full" / "x").write_text("x")
        with pytest.raises(inv.BadPath, match="not empty"):
            inv.backup(storage.backend, str(tmp_path / "full"))
        with pytest.raises(inv.BadPath, match="cannot create"):
            inv.backup(storage.backend, str(tmp_path / "no" / "such"))
        (tmp_path / "empty").mkdir()
        assert inv.backup(storage.backend, str(tmp_path / "empty")) == inv.Totals(1, 0, 0)
    with open_storage("empty", tmp_path) as copy:
        assert trio.run(copy.kv(name="s").get, "k") == "v"
