"""More of Pd's control flow (x_connective.c): bang, change, moses, swap, until and value."""

from __future__ import annotations

import math
from typing import Any
from weakref import WeakKeyDictionary

from patchflow import (
    BANG,
    ArgumentError,
    Box,
    MessageError,
    Number,
    is_bang,
    is_number,
    message_type,
    split_arguments,
)

from .arithmetic import number_arguments


def first_of(message: Any) -> Any:
    """What a one-inlet object takes from a list: its first element, as Pd's list rule gives."""
    if isinstance(message, list | tuple) and message:
        return message[0]
    return message


def set_value(message: Any) -> tuple[bool, Any]:
    """Read a `set` message (`{type: "set", value: v}`, `["set", v]`): (is it one, v)."""
    if message_type(message) == "set" and "value" in message:
        return True, message["value"]
    if isinstance(message, list | tuple) and len(message) == 2:
        head = message[0]
        if head == "set" or message_type(head) == "set":
            return True, message[1]
    return False, None


class Bang(Box):
    """Send a bang for any message.

    Arguments:
        none

    Inlets:
        0: any message

    Outlets:
        0: a bang ({"type": "bang"})

    Example:
        [loadbang] -> [msg 5] -> [b] -> [print]
    """

    name = "bang"
    aliases = ("b",)

    def receive(self, inlet: int, message: Any) -> None:
        self.send(BANG)


class Change(Box):
    """Pass a number only when it differs from the last one.

    Numbers compare by value (1 equals 1.0). The last number starts as the argument, so the
    first 0 into a plain `[change]` does not pass.

    Arguments:
        initial: the number it starts from (default 0)

    Inlets:
        0: a number: send it if it differs from the last one, and keep it; a bang: send the
           last number; `set N` ({type: "set", value: N}): keep N without sending

    Outlets:
        0: the numbers that changed

    Example:
        [loadbang] -> [msg 1, 1, 2] -> [change] -> [print]
    """

    name = "change"

    def __init__(self, initial: Number = 0) -> None:
        super().__init__(inlets=1, outlets=1)
        self.value = initial

    @classmethod
    def from_text(cls, args: str, body: str | None = None) -> Change:
        return cls(*number_arguments(args, 1, "[change 0]"))

    def receive(self, inlet: int, message: Any) -> None:
        is_set, value = set_value(message)
        if is_set:
            if not is_number(value):
                raise self.reject(inlet, message, "a number, a bang or set N")
            self.value = value
            return
        message = first_of(message)
        if is_number(message):
            if message != self.value:
                self.value = message
                self.send(message)
        elif is_bang(message):
            self.send(self.value)
        else:
            raise self.reject(inlet, message, "a number, a bang or set N")


class Moses(Box):
    """Send a number out of the left outlet when below a bound, else out of the right.

    Arguments:
        n: the bound (default 0)

    Inlets:
        0: a number: below n it goes out of outlet 0, at or above n out of outlet 1
        1: a number: the new bound, stored without sending

    Outlets:
        0: the numbers below n
        1: the numbers at or above n

    Example:
        m = [moses 10]
        [loadbang] -> [msg 3, 12] -> m
        m:0 -> [print low]
        m:1 -> [print high]
    """

    name = "moses"
    spreads_lists = True

    def __init__(self, bound: Number = 0) -> None:
        super().__init__(inlets=2, outlets=2)
        self.bound = bound

    @classmethod
    def from_text(cls, args: str, body: str | None = None) -> Moses:
        return cls(*number_arguments(args, 1, "[moses 10]"))

    def receive(self, inlet: int, message: Any) -> None:
        if not is_number(message):
            raise self.reject(inlet, message, "a number")
        if inlet == 1:
            self.bound = message
        else:
            self.send(message, 0 if message < self.bound else 1)


