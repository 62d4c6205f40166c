"""Inventories (`storage/inventory.py`): what a patch stores, per store and in total, read over
the backend protocol on every backend; deleting stores."""

from __future__ import annotations

import pytest
import trio

from patchflow.storage import StoreRef
from patchflow.storage.layout import inventory as inv


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
