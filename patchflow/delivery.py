"""How a message travels: the one owner of delivery, as Pd's m_obj.c owns `outlet_*`.

A box calls `self.send(message, outlet)` and handles what arrives in `receive(inlet, message)`;
everything between the two is here. The graph records the wires as data; when a patch starts
running, `Delivery.wire` compiles each outlet's wires into a *sender*, a function of the
message, and gives it to the box.

One delivery step is written once, as the source text `_STEP`, and every sender is generated
from it, as attrs generates `__init__`: an outlet with no wires gets a sender that does
nothing, one wire a direct call, several wires the step unrolled once per wire, in file
order. Each shape is compiled once per process and then filled with its targets. A generated
one-wire relay with its targets as closure constants measured 11–14% faster per wire than
the hand-written method it replaced, in a micro-benchmark (2026-11-29, 2-core Xeon VM, best of
30 CPU-time runs); chain10 as a whole stayed level (the injection from Python is one call more).

A step: count one delivery deeper; hand the message to the target; report an error the
target raises (with its box) and go on with the next wire. A box declaring
`passes_through = True` is not called at all: its inlets are given the sender of its outlet 0
(a relay). The variants are generated from the same text, so they cost only what they do:

- **List spreading** (Pd's rule, messages.md): a box whose class sets `spreads_lists` and
  that has several inlets gets a list arriving on its inlet 0 spread over its inlets — cold
  inlets left to right, then the hot one; extra elements dropped; `[]` is a bang. Only a step
  to inlet 0 of such a box tests for a list; every other step is the plain one.
- **Tracing** (`run --trace`): with a trace function, each step first writes
  `[SOURCE:OUTLET] -> [TARGET:INLET] MESSAGE`. Without one the steps hold no trace code.

**The runaway guard** (Pd's STACKITER): a send that would be more than `max_depth`
deliveries deep is not made — only that one: the shallower sends of the cascade go on, the
other receivers of their outlets included. The first in a cascade is reported once, naming
the loop; the boxes of the loop are read off the stack of generated senders (`_loop_path`),
so the guard costs nothing until it trips. A cascade that trips it `RUNAWAY_LIMIT` times (a
loop that fans out doubles its trips at every level) is stopped whole. An outlet with no wires
does nothing at all, not even the check: a send that reaches nobody is no delivery.

The same steps serve every path a message takes: wires, `[send]` → `[receive]` (`publish`),
and observers (`observe`, behind `Session.collect`). A message injected from Python is
handed to its box as by a wire from outside (`inject`, or `run_now`'s copy of it: `root`), as
the root of a cascade (runtime.py).
"""

from __future__ import annotations

import sys
from collections import defaultdict
from collections.abc import Callable
from types import CodeType, FrameType
from typing import TYPE_CHECKING, Any, TypeVar

from .errors import RunawayLoop
from .messages import BANG, to_json

if TYPE_CHECKING:
    from .box import Box

Sender = Callable[[Any], None]  # sends a message on one outlet
Entry = Callable[[int, Any], None]  # hands a message to a box's inlet
Report = Callable[[Any, BaseException], None]
Trace = Callable[[str], None]  # receives one line per delivery

#: trips of the runaway guard after which the rest of the cascade is stopped
RUNAWAY_LIMIT = 100
#: the longest message text in a trace line
TRACE_WIDTH = 200


class Abandoned(BaseException):
    """Unwinds a cascade the runaway guard stopped whole (already reported).

    A BaseException, so that the steps' error containment does not catch it on the way up.
    """


#: One delivery to one target; `{call}` hands the message over, `{box}` is the target box.
_STEP = """\
        _depth.depth = depth
{trace}        try:
{call}
        except Exception as exc:
            _report({box}, exc)
"""
_TRACE = "        _trace(_p{k}, message)\n"
_CALL = "            {call}\n"
#: the call to inlet 0 of a box that spreads lists
_SPREAD = """\
            if message.__class__ is list or message.__class__ is tuple:
                _spread(_t{k}, message)
            else:
                _t{k}._accept(0, message)
"""

_HEAD = """\
def make(_depth, _report, _max, _runaway, _spread, _trace, {targets}):
    def deliver({parameters}):
        depth = _depth.depth + 1
        if depth > _max:
            _runaway()
            return
"""

_TAIL = """\
        _depth.depth = depth - 1

    return deliver
"""

_factories: dict[tuple[str, int, tuple[bool, ...], bool], Callable[..., Any]] = {}
#: code of each generated sender → {line: index of the step running at that line}
_step_lines: dict[CodeType, dict[int, int]] = {}


