"""The `db` query engine: matching, sorting and paging decoded documents."""

from __future__ import annotations

import enum
import itertools
import math
import operator

import msgpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from patchflow.errors import CommandError
from patchflow.storage.commands.query import OPERATORS, compile_query
from patchflow.storage.commands.scan import Plan
from patchflow.storage.commands.sorting import compile_sort, validate_paging

NAN = float("nan")


def match(doc, query):
    return compile_query(query)(doc)


def sort_docs(docs, spec):
    return compile_sort(spec)(docs)


def matching(docs, query):
    matcher = compile_query(query)
    return [doc for doc in docs if matcher(doc)]


# ---- equality -------------------------------------------------------------------------


def test_plain_value_matches_equal_field():
    docs = [{"author": "poom", "n": 1}, {"author": "ana", "n": 2}, {"n": 3}]
    assert matching(docs, {"author": "poom"}) == [docs[0]]


def test_every_field_must_match():
    docs = [{"a": 1, "b": "x"}, {"a": 1, "b": "y"}, {"a": 2, "b": "x"}]
    assert matching(docs, {"a": 1, "b": "x"}) == [docs[0]]


def test_empty_or_none_query_matches_everything():
    docs = [{}, {"a": 1}]
    assert matching(docs, None) == docs
    assert matching(docs, {}) == docs


def test_equality_does_not_confuse_bool_with_int():
    assert not match({"x": 1}, {"x": True})
    assert not match({"x": True}, {"x": 1})
    assert not match({"x": 0}, {"x": False})
    assert match({"x": True}, {"x": True})


def test_equality_treats_int_and_float_alike():
    assert match({"x": 1}, {"x": 1.0})
    assert match({"x": 2.0}, {"x": 2})


def test_equality_never_matches_across_kinds():
    assert not match({"x": "1"}, {"x": 1})
    assert not match({"x": b"a"}, {"x": "a"})
    assert not match({"x": None}, {"x": 0})
    assert not match({"x": [1]}, {"x": {"0": 1}})


def test_nan_equals_nan():
    assert match({"x": NAN}, {"x": NAN})
    assert not match({"x": 1.0}, {"x": NAN})


def test_nested_equality_is_kind_safe():
    assert match({"x": {"a": [1, 2.0]}}, {"x": {"a": [1.0, 2]}})
    assert not match({"x": {"a": [1]}}, {"x": {"a": [True]}})
    assert not match({"x": [0, 1]}, {"x": [False, True]})
    assert match({"x": {"a": 1, "b": 2}}, {"x": {"b": 2, "a": 1}})  # key order ignored
    assert not match({"x": {"a": 1, "b": 2}}, {"x": {"a": 1}})


def test_empty_dict_value_means_equality_with_empty_dict():
    assert match({"x": {}}, {"x": {}})
    assert not match({"x": {"a": 1}}, {"x": {}})


def test_list_field_matches_member_or_whole_list():
    doc = {"tags": ["red", "blue", 3]}
    assert match(doc, {"tags": "red"})
    assert match(doc, {"tags": 3.0})
    assert match(doc, {"tags": ["red", "blue", 3]})
    assert not match(doc, {"tags": ["red"]})
    assert not match(doc, {"tags": "green"})
    assert not match({"tags": [1]}, {"tags": True})


def test_list_of_lists_matches_a_member_list():
    assert match({"x": [[1, 2], 3]}, {"x": [1, 2]})


def test_none_matches_null_missing_and_lists_holding_null():
    docs = [{"x": None}, {}, {"x": [1, None]}, {"x": 0}, {"x": False}]
    assert matching(docs, {"x": None}) == docs[:3]
    assert matching(docs, {"x": {"$eq": None}}) == docs[:3]


def test_tuples_in_documents_count_as_lists():
    assert match({"x": (1, 2)}, {"x": 2})
    assert match({"x": (1, 2)}, {"x": [1, 2]})


# ---- dotted paths ---------------------------------------------------------------------


