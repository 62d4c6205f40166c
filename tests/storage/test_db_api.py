"""The Python `DB` API (storage.md's db and Python API sections) on each backend: ids,
timestamps, update and replace, insertion order, collections, stores, errors, and the cache of
collections read in full staying correct whoever writes."""

from __future__ import annotations

import re
import string

import pytest
import trio

from patchflow.errors import CommandError, StorageError
from patchflow.storage import SPACES, StoreRef, open_storage
from patchflow.storage.commands import db as db_module
from patchflow.storage.commands import scan as scan_module

NANOID = re.compile(r"[A-Za-z0-9_-]{21}")


def run(fn, *args):
    return trio.run(fn, *args)


@pytest.fixture
def db(storage):
    return storage.db(local="db-1")


def test_the_python_api_does_what_storage_md_says(db):
    async def scenario():
        doc_id = await db.insert("notes", {"text": "hi", "author": "poom"})
        other = await db.insert("notes", {"text": "yo", "author": "ada"})
        assert [d["text"] for d in await db.find("notes")] == ["hi", "yo"]
        assert [d["_id"] for d in await db.find("notes", {"author": "ada"})] == [other]
        found = await db.find("notes", sort={"author": 1}, limit=1, skip=1)
        assert [d["_id"] for d in found] == [doc_id]
        assert (await db.find_one("notes", doc_id))["text"] == "hi"
        assert await db.find_one("notes", "nope") is None
        assert await db.update("notes", doc_id, {"text": "hello"}) is True
        assert await db.update("notes", "nope", {"text": "hello"}) is False
        assert await db.replace("notes", other, {"text": "bye"}) is True
        assert await db.replace("notes", "nope", {}) is False
        assert await db.count("notes") == 2
        assert await db.count("notes", {"text": "bye"}) == 1
        assert await db.delete("notes", other) is True
        assert await db.delete("notes", other) is False
        assert await db.drop("notes") is None
        assert await db.count("notes") == 0
        assert await db.find("notes") == []

    run(scenario)


# ---- ids and timestamps ------------------------------------------------------------------------


def test_ids_are_21_character_nanoids_and_differ(db):
    async def scenario():
        return [await db.insert("c", {}) for _ in range(50)]

    ids = run(scenario)
    assert all(NANOID.fullmatch(doc_id) for doc_id in ids)
    assert len(set(ids)) == 50


def test_a_supplied_unused_string_id_is_kept(db):
    async def scenario():
        for doc_id in ["mine", "😀 with spaces", "x" * 300, "a\x00b", "0"]:
            assert await db.insert("c", {"_id": doc_id, "v": doc_id}) == doc_id
            assert (await db.find_one("c", doc_id))["v"] == doc_id

    run(scenario)


def test_a_taken_id_raises_and_stores_nothing(db):
    async def scenario():
        await db.insert("notes", {"_id": "x", "n": 1})
        with pytest.raises(CommandError) as caught:
            await db.insert("notes", {"_id": "x", "n": 2})
        assert str(caught.value) == "db: 'insert' _id 'x' is taken in collection 'notes'"
        assert [d["n"] for d in await db.find("notes")] == [1]
        # once deleted, the id is free again
        await db.delete("notes", "x")
        assert await db.insert("notes", {"_id": "x", "n": 3}) == "x"

    run(scenario)


@pytest.mark.parametrize("bad_id", [5, None, "", ["x"], 1.5, b"id"])
def test_an_id_that_is_not_a_non_empty_string_raises(db, bad_id):
    with pytest.raises(CommandError, match="_id, when it has one, to be a non-empty string"):
        run(db.insert, "c", {"_id": bad_id})
    assert run(db.count, "c") == 0


def test_created_and_updated_are_integer_milliseconds_and_overwritten_on_insert(db):
    async def scenario():
        before = db_module.now_ms()
        doc_id = await db.insert("c", {"_created": "mine", "_updated": 5, "a": 1})
        after = db_module.now_ms()
        return before, await db.find_one("c", doc_id), after

    before, doc, after = run(scenario)
    assert type(doc["_created"]) is int
    assert before <= doc["_created"] == doc["_updated"] <= after
    assert list(doc) == ["_id", "_created", "_updated", "a"]