def _factory(
    kind: str, count: int, spreads: tuple[bool, ...] = (), trace: bool = False
) -> Callable[..., Any]:
    """The compiled maker of a sender of `count` steps (cached per shape).

    `kind` is "send" (a function of the message, calling each target box's `_accept`),
    "relay" (the same with an inlet first: a pass-through box's entry) or "handler" (a
    function of the message, calling a subscriber's handler as a delivery to its box).
    `spreads[k]` says that step k goes to inlet 0 of a box that spreads lists; `trace` that
    each step writes a trace line first.
    """
    spreads = spreads or (False,) * count
    key = (kind, count, spreads, trace)
    make = _factories.get(key)
    if make is None:
        targets = ", ".join(f"_t{k}, _c{k}, _p{k}" for k in range(count))
        parameters = "inlet, message" if kind == "relay" else "message"
        source = _HEAD.format(targets=targets, parameters=parameters)
        lines: dict[int, int] = {}
        for k in range(count):
            if spreads[k]:
                call = _SPREAD.format(k=k)
            elif kind == "handler":
                call = _CALL.format(call=f"_c{k}(message)")
            else:
                call = _CALL.format(call=f"_t{k}._accept(_c{k}, message)")
            step = _STEP.format(
                trace=_TRACE.format(k=k) if trace else "", call=call.rstrip("\n"), box=f"_t{k}"
            )
            first = source.count("\n") + 1
            lines.update(dict.fromkeys(range(first, first + step.count("\n")), k))
            source += step
        source += _TAIL
        namespace: dict[str, Any] = {}
        exec(compile(source, f"<patchflow delivery {kind} {count}>", "exec"), namespace)
        make = _factories[key] = namespace["make"]
        deliver = next(c for c in make.__code__.co_consts if isinstance(c, CodeType))
        _step_lines[deliver] = lines
    return make


def nowhere(message: Any) -> None:
    """The sender of an outlet with no wires: a message sent there reaches nobody."""


def _relay_nowhere(inlet: int, message: Any) -> None:
    """The entry of a pass-through box whose outlet 0 has no wires."""


def _is_list(message: Any) -> bool:
    return message.__class__ is list or message.__class__ is tuple


