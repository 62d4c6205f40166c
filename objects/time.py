"""Time: objects that send later (`delay`) or again and again (`metro`), as Pd's x_time.c.

Both run on the patch's logical clock (`PatchContext.call_later`, `now`): a timer is due at
the logical time it was set plus its delay, and timers due at the same time fire in the order
they were set, as in Pd — so a `[delay 300]` that stops a `[metro 100]` started with it stops
it before the tick at 300, on every run, whatever the machine's clock does. Each timer fires
as a cascade of its own; a pending one keeps the patch from being idle.
"""

from __future__ import annotations

import math
from functools import partial
from itertools import count
from typing import Any

from patchflow import (
    BANG,
    ArgumentError,
    Box,
    Timer,
    is_bang,
    is_number,
    message_type,
    parse_number,
)


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
        self._pending: dict[int, tuple[Any, Timer]] = {}  # by order of arrival
        self._order = count()

    @classmethod
    def from_text(cls, args: str, body: str | None = None) -> Delay:
        return cls(_milliseconds(args, 1000.0, "[delay 250]", zero=True))

    def receive(self, inlet: int, message: Any) -> None:
        if inlet == 0:
            order = next(self._order)
            timer = self.patch.call_later(self.ms, partial(self._due, order), self)
            self._pending[order] = (message, timer)
        elif _good_interval(message, zero=True):
            self.ms = float(message)
        elif message == "clear" or message_type(message) == "clear":
            self._drop_pending()
        elif message == "flush" or message_type(message) == "flush":
            for value in self._drop_pending():
                self.send(value)
        else:
            raise self.reject(inlet, message, "a time in milliseconds (≥ 0), clear or flush")

    def stop(self) -> None:
        self._drop_pending()

    def _due(self, order: int) -> None:
        """A message's time has come (a cascade of its own): send it."""
        value, _timer = self._pending.pop(order)
        self.send(value)

    def _drop_pending(self) -> list[Any]:
        """Forget every pending message; return them in the order they were due."""
        dropped = sorted(self._pending.items(), key=lambda item: (item[1][1].due, item[0]))
        self._pending.clear()
        for _order, (_value, timer) in dropped:
            timer.cancel()
        return [value for _order, (value, _timer) in dropped]


# -- metro ------------------------------------------------------------------------------------


class Metro(Box):
    """Send a bang every `ms` milliseconds while switched on, the first at once.

    Switching on sends the first bang at once, inside the cascade that switched it on (as in
    Pd); the next ones follow every `ms` of the patch's logical time, each a cascade of its
    own, so they never drift. Switching on a running metro restarts it. A new `ms` applies
    from the tick after the next one (the tick already scheduled keeps its time). As in Pd,
    a tick is set when the one before it has sent its bang: when the patch is too busy to
    run a tick on time, it runs as soon as it can (at its logical time, late on the clock),
    and ticks never pile up. A running metro keeps the patch from being idle.

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
        self._timer: Timer | None = None
        self._hit = False  # switched on or off while a tick sent its bang (Pd's x_hit)

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
            self._tick()
        else:
            self._halt()
        self._hit = True  # a tick whose bang led here sets no next tick (this did, or stopped)

    def stop(self) -> None:
        self._halt()

    def _halt(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _tick(self) -> None:
        """Send a bang, then set the next tick — unless the bang's cascade switched it."""
        self._halt()
        self._hit = False
        self.send(BANG)
        if not self._hit:
            self._timer = self.patch.call_later(self.ms, self._tick, self)


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