def test_update_bumps_updated_and_keeps_created_and_id(db, monkeypatch):
    doc_id = run(db.insert, "c", {"a": 1})
    created = run(db.find_one, "c", doc_id)["_created"]
    for _ in range(3):  # even if the clock has not moved, _updated goes up
        old = run(db.find_one, "c", doc_id)["_updated"]
        assert run(db.update, "c", doc_id, {"_id": "other", "_created": 0, "_updated": 1})
        doc = run(db.find_one, "c", doc_id)
        assert doc["_updated"] > old
        assert (doc["_id"], doc["_created"]) == (doc_id, created)
    # a clock that went back does not make _updated go back
    monkeypatch.setattr(db_module, "now_ms", lambda: 1)
    old = run(db.find_one, "c", doc_id)["_updated"]
    run(db.replace, "c", doc_id, {"b": 2})
    assert run(db.find_one, "c", doc_id)["_updated"] == old + 1
    monkeypatch.setattr(db_module, "now_ms", lambda: old + 1000)
    run(db.update, "c", doc_id, {})
    assert run(db.find_one, "c", doc_id)["_updated"] == old + 1000


def test_update_merges_shallowly(db):
    doc_id = run(db.insert, "c", {"a": 1, "nested": {"x": 1, "y": 2}, "keep": [1, 2]})
    run(db.update, "c", doc_id, {"nested": {"x": 9}, "a": None, "new": "n"})
    doc = run(db.find_one, "c", doc_id)
    assert doc["nested"] == {"x": 9}  # the whole field replaced, not merged into
    assert (doc["a"], doc["keep"], doc["new"]) == (None, [1, 2], "n")
    assert list(doc) == ["_id", "_created", "_updated", "a", "nested", "keep", "new"]


def test_replace_swaps_user_fields_keeping_id_and_created(db):
    doc_id = run(db.insert, "c", {"a": 1, "b": 2})
    created = run(db.find_one, "c", doc_id)["_created"]
    run(db.replace, "c", doc_id, {"_id": "zzz", "_created": 0, "c": 3})
    doc = run(db.find_one, "c", doc_id)
    assert list(doc) == ["_id", "_created", "_updated", "c"]
    assert (doc["_id"], doc["_created"], doc["c"]) == (doc_id, created, 3)
    assert run(db.find_one, "c", "zzz") is None


def test_documents_round_trip_exactly(db):
    doc = {
        "bytes": b"\x00\xff",
        "int": 2**63,
        "neg": -(2**63),
        "float": 1.5,
        "one": 1.0,
        "nested": {"list": [1, [2, {"x": None}]], "t": True},
        "unicode": "é😀",
        "empty": {},
    }
    doc_id = run(db.insert, "c", doc)
    found = run(db.find_one, "c", doc_id)
    assert {k: v for k, v in found.items() if not k.startswith("_")} == doc
    assert type(found["one"]) is float


# ---- insertion order ---------------------------------------------------------------------------


def test_find_returns_insertion_order_though_ids_are_random(db):
    async def scenario():
        ids = [await db.insert("c", {"i": i}) for i in range(30)]
        assert ids != sorted(ids)
        assert [d["_id"] for d in await db.find("c")] == ids
        # supplied ids that sort the other way round come back in insertion order too
        for name in ["z", "m", "a"]:
            await db.insert("d", {"_id": name})
        assert [d["_id"] for d in await db.find("d")] == ["z", "m", "a"]

    run(scenario)


def test_insertion_order_survives_updates_replaces_and_deletes(db):
    async def scenario():
        ids = [await db.insert("c", {"i": i}) for i in range(6)]
        await db.update("c", ids[0], {"i": 100})
        await db.replace("c", ids[2], {"i": 200})
        await db.delete("c", ids[3])
        newest = await db.insert("c", {"i": 6})
        await db.update("c", ids[1], {"more": True})
        expected = [ids[0], ids[1], ids[2], ids[4], ids[5], newest]
        assert [d["_id"] for d in await db.find("c")] == expected
        assert [d["i"] for d in await db.find("c")] == [100, 1, 200, 4, 5, 6]
        # a deleted id inserted again goes to the end
        await db.insert("c", {"_id": ids[3], "i": 3})
        assert [d["_id"] for d in await db.find("c")] == [*expected, ids[3]]

    run(scenario)


