"""Declare a storage command once, as an attrs class; the rest is derived from it.

A command class (see `kv.py`, `db.py`), decorated with `@command_class`, declares:

- `owner` (`"kv"`/`"db"`) and `verb` (`"get"`), class variables;
- its fields, in positional order, with `text()`, `value()`, `required(...)` or `optional(...)`
  (what each must be, for the error text; `string` fields take `[msg]` shorthand tokens raw;
  which optional fields are keyword-only in Python);
- `replies`: the fields of its reply after `op`, for the help text;
- a docstring whose first line is its one-line help (and the Python method's summary);
- `run(backend, store)`, one transaction returning a Python result, and `reply(result)`.

From that, `command_set.py` derives the `[msg]` shorthand schema, the `[kv]`/`[db]` help's
command and reply lists, the parser and its "expected one of ..." text, and the method of the
`KV`/`DB` Python facade; this module derives the "needs ..." text of a wrong command. A field
the message leaves out gets its default: `NOT_GIVEN` for a required field (its validator then
raises `invalid(command)`), or a real default for an optional one. Every problem is a
`CommandError` whose message names the box class, the command and what was expected, and shows
the message as received: `kv: 'set' needs key (string) and value; got {"type": "set", "key": 5}`.
"""

from __future__ import annotations

import functools
import inspect
import re
from typing import Any, ClassVar

import attrs

from ...errors import CommandError
from ...render import describe as render_value
from ...schemas import Field, Schema

__all__ = [
    "ABSENT",
    "NOT_GIVEN",
    "Command",
    "InvalidCommand",
    "any_value",
    "command_class",
    "describe",
    "error_reply",
    "invalid",
    "optional",
    "required",
    "text",
]


class _NotGiven:
    """The value of a field the message did not give (a given `None` is a real value)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "NOT_GIVEN"

    def __bool__(self) -> bool:
        return False


class _Absent:
    """Nothing stored there: a key without a value, a document field a path does not reach.

    Distinct from a stored `None`, which is a value like any other.
    """

    __slots__ = ()

    def __repr__(self) -> str:
        return "ABSENT"


NOT_GIVEN: Any = _NotGiven()
ABSENT: Any = _Absent()


#: How a command class is declared: a slotted attrs class compared by value. Not frozen: a
#: command is built once per message and never changed (nothing assigns to one after its
#: `__attrs_post_init__`), and a frozen class must set each field through
#: `object.__setattr__`, which cost a fifth of parsing a `set`; `on_setattr` is off for the
#: same reason (validators run when the command is built, not on assignment).
command_class = attrs.define(on_setattr=attrs.setters.NO_OP)


class Command:
    """What every storage command declares (see the module docstring); a base, not a command.

    `as_method` is False for a command that is no method of the Python facade (setStore: in
    Python, `KV.store(name)` returns a new facade instead). `batchable` is False for a command
    a `batch` may not hold (setStore, batch). `collects_rest`: in the verb-keyed and list forms,
    all the arguments together are the command's one field (batch's list of commands).
    """

    __slots__ = ()
    owner: ClassVar[str]
    verb: ClassVar[str]
    replies: ClassVar[tuple[str, ...]] = ()
    as_method: ClassVar[bool] = True
    batchable: ClassVar[bool] = True
    collects_rest: ClassVar[bool] = False

    def run(self, backend: Any, store: Any) -> Any:
        """Do the command in one transaction; return its Python result."""
        raise NotImplementedError

    #: `apply(txn, store)`, for a command whose `run` is one write transaction: that
    #: transaction's body, returning what `run` returns. A `batch` calls it in its own
    #: transaction instead of running the command through a stand-in backend (a third of a
    #: set's cost in a batch); None for the others.
    apply: Any = None

    def reply(self, result: Any) -> dict[str, Any]:
        """The reply dict for `result`: `{op: verb, ...}` with the fields of `replies`."""
        raise NotImplementedError

    def python_value(self, result: Any) -> Any:
        """What the Python method returns for `result` (the result itself, by default)."""
        return result


# ---- declaring fields ------------------------------------------------------------------------


def required(what: str = "", *, check: type | tuple[type, ...] | None = None, kind: str = "any"):
    """A field the command cannot do without.

    Args:
        what: what it must be, shown in the error text (`"dict"` → `doc (dict)`).
        check: the type(s) it must have; a value of another type is an error naming `what`.
        kind: its `[msg]` shorthand kind: `"string"` takes a token raw (`get 20` → "20").
    """
    return attrs.field(
        default=NOT_GIVEN,
        validator=_present(check),
        metadata={"what": what, "kind": kind, "optional": False, "keyword": False},
    )


def text() -> Any:
    """A required string field, taken raw from shorthand tokens (keys, names, ids)."""
    return required("string", check=str, kind="string")


def any_value() -> Any:
    """A required field that may be any message value (a stored value)."""
    return required()


def optional(default: Any = None, what: str = "", *, keyword: bool = False) -> Any:
    """A field the message may leave out (then `default`); checked by the command itself.

    `keyword`: keyword-only in the Python method (`db.find(c, q, sort=..., limit=...)`).
    """
    return attrs.field(
        default=default,
        metadata={"what": what, "kind": "any", "optional": True, "keyword": keyword},
    )


def _present(check: type | tuple[type, ...] | None) -> Any:
    def validate(command: Any, attribute: attrs.Attribute, value: Any) -> None:
        if value is NOT_GIVEN or (check is not None and not isinstance(value, check)):
            raise invalid(command)

    validate.presence_check = check  # type: ignore[attr-defined]  # for command_set.fast_builder
    return validate


# ---- derived from the declaration -----------------------------------------------------------


@functools.cache
def fields_of(cls: type) -> tuple[attrs.Attribute, ...]:
    """A command's fields, in the order positional arguments fill them."""
    return tuple(field for field in attrs.fields(cls) if field.init)


