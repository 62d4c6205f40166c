"""Holds: the reasons a patch is not idle although no cascade runs (a pending `[delay]`, a
running `[metro]`, open input). The runtime counts them; the last release wakes the scheduler
to look at idleness again."""

from __future__ import annotations

from typing import Protocol


class Holder(Protocol):
    _holds: int

    def _release(self) -> None: ...


class Hold:
    """A reason the patch is not idle; `release()` (or leaving a `with` block) lets it go."""

    __slots__ = ("_holder", "_released")

    def __init__(self, holder: Holder) -> None:
        self._holder = holder
        self._released = False
        holder._holds += 1

    def release(self) -> None:
        """Let the patch become idle again; safe to call more than once."""
        if not self._released:
            self._released = True
            self._holder._release()

    def __enter__(self) -> Hold:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
