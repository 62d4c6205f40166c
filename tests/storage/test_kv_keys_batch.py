"""Storage II: `keys` queries (glob, prefix, range, limit, reverse) reading only what they name,
`batch` for kv and db (one transaction, all or nothing), and `incr` across processes."""

from __future__ import annotations

import fnmatch

import pytest
import trio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from patchflow.errors import CommandError
from patchflow.storage import KV, StoreRef, open_storage
from patchflow.storage.commands.batch import BatchError
from patchflow.storage.commands.key_query import compile_glob

STORE = StoreRef.named("q")
KEYS = ["", "a", "a*b", "a?", "ab", "abc", "b", "b[1]", "user:1", "user:10", "user:2", "é", "😀"]


@pytest.fixture
def kv(storage):
    return KV(storage.backend, STORE)


@pytest.fixture
def send(kv, box_reply):
    return lambda message: box_reply(kv, message)


@pytest.fixture
def filled(kv, send):
    for key in KEYS:
        send({"set": [key, 1]})
    return send


def keys(send, **query):
    reply = send({"type": "keys", **query})
    assert reply["op"] == "keys", reply
    return reply["keys"]


# ---- keys -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("*", KEYS),
        ("a*", ["a", "a*b", "a?", "ab", "abc"]),
        ("a?", ["a?", "ab"]),
        ("a\\*b", ["a*b"]),
        ("a\\?", ["a?"]),
        ("b\\[1]", ["b[1]"]),
        ("user:?", ["user:1", "user:2"]),
        ("user:[12]*", ["user:1", "user:10", "user:2"]),
        ("user:[!1]", ["user:2"]),
        ("user:[0-1]", ["user:1"]),
        ("*:1*", ["user:1", "user:10"]),
        ("?", ["a", "b", "é", "😀"]),
        ("", [""]),
        ("zz*", []),
    ],
)
def test_keys_with_a_glob(filled, pattern, expected):
    assert keys(filled, pattern=pattern) == expected


@pytest.mark.parametrize(
    ("pattern", "problem"),
    [
        ("a\\", "ends with a lone \\"),
        ("a[bc", "unclosed [ at index 1"),
        ("[z-a]", "runs backwards"),
    ],
)
def test_a_malformed_glob_is_an_error_saying_what_to_write(send, pattern, problem):
    reply = send({"keys": pattern})
    assert reply["op"] == "error"
    assert reply["message"].startswith("kv: 'keys' pattern ")
    assert problem in reply["message"]


def test_keys_with_a_prefix_a_range_a_limit_and_reverse(filled):
    assert keys(filled, prefix="user:") == ["user:1", "user:10", "user:2"]
    assert keys(filled, prefix="user:", reverse=True) == ["user:2", "user:10", "user:1"]
    assert keys(filled, start="ab", end="b[") == ["ab", "abc", "b"]
    assert keys(filled, start="ab", end="b[", reverse=True) == ["b", "abc", "ab"]
    assert keys(filled, start="user:2") == ["user:2", "é", "😀"]
    assert keys(filled, end="a*b") == ["", "a"]
    assert keys(filled, start="é", end="😀") == ["é"]  # code-point order, not UTF-16
    assert keys(filled, limit=2) == ["", "a"]
    assert keys(filled, limit=2, reverse=True) == ["😀", "é"]
    assert keys(filled, limit=0) == []
    assert keys(filled, prefix="a", pattern="*c") == ["abc"]
    assert keys(filled, prefix="user", pattern="us*", start="user:10", limit=1) == ["user:10"]
    assert keys(filled, prefix="b", pattern="a*") == []  # they cannot both hold
    assert keys(filled, start="b", end="a") == []


@pytest.mark.parametrize(
    ("query", "problem"),
    [
        ({"prefix": 5}, "needs prefix to be a string"),
        ({"start": ["a"]}, "needs start to be a string"),
        ({"limit": -1}, "needs limit to be an integer >= 0"),
        ({"limit": 1.5}, "needs limit to be an integer >= 0"),
        ({"limit": True}, "needs limit to be an integer >= 0"),
        ({"reverse": 1}, "needs reverse to be true or false"),
        ({"end": "k" * 401}, "at most 400 bytes"),
        ({"pattern": "\ud800"}, "pattern"),
    ],
)
def test_bad_keys_options_are_errors(send, query, problem):
    reply = send({"type": "keys", **query})
    assert reply["op"] == "error" and reply["message"].startswith("kv: 'keys' ")
    assert problem in reply["message"]


