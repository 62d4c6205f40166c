"""`[list …]`: one object with a sub-command, as Pd's x_list.c (append, prepend, split, length).

Every sub-command takes any message as a list: a list as it is, a bang as the empty list and
anything else as a list of one element, as Pd's list inlets do. What it sends is always a list
(`[]` where Pd would send a bang), except `length`, which sends a number.
"""

from __future__ import annotations

import math
from typing import Any

from patchflow import (
    ArgumentError,
    Box,
    is_bang,
    is_number,
    json5_or_text,
    parse_number,
    split_arguments,
)

SUBCOMMANDS = ("append", "prepend", "split", "length")


def as_list(message: Any) -> list[Any]:
    """A message as a list: a list's elements, [] for a bang, else the message alone."""
    if isinstance(message, list | tuple):
        return list(message)
    return [] if is_bang(message) else [message]


def _split_count(text: str) -> int:
    number = parse_number(text)
    if type(number) is not int or number < 0:
        raise ArgumentError(
            f"[list split] needs a count of 0 or more, got {text!r}; e.g. [list split 2]"
        )
    return number


class List(Box):
    """Work on lists: append, prepend, split or measure them (Pd's `[list …]`).

    The first argument names the sub-command; without one (or when it is a value rather
    than a word) the box is `list append`, as in Pd. A message that is not a list counts as
    a list of one element, a bang as the empty list.

    - `[list append VALUES]`: sends the input with the stored list after it
    - `[list prepend VALUES]`: sends the input with the stored list before it
    - `[list split N]`: sends the elements after the first N out of outlet 1, then the first
      N out of outlet 0 (Pd's order), or the whole input out of outlet 2 when it has fewer
      than N elements; an empty part is sent as `[]`
    - `[list length]`: sends how many elements the input has
    - `[list view]`: prints each element of a list (or of a `{docs: […]}` reply's docs),
      one `list view: VALUE` line each: Patchies' list view without a screen

    Arguments:
        sub-command: `append`, `prepend`, `split` or `length` (default `append`)
        values: for append and prepend, the stored list, each argument one element (JSON5,
                or the word as a string): `[list append a 9]` stores ["a", 9]
        n: for split, how many elements go out of the left outlet (a whole number ≥ 0)

    Inlets:
        0: any message, taken as a list
        1: (append, prepend) any message: the new stored list; (split) a number: the new n

    Outlets:
        0: (append, prepend) the joined list; (split) the first n elements; (length) the
           number of elements
        1: (split) the elements after the first n
        2: (split) the input, when it has fewer than n elements

    Example:
        s = [list split 1]
        [loadbang] -> [msg [1, 2, 3]] -> s
        s:0 -> [print head]
        s:1 -> [print tail]
    """

    name = "list"

    def __init__(self, command: str = "append", values: tuple[Any, ...] = (), count: int = 0):
        if command not in SUBCOMMANDS:
            raise ArgumentError(
                f"unknown sub-command {command!r}; [list] takes "
                f"{', '.join(SUBCOMMANDS[:-1])} or {SUBCOMMANDS[-1]}, e.g. [list split 2]"
            )
        inlets, outlets = {"split": (2, 3), "length": (1, 1)}.get(command, (2, 1))
        super().__init__(inlets=inlets, outlets=outlets)
        self.command = command
        self.stored = list(values)
        self.count = count
        self._handle = getattr(self, f"_{command}")

    @classmethod
    def from_text(cls, args: str, body: str | None = None) -> List:
        words = split_arguments(args)
        command = "append"
        if words and words[0].isidentifier() and words[0] not in ("true", "false", "null"):
            command, words = words[0], words[1:]
        if command == "view":  # Patchies' list view, headless: prints each element
            from .patchies import ListView

            return ListView.from_words(words)  # type: ignore[return-value]
        if command == "split":
            if len(words) > 1:
                raise ArgumentError(f"[list split] takes one count, got {' '.join(words)!r}")
            return cls(command, count=_split_count(words[0]) if words else 0)
        if command == "length" and words:
            raise ArgumentError(f"[list length] takes no arguments, got {' '.join(words)!r}")
        return cls(command, tuple(json5_or_text(word) for word in words))

    def receive(self, inlet: int, message: Any) -> None:
        if inlet == 0:
            self._handle(as_list(message))
        elif self.command == "split":
            if not (is_number(message) and math.isfinite(message)):
                raise self.reject(inlet, message, "a number (how many elements to split off)")
            self.count = max(int(message), 0)
        else:
            self.stored = as_list(message)

    def _append(self, items: list[Any]) -> None:
        self.send(items + self.stored)

    def _prepend(self, items: list[Any]) -> None:
        self.send(self.stored + items)

    def _split(self, items: list[Any]) -> None:
        count = self.count
        if len(items) < count:
            self.send(items, 2)
            return
        self.send(items[count:], 1)
        self.send(items[:count], 0)

    def _length(self, items: list[Any]) -> None:
        self.send(len(items))


BOXES = (List,)
