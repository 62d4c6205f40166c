"""The error tree: small and flat, so callers can catch broadly or precisely.

Every error says where, what, and what to do. Patch-file problems carry a file, line and
column and are collected, so that a user sees every problem in a file at once.
"""

from __future__ import annotations

import attrs


class PatchflowError(Exception):
    """Base of every error patchflow raises on purpose."""


@attrs.frozen
class Problem:
    """One problem in a patch file, at a 1-based line and column."""

    file: str
    line: int
    column: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}: {self.message}"


class PatchError(PatchflowError, ValueError):
    """A patch file that cannot be built; `problems` lists every problem found, in file order."""

    def __init__(self, problems: list[Problem] | tuple[Problem, ...]):
        self.problems = tuple(sorted(problems, key=lambda p: (p.file, p.line, p.column)))
        super().__init__("\n".join(str(p) for p in self.problems))

    @property
    def first(self) -> Problem:
        return self.problems[0]


class ArgumentError(PatchflowError, ValueError):
    """An object's creation arguments are wrong; the graph turns it into a positioned Problem."""


class MessageError(PatchflowError, ValueError):
    """A message an object cannot handle; reported with the box id, class and line."""


class StorageError(PatchflowError):
    """Storage cannot be opened or written (permissions, disk full, bad data directory)."""


class CommandError(PatchflowError, ValueError):
    """A storage command that is not understood or not valid; becomes an `{op: "error"}` reply."""


class RunawayLoop(PatchflowError, RecursionError):
    """A cascade went deeper than the runtime's limit: the patch has a feedback loop."""

    def __init__(self, limit: int):
        self.limit = limit
        self.path: list[str] = []  # box ids from the innermost delivery outwards, filled on unwind
        super().__init__(f"runaway loop: more than {limit} deliveries deep")

    def record(self, box_id: str) -> None:
        """Note a box the error unwinds through (innermost first; the first 256 suffice)."""
        if len(self.path) < 256:
            self.path.append(box_id)

    def loop_description(self) -> str:
        """Name the boxes that repeat at the bottom of the recorded path, e.g. `a → b → a`."""
        ids = list(reversed(self.path))  # outermost delivery first
        tail = ids[-64:]
        for size in range(1, len(tail) // 2 + 1):
            if tail[-size:] == tail[-2 * size : -size]:
                cycle = tail[-size:]
                # start the cycle at the member the cascade reached first, as a user reads it
                first = next(i for i, box in enumerate(ids) if box in cycle)
                start = cycle.index(ids[first])
                cycle = cycle[start:] + cycle[:start]
                return " → ".join([*cycle, cycle[0]])
        return " → ".join(tail)