def test_dotted_path_reaches_into_nested_dicts():
    docs = [{"author": {"name": "poom"}}, {"author": {"name": "ana"}}]
    assert matching(docs, {"author.name": "poom"}) == [docs[0]]


def test_dotted_path_through_missing_or_non_dict_parent_is_missing():
    docs = [{}, {"author": None}, {"author": "poom"}, {"author": 5}, {"author": {}}]
    assert matching(docs, {"author.name": "poom"}) == []
    assert matching(docs, {"author.name": None}) == docs
    assert matching(docs, {"author.name": {"$exists": False}}) == docs
    assert matching(docs, {"author.name": {"$ne": "x"}}) == docs


def test_numeric_segment_indexes_a_list():
    doc = {"items": ["a", {"name": "b"}]}
    assert match(doc, {"items.0": "a"})
    assert match(doc, {"items.1.name": "b"})
    assert not match(doc, {"items.2": {"$exists": True}})


def test_numeric_segment_is_a_key_in_a_dict():
    assert match({"m": {"0": "zero"}}, {"m.0": "zero"})


def test_path_fans_out_over_a_list_of_dicts():
    doc = {"items": [{"name": "a", "n": 1}, {"name": "b", "n": 5}, "loose", {"other": 1}]}
    assert match(doc, {"items.name": "b"})
    assert match(doc, {"items.n": {"$gt": 4}})
    assert not match(doc, {"items.n": {"$gt": 5}})
    assert not match(doc, {"items.name": {"$ne": "a"}})
    assert match(doc, {"items.name": {"$nin": ["c"]}})
    assert match(doc, {"items.name": {"$exists": True}})
    assert not match(doc, {"items.missing": {"$exists": True}})


def test_fan_out_reaches_lists_inside_items():
    doc = {"posts": [{"tags": ["x", "y"]}, {"tags": ["z"]}]}
    assert match(doc, {"posts.tags": "z"})
    assert match(doc, {"posts.tags": ["x", "y"]})


# ---- operators ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("op", "operand", "expected"),
    [
        ("$gt", 5, [7, 7.5]),
        ("$gte", 5, [5, 7, 7.5]),
        ("$lt", 5, [3]),
        ("$lte", 5, [3, 5]),
        ("$gt", 5.5, [7, 7.5]),
    ],
)
def test_range_operators_compare_numbers_only(op, operand, expected):
    values = [3, 5, 7, 7.5, "9", True, None, [], {}, b"9"]
    docs = [{"x": v} for v in values] + [{}]
    assert [d["x"] for d in matching(docs, {"x": {op: operand}})] == expected


def test_range_operators_compare_strings_by_code_point_and_bytes_with_bytes():
    docs = [{"x": "apple"}, {"x": "banana"}, {"x": "Zed"}, {"x": b"b"}, {"x": 1}]
    assert matching(docs, {"x": {"$gte": "b"}}) == [docs[1]]
    assert matching(docs, {"x": {"$lt": "b"}}) == [docs[0], docs[2]]
    assert matching(docs, {"x": {"$gte": b"a"}}) == [docs[3]]


def test_range_operators_order_bools_among_bools_only():
    docs = [{"x": False}, {"x": True}, {"x": 1}, {"x": 0}]
    assert matching(docs, {"x": {"$gt": False}}) == [docs[1]]
    assert matching(docs, {"x": {"$lt": True}}) == [docs[0]]


def test_range_operators_with_unordered_operand_never_match():
    docs = [{"x": None}, {"x": [1]}, {"x": {}}, {}, {"x": 1}]
    for operand in (None, [1], {}):
        for op in ("$gt", "$gte", "$lt", "$lte"):
            assert matching(docs, {"x": {op: operand}}) == []


def test_range_operators_never_match_nan():
    docs = [{"x": NAN}, {"x": 1}]
    assert matching(docs, {"x": {"$gt": 0}}) == [docs[1]]
    assert matching(docs, {"x": {"$lt": NAN}}) == []


def test_range_operator_on_list_field_matches_any_element():
    doc = {"scores": [2, "x", 9]}
    assert match(doc, {"scores": {"$gt": 8}})
    assert not match(doc, {"scores": {"$gt": 9}})
    assert match(doc, {"scores": {"$gte": 3, "$lt": 10}})


