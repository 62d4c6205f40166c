"""Redis change notices: how watchers of a patch on Redis learn of other processes' commits.

This is the Redis half of `protocol.ChangeSignal`. A write that logged changes while someone
watches the patch (the change log calls `announce_changes()` on its transaction) publishes the
patch's new version on the channel `PREFIX:{P}:changes` from inside the commit script
(`redis_txn.COMMIT_SCRIPT`): atomically with the commit, so a commit that did not apply (a
conflict, a failure) announces nothing, and at no round trip of its own. A write nobody
watches publishes nothing. The writer publishes, rather than the server announcing changed
keys (keyspace notifications), because those are off by default and a shared server may not
allow turning them on.

`Notices` is the listening half, one per backend: a pub/sub connection opened by the first
`subscribe` and served by one daemon thread, which calls every subscriber's `wake()` for each
notice. It holds no lock of the backend's, so a slow or lost pub/sub connection never delays
reads and writes. When the connection drops, the thread connects again, waiting longer after
each failure (up to `MAX_DELAY`), and wakes every subscriber once subscribed again, since
notices sent meanwhile are lost; it does so after its first subscription too, for a commit
made while it connected. The watcher's slower polling (`changes.SIGNALLED_POLL_SECONDS`)
remains behind it all. The thread ends, closing its connection, when the last subscriber stops
or the backend closes.

The thread waits for a notice at most `TICK` seconds at a time, then checks whether it should
stop: that bounds how long a stopped subscription keeps its connection, at a few wake-ups a
second of a thread that does nothing else (as redis-py's own pub/sub worker thread does).
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from typing import Any

from .notices import Backoff, Subscriptions
from .redis_link import redis_module

__all__ = ["MAX_DELAY", "TICK", "Notices"]

#: The longest the listening thread waits for a notice before checking whether to stop (s).
TICK = 0.2
#: The first wait before connecting again after the pub/sub connection failed, and the
#: longest, in seconds: it doubles after each failure in between.
FIRST_DELAY = 0.05
MAX_DELAY = 5.0


class _Run:
    """One listening thread's life: `stop` it and it closes its connection and ends."""

    __slots__ = ("stopped", "thread")

    def __init__(self) -> None:
        self.stopped = threading.Event()
        self.thread: threading.Thread | None = None

    def stop(self) -> None:
        self.stopped.set()


class Notices:
    """The notices of one patch's commits, for its backend's subscribers (module docstring).

    The subscriptions themselves (`notices.Subscriptions`) start a `_Run` on the first and
    stop it on the last; this class adds the pub/sub connection.

    Args:
        connect: returns a new, not yet connected, redis-py connection.
        channel: the patch's notice channel (`redis_txn.Keys.changes`).
        where: the backend's location, for messages.
    """

    def __init__(self, connect: Callable[[], Any], channel: bytes, where: str) -> None:
        self._connect = connect
        self.channel = channel
        self.where = where
        self._subscriptions: Subscriptions[_Run] = Subscriptions(self._start, where)
        #: every thread not yet ended (close waits for them); changed only by `_start`, under
        #: the subscriptions' lock
        self._runs: list[_Run] = []

    def subscribe(self, wake: Callable[[], None]) -> Callable[[], None]:
        """Call `wake()` from the listening thread after each notice; return what stops it.

        Raises:
            StorageError: the backend is closed.
        """
        return self._subscriptions.subscribe(wake)

    def close(self) -> None:
        """Stop every subscription, and wait (briefly) for the connections to be closed."""
        self._subscriptions.close()
        # closed: no `subscribe` starts a thread any more, so `_runs` no longer changes
        runs, self._runs = self._runs, []
        for run in runs:
            if run.thread is not None and run.thread is not threading.current_thread():
                run.thread.join(timeout=2 * TICK)  # it ends within a TICK unless connecting

    def _start(self) -> _Run:
        run = _Run()
        run.thread = threading.Thread(
            target=self._serve, args=(run,), name=f"patchflow notices {self.where}", daemon=True
        )
        self._runs = [old for old in self._runs if old.thread.is_alive()]  # type: ignore[union-attr]
        self._runs.append(run)
        run.thread.start()
        return run

    def _serve(self, run: _Run) -> None:
        """The listening thread: subscribe, wake on each notice, connect again when dropped."""
        redis = redis_module()
        backoff = Backoff(FIRST_DELAY, MAX_DELAY)
        while not run.stopped.is_set():
            conn = None
            failed = False
            try:
                conn = self._connect()
                conn.connect()
                conn.send_command(b"SUBSCRIBE", self.channel)
                conn.read_response(push_request=True)  # subscribed: notices come from now on
                backoff.connected()
                self._subscriptions.wake_all(run)  # a commit may have been announced before that
                while not run.stopped.is_set():
                    if not conn.can_read(timeout=TICK):
                        continue
                    notice = conn.read_response(push_request=True)
                    if isinstance(notice, list) and notice and notice[0] == b"message":
                        self._subscriptions.wake_all(run)
            except (redis.RedisError, OSError):
                failed = True  # dropped or unreachable: connect again, after a pause
            finally:
                if conn is not None:
                    conn.disconnect()
            if failed:
                delay = backoff.failed()
                run.stopped.wait(random.uniform(delay / 2, delay))
