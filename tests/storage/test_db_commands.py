"""db commands as a `[db]` box sends them: every row of storage.md's db table in each of the three
command forms, and every kind of error reply, on each backend."""

from __future__ import annotations

import pytest
import trio

from patchflow.errors import CommandError
from patchflow.storage import (
    DB,
    DB_COMMANDS,
    Count,
    DbSetStore,
    DeleteDoc,
    Drop,
    Find,
    FindOne,
    Insert,
    Replace,
    StoreRef,
    Update,
    describe,
    parse_db_command,
)

STORE = StoreRef.named("box-store")
FIELDS = {
    "insert": ("collection", "doc"),
    "find": ("collection", "query", "sort", "limit", "skip"),
    "findOne": ("collection", "id"),
    "update": ("collection", "id", "doc"),
    "replace": ("collection", "id", "doc"),
    "delete": ("collection", "id"),
    "count": ("collection", "query"),
    "drop": ("collection",),
    "setStore": ("value",),
}
VERBS = ", ".join(DB_COMMANDS)  # insert, find, findOne, update, replace, delete, count, ...


def typed(verb, args):
    return {"type": verb, **dict(zip(FIELDS[verb], args, strict=False))}


def verb_keyed(verb, args):
    return {verb: args[0] if len(args) == 1 and not isinstance(args[0], list) else list(args)}


def listed(verb, args):
    return [verb, *args]


FORMS = {"typed": typed, "verb-keyed": verb_keyed, "list": listed}


@pytest.fixture(params=FORMS)
def command(request):
    """`command(verb, *args)`: the command message in one of the three forms."""
    form = FORMS[request.param]
    return lambda verb, *args: form(verb, args)


@pytest.fixture
def send(storage, box_reply):
    """`send(message, store=STORE)`: run a message as a `[db]` box does; return the reply."""
    return lambda message, store=STORE: box_reply(DB(storage.backend, store), message)


def test_the_three_forms_parse_to_the_same_command(command):
    doc = {"text": "hi"}
    assert parse_db_command(command("insert", "notes", doc)) == Insert("notes", doc)
    assert parse_db_command(command("find", "notes")) == Find("notes")
    query, sort = {"a": 1}, {"b": -1}
    assert parse_db_command(command("find", "notes", query, sort, 5, 2)) == Find(
        "notes", query, sort, 5, 2
    )
    assert parse_db_command(command("findOne", "notes", "x")) == FindOne("notes", "x")
    assert parse_db_command(command("update", "notes", "x", doc)) == Update("notes", "x", doc)
    assert parse_db_command(command("replace", "notes", "x", doc)) == Replace("notes", "x", doc)
    assert parse_db_command(command("delete", "notes", "x")) == DeleteDoc("notes", "x")
    assert parse_db_command(command("count", "notes", query)) == Count("notes", query)
    assert parse_db_command(command("drop", "notes")) == Drop("notes")
    assert parse_db_command(command("setStore", "other")) == DbSetStore("other")


def test_the_spec_examples_parse():
    assert parse_db_command({"find": "notes"}) == Find("notes")
    assert parse_db_command({"insert": ["notes", {"text": "hi"}]}) == Insert(
        "notes", {"text": "hi"}
    )


# ---- every row of the table -------------------------------------------------------------------


def test_insert_replies_with_the_new_id(send, command):
    reply = send(command("insert", "notes", {"text": "hi"}))
    assert reply == {"op": "insert", "collection": "notes", "id": reply["id"]}
    assert isinstance(reply["id"], str)
    assert len(reply["id"]) == 21


def test_find_replies_with_the_docs_and_how_many_were_returned(send, command):
    first = send(command("insert", "notes", {"text": "hi", "author": "poom"}))["id"]
    send(command("insert", "notes", {"text": "yo", "author": "ada"}))
    reply = send(command("find", "notes", {"author": "poom"}))
    assert reply["op"] == "find"
    assert reply["collection"] == "notes"
    assert reply["count"] == 1
    [doc] = reply["docs"]
    assert doc["_id"] == first
    assert {k: doc[k] for k in ("text", "author")} == {"text": "hi", "author": "poom"}
    assert set(reply) == {"op", "collection", "docs", "count"}


