"""Run a built graph on trio: one scheduler channel, synchronous depth-first cascades, idleness.

Independent sources (loadbang, timers, stdin lines, messages injected from Python) post
*events* — argument-less callables — on one unbounded trio memory channel. A single scheduler
task takes them one at a time and runs each as a **cascade**: everything the event sends
completes, depth-first, before the next event starts (Pure Data's contract).

A cascade is a chain of plain calls (a box's compiled sender → the next box's `receive` → …,
see delivery.py) with no trio checkpoint or channel hop per wire: a task and channel per box
measured about 50× slower, and awaiting a coroutine per wire about 2× slower than plain calls.
Boxes that must await use `Runtime.wait`; a patch containing a box that may really suspend
runs its cascades in a worker greenlet (`suspend.py`), and no other cascade runs until the
suspended one is done.

The scheduler drains queued events without yielding, and checkpoints every `BATCH` cascades so
that timers, signals and cancellation still get in. The patch is idle when no cascade runs, no
event is queued and nothing holds it open (a pending timer — a `[delay]`, a running `[metro]`
— or an open input); `run` then returns.

Time is the patch's logical clock (clock.py): the loadbangs run at 0, a timer's cascade at its
due time. Two events on the queue stand for several cascades: `_LOAD` fires every loadbang,
`_TIMERS` every timer due, each as a cascade of its own.

Boxes see the runtime through the `PatchContext` protocol (context.py); the runtime knows
nothing of any particular object. The scheduler loop itself is in scheduler.py.
"""

from __future__ import annotations

import math
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from functools import partial
from typing import TYPE_CHECKING, Any

import trio

from .box import Box
from .clock import Clock, Timer
from .context import Event
from .delivery import Delivery, Trace
from .errors import CodeExit, PatchflowError, RunawayLoop, StorageError
from .holds import Hold
from .input import LineReaders
from .reporting import box_label, error_line, print_stderr, print_stdout
from .scheduler import _LOAD, _TIMERS, CascadeScheduler, StopRun, _owned, _wake
from .stopping import is_stop
from .suspend import CascadeWorker, wait

if TYPE_CHECKING:
    from .bus import MqttBus
    from .graph import Graph
    from .storage import PatchStorage

MAX_DEPTH = 1000


