"""`batch`: several commands of one store in one write transaction, all or nothing.

The commands keep their own declarations: each runs its ordinary `run` against a stand-in
backend (`InTransaction`) whose `read`, `write` and `get` all go to the batch's one open write
transaction, so it sees the effects of the commands before it and commits with them. If a
command fails (or cannot even be parsed), the error is raised out of the transaction, which the
backend then aborts: nothing is stored, and the error says which command it was (`index`, from
0, is in the error reply too).

`kv.py` and `db.py` each declare a subclass naming their owner and their command set.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar, TypeVar

import attrs

from ...errors import CommandError
from ..backends.protocol import Backend, ReadTxn, WriteTxn
from ..layout.keys import StoreRef
from .base import Command, command_class, required
from .command_set import CommandSet

__all__ = ["BatchBase", "BatchError", "InTransaction"]

T = TypeVar("T")


class BatchError(CommandError):
    """A batch that stored nothing because command `index` (from 0) was invalid or failed.

    Its error reply carries `index` beside the message.
    """

    def __init__(self, owner: str, index: int, problem: str) -> None:
        self.index = index
        super().__init__(f"{owner}: 'batch' stored nothing: command {index} {problem}")


class InTransaction:
    """A backend whose every read and write runs in one open write transaction: a batch's."""

    def __init__(self, txn: WriteTxn, location: str) -> None:
        self._txn = txn
        self.location = location

    def write(self, fn: Callable[[WriteTxn], T]) -> T:
        return fn(self._txn)

    def read(self, fn: Callable[[ReadTxn], T]) -> T:
        return fn(self._txn)

    def get(self, space: str, key: bytes) -> bytes | None:
        return self._txn.get(space, key)


@command_class
class BatchBase(Command):
    """Run `commands` in one transaction, in order, each seeing the ones before; all or nothing.

    The reply lists each command's reply. If one command is invalid or fails, nothing is stored
    and the error reply names it (`index`, from 0). A batch may not hold another batch.
    """

    verb: ClassVar[str] = "batch"
    replies: ClassVar[tuple[str, ...]] = ("results",)
    #: in the verb-keyed and list forms, every argument is one command: `{batch: [c1, c2]}`
    collects_rest: ClassVar[bool] = True
    batchable: ClassVar[bool] = False

    commands: list[Any] = required("list of commands", check=list | tuple)
    parsed: tuple[Command, ...] = attrs.field(init=False, repr=False, eq=False)

    @classmethod
    def command_set(cls) -> CommandSet:
        """The commands a batch of this owner may hold (its box's)."""
        raise NotImplementedError

    def __attrs_post_init__(self) -> None:
        parse = self.command_set().parse
        parsed = []
        for index, message in enumerate(self.commands):
            try:
                command = parse(message)
            except CommandError as error:
                raise self._failed(index, "is not valid", error) from None
            if not command.batchable:
                raise BatchError(
                    self.owner,
                    index,
                    f"is a {command.verb!r}, which a batch cannot hold; send it on its own",
                )
            parsed.append(command)
        object.__setattr__(self, "parsed", tuple(parsed))

    def run(self, backend: Backend, store: StoreRef) -> list[dict[str, Any]]:
        def run_all(txn: WriteTxn) -> list[dict[str, Any]]:
            inner: Any = InTransaction(txn, backend.location)
            results = []
            for index, command in enumerate(self.parsed):
                apply = command.apply
                try:
                    if apply is not None:
                        results.append(command.reply(apply(txn, store)))
                    else:
                        results.append(command.reply(command.run(inner, store)))
                except CommandError as error:
                    raise self._failed(index, f"({command.verb}) failed", error) from None
            return results

        return backend.write(run_all)

    def reply(self, result: list[dict[str, Any]]) -> dict[str, Any]:
        return {"op": "batch", "results": result}

    def _failed(self, index: int, what: str, error: CommandError) -> BatchError:
        problem = str(error).removeprefix(f"{self.owner}: ")
        return BatchError(self.owner, index, f"{what}: {problem}")
