"""Storage objects end to end: `[kv]` and `[db]` in running patches, and `kv`/`db` in `[py]`."""

from __future__ import annotations

import json

import pytest

from patchflow.testing import run_text


def replies(outcome, label="print"):
    """The JSON replies a `[print LABEL]` printed, decoded."""
    prefix = f"{label}: "
    return [json.loads(line[len(prefix) :]) for line in outcome.lines if line.startswith(prefix)]


KV_PATCH = """
store = [kv]
store -> [print]
"""


# ---- kv ----------------------------------------------------------------------------------------


def test_every_kv_command_through_a_patch():
    outcome = run_text(
        KV_PATCH,
        ("store", {"type": "set", "key": "count", "value": 5}),
        ("store", {"get": "count"}),
        ("store", ["has", "count"]),
        ("store", {"set": ["other", None]}),
        ("store", {"type": "keys"}),
        ("store", ["delete", "count"]),
        ("store", {"delete": "count"}),
        ("store", {"get": "count"}),
        ("store", {"clear": True}),
        ("store", ["keys"]),
        ("store", {"type": "setStore", "value": "named"}),
    )
    assert outcome.errors == []
    assert replies(outcome) == [
        {"op": "set", "key": "count", "ok": True},
        {"op": "get", "key": "count", "value": 5, "found": True},
        {"op": "has", "key": "count", "exists": True},
        {"op": "set", "key": "other", "ok": True},
        {"op": "keys", "keys": ["count", "other"]},
        {"op": "delete", "key": "count", "deleted": True},
        {"op": "delete", "key": "count", "deleted": False},
        {"op": "get", "key": "count", "value": None, "found": False},
        {"op": "clear", "ok": True},
        {"op": "keys", "keys": []},
        {"op": "setStore", "value": "named", "ok": True},
    ]


def test_kv_shorthand_from_message_boxes():
    outcome = run_text(
        """
        store = [kv]
        [loadbang] -> [msg set count 5, get count, has count, keys] -> store -> [print]
        """
    )
    assert outcome.errors == []
    assert replies(outcome) == [
        {"op": "set", "key": "count", "ok": True},
        {"op": "get", "key": "count", "value": 5, "found": True},
        {"op": "has", "key": "count", "exists": True},
        {"op": "keys", "keys": ["count"]},
    ]


def test_a_bad_command_gets_an_error_reply_and_the_patch_goes_on():
    outcome = run_text(KV_PATCH, ("store", {"type": "set", "key": 5}), ("store", ["keys"]))
    assert outcome.errors == []
    assert replies(outcome) == [
        {
            "op": "error",
            "message": "kv: 'set' needs key (string) and value, and optionally ttl"
            ' (milliseconds > 0); got {"type": "set", "key": 5}',
        },
        {"op": "keys", "keys": []},
    ]


def test_a_reply_wired_back_into_a_store_gets_an_error_reply_not_a_loop():
    outcome = run_text(
        """
        store = [kv]
        [loadbang] -> [msg set count 5, get count] -> store
        store -> [route op=get] -> store
        store -> [print]
        """
    )
    assert outcome.errors == []
    printed = replies(outcome)
    assert [reply["op"] for reply in printed] == ["set", "error", "get"]
    assert "looks like a storage reply" in printed[1]["message"]


def test_set_store_switches_stores_and_the_empty_name_returns_to_the_local_store():
    outcome = run_text(
        """
        store = [kv]
        reader = [kv shared]
        store -> [print]
        reader -> [print shared]
        """,
        ("store", ["set", "where", "local"]),
        ("store", {"setStore": "shared"}),
        ("store", ["set", "where", "shared"]),
        ("store", ["get", "where"]),
        ("reader", ["get", "where"]),
        ("store", {"setStore": ""}),
        ("store", ["get", "where"]),
        ("store", ["setStore", 5]),
        ("store", ["get", "where"]),
    )
    assert outcome.errors == []
    got = [r for r in replies(outcome) if r["op"] in ("get", "error")]
    assert [r.get("value") for r in got] == ["shared", "local", None, "local"]
    assert got[2]["op"] == "error"
    assert replies(outcome, "shared") == [
        {"op": "get", "key": "where", "value": "shared", "found": True}
    ]


def test_a_named_store_is_shared_between_boxes_and_a_local_one_is_not():
    outcome = run_text(
        """
        writer = [kv settings]
        reader = [kv settings]
        other  = [kv]
        [loadbang] -> [msg set volume 0.8] -> writer
        [loadbang] -> [msg get volume] -> reader -> [print reader]
        [loadbang] -> [msg get volume] -> other -> [print other]
        """
    )
    assert outcome.errors == []
    assert replies(outcome, "reader")[0]["value"] == 0.8
    assert replies(outcome, "other")[0]["found"] is False


