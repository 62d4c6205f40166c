"""Flow: objects that order, route, gate, name and (un)bundle messages (Pd's x_connective.c)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from patchflow import BANG, ArgumentError, Box, MessageError, is_bang, message_type, parse_json5

from .math import is_number, parse_number

# -- values and argument text -----------------------------------------------------------------

_SKIP: Any = object()  # what a trigger spec yields for a message it does not pass
_QUOTES = "\"'`"
_ARG_TOKEN = re.compile(
    r""" "(?:[^"\\]|\\.)*"? | '(?:[^'\\]|\\.)*'? | `(?:[^`\\]|\\.)*`? | [\[{(] | [\]})] | \s+
       | [^"'`\[\]{}()\s]+ """,
    re.VERBOSE | re.DOTALL,
)


def split_arguments(text: str) -> list[str]:
    """Split argument text at top-level whitespace, keeping quotes and brackets whole.

    `a={x: 1, y: 2} "two words"` is two arguments, as the message box would read them.
    """
    words: list[str] = []
    current: list[str] = []
    depth = 0
    for match in _ARG_TOKEN.finditer(text):
        piece = match.group()
        if piece in "[{(":
            depth += 1
        elif piece in "]})":
            depth = max(0, depth - 1)
        elif depth == 0 and piece.isspace():
            if current:
                words.append("".join(current))
                current = []
            continue
        current.append(piece)
    if current:
        words.append("".join(current))
    return words


def json5_or_text(text: str) -> Any:
    """The JSON5 value of `text`, or `text` itself when it does not parse (`get` → "get")."""
    try:
        return parse_json5(text)
    except ValueError:
        return text


