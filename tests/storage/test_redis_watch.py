"""Watching a patch on Redis (`redis_notify.py`): a watched commit publishes a notice from its
commit script, and each backend with subscribers listens for them on a pub/sub connection of
its own, so a watcher hears of another process's change at once rather than at its next poll.

A second opener of the same URL and patch, with connections of its own, stands for another
process; `test_watch_example.py` runs two real ones.
"""

from __future__ import annotations

import threading
import time

import pytest
import trio
from redis_server import redis_location, server
from waiting import eventually

from patchflow.errors import StorageError
from patchflow.storage import SPACES, open_storage
from patchflow.storage.backends import redis_notify
from patchflow.storage.layout import changes

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
    """A second handle on the same patch, with its own connections: another process, in effect."""
    opened = location.open("p", SPACES)
    yield opened
    opened.close()


def raw_client():
    return redis.Redis.from_url(server())


def watch_clients(location, patch_id="p"):
    """The server's pub/sub connections of backends watching `patch_id`."""
    name = location.watch_name(patch_id)
    with raw_client() as client:
        return [c for c in client.client_list(_type="pubsub") if c.get("name") == name]


class Wakes:
    """A `wake` that counts its calls and lets a test wait for the next one."""

    def __init__(self) -> None:
        self.count = 0
        self._event = threading.Event()

    def __call__(self) -> None:
        self.count += 1
        self._event.set()

    def wait(self, seconds: float) -> bool:
        """Wait for a call from now on; return whether one came within `seconds`."""
        woken = self._event.wait(seconds)
        self._event.clear()
        return woken

    def reset(self) -> None:
        self.count = 0
        self._event.clear()


def subscribed(backend, wake):
    """Subscribe `wake` and wait until the pub/sub connection is live (it wakes once then)."""
    stop = backend.subscribe_changes(wake)
    assert wake.wait(5), "the pub/sub connection did not subscribe"
    wake.reset()
    return stop


def announced_put(key: bytes, value: bytes):
    def fn(txn):
        txn.put("kv", key, value)
        txn.announce_changes()

    return fn


class Listener:
    """A raw redis-py client subscribed to a patch's notice channel."""

    def __init__(self, backend) -> None:
        self.client = raw_client()
        self.pubsub = self.client.pubsub(ignore_subscribe_messages=True)
        self.pubsub.subscribe(backend.keys.changes)
        assert self.pubsub.get_message(timeout=5) is None  # the confirmation, skipped

    def notices(self, seconds: float) -> list[bytes]:
        """The notices that arrive within `seconds`."""
        found = []
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            message = self.pubsub.get_message(timeout=left)
            if message is not None:
                found.append(message["data"])
        return found

    def close(self) -> None:
        self.pubsub.close()
        self.client.close()


@pytest.fixture
def listener(backend):
    opened = Listener(backend)
    yield opened
    opened.close()


# ---- publishing ------------------------------------------------------------------------------


def test_a_watcher_hears_of_another_openers_commit_by_its_notice(location, monkeypatch):
    """With polling slowed to 5 s, only the notice can bring the change within 300 ms."""
    monkeypatch.setattr(changes, "SIGNALLED_POLL_SECONDS", 5.0)
    with (
        open_storage("p", storage=location) as mine,
        open_storage("p", storage=location) as theirs,
    ):
        assert mine.poll_seconds == 5.0
        kv = mine.kv(name="s")

        async def scenario():
            got = []
            async with kv.watch() as watch:

                async def next_change():
                    got.append(await watch.__anext__())
                    got.append(trio.current_time())

                async with trio.open_nursery() as nursery:
                    nursery.start_soon(next_change)  # looks once, then waits (5 s) for a wake
                    assert eventually(lambda: watch_clients(location))
                    await trio.sleep(0.1)  # the look woken by the subscription is over too
                    assert not got
                    started = trio.current_time()
                    await theirs.kv(name="s").set("x", 1)  # another storage's: no direct word
                    with trio.fail_after(0.3):
                        while not got:
                            await trio.sleep(0.005)
            return got[0], got[1] - started

        change, took = trio.run(scenario)
    assert change == {"op": "changed", "key": "x", "value": 1, "found": True}
    assert took < 0.3


