"""Opening LMDB storage on disk (`storage/lmdb_open.py`): damaged files are refused before a
read can crash the process, read-only media open read-only, and opening takes the open lock."""

from __future__ import annotations

import errno
import os
import signal
import threading

import lmdb
import pytest
import trio

from patchflow.errors import StorageError
from patchflow.storage import open_storage
from patchflow.storage.backends.lmdb_open import OPEN_LOCK_FILE, open_lock
from patchflow.storage.backends.protocol import DamagedStorage


def seed(data_dir, patch: str = "demo", keys: int = 400) -> str:
    """A patch whose data file spans many pages; return its storage directory."""

    async def fill() -> None:
        with open_storage(patch, data_dir) as storage:
            kv = storage.kv(name="s")
            for index in range(keys):
                await kv.set(f"k{index:04}", "x" * 1000)

    trio.run(fill)
    return os.path.join(data_dir, patch)


def damage(directory: str, how: str) -> None:
    data_file = os.path.join(directory, "data.mdb")
    size = os.path.getsize(data_file)
    if how == "cut to half":
        os.truncate(data_file, size // 2)
    elif how == "emptied":
        os.truncate(data_file, 0)
    else:  # garbage
        with open(data_file, "wb") as out:
            out.write(bytes(range(256)) * (size // 256))


READ_ALL = """
import sys, trio
from patchflow.errors import StorageError
from patchflow.storage import open_storage
try:
    with open_storage("demo", sys.argv[1]) as storage:
        print(len(trio.run(storage.kv(name="s").keys)))
except StorageError as error:
    print(error)
"""


@pytest.mark.slow
@pytest.mark.parametrize("how", ["cut to half", "emptied", "garbage"])
def test_damaged_storage_is_refused_naming_its_path_and_what_to_do_never_sigbus(
    tmp_path, python, how
):
    # In a child process: reading the pages past the end of a cut file would kill it (SIGBUS).
    directory = seed(tmp_path)
    damage(directory, how)
    child = python(READ_ALL, str(tmp_path))
    assert child.returncode == 0, (child.returncode, child.stderr)
    assert child.stdout.startswith(f"patch storage at {directory} is damaged: ")
    assert child.stdout.rstrip().endswith(
        "restore it from a backup, or delete it with `patchflow data rm demo`"
    )
    assert os.path.getsize(os.path.join(directory, "data.mdb")) != 8192  # not made a new store


def test_a_data_file_cut_short_is_found_before_any_page_is_read(tmp_path):
    directory = seed(tmp_path)
    damage(directory, "cut to half")
    with pytest.raises(DamagedStorage, match=r"has \d+ bytes of the \d+ it needs \(cut short\)"):
        open_storage("demo", tmp_path)


def test_an_emptied_data_file_is_damaged_not_a_new_empty_store(tmp_path):
    directory = seed(tmp_path)
    damage(directory, "emptied")
    with pytest.raises(DamagedStorage, match=r"its data file data\.mdb is empty"):
        open_storage("demo", tmp_path)
    assert os.path.getsize(os.path.join(directory, "data.mdb")) == 0  # left for the user


@pytest.mark.slow
def test_a_run_on_damaged_storage_stops_with_exit_1_and_says_what_to_do(tmp_path, python):
    directory = seed(tmp_path / "data", "counter")
    damage(directory, "cut to half")
    patch = os.path.join(os.path.dirname(__file__), "..", "..", "patches", "counter.patch")
    main = "from patchflow.cli import main; main()"
    child = python(main, "run", patch, "--data-dir", str(tmp_path / "data"))
    assert child.returncode == 1, child.stderr
    assert f"patch storage at {directory} is damaged" in child.stderr
    assert "patchflow data rm counter" in child.stderr and "Traceback" not in child.stderr


# ---- read-only media ---------------------------------------------------------------------------


def refuse_read_write(monkeypatch, code: int) -> list[bool]:
    """Make read-write opens fail as read-only media do; return the `readonly` of every open.

    Simulated, because tests run as root, whom permissions do not stop.
    """
    real_open = lmdb.open
    opens: list[bool] = []

    def open_(path, **options):
        opens.append(options.get("readonly", False))
        if not options.get("readonly", False):
            # as py-lmdb's C extension raises them: EACCES as ReadonlyError, EROFS as Error
            kind = lmdb.ReadonlyError if code == errno.EACCES else lmdb.Error
            error = kind(f"{path}: {os.strerror(code)}")
            error.what, error.code, error.reason = path, code, os.strerror(code)
            raise error
        return real_open(path, **options)

    monkeypatch.setattr(lmdb, "open", open_)
    return opens


@pytest.mark.parametrize("code", [errno.EACCES, errno.EROFS], ids=["EACCES", "EROFS"])
def test_storage_that_cannot_be_opened_read_write_is_read_read_only(tmp_path, monkeypatch, code):
    seed(tmp_path, keys=3)
    opens = refuse_read_write(monkeypatch, code)
    with open_storage("demo", tmp_path) as storage:
        kv = storage.kv(name="s")
        assert trio.run(kv.keys) == ["k0000", "k0001", "k0002"]
        with pytest.raises(StorageError, match="it was opened read-only, because its directory"):
            trio.run(kv.set, "k", 1)
    assert opens == [False, True]


def test_storage_in_a_directory_that_cannot_be_written_opens_read_only(tmp_path, monkeypatch):
    seed(tmp_path, keys=3)
    os.remove(tmp_path / "demo" / OPEN_LOCK_FILE)
    real_os_open = os.open

    def refuse_creating(path, flags, *args):  # as in a read-only directory
        if str(path).endswith(OPEN_LOCK_FILE):
            raise PermissionError(13, "Permission denied", path)
        return real_os_open(path, flags, *args)

    monkeypatch.setattr(os, "open", refuse_creating)
    opens = refuse_read_write(monkeypatch, errno.EACCES)
    with open_storage("demo", tmp_path) as storage:
        assert trio.run(storage.kv(name="s").get, "k0002") == "x" * 1000
    assert opens == [True]  # straight to read-only: no read-write attempt


# ---- the open lock -----------------------------------------------------------------------------


def test_opening_waits_for_the_open_lock(tmp_path):
    directory = str(tmp_path / "demo")
    opened = threading.Event()

    def open_and_close() -> None:
        open_storage("demo", tmp_path).close()
        opened.set()

    with open_lock(directory):
        thread = threading.Thread(target=open_and_close)
        thread.start()
        assert not opened.wait(0.3)  # blocked while the lock is held
    thread.join(timeout=60)
    assert opened.is_set()


def test_a_waiter_whose_directory_was_renamed_away_locks_the_new_one(tmp_path):
    directory = str(tmp_path / "demo")
    holder = open_lock(directory)
    holder.__enter__()
    locked = threading.Event()

    def wait_for_lock() -> None:
        with open_lock(directory):
            locked.set()
            assert os.path.exists(os.path.join(directory, OPEN_LOCK_FILE))

    thread = threading.Thread(target=wait_for_lock)
    thread.start()
    assert not locked.wait(0.2)
    os.rename(directory, tmp_path / ".aside")  # as data rm does, still holding the lock
    holder.__exit__(None, None, None)
    thread.join(timeout=60)
    assert locked.is_set() and os.path.isdir(directory)


@pytest.mark.slow
@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="POSIX only")
def test_the_open_lock_dies_with_its_process(tmp_path, start):
    directory = str(tmp_path / "demo")
    code = (
        "import sys, time\n"
        "from patchflow.storage.backends.lmdb_open import open_lock\n"
        "with open_lock(sys.argv[1]):\n"
        "    print('locked', flush=True)\n"
        "    time.sleep(60)\n"
    )
    child = start(code, directory)
    try:
        assert child.stdout.readline() == "locked\n"
    finally:
        child.kill()
        child.communicate(timeout=60)
    open_storage("demo", tmp_path).close()  # not stuck behind the dead process


def test_checking_for_open_storage_while_a_thread_waits_to_open_it_does_not_deadlock(tmp_path):
    from patchflow.storage.backends import lmdb_env
    from patchflow.storage.backends.lmdb_admin import LmdbLocation

    directory = str(tmp_path / "demo")
    open_storage("demo", tmp_path).close()
    with open_lock(directory):  # as data rm holds it
        opener = threading.Thread(target=lambda: open_storage("demo", tmp_path).close())
        opener.start()
        for _ in range(10_000):  # until the opener waits for the open lock, holding _envs_lock
            if not lmdb_env._envs_lock.acquire(blocking=False):
                break
            lmdb_env._envs_lock.release()
            opener.join(0.001)
        location = LmdbLocation(tmp_path)
        checked = threading.Thread(target=location.check_deletable, args=("demo",))
        checked.start()
        checked.join(timeout=30)
        assert not checked.is_alive(), "rm's check waited for the opener, which waits for rm"
    opener.join(timeout=60)
