"""kv commands as a `[kv]` box sends them: every row of storage.md's kv table in each of the three
command forms, and every kind of error reply, on each backend."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from patchflow.errors import CommandError
from patchflow.storage import (
    KV,
    KV_COMMANDS,
    Get,
    Keys,
    Set,
    SetStore,
    StoreRef,
    describe,
    parse_kv_command,
)

STORE = StoreRef.named("box-store")


def typed(verb, names, args):
    return {"type": verb, **dict(zip(names, args, strict=False))}


def verb_keyed(verb, names, args):
    return {verb: args[0] if len(args) == 1 else list(args)}


def listed(verb, names, args):
    return [verb, *args]


FORMS = {"typed": typed, "verb-keyed": verb_keyed, "list": listed}
FIELDS = {
    "get": ("key",),
    "set": ("key", "value"),
    "delete": ("key",),
    "has": ("key",),
    "keys": (),
    "clear": (),
    "setStore": ("value",),
}


@pytest.fixture(params=FORMS)
def command(request):
    """`command(verb, *args)`: the command message in one of the three forms."""
    form = FORMS[request.param]
    return lambda verb, *args: form(verb, FIELDS[verb], args)


@pytest.fixture
def send(storage, box_reply):
    """`send(message, store=STORE)`: run a message as a `[kv]` box does; return the reply."""
    return lambda message, store=STORE: box_reply(KV(storage.backend, store), message)


def test_the_three_forms_parse_to_the_same_command(command):
    assert parse_kv_command(command("set", "count", [5])) == Set("count", [5])
    assert parse_kv_command(command("get", "count")) == Get("count")
    assert parse_kv_command(command("keys")) == Keys()


def test_set_replies_ok_and_get_finds_the_value(send, command):
    assert send(command("set", "count", 5)) == {"op": "set", "key": "count", "ok": True}
    assert send(command("get", "count")) == {
        "op": "get",
        "key": "count",
        "value": 5,
        "found": True,
    }


def test_a_list_value_is_one_value(send, command):
    send(command("set", "items", [1, [2, 3]]))
    assert send(command("get", "items"))["value"] == [1, [2, 3]]


def test_get_of_a_missing_key_is_not_found_with_value_none(send, command):
    assert send(command("get", "nope")) == {
        "op": "get",
        "key": "nope",
        "value": None,
        "found": False,
    }


def test_a_stored_none_is_found(send, command):
    assert send(command("set", "empty", None))["ok"] is True
    assert send(command("get", "empty")) == {
        "op": "get",
        "key": "empty",
        "value": None,
        "found": True,
    }
    assert send(command("has", "empty"))["exists"] is True


def test_delete_says_whether_the_key_existed(send, command):
    send(command("set", "k", 1))
    assert send(command("delete", "k")) == {"op": "delete", "key": "k", "deleted": True}
    assert send(command("delete", "k")) == {"op": "delete", "key": "k", "deleted": False}
    assert send(command("get", "k"))["found"] is False


def test_has_says_whether_the_key_exists(send, command):
    assert send(command("has", "k")) == {"op": "has", "key": "k", "exists": False}
    send(command("set", "k", 0))
    assert send(command("has", "k")) == {"op": "has", "key": "k", "exists": True}


def test_keys_are_sorted_by_code_point_without_the_store_prefix(send, command):
    for key in ["b", "a", "é", "Z", "😀", "ab", "", "\uffff", "a\x00"]:
        send(command("set", key, 1))
    assert send(command("keys")) == {
        "op": "keys",
        "keys": ["", "Z", "a", "a\x00", "ab", "b", "é", "\uffff", "😀"],
    }


def test_keys_of_an_empty_store_is_an_empty_list(send, command):
    assert send(command("keys")) == {"op": "keys", "keys": []}


def test_clear_empties_only_this_store(send, command):
    neighbours = [StoreRef.named("box-store2"), StoreRef.named("box"), StoreRef.local("box-store")]
    for store in [STORE, *neighbours]:
        send(command("set", "k", 1), store)
    assert send(command("clear")) == {"op": "clear", "ok": True}
    assert send(command("keys")) == {"op": "keys", "keys": []}
    for store in neighbours:
        assert send(command("keys"), store) == {"op": "keys", "keys": ["k"]}


def test_set_store_replies_with_the_store_and_changes_no_data(send, command):
    send(command("set", "k", 1))
    assert send(command("setStore", "other")) == {"op": "setStore", "value": "other", "ok": True}
    assert send(command("setStore", "")) == {"op": "setStore", "value": "", "ok": True}
    assert send(command("keys")) == {"op": "keys", "keys": ["k"]}


def test_a_set_store_command_names_the_store_the_box_switches_to(storage, box_reply):
    kv = storage.kv(local="kv-1")
    box_reply(kv, {"type": "set", "key": "where", "value": "local"})
    command = kv.parse({"setStore": "shared"})
    assert command == SetStore("shared") and isinstance(command, kv.SetStore)
    shared = kv.store(command.value)
    assert shared.store_ref == StoreRef.named("shared")
    assert box_reply(shared, {"get": "where"})["found"] is False
    back = shared.store(shared.parse(["setStore", ""]).value)
    assert box_reply(back, {"get": "where"})["value"] == "local"


def test_extra_fields_in_a_typed_command_are_ignored(send):
    assert send({"type": "get", "key": "k", "note": "why"})["op"] == "get"


def test_no_argument_commands_accept_none_or_true_in_the_verb_keyed_form(send):
    assert send({"keys": True})["op"] == "keys"
    assert send({"clear": None})["op"] == "clear"


# ---- errors --------------------------------------------------------------------------------

VERBS = ", ".join(KV_COMMANDS)  # get, set, delete, has, keys, clear, setStore, incr, ...
SET_NEEDS = "'set' needs key (string) and value, and optionally ttl (milliseconds > 0)"


def test_the_documented_error_messages_are_exact(send):
    assert send({"type": "set", "key": 5}) == {
        "op": "error",
        "message": f'kv: {SET_NEEDS}; got {{"type": "set", "key": 5}}',
    }
    assert send({"type": "bang"}) == {
        "op": "error",
        "message": f'kv: unknown command "bang"; expected one of {VERBS}',
    }


@pytest.mark.parametrize(
    "message",
    [{"type": "bang"}, {"bang": []}, ["bang"], {"type": "Get", "key": "k"}, [5, "k"]],
)
def test_an_unknown_verb_is_an_error_listing_the_known_ones(send, message):
    reply = send(message)
    assert reply["op"] == "error"
    assert reply["message"].startswith("kv: unknown command ")
    assert reply["message"].endswith(f"; expected one of {VERBS}")


@pytest.mark.parametrize(
    ("verb", "args", "needs"),
    [
        ("set", ("count",), SET_NEEDS),  # no value
        ("set", (5, 1), SET_NEEDS),
        ("set", (None, 1), SET_NEEDS),
        ("get", (5,), "'get' needs key (string)"),
        ("get", (b"k",), "'get' needs key (string)"),
        ("delete", ([],), "'delete' needs key (string)"),
        ("has", ({"k": 1},), "'has' needs key (string)"),
        ("setStore", (3,), "'setStore' needs value (string)"),
        ("setStore", (None,), "'setStore' needs value (string)"),
    ],
)
def test_wrong_or_missing_fields_are_an_error_naming_what_was_expected(
    send, command, verb, args, needs
):
    message = command(verb, *args)
    reply = send(message)
    assert reply["op"] == "error"
    assert reply["message"].startswith(f"kv: {needs}; got ")


@pytest.mark.parametrize(
    ("message", "needs"),
    [
        ({"type": "get"}, "'get' needs key (string)"),
        ({"get": []}, "'get' needs key (string)"),
        (["get"], "'get' needs key (string)"),
        ({"type": "set", "key": "k"}, SET_NEEDS),
        ({"set": "k"}, SET_NEEDS),
        (["setStore"], "'setStore' needs value (string)"),
    ],
)
def test_a_missing_field_is_an_error_showing_the_message_received(send, message, needs):
    assert send(message) == {"op": "error", "message": f"kv: {needs}; got {describe(message)}"}


@pytest.mark.parametrize(
    ("message", "shown"),
    [
        (["get", "a", "b"], '["get", "a", "b"]'),
        ({"get": ["a", "b"]}, '{"get": ["a", "b"]}'),
        (["set", "a", 1, 2, 3], '["set", "a", 1, 2, 3]'),
    ],
)
def test_too_many_arguments_is_an_error_showing_the_message(send, message, shown):
    reply = send(message)
    assert reply["op"] == "error"
    assert reply["message"].endswith(f"; got {shown}")


@pytest.mark.parametrize("message", [["clear", 1], {"clear": 1}, {"clear": "x"}])
def test_no_argument_commands_refuse_arguments(send, message):
    assert "takes no arguments" in send(message)["message"]


def test_a_storage_reply_wired_back_in_is_an_error_saying_it_looks_like_a_reply(send):
    reply = send({"op": "get", "key": "count", "value": 5, "found": True})
    assert reply["op"] == "error"
    assert "looks like a storage reply" in reply["message"]
    assert reply["message"].startswith('kv: {"op": "get", "key": "count"')


@pytest.mark.parametrize("message", [5, "keys", None, b"get", [], {}, {"a": 1, "b": 2}, True])
def test_a_message_that_is_no_command_at_all_is_an_error(send, message):
    reply = send(message)
    assert reply["op"] == "error"
    assert reply["message"].startswith("kv: expected a command")


@pytest.mark.parametrize(
    ("value", "where"),
    [
        ({1, 2}, "value"),
        ({"items": [1, 2, {3}]}, "value.items[2]"),
        (object(), "value"),
        (2**64, "value"),
        ({"a": {1: 2}}, "value.a"),
    ],
)
def test_an_unstorable_value_is_an_error_and_nothing_is_stored(send, command, value, where):
    send(command("set", "k", "before"))
    reply = send(command("set", "k", value))
    assert reply["op"] == "error"
    assert reply["message"].startswith(f"kv: 'set' cannot store {where}: ")
    assert send(command("get", "k"))["value"] == "before"


def test_keys_up_to_400_bytes_work_and_longer_ones_are_an_error_naming_the_limit(send, command):
    for key in ["k" * 400, "é" * 200, "😀" * 100]:
        assert send(command("set", key, 1))["ok"] is True
        assert send(command("get", key))["found"] is True
    for key in ["k" * 401, "é" * 201, "😀" * 100 + "k"]:
        for verb_args in [("set", key, 1), ("get", key), ("has", key), ("delete", key)]:
            reply = send(command(*verb_args))
            assert reply["op"] == "error"
            assert "at most 400 bytes" in reply["message"]
            assert reply["message"].startswith(f"kv: '{verb_args[0]}' key is ")


def test_a_key_that_is_not_valid_unicode_is_an_error(send, command):
    reply = send(command("set", "a\ud800", 1))
    assert reply["op"] == "error"
    assert "lone surrogate" in reply["message"]


@pytest.mark.parametrize(
    ("name", "problem"),
    [("a\x00b", "contains NUL"), ("n" * 101, "at most 100 bytes"), ("\udfff", "lone surrogate")],
)
def test_set_store_to_a_name_that_cannot_name_a_store_is_an_error(send, command, name, problem):
    reply = send(command("setStore", name))
    assert reply["op"] == "error"
    assert reply["message"].startswith("kv: 'setStore' store name ")
    assert problem in reply["message"]


def test_parse_raises_command_error_with_the_reply_message():
    with pytest.raises(CommandError) as caught:
        parse_kv_command({"type": "set", "key": 5})
    assert str(caught.value) == f'kv: {SET_NEEDS}; got {{"type": "set", "key": 5}}'


def test_commands_that_fail_store_nothing(send):
    bad = [
        {"type": "set", "key": 5, "value": 1},
        {"set": ["k"]},
        ["set", "k", {1, 2}],
        ["set", "k" * 401, 1],
        {"op": "set", "key": "k", "ok": True},
        ["set", "k", 1, 0],  # a ttl must be > 0
        ["set", "k", 1, 2, 3],
    ]
    for message in bad:
        assert send(message)["op"] == "error"
    assert send(["keys"]) == {"op": "keys", "keys": []}


@given(st.one_of(st.text(max_size=450), st.integers(), st.none(), st.binary(max_size=4)))
def test_the_fast_typed_get_parses_exactly_as_the_generic_parser(key):
    from patchflow.storage import KV_COMMANDS, CommandSet

    generic = CommandSet("kv", tuple(KV_COMMANDS.values()), fast=False)
    message = {"type": "get", "key": key}

    def outcome(parse):
        try:
            command = parse(message)
        except CommandError as error:
            return ("error", str(error))
        return ("ok", command.key, command.key_bytes)

    assert outcome(parse_kv_command) == outcome(generic.parse)


def test_every_reply_has_the_fields_its_command_declares_for_the_help(send):
    from patchflow.storage import KV_COMMANDS

    examples = {
        "get": {"get": "k"},
        "set": {"set": ["k", 1]},
        "delete": {"delete": "k"},
        "has": {"has": "k"},
        "keys": ["keys"],
        "clear": ["clear"],
        "setStore": {"setStore": "x"},
        "incr": {"incr": "n"},
        "cas": ["cas", "c", None, 1],
        "ttl": {"ttl": "k"},
        "batch": {"batch": [["set", "b", 1]]},
    }
    assert list(examples) == list(KV_COMMANDS)  # a new command needs an example here
    for verb, message in examples.items():
        assert list(send(message)) == ["op", *KV_COMMANDS[verb].replies], verb


def test_the_python_methods_are_generated_from_the_commands_with_their_signatures():
    import inspect

    from patchflow.storage import KV

    assert str(inspect.signature(KV.set)) == (
        "(self, key: 'str', value: 'Any', *, ttl: 'int | float | None' = None) -> 'None'"
    )
    assert inspect.getdoc(KV.get).startswith("Read the value under `key`.")
    assert inspect.iscoroutinefunction(KV.keys)
    assert not hasattr(KV, "set_store")  # setStore is KV.store(name) in Python
