"""Storage II kv commands — incr, cas, set with ttl, ttl, keys queries — in every form, in
Python, and on each backend; expiry runs on an injected clock (no test sleeps)."""

from __future__ import annotations

import io
import json

import pytest
import trio

from patchflow.errors import CommandError
from patchflow.storage import KV, StoreRef
from patchflow.storage.commands.kv import Cas, Incr, Keys, Set, Ttl, parse_kv_command
from patchflow.storage.layout import expiry, inventory
from patchflow.storage.layout.keys import KV_SPACE, TTL_SPACE
from patchflow.storage.tools import dump

STORE = StoreRef.named("s2")
T0 = 1_800_000_000_000  # the injected clock's start, ms since the epoch


@pytest.fixture
def clock(monkeypatch):
    """The expiry clock, frozen at T0; `clock[0] += ms` moves it on."""
    now = [T0]
    monkeypatch.setattr(expiry, "now_ms", lambda: now[0])
    return now


@pytest.fixture
def send(storage, box_reply):
    """`send(message)`: the reply a `[kv]` box on STORE sends for `message`."""
    return lambda message: box_reply(KV(storage.backend, STORE), message)


@pytest.fixture
def kv(storage):
    return storage.kv(name="s2")


def raw_spaces(storage):
    """What the kv and ttl spaces hold, as lists of keys."""
    return storage.backend.read(
        lambda txn: {
            space: [key for key, _ in txn.scan(space, b"")] for space in (KV_SPACE, TTL_SPACE)
        }
    )


# ---- the three forms -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("messages", "command"),
    [
        (
            ({"type": "incr", "key": "n", "by": 2}, {"incr": ["n", 2]}, ["incr", "n", 2]),
            Incr("n", 2),
        ),
        (({"type": "incr", "key": "n"}, {"incr": "n"}, ["incr", "n"]), Incr("n")),
        (
            ({"type": "cas", "key": "c", "expected": None, "value": 1}, {"cas": ["c", None, 1]}),
            Cas("c", None, 1),
        ),
        (({"type": "ttl", "key": "t"}, {"ttl": "t"}, ["ttl", "t"]), Ttl("t")),
        (
            ({"type": "set", "key": "k", "value": 1, "ttl": 50}, {"set": ["k", 1, 50]}),
            Set("k", 1, ttl=50),
        ),
        (({"type": "keys", "pattern": "a*"}, {"keys": "a*"}, ["keys", "a*"]), Keys(pattern="a*")),
        (({"type": "keys"}, {"keys": True}, {"keys": None}, ["keys"]), Keys()),
        (
            ({"type": "keys", "prefix": "p", "limit": 2, "reverse": True},),
            Keys(None, "p", None, None, 2, True),
        ),
    ],
)
def test_every_form_parses_to_the_same_command(messages, command):
    for message in messages:
        assert parse_kv_command(message) == command, message


# ---- incr -----------------------------------------------------------------------------------


def test_incr_counts_from_zero_and_adds_by(send):
    assert send({"incr": "n"}) == {"op": "incr", "key": "n", "value": 1}
    assert send(["incr", "n", 41]) == {"op": "incr", "key": "n", "value": 42}
    assert send({"type": "incr", "key": "n", "by": -2.5}) == {
        "op": "incr",
        "key": "n",
        "value": 39.5,
    }
    assert send({"get": "n"})["value"] == 39.5


@pytest.mark.parametrize("stored", ["7", True, None, [1], {"n": 1}])
def test_incr_of_a_key_holding_no_number_is_an_error_and_changes_nothing(send, stored):
    send({"set": ["n", stored]})
    reply = send({"incr": "n"})
    assert reply["op"] == "error"
    assert reply["message"].startswith("kv: 'incr' cannot add to key \"n\": it holds ")
    assert reply["message"].endswith("not a number; set it to a number first")
    assert send({"get": "n"})["value"] == stored


@pytest.mark.parametrize("by", ["1", True, None, [1]])
def test_incr_by_something_not_a_number_is_an_error(send, by):
    reply = send({"type": "incr", "key": "n", "by": by})
    assert reply["op"] == "error" and "needs by to be a number" in reply["message"]
    assert send({"has": "n"})["exists"] is False