def test_several_operators_on_one_field_must_all_hold():
    docs = [{"x": n} for n in range(6)]
    assert [d["x"] for d in matching(docs, {"x": {"$gte": 2, "$lt": 4}})] == [2, 3]


def test_ne_matches_other_values_missing_and_other_kinds():
    docs = [{"x": 1}, {"x": 2}, {}, {"x": True}, {"x": "1"}, {"x": None}]
    assert matching(docs, {"x": {"$ne": 1}}) == docs[1:]


def test_ne_on_list_field_excludes_lists_holding_the_value():
    docs = [{"x": [1, 2]}, {"x": [3]}]
    assert matching(docs, {"x": {"$ne": 1}}) == [docs[1]]


def test_ne_null_matches_only_present_non_null_values():
    docs = [{"x": None}, {}, {"x": 0}]
    assert matching(docs, {"x": {"$ne": None}}) == [docs[2]]


def test_in_matches_any_listed_value_kind_safely():
    docs = [{"x": "a"}, {"x": 1}, {"x": True}, {"x": ["q", "b"]}, {}, {"x": b"a"}]
    assert matching(docs, {"x": {"$in": ["a", 1, "b"]}}) == [docs[0], docs[1], docs[3]]
    assert matching(docs, {"x": {"$in": [None]}}) == [docs[4]]
    assert matching(docs, {"x": {"$in": []}}) == []
    assert matching(docs, {"x": {"$in": [b"a", True]}}) == [docs[2], docs[5]]


def test_nin_matches_missing_and_unlisted_values():
    docs = [{"x": "a"}, {"x": "c"}, {}, {"x": ["a", "z"]}, {"x": 1}]
    assert matching(docs, {"x": {"$nin": ["a", True]}}) == [docs[1], docs[2], docs[4]]
    assert matching(docs, {"x": {"$nin": []}}) == docs


def test_in_accepts_a_tuple_operand():
    assert match({"x": 2}, {"x": {"$in": (1, 2)}})


def test_contains_is_substring_for_strings():
    docs = [{"t": "hello world"}, {"t": "bye"}, {"t": 5}, {}, {"t": b"world"}]
    assert matching(docs, {"t": {"$contains": "world"}}) == [docs[0]]
    assert matching(docs, {"t": {"$contains": ""}}) == [docs[0], docs[1]]


def test_contains_is_subsequence_for_bytes():
    docs = [{"b": b"\x00\x01\x02"}, {"b": "\x01"}]
    assert matching(docs, {"b": {"$contains": b"\x01"}}) == [docs[0]]


def test_contains_is_kind_safe_membership_for_lists():
    docs = [{"x": [1, 2]}, {"x": [True]}, {"x": ["hello"]}, {"x": [[1]]}]
    assert matching(docs, {"x": {"$contains": 1}}) == [docs[0]]
    assert matching(docs, {"x": {"$contains": True}}) == [docs[1]]
    assert matching(docs, {"x": {"$contains": "hell"}}) == []  # membership, not substring
    assert matching(docs, {"x": {"$contains": "hello"}}) == [docs[2]]
    assert matching(docs, {"x": {"$contains": [1]}}) == [docs[3]]


def test_contains_never_matches_other_kinds():
    docs = [{"x": 12}, {"x": None}, {"x": {"a": 1}}, {}]
    assert matching(docs, {"x": {"$contains": 1}}) == []
    assert matching(docs, {"x": {"$contains": "a"}}) == []


def test_exists_tells_present_from_missing():
    docs = [{"x": None}, {"x": 0}, {}]
    assert matching(docs, {"x": {"$exists": True}}) == docs[:2]
    assert matching(docs, {"x": {"$exists": False}}) == docs[2:]


def test_operators_never_raise_on_mixed_kinds():
    values = [None, True, 0, 1.5, NAN, "s", b"b", [1, "a"], {"k": 1}, ()]
    docs = [{"x": v} for v in values] + [{}]
    for op in ("$eq", "$ne", "$gt", "$gte", "$lt", "$lte", "$contains"):
        for operand in values:
            matching(docs, {"x": {op: operand}})


