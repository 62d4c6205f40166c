"""The codec: every message value round-trips exactly; anything else is refused, saying where."""

from __future__ import annotations

import enum
from collections import OrderedDict

import msgpack
import pytest
import trio
from hypothesis import HealthCheck, given, settings

from patchflow.errors import CommandError
from patchflow.storage import UnstorableValue, decode, encode
from patchflow.storage.layout.codec import MAX_DEPTH
from patchflow.testing import exactly_equal
from patchflow.testing import message_values as generate_message_values

message_values = generate_message_values()


same = exactly_equal


@given(message_values)
def test_every_message_value_round_trips_exactly(value):
    assert same(decode(encode(value)), value)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(value=message_values)
def test_every_message_value_round_trips_through_each_backend(storage, value):
    kv = storage.kv(name="round-trip")

    async def set_and_get():
        await kv.set("value", value)
        return await kv.get("value")

    assert same(trio.run(set_and_get), value)


def test_bytes_stay_bytes_and_text_stays_text():
    assert decode(encode(b"\x00\xff")) == b"\x00\xff"
    assert type(decode(encode("text"))) is str
    assert decode(encode({"blob": b"png", "name": "png"})) == {"blob": b"png", "name": "png"}


def test_tuples_become_lists_and_bytes_likes_become_bytes():
    assert decode(encode((1, (2, 3)))) == [1, [2, 3]]
    assert decode(encode([bytearray(b"ab"), memoryview(b"cd")])) == [b"ab", b"cd"]


def test_subclasses_of_plain_types_are_stored_as_the_plain_type():
    class Level(enum.IntEnum):
        HIGH = 3

    assert decode(encode({"level": Level.HIGH, "d": OrderedDict(a=1)})) == {
        "level": 3,
        "d": {"a": 1},
    }


def test_the_64_bit_limits_are_storable():
    for number in (-(2**63), 2**64 - 1):
        assert decode(encode([number])) == [number]
        assert decode(encode(number)) == number


@pytest.mark.parametrize(
    ("value", "where", "problem"),
    [
        ({1, 2}, "value", "set is not a message value"),
        ({"items": [1, 2, {3}]}, "value.items[2]", "set is not a message value"),
        ([object()], "value[0]", "object is not a message value"),
        (2**64, "value", "outside the 64-bit range"),
        ({"n": [-(2**63) - 1]}, "value.n[0]", "outside the 64-bit range"),
        ({"a": {5: "x"}}, "value.a", "dict key 5 (int) is not a string"),
        ({b"k": 1}, "value", "dict key b'k' (bytes) is not a string"),
        ({"odd key": [msgpack.ExtType(1, b"x")]}, "value['odd key'][0]", "ExtType"),
        (["ok", "\ud800"], "value[1]", "lone surrogate"),
        ("\udcff", "value", "lone surrogate"),
    ],
)
def test_unstorable_values_are_refused_naming_where_and_what(value, where, problem):
    with pytest.raises(UnstorableValue) as caught:
        encode(value)
    assert caught.value.where == where
    assert problem in caught.value.problem
    assert str(caught.value).startswith(f"cannot store {where}: ")
    assert isinstance(caught.value, CommandError)


def test_the_root_of_the_path_is_named_by_the_caller():
    with pytest.raises(UnstorableValue, match=r"^cannot store doc\.tags: "):
        encode({"tags": {"a"}}, where="doc")


def test_values_nested_too_deeply_are_refused():
    deep = ok = []
    for _ in range(MAX_DEPTH - 1):
        ok = [ok]
    assert decode(encode(ok)) == ok
    for _ in range(MAX_DEPTH + 5):
        deep = [deep]
    with pytest.raises(UnstorableValue, match=f"nested more than {MAX_DEPTH} levels deep"):
        encode(deep)
