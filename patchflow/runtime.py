"""Run a built graph on trio: one scheduler channel, synchronous depth-first cascades, idleness.

Independent sources (loadbang, timers, stdin lines, messages injected from Python) post
*events* — argument-less callables — on one unbounded trio memory channel. A single scheduler
task takes them one at a time and runs each as a **cascade**: everything the event sends
completes, depth-first, before the next event starts (Pure Data's contract).

A cascade is a chain of plain calls (`Box.send` → `Box.receive` → …) with no trio checkpoint or
channel hop per wire: a task and channel per box measured about 50× slower, and awaiting a
coroutine per wire about 2× slower than plain calls. Boxes that must await use
`Runtime.wait`; a patch containing a box that may really suspend runs its cascades in a worker
greenlet (`suspend.py`), and no other cascade runs until the suspended one is done.

The scheduler drains queued events without yielding, and checkpoints every `BATCH` cascades so
that timers, signals and cancellation still get in. The patch is idle when no cascade runs, no
event is queued and nothing holds it open (a pending `[delay]`, a running `[metro]`, an open
`[stdin]`); `run` then returns.
"""

from __future__ import annotations

import contextlib
import math
import sys
import traceback
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, Any

import trio

from .box import Box
from .errors import CodeExit, PatchflowError, RunawayLoop, StorageError
from .stopping import is_stop
from .suspend import CascadeWorker, wait

if TYPE_CHECKING:
    from .graph import Graph
    from .storage import PatchStorage

Event = Callable[[], object]
MAX_DEPTH = 1000
BATCH = 64  # cascades run back to back before the scheduler lets other tasks in


class Hold:
    """A reason the patch is not idle (pending delay, running metro, open stdin)."""

    __slots__ = ("_released", "_runtime")

    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime
        self._released = False
        runtime._holds += 1

    def release(self) -> None:
        """Let the patch become idle again; safe to call more than once."""
        if not self._released:
            self._released = True
            self._runtime._release()

    def __enter__(self) -> Hold:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


class StopRun(BaseException):
    """Unwinds the current cascade when strict mode (or missing storage) stops the run.

    A BaseException, so that neither `Box.send` nor user code catching Exception swallows it.
    """


class _Source(Box):
    """The sender of messages that come from outside any box (Python, the bus)."""

    name = "<source>"

    def __init__(self, runtime: Runtime, target: Box, inlet: int) -> None:
        super().__init__(inlets=0, outlets=1)
        self.patch = runtime
        self._wires = [((target, inlet),)]