# ---- invalid queries ------------------------------------------------------------------


def test_unknown_operator_is_named_with_the_valid_ones():
    with pytest.raises(CommandError) as info:
        compile_query({"title": {"$regex": "a"}})
    assert str(info.value) == (
        "db: unknown query operator '$regex' in field 'title'; expected one of "
        "$eq, $ne, $gt, $gte, $lt, $lte, $in, $nin, $contains, $exists"
    )


def test_command_error_is_a_value_error():
    with pytest.raises(ValueError):
        compile_query({"x": {"$nope": 1}})


@pytest.mark.parametrize("query", [[1, 2], "x", 5, True])
def test_query_must_be_a_dict(query):
    with pytest.raises(CommandError, match="query must be a dict"):
        compile_query(query)


def test_mixing_operators_and_plain_keys_is_an_error():
    with pytest.raises(CommandError, match="mixes operators and plain keys"):
        compile_query({"x": {"$gt": 1, "a": 2}})


@pytest.mark.parametrize("operand", ["a", 1, None, {"a": 1}])
@pytest.mark.parametrize("op", ["$in", "$nin"])
def test_in_and_nin_need_a_list(op, operand):
    with pytest.raises(CommandError, match=rf"'\{op}' in field 'x' needs a list"):
        compile_query({"x": {op: operand}})


@pytest.mark.parametrize("operand", [1, 0, "yes", None])
def test_exists_needs_a_bool(operand):
    with pytest.raises(CommandError, match="needs true or false"):
        compile_query({"x": {"$exists": operand}})


@pytest.mark.parametrize("field", ["", "a..b", ".a", "a."])
def test_empty_path_segments_are_an_error(field):
    with pytest.raises(CommandError, match="not a valid path"):
        compile_query({field: 1})


def test_field_starting_with_dollar_is_an_error():
    with pytest.raises(CommandError, match="cannot start with"):
        compile_query({"$or": [{"a": 1}]})


def test_non_string_field_name_is_an_error():
    with pytest.raises(CommandError, match="field names must be strings"):
        compile_query({5: 1})


def test_non_message_value_in_query_is_an_error():
    with pytest.raises(CommandError, match="not a message value"):
        compile_query({"x": {1, 2}})
    with pytest.raises(CommandError, match="not a message value"):
        compile_query({"x": {"$in": [object()]}})


def test_operand_subclasses_are_treated_as_their_base_kind():
    class Level(enum.IntEnum):
        HIGH = 3

    assert match({"x": 3}, {"x": Level.HIGH})
    assert match({"x": 4}, {"x": {"$gt": Level.HIGH}})


# ---- sorting --------------------------------------------------------------------------

MIXED = [
    {"i": 0, "v": "b"},
    {"i": 1, "v": 2},
    {"i": 2},
    {"i": 3, "v": None},
    {"i": 4, "v": True},
    {"i": 5, "v": b"x"},
    {"i": 6, "v": [1]},
    {"i": 7, "v": {"a": 1}},
    {"i": 8, "v": 1.5},
    {"i": 9, "v": False},
    {"i": 10, "v": NAN},
    {"i": 11, "v": "a"},
    {"i": 12, "v": []},
    {"i": 13, "v": -3},
]
# missing < None < bools < numbers (NaN first) < strings < bytes < lists < dicts
MIXED_ASCENDING = [2, 3, 9, 4, 10, 13, 8, 1, 11, 0, 5, 12, 6, 7]


def ids(docs):
    return [d["i"] for d in docs]


def test_sort_orders_mixed_kinds_and_missing_fields():
    assert ids(sort_docs(MIXED, {"v": 1})) == MIXED_ASCENDING


def test_descending_sort_reverses_the_whole_order():
    assert ids(sort_docs(MIXED, {"v": -1})) == MIXED_ASCENDING[::-1]