def test_find_of_a_missing_collection_is_empty(send, command):
    assert send(command("find", "nothing")) == {
        "op": "find",
        "collection": "nothing",
        "docs": [],
        "count": 0,
    }


def test_find_takes_sort_limit_and_skip(send, command):
    for n in [3, 1, 4, 1, 5, 9, 2, 6]:
        send(command("insert", "nums", {"n": n}))
    reply = send(command("find", "nums", None, {"n": -1}, 3, 1))
    assert [doc["n"] for doc in reply["docs"]] == [6, 5, 4]
    assert reply["count"] == 3
    typed_reply = send({"type": "find", "collection": "nums", "sort": {"n": 1}, "limit": 2})
    assert [doc["n"] for doc in typed_reply["docs"]] == [1, 1]
    assert send({"type": "find", "collection": "nums", "skip": 6})["count"] == 2


def test_find_one_replies_with_the_doc_or_none(send, command):
    doc_id = send(command("insert", "notes", {"text": "hi"}))["id"]
    reply = send(command("findOne", "notes", doc_id))
    assert reply["op"] == "findOne"
    assert (reply["collection"], reply["id"], reply["doc"]["text"]) == ("notes", doc_id, "hi")
    assert reply["doc"]["_id"] == doc_id
    assert send(command("findOne", "notes", "nope")) == {
        "op": "findOne",
        "collection": "notes",
        "id": "nope",
        "doc": None,
    }


def test_update_merges_and_says_whether_the_doc_existed(send, command):
    doc_id = send(command("insert", "notes", {"text": "hi", "n": 1}))["id"]
    assert send(command("update", "notes", doc_id, {"n": 2, "new": True})) == {
        "op": "update",
        "collection": "notes",
        "id": doc_id,
        "ok": True,
    }
    doc = send(command("findOne", "notes", doc_id))["doc"]
    assert (doc["text"], doc["n"], doc["new"]) == ("hi", 2, True)
    assert send(command("update", "notes", "nope", {"n": 3}))["ok"] is False


def test_replace_swaps_the_user_fields_and_says_whether_the_doc_existed(send, command):
    doc_id = send(command("insert", "notes", {"text": "hi", "n": 1}))["id"]
    assert send(command("replace", "notes", doc_id, {"other": 1})) == {
        "op": "replace",
        "collection": "notes",
        "id": doc_id,
        "ok": True,
    }
    doc = send(command("findOne", "notes", doc_id))["doc"]
    assert set(doc) == {"_id", "_created", "_updated", "other"}
    assert send(command("replace", "notes", "nope", {}))["ok"] is False


def test_delete_removes_the_doc_and_says_whether_it_existed(send, command):
    doc_id = send(command("insert", "notes", {"text": "hi"}))["id"]
    assert send(command("delete", "notes", doc_id)) == {
        "op": "delete",
        "collection": "notes",
        "id": doc_id,
        "ok": True,
    }
    assert send(command("findOne", "notes", doc_id))["doc"] is None
    assert send(command("delete", "notes", doc_id))["ok"] is False


def test_count_counts_all_or_matching_docs(send, command):
    for author in ["poom", "ada", "poom"]:
        send(command("insert", "notes", {"author": author}))
    assert send(command("count", "notes")) == {"op": "count", "collection": "notes", "count": 3}
    assert send(command("count", "notes", {"author": "poom"}))["count"] == 2
    assert send(command("count", "nothing"))["count"] == 0


def test_drop_removes_the_collection(send, command):
    send(command("insert", "notes", {"text": "hi"}))
    assert send(command("drop", "notes")) == {"op": "drop", "collection": "notes", "ok": True}
    assert send(command("count", "notes"))["count"] == 0
    assert send(command("drop", "never-was")) == {
        "op": "drop",
        "collection": "never-was",
        "ok": True,
    }