def test_a_prefix_range_or_glob_reads_only_the_keys_it_names(storage, kv, filled):
    for index in range(200):
        filled({"set": [f"zzz{index:03}", index]})
    read = []
    backend = storage.backend

    class Counting:
        location = backend.location

        def read(self, fn):
            return backend.read(lambda txn: fn(CountingTxn(txn)))

    class CountingTxn:
        def __init__(self, txn):
            self.txn = txn

        def scan(self, *args, **kwargs):
            for item in self.txn.scan(*args, **kwargs):
                read.append(item[0])
                yield item

    counted = KV(Counting(), STORE)  # type: ignore[arg-type]
    for query, found, most in [
        ({"prefix": "user:"}, 3, 3),
        ({"pattern": "user:*0"}, 1, 3),
        ({"start": "a", "end": "ab"}, 3, 4),
        ({"start": "zzz100", "limit": 5}, 5, 5),
        ({"end": "zzz005", "reverse": True, "limit": 2}, 2, 3),
        ({"prefix": "zzz1", "reverse": True}, 100, 100),
    ]:
        read.clear()
        assert len(trio.run(lambda q=query: counted.keys(**q))) == found, query
        assert len(read) <= most, query


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    stored=st.sets(st.text("ab\u00e9\U0001f600:", max_size=4), max_size=12),
    prefix=st.none() | st.text("ab\u00e9:", max_size=2),
    start=st.none() | st.text("ab\u00e9\U0001f600", max_size=3),
    end=st.none() | st.text("ab\u00e9\U0001f600", max_size=3),
    limit=st.none() | st.integers(0, 6),
    reverse=st.booleans(),
)
def test_keys_equals_filtering_the_sorted_keys(storage, stored, prefix, start, end, limit, reverse):
    kv = storage.kv(name="hypo")
    trio.run(kv.batch, [["clear"], *(["set", key, 1] for key in stored)])  # one commit
    expected = [
        key
        for key in sorted(stored)
        if (prefix is None or key.startswith(prefix))
        and (start is None or key >= start)
        and (end is None or key < end)
    ]
    if reverse:
        expected.reverse()
    if limit is not None:
        expected = expected[:limit]
    query = {"prefix": prefix, "start": start, "end": end, "limit": limit, "reverse": reverse}
    assert trio.run(lambda: kv.keys(**query)) == expected


@settings(max_examples=200, deadline=None)
@given(
    pattern=st.text("ab*?[]!", max_size=6).filter(lambda p: "[" not in p or "]" in p),
    key=st.text("ab*?!", max_size=5),
)
def test_a_glob_without_escapes_matches_as_fnmatch_does(pattern, key):
    try:
        glob = compile_glob(pattern)
    except CommandError:
        return  # a set fnmatch would read as literal text ("[]"); ours says it is unclosed
    assert glob.matches(key) == fnmatch.fnmatchcase(key, pattern)


# ---- batch ----------------------------------------------------------------------------------


def test_a_kv_batch_runs_in_order_each_command_seeing_the_ones_before(send):
    for message in [
        {
            "type": "batch",
            "commands": [{"set": ["a", 1]}, ["incr", "a"], {"type": "get", "key": "a"}],
        },
        {"batch": [{"set": ["a", 1]}, ["incr", "a"], {"type": "get", "key": "a"}]},
        ["batch", {"set": ["a", 1]}, ["incr", "a"], {"type": "get", "key": "a"}],
    ]:
        assert send(message) == {
            "op": "batch",
            "results": [
                {"op": "set", "key": "a", "ok": True},
                {"op": "incr", "key": "a", "value": 2},
                {"op": "get", "key": "a", "value": 2, "found": True},
            ],
        }
    assert send({"type": "batch", "commands": []}) == {"op": "batch", "results": []}


def test_a_batch_whose_third_command_fails_stores_nothing(send):
    send({"set": ["kept", "before"]})
    reply = send(
        {
            "batch": [
                {"set": ["kept", "after"]},
                {"delete": "kept"},
                {"set": ["n", "text"]},
                {"incr": "n"},
            ]
        }
    )
    assert reply == {
        "op": "error",
        "message": "kv: 'batch' stored nothing: command 3 (incr) failed: 'incr' cannot add to key"
        ' "n": it holds "text", not a number; set it to a number first',
        "index": 3,
    }
    assert send({"get": "kept"})["value"] == "before"
    assert send({"has": "n"})["exists"] is False