def test_sort_without_spec_keeps_the_order_and_returns_a_new_list():
    docs = [{"i": 1}, {"i": 0}]
    for spec in (None, {}):
        result = sort_docs(docs, spec)
        assert result == docs
        assert result is not docs


def test_sort_is_stable_in_both_directions():
    docs = [{"i": i, "k": k} for i, k in enumerate([2, 1, 2, 1, 1.0])]
    assert ids(sort_docs(docs, {"k": 1})) == [1, 3, 4, 0, 2]
    assert ids(sort_docs(docs, {"k": -1})) == [0, 2, 1, 3, 4]


def test_sort_uses_fields_in_order_with_their_own_directions():
    docs = [
        {"i": 0, "a": 1, "b": "x"},
        {"i": 1, "a": 2, "b": "y"},
        {"i": 2, "a": 1, "b": "z"},
        {"i": 3, "a": 2, "b": "x"},
    ]
    assert ids(sort_docs(docs, {"a": 1, "b": -1})) == [2, 0, 1, 3]
    assert ids(sort_docs(docs, {"b": 1, "a": -1})) == [3, 0, 1, 2]


def test_sort_follows_dotted_paths():
    docs = [{"i": 0, "p": {"n": 3}}, {"i": 1, "p": {"n": 1}}, {"i": 2, "p": 5}, {"i": 3}]
    assert ids(sort_docs(docs, {"p.n": 1})) == [2, 3, 1, 0]


def test_sort_by_fanned_out_path_compares_lists_of_reached_values():
    docs = [
        {"i": 0, "xs": [{"n": 2}, {"n": 1}]},
        {"i": 1, "xs": [{"n": 2}]},
        {"i": 2, "xs": [{"m": 0}]},
        {"i": 3, "xs": {"n": 9}},
    ]
    # [2] before [2, 1] (a prefix first); missing first; a single dict value is a number
    assert ids(sort_docs(docs, {"xs.n": 1})) == [2, 3, 1, 0]


def test_sort_compares_lists_and_dicts_element_by_element():
    docs = [{"i": 0, "v": [1, "a"]}, {"i": 1, "v": [1]}, {"i": 2, "v": [0, 9]}]
    assert ids(sort_docs(docs, {"v": 1})) == [2, 1, 0]
    docs = [{"i": 0, "v": {"b": 1}}, {"i": 1, "v": {"a": 2}}, {"i": 2, "v": {"a": 1}}]
    assert ids(sort_docs(docs, {"v": 1})) == [2, 1, 0]


def test_compiled_sorter_can_be_reused():
    sorter = compile_sort({"n": -1})
    assert sorter([{"n": 1}, {"n": 2}]) == [{"n": 2}, {"n": 1}]
    assert sorter(iter([{"n": 0}, {"n": 3}])) == [{"n": 3}, {"n": 0}]


@pytest.mark.parametrize("direction", [0, 2, "asc", True, 1.0, None, -1.0])
def test_sort_direction_must_be_one_or_minus_one(direction):
    with pytest.raises(CommandError, match=r"must be 1 .*or -1"):
        compile_sort({"n": direction})


@pytest.mark.parametrize("sort", [["n", 1], "n", 1])
def test_sort_must_be_a_dict(sort):
    with pytest.raises(CommandError, match="sort must be a dict"):
        compile_sort(sort)


def test_sort_field_must_be_a_valid_path():
    with pytest.raises(CommandError, match=r"sort field 'a\.\.b' is not a valid path"):
        compile_sort({"a..b": 1})


# ---- paging ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("skip", "limit", "name"),
    [
        (-1, None, "skip"),
        (None, -2, "limit"),
        (True, None, "skip"),
        (None, 1.0, "limit"),
        (None, "3", "limit"),
        ("0", None, "skip"),
    ],
)
def test_paging_needs_non_negative_ints(skip, limit, name):
    with pytest.raises(CommandError, match=f"'{name}' must be a non-negative integer"):
        validate_paging(skip, limit)


def test_paging_accepts_zero_and_none():
    validate_paging(0, 0)
    validate_paging(None, None)