def test_set_store_replies_with_the_store_and_changes_no_data(send, command):
    send(command("insert", "notes", {"text": "hi"}))
    assert send(command("setStore", "other")) == {"op": "setStore", "value": "other", "ok": True}
    assert send(command("setStore", "")) == {"op": "setStore", "value": "", "ok": True}
    assert send(command("count", "notes"))["count"] == 1


def test_a_set_store_command_names_the_store_the_box_switches_to(storage, box_reply):
    db = storage.db(local="db-1")
    box_reply(db, {"insert": ["notes", {"where": "local"}]})
    command = db.parse({"setStore": "shared"})
    assert isinstance(command, db.SetStore)
    shared = db.store(command.value)
    assert shared.store_ref == StoreRef.named("shared")
    assert box_reply(shared, {"count": "notes"})["count"] == 0
    back = shared.store(shared.parse(["setStore", ""]).value)
    assert back.store_ref == StoreRef.local("db-1")
    assert box_reply(back, {"find": "notes"})["docs"][0]["where"] == "local"


def test_extra_fields_in_a_typed_command_are_ignored(send):
    assert send({"type": "count", "collection": "c", "note": "why"})["op"] == "count"


def test_optional_fields_may_be_null(send):
    send({"insert": ["c", {"n": 1}]})
    message = {"type": "find", "collection": "c", "query": None, "sort": None, "limit": None}
    assert send({**message, "skip": None})["count"] == 1
    assert send({"type": "count", "collection": "c", "query": None})["count"] == 1


def test_replies_come_in_command_order(storage, box_reply):
    db = storage.db(local="db-1")
    messages = [
        ["insert", "c", {"_id": "a"}],
        ["count", "c"],
        ["delete", "c", "a"],
        ["count", "c"],
        ["bang"],
        ["find", "c"],
    ]

    replies = [box_reply(db, message) for message in messages]
    assert [reply["op"] for reply in replies] == [
        "insert",
        "count",
        "delete",
        "count",
        "error",
        "find",
    ]
    assert [replies[1]["count"], replies[3]["count"]] == [1, 0]


# ---- errors ------------------------------------------------------------------------------------


def test_the_documented_error_messages_are_exact(send):
    assert send({"type": "insert", "collection": "notes"}) == {
        "op": "error",
        "message": "db: 'insert' needs collection (string) and doc (dict);"
        ' got {"type": "insert", "collection": "notes"}',
    }
    assert send({"type": "bang"}) == {
        "op": "error",
        "message": f'db: unknown command "bang"; expected one of {VERBS}',
    }


@pytest.mark.parametrize(
    "message",
    [{"type": "bang"}, {"bang": []}, ["bang"], {"type": "Insert"}, [5, "c"], {"get": "k"}],
)
def test_an_unknown_verb_is_an_error_listing_the_known_ones(send, message):
    reply = send(message)
    assert reply["op"] == "error"
    assert reply["message"].startswith("db: unknown command ")
    assert reply["message"].endswith(f"; expected one of {VERBS}")


INSERT = "'insert' needs collection (string) and doc (dict)"
FIND = (
    "'find' needs collection (string), and optionally query (dict), sort ({field: 1 or -1}),"
    " limit (non-negative integer), skip (non-negative integer) and explain (true or false)"
)
ID_NEEDS = "collection (string) and id (string)"
DOC_NEEDS = "collection (string), id (string) and doc (dict)"


@pytest.mark.parametrize(
    ("verb", "args", "needs"),
    [
        ("insert", ("notes",), INSERT),
        ("insert", (5, {}), INSERT),
        ("insert", ("notes", [1, 2]), INSERT),
        ("insert", ("notes", "text"), INSERT),
        ("insert", (None, {}), INSERT),
        ("find", (5,), FIND),
        ("find", (None,), FIND),
        ("findOne", ("notes",), f"'findOne' needs {ID_NEEDS}"),
        ("findOne", ("notes", 5), f"'findOne' needs {ID_NEEDS}"),
        ("update", ("notes", "x"), f"'update' needs {DOC_NEEDS}"),
        ("update", ("notes", "x", 5), f"'update' needs {DOC_NEEDS}"),
        ("replace", ("notes", None, {}), f"'replace' needs {DOC_NEEDS}"),
        ("delete", ("notes", b"x"), f"'delete' needs {ID_NEEDS}"),
        (
            "count",
            (["notes"],),
            "'count' needs collection (string), and optionally query (dict) and explain (true"
            " or false)",
        ),
        ("drop", (5,), "'drop' needs collection (string)"),
        ("setStore", (3,), "'setStore' needs value (string)"),
    ],
)
def test_wrong_or_missing_fields_are_an_error_naming_what_was_expected(
    send, command, verb, args, needs
):
    reply = send(command(verb, *args))
    assert reply["op"] == "error"
    assert reply["message"].startswith(f"db: {needs}; got ")