def test_incr_past_the_64_bit_range_is_an_error_and_stores_nothing(send):
    send({"set": ["n", 2**64 - 1]})
    reply = send({"incr": "n"})
    assert reply["op"] == "error" and "64-bit range" in reply["message"]
    assert send({"get": "n"})["value"] == 2**64 - 1


def test_incr_keeps_the_ttl_and_counts_from_zero_after_expiry(send, clock):
    send({"type": "set", "key": "n", "value": 5, "ttl": 1000})
    clock[0] += 400
    assert send({"incr": "n"})["value"] == 6
    assert send({"ttl": "n"})["ttl"] == 600
    clock[0] += 600
    assert send({"incr": "n"})["value"] == 1  # expired: counts from 0, and never expires now
    assert send({"ttl": "n"}) == {"op": "ttl", "key": "n", "ttl": None, "found": True}


# ---- cas ------------------------------------------------------------------------------------


def test_cas_with_null_expects_a_missing_key(send):
    assert send(["cas", "c", None, 1]) == {"op": "cas", "key": "c", "ok": True, "value": 1}
    assert send(["cas", "c", None, 2]) == {"op": "cas", "key": "c", "ok": False, "value": 1}
    assert send({"get": "c"})["value"] == 1


def test_cas_swaps_only_the_expected_value_and_says_what_is_stored(send):
    send({"set": ["c", {"v": [1, 2]}]})
    assert send(["cas", "c", {"v": [1, 3]}, "x"]) == {
        "op": "cas",
        "key": "c",
        "ok": False,
        "value": {"v": [1, 2]},
    }
    assert send(["cas", "c", {"v": [1.0, 2]}, "x"])["ok"] is True  # same_value: 1 is 1.0
    assert send(["cas", "c", "x", True]) == {"op": "cas", "key": "c", "ok": True, "value": True}
    assert send(["cas", "c", 1, 2])["ok"] is False  # true is not 1


def test_cas_on_a_stored_null_does_not_match_null(send):
    send({"set": ["c", None]})
    assert send(["cas", "c", None, 1]) == {"op": "cas", "key": "c", "ok": False, "value": None}


def test_cas_needs_expected_and_value(send):
    for message in [["cas", "c", 1], {"type": "cas", "key": "c", "value": 1}]:
        reply = send(message)
        assert reply["op"] == "error"
        assert reply["message"].startswith("kv: 'cas' needs key (string), expected and value")


def test_cas_treats_an_expired_key_as_missing(send, clock):
    send({"type": "set", "key": "c", "value": 1, "ttl": 10})
    clock[0] += 10
    assert send(["cas", "c", 1, 2])["ok"] is False
    assert send(["cas", "c", None, 2]) == {"op": "cas", "key": "c", "ok": True, "value": 2}
    assert send({"ttl": "c"})["ttl"] is None  # cas stores without expiry


# ---- set with ttl, ttl, expiry --------------------------------------------------------------


def test_a_key_with_a_ttl_reads_as_missing_everywhere_once_it_expires(storage, send, clock):
    assert send({"type": "set", "key": "t", "value": "v", "ttl": 1000}) == {
        "op": "set",
        "key": "t",
        "ok": True,
    }
    send({"set": ["plain", 1]})
    assert send({"ttl": "t"}) == {"op": "ttl", "key": "t", "ttl": 1000, "found": True}
    clock[0] += 999
    assert send({"get": "t"})["value"] == "v"
    assert send({"ttl": "t"})["ttl"] == 1
    clock[0] += 1
    assert send({"get": "t"}) == {"op": "get", "key": "t", "value": None, "found": False}
    assert send({"has": "t"})["exists"] is False
    assert send({"ttl": "t"}) == {"op": "ttl", "key": "t", "ttl": None, "found": False}
    assert send(["keys"])["keys"] == ["plain"]
    assert send({"keys": "t*"})["keys"] == []
    assert [key for key, _ in inventory.read_store(storage.backend, STORE)] == ["plain"]
    assert send({"delete": "t"})["deleted"] is False


