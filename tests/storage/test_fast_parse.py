"""The fast paths of `CommandSet.parse` build exactly what the general parse does.

`command_set.fast_builder` compiles, per command class, builders (typed dict; list and
verb-keyed forms) that skip attrs' generic `__init__`; these tests compare them with the
general parse (`parse_general`) over random messages in all three forms, valid and invalid,
for every kv and db command: same command, same fields (the derived ones too), same error text.
"""

from __future__ import annotations

from typing import Any

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from patchflow.storage import DB_COMMANDS, KV_COMMANDS
from patchflow.storage.commands.base import fields_of
from patchflow.storage.commands.command_set import CommandSet, fast_builder

SETS = {"kv": KV_COMMANDS, "db": DB_COMMANDS}

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True),
    st.text(max_size=8),
    st.sampled_from(["", "a", "k" * 401, "x\ud800", "$gt", "_id", "a.b", "*", "?"]),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.sampled_from(["a", "b", "_id", "$gt", "$in", "x.y"]), inner, max_size=3),
    ),
    max_leaves=6,
)
odd_values = st.one_of(
    values,
    st.sampled_from([(1, 2), b"\x00", {1, 2}, 1 + 2j, object]),
    st.dictionaries(st.integers(), st.integers(), max_size=2),
)
sorts = st.dictionaries(st.sampled_from(["a", "b", "_id"]), st.sampled_from([1, -1, 0, "up"]))


def field_values(name: str) -> st.SearchStrategy[Any]:
    """Values that are often right for the field `name`, and sometimes wrong."""
    likely = {
        "sort": sorts,
        "limit": st.one_of(st.integers(-2, 5), st.floats(0, 3)),
        "skip": st.one_of(st.integers(-2, 5), st.floats(0, 3)),
        "ttl": st.one_of(st.integers(-2, 2**54), st.floats(allow_nan=True)),
        "commands": st.lists(st.builds(dict, type=st.sampled_from(["get", "set", "x"]))),
    }.get(name, st.text(max_size=6))
    return st.one_of(likely, odd_values)


@st.composite
def messages(draw: st.DrawFn) -> tuple[CommandSet, Any]:
    """A typed dict (mostly), for a random command of kv or db, with a random subset of its
    fields, sometimes extra keys, sometimes another form."""
    commands = draw(st.sampled_from(list(SETS.values())))
    verb = draw(st.sampled_from([*commands, "nope"]))
    names = [f.name for f in fields_of(commands[verb])] if verb in commands else ["key"]
    message: dict[Any, Any] = {"type": verb}
    for name in names:
        if draw(st.integers(0, 4)):  # mostly given
            message[name] = draw(field_values(name))
    if draw(st.integers(0, 5)) == 0:
        message[draw(st.sampled_from(["op", "extra", 3, "value"]))] = draw(values)
    form = draw(st.integers(0, 5))
    if form == 0:
        return commands, list(message.values())  # the list form
    if form == 1:  # the verb-keyed form: a list of arguments, or a single one
        args = list(message.values())[1:]
        if len(args) == 1 and draw(st.booleans()):
            return commands, {verb: args[0]}
        return commands, {verb: draw(st.sampled_from([args, tuple(args), None, True]))}
    if draw(st.integers(0, 10)) == 0:
        message["type"] = draw(st.sampled_from([["get"], None, 5, "GET"]))
    return commands, message


def shown(value: Any, depth: int = 0) -> Any:
    """A comparable picture of a value: NaN-safe floats, and objects by type and fields
    (compiled queries, sorters and key ranges are new objects on every parse)."""
    if depth > 8:
        return "..."
    if isinstance(value, float):
        return ("float", repr(value))
    if value is None or isinstance(value, bool | int | str | bytes):
        return value
    if isinstance(value, list | tuple):
        return (type(value).__name__, [shown(v, depth + 1) for v in value])
    if isinstance(value, dict):
        return ("dict", [(shown(k, depth + 1), shown(v, depth + 1)) for k, v in value.items()])
    if callable(value) and not attrs.has(type(value)):
        return ("callable", getattr(value, "__qualname__", type(value).__qualname__))
    if attrs.has(type(value)):
        fields = [
            (f.name, shown(getattr(value, f.name, "<unset>"), depth + 1))
            for f in attrs.fields(type(value))
        ]
        return (type(value).__qualname__, fields)
    slots = getattr(type(value), "__slots__", None)
    if slots is not None or hasattr(value, "__dict__"):
        names = slots if slots is not None else sorted(vars(value))
        names = [names] if isinstance(names, str) else names
        return (
            type(value).__qualname__,
            [(n, shown(getattr(value, n, "<unset>"), depth + 1)) for n in names],
        )
    return (type(value).__qualname__, repr(value))


