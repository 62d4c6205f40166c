"""`find` and `count` queries through the storage API, on each backend: every operator on
matching, non-matching and missing fields and on mixed kinds, dotted paths, the raw-bytes
prefilter never turning away a match, and a hypothesis test against a plain Python filter."""

from __future__ import annotations

import math

import pytest
import trio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

MISSING = "<missing>"

#: one document per kind of value in field `v`, plus one without it
DOCS = [
    {"name": "none", "v": None},
    {"name": "false", "v": False},
    {"name": "true", "v": True},
    {"name": "zero", "v": 0},
    {"name": "one", "v": 1},
    {"name": "one-float", "v": 1.0},
    {"name": "two-half", "v": 2.5},
    {"name": "str", "v": "apple"},
    {"name": "str2", "v": "banana"},
    {"name": "bytes", "v": b"ab"},
    {"name": "list", "v": [1, "apple", None]},
    {"name": "dict", "v": {"k": 1}},
    {"name": "missing"},
]
NAMES = [doc["name"] for doc in DOCS]


@pytest.fixture
def find(storage):
    """`find(query, **kw)`: names of the matching docs of DOCS, checked against count."""
    db = storage.db(name="q")

    async def fill():
        for doc in DOCS:
            await db.insert("docs", doc)

    trio.run(fill)

    def find(query):
        docs = trio.run(db.find, "docs", query)
        assert trio.run(db.count, "docs", query) == len(docs)
        return [doc["name"] for doc in docs]

    return find


def all_but(*names):
    return [name for name in NAMES if name not in names]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"v": 1}, ["one", "one-float", "list"]),
        ({"v": 1.0}, ["one", "one-float", "list"]),
        ({"v": True}, ["true"]),
        ({"v": 0}, ["zero"]),
        ({"v": "apple"}, ["str", "list"]),
        ({"v": b"ab"}, ["bytes"]),
        ({"v": None}, ["none", "list", "missing"]),
        ({"v": [1, "apple", None]}, ["list"]),
        ({"v": {"k": 1}}, ["dict"]),
        ({"v": {"k": 1.0}}, ["dict"]),
        ({"v": "nothing"}, []),
        ({"v": 3}, []),
        ({"v": {"$eq": 1}}, ["one", "one-float", "list"]),
        ({"v": {"$eq": None}}, ["none", "list", "missing"]),
        ({"v": {"$ne": 1}}, all_but("one", "one-float", "list")),
        ({"v": {"$ne": None}}, all_but("none", "list", "missing")),
        ({"v": {"$gt": 1}}, ["two-half"]),
        ({"v": {"$gte": 1}}, ["one", "one-float", "two-half", "list"]),
        ({"v": {"$lt": 1}}, ["zero"]),
        ({"v": {"$lte": 1}}, ["zero", "one", "one-float", "list"]),
        ({"v": {"$gt": "apple"}}, ["str2"]),
        ({"v": {"$gte": "apple"}}, ["str", "str2", "list"]),
        ({"v": {"$lt": "b"}}, ["str", "list"]),
        ({"v": {"$gt": False}}, ["true"]),
        ({"v": {"$gte": b"a"}}, ["bytes"]),
        ({"v": {"$gt": None}}, []),
        ({"v": {"$lt": [5]}}, []),
        ({"v": {"$gt": 0, "$lt": 2}}, ["one", "one-float", "list"]),
        ({"v": {"$in": [0, "banana"]}}, ["zero", "str2"]),
        ({"v": {"$in": [True, 2.5]}}, ["true", "two-half"]),
        ({"v": {"$in": [None]}}, ["none", "list", "missing"]),
        ({"v": {"$in": []}}, []),
        ({"v": {"$nin": [0, "banana"]}}, all_but("zero", "str2")),
        ({"v": {"$nin": []}}, NAMES),
        ({"v": {"$contains": "ppl"}}, ["str"]),
        ({"v": {"$contains": "apple"}}, ["str", "list"]),
        ({"v": {"$contains": b"b"}}, ["bytes"]),
        ({"v": {"$contains": 1}}, ["list"]),
        ({"v": {"$contains": None}}, ["list"]),
        ({"v": {"$contains": "z"}}, []),
        ({"v": {"$exists": True}}, all_but("missing")),
        ({"v": {"$exists": False}}, ["missing"]),
        ({"nowhere": {"$exists": False}}, NAMES),
        ({"nowhere": 1}, []),
        ({}, NAMES),
        (None, NAMES),
        ({"v": 1, "name": "one-float"}, ["one-float"]),
        ({"v": 1, "name": "str"}, []),
    ],
)
def test_each_operator_on_every_kind_of_value(find, query, expected):
    assert find(query) == expected


