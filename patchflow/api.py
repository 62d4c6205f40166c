"""The embedding API: build a patch from a file or a string, run it, talk to it from Python.

    patch = Patch.from_file("patches/counter.patch")
    result = patch.run_sync(data_dir=":memory:")          # run until idle, like the CLI

    async with patch.running(data_dir=tmp) as session:    # run while Python drives it
        seen = session.collect("store")                    # what reaches box `store`
        await session.send("store", {"type": "get", "key": "count"})
        await session.idle()

A `Patch` is parsed and checked once; every run builds fresh boxes, so runs never share state
except through storage.

Ctrl-C raises KeyboardInterrupt out of the run, also while a box is busy, after storage is
closed. To stop on SIGTERM the same way and exit 130 / 143 as `patchflow run` does, wrap
`trio.run` in `patchflow.stopping.stop_on_signals()` (and call `stopping.supervise()` first
to stop code stuck in C as well); see stopping.py.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import attrs
import trio

from .box import Box
from .errors import PatchError, Problem
from .graph import Graph, build_graph
from .input import as_async_lines
from .language import PatchDecl, parse_patch
from .patchid import check_patch_id
from .registry import Registry
from .reporting import print_stderr
from .runtime import Runtime
from .scheduler import BATCH

MEMORY = ":memory:"


def resolve_data_dir(data_dir: str | os.PathLike[str] | None = None) -> str:
    """Where patch storage lives: the argument, else $PATCHFLOW_DATA_DIR, else the user data dir.

    `":memory:"` selects the in-memory backend (nothing is written to disk).
    """
    if data_dir is not None:
        return os.fspath(data_dir)
    env = os.environ.get("PATCHFLOW_DATA_DIR")
    if env:
        return env
    from .storage.backends import default_data_dir

    return default_data_dir()


@attrs.frozen
class RunResult:
    """How a run ended: "idle", "timeout", "stopped" or "failed" (see `Runtime.run`)."""

    reason: str
    error_count: int
    failure: BaseException | None = None


class Session:
    """A running patch, driven from Python (see `Patch.running`)."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self._inline = 0
        self._targets: dict[tuple[str, int], Box] = {}
        self._inlet0: dict[str, Box] = {}  # the same for inlet 0, without building a key
        self._run_now = runtime.run_now

    @property
    def storage(self) -> Any:
        """The patch's storage (kv/db) as `[py]` and the storage API see it."""
        return self.runtime.storage

    def _inlet(self, box_id: str, inlet: int) -> Any:
        box = self.runtime.graph.box(box_id)
        if not 0 <= inlet < box.inlets:
            raise ValueError(
                f"[{box.text}] has {box.inlets} inlet(s); inlet {inlet} does not exist"
            )
        return box

    def post(self, box_id: str, message: Any, inlet: int = 0) -> None:
        """Queue `message` for `box_id`'s inlet as its own cascade; do not wait for it."""
        self.runtime.inject(self._target(box_id, inlet), inlet, message)

    def send(self, box_id: str, message: Any, inlet: int = 0) -> Awaitable[None]:
        """Deliver `message` to `box_id`'s inlet as its own cascade; await it to completion.

        When nothing else is queued or running, the cascade runs at once, in the calling task,
        and the returned awaitable is already done (no task switch, no coroutine to create:
        this is the fast path of embedding programs); it checkpoints every few dozen sends.
        If that cascade suspends (`[py]` awaiting `trio.sleep`), awaiting finishes it, in this
        task. Otherwise the message is queued and awaiting waits for its cascade. Always await
        it: a suspended cascade whose send is dropped unawaited is stopped and reported.
        The box is the cascade's source, as a loadbang is: an error in it is reported with its
        id and line.
        """
        box = (self._inlet0.get(box_id) if inlet == 0 else None) or self._target(box_id, inlet)
        ran = self._run_now(box, inlet, message)
        if ran is True:
            self._inline += 1
            if self._inline < BATCH:
                return _DONE
            self._inline = 0
            return trio.lowlevel.checkpoint()
        if ran:
            return ran  # the cascade suspended: awaiting finishes it
        return self._send_queued(box, message, inlet)

    async def _send_queued(self, box: Box, message: Any, inlet: int) -> None:
        done = trio.Event()
        inject = self.runtime.delivery.inject

        def queued() -> None:
            try:
                inject(box, inlet, message)
            finally:
                done.set()

        self.runtime.post(queued, box)
        await done.wait()

    def _target(self, box_id: str, inlet: int) -> Box:
        """The box `box_id`, checked to have `inlet` (once per box and inlet)."""
        box = self._targets.get((box_id, inlet))
        if box is None:
            box = self._targets[box_id, inlet] = self._inlet(box_id, inlet)
            if inlet == 0:
                self._inlet0[box_id] = box
        return box

    def collect(self, box_id: str, inlet: int | None = None) -> list[Any]:
        """Return a list that fills with every message reaching `box_id` (or one inlet of it).

        Call it before the first `await` in the session to see what loadbangs cause.
        """
        box = self.runtime.graph.box(box_id)
        seen: list[Any] = []
        if inlet is None:
            self.runtime.delivery.observe(box, lambda _inlet, message: seen.append(message))
        else:
            wanted = inlet

            def watch(arrived: int, message: Any) -> None:
                if arrived == wanted:
                    seen.append(message)

            self.runtime.delivery.observe(box, watch)
        return seen

    async def idle(self) -> None:
        """Wait until no cascade runs, nothing is queued and nothing holds the patch open."""
        await self.runtime.wait_idle()

    def stop(self) -> None:
        """End the run after the cascades already queued."""
        self.runtime.stop()


