"""Time: objects that send later (`delay`) or again and again (`metro`), as Pd's x_time.c.

The timers of one running patch share one clock task. It sleeps (in a trio CancelScope whose
deadline is the earliest timer) and then fires every due timer in order of due time, and of
setting for equal times — Pd's scheduler rule. A task per timer would be simpler, but trio
wakes tasks due at the same moment in a random order, so a `[delay 300]` that stops a
`[metro 100]` would let the tick at 300 through on some runs and not on others.

Firing a timer only posts a cascade on the patch's queue: the cascades run one at a time, in
the order the timers fired. Ticks are scheduled from a start time (`start + k * interval`),
so they do not drift however long the cascades take.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable
from functools import partial
from itertools import count
from typing import Any
from weakref import WeakKeyDictionary

import trio

from patchflow import BANG, ArgumentError, Box, Hold, is_bang, message_type

from .math import is_number, parse_number

# -- the patch clock --------------------------------------------------------------------------


class Timer:
    """A callback due at a trio time; `cancel()` keeps it from firing."""

    __slots__ = ("callback", "cancelled", "due")

    def __init__(self, due: float, callback: Callable[[], None]) -> None:
        self.due = due
        self.callback = callback
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class Clock:
    """One patch's timers, fired in (due time, order set) order by one background task."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, Timer]] = []
        self._order = count()
        self._scope: trio.CancelScope | None = None

    def call_at(self, due: float, callback: Callable[[], None]) -> Timer:
        """Call `callback` (synchronously, from the clock task) once trio's clock reaches `due`."""
        timer = Timer(due, callback)
        heapq.heappush(self._heap, (due, next(self._order), timer))
        if self._scope is not None and due < self._scope.deadline:
            self._scope.deadline = due  # wake the clock earlier
        return timer

    async def run(self) -> None:
        heap = self._heap
        while True:
            with trio.CancelScope(deadline=heap[0][0] if heap else math.inf) as self._scope:
                await trio.sleep_forever()
            self._scope = None
            now = trio.current_time()
            while heap and heap[0][0] <= now:
                timer = heapq.heappop(heap)[2]
                if not timer.cancelled:
                    timer.cancelled = True  # fired: cancelling it later does nothing
                    timer.callback()


_clocks: WeakKeyDictionary[Any, Clock] = WeakKeyDictionary()


def clock_of(patch: Any) -> Clock:
    """The clock of a running patch, started on first use."""
    clock = _clocks.get(patch)
    if clock is None:
        clock = _clocks[patch] = Clock()
        patch.start_soon(clock.run)
    return clock


def _event(box: Box, fn: Callable[[], None]) -> Callable[[], None]:
    """Mark a posted event as the box's, so the runtime names the box if it fails."""
    fn.__self__ = box  # type: ignore[attr-defined]
    return fn


def _milliseconds(args: str, default: float, example: str, *, zero: bool) -> float:
    """The interval argument in milliseconds; ArgumentError shows the right form otherwise."""
    text = args.strip()
    if not text:
        return default
    number = parse_number(text)
    if number is None or not _good_interval(number, zero=zero):
        least = "≥ 0" if zero else "> 0"
        raise ArgumentError(
            f"expected a time in milliseconds ({least}), got {text!r}; e.g. {example}"
        )
    return float(number)


def _good_interval(value: Any, *, zero: bool) -> bool:
    return is_number(value) and math.isfinite(value) and (value >= 0 if zero else value > 0)


# -- delay ------------------------------------------------------------------------------------


class _Later:
    """One message waiting in a `[delay]`."""

    __slots__ = ("due", "hold", "order", "timer", "value")

    def __init__(self, value: Any, due: float, order: int, hold: Hold) -> None:
        self.value = value
        self.due = due
        self.order = order
        self.hold = hold
        self.timer: Timer | None = None


class Delay(Box):
    """Send each message again after a time; several may be waiting at once.

    Each message on inlet 0 (a bang too) is sent unchanged `ms` milliseconds later, as its own
    cascade. Messages due at the same time go out in the order they arrived; timers of all
    `[delay]` and `[metro]` boxes due at the same time fire in the order they were set. A
    pending message keeps the patch from being idle. A new `ms` applies to messages that
    arrive afterwards, not to those already waiting.

    Arguments:
        ms: the delay in milliseconds, ≥ 0 (default 1000)

    Inlets:
        0: any message (a bang too): send it after `ms`
        1: a number sets `ms`; `clear` (or {type: "clear"}) drops every pending message;
           `flush` (or {type: "flush"}) sends every pending message now, in the order they
           were due

    Outlets:
        0: the delayed messages

    Example:
        [loadbang] -> [msg hello] -> [delay 500] -> [print later]
    """

    name = "delay"

    def __init__(self, ms: float = 1000.0) -> None:
        super().__init__(inlets=2, outlets=1)
        self.ms = ms
        self._pending: dict[int, _Later] = {}  # by order of arrival
        self._order = count()

    @classmethod
    def from_text(cls, args: str, body: str | None = None) -> Delay:
        return cls(_milliseconds(args, 1000.0, "[delay 250]", zero=True))

    def receive(self, inlet: int, message: Any) -> None:
        if inlet == 0:
            self._schedule(message)
        elif _good_interval(message, zero=True):
            self.ms = float(message)
        elif message == "clear" or message_type(message) == "clear":
            self._drop_pending()
        elif message == "flush" or message_type(message) == "flush":
            for later in self._drop_pending():
                self.send(later.value)
        else:
            raise self.reject(inlet, message, "a time in milliseconds (≥ 0), clear or flush")

    def stop(self) -> None:
        self._drop_pending()

    def _schedule(self, value: Any) -> None:
        later = _Later(
            value, trio.current_time() + self.ms / 1000, next(self._order), self.patch.hold()
        )
        later.timer = clock_of(self.patch).call_at(later.due, partial(self._due, later))
        self._pending[later.order] = later

    def _due(self, later: _Later) -> None:
        """The clock fired: queue the cascade that sends the message, then let go of the patch."""

        def send_later() -> None:
            if self._pending.pop(later.order, None) is not None:  # not cleared or flushed since
                self.send(later.value)

        self.patch.post(_event(self, send_later))
        later.hold.release()

    def _drop_pending(self) -> list[_Later]:
        """Forget every pending message; return them in the order they were due."""
        dropped = sorted(self._pending.values(), key=lambda later: (later.due, later.order))
        self._pending.clear()
        for later in dropped:
            if later.timer is not None:
                later.timer.cancel()
            later.hold.release()
        return dropped


