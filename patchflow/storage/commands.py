"""Turn incoming messages into typed storage commands, in any of the three forms storage.md allows.

A `kv` or `db` box accepts each command as a typed dict (`{type: "set", key: "count", value: 5}`),
a verb-keyed dict (`{set: ["count", 5]}`, `{get: "count"}`) or a list, verb first
(`["set", "count", 5]`). In the last two the arguments fill the command's fields in order, and a
single non-list argument is one field. A command with no fields also accepts `None` or `True`
as its argument (`{keys: true}`).

Commands are frozen attrs classes (see `kv.py`) that declare `verb`, `owner` (`"kv"`/`"db"`) and
`needs` (what the fields must be, for the error message), and validate their fields when built;
the rest of the code works on them, never on raw dicts. The init fields, in order, are the
positional fields. A field the message leaves out gets its default: `MISSING` for a required
field (its validator then raises `invalid(command)`), or a real default for an optional one
(db's `query`, `sort`, `limit`, `skip`). Every problem is a `CommandError` whose
message names the box class, the command and what was expected, and shows the message as
received: `kv: 'set' needs key (string) and value; got {"type": "set", "key": 5}`.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from typing import Any, ClassVar, Protocol, TypeVar

import attrs

from ..errors import CommandError

__all__ = [
    "MISSING",
    "Command",
    "InvalidCommand",
    "describe",
    "error_reply",
    "invalid",
    "parse_command",
]

C = TypeVar("C", bound="Command")


class _Missing:
    """The value of a field the message did not give (a stored `None` is a real value)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "MISSING"

    def __bool__(self) -> bool:
        return False


MISSING: Any = _Missing()


class Command(Protocol):
    """What the parser needs of a command class."""

    owner: ClassVar[str]
    verb: ClassVar[str]
    needs: ClassVar[str]


class InvalidCommand(CommandError):
    """A command that names a known verb but whose fields are wrong."""

    def __init__(self, owner: str, verb: str, problem: str, got: Any = MISSING):
        self.owner = owner
        self.verb = verb
        self.problem = problem
        text = f"{owner}: '{verb}' {problem}"
        if got is not MISSING:
            text += f"; got {describe(got)}"
        super().__init__(text)

    def showing(self, got: Any) -> InvalidCommand:
        """Return the same error, showing `got` as the message received."""
        return InvalidCommand(self.owner, self.verb, self.problem, got)


def invalid(command: Any, problem: str | None = None) -> InvalidCommand:
    """Return the error for a command whose fields are wrong, showing it as a typed dict.

    `problem` defaults to the class's `needs` (`needs key (string) and value`). Fields left at
    their default (db's optional `query`, `sort`, ...) are not shown.
    """
    cls = type(command)
    shown = {"type": cls.verb}
    for field in attrs.fields(cls):
        if field.init:
            value = getattr(command, field.name, MISSING)
            if value is not MISSING and not _is_default(value, field.default):
                shown[field.name] = value
    return InvalidCommand(cls.owner, cls.verb, problem or f"needs {cls.needs}", shown)


def _is_default(value: Any, default: Any) -> bool:
    return type(value) is type(default) and value == default


def parse_command(owner: str, message: Any, commands: Mapping[str, type[C]]) -> C:
    """Return the command `message` asks for, in any of the three forms.

    Args:
        owner: the box class, for error messages (`"kv"`).
        message: the message received.
        commands: verb → command class, in the order error messages list them.

    Raises:
        CommandError: the message is not a command, names an unknown verb, or has wrong fields.
    """
    if isinstance(message, dict):
        if "type" in message:
            cls = _command_class(owner, message["type"], commands)
            fields = {name: message[name] for name in _field_names(cls) if name in message}
            return _build(cls, message, (), fields)
        if "op" in message:
            raise CommandError(
                f"{owner}: {describe(message)} looks like a storage reply (it has 'op' and no"
                " 'type'), not a command; route replies onwards (e.g. [route op=get]) rather"
                " than back into a store"
            )
        if len(message) == 1:
            ((verb, argument),) = message.items()
            cls = _command_class(owner, verb, commands)
            return _build(cls, message, _arguments(cls, argument), {})
        raise CommandError(
            f"{owner}: expected a command with 'type' or a single verb key, e.g."
            f' {{"type": "get", "key": "count"}} or {{"get": "count"}}; got {describe(message)}'
        )
    if isinstance(message, list | tuple) and message:
        cls = _command_class(owner, message[0], commands)
        return _build(cls, message, tuple(message[1:]), {})
    raise CommandError(
        f'{owner}: expected a command such as {{"type": "get", "key": "count"}},'
        f' {{"get": "count"}} or ["get", "count"]; got {describe(message)}'
    )