class Runtime(CascadeScheduler):
    """The running patch, as boxes see it (`box.patch`): sending, scheduling, storage, output.

    Args:
        graph: the built, wired graph (boxes are used by this runtime only).
        storage_opener: called once, on first use, to open the patch's storage.
        output: receives each `[print]` line (default: standard output, flushed).
        errors: receives each runtime error line (default: standard error).
        stdin: the patch's input lines (`read_lines`; default: the process's standard input).
        strict: stop the run at the first runtime error.
        trace: receives a line for every delivery (`run --trace`); None: no tracing, no cost.
    """

    def __init__(
        self,
        graph: Graph,
        *,
        storage_opener: Callable[[], PatchStorage] | None = None,
        output: Callable[[str], None] | None = None,
        errors: Callable[[str], None] | None = None,
        stdin: AsyncIterator[str] | None = None,
        strict: bool = False,
        max_depth: int = MAX_DEPTH,
        trace: Trace | None = None,
        bus: MqttBus | None = None,
    ) -> None:
        self.graph = graph
        self._bus = bus  # bus.py: [send]/[receive] across processes, [mqtt-in]/[mqtt-out]
        self.patch_id = graph.patch_id
        self.file = graph.file
        self.strict = strict
        self.max_depth = max_depth
        self.error_count = 0
        self.failure: BaseException | None = None
        self.output_error: OSError | None = None  # the output could not be written: run ended
        self._output = output or print_stdout
        self._errors = errors or print_stderr
        self._input = LineReaders(self, stdin)
        self._storage_opener = storage_opener
        self._storage: PatchStorage | None = None
        self._send_channel, self._receive_channel = trio.open_memory_channel[Event | None](math.inf)
        self._holds = 0
        self._busy = False  # a cascade is running
        self._running = False
        self._inline = False  # injected messages may run in the caller's task (run_now)
        self._nursery: trio.Nursery | None = None
        self._queued = 0  # events in the channel (statistics() allocates; this is read often)
        self._idle_waiters: list[trio.Event] = []
        self._done = False
        suspends = any(box.may_suspend for box in graph.boxes.values())
        self._worker = CascadeWorker() if suspends else None
        self._parked: trio.Event | None = None  # set when a suspended `run_now` cascade ends
        self._loadbangs: list[Box] = []
        self.clock = Clock(self, self.post, _TIMERS)
        self.delivery = Delivery(self.report, max_depth, trace)
        self.delivery.wire(graph.boxes, graph.wires)
        for box in graph.boxes.values():
            box.patch = self

    # -- what boxes use ---------------------------------------------------------------------

    def print_line(self, text: str) -> None:
        """Write one line of program output (what `[print]` produces).

        Output that cannot be written ends the run, since nothing the patch prints can arrive
        any more: quietly when the reader went away (a closed pipe, `patchflow run p | head`),
        with one error line otherwise (a full disk). `failure` holds the OSError.
        """
        try:
            self._output(text)
        except OSError as exc:
            self._output_failed(exc)

    def post(self, event: Event, box: Box | None = None) -> None:
        """Queue `event` to run as its own cascade after those already queued.

        An error it raises is reported as `box`'s; a bound method of a box is that box's.
        """
        if box is not None and getattr(event, "__self__", None) is not box:
            event = _owned(event, box)
        self._queued += 1
        self._send_channel.send_nowait(event)

    def hold(self) -> Hold:
        """Keep the patch from being idle until the returned Hold is released."""
        return Hold(self)

    def now(self) -> float:
        """The running cascade's logical time, in milliseconds since the run started."""
        return self.clock.current()

    def call_later(self, ms: float, event: Event, box: Box | None = None) -> Timer:
        """Run `event` as a cascade of its own `ms` logical milliseconds from now (clock.py).

        Timers due at the same logical time run in the order they were set; the returned
        Timer's `cancel()` keeps it from running. An error it raises is reported as `box`'s.
        """
        if box is not None and getattr(event, "__self__", None) is not box:
            event = _owned(event, box)
        return self.clock.call_later(ms, event, box)

    def start_soon(self, fn: Callable[..., Awaitable[Any]], *args: Any) -> None:
        """Run a background task (a timer) for as long as the patch runs."""
        if self._nursery is None:
            raise PatchflowError("the patch is not running")
        self._nursery.start_soon(fn, *args)

    def wait(self, awaitable: Awaitable[Any]) -> Any:
        """Return the result of `awaitable` from inside a cascade (storage calls, `[py]` code).

        It suspends the cascade only if the awaitable really suspends, which needs a box with
        `may_suspend = True` in the patch; otherwise it raises SuspendError.
        """
        try:
            return wait(awaitable, self._worker)
        except (SystemExit, KeyboardInterrupt) as exc:
            raise self.code_error(exc) from None

    def code_error(self, exc: BaseException) -> BaseException:
        """What to raise for SystemExit or KeyboardInterrupt escaping a box's code.

        `sys.exit()`, `exit()` or `raise KeyboardInterrupt` in `[py]`/`[expr]` code is that
        box's error (reported, the run goes on), so the code's own exception becomes a
        CodeExit, with the code's traceback (the reported line is the code's). A
        KeyboardInterrupt that is the stop of the run (Ctrl-C, SIGTERM) is returned as is.
        """
        if isinstance(exc, KeyboardInterrupt) and is_stop(exc):
            return exc
        return CodeExit.from_exception(exc).with_traceback(exc.__traceback__)

    def subscribe(self, name: str, box: Box, handler: Callable[[Any], None]) -> None:
        """Call `handler(message)` for what `[send name]` sends, as a delivery to `box`."""
        self.delivery.subscribe(name, box, handler)
        if self._bus is not None:
            self._bus.subscribe_name(name)

    def unsubscribe(self, name: str, box: Box) -> None:
        self.delivery.unsubscribe(name, box)
        if self._bus is not None:
            self._bus.unsubscribe_name(name)

    def publish(self, name: str, message: Any, *, retain: bool = False) -> None:
        """Deliver `message` to every subscriber of `name`, depth-first, in order.

        With a bus, publish it to the broker first (`retain`: kept there for late subscribers).
        """
        if self._bus is not None:
            self._bus.publish_name(name, message, retain)
        self.delivery.publish(name, message)

    @property
    def bus(self) -> MqttBus:
        """The run's MQTT bus (`--bus URL`), for `[mqtt-in]`/`[mqtt-out]`."""
        if self._bus is None:
            raise PatchflowError(
                "needs a bus: run with --bus mqtt://HOST[:PORT][/PREFIX] (or set $PATCHFLOW_BUS)"
            )
        return self._bus

    def read_lines(self, box: Box, line: Callable[[str], None], end: Event) -> None:
        """Call `line(text)` per input line, then `end()`, each a cascade (see context.py)."""
        self._input.add(box, line, end)

    def inject(self, box: Box, inlet: int, message: Any) -> None:
        """Queue `message` for `box`'s inlet as a cascade of its own (from Python)."""
        self.post(partial(self.delivery.inject, box, inlet, message), box)

    @property
    def storage(self) -> PatchStorage:
        """The patch's storage, opened on first use (so patches without storage touch no disk)."""
        if self._storage is None:
            if self._storage_opener is None:
                raise PatchflowError("this patch was run without storage")
            try:
                self._storage = self._storage_opener()
            except StorageError as exc:
                # Without its storage the patch cannot do what it is for: stop the run (exit 1).
                self._errors(f"{self.file}: {exc}")
                self.failure = exc
                raise StopRun(str(exc)) from exc
        return self._storage

    def report(self, box: Box | None, exc: BaseException) -> None:
        """Report a runtime error with the box's id, class and line; stop if strict."""
        self.error_count += 1
        if isinstance(exc, RunawayLoop):
            line = self._runaway_line(exc)
        else:
            line = error_line(self.file, box, exc)
        self._errors(line)
        if self.strict:
            if self.failure is None:
                self.failure = exc
            raise StopRun(line) from exc

    def _runaway_line(self, loop: RunawayLoop) -> str:
        """`FILE:LINE:COLUMN: runaway loop a → b → a: …`, at the first box of the loop."""
        first = self.graph.boxes.get(loop.first_box() or "")
        where = f"{self.file}:{first.line}:{first.column}" if first else self.file
        return f"{where}: {loop.describe()}"

    def _output_failed(self, exc: OSError) -> None:
        if self.output_error is None:
            self.output_error = exc
            if self.failure is None:
                self.failure = exc
            if not isinstance(exc, BrokenPipeError):
                self._errors(f"{self.file}: cannot write the output: {exc.strerror or exc}")
        raise StopRun(str(exc)) from exc

    # -- running ----------------------------------------------------------------------------

    async def run(self, *, forever: bool = False, timeout: float | None = None) -> str:
        """Fire loadbangs, run cascades until idle (or timeout); return why it stopped.

        Returns "idle", "timeout", "stopped" or "failed": the run could not go on (a strict
        mode error, storage that cannot be opened, output that cannot be written; see
        `failure`). Ctrl-C (and SIGTERM under `stopping.stop_on_signals`) raises
        KeyboardInterrupt, also out of a busy box, after the boxes are stopped and storage
        is closed.
        """
        reason = "stopped"
        # Each delivery nests a few Python frames (send → receive → send); make sure the
        # runaway-loop guard, not Python's recursion limit, is what stops a feedback loop.
        sys.setrecursionlimit(max(sys.getrecursionlimit(), self.max_depth * 8 + 1000))
        if self._bus is not None and not self._open_bus():
            return "failed"
        try:
            async with trio.open_nursery() as nursery:
                self._nursery = nursery
                self.clock.start()
                nursery.start_soon(self.clock.run)
                self._start_boxes()
                if self._bus is not None:  # receivers are subscribed before the loadbangs
                    await trio.to_thread.run_sync(self._bus.wait_subscribed)
                self._running = True
                self._inline = True
                with trio.move_on_after(math.inf if timeout is None else timeout) as scope:
                    reason = await self._schedule(forever)
                if scope.cancelled_caught:
                    reason = "timeout"
                nursery.cancel_scope.cancel()
        finally:
            self._finish()
        return reason

    @trio.lowlevel.enable_ki_protection
    def _finish(self) -> None:
        """Stop the boxes and close storage; a Ctrl-C arriving meanwhile waits until after."""
        self._done = True
        self._running = False
        self._inline = False
        self._nursery = None
        for box in self.graph.boxes.values():
            try:
                box.stop()
            except Exception as exc:  # a failing stop must not hide the others
                self._errors(f"{self.file}:{box.line} [{box_label(box)}]: stop: {exc}")
        for waiter in self._idle_waiters:
            waiter.set()
        if self._bus is not None:
            self._bus.close()  # hands pending publications to the broker (up to 5 s)
        self.close_storage()

    def _open_bus(self) -> bool:
        """Connect the bus; on failure report it (naming the URL, no password) and say False."""
        from .bus import BusError, BusLink

        assert self._bus is not None
        link = BusLink(
            post=self.post,
            hold=self.hold,
            deliver=self.delivery.publish,
            errors=self._errors,
            token=trio.lowlevel.current_trio_token(),
        )
        try:
            self._bus.open(link)
        except BusError as exc:
            self._errors(f"{self.file}: {exc}")
            self.failure = exc
            return False
        return True

    def stop(self) -> None:
        """End the run (after the cascades already queued), from a box or from Python."""
        if not self._done:
            self.post(None)  # type: ignore[arg-type]

    async def wait_idle(self) -> None:
        """Wait until the patch is idle (or has stopped)."""
        if self._done:
            return
        waiter = trio.Event()
        self._idle_waiters.append(waiter)
        self.post(_wake)
        await waiter.wait()

    def close_storage(self) -> None:
        if self._storage is not None:
            self._storage.close()
            self._storage = None

    def _start_boxes(self) -> None:
        for box in self.graph.boxes.values():
            try:
                box.start()
            except PatchflowError as exc:  # e.g. [mqtt-in] without a bus: the run cannot go on
                self._errors(error_line(self.file, box, exc))
                if self.failure is None:
                    self.failure = exc
                self.post(_wake)  # the scheduler ends the run
        boxes = self.graph.boxes.values()
        self._loadbangs = [box for box in boxes if type(box).overrides("loadbang")]
        if self._loadbangs:
            self.post(_LOAD)
