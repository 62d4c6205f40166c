"""Drive `[kv]`/`[db]` boxes and their py-lmdb baselines, for the storage benchmark groups.

Shared by `bench_kv.py` and `bench_db.py`: a session that sends commands to one box and
checks the replies out of the timed loop, filling a store without 10,000 fsyncs, and the
py-lmdb side opened with patchflow's durability settings.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

import lmdb
import msgpack
import trio
from harness import CHUNK, BenchFailed, Rate, Stopwatch, check_errors

from patchflow import Patch
from patchflow.storage import PatchStorage

# ---- commands through a patch -------------------------------------------------------------


def check_reply(reply: Any, op: str) -> None:
    if not isinstance(reply, dict) or reply.get("op") != op:
        raise BenchFailed(f"expected an {op!r} reply, got {reply!r:.300}")


def replies_are(op: str) -> Callable[[list[Any], int], None]:
    """A `check` for `command_session` that only asks every reply to be an `op` reply."""

    def check(replies: list[Any], start: int) -> None:
        for reply in replies:
            check_reply(reply, op)

    return check


async def command_session(
    patch: Patch,
    data_dir: str,
    box: str,
    warm_up: dict[str, Any],
    messages: list[Any],
    check: Callable[[list[Any], int], None],
    **options: Any,
) -> Rate:
    """Send `warm_up` (opens the storage; not timed), then each message to `box`, one `send`
    each; return the commands/s. `options` go to `Patch.running` (e.g. `durability`).

    Every CHUNK messages (untimed) `check(replies, index of the first)` looks at the replies
    that reached `sink` (raising BenchFailed if one is wrong), and they are dropped.
    """
    errors: list[str] = []
    problem = ""
    watch = Stopwatch()
    async with patch.running(data_dir=data_dir, errors=errors.append, **options) as session:
        replies = session.collect("sink")
        send = session.send
        await send(box, warm_up)
        replies.clear()
        # (raising in here would come out wrapped in an ExceptionGroup: note, stop, raise later)
        for start in range(0, len(messages), CHUNK):
            if errors or problem:
                break
            chunk = messages[start : start + CHUNK]
            with watch:
                for message in chunk:
                    await send(box, message)
            if len(replies) != len(chunk):
                problem = f"{len(replies)} replies to {len(chunk)} commands"
            else:
                try:
                    check(replies, start)
                except BenchFailed as failed:
                    problem = str(failed)
            replies.clear()
        await session.idle()
    check_errors(errors)
    if problem:
        raise BenchFailed(problem)
    return watch.rates(len(messages))


# ---- filling stores (never timed) ---------------------------------------------------------


class _InOneTxn:
    """A backend whose every read and write runs inside one open write transaction."""

    def __init__(self, txn: Any) -> None:
        self._txn = txn

    def write(self, fn: Callable[[Any], Any]) -> Any:
        return fn(self._txn)

    read = write

    def get(self, space: str, key: bytes) -> bytes | None:
        return self._txn.get(space, key)


def _complete(coroutine: Any) -> Any:
    """Run a storage-facade coroutine that never yields (store.py promises this) to its end."""
    try:
        coroutine.send(None)
    except StopIteration as stop:
        return stop.value
    coroutine.close()
    raise RuntimeError("the storage facade yielded")


def prefill(
    storage: PatchStorage, make: Callable[[Any], Any], method: str, calls: list[tuple]
) -> None:
    """Call `make(backend).METHOD(*args)` for each args in `calls` through the public KV/DB
    classes, all in one write transaction (10,000 separate fsyncs would take seconds), or one
    call at a time through `storage.backend` should that not work."""
    try:
        storage.backend.write(
            lambda txn: [_complete(getattr(make(_InOneTxn(txn)), method)(*args)) for args in calls]
        )
    except RuntimeError:
        store = make(storage.backend)

        async def one_by_one() -> None:
            for args in calls:
                await getattr(store, method)(*args)

        trio.run(one_by_one)


# ---- durable py-lmdb baseline -------------------------------------------------------------


def open_lmdb(path: str) -> tuple[lmdb.Environment, Any]:
    """An environment with patchflow's durability settings (lmdb_backend.py) and one db."""
    os.makedirs(path, exist_ok=True)
    env = lmdb.open(
        path, map_size=1 << 30, max_dbs=4, subdir=True, sync=True, metasync=True, lock=True
    )
    return env, env.open_db(b"bench")


def lmdb_fill(env: lmdb.Environment, db: Any, items: list[tuple[str, Any]]) -> None:
    with env.begin(write=True, db=db) as txn:
        for key, value in items:
            txn.put(key.encode(), msgpack.packb(value, use_bin_type=True))


def lmdb_durable_puts(env: lmdb.Environment, db: Any, items: list[tuple[str, Any]]) -> float:
    """ops/s of one durable write transaction + msgpack pack per put."""
    packb = msgpack.packb
    begin = env.begin
    start = time.perf_counter()
    for key, value in items:
        with begin(write=True, db=db) as txn:
            txn.put(key.encode(), packb(value, use_bin_type=True))
    return len(items) / (time.perf_counter() - start)


def get_workload(
    items: list[tuple[str, Any]], n_gets: int
) -> tuple[list[str], list[dict[str, Any]], list[Any], Callable[[list[Any], int], None]]:
    """The kv get benchmarks' work, the same on every store: `n_gets` gets of existing keys in
    one pseudo-random order; returns the keys, the `get` messages, the values they find and
    the check of the replies."""
    order = [(i * 7919) % len(items) for i in range(n_gets)]
    keys = [items[j][0] for j in order]
    messages = [{"type": "get", "key": key} for key in keys]
    expected = [items[j][1] for j in order]

    def check(replies: list[Any], start: int) -> None:
        for reply, value in zip(replies, expected[start:], strict=False):
            check_reply(reply, "get")
            if not reply["found"] or reply["value"] != value:
                raise BenchFailed(f"wrong get reply {reply!r:.300}")

    return keys, messages, expected, check
