"""db indexes: createIndex, dropIndex, indexes, unique, explain, and finds that use an index
giving exactly what a scan gives — on every backend."""

from __future__ import annotations

import io

import pytest
import trio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from patchflow.storage import DB, SPACES, StoreRef
from patchflow.storage.layout.index_keys import MAX_VALUE_BYTES
from patchflow.storage.tools import dump as dumps
from patchflow.storage.tools.dump import DumpError

STORE = StoreRef.named("indexed")


@pytest.fixture
def send(storage, box_reply):
    """`send(message)`: run a message as a `[db]` box does; return the reply."""
    return lambda message: box_reply(DB(storage.backend, STORE), message)


def ids(reply):
    return [doc["_id"] for doc in reply["docs"]]


def fill(send, docs, collection="c"):
    for i, doc in enumerate(docs):
        assert send({"insert": [collection, {"_id": f"d{i}", **doc}]})["op"] == "insert"


# ---- the commands -------------------------------------------------------------------------


def test_create_index_then_list_and_drop_it(send):
    assert send({"createIndex": ["c", "n"]}) == {
        "op": "createIndex",
        "collection": "c",
        "field": "n",
        "ok": True,
    }
    assert send({"type": "createIndex", "collection": "c", "field": "a.b", "unique": True})["ok"]
    assert send({"indexes": "c"})["indexes"] == [
        {"field": "a.b", "unique": True},
        {"field": "n", "unique": False},
    ]
    assert send({"dropIndex": ["c", "n"]}) == {
        "op": "dropIndex",
        "collection": "c",
        "field": "n",
        "ok": True,
    }
    assert send({"dropIndex": ["c", "n"]})["ok"] is False
    assert send({"indexes": "c"})["indexes"] == [{"field": "a.b", "unique": True}]


def test_creating_an_index_twice_is_fine_but_not_with_another_unique(send):
    assert send({"createIndex": ["c", "n"]})["ok"]
    assert send({"createIndex": ["c", "n"]})["ok"]
    reply = send({"createIndex": ["c", "n", True]})
    assert reply["op"] == "error"
    assert "unique: false" in reply["message"] and "dropIndex" in reply["message"]


@pytest.mark.parametrize(
    ("field", "problem"),
    [("$n", "cannot start with '$'"), ("a..b", "not a valid path"), ("a\0b", "NUL")],
)
def test_a_bad_index_field_is_an_error(send, field, problem):
    reply = send({"createIndex": ["c", field]})
    assert reply["op"] == "error" and problem in reply["message"]
    assert send({"indexes": "c"})["indexes"] == []


def test_explain_must_be_a_bool(send):
    reply = send({"type": "find", "collection": "c", "explain": 1})
    assert reply["op"] == "error" and "explain" in reply["message"]


def test_drop_removes_the_collection_s_indexes(send):
    fill(send, [{"n": 1}])
    send({"createIndex": ["c", "n"]})
    send({"drop": "c"})
    assert send({"indexes": "c"})["indexes"] == []
    fill(send, [{"n": 1}])
    assert send({"type": "find", "collection": "c", "query": {"n": 1}, "explain": True})[
        "plan"
    ] == {"index": None, "examined": 1}


# ---- unique ------------------------------------------------------------------------------


def test_a_unique_index_refuses_a_duplicate_insert_update_or_replace(send):
    send({"type": "createIndex", "collection": "u", "field": "email", "unique": True})
    assert send({"insert": ["u", {"_id": "a", "email": "x@y"}]})["op"] == "insert"
    assert send({"insert": ["u", {"_id": "b", "email": "z@y"}]})["op"] == "insert"
    refused = send({"insert": ["u", {"_id": "c", "email": "x@y"}]})
    assert refused["op"] == "error"
    assert "'insert'" in refused["message"] and '"x@y"' in refused["message"]
    assert "'email'" in refused["message"] and '"a"' in refused["message"]
    assert send({"update": ["u", "b", {"email": "x@y"}]})["op"] == "error"
    assert send({"replace": ["u", "b", {"email": "x@y"}]})["op"] == "error"
    # nothing of the refused writes was stored
    assert send({"count": "u"})["count"] == 2
    assert send({"findOne": ["u", "b"]})["doc"]["email"] == "z@y"
    # the document itself may keep its value; once freed, a value may be taken
    assert send({"update": ["u", "a", {"email": "x@y", "more": 1}]})["ok"]
    assert send({"delete": ["u", "a"]})["ok"]
    assert send({"update": ["u", "b", {"email": "x@y"}]})["ok"]