@pytest.mark.parametrize(
    ("message", "needs"),
    [
        ({"type": "insert"}, INSERT),
        ({"insert": []}, INSERT),
        (["insert", "notes"], INSERT),
        ({"find": []}, FIND),
        ({"type": "drop"}, "'drop' needs collection (string)"),
    ],
)
def test_a_missing_field_is_an_error_showing_the_message_received(send, message, needs):
    assert send(message) == {"op": "error", "message": f"db: {needs}; got {describe(message)}"}


@pytest.mark.parametrize(
    "message",
    [
        ["drop", "a", "b"],
        {"findOne": ["a", "b", "c"]},
        ["find", "c", None, None, None, 0, "extra"],
        ["count", "c", {}, {}],
    ],
)
def test_too_many_arguments_is_an_error_showing_the_message(send, message):
    reply = send(message)
    assert reply["op"] == "error"
    assert reply["message"].endswith(f"; got {describe(message)}")


def test_a_storage_reply_wired_back_in_is_an_error_saying_it_looks_like_a_reply(send):
    reply = send({"op": "find", "collection": "notes", "docs": [], "count": 0})
    assert reply["op"] == "error"
    assert "looks like a storage reply" in reply["message"]
    assert reply["message"].startswith("db: ")


@pytest.mark.parametrize("message", [5, "find", None, b"find", [], {}, {"a": 1, "b": 2}])
def test_a_message_that_is_no_command_at_all_is_an_error(send, message):
    reply = send(message)
    assert reply["op"] == "error"
    assert reply["message"].startswith("db: expected a command")


@pytest.mark.parametrize(
    ("query", "problem"),
    [
        ({"a": {"$regex": "x"}}, "unknown query operator '$regex' in field 'a'"),
        ({"a": {"$in": 5}}, "'$in' in field 'a' needs a list"),
        ({"a": {"$exists": 1}}, "'$exists' in field 'a' needs true or false"),
        ({"a": {"$gt": 1, "b": 2}}, "mixes operators and plain keys"),
        ({"$or": []}, "cannot start with '$'"),
        ({"a..b": 1}, "is not a valid path"),
        ("text", "a query must be a dict"),
        ([1], "a query must be a dict"),
    ],
)
def test_a_bad_query_is_an_error_reply_for_find_and_count(send, command, query, problem):
    send(command("insert", "c", {"a": 1}))
    for message in (command("find", "c", query), command("count", "c", query)):
        reply = send(message)
        assert reply["op"] == "error"
        verb = message["type"] if isinstance(message, dict) and "type" in message else None
        verb = verb or (message[0] if isinstance(message, list) else next(iter(message)))
        assert reply["message"].startswith(f"db: '{verb}' ")
        assert problem in reply["message"]
        assert reply["message"].endswith(f"; got {describe(message)}")


@pytest.mark.parametrize(
    ("sort", "problem"),
    [
        ({"a": 2}, "sort direction for field 'a' must be 1"),
        ({"a": True}, "sort direction for field 'a' must be 1"),
        ({"a": "asc"}, "sort direction for field 'a' must be 1"),
        (["a"], "sort must be a dict"),
        ({"$a": 1}, "cannot start with '$'"),
    ],
)
def test_a_bad_sort_is_an_error_reply(send, sort, problem):
    reply = send({"type": "find", "collection": "c", "sort": sort})
    assert reply["op"] == "error"
    assert reply["message"].startswith("db: 'find' ")
    assert problem in reply["message"]


