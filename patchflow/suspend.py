"""Let a synchronous cascade await: a persistent worker greenlet bridges sync frames to trio.

Delivery is synchronous, as in Pure Data: a send is a chain of plain calls, which measured
about twice as fast per wire as a chain of `await`s (the runtime's hot path). A few boxes must
still await inside a cascade — `[py]` code may `await trio.sleep(...)` — and the cascade above
them must wait, depth-first, without letting another cascade run.

`wait(awaitable)` first drives the coroutine synchronously; most finish without suspending
(storage calls commit inline), costing well under a microsecond. If one really suspends, and
the cascade runs in a `CascadeWorker` greenlet, the worker switches to its parent (a trio task),
which awaits the rest of the coroutine there and switches back with the result — the technique
SQLAlchemy uses to run sync code over asyncio.

**Only a patch that may suspend pays for the worker, and only a greenlet switch per cascade.**
A cascade cannot start on the plain stack and move into a greenlet when something turns out to
suspend: the frames below the await (the boxes upstream, the scheduler or the caller of
`Session.send`) are already on the trio task's stack, and only returning through them would
let trio run — so whether a cascade needs the worker must be known before it starts. Hence:

- A box says whether it may suspend (`Box.may_suspend`); `[py]` decides per box from its code
  (objects/py.py): awaiting only `send(...)` and its stores, whose coroutines complete
  without yielding (storage/store.py), cannot suspend, and code that awaits nothing is even
  compiled as a plain function. A patch where no box may suspend has no worker at all.
- A patch that may suspend runs each cascade in the one reused worker greenlet, also a
  message sent from Python, at once in the caller's task (`start`: one switch in, one out);
  trio hears of a cascade only when it really suspends. Such a cascade must be finished in
  the task that started it (`Parked`, awaited by `Session.send`): trio's cancel scopes (the
  one `trio.sleep` enters) belong to a task.

Measured (2026-11-29, 2-core Xeon VM under load from other jobs; CPU time, best of 5 runs of
3×10,000 `await session.send(...)`; chain10 = ten `[t a]` into a sink, bench/bench_delivery.py):

    chain10, sink [t a]                                  2.17 µs/msg   ratio 1
    sink [py] counting, no await (plain function)         2.94           0.74
    same, awaiting `send(x)` (a coroutine, no worker)     5.14           0.42
    sink [py] that may `await trio.sleep` (worker, the
      cascade started at once in the caller's task)       5.70           0.38
    same, every cascade queued to the scheduler task
      and run in the worker (the design before)          28.55           0.08

The greenlet switch pair costs about 0.6 µs a cascade; the trio hand-off of the old design
(channel, scheduler task, event) about 23 µs. Compiling awaitless code as a plain function
saves the coroutine (about 1.3 µs with the `wait` calls, 2026-11-29, same machine: 3.49 →
2.26 µs/msg on a quieter moment). bench/RESULTS.md has the benchmark runs.
"""

from __future__ import annotations

import contextlib
import types
from collections.abc import Awaitable, Callable, Coroutine, Generator
from typing import Any

import trio


class SuspendError(RuntimeError):
    """A box awaited something that suspended in a patch not prepared for suspension."""


