"""Subscriptions to a backend's change notices: the bookkeeping every notifying backend shares.

A backend that pushes notices (`protocol.ChangeSignal`: PostgreSQL's `postgres_notify`,
Redis's `redis_notify`) keeps one listening worker — a thread with a connection of its own —
while anything subscribes, and calls every subscriber's `wake()` for each notice. What differs
between them is the connection and how the worker waits for it; what is the same lives here,
once:

- each `subscribe` is a subscription of its own, even for a function given twice, so that
  each returned `stop` removes its own and no other;
- the first subscription starts the worker, the last `stop` (or `close`) stops it, and a
  later subscription starts a new one; `stop` and `close` may be called again and do nothing;
- after `close` nothing may subscribe;
- `wake_all` calls the wakes outside the lock (a wake may take its own locks, and a slow one
  must not hold up a `subscribe` or `stop`), and one that raises keeps neither the others
  from being woken nor the worker from going on: a wake only schedules a look, and the
  watcher's polling remains behind it.

`Backoff` is the other shared piece: the pause before connecting again after the listening
connection failed, doubling after each failure up to a cap (a server restart takes seconds,
and polling covers the gap meanwhile).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, Protocol, TypeVar

from ...errors import StorageError

__all__ = ["Backoff", "Subscriptions", "Worker"]


class Worker(Protocol):
    """A backend's listening worker, as `Subscriptions` sees it."""

    def stop(self) -> None:
        """Make the worker end soon (it closes its connection itself), without waiting for it.

        Called with the subscriptions' lock held, so it must not block nor call back into them.
        """


W = TypeVar("W", bound=Worker)


class Subscriptions(Generic[W]):
    """The subscribers of one backend's notices, and the worker serving them (module docstring).

    Args:
        start: starts a new worker and returns it (called with the lock held, by the first
            subscription after none); the worker passes itself to `wake_all`.
        where: the backend's location, for messages.
    """

    def __init__(self, start: Callable[[], W], where: str) -> None:
        self._start = start
        self.where = where
        self._lock = threading.Lock()  # guards what follows; never held while waking
        #: one entry per subscription, keyed by a token of its own (insertion order: wake order)
        self._wakes: dict[object, Callable[[], None]] = {}
        self._worker: W | None = None
        self._closed = False

    @property
    def worker(self) -> W | None:
        """The worker serving the subscribers now (None: nothing subscribes)."""
        return self._worker

    def subscribe(self, wake: Callable[[], None]) -> Callable[[], None]:
        """Call `wake()` (from the worker's thread) for each notice; return what stops it.

        Starts the worker if none serves; does not wait for it to listen.

        Raises:
            StorageError: the backend is closed.
        """
        token = object()
        with self._lock:
            if self._closed:
                raise StorageError(
                    f"patch storage at {self.where} is closed; open it again to use it"
                )
            self._wakes[token] = wake
            if self._worker is None:
                self._worker = self._start()

        def stop() -> None:
            with self._lock:
                if self._wakes.pop(token, None) is not None and not self._wakes:
                    self._stop_worker()

        return stop

    def close(self) -> None:
        """Stop every subscription and the worker, and refuse new ones (again: nothing)."""
        with self._lock:
            self._closed = True
            self._wakes.clear()
            self._stop_worker()

    def wake_all(self, worker: W) -> None:
        """Call every subscriber's `wake()`, if `worker` still serves them."""
        with self._lock:
            if worker is not self._worker:
                return  # stopped meanwhile: its subscribers are gone
            wakes = list(self._wakes.values())
        for wake in wakes:
            try:
                wake()
            except Exception:  # a wake must not raise; one that does must neither keep the
                continue  # others from being woken nor end the worker

    def _stop_worker(self) -> None:
        """End the worker (under `_lock`); a new subscriber starts another."""
        worker, self._worker = self._worker, None
        if worker is not None:
            worker.stop()


class Backoff:
    """The pauses before connecting again: `first` seconds, doubling after each failure up to
    `last`, and `first` again once connected.

    The bounds are read when the worker starts it, so a test may set a module's constants.
    """

    __slots__ = ("_next", "first", "last")

    def __init__(self, first: float, last: float) -> None:
        self.first = first
        self.last = last
        self._next = first

    def failed(self) -> float:
        """Return the pause after a failure, and double the next one (up to `last`)."""
        pause = self._next
        self._next = min(pause * 2, self.last)
        return pause

    def connected(self) -> None:
        """Start again from `first`: the connection worked."""
        self._next = self.first
