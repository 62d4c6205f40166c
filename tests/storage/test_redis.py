"""What the Redis backend adds to the contract suite (which runs on it through `LOCATIONS`):
optimistic transactions that run again after a conflict, writes from many processes, lost and
unreachable servers, URLs and passwords, and `patchflow data` moving a patch onto Redis."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time

import pytest
import trio
from redis_server import fresh_prefix, fresh_url, redis_location, server

from patchflow.errors import StorageError
from patchflow.storage import SPACES, DamagedStorage, StorageBusy, open_location, open_storage
from patchflow.storage.backends.protocol import BadPath
from patchflow.storage.backends.redis_backend import RedisLocation

redis = pytest.importorskip("redis")


@pytest.fixture
def location():
    return redis_location()


@pytest.fixture
def backend(location):
    opened = location.open("p", SPACES)
    yield opened
    opened.close()


@pytest.fixture
def other(location):
    """A second handle on the same patch, with its own connection: another process, in effect."""
    opened = location.open("p", SPACES)
    yield opened
    opened.close()


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def raw_client():
    return redis.Redis.from_url(server())


# ---- transactions ----------------------------------------------------------------------------


def test_a_write_that_read_runs_again_when_another_write_came_first(backend, other):
    backend.write(lambda txn: txn.put("kv", b"n", b"1"))
    runs = []

    def add_one(txn):
        value = int(txn.get("kv", b"n"))
        if not runs:  # meanwhile, another connection commits
            other.write(lambda t: t.put("kv", b"n", b"10"))
        runs.append(value)
        txn.put("kv", b"n", str(value + 1).encode())
        return value

    assert backend.write(add_one) == 10
    assert runs == [1, 10]
    assert backend.get("kv", b"n") == b"11"


def test_a_write_that_only_writes_commits_at_once(backend, other):
    runs = []

    def blind(txn):
        runs.append(1)
        other.write(lambda t: t.put("kv", b"x", b"theirs"))
        txn.put("kv", b"y", b"mine")

    backend.write(blind)
    assert runs == [1]
    assert backend.read(lambda txn: list(txn.scan("kv", b""))) == [
        (b"x", b"theirs"),
        (b"y", b"mine"),
    ]


def test_a_read_sees_one_snapshot_even_when_a_write_lands_between_its_reads(backend, other):
    backend.write(lambda txn: (txn.put("kv", b"a", b"1"), txn.put("kv", b"b", b"1")))
    runs = []

    def both(txn):
        first = txn.get("kv", b"a")
        if not runs:
            other.write(lambda t: (t.put("kv", b"a", b"2"), t.put("kv", b"b", b"2")))
        runs.append(1)
        return first, txn.get("kv", b"b"), [v for _, v in txn.scan("kv", b"")]

    assert backend.read(both) == (b"2", b"2", [b"2", b"2"])
    assert len(runs) == 2


def test_an_error_caused_by_a_torn_read_runs_the_write_again(backend, other):
    backend.write(lambda txn: txn.put("kv", b"a", b"1"))
    runs = []

    def strict(txn):
        first = txn.get("kv", b"a")
        if not runs:
            other.write(lambda t: t.put("kv", b"a", b"2"))
        runs.append(1)
        if txn.get("kv", b"a") != first:
            raise AssertionError("torn read")
        return first

    assert backend.write(strict) == b"2"


def test_a_scan_of_many_keys_in_a_write_merges_its_own_changes(backend):
    keys = [b"k%04d" % i for i in range(1200)]  # more than one batch
    backend.write(lambda txn: [txn.put("kv", key, key) for key in keys])

    def change(txn):
        txn.delete("kv", b"k0005")
        txn.put("kv", b"k0005x", b"new")
        txn.put("kv", b"k9999", b"last")
        return [key for key, _ in txn.scan("kv", b"k")], txn.count("kv")

    seen, count = backend.write(change)
    expected = sorted([*keys[:5], *keys[6:], b"k0005x", b"k9999"])
    assert seen == expected and count == len(expected)
    assert (
        backend.read(lambda txn: [k for k, _ in txn.scan("kv", b"k", reverse=True)])
        == (expected[::-1])
    )


def test_a_write_reading_from_its_cache_sees_what_another_process_wrote(backend, other):
    def add_one(txn):
        txn.put("kv", b"n", str(int(txn.get("kv", b"n") or b"0") + 1).encode())

    backend.write(add_one)
    backend.write(add_one)  # the value it read is now cached, at the version it wrote
    other.write(add_one)
    backend.write(add_one)  # the cached read is out of date: the commit finds out, reads again
    assert other.get("kv", b"n") == b"4"


def test_a_kv_get_and_a_repeated_kv_set_take_one_round_trip_each(location, monkeypatch):
    with open_storage("p", storage=location) as storage:
        kv = storage.kv(name="s")
        link = type(storage.backend.link)
        trio.run(kv.set, "k", 1)
        trips = []
        for name in ("run", "one"):
            real = getattr(link, name)
            monkeypatch.setattr(
                link, name, lambda *a, real=real, name=name: trips.append(name) or real(*a)
            )
        assert kv.answer(kv.parse({"type": "set", "key": "k", "value": 2}))["ok"]
        assert kv.answer(kv.parse({"type": "get", "key": "k"}))["value"] == 2
        assert trips == ["run", "one"]


@pytest.mark.slow
def test_ten_processes_incrementing_one_counter_lose_nothing(location, start):
    url = f"{server()}?prefix={location.prefix}"
    code = """