# ---- properties -----------------------------------------------------------------------
# A reference matcher written straight from the module docstring, recursively and without
# any of the engine's fast paths.

REF_MISSING = object()
KIND_RANK = {"missing": 0, "none": 1, "bool": 2, "number": 3, "str": 4, "bytes": 5}
KIND_RANK |= {"list": 6, "dict": 7}


def ref_kind(value):
    if value is REF_MISSING:
        return "missing"
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "str"
    if isinstance(value, bytes):
        return "bytes"
    if isinstance(value, list | tuple):
        return "list"
    assert isinstance(value, dict)
    return "dict"


def ref_equal(a, b):
    kind = ref_kind(a)
    if kind != ref_kind(b):
        return False
    if kind == "number":
        return a == b or (math.isnan(a) and math.isnan(b))
    if kind == "list":
        return len(a) == len(b) and all(ref_equal(x, y) for x, y in zip(a, b, strict=True))
    if kind == "dict":
        return set(a) == set(b) and all(ref_equal(a[k], b[k]) for k in a)
    return a == b


def ref_reach(value, segments):
    """Return (values reached, whether the walk fanned out over a list)."""
    if not segments:
        return [value], False
    head, tail = segments[0], segments[1:]
    if isinstance(value, dict):
        return ref_reach(value[head], tail) if head in value else ([], False)
    if isinstance(value, list):
        if head.isascii() and head.isdigit():
            index = int(head)
            return ref_reach(value[index], tail) if index < len(value) else ([], False)
        reached = []
        for item in value:
            if isinstance(item, dict) and head in item:
                reached += ref_reach(item[head], tail)[0]
        return reached, True
    return [], False


def ref_candidates(reached):
    """Each reached value, and each element of a reached list."""
    for value in reached:
        yield value
        if ref_kind(value) == "list":
            yield from value


def ref_holds(op, operand, reached):
    if op == "$eq":
        if not reached:
            return operand is None
        return any(ref_equal(c, operand) for c in ref_candidates(reached))
    if op == "$ne":
        return not ref_holds("$eq", operand, reached)
    if op == "$in":
        return any(ref_holds("$eq", x, reached) for x in operand)
    if op == "$nin":
        return not ref_holds("$in", operand, reached)
    if op == "$exists":
        return bool(reached) == operand
    if op == "$contains":
        for value in reached:
            kind = ref_kind(value)
            if kind in ("str", "bytes") and ref_kind(operand) == kind and operand in value:
                return True
            if kind == "list" and any(ref_equal(e, operand) for e in value):
                return True
        return False
    compare = {"$gt": operator.gt, "$gte": operator.ge, "$lt": operator.lt, "$lte": operator.le}
    kind = ref_kind(operand)
    if kind not in ("bool", "number", "str", "bytes"):
        return False
    return any(ref_kind(c) == kind and compare[op](c, operand) for c in ref_candidates(reached))


def ref_match(doc, query):
    for field, condition in query.items():
        reached, _ = ref_reach(doc, field.split("."))
        is_ops = isinstance(condition, dict) and condition and all(k[0] == "$" for k in condition)
        conditions = condition.items() if is_ops else [("$eq", condition)]
        if not all(ref_holds(op, operand, reached) for op, operand in conditions):
            return False
    return True


def ref_compare(a, b):
    """-1, 0 or 1: the documented total order of values."""
    ka, kb = KIND_RANK[ref_kind(a)], KIND_RANK[ref_kind(b)]
    if ka != kb:
        return -1 if ka < kb else 1
    kind = ref_kind(a)
    if kind == "number" and (math.isnan(a) or math.isnan(b)):
        return (not math.isnan(a)) - (not math.isnan(b))
    if kind in ("bool", "number", "str", "bytes"):
        return (a > b) - (a < b)
    if kind in ("list", "dict"):
        xs = list(a.items()) if kind == "dict" else [(None, x) for x in a]
        ys = list(b.items()) if kind == "dict" else [(None, y) for y in b]
        for (kx, x), (ky, y) in zip(xs, ys, strict=False):
            result = ref_compare(kx, ky) or ref_compare(x, y)
            if result:
                return result
        return (len(xs) > len(ys)) - (len(xs) < len(ys))
    return 0