def test_unique_counts_numbers_by_value_and_list_elements_but_not_missing_fields(send):
    send({"type": "createIndex", "collection": "u", "field": "n", "unique": True})
    fill(send, [{"n": 1}, {"n": [2, 3]}, {}, {"other": 1}], "u")
    assert send({"insert": ["u", {"n": 1.0}]})["op"] == "error"
    assert send({"insert": ["u", {"n": 3}]})["op"] == "error"
    assert send({"insert": ["u", {"n": [4, 4]}]})["op"] == "insert"
    long = "x" * (MAX_VALUE_BYTES + 5)
    assert send({"insert": ["u", {"n": long + "a"}]})["op"] == "insert"
    assert send({"insert": ["u", {"n": long + "b"}]})["op"] == "insert"  # same cut-short key
    assert send({"insert": ["u", {"n": long + "a"}]})["op"] == "error"


def test_a_unique_index_over_existing_duplicates_is_an_error_and_not_created(send):
    fill(send, [{"n": 1}, {"n": 2}, {"n": 1.0}])
    reply = send({"type": "createIndex", "collection": "c", "field": "n", "unique": True})
    assert reply["op"] == "error"
    assert "cannot be unique" in reply["message"] and '"d0"' in reply["message"]
    assert send({"indexes": "c"})["indexes"] == []


# ---- finding with an index ---------------------------------------------------------------


def find(send, query=None, **options):
    return send({"type": "find", "collection": "c", "query": query, "explain": True, **options})


def test_an_equality_find_reads_only_the_matching_documents(send):
    fill(send, [{"n": i % 10} for i in range(50)])
    before = find(send, {"n": 3})
    assert before["plan"] == {"index": None, "examined": 50}
    send({"createIndex": ["c", "n"]})
    after = find(send, {"n": 3})
    assert after["plan"] == {"index": "n", "examined": 5}
    assert after["docs"] == before["docs"]
    count = send({"type": "count", "collection": "c", "query": {"n": {"$in": [3, 4]}}})
    assert count == {"op": "count", "collection": "c", "count": 10}


def test_a_range_stays_within_its_kind(send):
    fill(send, [{"n": v} for v in [1, 7, "9", True, None, 8.5, [3, 9], b"\x09", "a"]])
    send({"createIndex": ["c", "n"]})
    reply = find(send, {"n": {"$gt": 5}})
    assert ids(reply) == ["d1", "d5", "d6"]  # 7, 8.5 and the list holding 9
    assert reply["plan"] == {"index": "n", "examined": 3}
    assert ids(find(send, {"n": {"$lt": "b"}})) == ["d2", "d8"]


def test_sort_with_limit_reads_only_what_it_returns(send):
    fill(send, [{"n": (i * 7) % 100} for i in range(100)])
    send({"createIndex": ["c", "n"]})
    reply = find(send, {"n": {"$gte": 50}}, sort={"n": -1}, limit=3)
    assert [doc["n"] for doc in reply["docs"]] == [99, 98, 97]
    assert reply["plan"] == {"index": "n", "examined": 3}
    reply = find(send, sort={"n": 1}, limit=2, skip=1)
    assert [doc["n"] for doc in reply["docs"]] == [1, 2]
    assert reply["plan"] == {"index": "n", "examined": 3}


def test_a_sort_walk_keeps_ties_in_insertion_order_and_finds_lists_after_numbers(send):
    fill(send, [{"n": 2}, {"n": 1}, {"n": 2}, {"n": [1, 9]}, {"n": 2}, {"n": 7}])
    send({"createIndex": ["c", "n"]})
    assert ids(find(send, sort={"n": -1}, limit=5)) == ["d3", "d5", "d0", "d2", "d4"]
    assert ids(find(send, {"n": {"$gt": 6}}, sort={"n": 1}, limit=5)) == ["d5", "d3"]
    assert ids(find(send, {"n": {"$gt": 6}}, sort={"n": -1}, limit=1)) == ["d3"]


def test_explain_in_python_gives_the_docs_and_the_plan(storage):
    async def main():
        db = storage.db(name="py")
        await db.insert("c", {"n": 1})
        assert await db.create_index("c", "n", unique=True) is True
        assert await db.indexes("c") == [{"field": "n", "unique": True}]
        found = await db.find("c", {"n": 1}, explain=True)
        assert [doc["n"] for doc in found["docs"]] == [1]
        assert found["plan"] == {"index": "n", "examined": 1}
        assert await db.count("c", {"n": 1}, explain=True) == {
            "count": 1,
            "plan": {"index": "n", "examined": 1},
        }
        assert await db.count("c", {"n": 1}) == 1
        assert await db.drop_index("c", "n") is True

    trio.run(main)


