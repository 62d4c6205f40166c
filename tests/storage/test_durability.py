"""Durability modes (storage.md): "full" flushes each commit, "process" within a second.

Process mode must lose nothing when patchflow is killed (the commits are in the kernel's page
cache) and never leave a store that does not open; the flusher must flush soon after a commit
and when the storage closes. No timed asserts beyond generous bounds: waiting for the flusher
polls for up to 20 s, for something that takes one.
"""

from __future__ import annotations

import signal
import threading

import lmdb
import pytest
import trio
from click.testing import CliRunner
from waiting import eventually

from patchflow.cli import main
from patchflow.errors import StorageError
from patchflow.storage import open_storage
from patchflow.storage.backends.lmdb_backend import LmdbBackend
from patchflow.storage.backends.lmdb_flush import Flusher
from patchflow.storage.backends.memory_backend import MemoryLocation
from patchflow.storage.backends.protocol import DURABILITIES

GENEROUS = 20.0  # seconds to wait for what should take one


def _set(storage, key, value) -> None:
    trio.run(storage.kv(name="s").set, key, value)


def _get(storage, key):
    return trio.run(storage.kv(name="s").get, key)


# ---- what each mode opens ----------------------------------------------------------------------


@pytest.mark.parametrize(("durability", "synced"), [("full", True), ("process", False)])
def test_lmdb_syncs_each_commit_only_in_full_durability(tmp_path, durability, synced):
    with open_storage("p", tmp_path, durability=durability) as storage:
        shared = storage.backend._shared
        assert shared.opened().flags()["sync"] is synced
        assert (shared.flusher is None) is synced


def test_the_default_durability_is_full(tmp_path):
    with open_storage("p", tmp_path) as storage:
        assert storage.backend.durability == "full"
        assert storage.backend._shared.opened().flags()["sync"] is True


@pytest.mark.parametrize("data_dir", ["lmdb", ":memory:"])
def test_an_unknown_durability_is_refused_naming_the_modes(tmp_path, data_dir):
    where = str(tmp_path) if data_dir == "lmdb" else data_dir
    with pytest.raises(ValueError, match=r"unknown durability 'fast'.*full, process"):
        open_storage("p", where, durability="fast")


@pytest.mark.parametrize("durability", DURABILITIES)
def test_memory_storage_accepts_both_modes_alike(durability):
    location = MemoryLocation()
    with open_storage("p", storage=location, durability=durability) as storage:
        _set(storage, "k", 1)
        assert _get(storage, "k") == 1


# ---- the flusher -------------------------------------------------------------------------------


def test_process_durability_flushes_within_a_second_of_a_commit(tmp_path):
    with open_storage("p", tmp_path, durability="process") as storage:
        flusher = storage.backend._shared.flusher
        _set(storage, "k", 1)
        assert flusher.pending  # committed, not flushed yet (the flush waits up to a second)
        assert eventually(lambda: flusher.flushes == 1, GENEROUS)
        assert not flusher.pending
        _set(storage, "k", 2)  # the next commit starts the next second
        assert eventually(lambda: flusher.flushes == 2, GENEROUS)


def test_process_durability_flushes_when_the_storage_closes(tmp_path):
    storage = open_storage("p", tmp_path, durability="process")
    flusher = storage.backend._shared.flusher
    flusher.interval = 3600  # the thread would not flush during this test
    _set(storage, "k", 1)
    assert flusher.pending and flusher.flushes == 0
    storage.close()
    assert flusher.flushes == 1 and not flusher.pending


def test_a_full_handle_flushes_an_environment_opened_for_process(tmp_path):
    fast = open_storage("p", tmp_path, durability="process")
    try:
        flusher = fast.backend._shared.flusher
        flusher.interval = 3600
        with open_storage("p", tmp_path) as durable:  # the same environment, in this process
            assert durable.backend._shared is fast.backend._shared
            _set(fast, "k", 1)
            assert flusher.pending
            _set(durable, "k", 2)
            assert not flusher.pending and flusher.flushes == 1  # flushed before the reply
    finally:
        fast.close()


