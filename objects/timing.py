"""Time measured and time spent: `[timer]` and `[line]` (Pd's x_time.c).

Both use the patch's logical clock (`PatchContext.now`, `call_later`), as Pd's do: `[timer]`
measures the scheduled time between two cascades (a `[delay 300]` between them measures 300,
however late they run), and `[line]` computes each step from its own schedule (start + k ×
grain), so its values are exact.
"""

from __future__ import annotations

import math
from typing import Any

from patchflow import Box, Number, Timer, is_bang, is_number, message_type

from .arithmetic import number_arguments, whole
from .connective import set_value


def _elapsed(since: float, now: float) -> float:
    """Milliseconds from `since` to `now`, rounded to a nanosecond to drop float noise."""
    return round(now - since, 6)


# -- timer ------------------------------------------------------------------------------------


class TimerBox(Box):
    """Measure the time between two bangs, in milliseconds.

    A bang on the left resets the timer; a bang on the right sends the time since then (since
    the patch started, before the first reset). The time is the patch's clock: the time the
    cascades are due, so `[delay 300]` between the two bangs measures 300. A whole number of
    milliseconds is sent as an integer.

    Arguments:
        none

    Inlets:
        0: a bang: reset
        1: a bang: send the time since the last reset

    Outlets:
        0: the elapsed time in milliseconds

    Example:
        t = [timer]
        [loadbang] -> t
        [loadbang] -> [delay 250] -> 1:t
        t -> [print ms]
    """

    name = "timer"

    def __init__(self) -> None:
        super().__init__(inlets=2, outlets=1)
        self.since = 0.0

    def start(self) -> None:
        self.since = self.patch.now()

    def receive(self, inlet: int, message: Any) -> None:
        if not is_bang(message):
            raise self.reject(inlet, message, "a bang")
        now = self.patch.now()
        if inlet == 0:
            self.since = now
        else:
            self.send(whole(_elapsed(self.since, now)))


# -- line -------------------------------------------------------------------------------------

DEFAULT_GRAIN = 20


def _grain(value: Number) -> Number:
    """Pd's grain: 0 or less means the default, 20 ms."""
    return value if value > 0 else DEFAULT_GRAIN


class Line(Box):
    """Ramp from the current value to a target over a time, a value every grain milliseconds.

    `target time` (a list, spread over the inlets, or a time on inlet 1 and then a target on
    inlet 0) starts a ramp: the current value goes out at once, then a value every `grain`
    ms, the last step shorter if the time is not a multiple of the grain, ending exactly on
    the target (0 → 100 over 100 ms, grain 20: 0 20 40 60 80 100; over 50 ms, grain 20: 0 40
    80 100). A time given on
    inlet 1 is used by the next target only. A new target mid-ramp starts from where the ramp
    is at that moment; a target with no time (or a time of 0 or less) jumps there and is sent.
    A running ramp keeps the patch from being idle. Whole values are sent as integers.

    Arguments:
        initial: the value it starts at (default 0)
        grain: milliseconds between values; 0 or less means 20 (default 20)

    Inlets:
        0: a number: the target (ramp if a time was given, else jump); a list
           `target time [grain]`; `stop` ({type: "stop"}): stop where the ramp is; `set N`
           ({type: "set", value: N}): jump to N without sending
        1: a number: the time in ms of the next ramp
        2: a number: the grain; 0 or less means 20

    Outlets:
        0: the values of the ramp

    Example:
        [loadbang] -> [msg 0, 100 100] -> [line] -> [print]
    """

    name = "line"
    spreads_lists = True

    def __init__(self, initial: Number = 0, grain: Number = DEFAULT_GRAIN) -> None:
        super().__init__(inlets=3, outlets=1)
        self.value: Number = initial  # where it is, or was when the ramp started
        self.grain = _grain(grain)
        self._time: Number | None = None  # from inlet 1, for the next target only
        self._target: Number = initial
        self._started = 0.0  # the ramp's start, in ms on the patch clock
        self._duration = 0.0  # 0: no ramp running
        self._next = 0.0  # ms after the start at which the pending step is due
        self._timer: Timer | None = None

    @classmethod
    def from_text(cls, args: str, body: str | None = None) -> Line:
        return cls(*number_arguments(args, 2, "[line 0 20]"))

    def receive(self, inlet: int, message: Any) -> None:
        if inlet == 0 and _is_finite(message):
            self._go(message)
        elif inlet == 0:
            self._command(message)
        elif not _is_finite(message):
            raise self.reject(inlet, message, "a finite number")
        elif inlet == 1:
            self._time = message
        else:
            self.grain = _grain(message)

    def stop(self) -> None:
        self._halt()

    def _command(self, message: Any) -> None:
        is_set, value = set_value(message)
        if is_set and _is_finite(value):
            self._halt()
            self.value = self._target = value
        elif message == "stop" or message_type(message) == "stop":
            self.value = self._target = self._where(self.patch.now())
            self._halt()
        else:
            raise self.reject(0, message, "a number, a list `target time`, stop or set N")

    def _go(self, target: Number) -> None:
        """Start a ramp to `target` if a time was given, else jump there; send the start."""
        time, self._time = self._time, None
        if time is None or time <= 0:
            self._halt()
            self.value = self._target = target
            self.send(target)
            return
        now = self.patch.now()
        self.value = self._where(now)
        self._target, self._started, self._duration = target, now, float(time)
        self._schedule(0.0)
        self.send(whole(self.value))

    def _where(self, now: float) -> Number:
        """The ramp's value at `now` (the value itself when no ramp runs)."""
        if not self._duration:
            return self.value
        elapsed = min(max(_elapsed(self._started, now), 0.0), self._duration)
        return self._at(elapsed)

    def _at(self, elapsed: float) -> Number:
        if elapsed >= self._duration:
            return self._target
        return self.value + (self._target - self.value) * elapsed / self._duration

    def _schedule(self, elapsed: float) -> None:
        """Set the timer for the step after `elapsed`: a grain later, or at the end."""
        if self._timer is not None:
            self._timer.cancel()
        self._next = min(elapsed + self.grain, self._duration)
        self._timer = self.patch.call_later(self._next - elapsed, self._step, self)

    def _step(self) -> None:
        """A step of the ramp is due (a cascade of its own): send its value."""
        elapsed = self._next
        if elapsed >= self._duration:
            target = self._target
            self._halt()
            self.value = target
            self.send(whole(target))
            return
        self._schedule(elapsed)
        self.send(whole(self._at(elapsed)))

    def _halt(self) -> None:
        """End the running ramp (if any): no more steps, and let the patch be idle."""
        self._duration = 0.0
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None


def _is_finite(message: Any) -> bool:
    return is_number(message) and math.isfinite(message)


BOXES = (TimerBox, Line)
