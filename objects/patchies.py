"""Headless stand-ins for Patchies' screen objects, so that its example patches run as written.

Patchies draws `[text input]` as a text field and `[list view]` as a list on screen; a patch
run from a terminal has neither, so the field reads lines of standard input and the list
prints its elements. `[list view]` is a sub-command of `[list]` (listops.py hands it here).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from patchflow import ArgumentError, Box, to_json


class Text(Box):
    """`[text input]`: send each line of standard input as a string (Patchies' text field).

    The headless stand-in for the text field of Patchies' examples: each line typed (or
    piped in) is sent as a string, without its line ending, as `[stdin]` does. The patch is
    not idle until the input ends.

    Arguments:
        input: the only kind of `[text …]` box there is

    Inlets:
        none

    Outlets:
        0: each line of input, as a string

    Example:
        [text input] -> [print typed]
    """

    name = "text"

    def __init__(self) -> None:
        super().__init__(inlets=0, outlets=1)

    @classmethod
    def from_text(cls, args: str, body: str | None = None) -> Text:
        if args.split() != ["input"]:
            raise ArgumentError(f"only [text input] exists; got [text {args.strip()}]")
        return cls()

    def start(self) -> None:
        self.patch.read_lines(self, self.send, _nothing)


def _nothing() -> None:
    """The end of input: a text field has nothing to say about it."""


class ListView(Box):
    """`[list view]`: print each element of a list, one `list view: VALUE` line each.

    Patchies' list view, without a screen: a list is shown element by element in `[print]`'s
    format; a dict with a `docs` list (a `[db]` find reply) shows its documents.
    """

    name = "list"
    LABEL = "list view"

    def __init__(self) -> None:
        super().__init__(inlets=1, outlets=0)

    @classmethod
    def from_words(cls, words: Sequence[str]) -> ListView:
        if words:
            raise ArgumentError(f"[list view] takes no arguments; got {' '.join(words)!r}")
        return cls()

    def receive(self, inlet: int, message: Any) -> None:
        items = message.get("docs") if isinstance(message, dict) else message
        if not isinstance(items, list):
            raise self.reject(inlet, message, "a list, or a dict with a list in `docs`")
        for item in items:
            self.patch.print_line(f"{self.LABEL}: {to_json(item)}")


BOXES = (Text,)