@pytest.mark.parametrize(
    ("field", "value"),
    [("limit", -1), ("limit", 1.5), ("limit", "3"), ("skip", -2), ("skip", True), ("limit", False)],
)
def test_bad_paging_is_an_error_reply(send, field, value):
    reply = send({"type": "find", "collection": "c", field: value})
    assert reply["op"] == "error"
    assert reply["message"].startswith(f"db: 'find' '{field}' must be a non-negative integer")


@pytest.mark.parametrize(
    ("doc", "where"),
    [
        ({"a": {1, 2}}, "doc.a"),
        ({"items": [1, 2, {3}]}, "doc.items[2]"),
        ({"a": object()}, "doc.a"),
        ({"big": 2**64}, "doc.big"),
        ({1: "x"}, "doc"),
        ({"a": {1: 2}}, "doc.a"),
    ],
)
def test_an_unstorable_doc_is_an_error_and_nothing_is_stored(storage, box_reply, doc, where):
    db = storage.db(name="s")

    async def scenario():
        doc_id = await db.insert("c", {"v": "before"})
        replies = [
            box_reply(db, {"type": "insert", "collection": "c", "doc": doc}),
            box_reply(db, {"type": "update", "collection": "c", "id": doc_id, "doc": doc}),
            box_reply(db, {"type": "replace", "collection": "c", "id": doc_id, "doc": doc}),
        ]
        return doc_id, replies, await db.find("c")

    doc_id, replies, docs = trio.run(scenario)
    for reply, verb in zip(replies, ["insert", "update", "replace"], strict=True):
        assert reply["op"] == "error"
        assert reply["message"].startswith(f"db: '{verb}' cannot store {where}: ")
    assert [(d["_id"], d["v"]) for d in docs] == [(doc_id, "before")]


def test_a_taken_id_is_an_error_reply_and_nothing_is_stored(send, command):
    assert send(command("insert", "notes", {"_id": "x", "n": 1}))["id"] == "x"
    reply = send(command("insert", "notes", {"_id": "x", "n": 2}))
    assert reply == {
        "op": "error",
        "message": "db: 'insert' _id 'x' is taken in collection 'notes'",
    }
    docs = send(command("find", "notes"))["docs"]
    assert [(doc["_id"], doc["n"]) for doc in docs] == [("x", 1)]
    # the same _id in another collection or store is free
    assert send(command("insert", "other", {"_id": "x"}))["id"] == "x"
    assert send(command("insert", "notes", {"_id": "x"}), StoreRef.named("s2"))["id"] == "x"


@pytest.mark.parametrize("bad_id", [5, None, "", ["x"], {"a": 1}, True, b"x"])
def test_an_id_that_is_not_a_non_empty_string_is_an_error(send, command, bad_id):
    reply = send(command("insert", "notes", {"_id": bad_id}))
    assert reply["op"] == "error"
    assert reply["message"].startswith(
        "db: 'insert' needs the doc's _id, when it has one, to be a non-empty string; got "
    )
    assert send(command("count", "notes"))["count"] == 0


@pytest.mark.parametrize(
    ("doc_id", "problem"),
    [("x" * 301, "at most 300 bytes"), ("a\ud800", "lone surrogate")],
)
def test_an_id_that_cannot_be_stored_is_an_error(send, command, doc_id, problem):
    reply = send(command("insert", "notes", {"_id": doc_id}))
    assert reply["op"] == "error"
    assert reply["message"].startswith("db: 'insert' doc _id: id ")
    assert problem in reply["message"]
    for verb in ("findOne", "delete"):
        reply = send(command(verb, "notes", doc_id))
        assert reply["message"].startswith(f"db: '{verb}' id ")
        assert problem in reply["message"]


def test_an_empty_id_is_an_error_for_the_commands_that_name_one(send, command):
    for verb, args in [("findOne", ()), ("delete", ()), ("update", ({},)), ("replace", ({},))]:
        reply = send(command(verb, "notes", "", *args))
        assert reply["message"].startswith(f"db: '{verb}' id may not be empty; got ")