def ref_sort_value(doc, field):
    reached, fanned = ref_reach(doc, field.split("."))
    if not reached:
        return REF_MISSING
    return reached if fanned else reached[0]


KEYS = ["a", "b", "c", "0", "1"]
scalars = st.sampled_from(
    [None, True, False, 0, 1, -1, 1.0, 0.0, -0.0, 2.5, NAN, "", "a", "ab", "b", b"", b"a", b"ab"]
)
values = scalars | st.recursive(  # st.recursive alone rarely draws a bare scalar
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(KEYS), inner, max_size=3)
    ),
    max_leaves=8,
)
documents = st.dictionaries(st.sampled_from(KEYS), values, max_size=4)
paths = st.lists(st.sampled_from(KEYS), min_size=1, max_size=3).map(".".join)
operator_terms = st.one_of(
    st.tuples(st.sampled_from(["$eq", "$ne", "$gt", "$gte", "$lt", "$lte", "$contains"]), values),
    st.tuples(st.sampled_from(["$in", "$nin"]), st.lists(values, max_size=3)),
    st.tuples(st.just("$exists"), st.booleans()),
)
conditions = values | st.lists(operator_terms, min_size=1, max_size=2).map(dict)
queries = st.dictionaries(paths, conditions, max_size=3)


def spots(value, path=""):
    """Yield (path, value) for every place in a document, fan-out paths included."""
    if path:
        yield path, value
    if isinstance(value, dict):
        for key, item in value.items():
            yield from spots(item, f"{path}.{key}" if path else key)
    elif isinstance(value, list) and path:
        for index, item in enumerate(value):
            yield from spots(item, f"{path}.{index}")
            if isinstance(item, dict):
                for key, inner in item.items():
                    yield from spots(inner, f"{path}.{key}")


NEIGHBOURS = {int: [-1, 0, 1], float: [-0.5, 0.0, 0.5]}
RANGE_OPS = ("$gt", "$gte", "$lt", "$lte")


def near(draw, value):
    """A value of the same kind close to `value`: comparisons go either way, parts contain."""
    kind = type(value)
    if kind in (int, float):
        return value + draw(st.sampled_from(NEIGHBOURS[kind]))
    if kind in (str, bytes):
        a, c = ("a", "c") if kind is str else (b"a", b"c")
        return draw(st.sampled_from([value[1:], value[:1], value + a, a, c, value[:0]]))
    return value