def test_ttl_of_a_key_without_expiry_is_null_and_of_a_missing_key_not_found(send):
    send({"set": ["k", 1]})
    assert send({"ttl": "k"}) == {"op": "ttl", "key": "k", "ttl": None, "found": True}
    assert send({"ttl": "nope"}) == {"op": "ttl", "key": "nope", "ttl": None, "found": False}


def test_a_fractional_ttl_rounds_up_to_whole_milliseconds(send, clock):
    send({"type": "set", "key": "k", "value": 1, "ttl": 0.5})
    assert send({"ttl": "k"})["ttl"] == 1


@pytest.mark.parametrize("ttl", [0, -5, "10", True, float("inf"), float("nan"), 2**60, [10]])
def test_a_ttl_that_is_not_a_positive_number_is_an_error(send, ttl):
    reply = send({"type": "set", "key": "k", "value": 1, "ttl": ttl})
    assert reply["op"] == "error"
    assert reply["message"].startswith("kv: 'set' needs ttl to be milliseconds, a number > 0")
    assert send({"has": "k"})["exists"] is False


def test_setting_again_without_ttl_drops_the_expiry_and_its_index_entry(storage, send, clock):
    send({"type": "set", "key": "k", "value": 1, "ttl": 100})
    send({"type": "set", "key": "k", "value": 2, "ttl": 200})
    assert len(raw_spaces(storage)[TTL_SPACE]) == 1
    send({"set": ["k", 3]})
    assert raw_spaces(storage)[TTL_SPACE] == []
    clock[0] += 1000
    assert send({"get": "k"})["value"] == 3


def test_expired_keys_are_swept_by_a_later_write_once_a_sweep_is_due(storage, send, clock):
    for index in range(5):
        send({"type": "set", "key": f"soon{index}", "value": index, "ttl": 10})
    send({"type": "set", "key": "later", "value": 1, "ttl": 10_000})
    send({"set": ["plain", 1]})
    assert len(raw_spaces(storage)[KV_SPACE]) == 7
    clock[0] += 10
    send({"set": ["early", 1]})  # expired, but the last sweep was under SWEEP_EVERY_MS ago
    assert len(raw_spaces(storage)[KV_SPACE]) == 8
    assert send({"get": "soon0"})["found"] is False  # missing all the same
    clock[0] += expiry.SWEEP_EVERY_MS
    send({"set": ["other", 1]})  # a write after SWEEP_EVERY_MS sweeps
    spaces = raw_spaces(storage)
    prefix = STORE.prefix
    assert spaces[KV_SPACE] == [prefix + key for key in (b"early", b"later", b"other", b"plain")]
    assert [entry[expiry.DUE_BYTES :] for entry in spaces[TTL_SPACE]] == [prefix + b"later"]


def test_a_backlog_of_expired_keys_is_swept_by_every_write_until_it_is_gone(
    storage, send, clock, monkeypatch
):
    monkeypatch.setattr(expiry, "SWEEP_LIMIT", 3)
    batch = [{"type": "set", "key": f"k{index}", "value": index, "ttl": 10} for index in range(7)]
    assert send({"type": "batch", "commands": batch})["op"] == "batch"
    clock[0] += expiry.SWEEP_EVERY_MS
    counts = []
    for index in range(4):
        send({"set": [f"plain{index}", 1]})  # no clock movement: only the backlog sweeps
        counts.append(len(raw_spaces(storage)[TTL_SPACE]))
    assert counts == [4, 1, 0, 0]


def test_the_sweep_reads_only_the_due_part_of_the_index(storage, send, clock):
    for index in range(50):
        send({"type": "set", "key": f"k{index}", "value": index, "ttl": 1000 + index})
    read = []

    class Counting:
        def __init__(self, txn):
            self.txn = txn

        def scan(self, *args, **kwargs):
            for item in self.txn.scan(*args, **kwargs):
                read.append(item[0])
                yield item

    clock[0] += 1002  # three are due
    due = storage.backend.read(lambda txn: expiry.due_entries(Counting(txn), clock[0], 100))
    assert len(due) == 3
    assert len(read) == 3


def test_clear_leaves_index_entries_that_the_sweep_drops_without_touching_new_values(
    storage, send, clock
):
    send({"type": "set", "key": "k", "value": 1, "ttl": 10})
    send(["clear"])
    send({"set": ["k", "new"]})
    clock[0] += expiry.SWEEP_EVERY_MS
    send({"set": ["x", 1]})
    assert send({"get": "k"})["value"] == "new"
    assert raw_spaces(storage)[TTL_SPACE] == []


