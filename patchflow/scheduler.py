"""Run cascades one at a time: the scheduler loop, the `run_now` fast path, parked cascades.

The half of `Runtime` (runtime.py) that takes events off the channel and runs each as a
cascade, kept apart from the services boxes use (sending, storage, the bus, output) so that
each file reads as one thing. `CascadeScheduler` is a base class of `Runtime` only: it reads
the state `Runtime.__init__` sets up (`_receive_channel`, `_queued`, `_busy`, `_worker`,
`_parked`, `clock`, `delivery`, `failure`, …), and `Runtime` calls `_schedule` from `run`.

Three events on the queue are markers, not code: `_wake` makes the scheduler look at idleness
again, `_TIMERS` runs every due timer, `_LOAD` fires every loadbang.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from functools import partial
from typing import TYPE_CHECKING, Any

import trio

from .box import Box
from .context import Event
from .delivery import Abandoned, root
from .errors import RunawayLoop
from .suspend import Parked

if TYPE_CHECKING:
    from .clock import Clock
    from .delivery import Delivery
    from .suspend import CascadeWorker

BATCH = 64  # cascades run back to back before the scheduler lets other tasks in


class StopRun(BaseException):
    """Unwinds the current cascade when strict mode (or missing storage) stops the run.

    A BaseException, so that neither `Box.send` nor user code catching Exception swallows it.
    """


class CascadeScheduler:
    """Take events off the channel and run each as a cascade, depth-first, one at a time."""

    # Set up by Runtime.__init__; declared here for readers and type checkers.
    clock: Clock
    delivery: Delivery
    failure: BaseException | None
    _receive_channel: trio.MemoryReceiveChannel[Event | None]
    _worker: CascadeWorker | None
    _parked: trio.Event | None
    _idle_waiters: list[trio.Event]
    _loadbangs: list[Box]
    _queued: int
    _holds: int
    _busy: bool
    _inline: bool
    _done: bool

    @root
    def run_now(self, box: Box, inlet: int, message: Any) -> bool | Awaitable[None]:
        """Deliver to `box`'s inlet as a cascade in the calling task, if nothing is queued.

        The fast path for messages injected from Python: no task switch. Returns False (and
        does nothing) when the message must be queued instead: a cascade is running or queued.
        Returns True when the cascade is done, or, in a patch that may suspend, an awaitable
        when the cascade suspended: awaiting it finishes the cascade in the calling task (where
        it started: trio's cancel scopes belong to a task), and no other cascade runs until
        then.
        """
        if self._busy or not self._inline or self._queued:
            return False
        self._busy = True
        self.clock.fixed = False  # its time is read when it asks (clock.py)
        worker, suspended = self._worker, False
        try:
            if worker is None:
                delivery = self.delivery
                if delivery.plain:  # `delivery.inject` written out (delivery.py, `root`)
                    delivery.depth = 1
                    delivery.runaways = 0
                    box._accept(inlet, message)
                else:
                    delivery.inject(box, inlet, message)
            else:
                suspended = not worker.start(self._inject, box, inlet, message)
        except BaseException as exc:
            self._contain(exc, box)
            if self.failure is not None:
                self.post(_wake)  # the scheduler ends the run
        finally:
            if not suspended:
                self._busy = False
        if suspended and worker is not None:
            parked = Parked(worker, partial(self._parked_ended, box))
            self._parked = parked.done  # not `parked`: dropped unawaited, it must be freed
            return parked
        return True

    # Not KeyboardInterrupt-protected, as `_cascade` (the worker's frames do not reach the task's).
    @trio.lowlevel.disable_ki_protection
    def _inject(self, box: Box, inlet: int, message: Any) -> None:
        self.delivery.inject(box, inlet, message)

    def _parked_ended(self, box: Box, error: BaseException | None) -> None:
        """The cascade `run_now` left suspended has ended (raising `error`, if not None)."""
        self._parked = None
        self._busy = False
        if error is not None:
            self._contain(error, box)
            if self.failure is not None:
                self.post(_wake)  # the scheduler ends the run

    async def _schedule(self, forever: bool) -> str:
        receive = self._receive_channel
        batch = 0
        while True:
            try:
                event = receive.receive_nowait()
                self._queued -= 1
            except trio.WouldBlock:
                if self._holds == 0:
                    waiters, self._idle_waiters = self._idle_waiters, []
                    for waiter in waiters:
                        waiter.set()
                    if not forever:
                        return "idle"
                event = await receive.receive()
                self._queued -= 1
                batch = 0
            else:
                batch += 1
                if batch >= BATCH:
                    batch = 0
                    await trio.lowlevel.checkpoint()
            if self._parked is not None:  # a cascade run by `run_now` suspended: let it end
                await self._parked.wait()
                if self.failure is not None:
                    return "failed"
            if event is None:
                return "stopped"
            if event is _wake:
                pass  # a look at idleness, or at a failure in a cascade run by `run_now`
            elif event is _TIMERS:
                await self._run_timers()
            elif event is _LOAD:
                await self._run_loadbangs()
            else:
                self.clock.fixed = False  # its time is read when it asks (clock.py)
                if self._worker is None:
                    self._cascade(event)
                else:
                    await self._worker.run(self._cascade, event)
            if self.failure is not None:
                return "failed"

    async def _run_timers(self) -> None:
        """Run every timer due by now, each a cascade at its due time; then re-arm the clock."""
        clock = self.clock
        until = trio.current_time()
        while self.failure is None:
            timer = clock.pop_due(until)
            if timer is None:
                break
            clock.fire_at(timer)
            await self._run_one(timer.event)
        clock.rearm()

    async def _run_loadbangs(self) -> None:
        """Fire each loadbang once, in file order, each a cascade at logical time 0."""
        for box in self._loadbangs:
            if self.failure is not None:
                return
            self.clock.fixed = True  # time stands at 0 until the loadbangs are done
            await self._run_one(box.loadbang)

    async def _run_one(self, event: Event) -> None:
        if self._worker is None:
            self._cascade(event)
        else:
            await self._worker.run(self._cascade, event)

    # Box code is not KeyboardInterrupt-protected, so that Ctrl-C stops a busy box; marked
    # here because in the worker greenlet trio cannot find the task's frame and would protect it.
    @trio.lowlevel.disable_ki_protection
    def _cascade(self, event: Event) -> None:
        self.delivery.depth = 0
        self.delivery.runaways = 0
        self._busy = True
        try:
            event()
        except BaseException as exc:
            self._contain(exc, getattr(event, "__self__", None))
        finally:
            self._busy = False

    def _contain(self, exc: BaseException, box: Box | None) -> None:
        """Report what ended a cascade early; re-raise what must end more than the cascade."""
        if isinstance(exc, StopRun | Abandoned):
            return  # `failure` is set and the scheduler ends the run; or reported already
        if isinstance(exc, SystemExit | KeyboardInterrupt):
            exc = self.code_error(exc)  # from a box that does not convert its own
        if not isinstance(exc, Exception):
            raise exc  # cancellation, the stop of the run (Ctrl-C, SIGTERM), …
        self._report_quietly(None if isinstance(exc, RunawayLoop) else box, exc)

    def _report_quietly(self, box: Box | None, exc: BaseException) -> None:
        with contextlib.suppress(StopRun):  # strict mode: `failure` is set already
            self.report(box, exc)

    def _release(self) -> None:
        self._holds -= 1
        if self._holds == 0 and not self._done:
            self.post(_wake)


def _wake() -> None:
    """A no-op event: makes the scheduler look at idleness again."""


def _TIMERS() -> None:
    """The event "timers are due": the scheduler runs each due timer as a cascade."""


def _LOAD() -> None:
    """The event "the patch has started": the scheduler fires every loadbang."""


def _owned(fn: Callable[[], object], box: Box) -> Event:
    """`fn` as an event of `box`: `_cascade` reports its errors as the box's."""

    def event() -> None:
        fn()

    event.__self__ = box  # type: ignore[attr-defined]
    return event