def test_replies_arrive_inside_the_cascade_before_the_next_outlet_fires():
    outcome = run_text(
        """
        trig  = [t b b]
        store = [kv]
        notes = [db]
        [loadbang] -> trig
        trig:1 -> [msg set count 1, get count] -> store -> [print kv]
        trig:1 -> [msg insert notes {text: "hi"}, count notes] -> notes -> [print db]
        trig:0 -> [msg "after"] -> [print next]
        """
    )
    assert outcome.errors == []
    assert [line.split(":")[0] for line in outcome.lines] == ["kv", "kv", "db", "db", "next"]
    assert outcome.lines[1] == 'kv: {"op": "get", "key": "count", "value": 1, "found": true}'
    assert outcome.lines[3] == 'db: {"op": "count", "collection": "notes", "count": 1}'


def test_kv_data_persists_across_runs(tmp_path):
    text = """
    store = [kv counter]
    [loadbang] -> [msg get n] -> store -> [route op=get] -> [expr ($1.value or 0) + 1] -> next
    next = [t a a]
    next:1 -> [print n]
    next:0 -> [msg set n $1] -> store
    """
    runs = [run_text(text, data_dir=tmp_path).lines for _ in range(3)]
    assert runs == [["n: 1"], ["n: 2"], ["n: 3"]]


# ---- db ----------------------------------------------------------------------------------------


def test_db_shorthand_from_message_boxes():
    outcome = run_text(
        """
        notes = [db]
        [loadbang] -> [msg insert notes {text: "hi", author: "poom"}, insert notes {text: "yo", author: "ada"}, find notes {author: "poom"}, count notes, find notes] -> notes -> [print]
        """  # noqa: E501
    )
    assert outcome.errors == []
    inserted, other, found, counted, everything = replies(outcome)
    assert inserted["op"] == "insert"
    assert len(inserted["id"]) == 21
    assert [doc["text"] for doc in found["docs"]] == ["hi"]
    assert found["docs"][0]["_id"] == inserted["id"]
    assert found["count"] == 1
    assert counted == {"op": "count", "collection": "notes", "count": 2}
    assert [doc["_id"] for doc in everything["docs"]] == [inserted["id"], other["id"]]


def test_every_db_command_through_a_patch():
    outcome = run_text(
        """
        notes = [db]
        notes -> [print]
        """,
        ("notes", {"type": "insert", "collection": "c", "doc": {"_id": "a", "n": 1}}),
        ("notes", {"insert": ["c", {"_id": "b", "n": 2}]}),
        ("notes", ["find", "c", {"n": {"$gte": 2}}]),
        ("notes", {"type": "find", "collection": "c", "sort": {"n": -1}, "limit": 1}),
        ("notes", ["findOne", "c", "a"]),
        ("notes", {"update": ["c", "a", {"n": 10}]}),
        ("notes", ["replace", "c", "b", {"m": 1}]),
        ("notes", ["delete", "c", "b"]),
        ("notes", ["delete", "c", "b"]),
        ("notes", {"count": ["c", {"n": 10}]}),
        ("notes", {"drop": "c"}),
        ("notes", {"count": "c"}),
        ("notes", {"type": "insert", "collection": "c", "doc": {"_id": 5}}),
        ("notes", ["bang"]),
    )
    assert outcome.errors == []
    got = replies(outcome)
    assert [reply["op"] for reply in got] == [
        "insert",
        "insert",
        "find",
        "find",
        "findOne",
        "update",
        "replace",
        "delete",
        "delete",
        "count",
        "drop",
        "count",
        "error",
        "error",
    ]
    assert [got[0]["id"], got[1]["id"]] == ["a", "b"]
    assert [doc["_id"] for doc in got[2]["docs"]] == ["b"]
    assert [doc["_id"] for doc in got[3]["docs"]] == ["b"]
    assert got[4]["doc"]["n"] == 1
    assert [got[5]["ok"], got[6]["ok"], got[7]["ok"], got[8]["ok"]] == [True, True, True, False]
    assert [got[9]["count"], got[11]["count"]] == [1, 0]
    assert got[13]["message"].startswith('db: unknown command "bang"')


def test_a_db_box_switches_stores_and_local_stores_are_private():
    outcome = run_text(
        """
        one = [db]
        two = [db]
        shared = [db box]
        one -> [print one]
        two -> [print two]
        shared -> [print shared]
        """,
        ("one", ["insert", "c", {"from": "one"}]),
        ("two", ["count", "c"]),
        ("one", ["setStore", "box"]),
        ("one", ["insert", "c", {"from": "one, shared"}]),
        ("shared", ["count", "c"]),
        ("one", ["setStore", ""]),
        ("one", ["count", "c"]),
    )
    assert outcome.errors == []
    assert replies(outcome, "two") == [{"op": "count", "collection": "c", "count": 0}]
    assert replies(outcome, "shared") == [{"op": "count", "collection": "c", "count": 1}]
    assert replies(outcome, "one")[-1] == {"op": "count", "collection": "c", "count": 1}


