"""What only the LMDB backend has to prove: growth, failures, fork safety, files on disk."""

from __future__ import annotations

import os
import warnings

import pytest
import trio

from patchflow.errors import StorageError
from patchflow.storage import SPACES, LmdbBackend, open_storage
from patchflow.storage.backends.lmdb_admin import LmdbLocation

SMALL = 256 << 10  # an initial map small enough that a test outgrows it quickly


def test_storage_lives_in_data_dir_slash_patch_id(tmp_path):
    with open_storage("counter", tmp_path / "data") as storage:
        trio.run(storage.kv(name="s").set, "k", 1)
        assert storage.location == str(tmp_path / "data" / "counter")
    assert (tmp_path / "data" / "counter" / "data.mdb").is_file()


def test_the_map_grows_to_hold_more_than_its_initial_size(tmp_path):
    chunk = bytes(range(256)) * 128  # 32 KiB
    with open_storage("big", storage=LmdbLocation(tmp_path, initial_map_size=SMALL)) as storage:
        kv = storage.kv(name="s")

        async def fill():
            for index in range(48):  # 1.5 MiB in all
                await kv.set(f"chunk{index:02}", [index, chunk])
            await kv.set(
                "huge", b"x" * (2 << 20)
            )  # one value far beyond the map: several doublings

        trio.run(fill)
        assert storage.backend.map_size > 4 * SMALL
    with open_storage("big", storage=LmdbLocation(tmp_path, initial_map_size=SMALL)) as storage:
        kv = storage.kv(name="s")

        async def read_back():
            for index in range(48):
                assert await kv.get(f"chunk{index:02}") == [index, chunk]
            assert await kv.get("huge") == b"x" * (2 << 20)

        trio.run(read_back)


def test_a_write_beyond_the_size_limit_fails_and_leaves_the_data_as_it_was(tmp_path):
    location = LmdbLocation(tmp_path, initial_map_size=SMALL, max_map_size=1 << 20)
    with open_storage("full", storage=location) as storage:
        kv = storage.kv(name="s")
        trio.run(kv.set, "k", "before")
        with pytest.raises(StorageError, match="size limit of 1 MiB"):
            trio.run(kv.set, "k", b"x" * (2 << 20))
        message = {"type": "set", "key": "k", "value": b"x" * (2 << 20)}
        reply = kv.answer(kv.parse(message))
        assert reply["op"] == "error"
        assert reply["message"].startswith("kv: 'set' failed: cannot write patch storage at ")
        assert trio.run(kv.get, "k") == "before"
        trio.run(kv.set, "k", "after")  # still usable
        assert trio.run(kv.get, "k") == "after"


def test_a_data_dir_that_cannot_be_created_is_a_storage_error_saying_what_to_do(tmp_path):
    (tmp_path / "file").write_text("not a directory")
    with pytest.raises(StorageError, match=r"cannot create .*choose a writable data directory"):
        open_storage("p", tmp_path / "file")


def test_an_unwritable_data_dir_is_a_storage_error_saying_what_to_do(tmp_path, monkeypatch):
    # Simulated, because CI runs as root and root may write anywhere.
    import lmdb

    def refuse(*args, **kwargs):
        raise lmdb.Error(f"{tmp_path}/p: Permission denied")

    monkeypatch.setattr(lmdb, "open", refuse)
    with pytest.raises(StorageError, match=r"data directory|permission"):
        open_storage("p", tmp_path)


def test_files_that_are_not_lmdb_are_damaged_storage_saying_what_to_do(tmp_path):
    (tmp_path / "p").mkdir()
    (tmp_path / "p" / "data.mdb").write_bytes(b"this is not an LMDB file at all" * 200)
    with pytest.raises(StorageError) as caught:
        open_storage("p", tmp_path)
    assert str(caught.value) == (
        f"patch storage at {tmp_path / 'p'} is damaged: cannot open it (MDB_INVALID: File is"
        " not an LMDB file); restore it from a backup, or delete it with `patchflow data rm p`"
    )


def test_handles_on_one_directory_share_one_environment(tmp_path):
    one = LmdbBackend(tmp_path / "env", SPACES)
    two = LmdbBackend(tmp_path / "." / "env", SPACES)
    try:
        assert one._shared is two._shared
        one.write(lambda txn: txn.put("kv", b"k", b"v"))
        one.close()
        assert two.read(lambda txn: txn.get("kv", b"k")) == b"v"
    finally:
        one.close()
        two.close()


def test_a_forked_child_opens_its_own_environment_and_the_parent_carries_on(tmp_path):
    storage = open_storage("forked", tmp_path)
    kv = storage.kv(name="s")
    trio.run(kv.set, "parent", 1)
    parents_env = storage.backend._shared
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # fork with threads, Python ≥ 3.12
        pid = os.fork()
    if pid == 0:  # the child: never return into pytest
        code = 1
        try:
            assert trio.run(kv.get, "parent") == 1  # through the inherited handle
            assert storage.backend._shared is not parents_env
            trio.run(kv.set, "child", 2)
            with open_storage("forked", tmp_path) as again:
                assert again.backend._shared is storage.backend._shared
                assert trio.run(again.kv(name="s").get, "child") == 2
            storage.close()
            code = 0
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    try:
        assert storage.backend._shared is parents_env
        assert trio.run(kv.get, "child") == 2
        trio.run(kv.set, "after", 3)
        assert trio.run(kv.keys) == ["after", "child", "parent"]
    finally:
        storage.close()