def same_value(a: Any, b: Any) -> bool:
    """Compare two messages as JSON values: `1 == 1.0`, but `1 != true` and `[1] != [true]`."""
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if is_number(a) and is_number(b):
        return a == b
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(same_value(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same_value(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b


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


def _is_string_or_control(message: Any) -> bool:
    """What Pd calls a symbol: a string, or a control message such as `[msg start]` sends."""
    return isinstance(message, str) or message_type(message) is not None


def _is_integer(message: Any) -> bool:
    if type(message) is int:
        return True
    return type(message) is float and message.is_integer()


#: spec → what it sends for a message: the message, a bang, or _SKIP; `a` is None (no test)
TRIGGER_SPECS: dict[str, Callable[[Any], Any] | None] = {
    "b": lambda message: BANG,
    "a": None,
    "s": _passing(_is_string_or_control),
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

    @classmethod
    def from_text(cls, args: str, body: str | None = None) -> Trigger:
        specs = tuple(args.split())
        return cls(specs) if specs else cls()

    async def receive(self, inlet: int, message: Any) -> None:
        for outlet, pick in self._plan:
            if pick is None:  # `a`: the same object, no test
                await self.send(message, outlet)
            else:
                value = pick(message)
                if value is not _SKIP:
                    await self.send(value, outlet)


# -- route ------------------------------------------------------------------------------------

_FIELD = re.compile(r"([^\s=\"'`\[\]{}()]+)=(.*)", re.DOTALL)


def _field_test(field: str, value: Any) -> Callable[[Any], bool]:
    def test(message: Any) -> bool:
        return isinstance(message, dict) and field in message and same_value(message[field], value)

    return test


def _word_test(word: str) -> Callable[[Any], bool]:
    def test(message: Any) -> bool:
        if isinstance(message, str):
            return message == word
        if isinstance(message, dict):
            return message.get("type") == word
        if isinstance(message, list | tuple):
            return bool(message) and message[0] == word
        return False

    return test


def _route_test(text: str) -> Callable[[Any], bool]:
    match = _FIELD.fullmatch(text)
    if match is None:
        return _word_test(_word(text))
    field, value = match.groups()
    if not value:
        raise ArgumentError(
            f"{text!r} has no value after '='; write field=value, e.g. {field}=get "
            f'(or {field}="" for the empty string)'
        )
    return _field_test(field, json5_or_text(value))


class Route(Box):
    """Send each message out of the outlet of the first test it passes, unchanged.

    A test `field=value` matches a dict whose `field` equals the value (read as JSON5, or as
    the raw text when it does not parse: `op=get` means "get", `n=1` the number 1, which
    matches 1 and 1.0 but not true). A bare `word` matches the string `word`, a dict whose
    `type` is `word`, or a list whose first element is `word` — always as a string: use
    `[select]` to compare numbers. A value with spaces is quoted: `name="a b"`.

    Arguments:
        tests: one or more `field=value` or `word`

    Inlets:
        0: any message

    Outlets:
        0…n-1: one per test, the messages that pass it (and no earlier one)
        n: every other message

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

    @classmethod
    def from_text(cls, args: str, body: str | None = None) -> Route:
        return cls(tuple(split_arguments(args)))

    async def receive(self, inlet: int, message: Any) -> None:
        for outlet, test in self._tests:
            if test(message):
                await self.send(message, outlet)
                return
        await self.send(message, len(self._tests))


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

    async def receive(self, inlet: int, message: Any) -> None:
        if inlet == 1:
            if not (is_number(message) or isinstance(message, str)):
                raise self.reject(inlet, message, "a number or string to select")
            self.values[0] = message
            return
        for outlet, value in enumerate(self.values):
            if same_value(message, value):
                await self.send(BANG, outlet)
                return
        await self.send(message, len(self.values))


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

    async def receive(self, inlet: int, message: Any) -> None:
        if inlet == 0:
            if self.open:
                await self.send(message)
        elif is_bang(message):
            self.open = not self.open
        elif isinstance(message, bool):
            self.open = message
        else:
            self.open = (is_number(message) and message != 0) or (
                isinstance(message, str) and message != ""
            )


# -- send and receive -------------------------------------------------------------------------


def _channel(args: str, name: str) -> str | None:
    words = args.split()
    if len(words) > 1:
        raise ArgumentError(f"takes one name, got {len(words)} words; e.g. [{name} counter]")
    return words[0] if words else None


def _new_channel(box: Box, inlet: int, message: Any) -> str:
    if not isinstance(message, str) or not message.strip():
        raise box.reject(inlet, message, "a name (a non-empty string)")
    return message


class Send(Box):
    """Send each message to every `[receive NAME]` in the patch, in their file order.

    The receivers' cascades complete (depth-first) before the next message is taken. A name
    nobody receives is not an error. Without a name argument the box has a right inlet that
    sets the name (as Pd's `[send]`).

    Arguments:
        name: the name to send to (optional: otherwise set it through inlet 1)

    Inlets:
        0: any message, sent to the receivers of the name
        1: (only without a name argument) a string: the name to send to from now on

    Outlets:
        none

    Example:
        [loadbang] -> [msg hello] -> [s greeting]
        [r greeting] -> [print]
    """

    name = "send"
    aliases = ("s",)

    def __init__(self, channel: str | None = None) -> None:
        super().__init__(inlets=1 if channel else 2, outlets=0)
        self.channel = channel

    @classmethod
    def from_text(cls, args: str, body: str | None = None) -> Send:
        return cls(_channel(args, "s"))

    async def receive(self, inlet: int, message: Any) -> None:
        if inlet == 1:
            self.channel = _new_channel(self, inlet, message)
        elif self.channel is None:
            raise MessageError("no name to send to yet: send a name to inlet 1 first")
        else:
            await self.patch.publish(self.channel, message)


class _Listener:
    """What a `[receive]` subscribes: messages sent to its name go straight to its outlet.

    Published messages reach a subscriber's inlet 0; a receive without a name argument uses
    inlet 0 to set its name, so the two are kept apart. For error reports the listener reads
    as its box (id, line, text).
    """

    __slots__ = ("box",)

    def __init__(self, box: Receive) -> None:
        self.box = box

    def __getattr__(self, attribute: str) -> Any:
        return getattr(self.box, attribute)

    async def receive(self, inlet: int, message: Any) -> None:
        await self.box.send(message)


class Receive(Box):
    """Send on whatever `[send NAME]` boxes send to its name.

    Receivers of one name get each message in subscription order: the order of the
    `[receive]` boxes in the file (a box renamed through its inlet moves to the end).
    Without a name argument the box has an inlet that sets the name (as Pd's `[receive]`).

    Arguments:
        name: the name to receive (optional: otherwise set it through inlet 0)

    Inlets:
        0: (only without a name argument) a string: the name to receive from now on

    Outlets:
        0: every message sent to the name

    Example:
        [r greeting] -> [print]
        [loadbang] -> [msg hello] -> [s greeting]
    """

    name = "receive"
    aliases = ("r",)

    def __init__(self, channel: str | None = None) -> None:
        super().__init__(inlets=0 if channel else 1, outlets=1)
        self.channel = channel
        self._listener = _Listener(self)
        self._subscribed: str | None = None

    @classmethod
    def from_text(cls, args: str, body: str | None = None) -> Receive:
        return cls(_channel(args, "r"))

    def start(self) -> None:
        self._subscribe()

    def stop(self) -> None:
        if self._subscribed is not None:
            self.patch.unsubscribe(self._subscribed, self._listener)  # type: ignore[arg-type]
            self._subscribed = None

    def _subscribe(self) -> None:
        if self.channel is not None:
            self.patch.subscribe(self.channel, self._listener)  # type: ignore[arg-type]
            self._subscribed = self.channel

    async def receive(self, inlet: int, message: Any) -> None:
        channel = _new_channel(self, inlet, message)
        self.stop()
        self.channel = channel
        self._subscribe()


# -- pack and unpack --------------------------------------------------------------------------

#: slot kind → (initial value, test for what it stores, what the test expects)
_PACK_SLOTS: dict[str, tuple[Any, Callable[[Any], bool], str]] = {
    "f": (0, is_number, "a number"),
    "s": ("", _is_string_or_control, "a string or control message"),
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
           `a` slot too — a bang is never stored there)
        1…n-1: a value for that slot, stored without sending

    Outlets:
        0: the list of the slots' values (a new list each time)

    Example:
        p = [pack f s]
        [loadbang] -> [msg 'hi'] -> 1:p
        [loadbang] -> [msg 5] -> p -> [print]
    """

    name = "pack"

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

    async def receive(self, inlet: int, message: Any) -> None:
        if inlet == 0 and is_bang(message):
            await self.send(list(self.values))
            return
        test, expected = self._checks[inlet]
        if not test(message):
            raise self.reject(inlet, message, f"{expected} or bang" if inlet == 0 else expected)
        self.values[inlet] = message
        if inlet == 0:
            await self.send(list(self.values))


class Unpack(Box):
    """Send the elements of a list out of separate outlets, right to left (as Pd does).

    Element k goes out of outlet k; what is left of a longer list goes out of the last outlet,
    as a list, first of all. A shorter list sends only the elements it has.

    Arguments:
        n: how many elements get an outlet of their own (default 2)

    Inlets:
        0: a list

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

    async def receive(self, inlet: int, message: Any) -> None:
        if not isinstance(message, list | tuple):
            raise self.reject(inlet, message, "a list")
        count = self.count
        if len(message) > count:
            await self.send(list(message[count:]), count)
        for outlet in reversed(range(min(count, len(message)))):
            await self.send(message[outlet], outlet)


BOXES = (Trigger, Route, Select, Spigot, Send, Receive, Pack, Unpack)