# -- metro ------------------------------------------------------------------------------------


class Metro(Box):
    """Send a bang every `ms` milliseconds while switched on, the first at once.

    Switching on sends the first bang at once, inside the cascade that switched it on (as in
    Pd); the next ones follow every `ms` as cascades of their own, timed from the start so
    they do not drift. Switching on a running metro restarts it. A new `ms` applies from the
    tick after the next one (the tick already scheduled keeps its time). If the patch is too
    busy to run a tick before the next is due, the late tick is dropped rather than queued.
    A running metro keeps the patch from being idle.

    Arguments:
        ms: the interval in milliseconds, > 0 (default 1000)

    Inlets:
        0: a bang, `start`, true or a non-zero number switches on (restarts);
           `stop`, false or 0 switches off
        1: a number (> 0) sets `ms`

    Outlets:
        0: a bang on each tick

    Example:
        clock = [metro 100]
        [loadbang] -> clock -> [print tick]
        [loadbang] -> [delay 350] -> [msg stop] -> clock
    """

    name = "metro"

    def __init__(self, ms: float = 1000.0) -> None:
        super().__init__(inlets=2, outlets=1)
        self.ms = ms
        self._run = 0  # counts starts and stops: a tick of an earlier run is ignored
        self._hold: Hold | None = None
        self._timer: Timer | None = None
        self._queued: int | None = None  # the run whose tick is waiting in the patch queue
        self._anchor = 0.0  # ticks are due at _anchor + k * _period
        self._period = 0.0
        self._ticks = 0

    @classmethod
    def from_text(cls, args: str, body: str | None = None) -> Metro:
        return cls(_milliseconds(args, 1000.0, "[metro 250]", zero=False))

    def receive(self, inlet: int, message: Any) -> None:
        if inlet == 1:
            if not _good_interval(message, zero=False):
                raise self.reject(inlet, message, "an interval in milliseconds (> 0)")
            self.ms = float(message)
            return
        switch = _switch(message)
        if switch is None:
            raise self.reject(
                inlet, message, "a bang, start, stop, true/false or a number (0 stops)"
            )
        if switch:
            self._start()
        else:
            self._halt()

    def stop(self) -> None:
        self._halt()

    def _start(self) -> None:
        self._halt()
        self._run += 1
        self._hold = self.patch.hold()
        self._anchor, self._period, self._ticks = trio.current_time(), self.ms / 1000, 0
        self._schedule_next()  # before the first bang, whose cascade may stop the metro
        self.send(BANG)

    def _halt(self) -> None:
        if self._hold is None:
            return
        self._run += 1
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._hold.release()
        self._hold = None

    def _schedule_next(self) -> None:
        period = self.ms / 1000
        if period != self._period:  # a new interval counts from the tick just due
            self._anchor += self._ticks * self._period
            self._period, self._ticks = period, 0
        self._ticks += 1
        due = self._anchor + self._ticks * period
        now = trio.current_time()
        if due <= now:  # fell behind: skip to the next tick in the future, on the same grid
            self._ticks = math.floor((now - self._anchor) / period) + 1
            due = self._anchor + self._ticks * period
        self._timer = clock_of(self.patch).call_at(due, partial(self._due, self._run))

    def _due(self, run: int) -> None:
        if run != self._run:
            return
        if self._queued != run:  # else the previous tick has not run yet: drop this one
            self._queued = run
            self.patch.post(_event(self, partial(self._tick, run)))
        self._schedule_next()

    def _tick(self, run: int) -> None:
        if self._queued == run:
            self._queued = None
        if run == self._run:
            self.send(BANG)


def _switch(message: Any) -> bool | None:
    """What a message to metro's inlet 0 asks: True on, False off, None not understood."""
    if message is True or message is False:
        return message
    if is_number(message):
        return message != 0
    if is_bang(message):
        return True
    word = message if isinstance(message, str) else message_type(message)
    return {"start": True, "stop": False}.get(word) if word else None


BOXES = (Delay, Metro)