def test_sequence_numbers_are_not_reused_after_deleting_the_newest(db):
    async def scenario():
        first = await db.insert("c", {})
        second = await db.insert("c", {})
        await db.delete("c", second)
        third = await db.insert("c", {})
        assert [d["_id"] for d in await db.find("c")] == [first, third]

    run(scenario)


def test_sort_skip_and_limit(db):
    async def scenario():
        rows = [("b", 2), ("a", 2), ("c", 1), ("a", 1), ("b", 1)]
        for name, n in rows:
            await db.insert("c", {"name": name, "n": n})

        async def names(**kwargs):
            return [(d["name"], d["n"]) for d in await db.find("c", **kwargs)]

        assert await names(sort={"name": 1, "n": -1}) == [
            ("a", 2),
            ("a", 1),
            ("b", 2),
            ("b", 1),
            ("c", 1),
        ]
        # a stable sort: equal keys keep insertion order, in both directions
        assert await names(sort={"n": 1}) == [("c", 1), ("a", 1), ("b", 1), ("b", 2), ("a", 2)]
        assert await names(sort={"n": -1}) == [("b", 2), ("a", 2), ("c", 1), ("a", 1), ("b", 1)]
        assert await names(sort={"name": -1}, limit=2) == [("c", 1), ("b", 2)]
        assert await names(sort={"name": -1}, skip=4) == [("a", 1)]
        assert await names(skip=1, limit=2) == [("a", 2), ("c", 1)]
        assert await names(limit=0) == []
        assert await names(skip=10) == []
        assert await names(limit=100) == [(n, i) for n, i in rows]
        assert await names(query={"n": 1}, skip=1, limit=1) == [("a", 1)]

    run(scenario)


def test_sort_places_mixed_kinds_and_missing_fields_in_one_order(db):
    values = [{"k": "s"}, {"k": 2}, {}, {"k": None}, {"k": [1]}, {"k": True}, {"k": b"b"}]
    values += [{"k": {"a": 1}}, {"k": 1.5}, {"k": False}, {"k": -1}]

    async def scenario():
        for i, doc in enumerate(values):
            await db.insert("c", {**doc, "i": i})
        up = [d.get("k", "<missing>") for d in await db.find("c", sort={"k": 1})]
        down = [d.get("k", "<missing>") for d in await db.find("c", sort={"k": -1})]
        return up, down

    up, down = run(scenario)
    expected = ["<missing>", None, False, True, -1, 1.5, 2, "s", b"b", [1], {"a": 1}]
    assert up == expected
    assert down == expected[::-1]


def test_sort_by_a_dotted_path(db):
    async def scenario():
        for name, age in [("b", 30), ("a", 40), ("c", 20)]:
            await db.insert("people", {"name": name, "info": {"age": age}})
        await db.insert("people", {"name": "d"})
        return [d["name"] for d in await db.find("people", sort={"info.age": -1})]

    assert run(scenario) == ["a", "b", "c", "d"]


# ---- collections -------------------------------------------------------------------------------


def test_collections_are_created_by_their_first_insert(storage, db):
    assert run(db.find, "c") == []
    assert storage.backend.read(lambda txn: list(txn.scan("collections", b""))) == []
    run(db.insert, "c", {})
    assert len(storage.backend.read(lambda txn: list(txn.scan("collections", b"")))) == 1


def test_two_thousand_collections_in_one_store_and_drop_removes_exactly_one(storage):
    db = storage.db(name="many")
    names = [f"col-{i}" for i in range(2000)]

    # one document each, written in one transaction through the insert command (2,000
    # durable commits would take a while), then checked through the API
    def insert_all(txn):
        for name in names:
            db_module.Insert(name, {"name": name}).run(_Inline(txn), db.store_ref)

    storage.backend.write(insert_all)
    neighbours = [storage.db(name="many-other"), storage.db(local="many")]
    for other in neighbours:
        run(other.insert, "col-7", {"other": True})

    async def scenario():
        assert await db.count("col-1999") == 1
        assert (await db.find("col-1234"))[0]["name"] == "col-1234"
        await db.insert("col-7", {"name": "second"})
        await db.drop("col-7")
        assert await db.count("col-7") == 0
        for name in names:
            assert await db.count(name) == (0 if name == "col-7" else 1), name
        for other in neighbours:
            assert await other.count("col-7") == 1
        # a dropped collection starts again from scratch
        await db.insert("col-7", {"name": "again"})
        assert [d["name"] for d in await db.find("col-7")] == ["again"]

    run(scenario)
    entries = storage.backend.read(lambda txn: list(txn.scan("collections", b"")))
    assert len(entries) == 2000 + len(neighbours)