class Runtime:
    """The running patch, as boxes see it (`box.patch`): sending, scheduling, storage, output.

    Args:
        graph: the built, wired graph (boxes are used by this runtime only).
        storage_opener: called once, on first use, to open the patch's storage.
        output: receives each `[print]` line (default: standard output, flushed).
        errors: receives each runtime error line (default: standard error).
        stdin: the lines `[stdin]` reads (default: the process's standard input).
        strict: stop the run at the first runtime error.
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
    ) -> None:
        self.graph = graph
        self.patch_id = graph.patch_id
        self.file = graph.file
        self.strict = strict
        self.max_depth = max_depth
        self.depth = 0  # deliveries deep in the current cascade (read by Box.send)
        self.error_count = 0
        self.failure: BaseException | None = None
        self.output_error: OSError | None = None  # the output could not be written: run ended
        self._output = output or _print_stdout
        self._errors = errors or _print_stderr
        self._stdin = stdin
        self._storage_opener = storage_opener
        self._storage: PatchStorage | None = None
        self._send_channel, self._receive_channel = trio.open_memory_channel[Event | None](math.inf)
        self._holds = 0
        self._busy = False  # a cascade is running
        self._running = False
        self._inline = False  # injected messages may run in the caller's task (run_now)
        self._nursery: trio.Nursery | None = None
        self._subscribers: dict[str, list[Box]] = defaultdict(list)
        self._sources: dict[tuple[int, int], Box] = {}
        self._queued = 0  # events in the channel (statistics() allocates; this is read often)
        self._stdin_boxes: list[Box] = []
        self._idle_waiters: list[trio.Event] = []
        self._done = False
        suspends = any(box.may_suspend for box in graph.boxes.values())
        self._worker = CascadeWorker() if suspends else None
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

    def post(self, event: Event) -> None:
        """Queue `event` to run as its own cascade after those already queued."""
        self._queued += 1
        self._send_channel.send_nowait(event)

    def hold(self) -> Hold:
        """Keep the patch from being idle until the returned Hold is released."""
        return Hold(self)

    def start_soon(self, fn: Callable[..., Awaitable[Any]], *args: Any) -> None:
        """Run a background task (a timer) for as long as the patch runs."""
        if self._nursery is None:
            raise PatchflowError("the patch is not running")
        self._nursery.start_soon(fn, *args)

    def wait(self, awaitable: Awaitable[Any]) -> Any:
        """Return the result of `awaitable` from inside a cascade (storage calls, `[py]` code).

        It suspends the cascade only if the awaitable really suspends, which needs a box class
        with `may_suspend = True` in the patch; otherwise it raises SuspendError.
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

    def subscribe(self, name: str, box: Box) -> None:
        """Make `box` receive (on inlet 0) what `[send name]` sends, in subscription order."""
        self._subscribers[name].append(box)

    def unsubscribe(self, name: str, box: Box) -> None:
        subscribers = self._subscribers.get(name)
        if subscribers and box in subscribers:
            subscribers.remove(box)

    def publish(self, name: str, message: Any) -> None:
        """Deliver `message` to every subscriber of `name`, depth-first, in order."""
        for box in tuple(self._subscribers.get(name, ())):
            self.deliver(box, 0, message)

    def deliver(self, target: Box, inlet: int, message: Any) -> None:
        """Deliver one message to one inlet, with the same accounting as a wire."""
        self.source(target, inlet).send(message)

    def source(self, target: Box, inlet: int) -> Box:
        """A sender wired only to `target`'s `inlet` (kept, so injecting allocates nothing)."""
        key = (id(target), inlet)  # the cache keeps `target` alive, so its id stays its own
        source = self._sources.get(key)
        if source is None:
            source = self._sources[key] = _Source(self, target, inlet)
        return source

    def read_stdin(self, box: Box) -> None:
        """Register a `[stdin]` box: each input line goes to its `line_in(text)`, then `end()`."""
        self._stdin_boxes.append(box)

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
        elif box is None:
            line = f"{self.file}: {_exception_text(exc)}"
        else:
            at = box.error_line(exc)
            line = f"{self.file}:{at} [{_box_label(box)}]: {_exception_text(exc)}"
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
        try:
            async with trio.open_nursery() as nursery:
                self._nursery = nursery
                self._start_boxes()
                self._running = True
                self._inline = self._worker is None
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
                self._errors(f"{self.file}:{box.line} [{_box_label(box)}]: stop: {exc}")
        for waiter in self._idle_waiters:
            waiter.set()
        self.close_storage()

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

    def run_now(self, receive: Callable[[int, Any], object], inlet: int, message: Any) -> bool:
        """Deliver to a box's `receive` as a cascade in the calling task, if nothing is queued.

        The fast path for messages injected from Python: no task switch. Returns False (and
        does nothing) when the message must be queued instead: a cascade is running or queued,
        or the patch runs its cascades in a worker (it has a box that may suspend).
        """
        if self._busy or not self._inline or self._queued:
            return False
        self.depth = 0
        self._busy = True
        try:
            receive(inlet, message)
        except BaseException as exc:
            self._contain(exc, getattr(receive, "__self__", None))
            if self.failure is not None:
                self.post(_wake)  # the scheduler ends the run
        finally:
            self._busy = False
        return True

    def close_storage(self) -> None:
        if self._storage is not None:
            self._storage.close()
            self._storage = None

    def _start_boxes(self) -> None:
        for box in self.graph.boxes.values():
            box.start()
        for box in self.graph.boxes.values():
            fire = getattr(box, "loadbang", None)
            if fire is not None:
                self.post(fire)
        if self._stdin_boxes:
            hold = self.hold()
            self.start_soon(self._read_stdin, hold)

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
            if event is None:
                return "stopped"
            if event is _wake:
                pass  # a look at idleness, or at a failure in a cascade run by `run_now`
            elif self._worker is None:
                self._cascade(event)
            else:
                await self._worker.run(self._cascade, event)
            if self.failure is not None:
                return "failed"

    # Box code is not KeyboardInterrupt-protected, so that Ctrl-C stops a busy box; marked
    # here because in the worker greenlet trio cannot find the task's frame and would protect it.
    @trio.lowlevel.disable_ki_protection
    def _cascade(self, event: Event) -> None:
        self.depth = 0
        self._busy = True
        try:
            event()
        except BaseException as exc:
            self._contain(exc, getattr(event, "__self__", None))
        finally:
            self._busy = False

    def _contain(self, exc: BaseException, box: Box | None) -> None:
        """Report what ended a cascade early; re-raise what must end more than the cascade."""
        if isinstance(exc, StopRun):
            return  # `failure` is set and the scheduler ends the run
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

    async def _read_stdin(self, hold: Hold) -> None:
        lines = self._stdin if self._stdin is not None else _process_stdin()
        try:
            async for line in lines:
                text = line.rstrip("\r\n")
                for box in self._stdin_boxes:
                    self.post(_bound(box.line_in, text))  # type: ignore[attr-defined]
            for box in self._stdin_boxes:
                self.post(box.end_of_input)  # type: ignore[attr-defined]
        finally:
            hold.release()


def _wake() -> None:
    """A no-op event: makes the scheduler look at idleness again."""


def _bound(fn: Callable[[Any], object], arg: Any) -> Event:
    def event() -> None:
        fn(arg)

    event.__self__ = getattr(fn, "__self__", None)  # type: ignore[attr-defined]
    return event


async def _process_stdin() -> AsyncIterator[str]:
    stream = trio.wrap_file(sys.stdin)
    while True:
        line = await stream.readline()
        if not line:
            return
        yield line


def _box_label(box: Box) -> str:
    cls = box.text.split(maxsplit=1)[0] if box.text else box.name
    return box.id if box.id.startswith(f"{cls}-") or box.id == cls else f"{box.id}: {cls}"


def _exception_text(exc: BaseException) -> str:
    if isinstance(exc, PatchflowError):
        return str(exc)
    return "".join(traceback.format_exception_only(type(exc), exc)).strip()


def _print_stdout(text: str) -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def _print_stderr(text: str) -> None:
    sys.stderr.write(text + "\n")
    sys.stderr.flush()


PatchContext = Runtime  # the name boxes' type hints use
