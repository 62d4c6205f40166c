"""Run patch text in tests and examples: what was printed, what went wrong, what arrived where.

    outcome = run_text("[loadbang] -> [msg 1, 2] -> [print]")
    assert outcome.lines == ["print: 1", "print: 2"]

Timers run on trio's MockClock with autojump, so `[delay 5000]` takes no real time and runs are
deterministic.
"""

from __future__ import annotations

import math
import os
import textwrap
from collections.abc import Iterable, Sequence
from typing import Any

import attrs
import trio
import trio.testing

from .api import MEMORY, Patch
from .errors import PatchError, Problem


@attrs.frozen
class Outcome:
    """What a run produced."""

    lines: list[str]  # `[print]` output, one entry per line
    errors: list[str]  # runtime error lines
    seen: dict[str, list[Any]]  # box id → messages that reached it (for `collect` ids)


def run_text(
    text: str,
    *injected: tuple[str, Any] | tuple[str, Any, int],
    file: str = "test.patch",
    inject: Sequence[tuple[str, Any] | tuple[str, Any, int]] = (),
    **options: Any,
) -> Outcome:
    """Build `text` (dedented) and run it as `run_patch` does; `options` are `run_patch`'s.

    Injections are `injected` then `inject`.
    """
    patch = Patch.from_string(textwrap.dedent(text), file=file)
    return run_patch(patch, inject=[*injected, *inject], **options)


def run_patch(
    patch: Patch,
    *,
    data_dir: str | os.PathLike[str] = MEMORY,
    stdin: Iterable[str] | None = None,
    collect: Sequence[str] = (),
    inject: Sequence[tuple[str, Any] | tuple[str, Any, int]] = (),
    strict: bool = False,
    mock_clock: bool = True,
) -> Outcome:
    """Run `patch` until idle, then inject each (box id, message[, inlet]).

    Each injection is delivered as its own cascade after the patch (and the previous
    injection) has gone idle. `collect` names boxes whose arriving messages `Outcome.seen`
    records; `mock_clock` runs timers on trio's MockClock (no real time passes).
    """
    lines: list[str] = []
    errors: list[str] = []
    seen: dict[str, list[Any]] = {}

    async def main() -> None:
        async with patch.running(
            data_dir=data_dir, output=lines.append, errors=errors.append, stdin=stdin, strict=strict
        ) as session:
            for box_id in collect:
                seen[box_id] = session.collect(box_id)
            await session.idle()
            for item in inject:
                box_id, message, *rest = item
                await session.send(box_id, message, *rest)
                await session.idle()

    clock = trio.testing.MockClock(autojump_threshold=0) if mock_clock else None
    trio.run(main, clock=clock)
    return Outcome(lines, errors, seen)


def first_problem(text: str, file: str = "bad.patch") -> Problem:
    """The first problem that building `text` (dedented) reports; AssertionError if none."""
    try:
        Patch.from_string(textwrap.dedent(text), file=file)
    except PatchError as exc:
        return exc.first
    raise AssertionError("the patch built without problems")


def exactly_equal(a: Any, b: Any) -> bool:
    """Equal with exact types (1, 1.0 and True differ), NaN equal to NaN, -0.0 apart from 0.0,
    and dict keys in the same order: what "round-trips exactly" means for message values."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        if math.isnan(a):
            return math.isnan(b)
        return a == b and math.copysign(1, a) == math.copysign(1, b)
    if isinstance(a, list):
        return len(a) == len(b) and all(exactly_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return list(a) == list(b) and all(exactly_equal(a[k], b[k]) for k in a)
    return a == b


def message_values(*, extra_keys: Any = None, max_size: int = 5, max_leaves: int = 25) -> Any:
    """A hypothesis strategy for every storable message value, nested: None, bools, 64-bit
    ints, floats (NaN and infinities too), str, bytes, lists and str-keyed dicts.

    `extra_keys`, a strategy of strings, adds dict keys worth trying (e.g. dump markers).
    Needs hypothesis (a development dependency), imported only when this is called.
    """
    from hypothesis import strategies as st

    scalars = (
        st.none()
        | st.booleans()
        | st.integers(min_value=-(2**63), max_value=2**64 - 1)
        | st.floats(allow_nan=True, allow_infinity=True)
        | st.text()
        | st.binary()
    )
    keys = st.text(max_size=8) if extra_keys is None else st.text(max_size=8) | extra_keys
    return st.recursive(
        scalars,
        lambda children: (
            st.lists(children, max_size=max_size)
            | st.dictionaries(keys, children, max_size=max_size)
        ),
        max_leaves=max_leaves,
    )