@pytest.mark.parametrize(
    ("collection", "problem"),
    [
        ("", "may not be empty"),
        ("a\x00b", "contains NUL"),
        ("c" * 101, "at most 100 bytes"),
        ("\udfff", "lone surrogate"),
    ],
)
def test_a_collection_name_that_cannot_name_a_collection_is_an_error(
    send, command, collection, problem
):
    for verb, args in [
        ("insert", ({},)),
        ("find", ()),
        ("findOne", ("x",)),
        ("update", ("x", {})),
        ("replace", ("x", {})),
        ("delete", ("x",)),
        ("count", ()),
        ("drop", ()),
    ]:
        reply = send(command(verb, collection, *args))
        assert reply["op"] == "error"
        assert reply["message"].startswith(f"db: '{verb}' collection name ")
        assert problem in reply["message"]


def test_collection_names_up_to_100_bytes_work(send, command):
    for name in ["c" * 100, "é" * 50, "😀" * 25]:
        assert send(command("insert", name, {"n": 1}))["op"] == "insert"
        assert send(command("count", name))["count"] == 1


def test_set_store_to_a_name_that_cannot_name_a_store_is_an_error(send, command):
    reply = send(command("setStore", "a\x00b"))
    assert reply["op"] == "error"
    assert reply["message"].startswith("db: 'setStore' store name ")


def test_parse_raises_command_error_with_the_reply_message():
    with pytest.raises(CommandError) as caught:
        parse_db_command({"type": "insert", "collection": "notes"})
    assert str(caught.value) == (
        'db: \'insert\' needs collection (string) and doc (dict); got {"type": "insert",'
        ' "collection": "notes"}'
    )


def test_commands_that_fail_store_nothing(send):
    bad = [
        {"type": "insert", "collection": 5, "doc": {}},
        {"insert": ["c"]},
        ["insert", "c", {"a": {1, 2}}],
        ["insert", "c" * 101, {}],
        {"op": "insert", "collection": "c", "id": "x"},
        ["insert", "c", {}, 2],
        ["insert", "c", {"_id": 5}],
    ]
    for message in bad:
        assert send(message)["op"] == "error"
    assert send(["count", "c"])["count"] == 0
    assert send(["find", "c"])["docs"] == []


def test_every_reply_has_the_fields_its_command_declares_for_the_help(send):
    from patchflow.storage import DB_COMMANDS

    doc_id = send({"insert": ["c", {"n": 1}]})["id"]
    examples = {
        "insert": {"insert": ["c", {"n": 2}]},
        "find": {"find": "c"},
        "findOne": {"findOne": ["c", doc_id]},
        "update": {"update": ["c", doc_id, {"n": 3}]},
        "replace": {"replace": ["c", doc_id, {"n": 4}]},
        "delete": {"delete": ["c", doc_id]},
        "count": {"count": "c"},
        "drop": {"drop": "c"},
        "createIndex": {"createIndex": ["c", "n"]},
        "dropIndex": {"dropIndex": ["c", "n"]},
        "indexes": {"indexes": "c"},
        "setStore": {"setStore": "x"},
        "batch": {"batch": [{"count": "c"}]},
    }
    assert list(examples) == list(DB_COMMANDS)  # a new command needs an example here
    for verb, message in examples.items():
        assert list(send(message)) == ["op", *DB_COMMANDS[verb].replies], verb


def test_the_python_methods_have_the_signatures_storage_md_gives():
    import inspect

    from patchflow.storage import DB

    find = inspect.signature(DB.find)
    assert list(find.parameters) == [
        "self",
        "collection",
        "query",
        "sort",
        "limit",
        "skip",
        "explain",
    ]
    assert [p.kind.name for p in find.parameters.values()][2:] == [
        "POSITIONAL_OR_KEYWORD",
        "KEYWORD_ONLY",
        "KEYWORD_ONLY",
        "KEYWORD_ONLY",
        "KEYWORD_ONLY",
    ]
    assert (find.parameters["query"].default, find.parameters["skip"].default) == (None, 0)
    assert list(inspect.signature(DB.find_one).parameters) == ["self", "collection", "id"]
    assert DB.delete.__qualname__ == "DB.delete"