class _Inline:
    """A backend whose read/write run in an enclosing write transaction (for bulk setup)."""

    def __init__(self, txn):
        self.txn = txn

    def write(self, fn):
        return fn(self.txn)

    read = write


def test_drop_leaves_collections_whose_names_extend_or_prefix_it_alone(db):
    async def scenario():
        for name in ["a", "ab", "a b", "b"]:
            await db.insert(name, {"name": name})
        await db.drop("a")
        return {name: await db.count(name) for name in ["a", "ab", "a b", "b"]}

    assert run(scenario) == {"a": 0, "ab": 1, "a b": 1, "b": 1}


def test_ids_are_per_collection(db):
    async def scenario():
        await db.insert("a", {"_id": "same", "c": "a"})
        await db.insert("b", {"_id": "same", "c": "b"})
        await db.delete("a", "same")
        return await db.find_one("b", "same")

    assert run(scenario)["c"] == "b"


# ---- stores ------------------------------------------------------------------------------------


def test_local_and_named_db_stores_are_isolated(storage):
    local, named = storage.db(local="notes"), storage.db(name="notes")
    other_local = storage.db(local="db-2")

    async def scenario():
        await local.insert("c", {"where": "local"})
        await named.insert("c", {"where": "named"})
        assert [d["where"] for d in await local.find("c")] == ["local"]
        assert [d["where"] for d in await named.find("c")] == ["named"]
        assert await other_local.count("c") == 0
        await local.drop("c")
        assert await named.count("c") == 1

    run(scenario)


def test_a_named_store_is_shared_between_db_store_and_a_named_box(storage, box_reply):
    async def scenario():
        await storage.db(local="py-1").store("shop").insert("items", {"name": "pen"})
        reply = box_reply(storage.db(local="db-1", name="shop"), {"find": "items"})
        assert [d["name"] for d in reply["docs"]] == ["pen"]
        assert await storage.db(name="shop").count("items") == 1

    run(scenario)


def test_store_of_the_empty_name_returns_to_the_local_store(storage):
    db = storage.db(local="py-1")
    run(db.insert, "c", {"mine": 1})
    back = db.store("elsewhere").store("")
    assert back.store_ref == StoreRef.local("py-1")
    assert run(back.count, "c") == 1
    assert storage.db(local="db-1", name="shared").store_ref == StoreRef.named("shared")
    with pytest.raises(CommandError, match="no local store"):
        storage.db(name="named-only").store("")
    with pytest.raises(TypeError):
        storage.db()


def test_a_bad_store_name_raises_with_the_message_of_the_set_store_reply(storage, box_reply):
    db = storage.db(local="py-1")
    with pytest.raises(CommandError) as caught:
        db.store("a\x00b")
    reply = box_reply(db, {"type": "setStore", "value": "a\x00b"})
    assert str(caught.value) == reply["message"]
    assert reply["message"].startswith("db: 'setStore' ")


def test_kv_and_db_stores_of_the_same_name_are_separate(storage):
    kv, db = storage.kv(name="shared"), storage.db(name="shared")

    async def scenario():
        await kv.set("notes", "a kv value")
        await db.insert("notes", {"text": "a doc"})
        assert await kv.keys() == ["notes"]
        await kv.clear()
        assert await db.count("notes") == 1
        await kv.set("k", 1)
        await db.drop("notes")
        assert await kv.get("k") == 1

    run(scenario)

    def every_space(txn):
        return {space: len(list(txn.scan(space, b""))) for space in SPACES}

    found = storage.backend.read(every_space)
    assert (found["kv"], found["docs"], found["ids"], found["collections"]) == (1, 0, 0, 0)


def test_patches_in_one_data_dir_have_separate_db_storage(data_dir):
    with open_storage("first", data_dir) as first, open_storage("second", data_dir) as second:
        run(first.db(name="s").insert, "c", {"from": "first"})
        assert run(second.db(name="s").count, "c") == 0