def test_kinds_never_mix(find):
    assert find({"v": "1"}) == []
    assert find({"v": {"$gt": "0"}, "name": "one"}) == []
    assert find({"v": {"$lt": 5}, "name": "true"}) == []  # true is not 1
    assert find({"v": {"$in": ["1", [1]]}}) == []
    assert find({"v": 0.0}) == find({"v": -0.0}) == ["zero"]


def test_an_unknown_operator_is_an_error_reply(storage, box_reply):
    reply = box_reply(storage.db(name="q"), {"find": ["docs", {"v": {"$where": "x"}}]})
    assert reply["op"] == "error"
    assert "unknown query operator '$where'" in reply["message"]


# ---- dotted paths ------------------------------------------------------------------------------

PEOPLE = [
    {"name": "a", "author": {"name": "poom", "age": 30}, "tags": ["x", "y"]},
    {"name": "b", "author": {"name": "ada", "age": 40}, "tags": ["y"]},
    {"name": "c", "author": "poom", "tags": []},
    {"name": "d", "items": [{"sku": "p1", "n": 2}, {"sku": "p2", "n": 5}]},
    {"name": "e", "items": [{"sku": "p3", "n": 1}], "author": {"name": None}},
    {"name": "f", "deep": {"a": {"b": {"c": [1, 2]}}}},
]


@pytest.fixture
def people(storage):
    db = storage.db(name="people")

    async def fill():
        for doc in PEOPLE:
            await db.insert("p", doc)

    trio.run(fill)
    return lambda query: [d["name"] for d in trio.run(lambda: db.find("p", query))]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"author.name": "poom"}, ["a"]),
        ({"author.age": {"$gt": 35}}, ["b"]),
        ({"author.name": {"$exists": True}}, ["a", "b", "e"]),
        ({"author.name": None}, ["c", "d", "e", "f"]),  # a stored null, or no such path
        ({"tags": "y"}, ["a", "b"]),
        ({"tags": ["y"]}, ["b"]),
        ({"tags.0": "x"}, ["a"]),
        ({"tags.1": {"$exists": True}}, ["a"]),
        ({"items.sku": "p2"}, ["d"]),
        ({"items.n": {"$gte": 2}}, ["d"]),
        ({"items.0.sku": "p3"}, ["e"]),
        ({"deep.a.b.c": 2}, ["f"]),
        ({"deep.a.b.c.1": 2}, ["f"]),
        ({"deep.a.x": {"$exists": False}}, ["a", "b", "c", "d", "e", "f"]),
    ],
)
def test_dotted_paths(people, query, expected):
    assert people(query) == expected


# ---- the prefilter never turns away a match ----------------------------------------------------


@pytest.mark.parametrize(
    ("stored", "query"),
    [
        (1, 1.0),
        (1.0, 1),
        (-0.0, 0),
        (0, -0.0),
        (0.0, -0.0),
        (2**63, float(2**63)),
        (float(2**53), 2**53),
        (-(2**63), -(2**63)),
        (255, 255.0),
        (-33, -33.0),
        (1e300, 1e300),
        (math.inf, math.inf),
        (True, True),
        ("x" * 40, "x" * 40),  # str 8 header
        ("é" * 200, "é" * 200),  # str 16
        (b"\x00" * 300, b"\x00" * 300),  # bin 16
        ([1, 2], 2),
        (list(range(20)), 19),  # array 16
        ([[1], "a"], "a"),
        (float("nan"), float("nan")),
    ],
)
def test_the_prefilter_keeps_every_equal_value(storage, stored, query):
    db = storage.db(name="pre")

    async def scenario():
        await db.insert("c", {"pad": 1, "f" * 40: stored, "v": stored})
        await db.insert("c", {"v": "other"})
        for q in [{"v": query}, {"v": {"$eq": query}}, {"v": {"$in": ["zz", query]}}]:
            for key in ["v", "f" * 40]:
                found = await db.find("c", {key: q["v"]})
                assert len(found) == 1, (key, q)
            assert await db.count("c", q) == 1, q
            assert len(await db.find("c", q, limit=1)) == 1
        nested = await db.insert("d", {"o": {"v": stored}, "l": [{"v": stored}]})
        assert [d["_id"] for d in await db.find("d", {"o.v": query})] == [nested]
        assert [d["_id"] for d in await db.find("d", {"l.v": query})] == [nested]

    trio.run(scenario)