def test_kv_and_db_boxes_with_the_same_store_name_do_not_share_data():
    outcome = run_text(
        """
        k = [kv same]
        d = [db same]
        [loadbang] -> [msg set notes 1, keys] -> k -> [print kv]
        [loadbang] -> [msg insert notes {a: 1}, count notes] -> d -> [print db]
        """
    )
    assert outcome.errors == []
    assert replies(outcome, "kv")[-1] == {"op": "keys", "keys": ["notes"]}
    assert replies(outcome, "db")[-1]["count"] == 1


@pytest.mark.parametrize("box", ["[db]", "[kv]"])
def test_a_store_box_that_gets_no_command_opens_no_storage(tmp_path, box):
    outcome = run_text(f"store = {box}\n[loadbang] -> [print]", data_dir=tmp_path)
    assert outcome.errors == []
    assert list(tmp_path.iterdir()) == []


# ---- [py] --------------------------------------------------------------------------------------


def test_db_and_kv_from_py():
    outcome = run_text(
        """
        run = [py]
            doc_id = await db.insert("notes", {"text": "hi", "tags": ["a"]})
            await db.insert("notes", {"text": "yo", "tags": ["b"]})
            await db.update("notes", doc_id, {"seen": True})
            found = await db.find("notes", {"tags": "a"})
            one = await db.find_one("notes", doc_id)
            shared = db.store("shared")
            await shared.insert("items", {"n": 1})
            await kv.set("last", doc_id)
            await send({
                "found": [d["text"] for d in found],
                "seen": one["seen"],
                "count": await db.count("notes"),
                "sorted": [d["text"] for d in await db.find("notes", sort={"text": -1})],
                "shared": await shared.count("items"),
                "last_is_id": await kv.get("last") == doc_id,
                "replaced": await db.replace("notes", doc_id, {"text": "new"}),
                "deleted": await db.delete("notes", "nope"),
            })
        reader = [db shared]
        [loadbang] -> run -> [print]
        run -> [msg count items] -> reader -> [print reader]
        """
    )
    assert outcome.errors == []
    assert replies(outcome) == [
        {
            "found": ["hi"],
            "seen": True,
            "count": 2,
            "sorted": ["yo", "hi"],
            "shared": 1,
            "last_is_id": True,
            "replaced": True,
            "deleted": False,
        }
    ]
    assert replies(outcome, "reader") == [{"op": "count", "collection": "items", "count": 1}]


def test_a_bad_db_call_in_py_is_reported_with_the_reply_message():
    outcome = run_text(
        """
        run = [py]
            await db.insert("notes", "not a dict")
        [loadbang] -> run
        """
    )
    assert len(outcome.errors) == 1
    assert "db: 'insert' needs collection (string) and doc (dict)" in outcome.errors[0]


def test_notes_persist_across_runs(tmp_path):
    text = """
    notes = [db]
    show = [py]
        await send([doc["text"] for doc in x["docs"]])
    [loadbang] -> [msg insert notes {text: "note"}, find notes] -> notes
    notes -> [route op=find] -> show -> [print]
    """
    runs = [run_text(text, data_dir=tmp_path).lines for _ in range(2)]
    assert runs == [['print: ["note"]'], ['print: ["note", "note"]']]


# ---- what the boxes derive from the command classes --------------------------------------------


@pytest.mark.parametrize("box", ["kv", "db"])
def test_a_store_box_offers_and_documents_exactly_the_commands_of_its_command_set(box):
    import patchflow
    from patchflow import default_registry

    cls = default_registry().get(box)
    commands = getattr(patchflow, f"{box.upper()}_COMMANDS")
    assert cls.schemas == commands.schemas
    assert [s.type for s in cls.schemas] == list(commands)
    text = cls.help_text()
    inlets = text.split("Inlets:")[1].split("Outlets:")[0]
    outlets = text.split("Outlets:")[1].split("Example:")[0]
    for verb in commands:
        assert f"\n       {verb}{{" in inlets or f"\n       {verb}:" in inlets, verb
        assert f'{{op: "{verb}"' in outlets, verb
    assert "\n           {commands}\n" not in text and "\n           {replies}\n" not in text


def test_the_db_help_lists_every_query_operator():
    from patchflow import default_registry
    from patchflow.storage.commands.query import OPERATORS

    text = default_registry().get("db").help_text()
    for name, operator in OPERATORS.items():
        assert f"{name}" in text and operator.help in text, name


def test_msg_shorthand_wired_into_a_store_takes_string_fields_raw():
    outcome = run_text(
        """
        [loadbang] -> [msg set 7 seven, has 7, get 7] -> store
        store = [kv]
        store -> [print]
        """
    )
    assert outcome.errors == []
    assert replies(outcome) == [
        {"op": "set", "key": "7", "ok": True},
        {"op": "has", "key": "7", "exists": True},
        {"op": "get", "key": "7", "value": "seven", "found": True},
    ]