# ---- errors ------------------------------------------------------------------------------------


BAD_CALLS = [
    ("insert", (5, {}), {}, {"collection": 5, "doc": {}}),
    ("insert", ("c", [1]), {}, {"collection": "c", "doc": [1]}),
    ("insert", ("c", {"a": {1}}), {}, {"collection": "c", "doc": {"a": {1}}}),
    ("find", ("c", {"a": {"$x": 1}}), {}, {"collection": "c", "query": {"a": {"$x": 1}}}),
    ("find", ("c",), {"sort": {"a": 0}}, {"collection": "c", "sort": {"a": 0}}),
    ("find", ("c",), {"limit": -1}, {"collection": "c", "limit": -1}),
    ("find", ("c",), {"skip": "1"}, {"collection": "c", "skip": "1"}),
    ("find_one", ("c", 5), {}, {"collection": "c", "id": 5}),
    ("update", ("c", "x", 5), {}, {"collection": "c", "id": "x", "doc": 5}),
    ("replace", ("c", "", {}), {}, {"collection": "c", "id": "", "doc": {}}),
    ("delete", ("c" * 101, "x"), {}, {"collection": "c" * 101, "id": "x"}),
    ("count", ("c", 5), {}, {"collection": "c", "query": 5}),
    ("drop", (None,), {}, {"collection": None}),
]
VERB_OF = {"find_one": "findOne"}


@pytest.mark.parametrize(("method", "args", "kwargs", "fields"), BAD_CALLS)
def test_bad_arguments_raise_with_the_message_of_the_error_reply(
    storage, box_reply, method, args, kwargs, fields
):
    db = storage.db(name="s")
    with pytest.raises(CommandError) as caught:
        run(lambda: getattr(db, method)(*args, **kwargs))
    message = {"type": VERB_OF.get(method, method), **fields}
    reply = box_reply(db, message)
    assert reply["op"] == "error"
    assert str(caught.value) == reply["message"]


def test_a_closed_storage_raises_storage_error_and_a_box_replies_with_an_error(storage, box_reply):
    db = storage.db(name="s")
    run(db.insert, "c", {})
    storage.close()
    with pytest.raises(StorageError, match="closed"):
        run(db.find, "c")
    with pytest.raises(StorageError, match="closed"):
        run(db.insert, "c", {})
    reply = box_reply(db, {"insert": ["c", {}]})
    assert reply["op"] == "error"
    assert reply["message"].startswith("db: 'insert' failed: ")
    assert box_reply(db, {"find": "c"})["message"].startswith("db: 'find' failed: ")


def test_a_failed_write_leaves_the_data_as_it_was(storage, box_reply, monkeypatch):
    db = storage.db(name="s")
    doc_id = run(db.insert, "c", {"v": 1})
    before = run(db.find, "c")

    def failing_pack(value):
        raise StorageError("disk full (simulated)")

    monkeypatch.setattr(db_module, "_packb", failing_pack)
    for message in [
        {"insert": ["c", {"v": 2}]},
        {"update": ["c", doc_id, {"v": 3}]},
        {"replace": ["c", doc_id, {"v": 4}]},
    ]:
        reply = box_reply(db, message)
        assert reply["op"] == "error"
        assert "disk full (simulated)" in reply["message"]
    monkeypatch.undo()
    assert run(db.find, "c") == before


# ---- the cache of collections read in full -----------------------------------------------------


def test_finds_see_every_write_through_any_handle(data_dir):
    with open_storage("p", data_dir) as one, open_storage("p", data_dir) as two:
        reader, writer = one.db(name="s"), two.db(name="s")

        async def scenario():
            ids = [await writer.insert("c", {"n": i, "tag": "x"}) for i in range(5)]
            assert len(await reader.find("c", {"tag": "x"})) == 5  # read in full: cached
            assert len(await reader.find("c", {"tag": "x"})) == 5  # from the cache
            await writer.update("c", ids[0], {"tag": "y"})
            assert len(await reader.find("c", {"tag": "x"})) == 4
            await writer.replace("c", ids[1], {"tag": "z"})
            assert len(await reader.find("c", {"tag": "x"})) == 3
            await writer.delete("c", ids[2])
            assert len(await reader.find("c", {"tag": "x"})) == 2
            assert await reader.count("c") == 4
            await writer.insert("c", {"tag": "x"})
            assert await reader.count("c", {"tag": "x"}) == 3
            assert await reader.count("c") == 5
            await writer.drop("c")
            assert await reader.find("c") == []
            await writer.insert("c", {"tag": "x"})
            assert [d["tag"] for d in await reader.find("c")] == ["x"]

        run(scenario)