class _FailingEnv:
    def sync(self, force):
        raise lmdb.Error("/nowhere: Input/output error")


def test_a_failed_background_flush_is_kept_and_retried():
    lock = threading.RLock()
    flusher = Flusher("/nowhere", lock, lambda: _FailingEnv(), interval=0.01)
    with lock:
        flusher.committed()
    assert eventually(lambda: flusher.error is not None, GENEROUS)
    assert "cannot flush patch storage at /nowhere" in str(flusher.error)
    assert flusher.pending  # still to be flushed: the thread tries again
    flusher.stop()


def test_the_next_write_raises_a_failed_background_flush(tmp_path):
    backend = LmdbBackend(tmp_path / "p", ("kv",), durability="process")
    try:
        backend._shared.flusher.error = StorageError("cannot flush patch storage at X: EIO")
        with pytest.raises(StorageError, match="cannot flush"):
            backend.write(lambda txn: txn.put("kv", b"k", b"v"))
        backend.write(lambda txn: txn.put("kv", b"k", b"v"))  # said once; writing goes on
        assert backend.get("kv", b"k") == b"v"
    finally:
        backend.close()


# ---- kill -9 -----------------------------------------------------------------------------------

WRITE_UNTIL_KILLED = """
import sys, trio
from patchflow.storage import open_storage
async def main():
    with open_storage("killed", sys.argv[1], durability=sys.argv[2]) as storage:
        kv = storage.kv(name="s")
        for index in range(1_000_000):
            await kv.set(f"key{index:07}", {"index": index, "pad": "x" * 50})
            print(index, flush=True)  # the reply came: this key must survive
trio.run(main)
"""


@pytest.mark.slow
@pytest.mark.parametrize(("durability", "replies"), [("full", 20), ("process", 2000)])
def test_kill_9_loses_no_replied_write_and_leaves_a_store_that_opens(
    start, tmp_path, durability, replies
):
    child = start(WRITE_UNTIL_KILLED, str(tmp_path), durability)
    printed = []
    try:
        for line in child.stdout:
            printed.append(int(line))
            if len(printed) >= replies:
                child.send_signal(signal.SIGKILL)  # mid-way: it is still writing
                break
        printed.extend(int(line) for line in child.stdout)  # replies already in the pipe
    finally:
        child.kill()
        child.wait(timeout=60)
        child.stdout.close()
        child.stderr.close()
    assert child.returncode == -signal.SIGKILL
    assert len(printed) >= replies
    with open_storage("killed", tmp_path) as storage:  # opens fine, and can be written
        kv = storage.kv(name="s")
        for index in printed:
            assert trio.run(kv.get, f"key{index:07}") == {"index": index, "pad": "x" * 50}
        _set(storage, "after", True)
        assert _get(storage, "after") is True


# ---- the command line --------------------------------------------------------------------------

COUNT = """\
patch durable-count
[loadbang] -> [msg get n] -> s
s = [kv n] -> [route op=get] -> [expr ($1.value or 0) + 1] -> t
t = [t a a]
t:1 -> [print n]
t:0 -> [msg set n $1] -> s
"""


def test_run_durability_process_stores_as_full_does(tmp_path):
    patch = tmp_path / "count.patch"
    patch.write_text(COUNT)
    runner = CliRunner()
    outputs = []
    for durability in ("process", "full", "process"):
        args = ["run", str(patch), "--data-dir", str(tmp_path / "data")]
        done = runner.invoke(main, [*args, "--durability", durability])
        assert done.exit_code == 0, done.output
        outputs.append(done.output)
    assert outputs == ["n: 1\n", "n: 2\n", "n: 3\n"]


def test_run_refuses_an_unknown_durability_with_exit_2(tmp_path):
    patch = tmp_path / "count.patch"
    patch.write_text(COUNT)
    done = CliRunner().invoke(main, ["run", str(patch), "--durability", "fast"])
    assert done.exit_code == 2
    assert "'fast' is not one of 'full', 'process'" in done.output
