"""The Box base class that every object subclasses: ports, sending, life cycle, help text.

An object is a class; its help is its docstring. The docstring has the same sections for every
object (summary line, Arguments, Inlets, Outlets, Example) and `patchflow help NAME` prints it.

A Box parses its argument text in the named constructor `from_text`, so that argument errors are
found when the patch is built, before anything runs. It handles what arrives in
`receive(inlet, message)` and sends with `self.send(message, outlet)`, which returns only after
the whole downstream cascade has completed (depth-first, as in Pd). How a message gets from one
to the other is not the box's business: delivery.py owns it and fills the box's `_outlets`,
`_accept` and `_wires` when the patch starts running.

Delivery is synchronous, like Pd's: `receive` and `send` are plain methods, which measured about
twice as fast per wire as awaiting coroutines. A box that must await inside a cascade calls
`self.patch.wait(awaitable)`; a class whose awaits may really suspend (`[py]`, which may
`await trio.sleep`) sets `may_suspend = True`, and the runtime then runs that patch's cascades
in a worker that can hand the suspension to trio (see `suspend.py`).

What a box may ask of the running patch (`self.patch`) is the `PatchContext` protocol
(context.py).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar, Self

from .errors import ArgumentError

if TYPE_CHECKING:
    from .context import PatchContext
    from .messages import Schema


class Box:
    """Base class of every patchflow object (not itself an object)."""

    #: the class name used in patch files, and its aliases (`t` for `trigger`)
    name: ClassVar[str] = ""
    aliases: ClassVar[tuple[str, ...]] = ()
    #: message schemas this object understands, offered to wired-in `[msg]` shorthand
    schemas: ClassVar[tuple[Schema, ...]] = ()
    #: True for objects whose inline text may be a body (`[msg]`, `[py]`)
    takes_body: ClassVar[bool] = False
    #: True for a box that may await something that really suspends (a timer in `[py]`);
    #: a class sets it, or `__init__` when it depends on the arguments (`[py]` code)
    may_suspend: bool = False
    #: True for a box that sends every message of every inlet on, unchanged, out of outlet 0
    #: (`[t a]`): the core then delivers through it without calling `receive` (one call per
    #: wire instead of two). A class sets it, or `__init__` when it depends on the arguments.
    passes_through: bool = False
    #: True for a class whose inlets each take a single value (`[+]`, `[pack]`): a list
    #: arriving on inlet 0 of such a box with several inlets is spread over them by the core
    #: (Pd's rule: cold inlets left to right, then the hot one; extra elements dropped; `[]`
    #: is a bang), so `receive` never sees a list on inlet 0.
    spreads_lists: ClassVar[bool] = False

    # Set by the graph when the box is placed in a patch.
    id: str = "?"
    text: str = ""  # the box text as written (class and arguments), for messages
    line: int = 0
    column: int = 0  # of the box's opening `[`, for errors that point at the box
    body_line: int = 0
    patch: PatchContext

    # Owned by delivery.py, which fills them when the patch starts running.
    _outlets: tuple[Callable[[Any], None], ...] = ()  # one compiled sender per outlet
    _accept: Callable[[int, Any], None]  # hands a message to this box (receive, or a relay)
    _wires: tuple[tuple[tuple[Box, int], ...], ...] = ()  # per outlet: (target, inlet)
    _spreads: bool = False  # a list on inlet 0 is spread over the inlets (spreads_lists)

    def __init__(self, *, inlets: int = 1, outlets: int = 1) -> None:
        self.inlets = inlets
        self.outlets = outlets

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

    def loadbang(self) -> None:
        """Act once when the patch starts, after every box's `start`, in file order.

        Each call is a cascade of its own. The runtime calls it only for classes that
        override it, so a box without one costs nothing at start.
        """

    def stop(self) -> None:
        """Release what `start` or running took (timers, subscriptions). Must be idempotent."""

    @classmethod
    def overrides(cls, hook: str) -> bool:
        """Whether this class overrides the life-cycle method `hook` (`"loadbang"`, `"start"`)."""
        return getattr(cls, hook) is not getattr(Box, hook)

    # -- messages --------------------------------------------------------------------------

    def receive(self, inlet: int, message: Any) -> None:
        """Handle a message arriving on `inlet`; the default rejects it."""
        raise self.reject(inlet, message)

    def send(self, message: Any, outlet: int = 0) -> None:
        """Send `message` on `outlet`; returns after every receiver's cascade has completed.

        Receivers get the message in wire (file) order; the message is shared, not copied. An
        error in one receiver is reported (box id, class, line) and the others still receive.

        An object on the hot path of common patches (`[msg]`, `[route]`, `[expr]`) may call
        `self._outlets[outlet](message)` instead: the very sender this method calls, so the two
        cannot disagree, one Python call less a hop (a cascade's cost is its number of calls).
        It may read `_outlets` only while running (from `start` on); only delivery writes it.
        """
        self._outlets[outlet](message)

    def connected(self, outlet: int = 0) -> bool:
        """Whether anything is wired to `outlet` (lets objects skip work nobody receives)."""
        return bool(self._wires[outlet])

    def receivers(self) -> list[Box]:
        """The boxes wired to this box's outlets, each once, in wire order."""
        seen: dict[int, Box] = {}
        for targets in self._wires:
            for target, _inlet in targets:
                seen.setdefault(id(target), target)
        return list(seen.values())

    def reject(self, inlet: int, message: Any, expected: str = "") -> Exception:
        """Build the error for a message this box cannot handle on `inlet`."""
        from .errors import MessageError
        from .render import describe

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