def twin(value):
    """A value Python might confuse with `value` that is of another kind (1 and True, …)."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int | float):
        return value == 1 if value in (0, 1) else str(value)
    if isinstance(value, str | bytes):
        return value.encode() if isinstance(value, str) else value.decode()
    return [value]


@st.composite
def documents_with_queries(draw, ops=("plain", *OPERATORS)):
    """A document and a query aimed at it: paths it has, operands taken from its values."""
    doc = draw(documents)
    places = list(spots(doc))
    places += [(p, e) for p, v in places if isinstance(v, list) for e in v]  # members
    query = {}
    for _ in range(draw(st.integers(1, 3))):
        op = draw(st.sampled_from(ops))
        aimed = places
        if op in RANGE_OPS or op == "$contains":
            aimed = [(p, v) for p, v in places if type(v) in (int, float, str, bytes)] or places
        # hypothesis prefers the first choice of a sampled_from: the one aimed at the doc
        if aimed and draw(st.sampled_from(["place", "place", "place", "anywhere"])) == "place":
            path, operand = draw(st.sampled_from(aimed))
            if isinstance(operand, list) and operand and draw(st.booleans()):
                operand = draw(st.sampled_from(operand))  # a member
            change = draw(st.sampled_from(["keep", "keep", "near", "twin", "random"]))
            if change == "random":
                operand = draw(values)
            elif change == "twin":
                operand = twin(operand)
            elif change == "near" or op in (*RANGE_OPS, "$contains"):
                operand = near(draw, operand)
        else:
            path, operand = draw(paths), draw(values)
        if op in ("$in", "$nin"):
            operand = [operand, *draw(st.lists(values, max_size=2))]
        elif op == "$exists":
            operand = draw(st.booleans())
        query[path] = operand if op == "plain" else {op: operand}
    return doc, query


@settings(max_examples=500)
@given(st.lists(documents, min_size=1, max_size=5), queries)
def test_compiled_query_agrees_with_reference_matcher(docs, query):
    matcher = compile_query(query)
    for doc in docs:
        assert matcher(doc) == ref_match(doc, query), doc


@settings(max_examples=1500)
@given(documents_with_queries())
def test_compiled_query_agrees_with_reference_on_queries_aimed_at_the_document(case):
    doc, query = case
    assert compile_query(query)(doc) == ref_match(doc, query)
    for field, condition in query.items():  # one false term would hide another's error
        term = {field: condition}
        assert compile_query(term)(doc) == ref_match(doc, term), term


@given(documents, documents)
def test_plain_equality_on_own_values_matches(doc, other):
    # A document matches a query made of its own top-level fields (NaN included).
    assert match(doc, doc)
    assert match(doc, other) == ref_match(doc, other)


# few field names, so that documents share sort fields and kinds meet in one sort
small_dicts = st.fixed_dictionaries({}, optional={"a": scalars, "b": scalars})
sort_values = st.one_of(
    scalars,
    small_dicts,
    st.lists(small_dicts, max_size=2),  # paths fan out over these
    st.recursive(
        scalars,
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from("ab"), inner),
        max_leaves=6,
    ),
)
sort_documents = st.dictionaries(st.sampled_from(["a", "b"]), sort_values, max_size=2)
sort_paths = st.sampled_from(["a", "b", "a.b", "a.0", "b.a.b"])
sort_specs = st.dictionaries(sort_paths, st.sampled_from([1, -1]), max_size=3)


@settings(max_examples=500)
@given(st.lists(sort_documents, max_size=12), sort_specs)
def test_sorting_mixed_documents_is_an_ordered_stable_permutation(docs, spec):
    result = sort_docs(docs, spec)
    assert sorted(map(id, result)) == sorted(map(id, docs))
    position = {id(doc): i for i, doc in enumerate(docs)}

    def compare(x, y):
        for field, direction in spec.items():
            order = ref_compare(ref_sort_value(x, field), ref_sort_value(y, field))
            if order:
                return order * direction
        return 0

    for x, y in itertools.pairwise(result):
        order = compare(x, y)
        assert order <= 0
        if order == 0:
            assert position[id(x)] < position[id(y)]


@settings(max_examples=1000)
@given(documents_with_queries(ops=("plain", "$eq", "$ne", "$in")))
def test_the_raw_bytes_prefilter_never_excludes_a_matching_document(case):
    doc, query = case
    if not compile_query(query)(doc):
        return
    raw = msgpack.packb(doc, use_bin_type=True)
    for probe in Plan(query).probes:
        assert probe.search(raw), (probe.pattern, raw)


def test_operator_list_is_the_documented_one():
    assert tuple(OPERATORS) == (
        "$eq", "$ne", "$gt", "$gte", "$lt", "$lte", "$in", "$nin", "$contains", "$exists"
    )  # fmt: skip


@pytest.mark.parametrize(
    ("stored", "wanted"),
    [
        (NAN, NAN),
        ({"a": [NAN]}, {"a": [NAN]}),
        (1, 1.0),
        (1, True),
        ({"a": 1, "b": 2}, {"b": 2, "a": 1}),
        ({"a": [0]}, {"a": [False]}),
        (None, 0),
        ("1", 1),
    ],
)
def test_query_equality_is_the_one_same_value_of_patchflow(stored, wanted):
    from patchflow.values import same_value

    assert match({"x": stored}, {"x": wanted}) == same_value(stored, wanted)
    assert match({"x": stored}, {"x": {"$in": [wanted]}}) == same_value(stored, wanted)