@pytest.mark.parametrize(
    ("commands", "index", "problem"),
    [
        ([{"set": ["a", 1]}, {"bang": 1}], 1, "is not valid: unknown command"),
        ([{"set": ["a", 1]}, {"set": [5, 1]}], 1, "is not valid: 'set' needs key (string)"),
        ([{"batch": []}], 0, "is a 'batch', which a batch cannot hold"),
        ([["get", "a"], ["batch"]], 1, "is a 'batch', which a batch cannot hold"),
        ([{"get": "a"}, {"setStore": "x"}], 1, "is a 'setStore', which a batch cannot hold"),
    ],
)
def test_an_invalid_command_in_a_batch_is_an_error_naming_it(send, commands, index, problem):
    reply = send({"type": "batch", "commands": commands})
    assert reply["op"] == "error" and reply["index"] == index
    assert reply["message"].startswith(f"kv: 'batch' stored nothing: command {index} {problem}")
    assert send(["keys"])["keys"] == []


@pytest.mark.parametrize("commands", [None, "set", {"set": 1}, 5])
def test_a_batch_needs_a_list_of_commands(send, commands):
    reply = send({"type": "batch", "commands": commands})
    assert reply["op"] == "error"
    assert reply["message"].startswith("kv: 'batch' needs commands (list of commands)")
    assert "index" not in reply


def test_the_python_batch_returns_the_replies_or_raises_naming_the_command(kv):
    replies = trio.run(
        kv.batch, [["set", "x", 1], {"type": "cas", "key": "x", "expected": 1, "value": 2}]
    )
    assert replies[1] == {"op": "cas", "key": "x", "ok": True, "value": 2}
    with pytest.raises(BatchError) as caught:
        trio.run(kv.batch, [["set", "x", 3], ["set", "y", {1}]])
    assert caught.value.index == 1 and isinstance(caught.value, CommandError)
    assert trio.run(kv.get, "x") == 2 and trio.run(kv.has, "y") is False


def test_a_db_batch_is_one_transaction_too(storage, box_reply):
    db = storage.db(name="d")

    def send(message):
        return box_reply(db, message)

    reply = send(
        {
            "batch": [
                {"insert": ["notes", {"_id": "n1", "text": "hi"}]},
                {"update": ["notes", "n1", {"text": "hello"}]},
                ["count", "notes"],
                {"type": "findOne", "collection": "notes", "id": "n1"},
            ]
        }
    )
    assert reply["op"] == "batch"
    assert [r["op"] for r in reply["results"]] == ["insert", "update", "count", "findOne"]
    assert reply["results"][2]["count"] == 1
    assert reply["results"][3]["doc"]["text"] == "hello"
    failed = send(
        [
            "batch",
            {"insert": ["notes", {"_id": "n2"}]},
            {"drop": "notes"},
            {"insert": ["x", {"_id": "a"}]},
            {"insert": ["x", {"_id": "a"}]},
        ]
    )
    assert failed["op"] == "error" and failed["index"] == 3
    assert failed["message"].startswith("db: 'batch' stored nothing: command 3 (insert) failed: ")
    assert send(["count", "notes"])["count"] == 1
    assert send(["count", "x"])["count"] == 0
    assert trio.run(db.batch, [["count", "notes"]]) == [
        {"op": "count", "collection": "notes", "count": 1}
    ]


# ---- incr across processes ------------------------------------------------------------------

INCREMENT = """
import sys, trio
from patchflow.storage import open_storage

async def main():
    with open_storage("counter", sys.argv[1], durability="process") as storage:
        kv = storage.kv(name="c")
        for _ in range(int(sys.argv[2])):
            await kv.incr("n")

trio.run(main)
"""


@pytest.mark.slow
def test_processes_incrementing_one_counter_never_lose_a_count(start, tmp_path):
    with open_storage("counter", tmp_path):
        pass  # create it once, so that the processes race only on the counter
    workers = [start(INCREMENT, str(tmp_path), "200") for _ in range(10)]
    for worker in workers:
        _, errors = worker.communicate(timeout=120)
        assert worker.returncode == 0, errors
    with open_storage("counter", tmp_path) as storage:
        assert trio.run(storage.kv(name="c").get, "n") == 2000
