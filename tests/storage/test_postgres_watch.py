"""Watching a patch on PostgreSQL (`postgres_notify.py`): a watched commit sends `NOTIFY` on
the patch's channel, and each backend with subscribers listens on a connection of its own, so
a watcher hears of another process's change at once rather than at its next poll.

A second opener of the same URL and patch, with a connection of its own, stands for another
process; `test_watch_example.py` runs two real ones.
"""

from __future__ import annotations

import threading
import time

import pytest
import trio
from postgres_server import fresh_url, server
from waiting import eventually

from patchflow.errors import StorageError
from patchflow.storage import SPACES, open_storage
from patchflow.storage.backends.postgres_backend import PostgresLocation
from patchflow.storage.layout import changes


@pytest.fixture
def url() -> str:
    return fresh_url()


@pytest.fixture
def backend(url):
    opened = PostgresLocation(url).open("p", SPACES)
    yield opened
    opened.close()


@pytest.fixture
def other(url):
    """A second backend on the same patch, with its own connection: another process, in effect."""
    opened = PostgresLocation(url).open("p", SPACES)
    yield opened
    opened.close()


def admin():
    import psycopg

    return psycopg.connect(server(), autocommit=True)


def connected(pid: int) -> bool:
    """Whether the server still has a connection with that server process id."""
    with admin() as conn:
        row = conn.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", (pid,)).fetchone()
    return row is not None


def listening_pid(backend) -> int | None:
    """The server process id of the backend's listening connection (None: not listening)."""
    listener = backend._listener
    return None if listener is None else listener.pid


class Wakes:
    """A `wake` that counts its calls, and lets a test wait for the next one."""

    def __init__(self) -> None:
        self.count = 0
        self._cond = threading.Condition()

    def __call__(self) -> None:
        with self._cond:
            self.count += 1
            self._cond.notify_all()

    def wait_beyond(self, count: int, seconds: float = 5.0) -> bool:
        """Wait until woken more than `count` times in all; return whether it was."""
        with self._cond:
            return self._cond.wait_for(lambda: self.count > count, seconds)


def announced_put(key: bytes, value: bytes):
    """A write as the change log makes it when someone watches: a put, then the announcement."""

    def write(txn):
        txn.put("kv", key, value)
        txn.announce_changes()

    return write


# ---- a notice from another process -------------------------------------------------------------


def test_a_change_from_another_opener_reaches_kv_watch_at_once_not_at_the_next_poll(
    url, monkeypatch
):
    monkeypatch.setattr(changes, "SIGNALLED_POLL_SECONDS", 30.0)  # a poll would come too late
    with open_storage("p", storage=url) as mine, open_storage("p", storage=url) as theirs:
        assert mine.poll_seconds == 30.0  # the backend pushes notices: polling is the fallback
        backend = mine.backend.backend

        async def scenario():
            async with mine.kv(name="s").watch() as watching:
                written = []

                async def write():
                    while listening_pid(backend) is None:
                        await trio.sleep(0.01)
                    await trio.sleep(0.1)  # the watcher has polled and waits for a wake
                    written.append(time.monotonic())
                    await theirs.kv(name="s").set("x", 1)

                async with trio.open_nursery() as nursery:
                    nursery.start_soon(write)
                    with trio.fail_after(10):
                        change = await watching.__anext__()
                return change, time.monotonic() - written[0]

        change, elapsed = trio.run(scenario)
    assert change == {"op": "changed", "key": "x", "value": 1, "found": True}
    assert elapsed < 0.3


def test_a_notice_goes_out_only_when_an_announced_write_commits(backend, other):
    channel = backend._channel
    with admin() as listening:
        listening.execute(f"LISTEN {channel}")

        def notices():
            return [n.pid for n in listening.notifies(timeout=0.3)]

        other.write(lambda txn: txn.put("kv", b"k", b"nobody watches"))
        assert notices() == []  # not announced: no NOTIFY

        def fails(txn):
            announced_put(b"k", b"v")(txn)
            raise ZeroDivisionError

        with pytest.raises(ZeroDivisionError):
            other.write(fails)
        assert notices() == []  # rolled back: the NOTIFY went with it

        other.write(announced_put(b"k", b"v"))
        assert notices() == [other._pid]