def test_finds_see_writes_from_another_process(tmp_path, python):
    data_dir = str(tmp_path / "data")
    with open_storage("p", data_dir) as storage:
        db = storage.db(name="s")
        doc_id = run(db.insert, "c", {"tag": "x"})
        assert len(run(db.find, "c", {"tag": "x"})) == 1
        code = (
            "import sys, trio\n"
            "from patchflow.storage import open_storage\n"
            "with open_storage('p', sys.argv[1]) as s:\n"
            "    trio.run(s.db(name='s').update, 'c', sys.argv[2], {'tag': 'y'})\n"
        )
        done = python(code, data_dir, doc_id)
        assert done.returncode == 0, done.stderr
        assert run(db.find, "c", {"tag": "x"}) == []
        assert [d["tag"] for d in run(db.find, "c")] == ["y"]


def test_the_cache_keeps_within_its_limit(storage, monkeypatch):
    db = storage.db(name="s")
    names = [f"c{i}" for i in range(6)]

    def fill(txn):
        for name in names:
            for i in range(50):
                db_module.Insert(name, {"pad": "x" * 100, "i": i}).run(_Inline(txn), db.store_ref)

    storage.backend.write(fill)
    cache = scan_module._SnapshotCache(limit=40_000)  # room for four of these ~8 kB collections
    monkeypatch.setattr(scan_module, "_cache_for", lambda backend: cache)
    for name in [*names, "c0"]:
        assert len(run(db.find, name, {"i": 7})) == 1
    assert cache._size <= 40_000
    cached = [prefix[-3:-1].decode() for prefix in cache._entries]
    assert 2 <= len(cached) < len(names)
    assert cached[-1] == "c0"  # read again last, so kept; the least recently used went first
    assert cached[:-1] == names[len(names) - len(cached) + 1 :]
    assert len(run(db.find, "c5", {"i": 7})) == 1
    assert scan_module._SnapshotCache(limit=1000).limit == 1000


def test_a_collection_entry_without_a_stamp_is_read_but_never_cached(storage):
    db = storage.db(name="s")
    run(db.insert, "c", {"n": 1})
    entry_key = storage.backend.read(lambda txn: next(iter(txn.scan("collections", b""))))[0]
    storage.backend.write(lambda txn: txn.put("collections", entry_key, (1).to_bytes(8, "big")))
    assert [d["n"] for d in run(db.find, "c", {"n": 1})] == [1]
    cache = scan_module._cache_for(storage.backend)
    assert cache is not None
    assert not cache._entries
    # the sequence number is still read from it
    second = run(db.insert, "c", {"n": 2})
    assert [d["_id"] for d in run(db.find, "c")][-1] == second


def test_short_alphabet_ids_stay_distinct():
    # the nanoid alphabet is URL-safe: letters, digits, '-' and '_'
    allowed = set(string.ascii_letters + string.digits + "-_")
    assert all(set(db_module.new_id()) <= allowed for _ in range(100))


def test_a_cached_collection_sees_an_insert_after_its_newest_document_was_deleted(storage):
    reader, writer = storage.db(name="s"), storage.db(name="s")

    async def scenario():
        first = await writer.insert("c", {"n": 1})
        newest = await writer.insert("c", {"n": 2})
        assert [d["n"] for d in await reader.find("c", {"n": {"$gte": 0}})] == [1, 2]
        await writer.delete("c", newest)
        assert [d["n"] for d in await reader.find("c", {"n": {"$gte": 0}})] == [1]  # cached
        third = await writer.insert("c", {"n": 3})  # may take the deleted document's place
        found = await reader.find("c", {"n": {"$gte": 0}})
        assert [(d["_id"], d["n"]) for d in found] == [(first, 1), (third, 3)]

    run(scenario)