def is_optional(field: attrs.Attribute) -> bool:
    return bool(field.metadata.get("optional"))


@functools.cache
def needs(cls: type) -> str:
    """What a command's fields must be: `key (string) and value`, `collection (string), and
    optionally query (dict), ...`; `""` for a command without fields."""

    def shown(field: attrs.Attribute) -> str:
        what = field.metadata.get("what")
        return f"{field.name} ({what})" if what else field.name

    fields = fields_of(cls)
    must = _and([shown(f) for f in fields if not is_optional(f)])
    may = _and([shown(f) for f in fields if is_optional(f)])
    if not must and may:
        return f"nothing, or any of {may}"
    return f"{must}, and optionally {may}" if may else must


def _and(items: list[str]) -> str:
    return ", ".join(items[:-1]) + " and " + items[-1] if len(items) > 1 else "".join(items)


@functools.cache
def schema_of(cls: type) -> Schema:
    """The command's `[msg]` shorthand schema: its verb and fields in order."""
    return Schema(
        cls.verb,
        tuple(Field(f.name, f.metadata.get("kind", "any"), is_optional(f)) for f in fields_of(cls)),
    )


def usage(cls: type) -> str:
    """The command as the help lists it: `find{collection, query?, sort?, limit?, skip?}`."""
    names = [f.name + ("?" if is_optional(f) else "") for f in fields_of(cls)]
    return f"{cls.verb}{{{', '.join(names)}}}" if names else cls.verb


def reply_usage(cls: type) -> str:
    """The command's reply as the help lists it: `{op: "get", key, value, found}`."""
    return "{" + ", ".join([f'op: "{cls.verb}"', *cls.replies]) + "}"


def summary(cls: type) -> str:
    """The command's one-line help: the first line of its docstring."""
    return (inspect.getdoc(cls) or "").splitlines()[0]


def python_name(cls: type) -> str:
    """The Python method's name: the verb in snake_case (`findOne` → `find_one`)."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", cls.verb).lower()


# ---- errors -----------------------------------------------------------------------------------


class InvalidCommand(CommandError):
    """A command that names a known verb but whose fields are wrong."""

    def __init__(self, owner: str, verb: str, problem: str, got: Any = NOT_GIVEN):
        self.owner = owner
        self.verb = verb
        self.problem = problem
        text = f"{owner}: '{verb}' {problem}"
        if got is not NOT_GIVEN:
            text += f"; got {describe(got)}"
        super().__init__(text)

    def showing(self, got: Any) -> InvalidCommand:
        """Return the same error, showing `got` as the message received."""
        return InvalidCommand(self.owner, self.verb, self.problem, got)


def invalid(command: Any, problem: str | None = None) -> InvalidCommand:
    """Return the error for a command whose fields are wrong, showing it as a typed dict.

    `problem` defaults to what the fields must be (`needs key (string) and value`). Fields left
    at their default (db's optional `query`, `sort`, ...) are not shown.
    """
    cls = type(command)
    shown = {"type": cls.verb}
    for field in fields_of(cls):
        value = getattr(command, field.name, NOT_GIVEN)
        if value is not NOT_GIVEN and not _is_default(value, field.default):
            shown[field.name] = value
    return InvalidCommand(cls.owner, cls.verb, problem or f"needs {needs(cls)}", shown)


def _is_default(value: Any, default: Any) -> bool:
    return type(value) is type(default) and value == default


def error_reply(error: Exception) -> dict[str, Any]:
    """Return the `{op: "error", message}` reply for a failed command (with `index` for a
    failed batch: which of its commands failed)."""
    index = getattr(error, "index", None)
    if type(index) is int:
        return {"op": "error", "message": str(error), "index": index}
    return {"op": "error", "message": str(error)}


def describe(value: Any) -> str:
    """Render a value received for an error message: the engine's renderer (`render.py`), with
    room for a document (200 characters)."""
    return render_value(value, 200)
