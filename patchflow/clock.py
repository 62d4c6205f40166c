"""The patch's logical clock, as Pd keeps one: time advances by the scheduled amounts.

A timer is due at a *logical* time, in milliseconds since the run started: the logical time
at which it was set plus its delay. Timers fire in order of (due time, order set), so two
timers due at the same logical time fire in the order they were set, whatever the machine's
clock does: `[delay 300]` set at 0 and the tick a `[metro 100]` sets at 200 are both due at
300, and the delay, set first, fires first — on every run, on the real clock too. (With
wall-clock deadlines, the metro's deadline came out microseconds earlier than the delay's on
some runs, and a stopped metro ticked once more.)

**The time a cascade sees** (`Clock.current`, `PatchContext.now`):

- a cascade run by a timer: the timer's due time, exactly;
- a loadbang: 0;
- any other cascade (a line of input, a message from Python, an event a box posted): the real
  time since the start, but never past the earliest timer still pending (a timer not yet run
  is logically in the future), and never earlier than the time already seen. It is read when
  the cascade first asks, and stays the same for the rest of the cascade.

So logical time never goes back, and when the patch is late (a cascade ran long) it lags the
real clock, as Pd's does; timers then run as soon as they can, each at its own due time.

**Firing.** The timers sit in one heap; one trio task (`Clock.run`) sleeps until the earliest
is due on trio's clock (`origin + due / 1000`), then posts one "timers due" event on the
patch's queue. The scheduler runs it (`Runtime`) by popping, one cascade each, every timer due
by the time it started — timers those cascades set for the same moment (`[delay 0]`) too —
and then re-arms the task. A pending timer keeps the patch from being idle.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable
from itertools import count
from typing import TYPE_CHECKING, Any

import trio

from .holds import Hold, Holder

if TYPE_CHECKING:
    from .box import Box


class Timer:
    """A cascade due at a logical time; `cancel()` keeps it from running (safe to repeat)."""

    __slots__ = ("box", "due", "event", "hold", "pending")

    def __init__(self, due: float, event: Callable[[], object], box: Box | None, hold: Hold):
        self.due = due  # logical milliseconds since the run started
        self.event = event
        self.box = box
        self.hold = hold
        self.pending = True

    def cancel(self) -> None:
        if self.pending:
            self.pending = False
            self.hold.release()

    def __repr__(self) -> str:
        state = "pending" if self.pending else "done"
        return f"<Timer due {self.due} ms, {state}>"


class Clock:
    """One run's logical time and timers (see the module docstring).

    Args:
        holder: what pending timers hold open (the runtime).
        post: queues the "timers due" event on the patch's queue.
        due_event: the event to post.
    """

    def __init__(self, holder: Holder, post: Callable[[Any], None], due_event: Any) -> None:
        self._heap: list[tuple[float, int, Timer]] = []
        self._order = count()
        self._holder = holder
        self._post = post
        self._due_event = due_event
        self._posted = False  # a "timers due" event is in the queue
        self._scope: trio.CancelScope | None = None
        self.origin = 0.0  # trio's time at logical 0
        self.now = 0.0  # the latest logical time a cascade saw
        self.fixed = True  # `now` is the running cascade's time (else read it when asked)

    def start(self) -> None:
        """Logical time 0 is now (on trio's clock); the loadbangs run at 0."""
        self.origin = trio.current_time()
        self.now, self.fixed = 0.0, True

    def deadline(self, due: float) -> float:
        """The trio time at which logical time `due` comes (the one conversion: exact ties)."""
        return self.origin + due / 1000.0

    def current(self) -> float:
        """The logical time of the running cascade, in ms since the start (see module doc)."""
        if self.fixed:
            return self.now
        real = (trio.current_time() - self.origin) * 1000.0
        first = self._first()
        if first is not None and first.due < real:
            real = first.due
        if real > self.now:
            self.now = real
        self.fixed = True
        return self.now

    def call_later(self, ms: float, event: Callable[[], object], box: Box | None) -> Timer:
        """Run `event` as a cascade of its own `ms` logical milliseconds from now."""
        if not ms >= 0:  # also NaN
            raise ValueError(f"a timer needs a delay of 0 ms or more, not {ms!r}")
        timer = Timer(self.current() + ms, event, box, Hold(self._holder))
        heapq.heappush(self._heap, (timer.due, next(self._order), timer))
        scope = self._scope
        if scope is not None and not self._posted:
            deadline = self.deadline(timer.due)
            if deadline < scope.deadline:
                scope.deadline = deadline  # wake the clock task earlier
        return timer

    def fire_at(self, timer: Timer) -> None:
        """Make `timer`'s due time the running cascade's time (it is about to run)."""
        if timer.due > self.now:
            self.now = timer.due
        self.fixed = True

    def pop_due(self, until: float) -> Timer | None:
        """The next pending timer due by trio time `until`, taken off the heap; else None."""
        first = self._first()
        if first is None or self.deadline(first.due) > until:
            return None
        heapq.heappop(self._heap)
        first.pending = False
        first.hold.release()
        return first

    def rearm(self) -> None:
        """After the due timers ran: post again if more are due, else let the task sleep."""
        self._posted = False
        first = self._first()
        if first is None:
            deadline = math.inf
        else:
            deadline = self.deadline(first.due)
            if deadline <= trio.current_time():
                self._posted = True
                self._post(self._due_event)
                deadline = math.inf
        if self._scope is not None:
            self._scope.deadline = deadline

    async def run(self) -> None:
        """The clock task: sleep until the earliest timer is due, then post the due event."""
        while True:
            first = None if self._posted else self._first()
            deadline = math.inf if first is None else self.deadline(first.due)
            with trio.CancelScope(deadline=deadline) as self._scope:
                await trio.sleep_forever()
            self._scope = None
            first = self._first()
            if (
                not self._posted
                and first is not None
                and self.deadline(first.due) <= trio.current_time()
            ):
                self._posted = True
                self._post(self._due_event)

    def _first(self) -> Timer | None:
        """The earliest pending timer (cancelled ones are dropped from the top)."""
        heap = self._heap
        while heap:
            timer = heap[0][2]
            if timer.pending:
                return timer
            heapq.heappop(heap)
        return None