def test_indexes_survive_an_export_and_import(storage, location, send):
    fill(send, [{"n": i % 3} for i in range(9)])
    send({"type": "createIndex", "collection": "c", "field": "n"})
    send({"type": "createIndex", "collection": "c", "field": "m", "unique": True})
    out = io.BytesIO()
    dumps.export_dump(storage.backend, "test-patch", out)
    dumped = out.getvalue()
    assert b'"kind": "index"' in dumped
    target = location.open("copy", SPACES)
    try:
        dumps.import_dump(target, io.BytesIO(dumped), "dump.jsonl")
        copy = DB(target, STORE)
        reply = copy.answer(
            copy.parse({"type": "find", "collection": "c", "query": {"n": 2}, "explain": True})
        )
        assert ids(reply) == ["d2", "d5", "d8"] and reply["plan"]["index"] == "n"
        listed = copy.answer(copy.parse({"indexes": "c"}))["indexes"]
        assert listed == [{"field": "m", "unique": True}, {"field": "n", "unique": False}]
        # documents that break a unique index are refused, and nothing is imported
        clash = b"\n".join(
            line.replace(b'"_id": "d', b'"_id": "x').replace(b'"n": 1', b'"n": 1, "m": 5')
            for line in dumped.splitlines()
        )
        with pytest.raises(DumpError, match="cannot be unique"):
            dumps.import_dump(target, io.BytesIO(clash + b"\n"), "clash.jsonl")
        assert copy.answer(copy.parse({"count": "c"}))["count"] == 9
    finally:
        target.close()


# ---- indexed finds equal scans -------------------------------------------------------------

numbers = st.integers(-3, 3)
small = st.one_of(  # numbers thrice: values and operands of one kind meet more often
    numbers,
    numbers,
    numbers,
    st.none(),
    st.booleans(),
    st.sampled_from([0.5, -0.0, 2.0, float("nan"), float("inf")]),
    st.sampled_from(["", "a", "b", "ab", "a" * (MAX_VALUE_BYTES + 1), "a" * (MAX_VALUE_BYTES + 2)]),
    st.sampled_from([b"", b"a", b"\x00"]),
)
value = st.one_of(small, st.lists(small, max_size=3), small, st.fixed_dictionaries({"x": small}))
nested = st.one_of(
    st.fixed_dictionaries({"b": value}),
    st.lists(st.fixed_dictionaries({"b": value}), max_size=2),
)
document = st.fixed_dictionaries({}, optional={"n": value, "a": nested, "s": small})
FIELDS = ["n", "a.b", "s"]
operand = small
condition = st.one_of(
    small,
    st.builds(lambda v: {"$eq": v}, operand),
    st.builds(lambda vs: {"$in": vs}, st.lists(operand, max_size=3)),
    st.builds(lambda op, v: {op: v}, st.sampled_from(["$gt", "$gte", "$lt", "$lte"]), operand),
    st.builds(
        lambda low, high, a, b: {low: a, high: b},
        st.sampled_from(["$gt", "$gte"]),
        st.sampled_from(["$lt", "$lte"]),
        operand,
        operand,
    ),
    st.builds(lambda v, w: {"$gt": v, "$ne": w}, operand, operand),
)
query = st.dictionaries(st.sampled_from([*FIELDS, "n", "other"]), condition, max_size=2)
sort = st.one_of(
    st.none(),
    st.dictionaries(st.sampled_from(FIELDS), st.sampled_from([1, -1]), min_size=1, max_size=2),
)
change = st.tuples(st.sampled_from(["update", "replace", "delete"]), st.integers(0, 9), document)


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(document, max_size=12),
    st.lists(st.sampled_from(FIELDS), min_size=1, max_size=3, unique=True),
    st.lists(change, max_size=3),
    st.lists(st.tuples(query, sort, st.integers(0, 4) | st.none(), st.integers(0, 2)), max_size=5),
)
def test_finds_with_indexes_give_exactly_what_a_scan_gives(storage, docs, fields, changes, finds):
    db = DB(storage.backend, STORE)

    def send(message):
        reply = db.answer(db.parse(message))
        assert reply["op"] != "error", reply
        return reply

    for collection in ("plain", "indexed"):
        send({"drop": collection})
    half = len(fields) // 2  # some indexes exist before the inserts, some are built after
    for field in fields[:half]:
        send({"createIndex": ["indexed", field]})
    for collection in ("plain", "indexed"):
        inserts = [{"insert": [collection, {"_id": f"d{i}", **doc}]} for i, doc in enumerate(docs)]
        if inserts:
            send({"batch": inserts})
    for field in fields[half:]:
        send({"createIndex": ["indexed", field]})
    for verb, number, doc in changes:
        for collection in ("plain", "indexed"):
            message = {"type": verb, "collection": collection, "id": f"d{number}"}
            send(message if verb == "delete" else {**message, "doc": doc})

    def user(reply):
        return [{k: v for k, v in d.items() if k not in ("_created", "_updated")} for d in reply]

    for query_doc, sort_doc, limit, skip in finds:
        options = {"query": query_doc, "sort": sort_doc, "limit": limit, "skip": skip}
        plain = send({"type": "find", "collection": "plain", **options})
        indexed = send({"type": "find", "collection": "indexed", **options, "explain": True})
        assert repr(user(indexed["docs"])) == repr(user(plain["docs"])), indexed["plan"]
        counts = [
            send({"type": "count", "collection": c, "query": query_doc})["count"]
            for c in ("plain", "indexed")
        ]
        assert counts[0] == counts[1]
