"""Notices of other processes' changes for `postgres_backend`: `LISTEN` on one connection.

A write that logged changes for watchers sends `NOTIFY patchflow_<hash>` with its `COMMIT`
(the channel is the patch's, derived from the schema and the patch id like the advisory
locks, so the server tells only the backends of that patch). The server delivers a notice only
if and when the transaction commits, to every connection listening on the channel at the time.

`Listener` keeps one such connection per backend while anything subscribes: opened (on a
daemon thread of its own) by the first subscription, closed when the last one stops or the
backend closes. The thread sleeps on the connection's socket and on a socket pair that wakes
it to stop, so an idle watch costs no wake-ups; it calls every subscriber's `wake()`
for each batch of notices from other connections (the backend's own commits are told to its
watchers directly by the change log). If the connection drops it reconnects, waiting
`FIRST_RETRY` seconds doubling to `LAST_RETRY` between attempts, and wakes every subscriber
once it listens again, since notices sent meanwhile are lost; until then the watchers' slower
polling (`changes.SIGNALLED_POLL_SECONDS`) finds the changes. It never touches the backend
(nor its lock): it has a connection of its own.
"""

from __future__ import annotations

import selectors
import socket
import threading
from collections.abc import Callable
from typing import Any

from . import redact
from .notices import Backoff, Subscriptions
from .postgres_connection import connect, driver, lock_key

__all__ = ["FIRST_RETRY", "LAST_RETRY", "Listener", "channel_of"]

#: Seconds to wait before reconnecting a dropped listening connection, doubling each failed
#: attempt up to LAST_RETRY (a server restart takes seconds; polling covers the gap).
FIRST_RETRY = 0.1
LAST_RETRY = 5.0


def channel_of(schema: str, patch_id: str) -> str:
    """Return the notification channel of one patch's changes (a plain SQL identifier)."""
    return f"patchflow_{lock_key(schema, patch_id, 'changes') & (2**64 - 1):016x}"


class Listener:
    """Call subscribers' `wake()` when another connection announces a change of one patch.

    The subscriptions themselves (`notices.Subscriptions`) start a `_Session` on the first
    and stop it on the last; this class adds the connection.

    Args:
        url: the server (the backend's URL).
        channel: the patch's channel (`channel_of`).
        own_pid: returns the server process id of the backend's own connection (None: none),
            whose notices are not passed on.
    """

    def __init__(self, url: str, channel: str, own_pid: Callable[[], int | None]) -> None:
        self._url = url
        self._channel = channel
        self._own_pid = own_pid
        self._subscriptions: Subscriptions[_Session] = Subscriptions(self._start, redact(url))

    @property
    def pid(self) -> int | None:
        """The server process id of the listening connection (None: not listening)."""
        session = self._subscriptions.worker
        return None if session is None else session.pid

    def subscribe(self, wake: Callable[[], None]) -> Callable[[], None]:
        """Call `wake()` (from the listening thread) after each change announced elsewhere;
        return the function that stops it (calling it again does nothing).

        Raises:
            StorageError: the listener is closed.
        """
        return self._subscriptions.subscribe(wake)

    def close(self) -> None:
        """Stop every subscription and the listening connection (closing twice does nothing)."""
        self._subscriptions.close()

    def _start(self) -> _Session:
        session = _Session(self)
        session.start()
        return session


class _Session:
    """One listening thread and its connection, from a first subscription to the last stop."""

    def __init__(self, listener: Listener) -> None:
        self._listener = listener
        #: the thread waits on this socket too, so that `stop` wakes it at once
        self._stop_receiver, self._stop_sender = socket.socketpair()
        self._stopped = False
        self._stop_lock = threading.Lock()  # the pair is written only while it is open
        #: the server process id of the listening connection (None: not listening)
        self.pid: int | None = None
        self._thread = threading.Thread(
            target=self._run, name=f"patchflow LISTEN {listener._channel}", daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Make the thread close its connection and end, at once."""
        with self._stop_lock:
            if not self._stopped:
                self._stopped = True
                self._stop_sender.send(b"x")

    def _run(self) -> None:
        backoff = Backoff(FIRST_RETRY, LAST_RETRY)
        try:
            while not self._stopped:
                conn = self._listen()
                if conn is None:  # could not connect: wait (unless stopped), then again
                    if self._wait(backoff.failed()):
                        return
                    continue
                backoff.connected()
                try:
                    self.pid = conn.info.backend_pid
                    # notices sent before it listened are lost
                    self._listener._subscriptions.wake_all(self)
                    self._serve(conn)
                except Exception:
                    pass  # the connection dropped (or anything else went wrong): listen again
                finally:
                    self.pid = None
                    conn.close()
                # a connection that dropped after listening is not a failed attempt: the
                # first pause, and the next failure waits no longer
                if not self._stopped and self._wait(backoff.first):
                    return
        finally:
            with self._stop_lock:
                self._stopped = True
                self._stop_receiver.close()
                self._stop_sender.close()

    def _listen(self) -> Any:
        """Return a connection listening on the channel, or None if there is none to be had."""
        try:
            conn, _ = connect(self._listener._url)
        except Exception:  # StorageError: the server is down; polling goes on meanwhile
            return None
        try:
            conn.execute(f"LISTEN {self._listener._channel}")
        except driver().Error:
            conn.close()
            return None
        return conn

    def _serve(self, conn: Any) -> None:
        """Wake the subscribers for each batch of notices from other connections, until
        stopped; raise a driver error when the connection drops."""
        pgconn = conn.pgconn
        listener = self._listener
        with selectors.DefaultSelector() as selector:
            selector.register(pgconn.socket, selectors.EVENT_READ)
            selector.register(self._stop_receiver, selectors.EVENT_READ)
            while True:
                others = False
                own = listener._own_pid()
                while (notice := pgconn.notifies()) is not None:
                    others = others or notice.be_pid != own
                if others:
                    listener._subscriptions.wake_all(self)
                selector.select()
                if self._stopped:
                    return
                pgconn.consume_input()  # raises OperationalError once the connection is gone
                if pgconn.status != driver().pq.ConnStatus.OK:
                    raise driver().OperationalError("the listening connection was closed")

    def _wait(self, seconds: float) -> bool:
        """Wait `seconds` (less if stopped meanwhile); return whether the session was stopped."""
        if not self._stopped:
            with selectors.DefaultSelector() as selector:
                selector.register(self._stop_receiver, selectors.EVENT_READ)
                selector.select(seconds)
        return self._stopped