def test_the_prefilter_does_not_confuse_a_value_elsewhere_with_the_field(storage):
    db = storage.db(name="pre")

    async def scenario():
        await db.insert("c", {"group": 1, "other": 7})
        await db.insert("c", {"other": "group", "x": 7})  # the key's bytes as a value
        await db.insert("c", {"group": [7]})
        await db.insert("c", {"group": 7.0})
        await db.insert("c", {"nested": {"group": 7}})
        return [d.get("group") for d in await db.find("c", {"group": 7})]

    assert trio.run(scenario) == [[7], 7.0]


def test_an_id_query_reads_one_document(storage):
    db = storage.db(name="ids")

    async def scenario():
        await db.insert("c", {"_id": "a", "n": 1})
        await db.insert("c", {"_id": "b", "n": 2})
        assert [d["n"] for d in await db.find("c", {"_id": "b"})] == [2]
        assert [d["n"] for d in await db.find("c", {"_id": {"$eq": "a"}})] == [1]
        assert await db.find("c", {"_id": "a", "n": 2}) == []
        assert await db.find("c", {"_id": "zz"}) == []
        assert await db.find("c", {"_id": ""}) == []
        assert [d["n"] for d in await db.find("c", {"_id": {"$in": ["a", "b"]}})] == [1, 2]
        assert await db.count("c", {"_id": "a"}) == 1

    trio.run(scenario)


def test_limit_without_sort_stops_early_and_keeps_insertion_order(storage):
    db = storage.db(name="lim")

    async def scenario():
        for i in range(30):
            await db.insert("c", {"i": i, "even": i % 2 == 0})
        first = [d["i"] for d in await db.find("c", {"even": True}, limit=3, skip=2)]
        cold = [d["i"] for d in await db.find("c", None, limit=4, skip=1)]
        await db.find("c")  # now read in full: the next ones come from the cache
        warm = [d["i"] for d in await db.find("c", None, limit=4, skip=1)]
        odd = [d["i"] for d in await db.find("c", {"even": {"$ne": True}}, limit=2)]
        return first, cold, warm, odd

    assert trio.run(scenario) == ([4, 6, 8], [1, 2, 3, 4], [1, 2, 3, 4], [1, 3])


# ---- hypothesis: find agrees with a plain Python filter ----------------------------------------

_ABSENT = object()


def kind(value):
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    return {str: "str", bytes: "bytes", list: "list", dict: "dict"}[type(value)]


def same(a, b):
    if kind(a) != kind(b):
        return False
    if kind(a) == "number":
        return a == b or (a != a and b != b)
    if kind(a) == "list":
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if kind(a) == "dict":
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    return a == b


def reached(doc, field):
    """The values a dotted path reaches: dicts by key, lists fanned out over their dicts."""
    values = [doc]
    for depth, segment in enumerate(field.split(".")):
        found = []
        for value in values:
            if isinstance(value, dict):
                if segment in value:
                    found.append(value[segment])
            elif isinstance(value, list) and depth > 0:
                found.extend(v[segment] for v in value if isinstance(v, dict) and segment in v)
        values = found
    return values


def equal_to(values, operand):
    if not values:
        return operand is None
    return any(
        same(v, operand) or (isinstance(v, list) and any(same(e, operand) for e in v))
        for v in values
    )


def ordered(values, op, operand):
    if kind(operand) not in ("bool", "number", "str", "bytes"):
        return False
    compare = {"$gt": lambda a: a > operand, "$gte": lambda a: a >= operand}
    compare |= {"$lt": lambda a: a < operand, "$lte": lambda a: a <= operand}
    candidates = [e for v in values for e in (v if isinstance(v, list) else [v])]
    return any(kind(c) == kind(operand) and compare[op](c) for c in candidates)


