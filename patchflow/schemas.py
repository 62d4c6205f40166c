"""Message schemas: the fields a control message type carries, in positional order.

The message box's shorthand (`get count` → `{type: "get", key: "count"}`) looks up schemas
by type and by how many tokens follow; objects declare the schemas they understand
(`Box.schemas`), and wired boxes' schemas are tried before these built-in ones. Storage's
schemas are derived from its command classes (`patchflow.storage.CommandSet.schemas`).
"""

from __future__ import annotations

from typing import Any, Final

import attrs

KINDS: Final = ("string", "number", "any")


@attrs.frozen
class Field:
    """One field of a message schema; `string` fields take tokens raw (`get 20` → "20")."""

    name: str
    kind: str = attrs.field(default="any", validator=attrs.validators.in_(KINDS))
    optional: bool = False

    def __str__(self) -> str:
        mark = "?" if self.optional else ""
        return f"{self.name}{mark}" if self.kind == "any" else f"{self.name}{mark}: {self.kind}"


def _check_fields(instance: Schema, attribute: Any, fields: tuple[Field, ...]) -> None:
    names = [f.name for f in fields]
    if "type" in names or len(set(names)) != len(names):
        raise ValueError(f"schema {instance.type!r}: field names must be unique and not 'type'")
    flags = [f.optional for f in fields]
    if flags != sorted(flags):
        raise ValueError(f"schema {instance.type!r}: optional fields must come last")


@attrs.frozen
class Schema:
    """The shape of one control message: its `type` and fields in positional order."""

    type: str
    fields: tuple[Field, ...] = attrs.field(default=(), converter=tuple, validator=_check_fields)
    # derived once, for the per-message shorthand matching
    names: frozenset[str] = attrs.field(init=False, eq=False, repr=False)
    required: int = attrs.field(init=False, eq=False, repr=False)  # non-optional fields

    @names.default
    def _names(self) -> frozenset[str]:
        return frozenset(f.name for f in self.fields)

    @required.default
    def _required(self) -> int:
        return sum(not f.optional for f in self.fields)

    @property
    def total(self) -> int:
        return len(self.fields)

    def __str__(self) -> str:
        return f"{self.type}{{{', '.join(map(str, self.fields))}}}"


def schema(type_name: str, *specs: str) -> Schema:
    """Build a Schema from field specs `name`, `name?`, `name:kind` or `name?:kind`."""
    fields = []
    for spec in specs:
        name, _, kind = spec.partition(":")
        optional = name.endswith("?")
        fields.append(Field(name.removesuffix("?"), kind or "any", optional))
    return Schema(type_name, tuple(fields))


_NO_FIELDS = "bang clear reset start stop pause play run expand collapse toggle keys flush"

#: Patchies' common set (messages.md). Objects declare the schemas they understand themselves
#: (`Box.schemas`; `[kv]`/`[db]` derive theirs from storage's command classes), and a message
#: box tries those of the boxes it feeds first.
BUILTIN_SCHEMAS: Final[tuple[Schema, ...]] = (
    *(Schema(name) for name in _NO_FIELDS.split()),
    schema("get", "key:string"),
    schema("set", "value"),
    schema("set", "key:string", "value"),
    schema("setCode", "value:string"),
    schema("setSetting", "key:string", "value"),
    *(schema(n, "value:number") for n in ("setMin", "setMax", "setDefault", "setValue")),
    schema("load", "src:string"),
    schema("noteOn", "note", "velocity", "time?", "channel?"),
    schema("noteOff", "note", "velocity?", "time?", "channel?"),
)
