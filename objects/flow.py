"""Flow: objects that order, route, gate, name and (un)bundle messages (Pd's x_connective.c)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from patchflow import (
    BANG,
    ArgumentError,
    Box,
    is_bang,
    is_number,
    is_string_or_control,
    json5_or_text,
    message_type,
    parse_number,
    same_value,
    split_arguments,
)

# -- values and argument text -----------------------------------------------------------------

_SKIP: Any = object()  # what a trigger spec yields for a message it does not pass
_QUOTES = "\"'`"


def _word(text: str) -> str:
    """A bare word as written, or the string a quoted word spells (`"two words"`)."""
    if text[:1] in _QUOTES:
        value = json5_or_text(text)
        if isinstance(value, str):
            return value
    return text


# -- trigger ----------------------------------------------------------------------------------


def _passing(test: Callable[[Any], bool]) -> Callable[[Any], Any]:
    return lambda message: message if test(message) else _SKIP


def _is_integer(message: Any) -> bool:
    if type(message) is int:
        return True
    return type(message) is float and message.is_integer()


#: spec → what it sends for a message: the message, a bang, or _SKIP; `a` is None (no test)
TRIGGER_SPECS: dict[str, Callable[[Any], Any] | None] = {
    "b": lambda message: BANG,
    "a": None,
    "s": _passing(is_string_or_control),
    "t": _passing(lambda m: isinstance(m, str)),
    "l": _passing(lambda m: isinstance(m, list | tuple)),
    "n": _passing(is_number),
    "f": _passing(is_number),
    "i": _passing(_is_integer),
    "o": _passing(lambda m: isinstance(m, dict)),
    "null": _passing(lambda m: m is None),
}


class Trigger(Box):
    """Send the input on every outlet, right to left, as the types given allow.

    Use it wherever the order of sends matters: fan-out from one outlet follows the file, but
    a trigger always fires its rightmost outlet first. Each spec makes one outlet: `b` sends a
    new bang whatever arrives; the others pass the input unchanged when it is of their type
    and send nothing when it is not. A whole number `3.0` counts as an integer for `i`.

    Arguments:
        specs: one per outlet, each one of `b` (bang), `a` (anything), `s` (string or
               control message), `t` (string), `l` (list), `n` or `f` (number), `i` (integer),
               `o` (dict), `null`; default `b n`

    Inlets:
        0: any message

    Outlets:
        0…n-1: one per spec, fired from the last to the first

    Example:
        t = [t b a]
        [loadbang] -> [msg 5] -> t
        t:1 -> [print first]
        t:0 -> [print second]
    """

    name = "trigger"
    aliases = ("t",)

    def __init__(self, specs: tuple[str, ...] = ("b", "n")) -> None:
        unknown = [spec for spec in specs if spec not in TRIGGER_SPECS]
        if unknown:
            raise ArgumentError(
                f"unknown spec {unknown[0]!r}; each spec is one of "
                f"{' '.join(TRIGGER_SPECS)} (e.g. [t b a])"
            )
        super().__init__(inlets=1, outlets=len(specs))
        self.specs = specs
        # Right to left, with each spec's picker looked up once here, not per message.
        self._plan = tuple(
            (outlet, TRIGGER_SPECS[specs[outlet]]) for outlet in reversed(range(len(specs)))
        )
        # `[t a]` passes everything on unchanged: the core relays it (one call per wire, not two)
        self.passes_through = specs == ("a",)

    @classmethod
    def from_text(cls, args: str, body: str | None = None) -> Trigger:
        specs = tuple(args.split())
        return cls(specs) if specs else cls()

    def receive(self, inlet: int, message: Any) -> None:
        for outlet, pick in self._plan:
            if pick is None:  # `a`: the same object, no test
                self.send(message, outlet)
            else:
                value = pick(message)
                if value is not _SKIP:
                    self.send(value, outlet)


# -- route ------------------------------------------------------------------------------------

_FIELD = re.compile(r"([^\s=\"'`\[\]{}()]+)=(.*)", re.DOTALL)


#: a route test: what to send for a message that passes it, or _SKIP
RouteTest = Callable[[Any], Any]


def _field_test(field: str, value: Any) -> RouteTest:
    """The test `field=value`: `same_value(message[field], value)` for a dict with `field`.

    Specialised here for the kind of `value`, because a route runs its test on every message
    (the README counter's `[route op=get]` twice a cascade): `same_value` finds out what its
    arguments are with a chain of isinstance calls, while for a known `value` the answer is
    one comparison. Each form is `same_value` with `value` fixed (tests/objects/test_flow.py
    checks them against it): a string is equal only to a `str` that is equal to it; a number
    to a number (not a bool) that is equal, NaN to NaN; null, true and false only to
    themselves; a list or dict goes through `same_value` itself.
    """
    kind = type(value)
    if kind is str:

        def test(message: Any) -> Any:
            if isinstance(message, dict) and field in message:
                found = message[field]
                if found.__class__ is str and found == value:
                    return message
            return _SKIP

    elif kind is int or kind is float:
        nan = value != value

        def test(message: Any) -> Any:
            if isinstance(message, dict) and field in message:
                found = message[field]
                cls = found.__class__
                if (cls is int or cls is float or (cls is not bool and is_number(found))) and (
                    found == value or (nan and found != found)
                ):
                    return message
            return _SKIP

    elif value is None or kind is bool:

        def test(message: Any) -> Any:
            if isinstance(message, dict) and field in message and message[field] is value:
                return message
            return _SKIP

    else:

        def test(message: Any) -> Any:
            if isinstance(message, dict) and field in message and same_value(message[field], value):
                return message
            return _SKIP

    return test


def _word_test(word: str) -> RouteTest:
    def test(message: Any) -> Any:
        if isinstance(message, str):
            return message if message == word else _SKIP
        if isinstance(message, dict):
            return message if message.get("type") == word else _SKIP
        if isinstance(message, list | tuple) and message:
            head = message[0]
            if head == word if isinstance(head, str) else message_type(head) == word:
                return _rest(message)
        return _SKIP

    return test


def _rest(message: list[Any] | tuple[Any, ...]) -> Any:
    """A list without its head, as Pd's route sends it: one element alone, none as a bang."""
    if len(message) == 1:
        return BANG
    if len(message) == 2:
        return message[1]
    return list(message[1:])


def _field_and_value(text: str) -> tuple[str, Any] | None:
    """The field and value of a test `field=value`; None for a bare word."""
    match = _FIELD.fullmatch(text)
    if match is None:
        return None
    field, value = match.groups()
    if not value:
        raise ArgumentError(
            f"{text!r} has no value after '='; write field=value, e.g. {field}=get "
            f'(or {field}="" for the empty string)'
        )
    return field, json5_or_text(value)


def _route_test(text: str) -> RouteTest:
    parsed = _field_and_value(text)
    if parsed is None:
        return _word_test(_word(text))
    return _field_test(*parsed)


def _string_table(tests: tuple[str, ...]) -> tuple[str, dict[str, int]] | None:
    """The field and {string: outlet} of tests that are all `field=string` on one field.

    None for any other tests. The first test of a string wins, as in the loop over the tests.
    """
    parsed = [_field_and_value(text) for text in tests]
    if any(p is None or type(p[1]) is not str for p in parsed):
        return None
    fields = {p[0] for p in parsed if p is not None}
    if len(fields) != 1:
        return None
    table: dict[str, int] = {}
    for outlet, p in enumerate(parsed):
        if p is not None:
            table.setdefault(p[1], outlet)
    return fields.pop(), table


class Route(Box):
    """Send each message out of the outlet of the first test it passes.

    A test `field=value` matches a dict whose `field` equals the value (read as JSON5, or as
    the raw text when it does not parse: `op=get` means "get", `n=1` the number 1, which
    matches 1 and 1.0 but not true), and sends it unchanged. A bare `word` matches the string
    `word` or a dict whose `type` is `word`, sent unchanged, or a list whose first element is
    `word` or `{type: "word"}` (what `[msg word 1 2]` makes), sent without that head, as Pd
    does: the rest as a list, one element alone, nothing left as a bang. Words compare as
    strings: use `[select]` to compare numbers. A value with spaces is quoted: `name="a b"`.

    Arguments:
        tests: one or more `field=value` or `word`

    Inlets:
        0: any message

    Outlets:
        0…n-1: one per test, the messages that pass it (and no earlier one); a list
               matched by its head without the head
        n: every other message, unchanged

    Example:
        r = [route op=get bang]
        [loadbang] -> [msg {op: "get", value: 3}] -> r
        r:0 -> [print got]
        r:2 -> [print other]
    """

    name = "route"

    def __init__(self, tests: tuple[str, ...]) -> None:
        if not tests:
            raise ArgumentError("needs at least one test, e.g. [route op=get] or [route bang]")
        super().__init__(inlets=1, outlets=len(tests) + 1)
        self.tests = tests
        self._tests = tuple(enumerate(_route_test(text) for text in tests))
        # `[route op=get op=set]`, the usual route of storage replies: a dict lookup finds
        # the outlet, without a call per test (a hop costs what its calls do)
        self._field, self._table = _string_table(tests) or (None, {})

    @classmethod
    def from_text(cls, args: str, body: str | None = None) -> Route:
        return cls(tuple(split_arguments(args)))

    def receive(self, inlet: int, message: Any) -> None:
        # `_outlets[n](m)` is `send(m, n)` without its call (box.py): a route is on hot paths
        outlets = self._outlets
        field = self._field
        if field is not None:  # every test is `field=string`: what `_field_test` does, once
            if (message.__class__ is dict or isinstance(message, dict)) and field in message:
                found = message[field]
                table = self._table
                if found.__class__ is str and found in table:
                    outlets[table[found]](message)
                    return
            outlets[-1](message)
            return
        for outlet, test in self._tests:
            passed = test(message)
            if passed is not _SKIP:
                outlets[outlet](passed)
                return
        outlets[-1](message)


# -- select -----------------------------------------------------------------------------------


def _select_value(text: str) -> float | int | str:
    number = parse_number(text)
    return number if number is not None else _word(text)


class Select(Box):
    """Send a bang out of the outlet of the first value the input equals; else pass it on.

    Values are numbers (`1` equals 1.0, never true) or words (equal to that exact string).
    With a single value the right inlet replaces it, as in Pd.

    Arguments:
        values: one or more numbers or words (a quoted word may hold spaces)

    Inlets:
        0: any message, compared with the values in order
        1: (only with a single value) a number or string: the new value

    Outlets:
        0…n-1: a bang when the input equals that value (and no earlier one)
        n: the input, when it equals no value

    Example:
        s = [sel 1 stop]
        [loadbang] -> [msg 1, 2] -> s
        s:0 -> [print one]
        s:2 -> [print other]
    """

    name = "select"
    aliases = ("sel",)

    def __init__(self, values: tuple[float | int | str, ...]) -> None:
        if not values:
            raise ArgumentError("needs at least one value, e.g. [sel 0] or [sel start stop]")
        super().__init__(inlets=2 if len(values) == 1 else 1, outlets=len(values) + 1)
        self.values = list(values)

    @classmethod
    def from_text(cls, args: str, body: str | None = None) -> Select:
        return cls(tuple(_select_value(text) for text in split_arguments(args)))

    def receive(self, inlet: int, message: Any) -> None:
        if inlet == 1:
            if not (is_number(message) or isinstance(message, str)):
                raise self.reject(inlet, message, "a number or string to select")
            self.values[0] = message
            return
        for outlet, value in enumerate(self.values):
            if same_value(message, value):
                self.send(BANG, outlet)
                return
        self.send(message, len(self.values))


# -- spigot -----------------------------------------------------------------------------------


class Spigot(Box):
    """Pass messages through while open; the right inlet opens and closes it.

    Arguments:
        state: `1` to start open; `0` or nothing to start closed

    Inlets:
        0: any message, sent on while open
        1: a number ≠ 0, true or a non-empty string opens; 0, false, an empty string or any
           other message closes; a bang toggles

    Outlets:
        0: the messages of inlet 0 while open

    Example:
        gate = [spigot]
        [loadbang] -> [msg 1, 2] -> gate -> [print]
        [loadbang] -> [msg true] -> 1:gate
        [loadbang] -> [msg 3] -> gate
    """

    name = "spigot"

    def __init__(self, is_open: bool = False) -> None:
        super().__init__(inlets=2, outlets=1)
        self.open = is_open

    @classmethod
    def from_text(cls, args: str, body: str | None = None) -> Spigot:
        text = args.strip()
        if text not in ("", "0", "1"):
            raise ArgumentError(f"expected 0 (closed) or 1 (open), got {text!r}; e.g. [spigot 1]")
        return cls(is_open=text == "1")

    def receive(self, inlet: int, message: Any) -> None:
        if inlet == 0:
            if self.open:
                self.send(message)
        elif is_bang(message):
            self.open = not self.open
        elif isinstance(message, bool):
            self.open = message
        else:
            self.open = (is_number(message) and message != 0) or (
                isinstance(message, str) and message != ""
            )


BOXES = (Trigger, Route, Select, Spigot)
