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
        self.path: list[str] = []  # box ids from the innermost delivery outwards
        self.trips = 0  # set when the loop tripped the guard so often that the cascade stopped
        super().__init__(f"runaway loop: more than {limit} deliveries deep")

    def cycle(self) -> list[str] | None:
        """The box ids that repeat at the bottom of the recorded path (`[a, b]`), or None.

        The cycle starts at the member the cascade reached first, as a user reads the patch.
        """
        ids = list(reversed(self.path))  # outermost delivery first
        tail = ids[-64:]
        for size in range(1, len(tail) // 2 + 1):
            if tail[-size:] == tail[-2 * size : -size]:
                cycle = tail[-size:]
                first = next(i for i, box in enumerate(ids) if box in cycle)
                start = cycle.index(ids[first])
                return cycle[start:] + cycle[:start]
        return None

    def first_box(self) -> str | None:
        """The box to point at: the first of the cycle, else the deepest recorded one."""
        cycle = self.cycle()
        return cycle[0] if cycle else (self.path[0] if self.path else None)

    def loop_description(self) -> str:
        """Name the boxes that repeat at the bottom of the recorded path, e.g. `a → b → a`."""
        cycle = self.cycle()
        if cycle is None:
            return " → ".join(list(reversed(self.path))[-64:])
        return " → ".join([*cycle, cycle[0]])

    def describe(self) -> str:
        """The message for people, saying "runaway loop" once: `runaway loop a → b → a (…)`."""
        if self.trips:
            what = (
                f"{self.trips} sends in one cascade would have been more than {self.limit}"
                " deliveries deep (the loop fans out); the rest of that cascade was stopped"
            )
        else:
            what = (
                f"more than {self.limit} deliveries deep; that delivery was stopped and the"
                " patch goes on"
            )
        return (
            f"runaway loop {self.loop_description()}: {what} — break the cycle, or gate it"
            " (e.g. with [spigot])"
        )


class CodeExit(PatchflowError):
    """Box code raised SystemExit or KeyboardInterrupt: that box's error, not the run's end.

    `sys.exit()` in a `[py]` body or `exit()` in an `[expr]` would otherwise end the whole
    process with a traceback; only Ctrl-C and SIGTERM stop a run.
    """

    @classmethod
    def from_exception(cls, exc: BaseException) -> CodeExit:
        if isinstance(exc, SystemExit):
            code = f"({exc.code!r})" if exc.code is not None else ""
            told = f"the code raised SystemExit{code} (sys.exit, exit), which a box cannot use"
        else:
            told = "the code raised KeyboardInterrupt, which a box cannot use"
        error = cls(f"{told} to end the run; raise another exception to report an error")
        error.__cause__ = exc
        error.__suppress_context__ = True
        return error