def error_reply(error: Exception) -> dict[str, Any]:
    """Return the `{op: "error", message}` reply for a failed command."""
    return {"op": "error", "message": str(error)}


def describe(value: Any, limit: int = 200) -> str:
    """Render a message value for an error message, JSON-like and at most `limit` characters.

    Unlike `json.dumps` it shows what was really received: a non-string dict key stays a number
    (`{2: 3}`), bytes show their size, a set or other object its repr; and it stops rendering
    once past the limit, so a huge value costs nothing.
    """
    parts: list[str] = []
    _render(value, parts, limit + 1)
    text = "".join(parts)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _render(value: Any, parts: list[str], budget: int) -> int:
    """Append `value`'s rendering to `parts`; return the budget left (stop at or below 0)."""
    if budget <= 0:
        return budget
    if value is None or isinstance(value, bool):
        text = {None: "null", True: "true", False: "false"}[value]
    elif isinstance(value, int | float):
        text = json.dumps(value) if type(value) in (int, float) else repr(value)
    elif isinstance(value, str):
        text = _quote(value)
    elif isinstance(value, bytes | bytearray | memoryview):
        text = f"<{len(value)} bytes>"
    elif isinstance(value, list | tuple):
        parts.append("[")
        budget -= 1
        for index, item in enumerate(value):
            if index:
                parts.append(", ")
                budget -= 2
            budget = _render(item, parts, budget)
            if budget <= 0:
                return budget
        text = "]"
    elif isinstance(value, dict):
        parts.append("{")
        budget -= 1
        for index, (key, item) in enumerate(value.items()):
            key_text = _quote(key) if isinstance(key, str) else repr(key)
            parts.append((", " if index else "") + key_text + ": ")
            budget = _render(item, parts, budget - len(key_text) - 4)
            if budget <= 0:
                return budget
        text = "}"
    else:
        text = repr(value)[:budget]
    parts.append(text)
    return budget - len(text)


def _quote(text: str) -> str:
    # JSON quoting, keeping non-ASCII readable but escaping lone surrogates, which could not
    # be printed or encoded.
    quoted = json.dumps(text, ensure_ascii=False)
    return quoted.encode("utf-8", "backslashreplace").decode("utf-8")


def _command_class(owner: str, verb: Any, commands: Mapping[str, type[C]]) -> type[C]:
    cls = commands.get(verb) if isinstance(verb, str) else None
    if cls is None:
        raise CommandError(
            f"{owner}: unknown command {describe(verb)}; expected one of {', '.join(commands)}"
        )
    return cls


@functools.cache
def _field_names(cls: type) -> tuple[str, ...]:
    """Return the names of a command's fields, in the order positional arguments fill them."""
    return tuple(field.name for field in attrs.fields(cls) if field.init)


def _arguments(cls: type, argument: Any) -> tuple[Any, ...]:
    if isinstance(argument, list | tuple):
        return tuple(argument)
    if not _field_names(cls) and (argument is None or argument is True):
        return ()
    return (argument,)


def _build(cls: type[C], message: Any, args: tuple[Any, ...], fields: dict[str, Any]) -> C:
    if len(args) > len(_field_names(cls)):
        raise InvalidCommand(cls.owner, cls.verb, _needs(cls), message)
    try:
        return cls(*args, **fields)
    except InvalidCommand as error:
        raise error.showing(message) from None


def _needs(cls: type) -> str:
    return f"needs {cls.needs}" if _field_names(cls) else "takes no arguments"
