"""Let a synchronous cascade await: a persistent worker greenlet bridges sync frames to trio.

Delivery is synchronous, as in Pure Data: a send is a chain of plain calls, which measured
about twice as fast per wire as a chain of `await`s (the runtime's hot path). A few boxes must
still await inside a cascade — `[py]` code may `await trio.sleep(...)` — and the cascade above
them must wait, depth-first, without letting another cascade run.

`wait(awaitable)` first drives the coroutine synchronously; most finish without suspending
(storage calls commit inline), costing well under a microsecond. If one really suspends, and
the cascade runs in a `CascadeWorker` greenlet, the worker switches to its parent (a trio task),
which awaits the rest of the coroutine there and switches back with the result — the technique
SQLAlchemy uses to run sync code over asyncio. Patches with no box that may suspend never create
a greenlet.
"""

from __future__ import annotations

import types
from collections.abc import Awaitable, Callable, Coroutine, Generator
from typing import Any


class SuspendError(RuntimeError):
    """A box awaited something that suspended in a patch not prepared for suspension."""


_DONE, _FAILED, _AWAIT = 0, 1, 2


@types.coroutine
def _trampoline(coro: Coroutine[Any, Any, Any], yielded: Any) -> Generator[Any, Any, Any]:
    """Go on running an already started coroutine from the current trio task."""
    while True:
        try:
            sent = yield yielded
        except BaseException as exc:  # trio throws cancellation and errors into the task
            try:
                yielded = coro.throw(exc)
            except StopIteration as stop:
                return stop.value
        else:
            try:
                yielded = coro.send(sent)
            except StopIteration as stop:
                return stop.value


class CascadeWorker:
    """A long-lived greenlet that runs cascades and hands their real suspensions to trio."""

    def __init__(self) -> None:
        import greenlet

        self._greenlet_module = greenlet
        self._worker = greenlet.greenlet(self._loop)
        self._parent: Any = None

    def _loop(self, job: tuple[Callable[..., Any], tuple[Any, ...]]) -> None:
        fn, args = job
        while True:
            try:
                reply: tuple[int, Any, Any] = (_DONE, fn(*args), None)
            except BaseException as exc:
                reply = (_FAILED, exc, None)
            fn, args = self._parent.switch(reply)

    async def run(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Run `fn(*args)` in the worker; await for it whenever it suspends."""
        self._parent = self._greenlet_module.getcurrent()
        self._worker.gr_context = self._parent.gr_context
        kind, value, yielded = self._worker.switch((fn, args))
        while kind == _AWAIT:
            try:
                result = await _trampoline(value, yielded)
            except BaseException as exc:
                kind, value, yielded = self._worker.throw(exc)
            else:
                kind, value, yielded = self._worker.switch(result)
        if kind == _FAILED:
            raise value
        return value

    def suspend(self, coro: Coroutine[Any, Any, Any], yielded: Any) -> Any:
        """From inside the worker: let the parent finish `coro`, and return its result."""
        if self._greenlet_module.getcurrent() is not self._worker:
            raise SuspendError("only the cascade worker may suspend")
        return self._parent.switch((_AWAIT, coro, yielded))


def wait(awaitable: Awaitable[Any], worker: CascadeWorker | None) -> Any:
    """Return the result of `awaitable` from synchronous code inside a cascade."""
    # `type(...) is` first: the abstract-class isinstance check costs about half a microsecond
    coro = (
        awaitable
        if type(awaitable) is types.CoroutineType or isinstance(awaitable, Coroutine)
        else _as_coroutine(awaitable)
    )
    try:
        yielded = coro.send(None)
    except StopIteration as stop:
        return stop.value
    if worker is None:
        coro.close()
        raise SuspendError(
            "a box awaited something that suspends, but its class does not set"
            " `may_suspend = True`, so the patch runs its cascades without a worker"
        )
    return worker.suspend(coro, yielded)


async def _as_coroutine(awaitable: Awaitable[Any]) -> Any:
    return await awaitable
