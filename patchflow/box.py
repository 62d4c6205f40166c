"""The Box base class that every object subclasses: ports, sending, help text.

An object is a class; its help is its docstring. The docstring has the same sections for every
object (summary line, Arguments, Inlets, Outlets, Example) and `patchflow help NAME` prints it.

A Box parses its argument text in the named constructor `from_text`, so that argument errors are
found when the patch is built, before anything runs. The runtime wires boxes together and then
delivers messages by calling `receive(inlet, message)`; a box sends with `self.send(...)`, which
returns only after the whole downstream cascade has completed (depth-first, as in Pd).

Delivery is synchronous, like Pd's: `receive` and `send` are plain methods, which measured about
twice as fast per wire as awaiting coroutines. A box that must await inside a cascade calls
`self.patch.wait(awaitable)`; a class whose awaits may really suspend (`[py]`, which may
`await trio.sleep`) sets `may_suspend = True`, and the runtime then runs that patch's cascades
in a worker that can hand the suspension to trio (see `suspend.py`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, Self

from .errors import ArgumentError, RunawayLoop

if TYPE_CHECKING:
    from .messages import Schema
    from .runtime import PatchContext


class Box:
    """Base class of every patchflow object (not itself an object)."""

    #: the class name used in patch files, and its aliases (`t` for `trigger`)
    name: ClassVar[str] = ""
    aliases: ClassVar[tuple[str, ...]] = ()
    #: message schemas this object understands, offered to wired-in `[msg]` shorthand
    schemas: ClassVar[tuple[Schema, ...]] = ()
    #: True for objects whose inline text may be a body (`[msg]`, `[py]`)
    takes_body: ClassVar[bool] = False
    #: True for objects that may await something that really suspends (a timer in `[py]`)
    may_suspend: ClassVar[bool] = False

    # Set by the graph when the box is placed in a patch.
    id: str = "?"
    text: str = ""  # the box text as written (class and arguments), for messages
    _only: tuple[Box, int]  # the one wire of outlet 0, for `_relay_one`
    line: int = 0
    column: int = 0  # of the box's opening `[`, for errors that point at the box
    body_line: int = 0
    patch: PatchContext

    def __init__(self, *, inlets: int = 1, outlets: int = 1) -> None:
        self.inlets = inlets
        self.outlets = outlets
        self._wires: list[tuple[tuple[Box, int], ...]] = [() for _ in range(outlets)]

    @classmethod
    def from_text(cls, args: str, body: str | None = None) -> Self:
        """Create the box from its argument text (and body); raise ArgumentError if it is wrong.

        The default is for objects that take no arguments.
        """
        if args.strip() or body:
            raise ArgumentError(f"[{cls.name}] takes no arguments; got {args.strip()!r}")
        return cls()

    # -- life cycle (called by the runtime) ------------------------------------------------

    def start(self) -> None:
        """Prepare to run: the box is wired and `self.patch` is set. Override to subscribe."""

    def stop(self) -> None:
        """Release what `start` or running took (timers, subscriptions). Must be idempotent."""

    # -- messages --------------------------------------------------------------------------

    def receive(self, inlet: int, message: Any) -> None:
        """Handle a message arriving on `inlet`; the default rejects it."""
        raise self.reject(inlet, message)

    def send(self, message: Any, outlet: int = 0) -> None:
        """Send `message` on `outlet`; returns after every receiver's cascade has completed.

        Receivers get the message in wire (file) order; the message is shared, not copied. An
        error in one receiver is reported (box id, class, line) and the others still receive.
        This loop is the runtime's hot path, so `relay` below repeats it rather than adding a
        call per wire; keep the two the same.
        """
        runtime = self.patch
        depth = runtime.depth + 1
        if depth > runtime.max_depth:
            raise RunawayLoop(runtime.max_depth)
        for target, inlet in self._wires[outlet]:
            runtime.depth = depth
            try:
                target.receive(inlet, message)
            except RunawayLoop as loop:
                loop.record(target.id)
                raise
            except Exception as exc:
                runtime.report(target, exc)
        runtime.depth = depth - 1  # a cascade that ends by exception resets it instead

    def relay(self, inlet: int, message: Any) -> None:
        """Send `message` unchanged on outlet 0: a `receive` for pass-through boxes.

        A box that passes everything on (`[t a]`) sets `self.receive = self.relay`, saving one
        Python call per wire; the body is `send`'s, for outlet 0.
        """
        runtime = self.patch
        depth = runtime.depth + 1
        if depth > runtime.max_depth:
            raise RunawayLoop(runtime.max_depth)
        for target, to in self._wires[0]:
            runtime.depth = depth
            try:
                target.receive(to, message)
            except RunawayLoop as loop:
                loop.record(target.id)
                raise
            except Exception as exc:
                runtime.report(target, exc)
        runtime.depth = depth - 1

    def _relay_one(self, inlet: int, message: Any) -> None:
        """`relay` for an outlet 0 with exactly one wire (the graph picks it): no loop."""
        runtime = self.patch
        depth = runtime.depth + 1
        if depth > runtime.max_depth:
            raise RunawayLoop(runtime.max_depth)
        target, to = self._only  # the one wire, kept by the graph
        runtime.depth = depth
        try:
            target.receive(to, message)
        except RunawayLoop as loop:
            loop.record(target.id)
            raise
        except Exception as exc:
            runtime.report(target, exc)
        runtime.depth = depth - 1

    def _relay_nowhere(self, inlet: int, message: Any) -> None:
        """`relay` for an outlet 0 with no wires (the graph picks it): nothing to do."""

    def connected(self, outlet: int = 0) -> bool:
        """Whether anything is wired to `outlet` (lets objects skip work nobody receives)."""
        return bool(self._wires[outlet])

    def reject(self, inlet: int, message: Any, expected: str = "") -> Exception:
        """Build the error for a message this box cannot handle on `inlet`."""
        from .errors import MessageError
        from .messages import describe

        hint = f"; expected {expected}" if expected else ""
        return MessageError(f"inlet {inlet} cannot take {describe(message)}{hint}")

    def error_line(self, exc: BaseException) -> int:
        """The patch line to report for an error raised in this box (`[py]` maps body lines)."""
        return self.line

    # -- help -------------------------------------------------------------------------------

    @classmethod
    def help_text(cls) -> str:
        """The object's help: its docstring, dedented."""
        import inspect

        return inspect.cleandoc(cls.__doc__ or f"{cls.name}: (no help)")

    @classmethod
    def summary(cls) -> str:
        return cls.help_text().splitlines()[0]

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.id}>"
