"""The patch's input lines, read once and handed to every box that reads them (`[stdin]`).

One background task reads the lines (standard input, or those the embedder gave) and posts a
cascade per line for each reader, in the order the readers asked, so that a patch with two
readers runs the same way every time; a task per reader would let trio pick the order.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Callable, Iterable
from typing import TYPE_CHECKING, Any

import trio

if TYPE_CHECKING:
    from .box import Box
    from .runtime import Runtime


class LineReaders:
    """The boxes reading the patch's input, and the task that feeds them."""

    def __init__(self, runtime: Runtime, lines: AsyncIterator[str] | None) -> None:
        self._runtime = runtime
        self._lines = lines
        self._readers: list[tuple[Box, Callable[[str], None], Callable[[], object]]] = []

    def add(self, box: Box, line: Callable[[str], None], end: Callable[[], object]) -> None:
        """Register a reader; the first one starts the reading task and holds the patch."""
        self._readers.append((box, line, end))
        if len(self._readers) == 1:
            self._runtime.start_soon(self._read, self._runtime.hold())

    async def _read(self, hold: Any) -> None:
        post = self._runtime.post
        lines = self._lines if self._lines is not None else _process_stdin()
        try:
            async for line in lines:
                text = line.rstrip("\r\n")
                for box, on_line, _end in self._readers:
                    post(_calling(on_line, text), box)
            for box, _line, on_end in self._readers:
                post(on_end, box)
        finally:
            hold.release()


def _calling(fn: Callable[[str], None], text: str) -> Callable[[], None]:
    return lambda: fn(text)


async def _process_stdin() -> AsyncIterator[str]:
    stream = trio.wrap_file(sys.stdin)
    while True:
        line = await stream.readline()
        if not line:
            return
        yield line


def as_async_lines(lines: Iterable[str] | AsyncIterator[str] | None) -> AsyncIterator[str] | None:
    """`lines` as an async iterator (an embedder may give a plain list)."""
    if lines is None or hasattr(lines, "__anext__"):
        return lines  # type: ignore[return-value]

    async def iterate() -> AsyncIterator[str]:
        for line in lines:  # type: ignore[union-attr]
            yield line

    return iterate()