class Swap(Box):
    """Send two numbers in swapped order: the left one out of the right outlet, first.

    Arguments:
        n: the right number it starts with (default 0)

    Inlets:
        0: a number: send it out of outlet 1, then the right number out of outlet 0; a bang:
           send both again
        1: a number: the new right number, stored without sending

    Outlets:
        0: the right number (sent second)
        1: the left number (sent first)

    Example:
        s = [swap 5]
        [loadbang] -> [msg 1] -> s
        s:0 -> [print left]
        s:1 -> [print right]
    """

    name = "swap"
    spreads_lists = True

    def __init__(self, right: Number = 0) -> None:
        super().__init__(inlets=2, outlets=2)
        self.left: Number = 0
        self.right = right

    @classmethod
    def from_text(cls, args: str, body: str | None = None) -> Swap:
        return cls(*number_arguments(args, 1, "[swap 5]"))

    def receive(self, inlet: int, message: Any) -> None:
        if is_number(message):
            if inlet == 1:
                self.right = message
                return
            self.left = message
        elif inlet == 1 or not is_bang(message):
            raise self.reject(inlet, message, "a number" if inlet else "a number or bang")
        self.send(self.left, 1)
        self.send(self.right, 0)


#: how many bangs `[until]` sends without a stop before it gives up with an error
UNTIL_LIMIT = 1_000_000


class Until(Box):
    """Send bangs in a loop: a given number of them, or until a bang on the right inlet.

    The loop runs inside the box: each bang is a separate send whose cascade completes
    before the next, so a loop of any length never nests deeper (the runaway guard does not
    see it). A bang on the right inlet, from the loop's own cascade, stops it after the
    current bang. An open-ended loop (a bang on the left) that has sent 1,000,000 bangs
    without being stopped is an error, not a hang. A loop started again from inside its own
    cascade restarts the count, as in Pd.

    Arguments:
        none

    Inlets:
        0: a bang: loop until stopped; a number N: send N bangs (truncated; 0 or less sends
           none)
        1: a bang: stop the loop

    Outlets:
        0: the bangs

    Example:
        u = [until]
        count = [f]
        [loadbang] -> [msg 3] -> u -> count -> [+ 1] -> 1:count
        count -> [print]
    """

    name = "until"

    def __init__(self) -> None:
        super().__init__(inlets=2, outlets=1)
        self._running = False
        self._left = -1  # bangs left to send; negative: no count (as Pd's x_count)

    def receive(self, inlet: int, message: Any) -> None:
        if inlet == 1:
            if not is_bang(message):
                raise self.reject(inlet, message, "a bang (to stop the loop)")
            self._running = False
            return
        message = first_of(message)
        if is_bang(message):
            self._loop(-1)
        elif is_number(message) and math.isfinite(message):
            self._loop(max(int(message), 0))
        else:
            raise self.reject(inlet, message, "a bang or a finite number of bangs")

    def _loop(self, count: int) -> None:
        self._running, self._left = True, count
        sent = 0
        while self._running and self._left:
            if self._left > 0:
                self._left -= 1
            elif sent >= UNTIL_LIMIT:
                self._running = False
                raise MessageError(
                    f"looped {UNTIL_LIMIT:,} times without a bang on inlet 1 to stop it; wire "
                    "the stopping condition to the right inlet, or send a number of bangs"
                )
            sent += 1
            self.send(BANG)


_variables: WeakKeyDictionary[Any, dict[str, Any]] = WeakKeyDictionary()


class Value(Box):
    """A named variable shared by every `[value NAME]` box of the patch.

    A bang sends the value; anything else stores it (a number, as in Pd, but also a string,
    list or dict). Before anything is stored, the value is 0. Each run of the patch starts
    afresh.

    Arguments:
        name: the variable's name

    Inlets:
        0: a bang: send the value; any other message: store it, without sending

    Outlets:
        0: the value

    Example:
        [loadbang] -> [msg 120] -> [v tempo]
        [loadbang] -> [v tempo] -> [print]
    """

    name = "value"
    aliases = ("v",)

    def __init__(self, variable: str) -> None:
        super().__init__(inlets=1, outlets=1)
        self.variable = variable
        self._values: dict[str, Any] = {}

    @classmethod
    def from_text(cls, args: str, body: str | None = None) -> Value:
        words = split_arguments(args)
        if len(words) != 1:
            got = f"got {args.strip()!r}" if words else "got none"
            raise ArgumentError(f"takes one name, {got}; e.g. [v tempo]")
        return cls(words[0])

    def start(self) -> None:
        values = _variables.get(self.patch)
        if values is None:
            values = _variables[self.patch] = {}
        self._values = values

    def receive(self, inlet: int, message: Any) -> None:
        if is_bang(message):
            self.send(self._values.get(self.variable, 0))
        else:
            self._values[self.variable] = message


BOXES = (Bang, Change, Moses, Swap, Until, Value)
