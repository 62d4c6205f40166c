"""The commands of one kind of store, and everything derived from their declarations.

A `CommandSet` holds `kv`'s or `db`'s command classes (see `commands.py`) in the order help and
errors list them, and derives from them:

- `parse(message)`: the typed command a message asks for, in any of the three forms storage.md
  allows — a typed dict (`{type: "set", key: "count", value: 5}`), a verb-keyed dict
  (`{set: ["count", 5]}`, `{get: "count"}`) or a list, verb first (`["set", "count", 5]`). In
  the last two the arguments fill the command's fields in order, and a single non-list argument
  is one field; a command whose fields are all optional also accepts `None` or `True`
  (`{keys: true}`), and one that `collects_rest` takes all the arguments as its one field
  (`{batch: [c1, c2]}`).
  An unknown verb is an error listing the verbs: `expected one of get, set, ...`.
  Each form goes first to its command's builder compiled by `fast_builder`, which skips
  attrs' generic `__init__` and falls back on the general parse for anything unusual.
- `schemas`: the `[msg]` shorthand schemas the `[kv]`/`[db]` boxes offer.
- `help`: the command, reply and extra lists the boxes' help texts show.
- `add_methods(facade)`: one Python method per command on the `KV`/`DB` facade, with a real
  signature and the command's docstring (so `help(kv.get)` works).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import attrs

from ...errors import CommandError
from ...schemas import Schema
from .base import (
    NOT_GIVEN,
    Command,
    InvalidCommand,
    describe,
    fields_of,
    is_optional,
    needs,
    python_name,
    reply_usage,
    schema_of,
    summary,
    usage,
)

__all__ = ["CommandSet", "fast_builder"]


class CommandSet(Mapping[str, type]):
    """verb → command class for one owner (`"kv"`/`"db"`), in the order help and errors list them.

    Args:
        owner: the box class, for error messages.
        classes: the command classes.
        fast: try each command's precompiled typed-dict builder (`fast_builder`) before the
            general parse; False leaves only the general parse (the tests compare the two).
        help_extra: more lists for the help text by name (db's query operators).
    """

    def __init__(
        self,
        owner: str,
        classes: tuple[type, ...],
        *,
        fast: bool = True,
        help_extra: Mapping[str, list[str]] | None = None,
    ) -> None:
        self.owner = owner
        self._by_verb = {cls.verb: cls for cls in classes}
        self._help_extra = dict(help_extra or {})
        #: verb → the precompiled builders (see `fast_builder`) of the typed dict form and
        #: of the positional forms (list, verb-keyed); empty if not `fast`
        self._fast: dict[str, Callable[[dict[str, Any]], Any]] = {}
        self._fast_positional: dict[str, Callable[[Any, Any], Any]] = {}
        for cls in classes:
            if cls.owner != owner:
                raise ValueError(f"{cls.__qualname__} belongs to {cls.owner!r}, not {owner!r}")
            for form, table in (("typed", self._fast), ("positional", self._fast_positional)):
                build = fast_builder(cls, form) if fast else None
                if build is not None:
                    table[cls.verb] = build

    def __getitem__(self, verb: str) -> type:
        return self._by_verb[verb]

    def __iter__(self) -> Iterator[str]:
        return iter(self._by_verb)

    def __len__(self) -> int:
        return len(self._by_verb)

    def __repr__(self) -> str:
        return f"<CommandSet {self.owner}: {', '.join(self._by_verb)}>"

    # ---- parsing -------------------------------------------------------------------------

    def parse(self, message: Any) -> Any:
        """Return the command `message` asks for, in any of the three forms.

        Each form goes to its command's precompiled builder first; anything a builder does
        not take goes to `parse_general`, so results and errors are the general parse's.

        Raises:
            CommandError: as `parse_general`.
        """
        kind = type(message)
        if kind is dict:
            verb = message.get("type")
            if type(verb) is str:
                build = self._fast.get(verb)
                if build is not None:
                    command = build(message)
                    if command is not None:
                        return command
            elif verb is None and len(message) == 1:  # {set: ["count", 5]}, {get: "count"}
                ((verb, argument),) = message.items()
                positional = self._fast_positional.get(verb)
                if positional is not None and argument is not None and argument is not True:
                    kind = type(argument)
                    args = argument if kind is list or kind is tuple else (argument,)
                    command = positional(message, args)
                    if command is not None:
                        return command
        elif kind is list and message:  # ["set", "count", 5]
            verb = message[0]
            if type(verb) is str:
                positional = self._fast_positional.get(verb)
                if positional is not None:
                    command = positional(message, message[1:])
                    if command is not None:
                        return command
        return self.parse_general(message)

    def parse_general(self, message: Any) -> Any:
        """Return the command `message` asks for, in any of the three forms, without the
        typed-dict fast path.

        Raises:
            CommandError: the message is not a command, names an unknown verb, or has wrong
                fields; its text is the message of the `{op: "error"}` reply.
        """
        owner = self.owner
        if isinstance(message, dict):
            if "type" in message:
                cls = self._command_class(message["type"])
                given = {f.name: message[f.name] for f in fields_of(cls) if f.name in message}
                return _build(cls, message, (), given)
            if "op" in message:
                raise CommandError(
                    f"{owner}: {describe(message)} looks like a storage reply (it has 'op' and"
                    " no 'type'), not a command; route replies onwards (e.g. [route op=get])"
                    " rather than back into a store"
                )
            if len(message) == 1:
                ((verb, argument),) = message.items()
                cls = self._command_class(verb)
                return _build(cls, message, _arguments(cls, argument), {})
            raise CommandError(
                f"{owner}: expected a command with 'type' or a single verb key, e.g."
                f' {{"type": "get", "key": "count"}} or {{"get": "count"}}; got {describe(message)}'
            )
        if isinstance(message, list | tuple) and message:
            cls = self._command_class(message[0])
            return _build(cls, message, tuple(message[1:]), {})
        raise CommandError(
            f'{owner}: expected a command such as {{"type": "get", "key": "count"}},'
            f' {{"get": "count"}} or ["get", "count"]; got {describe(message)}'
        )

    def _command_class(self, verb: Any) -> type:
        cls = self._by_verb.get(verb) if isinstance(verb, str) else None
        if cls is None:
            raise CommandError(
                f"{self.owner}: unknown command {describe(verb)};"
                f" expected one of {', '.join(self._by_verb)}"
            )
        return cls

    # ---- derived for the boxes -----------------------------------------------------------

    @property
    def schemas(self) -> tuple[Schema, ...]:
        """The `[msg]` shorthand schemas of these commands, one per command."""
        return tuple(schema_of(cls) for cls in self._by_verb.values())

    def help(self) -> dict[str, list[str]]:
        """Lists for the box's help text: `commands` (usage and one-line help), `replies`
        (each reply's shape, then the error reply) and any `help_extra`."""
        commands = [f"{usage(cls)}: {_lower(summary(cls))}" for cls in self._by_verb.values()]
        replies = list(dict.fromkeys(reply_usage(cls) for cls in self._by_verb.values()))
        replies.append('{op: "error", message}')
        return {"commands": commands, "replies": replies, **self._help_extra}

    # ---- derived for Python --------------------------------------------------------------

    def methods(self) -> dict[str, tuple[str, tuple[str, ...], int, tuple[str, ...]]]:
        """verb → (Python method name, positional fields, how many are required, keyword
        fields), for every command that has a Python method: what other languages' bindings
        (the `[js]` box's `kv`/`db`) expose, derived like the methods themselves."""
        table = {}
        for verb, cls in self._by_verb.items():
            if not cls.as_method:
                continue
            fields = fields_of(cls)
            positional = tuple(f.name for f in fields if not f.metadata.get("keyword"))
            keywords = tuple(f.name for f in fields if f.metadata.get("keyword"))
            required = sum(1 for f in fields if not is_optional(f))
            table[verb] = (python_name(cls), positional, required, keywords)
        return table

    def add_methods(self, facade: type) -> type:
        """Give `facade` (`KV`/`DB`) an async method per command; return it (a decorator).

        The facade has `_backend` and `store_ref`; each method builds the command from its
        arguments (so a bad argument raises the error reply's CommandError), runs it and
        returns its `python_value`.
        """
        for cls in self._by_verb.values():
            if cls.as_method:
                setattr(facade, python_name(cls), _method(cls, facade))
        return facade


def fast_builder(cls: type, form: str = "typed") -> Callable[..., Any] | None:
    """Compile a builder of `cls` that skips attrs' generic `__init__`.

    With `form="typed"` the builder takes a `dict` whose `type` is the verb; with
    `form="positional"` it takes `(message, args)`, the arguments of the list or verb-keyed
    form filling the fields in order (`message` is what an error shows). Either returns the
    command exactly as `cls(**given)` or `cls(*args)` would build it: it sets the fields
    (defaults for those left out), the defaults of the `init=False` fields, and runs
    `__attrs_post_init__`, whose errors it shows as `_build` does. When a required field is
    missing or of the wrong type, or there are too many arguments, it returns None and the
    general parse gives the error. The generic path costs about twice as much per message
    (bench/RESULTS.md, 2026-11-29), on the hot path of every `[kv]`/`[db]` box and of every
    command in a `batch`.

    Returns None (no fast path) for a class it cannot mirror exactly: a converter, a
    validator other than `required`'s, a factory default, an `__attrs_pre_init__`, or (in
    the positional form) a command that `collects_rest`.
    """
    if not attrs.has(cls) or hasattr(cls, "__attrs_pre_init__"):
        return None
    positional = form == "positional"
    if positional and getattr(cls, "collects_rest", False):
        return None
    if positional:
        lines = ["def build(message, args):", "    size = len(args)"]
    else:
        lines = ["def build(message):", "    get = message.get"]
    namespace: dict[str, Any] = {
        "new": object.__new__,
        "set_": object.__setattr__,
        "cls": cls,
        "NOT_GIVEN": NOT_GIVEN,
        "InvalidCommand": InvalidCommand,
    }
    sets = []
    # a frozen class's fields are set through object.__setattr__; a command's (`@command_class`,
    # not frozen and without on_setattr hooks) by plain assignment, four times cheaper
    plain = cls.__setattr__ is object.__setattr__
    position = 0  # the argument an init field takes, in the positional form
    for n, field in enumerate(attrs.fields(cls)):
        if field.converter is not None or isinstance(field.default, attrs.Factory):  # type: ignore[arg-type]
            return None
        if not field.init:
            if field.validator is not None:
                return None
            if field.default is not attrs.NOTHING:
                namespace[f"d{n}"] = field.default
                sets.append(_assign(plain, field.name, f"d{n}"))
            continue
        optional = is_optional(field)
        if optional and field.validator is not None:
            return None
        check = None if optional else getattr(field.validator, "presence_check", _NO_CHECK)
        if check is _NO_CHECK:
            return None
        missing = f"d{n}" if optional else "NOT_GIVEN"
        if optional:
            namespace[f"d{n}"] = field.default
        if positional:
            lines.append(f"    v{n} = args[{position}] if size > {position} else {missing}")
        else:
            lines.append(f"    v{n} = get({field.name!r}, {missing})")
        position += 1
        if not optional:
            test = f"v{n} is NOT_GIVEN"
            if check is not None:
                namespace[f"c{n}"] = check
                test += f" or not isinstance(v{n}, c{n})"
            lines += [f"    if {test}:", "        return None"]
        sets.append(_assign(plain, field.name, f"v{n}"))
    if positional:
        lines[2:2] = [f"    if size > {position}:", "        return None"]
    lines += ["    command = new(cls)", *sets]
    post = getattr(cls, "__attrs_post_init__", None)
    if post is not None:
        namespace["post"] = post
        lines += [
            "    try:",
            "        post(command)",
            "    except InvalidCommand as error:",
            "        raise error.showing(message) from None",
        ]
    lines.append("    return command")
    source = "\n".join(lines) + "\n"
    exec(compile(source, f"<fast {form} build of {cls.__qualname__}>", "exec"), namespace)
    return namespace["build"]


_NO_CHECK = object()


def _assign(plain: bool, name: str, value: str) -> str:
    """The builder's line setting field `name` of `command` to the expression `value`."""
    return f"    command.{name} = {value}" if plain else f"    set_(command, {name!r}, {value})"


def _lower(text: str) -> str:
    return text[:1].lower() + text[1:]


def _method(cls: type, facade: type) -> Callable[..., Any]:
    """Generate the facade's method for a command, with its signature (as attrs makes
    `__init__`: source text compiled once, so a call costs what a hand-written one does)."""
    params, args = ["self"], []
    keyword_only = False
    for field in fields_of(cls):
        if field.metadata.get("keyword") and not keyword_only:
            params.append("*")
            keyword_only = True
        if is_optional(field):
            params.append(f"{field.name}={field.name}__default")
        else:
            params.append(field.name)
        args.append(f"{field.name}={field.name}" if keyword_only else field.name)
    name = python_name(cls)
    convert = cls.python_value is not Command.python_value
    result = "command.run(self._backend, self.store_ref)"
    source = (
        f"async def {name}({', '.join(params)}):\n"
        f"    command = cls({', '.join(args)})\n"
        f"    return {f'command.python_value({result})' if convert else result}\n"
    )
    namespace: dict[str, Any] = {"cls": cls}
    namespace |= {f"{f.name}__default": f.default for f in fields_of(cls) if is_optional(f)}
    exec(compile(source, f"<{facade.__name__}.{name} from {cls.__qualname__}>", "exec"), namespace)
    method = namespace[name]
    method.__qualname__ = f"{facade.__qualname__}.{name}"
    method.__module__ = facade.__module__
    method.__doc__ = inspect.getdoc(cls)
    returns = (cls.python_value if convert else cls.run).__annotations__.get("return", "Any")
    method.__annotations__ = {f.name: f.type for f in fields_of(cls)} | {"return": returns}
    return method


def _arguments(cls: type, argument: Any) -> tuple[Any, ...]:
    if isinstance(argument, list | tuple):
        return tuple(argument)
    if (argument is None or argument is True) and all(map(is_optional, fields_of(cls))):
        return ()  # `{keys: true}`: a command that needs no field
    return (argument,)


def _build(cls: type, message: Any, args: tuple[Any, ...], given: dict[str, Any]) -> Any:
    if cls.collects_rest and not (isinstance(message, dict) and "type" in message):
        args = (list(args),)  # `{batch: []}`, `["batch"]`: an empty batch
    if len(args) > len(fields_of(cls)):
        problem = f"needs {needs(cls)}" if fields_of(cls) else "takes no arguments"
        raise InvalidCommand(cls.owner, cls.verb, problem, message)
    try:
        return cls(*args, **given)
    except InvalidCommand as error:
        raise error.showing(message) from None