import sys, trio
from patchflow.storage import open_storage
async def count(kv):
    for _ in range(40):
        await kv.incr("n")
with open_storage("counter", storage=sys.argv[1]) as storage:
    trio.run(count, storage.kv(name="counts"))
"""
    workers = [start(code, url) for _ in range(10)]
    for worker in workers:
        _, err = worker.communicate(timeout=120)
        assert worker.returncode == 0, err
    with open_storage("counter", storage=location) as storage:
        assert trio.run(storage.kv(name="counts").get, "n") == 400


# ---- connections and errors ------------------------------------------------------------------


def test_an_unreachable_server_is_an_error_naming_the_url_without_its_password():
    url = f"redis://:hunter2@127.0.0.1:{closed_port()}/3"
    with pytest.raises(StorageError) as caught:
        open_storage("p", storage=url)
    message = str(caught.value)
    assert f"redis://127.0.0.1:{url.rsplit(':', 1)[1]}" in message and "hunter2" not in message
    assert "cannot reach Redis" in message


def test_a_wrong_password_is_an_error_without_the_password():
    host = server().split("://", 1)[1]
    with pytest.raises(StorageError) as caught:
        open_storage("p", storage=f"redis://nobody:hunter2@{host}?prefix={fresh_prefix()}")
    message = str(caught.value)
    assert "hunter2" not in message and "redis://nobody@" in message


def test_a_lost_connection_is_an_error_reply_and_the_next_command_reconnects(location):
    with open_storage("p", storage=location) as storage:
        kv = storage.kv(name="s")
        trio.run(kv.set, "k", 1)
        with raw_client() as client:  # only this patch's connection: the server is shared
            ours = [c for c in client.client_list() if c["name"] == location.open_name("p")]
            assert len(ours) == 1
            client.client_kill_filter(_id=ours[0]["id"])
        reply = kv.answer(kv.parse({"type": "get", "key": "k"}))
        assert reply["op"] == "error" and "cannot reach Redis" in reply["message"]
        assert location.location in reply["message"]
        assert kv.answer(kv.parse({"type": "get", "key": "k"}))["value"] == 1


def test_a_key_of_another_type_is_damaged_storage(location, backend):
    with raw_client() as client:
        client.set(backend.keys.of("kv")[1], b"not a hash")
    with pytest.raises(DamagedStorage, match="another type"):
        backend.get("kv", b"k")
    with pytest.raises(DamagedStorage):
        backend.write(lambda txn: txn.put("kv", b"k", b"v"))


def test_a_patch_whose_process_died_can_be_deleted(location, start):
    url = f"{server()}?prefix={location.prefix}"
    code = """