class Delivery:
    """The running patch's delivery: cascade depth, compiled senders, the named bus.

    Args:
        report: called with (box, exception) for an error a receiver raises; may raise to
            end the run (strict mode).
        max_depth: deliveries a cascade may nest before it is a runaway loop.
        trace: receives a line per delivery (`[a:0] -> [b:1] 5`); None: senders without it.
    """

    def __init__(self, report: Report, max_depth: int, trace: Trace | None = None) -> None:
        self.depth = 0  # deliveries deep in the current cascade (the roots set it to 0)
        self.runaways = 0  # trips of the runaway guard in the current cascade (roots reset)
        self.max_depth = max_depth
        self._report = report
        self._trace = trace
        self._subscribers: dict[str, list[tuple[Box, Sender]]] = defaultdict(list)
        self._inject = self._inject_plain  # `inject` minus the trace (wire picks it)
        #: `inject` is the plain one: a root may write its three lines out (`root`)
        self.plain = trace is None
        if trace is not None:
            self.inject = self._inject_traced  # type: ignore[method-assign]

    def compile(self, kind: str, targets: tuple[tuple[Box, Any], ...], source: str = "") -> Any:
        """A sender (or relay) delivering to `targets`, each (box, inlet) or (box, handler).

        `source` is how a trace line names the sending end (`[id:outlet]`).
        """
        if not targets:
            return _relay_nowhere if kind == "relay" else nowhere
        spreads = tuple(kind != "handler" and inlet == 0 and box._spreads for box, inlet in targets)
        trace = self._trace is not None
        flat: list[Any] = []
        for box, inlet in targets:
            port = f"[{box.id}]" if kind == "handler" else f"[{box.id}:{inlet}]"
            flat += (box, inlet, f"{source} -> {port} " if trace else None)
        make = _factory(kind, len(targets), spreads, trace)
        runaway, spread, line = self._runaway, self._spread, self._line
        return make(self, self._report, self.max_depth, runaway, spread, line, *flat)

    def wire(
        self, boxes: dict[str, Box], wires: dict[str, tuple[tuple[tuple[Box, int], ...], ...]]
    ):
        """Give every box its senders (one per outlet) and its entry, from the graph's wires."""
        spreading = False
        for box in boxes.values():
            box._spreads = box.spreads_lists and box.inlets > 1 and not box.passes_through
            spreading = spreading or box._spreads
        if spreading:  # else injecting never tests for a list (chain10 pays nothing)
            self._inject = self._inject_spreading
            self.plain = False
            if self._trace is None:
                self.inject = self._inject_spreading  # type: ignore[method-assign]
        for box_id, box in boxes.items():
            outlets = wires[box_id]
            box._wires = outlets
            box._outlets = tuple(
                self.compile("send", targets, f"[{box_id}:{outlet}]")
                for outlet, targets in enumerate(outlets)
            )
            if box.passes_through:
                box._accept = self.compile("relay", outlets[0], f"[{box_id}:0]")
            else:
                box._accept = box.receive

    def observe(self, box: Box, watcher: Entry) -> None:
        """Call `watcher(inlet, message)` for every message reaching `box`, before the box.

        A list spread over a box's inlets reaches it element by element, each on its inlet.
        """
        inner = box._accept

        def observed(inlet: int, message: Any) -> None:
            watcher(inlet, message)
            inner(inlet, message)

        box._accept = observed

    def inject(self, box: Box, inlet: int, message: Any) -> None:
        """Hand a message from outside any box (Python) to `box`'s inlet: a cascade's root.

        It is delivered as by a wire from outside: one delivery deep; what `box` raises is
        the caller's to report (as `box`'s error). (`wire` and a trace replace this method
        on the instance by the variant that spreads lists, or traces.)
        """
        self.depth = 1
        self.runaways = 0
        box._accept(inlet, message)

    _inject_plain = inject

    def _inject_spreading(self, box: Box, inlet: int, message: Any) -> None:
        """`inject`, spreading a list on inlet 0 of a box that spreads lists."""
        self.depth = 1
        self.runaways = 0
        if inlet == 0 and box._spreads and _is_list(message):
            self._spread(box, message)
        else:
            box._accept(inlet, message)

    def _inject_traced(self, box: Box, inlet: int, message: Any) -> None:
        """`inject`, writing the trace line of the delivery first."""
        self._line(f"[python] -> [{box.id}:{inlet}] ", message)
        self._inject(box, inlet, message)

    # -- the variants of a step -------------------------------------------------------------

    def _spread(self, box: Box, items: list[Any] | tuple[Any, ...]) -> None:
        """Deliver a list that arrived on `box`'s inlet 0 over its inlets, as Pd does.

        Element i goes to inlet i: the cold inlets first, left to right, then the hot inlet 0;
        extra elements are dropped, and an empty list is a bang. An error a cold inlet raises
        is reported and the other elements still arrive (the hot one's is the caller's).
        """
        accept = box._accept
        for inlet in range(1, min(len(items), box.inlets)):
            try:
                accept(inlet, items[inlet])
            except Exception as exc:
                self._report(box, exc)
        accept(0, items[0] if items else BANG)

    def _line(self, prefix: str, message: Any) -> None:
        """Write one trace line: the ports, then the message as `[print]` shows it, cut."""
        text = to_json(message)
        if len(text) > TRACE_WIDTH:
            text = text[: TRACE_WIDTH - 1] + "…"
        self._trace(prefix + text)  # type: ignore[misc]

    def _runaway(self) -> None:
        """The guard tripped: the send being made would be too deep, and is not made.

        The first trip of a cascade is reported (naming the loop); at `RUNAWAY_LIMIT` trips
        the rest of the cascade is stopped.
        """
        self.runaways += 1
        if self.runaways == 1 or self.runaways == RUNAWAY_LIMIT:
            loop = RunawayLoop(self.max_depth)
            loop.path = _loop_path(sys._getframe(1))
            if self.runaways == RUNAWAY_LIMIT:
                loop.trips = RUNAWAY_LIMIT
            self._report(None, loop)
            if loop.trips:
                raise Abandoned(str(loop))

    # -- the named bus ([send NAME] → [receive NAME]) ---------------------------------------

    def subscribe(self, name: str, box: Box, handler: Sender) -> None:
        """Deliver what is published to `name` to `box`, by calling `handler(message)`."""
        deliver = self.compile("handler", ((box, handler),), f"[send {name}]")
        self._subscribers[name].append((box, deliver))

    def unsubscribe(self, name: str, box: Box) -> None:
        subscribers = self._subscribers.get(name)
        if subscribers:
            subscribers[:] = [pair for pair in subscribers if pair[0] is not box]

    def publish(self, name: str, message: Any) -> None:
        """Deliver `message` to every subscriber of `name`, depth-first, in subscription order."""
        for _box, deliver in tuple(self._subscribers.get(name, ())):
            deliver(message)


_INJECT_CODES = {Delivery.inject.__code__, Delivery._inject_spreading.__code__}

_Root = TypeVar("_Root", bound=Callable[..., Any])


def root(function: _Root) -> _Root:
    """Mark `function` as a root of cascades that writes `inject` out: its `box` is a root.

    Such a function (`run_now`, the fast path of messages from Python) hands the message to
    `box._accept(inlet, message)` itself, after setting `depth = 1` and `runaways = 0`, when
    its delivery's `plain` is true, and calls `inject` otherwise: the same three lines, one
    Python call less per cascade (chain10 made 17.5 calls a message before, cProfile,
    2026-11-29). Its local `box` is then the root of the loop a runaway names (`_loop_path`),
    as `inject`'s is.
    """
    _INJECT_CODES.add(function.__code__)
    return function


def _loop_path(frame: FrameType | None, limit: int = 256) -> list[str]:
    """The ids of the boxes being delivered to, innermost first, read off the stack.

    Each generated sender's frame is in one of its steps (its line says which), and the step's
    target is a constant of the sender; the root is the box of `Delivery.inject` (or of a
    `root` function), if injected: the walk ends there, as the cascade does.
    """
    path: list[str] = []
    while frame is not None and len(path) < limit:
        code = frame.f_code
        lines = _step_lines.get(code)
        if lines is not None:
            k = lines.get(frame.f_lineno)
            if k is not None:
                path.append(frame.f_locals[f"_t{k}"].id)
        elif code in _INJECT_CODES:
            path.append(frame.f_locals["box"].id)
            break
        frame = frame.f_back
    return path