def outcome(parse: Any, message: Any) -> Any:
    try:
        command = parse(message)
    except Exception as error:  # the general parse's errors are part of what must agree
        return ("error", type(error).__name__, str(error), getattr(error, "index", None))
    return ("ok", shown(command))


@settings(max_examples=600, deadline=None)
@given(messages())
def test_the_fast_path_parses_every_message_as_the_general_parse_does(case):
    commands, message = case
    assert outcome(commands.parse, message) == outcome(commands.parse_general, message)


@pytest.mark.parametrize(
    "message",
    [
        {"type": "set", "key": "count", "value": 5},
        {"type": "set", "key": "k", "value": None, "ttl": 2.5, "extra": 1},
        {"type": "get", "key": "count"},
        {"type": "incr", "key": "n"},
        {"type": "insert", "collection": "users", "doc": {"name": "ada"}},
        {"type": "find", "collection": "users", "query": {"age": {"$gt": 3}}, "limit": 2},
        {"type": "findOne", "collection": "users", "id": "u1"},
    ],
)
def test_common_typed_commands_take_the_fast_path(message, monkeypatch):
    commands = KV_COMMANDS if message["type"] in KV_COMMANDS else DB_COMMANDS
    _fast_only(commands, monkeypatch)
    command = commands.parse(message)
    assert type(command).verb == message["type"]


@pytest.mark.parametrize(
    ("message", "verb"),
    [
        (["set", "count", 5], "set"),
        (["set", "count", 5, 100], "set"),
        ({"set": ["count", {"a": [1]}]}, "set"),
        ({"get": "count"}, "get"),
        (["incr", "n", 2], "incr"),
        ({"insert": ["users", {"name": "ada"}]}, "insert"),
    ],
)
def test_common_list_and_verb_keyed_commands_take_the_fast_path(message, verb, monkeypatch):
    commands = KV_COMMANDS if verb in KV_COMMANDS else DB_COMMANDS
    _fast_only(commands, monkeypatch)
    assert type(commands.parse(message)).verb == verb


def _fast_only(commands, monkeypatch):
    """Make the general parse fail the test if it is reached."""

    def no_general(message: Any) -> Any:
        raise AssertionError(f"{message} went to the general parse")

    monkeypatch.setattr(commands, "parse_general", no_general)


@pytest.mark.parametrize(
    ("message", "error"),
    [
        ({"type": "set", "key": 5, "value": 1}, "kv: 'set' needs key (string) and value"),
        ({"type": "set", "key": "k"}, "kv: 'set' needs key (string) and value"),
        ({"type": "set", "key": "k", "value": 1, "ttl": 0}, "needs ttl to be milliseconds"),
        ({"type": "set", "key": "k", "value": {1, 2}}, "kv: 'set'"),
        ({"type": "insert", "collection": "c", "doc": [1]}, "db: 'insert' needs"),
    ],
)
def test_a_wrong_typed_command_gets_the_general_parse_error(message, error):
    commands = KV_COMMANDS if message["type"] in KV_COMMANDS else DB_COMMANDS
    with pytest.raises(Exception) as fast:
        commands.parse(message)
    with pytest.raises(Exception) as general:
        commands.parse_general(message)
    assert error in str(fast.value)
    assert (type(fast.value), str(fast.value)) == (type(general.value), str(general.value))


def test_a_class_the_builder_cannot_mirror_gets_no_fast_path():
    @attrs.frozen
    class Converted:
        owner = "kv"
        verb = "converted"
        key: str = attrs.field(converter=str)

    @attrs.frozen
    class Factoried:
        owner = "kv"
        verb = "factoried"
        items: list[Any] = attrs.field(factory=list)

    for form in ("typed", "positional"):
        assert fast_builder(Converted, form) is None
        assert fast_builder(Factoried, form) is None