def test_a_write_nobody_watches_publishes_nothing(location, backend, listener):
    with open_storage("p", storage=location) as storage:
        kv = storage.kv(name="s")
        trio.run(kv.set, "a", 1)  # no lease: not logged, not announced
        assert listener.notices(0.3) == []
        stop = kv.on_change(lambda change: None)  # a watch takes the lease: now it publishes
        trio.run(kv.set, "b", 2)
        (notice,) = listener.notices(0.3)
        stop()
    with raw_client() as client:
        assert int(notice) == int(client.get(backend.keys.version))  # the commit's version


def test_a_commit_that_does_not_apply_publishes_nothing(backend, other, listener):
    runs = []

    def conflicting(txn):
        txn.get("kv", b"n")  # a read: the commit checks the version
        if not runs:  # meanwhile, another process commits (unwatched)
            other.write(lambda t: t.put("kv", b"n", b"theirs"))
        runs.append(1)
        announced_put(b"n", b"mine")(txn)

    backend.write(conflicting)
    assert len(runs) == 2  # the first commit found the version moved: nothing applied
    (notice,) = listener.notices(0.3)  # only the commit that applied was announced
    with raw_client() as client:
        assert int(notice) == int(client.get(backend.keys.version)) == 2
    assert backend.get("kv", b"n") == b"mine"


# ---- listening -------------------------------------------------------------------------------


def test_each_subscriber_is_woken_by_another_openers_announced_commit(location, backend, other):
    first, second = Wakes(), Wakes()
    stop_first = subscribed(backend, first)
    stop_second = backend.subscribe_changes(second)  # shares the live connection
    assert len(watch_clients(location)) == 1
    other.write(announced_put(b"k", b"v"))
    assert first.wait(1) and second.wait(1)
    other.write(lambda txn: txn.put("kv", b"k", b"quiet"))  # not announced: no wake
    assert not first.wait(0.3)
    stop_first()
    stop_second()


def test_stop_is_idempotent_and_the_last_stop_closes_the_connection(location, backend, other):
    first, second = Wakes(), Wakes()
    stop_first = subscribed(backend, first)
    stop_second = backend.subscribe_changes(second)
    stop_first()
    stop_first()  # again: nothing, and the other subscription stays
    other.write(announced_put(b"k", b"v"))
    assert second.wait(1)
    assert not first.wait(0.2)
    assert watch_clients(location)
    stop_second()
    assert eventually(lambda: not watch_clients(location), 2)
    stop_second()
    stop_first()
    again = Wakes()
    stop = subscribed(backend, again)  # a new subscriber opens a new connection
    other.write(announced_put(b"k", b"w"))
    assert again.wait(1)
    stop()


def test_close_closes_the_connection_and_later_subscriptions_fail(location, other):
    backend = location.open("p", SPACES)
    wake = Wakes()
    stop = subscribed(backend, wake)
    backend.close()
    assert not watch_clients(location)  # closed by the time close returns
    stop()  # after close: nothing
    with pytest.raises(StorageError, match="is closed; open it again"):
        backend.subscribe_changes(wake)
    other.write(announced_put(b"k", b"v"))
    assert not wake.wait(0.3)


def test_a_subscriber_survives_its_connection_being_killed(location, backend, other):
    wake = Wakes()
    stop = subscribed(backend, wake)
    (before,) = watch_clients(location)
    with raw_client() as client:
        assert client.client_kill_filter(_id=before["id"]) == 1
    assert wake.wait(5), "not woken after connecting again (notices may have been missed)"
    (after,) = watch_clients(location)
    assert after["id"] != before["id"]
    wake.reset()
    other.write(announced_put(b"k", b"v"))
    assert wake.wait(1)
    stop()


def test_a_subscriber_waits_out_an_unreachable_server_and_then_hears(backend, other):
    """Connecting fails twice (a server restarting): the thread tries again, waiting longer
    after each failure, and once subscribed wakes its subscribers and hears notices."""
    real = backend.notices._connect
    tries = []

    def flaky():
        conn = real()
        tries.append(time.monotonic())
        if len(tries) <= 2:

            def refuse():
                raise redis.ConnectionError("refused (test)")

            conn.connect = refuse
        return conn

    backend.notices._connect = flaky
    wake = Wakes()
    stop = subscribed(backend, wake)
    assert len(tries) == 3
    first_pause, second_pause = tries[1] - tries[0], tries[2] - tries[1]
    assert first_pause >= redis_notify.FIRST_DELAY / 2
    assert second_pause >= redis_notify.FIRST_DELAY  # doubled
    other.write(announced_put(b"k", b"v"))
    assert wake.wait(1)
    stop()