import sys
from patchflow.storage import SPACES, open_location
open_location(sys.argv[1]).open("held", SPACES)
print("open", flush=True)
sys.stdin.read()
"""
    holder = start(code, url)
    assert holder.stdout.readline() == "open\n"
    with pytest.raises(StorageBusy):
        location.delete("held")
    holder.kill()
    holder.communicate()
    deadline = time.monotonic() + 10  # the server notices the closed connection at once
    while True:
        try:
            location.delete("held")
            break
        except StorageBusy:
            assert time.monotonic() < deadline
            time.sleep(0.05)
    assert not location.has_patch("held")


# ---- URLs ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "shown", "prefix"),
    [
        ("redis://127.0.0.1:6379/2", "redis://127.0.0.1:6379/2", "patchflow"),
        ("redis:", "redis://127.0.0.1:6379/0", "patchflow"),
        ("redis://u:pw@h:1/0?prefix=app-1", "redis://u@h:1/0 (prefix app-1)", "app-1"),
        ("redis://:pw@h:1/0", "redis://h:1/0", "patchflow"),
    ],
)
def test_a_redis_url_names_a_location_shown_without_its_password(url, shown, prefix):
    location = open_location(url)
    assert isinstance(location, RedisLocation)
    assert (location.location, location.prefix) == (shown, prefix)


@pytest.mark.parametrize(
    ("url", "message"),
    [("redis://h:1/0?prefix=a:b", "prefix"), ("redis://:pw@h:1/x", "not a usable Redis URL")],
)
def test_a_bad_redis_url_is_a_clear_error_without_its_password(url, message):
    with pytest.raises(BadPath, match=message) as caught:
        open_location(url)
    assert "pw" not in str(caught.value)


# ---- the command line ------------------------------------------------------------------------


def patchflow(*args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "patchflow", *args],
        capture_output=True,
        text=True,
        input=input,
        timeout=60,
        check=False,
    )


@pytest.mark.slow
def test_export_then_import_moves_a_patch_onto_redis_and_back(tmp_path):
    source = f"lmdb:{tmp_path / 'data'}"
    target = fresh_url()
    with open_storage("moved", storage=source) as storage:

        async def fill():
            await storage.kv(name="settings").set("volume", 0.8)
            await storage.kv(local="kv-1").set("blob", b"\x00\xff")
            await storage.db(local="db-1").insert("notes", {"text": "hi", "n": [1, 2]})

        trio.run(fill)
    exported = patchflow("data", "export", "moved", "--storage", source)
    assert exported.returncode == 0, exported.stderr
    imported = patchflow("data", "import", "moved", "--storage", target, input=exported.stdout)
    assert imported.returncode == 0, imported.stderr
    again = patchflow("data", "export", "moved", "--storage", target)
    assert again.returncode == 0, again.stderr
    body = lambda dump: [json.loads(line) for line in dump.splitlines()[1:]]  # noqa: E731
    assert body(again.stdout) == body(exported.stdout)
    listed = patchflow("data", "ls", "--storage", target)
    assert listed.returncode == 0 and "moved" in listed.stdout, listed.stderr
    back = patchflow(
        "data", "import", "moved", "--storage", f"lmdb:{tmp_path / 'back'}", input=again.stdout
    )
    assert back.returncode == 0, back.stderr


@pytest.mark.slow
def test_run_on_an_unreachable_server_exits_1_naming_the_url(tmp_path):
    patch = tmp_path / "note.patch"
    patch.write_text('patch note\n[loadbang] -> [msg {type: "get", key: "k"}] -> [kv]\n')
    url = f"redis://:hunter2@127.0.0.1:{closed_port()}/0"
    done = patchflow("run", str(patch), "--storage", url)
    assert done.returncode == 1
    assert "redis://127.0.0.1:" in done.stderr and "hunter2" not in done.stderr + done.stdout