def contains(values, operand):
    for v in values:
        if isinstance(v, list) and any(same(e, operand) for e in v):
            return True
        if kind(v) == kind(operand) and kind(v) in ("str", "bytes") and operand in v:
            return True
    return False


def holds(values, op, operand):
    if op == "$eq":
        return equal_to(values, operand)
    if op == "$ne":
        return not equal_to(values, operand)
    if op == "$in":
        return any(equal_to(values, x) for x in operand)
    if op == "$nin":
        return not any(equal_to(values, x) for x in operand)
    if op == "$exists":
        return bool(values) == operand
    if op == "$contains":
        return contains(values, operand)
    return ordered(values, op, operand)


def reference_match(doc, query):
    for field, condition in query.items():
        values = reached(doc, field)
        if isinstance(condition, dict) and condition and all(k[0] == "$" for k in condition):
            if not all(holds(values, op, operand) for op, operand in condition.items()):
                return False
        elif not equal_to(values, condition):
            return False
    return True


scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 3),
    st.sampled_from([0.0, -0.0, 1.0, 2.5, -1.5, float("nan"), math.inf, 2**63, -(2**63)]),
    st.text("ab", max_size=3),
    st.binary(max_size=2),
)
values = st.one_of(
    scalars,
    st.lists(scalars, max_size=3),
    st.dictionaries(st.sampled_from(["c", "d"]), scalars, max_size=2),
)
FIELDS = ["a", "b", "tags", "o", "items"]
documents = st.fixed_dictionaries(
    {},
    optional={
        "a": values,
        "b": scalars,
        "tags": st.lists(scalars, max_size=3),
        "o": st.fixed_dictionaries({}, optional={"c": values, "d": scalars}),
        "items": st.lists(st.fixed_dictionaries({}, optional={"c": scalars}), max_size=3),
    },
)
PATHS = ["a", "b", "tags", "o.c", "o.d", "items.c", "a.c", "zz"]
conditions = st.one_of(
    values,
    st.dictionaries(
        st.sampled_from(["$eq", "$ne", "$gt", "$gte", "$lt", "$lte", "$contains"]),
        values,
        min_size=1,
        max_size=2,
    ),
    st.dictionaries(st.sampled_from(["$in", "$nin"]), st.lists(values, max_size=3), min_size=1),
    st.fixed_dictionaries({"$exists": st.booleans()}),
)
queries = st.dictionaries(st.sampled_from(PATHS), conditions, max_size=2)


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(docs=st.lists(documents, max_size=12), query=queries, change=st.integers(0, 11))
def test_find_agrees_with_a_plain_python_filter(storage, docs, query, change):
    db = storage.db(name="hypothesis")

    async def scenario():
        await db.drop("c")
        ids = [await db.insert("c", doc) for doc in docs]
        stored = await db.find("c")
        expected = [d["_id"] for d in stored if reference_match(d, query)]
        cold = [d["_id"] for d in await db.find("c", query)]
        warm = [d["_id"] for d in await db.find("c", query)]
        assert cold == warm == expected, (stored, query)
        assert await db.count("c", query) == len(expected)
        limited = [d["_id"] for d in await db.find("c", query, limit=2, skip=1)]
        assert limited == expected[1:3]
        if ids:  # a change is seen by the next find
            doc_id = ids[change % len(ids)]
            await db.replace("c", doc_id, docs[(change + 1) % len(docs)])
            stored = await db.find("c")
            expected = [d["_id"] for d in stored if reference_match(d, query)]
            assert [d["_id"] for d in await db.find("c", query)] == expected

    trio.run(scenario)


# ---- paging ------------------------------------------------------------------------------------


def test_paging_skips_then_limits(storage):
    db = storage.db(name="p")

    async def fill():
        for i in range(10):
            await db.insert("c", {"i": i})

    trio.run(fill)

    def page(skip, limit):
        return [doc["i"] for doc in trio.run(lambda: db.find("c", skip=skip, limit=limit))]

    assert page(2, 3) == [2, 3, 4]
    assert page(None, None) == list(range(10))
    assert page(8, None) == [8, 9]
    assert page(None, 2) == [0, 1]
    assert page(20, 5) == []
    assert page(0, 0) == []