class Patch:
    """A parsed and checked patch, ready to be run any number of times."""

    def __init__(self, decl: PatchDecl, registry: Registry | None = None) -> None:
        self.decl = decl
        self.registry = registry
        graph = build_graph(decl, registry)  # raises PatchError listing every problem
        self.id = check_patch_id(graph.patch_id)
        self.file = decl.file
        self._fresh: Graph | None = graph  # the first run uses the boxes built to check

    @classmethod
    def from_file(cls, path: str | os.PathLike[str], registry: Registry | None = None) -> Patch:
        """Read and check a `.patch` file; PatchError lists every problem with its position."""
        path = Path(path)
        data = path.read_bytes()
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            line = data.count(b"\n", 0, exc.start) + 1
            column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
            message = f"byte 0x{data[exc.start]:02x} is not UTF-8; save the file as UTF-8"
            raise PatchError([Problem(str(path), line, column, message)]) from None
        return cls(parse_patch(text, str(path)), registry)

    @classmethod
    def from_string(
        cls,
        text: str,
        file: str = "<string>",
        patch_id: str | None = None,
        registry: Registry | None = None,
    ) -> Patch:
        """Check patch text.

        The patch id is `patch_id` if given, else the text's `patch` line, else `file`'s name
        without `.patch` (`<string>` gives `string`).
        """
        decl = parse_patch(text, file)
        if patch_id is not None:
            decl = attrs.evolve(decl, patch_id=patch_id)
        return cls(decl, registry)

    def build(self) -> Graph:
        """Fresh boxes and wires for one run (the first run takes those built to check)."""
        graph, self._fresh = self._fresh, None
        return graph if graph is not None else build_graph(self.decl, self.registry)

    def runtime(
        self,
        *,
        data_dir: str | os.PathLike[str] | None = None,
        storage: str | os.PathLike[str] | None = None,
        output: Callable[[str], None] | None = None,
        errors: Callable[[str], None] | None = None,
        stdin: Iterable[str] | AsyncIterator[str] | None = None,
        strict: bool = False,
        durability: str = "full",
        trace: bool | Callable[[str], None] = False,
        bus: str | None = None,
    ) -> Runtime:
        """A runtime for one run of this patch (lower level than `run` and `running`).

        Storage is `storage` (a URL: `lmdb:DIR`, `memory:`), else `data_dir`, else
        `$PATCHFLOW_STORAGE`, `$PATCHFLOW_DATA_DIR`, the user data directory. `durability` is
        `"full"` (each storage command flushed to disk before its reply) or `"process"`
        (committed before its reply, flushed within a second): storage.md. `trace` writes a
        line for every delivery, `[SOURCE:OUTLET] -> [TARGET:INLET] MESSAGE`, in delivery
        order: True to standard error (as `patchflow run --trace`), or to a function of a line.
        `bus` is an MQTT URL (`mqtt://HOST[:PORT][/PREFIX]`, bus.md): `[send]`/`[receive]`
        then cross processes; a malformed URL raises ValueError (bus.BusError).
        """
        if durability not in ("full", "process"):  # storage's DURABILITIES, checked before a
            # box opens the storage (and without loading storage for patches that never do)
            raise ValueError(f"unknown durability {durability!r}; expected full or process")

        def open_patch_storage() -> Any:
            from .storage import open_storage

            return open_storage(self.id, data_dir, storage=storage, durability=durability)

        mqtt = None
        if bus is not None:
            from .bus import MqttBus  # paho is loaded only by runs with a bus

            mqtt = MqttBus(bus)
        return Runtime(
            self.build(),
            bus=mqtt,
            storage_opener=open_patch_storage,
            output=output,
            errors=errors,
            stdin=as_async_lines(stdin),
            strict=strict,
            trace=(print_stderr if trace is True else trace) or None,
        )

    async def run(
        self, *, forever: bool = False, timeout: float | None = None, **options: Any
    ) -> RunResult:
        """Run until idle (or `timeout` seconds, or for ever); options as for `runtime`."""
        runtime = self.runtime(**options)
        reason = await runtime.run(forever=forever, timeout=timeout)
        return RunResult(reason, runtime.error_count, runtime.failure)

    def run_sync(self, **options: Any) -> RunResult:
        """`run` from synchronous code (starts its own trio loop)."""
        return trio.run(lambda: self.run(**options))

    @asynccontextmanager
    async def running(self, **options: Any) -> AsyncIterator[Session]:
        """Run the patch for the duration of the `async with` block (it does not stop when idle).

        Loadbangs fire at the block's first checkpoint, so `collect` calls made before any
        `await` see everything.
        """
        runtime = self.runtime(**options)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(lambda: runtime.run(forever=True))
            session = Session(runtime)
            try:
                yield session
            finally:
                runtime.stop()


class _Done:
    """An awaitable that is already complete: `await` returns None at once.

    `__await__` hands out one shared, exhausted iterator, and is itself the `__next__` of an
    endless `itertools.repeat` of it: a C function, not a method, so that `await` runs no
    Python frame for it. `await session.send(...)` on the fast path took 35 ns less than with
    a Python `__await__` returning `iter(())` (2026-11-29, 2-core Xeon VM, best of 7 × 100,000
    awaits; chain10 is about 1.3 µs a message).
    """

    __slots__ = ()

    __await__: Callable[[], Iterator[None]] = itertools.repeat(iter(())).__next__


_DONE = _Done()
