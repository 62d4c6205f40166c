"""The subscription bookkeeping the notifying backends share (`backends/notices.py`), on a
worker that does nothing but record whether it was stopped; `test_postgres_watch.py` and
`test_redis_watch.py` run it with real listening connections."""

from __future__ import annotations

import threading

import pytest

from patchflow.errors import StorageError
from patchflow.storage.backends.notices import Backoff, Subscriptions


class Worker:
    """A listening worker that only records that it was stopped."""

    def __init__(self) -> None:
        self.stopped = 0

    def stop(self) -> None:
        self.stopped += 1


class Started:
    """The `start` callback: makes a new `Worker` each time and keeps them in order."""

    def __init__(self) -> None:
        self.workers: list[Worker] = []

    def __call__(self) -> Worker:
        self.workers.append(Worker())
        return self.workers[-1]


@pytest.fixture
def started() -> Started:
    return Started()


@pytest.fixture
def subscriptions(started) -> Subscriptions[Worker]:
    return Subscriptions(started, "redis://host/0 (patch 'p')")


class Wakes:
    """A `wake` that counts its calls."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self) -> None:
        self.count += 1


def test_the_first_subscription_starts_one_worker_and_the_next_shares_it(started, subscriptions):
    assert subscriptions.worker is None and started.workers == []
    subscriptions.subscribe(Wakes())
    subscriptions.subscribe(Wakes())
    assert len(started.workers) == 1
    assert subscriptions.worker is started.workers[0]


def test_the_same_function_subscribed_twice_is_two_subscriptions(subscriptions):
    wakes = Wakes()
    stop_first = subscriptions.subscribe(wakes)
    subscriptions.subscribe(wakes)
    subscriptions.wake_all(subscriptions.worker)
    assert wakes.count == 2
    stop_first()  # removes its own subscription only
    subscriptions.wake_all(subscriptions.worker)
    assert wakes.count == 3


def test_stop_is_idempotent_and_leaves_the_other_subscriptions(started, subscriptions):
    first, second = Wakes(), Wakes()
    stop_first = subscriptions.subscribe(first)
    subscriptions.subscribe(second)
    stop_first()
    stop_first()  # again: nothing, and in particular not the second subscription's end
    worker = subscriptions.worker
    assert worker is started.workers[0] and worker.stopped == 0
    subscriptions.wake_all(worker)
    assert (first.count, second.count) == (0, 1)


def test_the_last_stop_ends_the_worker_and_a_new_subscription_starts_another(
    started, subscriptions
):
    stop_first = subscriptions.subscribe(Wakes())
    stop_second = subscriptions.subscribe(Wakes())
    stop_first()
    stop_second()
    (worker,) = started.workers
    assert worker.stopped == 1 and subscriptions.worker is None
    stop_second()
    stop_first()
    assert worker.stopped == 1  # stopped once, however many stops follow
    wakes = Wakes()
    subscriptions.subscribe(wakes)
    assert len(started.workers) == 2 and subscriptions.worker is started.workers[1]
    subscriptions.wake_all(worker)  # the old worker's notices reach no one now
    assert wakes.count == 0
    subscriptions.wake_all(started.workers[1])
    assert wakes.count == 1


def test_close_stops_the_worker_and_refuses_new_subscriptions(started, subscriptions):
    wakes = Wakes()
    stop = subscriptions.subscribe(wakes)
    worker = subscriptions.worker
    subscriptions.close()
    assert worker.stopped == 1 and subscriptions.worker is None
    subscriptions.wake_all(worker)  # a notice the worker read before it ended
    assert wakes.count == 0
    stop()  # after close: nothing
    subscriptions.close()  # again: nothing
    assert worker.stopped == 1
    with pytest.raises(
        StorageError, match=r"patch storage at redis://host/0 \(patch 'p'\) is closed; open it"
    ):
        subscriptions.subscribe(wakes)
    assert len(started.workers) == 1  # no worker started for the refused subscription


def test_closing_with_no_subscriber_refuses_the_first(started, subscriptions):
    subscriptions.close()
    with pytest.raises(StorageError, match="is closed; open it again"):
        subscriptions.subscribe(Wakes())
    assert started.workers == []


def test_a_raising_wake_does_not_keep_the_others_from_being_woken(subscriptions):
    before, after = Wakes(), Wakes()

    def failing() -> None:
        raise RuntimeError("a broken watcher (test)")

    subscriptions.subscribe(before)
    subscriptions.subscribe(failing)
    subscriptions.subscribe(after)
    subscriptions.wake_all(subscriptions.worker)  # does not raise
    subscriptions.wake_all(subscriptions.worker)
    assert (before.count, after.count) == (2, 2)


def test_wakes_are_called_outside_the_lock_so_a_wake_may_stop_its_own_subscription(
    subscriptions,
):
    stops = []
    calls = []

    def wake() -> None:
        calls.append(1)
        stops[0]()  # would deadlock if wake_all held the lock while waking

    stops.append(subscriptions.subscribe(wake))
    waker = threading.Thread(
        target=subscriptions.wake_all, args=(subscriptions.worker,), daemon=True
    )
    waker.start()
    waker.join(timeout=5)
    assert not waker.is_alive(), "wake_all held its lock while calling a wake"
    assert calls == [1] and subscriptions.worker is None  # the only subscriber stopped


def test_backoff_doubles_each_pause_up_to_the_cap_and_starts_again_once_connected():
    backoff = Backoff(0.05, 0.3)
    assert [backoff.failed() for _ in range(5)] == [0.05, 0.1, 0.2, 0.3, 0.3]
    backoff.connected()
    assert backoff.failed() == 0.05
    assert backoff.first == 0.05
