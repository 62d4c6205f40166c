"""Watching from boxes: `{type: "watch"}` on `[kv]`/`[db]`, in one run and across processes."""

from __future__ import annotations

import json

from patchflow.testing import run_text


def printed(outcome):
    """(label, decoded message) for each printed line."""
    return [(line.split(": ", 1)[0], json.loads(line.split(": ", 1)[1])) for line in outcome.lines]


def changed(key, value=None, found=True):
    return {"op": "changed", "key": key, "value": value, "found": found}


def test_changes_arrive_as_new_cascades_after_the_writing_one_in_order():
    outcome = run_text(
        """
        watcher = [kv s]
        writer = [kv s]
        [loadbang] -> [msg {type: "watch"}] -> watcher -> [print w]
        [loadbang] -> [msg set a 1, set b 2, delete a, set done 1] -> writer -> [print r]
        watcher -> [route op=changed] -> [route key=done] -> [msg {type: "unwatch"}] -> watcher
        """
    )
    assert outcome.errors == []
    assert printed(outcome) == [
        ("w", {"op": "watch", "ok": True}),
        # the writing cascade finishes first: every reply before any notification
        ("r", {"op": "set", "key": "a", "ok": True}),
        ("r", {"op": "set", "key": "b", "ok": True}),
        ("r", {"op": "delete", "key": "a", "deleted": True}),
        ("r", {"op": "set", "key": "done", "ok": True}),
        ("w", changed("a", 1)),
        ("w", changed("b", 2)),
        ("w", changed("a", found=False)),
        ("w", changed("done", 1)),
        ("w", {"op": "unwatch", "ok": True}),  # and the run ends: the hold is released
    ]


def test_a_box_sees_its_own_writes_and_not_other_stores():
    outcome = run_text(
        """
        store = [kv]
        [loadbang] -> [msg {type: "watch"}, set k 1, {type: "unwatch"}, set k 2] -> store -> [print]
        [loadbang] -> [msg set k 3] -> [kv]
        """
    )
    assert outcome.errors == []
    got = [message for _, message in printed(outcome)]
    # a change committed while watching is delivered even if the unwatch comes first
    assert [m for m in got if m["op"] == "changed"] == [changed("k", 1)]
    assert {"op": "unwatch", "ok": True} in got


def test_db_watch_of_one_collection():
    outcome = run_text(
        """
        notes = [db]
        [loadbang] -> [msg {type: "watch", collection: "notes"},
            insert notes {_id: "a", t: 1}, insert other {_id: "z"},
            update notes a {t: 2}, delete notes a, {type: "unwatch"}] -> notes
        notes -> [route op=changed] -> [expr [$1.collection, $1.id, $1.doc and $1.doc.t]] -> [print]
        """
    )
    assert outcome.errors == []
    assert outcome.lines == [
        'print: ["notes", "a", 1]',
        'print: ["notes", "a", 2]',
        'print: ["notes", "a", null]',
    ]


def test_db_watch_without_a_collection_says_how():
    outcome = run_text(
        """
        notes = [db]
        [loadbang] -> [msg {type: "watch"}] -> notes -> [print]
        """
    )
    (reply,) = [message for _, message in printed(outcome)]
    assert reply["op"] == "error" and "needs a collection name" in reply["message"]