def test_a_write_nobody_watches_sends_no_notice_and_one_watched_does(url):
    with (
        open_storage("p", storage=url) as mine,
        open_storage("p", storage=url) as theirs,
        admin() as listening,
    ):
        listening.execute(f"LISTEN {mine.backend.backend._channel}")
        trio.run(theirs.kv(name="s").set, "a", 1)
        assert list(listening.notifies(timeout=0.3)) == []  # no lease: nothing logged
        stop = mine.kv(name="s").on_change(lambda change: None)  # takes the lease
        try:
            trio.run(theirs.kv(name="s").set, "a", 2)
            pids = [n.pid for n in listening.notifies(timeout=2, stop_after=1)]
            assert pids == [theirs.backend.backend._pid]
        finally:
            stop()


def test_a_subscriber_is_not_woken_by_its_own_backend_commits(backend, other):
    wakes = Wakes()
    stop = backend.subscribe_changes(wakes)
    try:
        assert wakes.wait_beyond(0)  # once listening (a notice may have been missed before)
        woken = wakes.count
        backend.write(announced_put(b"k", b"mine"))
        other.write(announced_put(b"k", b"theirs"))
        assert wakes.wait_beyond(woken)
        time.sleep(0.2)
        assert wakes.count == woken + 1  # the other's commit only
    finally:
        stop()


# ---- the listening connection ------------------------------------------------------------------


def test_stop_is_idempotent_and_the_last_stop_closes_the_listening_connection(backend):
    first, second = Wakes(), Wakes()
    stop_first = backend.subscribe_changes(first)
    stop_second = backend.subscribe_changes(second)
    assert eventually(lambda: listening_pid(backend) is not None)
    pid = listening_pid(backend)
    stop_first()
    stop_first()  # again: nothing
    time.sleep(0.1)
    assert listening_pid(backend) == pid and connected(pid)  # the second still listens
    stop_second()
    stop_second()
    assert eventually(lambda: not connected(pid))
    assert listening_pid(backend) is None
    third = Wakes()  # a new subscription listens again, on a new connection
    stop_third = backend.subscribe_changes(third)
    assert third.wait_beyond(0)
    stop_third()


def test_closing_the_backend_closes_the_listening_connection(url):
    backend = PostgresLocation(url).open("p", SPACES)
    stop = backend.subscribe_changes(Wakes())
    assert eventually(lambda: listening_pid(backend) is not None)
    pid = listening_pid(backend)
    backend.close()
    assert eventually(lambda: not connected(pid))
    stop()  # after close: nothing
    with pytest.raises(StorageError, match="closed"):
        backend.subscribe_changes(Wakes())


def test_a_subscriber_survives_its_listening_connection_being_killed(backend, other):
    wakes = Wakes()
    stop = backend.subscribe_changes(wakes)
    try:
        assert wakes.wait_beyond(0)
        pid = listening_pid(backend)
        woken = wakes.count
        with admin() as conn:
            conn.execute("SELECT pg_terminate_backend(%s)", (pid,))
        # woken once it listens again: notices sent meanwhile are lost
        assert wakes.wait_beyond(woken)
        assert eventually(lambda: listening_pid(backend) not in (None, pid))
        woken = wakes.count
        other.write(announced_put(b"k", b"after"))
        assert wakes.wait_beyond(woken)  # and notices arrive again
    finally:
        stop()


def test_the_listener_waits_for_the_server_and_wakes_its_subscriber_when_back(url, monkeypatch):
    from patchflow.storage.backends import postgres_notify

    monkeypatch.setattr(postgres_notify, "LAST_RETRY", 0.2)
    backend = PostgresLocation(url).open("p", SPACES)
    try:
        refused = [True]
        real_connect = postgres_notify.connect

        def connect(target):  # the server is "down" until refused[0] is cleared
            if refused[0]:
                raise StorageError("cannot connect (test)")
            return real_connect(target)

        monkeypatch.setattr(postgres_notify, "connect", connect)
        wakes = Wakes()
        stop = backend.subscribe_changes(wakes)
        time.sleep(0.5)  # several refused attempts
        assert wakes.count == 0 and listening_pid(backend) is None
        refused[0] = False
        assert wakes.wait_beyond(0)
        assert listening_pid(backend) is not None
        stop()
    finally:
        backend.close()