_DONE, _FAILED, _AWAIT = 0, 1, 2
_IDLE = (_DONE, None, None)


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
    """A long-lived greenlet that runs cascades and hands their real suspensions to trio.

    `run` is `start` then, if the cascade suspended, `finish`. A caller in synchronous code
    (`Runtime.run_now`) calls `start` alone and leaves a suspended cascade to a trio task
    (`parked`), which must `finish` it before the worker runs anything else.
    """

    def __init__(self) -> None:
        import greenlet

        self._getcurrent = greenlet.getcurrent
        self._exit = greenlet.GreenletExit
        self._worker = greenlet.greenlet(self._loop)
        self._parent: Any = None
        self._reply: tuple[int, Any, Any] = _IDLE

    def _loop(self, job: tuple[Callable[..., Any], tuple[Any, ...]]) -> None:
        fn, args = job
        while True:
            try:
                reply: tuple[int, Any, Any] = (_DONE, fn(*args), None)
            except BaseException as exc:
                reply = (_FAILED, exc, None)
            fn, args = self._parent.switch(reply)

    @property
    def parked(self) -> bool:
        """A cascade started by `start` is suspended and waits for `finish`."""
        return self._reply[0] == _AWAIT

    def start(self, fn: Callable[..., Any], *args: Any) -> bool:
        """Run `fn(*args)` in the worker until it ends (True) or first really suspends (False).

        What `fn` raises is raised here. After False, `finish` must be awaited.
        """
        self._parent = parent = self._getcurrent()
        self._worker.gr_context = parent.gr_context
        self._reply = reply = self._worker.switch((fn, args))
        if reply[0] == _FAILED:
            self._reply = _IDLE  # hold no traceback
            raise reply[1]
        return reply[0] == _DONE

    async def finish(self) -> Any:
        """Await the suspended cascade to its end; return its result or raise its error."""
        kind, value, yielded = self._reply
        self._parent = self._getcurrent()
        while kind == _AWAIT:
            try:
                result = await _trampoline(value, yielded)
            except BaseException as exc:
                self._reply = self._worker.throw(exc)
            else:
                self._reply = self._worker.switch(result)
            kind, value, yielded = self._reply
        self._reply = _IDLE
        if kind == _FAILED:
            raise value
        return value

    async def run(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Run `fn(*args)` in the worker; await for it whenever it suspends."""
        if self.start(fn, *args):
            value, self._reply = self._reply[1], _IDLE
            return value
        return await self.finish()

    def abandon(self) -> None:
        """Unwind a parked cascade nobody will finish.

        The suspended coroutine is closed first (GeneratorExit at its await, so that what it
        entered, such as `trio.sleep`'s cancel scope, is left in the task that entered it),
        then GreenletExit unwinds the cascade above it.
        """
        if self.parked:
            self._reply[1].close()
            self._parent = self._getcurrent()
            self._worker.throw(self._exit())
            self._reply = _IDLE

    def suspend(self, coro: Coroutine[Any, Any, Any], yielded: Any) -> Any:
        """From inside the worker: let the parent finish `coro`, and return its result."""
        if self._getcurrent() is not self._worker:
            raise SuspendError("only the cascade worker may suspend")
        return self._parent.switch((_AWAIT, coro, yielded))


class Parked:
    """A cascade that `CascadeWorker.start` left suspended; awaiting it finishes it.

    It must be finished in the task that started it (trio's cancel scopes, such as the one
    `trio.sleep` enters, belong to a task), so the synchronous starter hands it to its own
    caller to await (`Runtime.run_now` → `Session.send`). `ended(error)` is called when the
    cascade has ended, and then `done` is set. Dropped without being awaited, the cascade is
    unwound at its await (`CascadeWorker.abandon`) and ends with a SuspendError: else nothing
    could run the worker again.
    """

    __slots__ = ("_awaited", "_ended", "_worker", "done")

    def __init__(self, worker: CascadeWorker, ended: Callable[[BaseException | None], None]):
        self._worker = worker
        self._ended = ended
        self._awaited = False
        self.done = trio.Event()

    def __await__(self) -> Generator[Any, Any, None]:
        self._awaited = True
        return self._finish().__await__()

    async def _finish(self) -> None:
        try:
            await self._worker.finish()
        except BaseException as exc:
            self._end(exc)
        else:
            self._end(None)

    def _end(self, error: BaseException | None) -> None:
        try:
            self._ended(error)
        finally:
            self.done.set()

    def __del__(self) -> None:
        if not self._awaited:
            with contextlib.suppress(Exception):  # what the box's code does when closed
                self._worker.abandon()
            self._end(SuspendError(_NOT_AWAITED))


_NOT_AWAITED = (
    "a message sent from Python started a cascade that suspended, but the send was not"
    " awaited: the cascade was stopped there; `await session.send(...)`"
)


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
            "a box awaited something that suspends, but neither its class nor its __init__"
            " sets `may_suspend = True`, so the patch runs its cascades without a worker"
        )
    return worker.suspend(coro, yielded)


async def _as_coroutine(awaitable: Awaitable[Any]) -> Any:
    return await awaitable
