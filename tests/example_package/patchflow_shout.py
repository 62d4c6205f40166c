"""An object package outside patchflow: what a third-party package looks like.

It imports only the public `patchflow` API and is found through its `patchflow.objects` entry
point (in `patchflow_shout-1.0.dist-info/entry_points.txt`), as an installed package's would be.
"""

from __future__ import annotations

from typing import Any

from patchflow import ArgumentError, Box, is_number, same_value, split_arguments


class Shout(Box):
    """Send strings in capitals, with a suffix; numbers equal to a quiet value are dropped.

    Arguments:
        suffix: text put after each string (a quoted argument may hold spaces)
        quiet: a number that is not sent on (optional)

    Inlets:
        0: a string or a number

    Outlets:
        0: the string in capitals with the suffix, or the number

    Example:
        [loadbang] -> [msg 'hi'] -> [shout "!!"] -> [print]
    """

    name = "shout"

    def __init__(self, suffix: str = "", quiet: Any = None) -> None:
        super().__init__(inlets=1, outlets=1)
        self.suffix = suffix
        self.quiet = quiet

    @classmethod
    def from_text(cls, args: str, body: str | None = None) -> Shout:
        words = [word.strip("\"'") for word in split_arguments(args)]
        if len(words) > 2:
            raise ArgumentError(f"takes a suffix and a quiet number; got {args.strip()!r}")
        quiet = float(words[1]) if len(words) == 2 else None
        return cls(*words[:1], quiet=quiet)

    def receive(self, inlet: int, message: Any) -> None:
        if isinstance(message, str):
            self.send(message.upper() + self.suffix)
        elif is_number(message):
            if not same_value(message, self.quiet):
                self.send(message)
        else:
            raise self.reject(inlet, message, "a string or a number")


BOXES = (Shout,)
