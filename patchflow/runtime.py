"""Run a built graph on trio: one scheduler channel, depth-first delivery, idle detection.

Independent sources (loadbang, timers, stdin lines, messages injected from Python) post
*events* — argument-less async callables — on one unbounded trio memory channel. A single
scheduler task takes them one at a time and runs each as a **cascade**: everything the event
sends completes, depth-first, before the next event starts (Pure Data's contract).

Inside a cascade a send is a direct chain of `await` calls (`Box.send` → `Runtime.deliver` →
`Box.receive`), with no trio checkpoint or channel hop per wire: a measured 10-box chain is
about 50× slower with a task and channel per box. Boxes may still `await` real work (storage,
`trio.sleep` in `[py]`); no other cascade runs meanwhile because the scheduler is waiting.

The patch is idle when no cascade runs, no event is queued and nothing holds it open (a
pending `[delay]`, a running `[metro]`, an open `[stdin]`); `run` then returns.
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

from .errors import PatchflowError, RunawayLoop, StorageError

if TYPE_CHECKING:
    from .box import Box
    from .graph import Graph
    from .storage import PatchStorage

Event = Callable[[], Awaitable[None]]
MAX_DEPTH = 1000


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
    """Unwinds the current cascade when strict mode stops the run.

    A BaseException, so that neither `deliver` nor user code catching Exception swallows it.
    """


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
        self.error_count = 0
        self.failure: BaseException | None = None
        self._output = output or _print_stdout
        self._errors = errors or _print_stderr
        self._stdin = stdin
        self._storage_opener = storage_opener
        self._storage: PatchStorage | None = None
        self._send_channel, self._receive_channel = trio.open_memory_channel[Event | None](math.inf)
        self._holds = 0
        self._depth = 0
        self._nursery: trio.Nursery | None = None
        self._subscribers: dict[str, list[Box]] = defaultdict(list)
        self._stdin_boxes: list[Box] = []
        self._idle_waiters: list[trio.Event] = []
        self._done = False
        for box in graph.boxes.values():
            box.patch = self
            box._deliver = self.deliver

    # -- what boxes use ---------------------------------------------------------------------

    def print_line(self, text: str) -> None:
        """Write one line of program output (what `[print]` produces)."""
        self._output(text)

    def post(self, event: Event) -> None:
        """Queue `event` to run as its own cascade after those already queued."""
        self._send_channel.send_nowait(event)

    def hold(self) -> Hold:
        """Keep the patch from being idle until the returned Hold is released."""
        return Hold(self)

    def start_soon(self, fn: Callable[..., Awaitable[Any]], *args: Any) -> None:
        """Run a background task (a timer) for as long as the patch runs."""
        assert self._nursery is not None, "the patch is not running"
        self._nursery.start_soon(fn, *args)

    def subscribe(self, name: str, box: Box) -> None:
        """Make `box` receive (on inlet 0) what `[send name]` sends, in subscription order."""
        self._subscribers[name].append(box)

    def unsubscribe(self, name: str, box: Box) -> None:
        subscribers = self._subscribers.get(name)
        if subscribers and box in subscribers:
            subscribers.remove(box)

    async def publish(self, name: str, message: Any) -> None:
        """Deliver `message` to every subscriber of `name`, depth-first, in order."""
        for box in tuple(self._subscribers.get(name, ())):
            await self.deliver(box, 0, message)

    def read_stdin(self, box: Box) -> None:
        """Register a `[stdin]` box: each input line is sent to its `line(text)`, then `end()`."""
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

    # -- delivery ---------------------------------------------------------------------------

    async def deliver(self, target: Box, inlet: int, message: Any) -> None:
        """Deliver one message to one inlet and wait for its whole cascade (the hot path)."""
        depth = self._depth + 1
        if depth > self.max_depth:
            raise RunawayLoop(self.max_depth)
        self._depth = depth
        try:
            await target.receive(inlet, message)
        except RunawayLoop as loop:
            if len(loop.path) < 256:
                loop.path.append(target.id)
            raise
        except Exception as exc:
            self.report(target, exc)
        finally:
            self._depth = depth - 1

    def report(self, box: Box | None, exc: BaseException) -> None:
        """Report a runtime error with the box's id, class and line; stop if strict."""
        self.error_count += 1
        if isinstance(exc, RunawayLoop):
            text = f"{exc}; stopped the loop {exc.loop_description()}"
            where = f"{self.file}: runaway loop"
            line = f"{where}: {text}"
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

    # -- running ----------------------------------------------------------------------------

    async def run(self, *, forever: bool = False, timeout: float | None = None) -> str:
        """Fire loadbangs, run cascades until idle (or timeout); return why it stopped.

        Returns "idle", "timeout", "stopped" or "failed" (strict mode; see `failure`).
        """
        reason = "stopped"
        # Each delivery nests a few Python frames (deliver → receive → send); make sure the
        # runaway-loop guard, not Python's recursion limit, is what stops a feedback loop.
        sys.setrecursionlimit(max(sys.getrecursionlimit(), self.max_depth * 6 + 1000))
        try:
            async with trio.open_nursery() as nursery:
                self._nursery = nursery
                self._start_boxes()
                with trio.move_on_after(math.inf if timeout is None else timeout) as scope:
                    reason = await self._schedule(forever)
                if scope.cancelled_caught:
                    reason = "timeout"
                nursery.cancel_scope.cancel()
        finally:
            self._done = True
            self._nursery = None
            for box in self.graph.boxes.values():
                try:
                    box.stop()
                except Exception as exc:  # a failing stop must not hide the others
                    self._errors(f"{self.file}:{box.line} [{_box_label(box)}]: stop: {exc}")
            for waiter in self._idle_waiters:
                waiter.set()
            self.close_storage()
        return reason

    def stop(self) -> None:
        """End the run from inside the patch or from the embedding program."""
        self._send_channel.send_nowait(None)

    async def wait_idle(self) -> None:
        """Wait until the patch is idle (or has stopped)."""
        if self._done:
            return
        waiter = trio.Event()
        self._idle_waiters.append(waiter)
        self._send_channel.send_nowait(_wake)
        await waiter.wait()

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
        while True:
            event = await receive.receive()
            if event is None:
                return "stopped"
            if event is not _wake:
                await self._run_cascade(event)
                if self.failure is not None:
                    return "failed"
            if self._holds == 0 and receive.statistics().current_buffer_used == 0:
                waiters, self._idle_waiters = self._idle_waiters, []
                for waiter in waiters:
                    waiter.set()
                if not forever:
                    return "idle"

    async def _run_cascade(self, event: Event) -> None:
        self._depth = 0
        try:
            await event()
        except StopRun:
            pass  # strict mode: `failure` is set and the scheduler ends the run
        except RunawayLoop as loop:
            self._report_quietly(None, loop)
        except Exception as exc:
            self._report_quietly(getattr(event, "__self__", None), exc)

    def _report_quietly(self, box: Box | None, exc: BaseException) -> None:
        with contextlib.suppress(StopRun):  # strict mode: `failure` is set already
            self.report(box, exc)

    def _release(self) -> None:
        self._holds -= 1
        if self._holds == 0 and not self._done:
            self._send_channel.send_nowait(_wake)

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


async def _wake() -> None:
    """A no-op event: makes the scheduler look at idleness again."""


def _bound(fn: Callable[[Any], Awaitable[None]], arg: Any) -> Event:
    async def event() -> None:
        await fn(arg)

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