def test_the_python_api_sets_ttls_and_sees_expiry(kv, clock):
    async def scenario():
        await kv.set("t", [1], ttl=500)
        assert await kv.ttl("t") == 500
        assert await kv.incr("n") == 1
        assert await kv.incr("n", by=2) == 3
        assert await kv.cas("n", 3, 4) is True
        assert await kv.cas("n", 3, 5) is False
        assert await kv.keys(prefix="n") == ["n"]
        clock[0] += 500
        assert await kv.get("t") is None
        assert await kv.ttl("t") is None
        assert await kv.has("t") is False
        assert await kv.keys() == ["n"]

    trio.run(scenario)


def test_the_python_methods_have_keyword_options():
    import inspect

    keys = inspect.signature(KV.keys)
    assert [p.kind.name for p in keys.parameters.values()][1:] == ["KEYWORD_ONLY"] * 6
    assert list(inspect.signature(KV.cas).parameters) == ["self", "key", "expected", "value"]
    assert list(inspect.signature(KV.incr).parameters) == ["self", "key", "by"]
    assert inspect.signature(KV.set).parameters["ttl"].kind.name == "KEYWORD_ONLY"
    with pytest.raises(CommandError, match="needs by to be a number"):
        trio.run(KV.incr, None, "k", "2")


def test_help_kv_lists_the_new_commands():
    from patchflow import default_registry

    text = default_registry().get("kv").help_text()
    for usage in [
        "incr{key, by?}",
        "cas{key, expected, value}",
        "ttl{key}",
        "set{key, value, ttl?}",
        "keys{pattern?, prefix?, start?, end?, limit?, reverse?}",
        "batch{commands}",
        '{op: "ttl", key, ttl, found}',
        '{op: "batch", results}',
    ]:
        assert usage in text, usage


# ---- export and import ----------------------------------------------------------------------


def test_expiry_survives_export_and_import_and_expired_keys_are_not_exported(storage, send, clock):
    from patchflow.storage import open_storage

    send({"type": "set", "key": "t", "value": {"$bytes": 1}, "ttl": 5000})
    send({"type": "set", "key": "gone", "value": 1, "ttl": 10})
    send({"set": ["plain", b"\x00"]})
    clock[0] += 10
    out = io.BytesIO()
    counts = dump.export_dump(storage.backend, "test-patch", out)
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    kv_lines = {line["key"]: line for line in lines if line.get("kind") == "kv"}
    assert counts.keys == 2 and set(kv_lines) == {"t", "plain"}
    assert kv_lines["t"]["expires"] == T0 + 5000
    assert "expires" not in kv_lines["plain"]
    with open_storage("copy", ":memory:") as copy:
        dump.import_dump(copy.backend, io.BytesIO(out.getvalue()), "dump.jsonl")
        target = copy.kv(name="s2")
        assert trio.run(target.ttl, "t") == 4990
        assert trio.run(target.get, "t") == {"$bytes": 1}
        assert trio.run(target.ttl, "plain") is None
        clock[0] += 4990
        assert trio.run(target.keys) == ["plain"]


def test_a_dump_line_without_expires_still_imports_and_a_bad_expires_is_an_error(storage):
    header = {"patchflow": "dump", "format": 1, "patch": "p", "storage_format": 1}
    record = {"kind": "kv", "store": {"name": "s2"}, "key": "k", "value": 1}

    def dumped(*records):
        end = {"patchflow": "end", "records": len(records)}
        return io.BytesIO(b"".join(json.dumps(r).encode() + b"\n" for r in [header, *records, end]))

    dump.import_dump(storage.backend, dumped(record), "old.jsonl")
    assert trio.run(storage.kv(name="s2").get, "k") == 1
    for expires in ["soon", 1.5, -1, True]:
        with pytest.raises(dump.DumpError, match=r'^bad\.jsonl:2: "expires" must be an integer'):
            dump.import_dump(storage.backend, dumped({**record, "expires": expires}), "bad.jsonl")
