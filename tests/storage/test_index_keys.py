"""The index key encoding: byte order is the sort order of `find`, kind by kind."""

from __future__ import annotations

import math

from hypothesis import example, given
from hypothesis import strategies as st

from patchflow.storage.commands.sorting import _sort_key
from patchflow.storage.layout.index_keys import (
    MAX_VALUE_BYTES,
    encode_value,
    is_exact,
)

# ints where floats stop being exact (2**53) and at the ends of what msgpack stores
edges = [2**53, 2**63, 2**64 - 1, -(2**63)]
near_edges = (
    st.sampled_from(edges)
    .flatmap(lambda e: st.integers(e - 3, e + 3))
    .filter(lambda n: -(2**63) <= n < 2**64)
)
numbers = st.one_of(
    st.integers(-(2**63), 2**64 - 1),
    near_edges,
    near_edges.map(float),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.0, -0.0, 0, 1, 1.0, -1, math.inf, -math.inf, math.nan]),
)
long_text = st.text(min_size=MAX_VALUE_BYTES - 2, max_size=MAX_VALUE_BYTES + 8)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    numbers,
    st.text(max_size=6),
    st.text(alphabet="a\x00\U0001f600\ud800", max_size=6),
    st.binary(max_size=6),
    long_text,
    st.binary(min_size=MAX_VALUE_BYTES - 1, max_size=MAX_VALUE_BYTES + 3),
)
values = st.one_of(
    scalars,
    st.lists(scalars, max_size=3),
    st.dictionaries(st.text(max_size=2), scalars, max_size=2),
)


def order(a, b) -> int:
    return (a > b) - (a < b)


@given(values, values)
@example(2**53 + 1, float(2**53))
@example(2**53 + 1, float(2**53 + 2))
@example(-(2**53) - 1, -float(2**53))
@example(math.nan, -math.inf)
@example(-0.0, 0)
@example("a", "a\x00")
@example("a\x00", "a\x01")
@example(False, 0)
@example("x" * MAX_VALUE_BYTES, "x" * MAX_VALUE_BYTES + "a")
def test_byte_order_is_the_sort_order(a, b):
    ka, kb = encode_value(a), encode_value(b)
    by_sort = order(_sort_key(a), _sort_key(b))
    if is_exact(ka) and is_exact(kb):
        assert order(ka, kb) == by_sort
    else:  # values cut short (or lists, dicts) may tie, but never come out the wrong way
        assert order(ka, kb) in (by_sort, 0)


@given(values, values, st.binary(min_size=1, max_size=9))
def test_no_encoding_is_the_beginning_of_another(a, b, tail):
    ka, kb = encode_value(a), encode_value(b)
    if ka != kb:
        assert not kb.startswith(ka)
        # so whatever follows an encoding in a key (the SEQ) keeps its order
        assert order(ka + tail, kb) == order(ka, kb)


def test_equal_numbers_encode_alike_and_unequal_ones_do_not():
    assert encode_value(1) == encode_value(1.0)
    assert encode_value(-0.0) == encode_value(0.0) == encode_value(0)
    assert encode_value(math.nan) == encode_value(-math.nan)
    assert encode_value(2**53 + 1) != encode_value(float(2**53))
    assert encode_value(True) != encode_value(1)


def test_long_strings_are_cut_short_and_flagged_inexact():
    assert is_exact(encode_value("x" * MAX_VALUE_BYTES))
    cut = encode_value("x" * (MAX_VALUE_BYTES + 1))
    assert not is_exact(cut)
    assert cut == encode_value("x" * MAX_VALUE_BYTES + "yz")
    assert not is_exact(encode_value([1])) and not is_exact(encode_value({}))
