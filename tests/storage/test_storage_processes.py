"""Durability and concurrency across real processes: kill -9, crashes mid-write, two writers."""

from __future__ import annotations

import signal

import pytest
import trio

from patchflow.storage import open_storage
from patchflow.storage.backends.lmdb_admin import LmdbLocation

pytestmark = pytest.mark.slow

SET_THEN_DIE = """
import os, signal, sys, trio
from patchflow.storage import open_storage
storage = open_storage("durable", sys.argv[1])
trio.run(storage.kv(name="s").set, "answer", {"value": 42, "blob": b"\\x00\\xff"})
print("set returned", flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""

DIE_MID_WRITE = """
import os, signal, sys
from patchflow.storage import StoreRef, encode, open_storage
from patchflow.storage.layout.keys import encode_key
storage = open_storage("durable", sys.argv[1])
prefix = StoreRef.named("s").prefix
def write_half_then_die(txn):
    txn.put("kv", prefix + encode_key("answer"), encode("torn"))
    txn.put("kv", prefix + encode_key("extra"), encode("torn"))
    txn.delete("kv", prefix + encode_key("kept"))
    print("dying mid-write", flush=True)
    os.kill(os.getpid(), signal.SIGKILL)
storage.backend.write(write_half_then_die)
"""

WRITE_MANY = """
import sys, trio
from patchflow.storage import open_storage
from patchflow.storage.backends.lmdb_admin import LmdbLocation
name, count = sys.argv[2], int(sys.argv[3])
async def main():
    # a small first map, so that both writers grow it while the other is writing
    location = LmdbLocation(sys.argv[1], initial_map_size=64 << 10)
    with open_storage("shared", storage=location) as storage:
        kv = storage.kv(name="s")
        for index in range(count):
            await kv.set(f"{name}-{index:04}", [name, index, "x" * 100])
trio.run(main)
"""


def test_a_set_that_returned_survives_kill_9(python, tmp_path):
    done = python(SET_THEN_DIE, str(tmp_path))
    assert done.stdout == "set returned\n", done.stderr
    assert done.returncode == -signal.SIGKILL
    with open_storage("durable", tmp_path) as storage:
        assert trio.run(storage.kv(name="s").get, "answer") == {"value": 42, "blob": b"\x00\xff"}


def test_a_crash_in_the_middle_of_a_write_leaves_the_previous_state(python, tmp_path):
    with open_storage("durable", tmp_path) as storage:
        kv = storage.kv(name="s")
        trio.run(kv.set, "answer", "before")
        trio.run(kv.set, "kept", "before")
    done = python(DIE_MID_WRITE, str(tmp_path))
    assert done.stdout == "dying mid-write\n", done.stderr
    assert done.returncode == -signal.SIGKILL
    with open_storage("durable", tmp_path) as storage:
        kv = storage.kv(name="s")
        assert trio.run(kv.keys) == ["answer", "kept"]
        assert trio.run(kv.get, "answer") == "before"
        trio.run(kv.set, "answer", "after")  # and the storage still takes writes
        assert trio.run(kv.get, "answer") == "after"


def test_two_processes_writing_at_once_lose_nothing(start, tmp_path):
    count = 1000
    writers = [start(WRITE_MANY, str(tmp_path), name, str(count)) for name in ("a", "b")]
    for writer in writers:
        _, errors = writer.communicate(timeout=120)
        assert writer.returncode == 0, errors
    with open_storage("shared", tmp_path) as storage:
        kv = storage.kv(name="s")
        keys = trio.run(kv.keys)
        assert len(keys) == 2 * count
        assert keys == sorted(f"{name}-{index:04}" for name in "ab" for index in range(count))
        assert trio.run(kv.get, "b-0999") == ["b", 999, "x" * 100]
        assert storage.backend.map_size > 64 << 10


def test_a_map_grown_by_another_process_is_adopted(python, tmp_path):
    location = LmdbLocation(tmp_path, initial_map_size=64 << 10)
    with open_storage("grown", storage=location) as storage:
        kv = storage.kv(name="s")
        trio.run(kv.set, "mine", 1)
        grow = WRITE_MANY.replace('"shared"', '"grown"').replace('"x" * 100', '"x" * 4000')
        done = python(grow, str(tmp_path), "other", "300")  # about 1.2 MB
        assert done.returncode == 0, done.stderr
        assert trio.run(kv.get, "other-0299") == ["other", 299, "x" * 4000]
        assert len(trio.run(kv.keys)) == 301
        trio.run(kv.set, "mine", 2)
        assert trio.run(kv.get, "mine") == 2
