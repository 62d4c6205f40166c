"""What a box may ask of the running patch: the object author's API (`box.patch`).

This is to the runtime what Pd's m_pd.h is to m_imp.h: the few things an object needs,
declared in one place, so that the runtime can change behind it and a third-party object
written against it keeps working. Objects use only these members; the runtime (runtime.py)
implements them, and a test checks that the built-in objects ask for nothing else.

Besides these, a box has its own life-cycle hooks, declared on `Box`: `start` (wired, about to
run), `loadbang` (once, after every start, in file order), `stop` (release what was taken).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from .box import Box

#: a callable run later as a cascade of its own (see `PatchContext.post`)
Event = Callable[[], object]


class Hold(Protocol):
    """A reason the patch is not idle (pending delay, running metro, open input)."""

    def release(self) -> None:
        """Let the patch become idle again; safe to call more than once."""


class Timer(Protocol):
    """A cascade set to run later (`PatchContext.call_later`)."""

    #: when it is due: logical milliseconds since the run started
    due: float

    def cancel(self) -> None:
        """Keep it from running; safe to call more than once, and after it ran."""


class Bus(Protocol):
    """The run's MQTT connection as a box sees it (`PatchContext.bus`): raw topics."""

    def listen(self, topic: str, box: Box, handler: Callable[[Any], None]) -> None:
        """Call `handler(message)`, as a cascade of `box`, for each message on `topic`.

        With an MQTT wildcard (`+`, `#`) in `topic`, the message is `{topic, message}`.
        """

    def unlisten(self, topic: str, box: Box) -> None:
        """Stop what `listen` started; safe to call more than once."""

    def publish(self, topic: str, message: Any, retain: bool = False) -> None:
        """Publish `message` (as JSON) to `topic`; queued while the connection is down."""


class PatchContext(Protocol):
    """The running patch, as a box sees it."""

    #: the patch's id (also the name of its storage)
    patch_id: str

    def print_line(self, text: str) -> None:
        """Write one line of program output (what `[print]` produces)."""

    def report(self, box: Box | None, exc: BaseException) -> None:
        """Report an error with the box's id, class and line; the run goes on unless strict."""

    def post(self, event: Event, box: Box | None = None) -> None:
        """Run `event()` later as a cascade of its own, after those already queued.

        An error it raises is reported as `box`'s (with its id and line).
        """

    def hold(self) -> Hold:
        """Keep the patch from being idle until the returned Hold is released."""

    def now(self) -> float:
        """The patch's logical time, in milliseconds since the run started.

        A cascade run by a timer sees the time the timer was due, exactly; loadbangs see 0;
        any other cascade the real time since the start, held back to the earliest timer
        still pending. It never goes back, and stays the same for the whole cascade.
        """

    def call_later(self, ms: float, event: Event, box: Box | None = None) -> Timer:
        """Run `event()` as a cascade of its own `ms` logical milliseconds from now.

        Timers due at the same logical time run in the order they were set, whatever the
        machine's clock does (as in Pd). A pending timer keeps the patch from being idle. An
        error the event raises is reported as `box`'s.
        """

    def start_soon(self, fn: Callable[..., Awaitable[Any]], *args: Any) -> None:
        """Run a background task (a reader) for as long as the patch runs.

        For timers use `call_later`: it keeps the patch's logical time.
        """

    def wait(self, awaitable: Awaitable[Any]) -> Any:
        """Return the result of `awaitable` from inside a cascade (storage, `[py]` code)."""

    def code_error(self, exc: BaseException) -> BaseException:
        """What to raise for SystemExit or KeyboardInterrupt escaping a box's code."""

    def subscribe(self, name: str, box: Box, handler: Callable[[Any], None]) -> None:
        """Call `handler(message)` for what is published to `name`, as a delivery to `box`."""

    def unsubscribe(self, name: str, box: Box) -> None:
        """Stop delivering `name` to `box`."""

    def publish(self, name: str, message: Any, *, retain: bool = False) -> None:
        """Deliver `message` to every subscriber of `name`, depth-first, in order.

        With a bus (`--bus URL`, bus.py) it is also published to the broker as `PREFIX/name`,
        `retain`ed there for late subscribers if asked.
        """

    def read_lines(self, box: Box, line: Callable[[str], None], end: Event) -> None:
        """Call `line(text)` for each line of the patch's input, then `end()`.

        The input is standard input unless the embedder gave other lines; `text` has no line
        ending. Each call is a cascade of its own, reported as `box`'s, and the patch is not
        idle until the input ends. Every reader gets every line; readers get each line in the
        order they asked (file order, when asked from `start`), so runs are deterministic.
        """

    @property
    def bus(self) -> Bus:
        """The run's MQTT bus, for raw topics; raises PatchflowError when run without one."""

    @property
    def storage(self) -> Any:
        """The patch's storage (`.kv(local=box_id)`, `.db(...)`), opened on first use."""

    def stop(self) -> None:
        """End the run after the cascades already queued."""
