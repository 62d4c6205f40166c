"""Lists: `[pack]` gathers values into a list, `[unpack]` spreads a list over outlets."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from patchflow import ArgumentError, Box, is_bang, is_number, is_string_or_control, parse_number

#: slot kind → (initial value, test for what it stores, what the test expects)
_PACK_SLOTS: dict[str, tuple[Any, Callable[[Any], bool], str]] = {
    "f": (0, is_number, "a number"),
    "s": ("", is_string_or_control, "a string or control message"),
    "a": (None, lambda m: True, "any message"),
}


class Pack(Box):
    """Combine values from several inlets into one list.

    Each argument makes a slot and an inlet: `f` holds a number (initially 0), `s` a string
    or control message, as `[t s]` passes (initially ""), `a` any message (initially null),
    and a number holds a number starting at that value. The left inlet is hot: it stores and
    sends the list; the others only store.

    Arguments:
        slots: one per inlet, each `f`, `s`, `a` or a number; default `0 0`

    Inlets:
        0: a value for slot 0: stores it and sends the list; a bang sends the list (for an
           `a` slot too — a bang is never stored there); a list fills the slots from its
           elements (slot i from element i, extra elements dropped) and sends
        1…n-1: a value for that slot, stored without sending

    Outlets:
        0: the list of the slots' values (a new list each time)

    Example:
        p = [pack f s]
        [loadbang] -> [msg 'hi'] -> 1:p
        [loadbang] -> [msg 5] -> p -> [print]
    """

    name = "pack"
    spreads_lists = True

    def __init__(self, slots: tuple[str, ...] = ("0", "0")) -> None:
        super().__init__(inlets=len(slots), outlets=1)
        self.values: list[Any] = []
        self._checks: list[tuple[Callable[[Any], bool], str]] = []
        for slot in slots:
            number = parse_number(slot)
            if number is not None:
                initial, test, expected = number, is_number, "a number"
            elif slot in _PACK_SLOTS:
                initial, test, expected = _PACK_SLOTS[slot]
            else:
                raise ArgumentError(
                    f"unknown slot {slot!r}; each slot is f, s, a or a number (e.g. [pack f s 0])"
                )
            self.values.append(initial)
            self._checks.append((test, expected))

    @classmethod
    def from_text(cls, args: str, body: str | None = None) -> Pack:
        slots = tuple(args.split())
        return cls(slots) if slots else cls()

    def receive(self, inlet: int, message: Any) -> None:
        if inlet == 0 and is_bang(message):
            self.send(list(self.values))
            return
        test, expected = self._checks[inlet]
        if not test(message):
            raise self.reject(inlet, message, f"{expected} or bang" if inlet == 0 else expected)
        self.values[inlet] = message
        if inlet == 0:
            self.send(list(self.values))


class Unpack(Box):
    """Send the elements of a list out of separate outlets, right to left (as Pd does).

    Element k goes out of outlet k; what is left of a longer list goes out of the last outlet,
    as a list, first of all. A shorter list sends only the elements it has. A value that is
    not a list counts as a list of one, and a bang as the empty list (as in Pd).

    Arguments:
        n: how many elements get an outlet of their own (default 2)

    Inlets:
        0: a list (any other value: a list of that one value; a bang: the empty list)

    Outlets:
        0…n-1: element 0…n-1 of the list
        n: the elements after the first n, as a list (only when there are any)

    Example:
        u = [unpack 2]
        [loadbang] -> [msg [1, 2, 3]] -> u
        u:0 -> [print a]
        u:1 -> [print b]
        u:2 -> [print rest]
    """

    name = "unpack"

    def __init__(self, count: int = 2) -> None:
        super().__init__(inlets=1, outlets=count + 1)
        self.count = count

    @classmethod
    def from_text(cls, args: str, body: str | None = None) -> Unpack:
        text = args.strip()
        if not text:
            return cls()
        if not (text.isascii() and text.isdigit()) or int(text) < 1:
            raise ArgumentError(f"expected a count of 1 or more, got {text!r}; e.g. [unpack 3]")
        return cls(int(text))

    def receive(self, inlet: int, message: Any) -> None:
        if not isinstance(message, list | tuple):
            message = [] if is_bang(message) else [message]  # as Pd's lists
        count = self.count
        if len(message) > count:
            self.send(list(message[count:]), count)
        for outlet in reversed(range(min(count, len(message)))):
            self.send(message[outlet], outlet)


BOXES = (Pack, Unpack)
