"""The PostgreSQL backend beyond the contract suite (which runs on it through `LOCATIONS`):
passwords kept out of every message, a lost connection, writes from many processes, the tables'
format version, durability, and patches moved to and from PostgreSQL with `patchflow data`.

Needs the server of `postgres_server.py` (skipped without it, failing with CI=true)."""

from __future__ import annotations

import contextlib
import json
import socket
import subprocess
import sys
import threading
import uuid
from pathlib import Path

import pytest
import trio
from click.testing import CliRunner
from postgres_server import fresh_url, server

from patchflow.cli import main
from patchflow.errors import StorageError
from patchflow.storage import KV, SPACES, StoreRef, open_location, open_storage
from patchflow.storage.backends.postgres_backend import PostgresLocation

EXAMPLES = Path(__file__).resolve().parents[2] / "patches"


def admin():
    """A connection of the test's own to the server (to look, and to break things)."""
    import psycopg

    return psycopg.connect(server(), autocommit=True)


def with_password(url: str, password: str) -> str:
    """`url` with a password added after its user (trust authentication ignores it)."""
    scheme, _, rest = url.partition("://")
    user, _, host = rest.partition("@")
    return f"{scheme}://{user}:{password}@{host}"


def cli(*args: str, input: str | None = None):
    return CliRunner().invoke(main, list(args), input=input)


def terminate(application_name: str) -> int:
    """End every server connection of that application name, as an administrator would."""
    with admin() as conn:
        rows = conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %s",
            (application_name,),
        ).fetchall()
    return len(rows)


def kv_on(storage) -> KV:
    return KV(storage.backend, StoreRef.named("s"))


# ---- passwords ---------------------------------------------------------------------------------


def test_a_password_in_the_url_never_shows_in_locations_or_listings():
    url = with_password(fresh_url(), "s3cret-pw")
    location = open_location(url)
    assert isinstance(location, PostgresLocation) and "s3cret-pw" not in location.location
    with open_storage("shown", storage=url) as storage:
        assert "s3cret-pw" not in storage.location and "s3cret-pw" not in repr(storage)
        listing = cli("data", "ls", "--storage", url)
        assert listing.exit_code == 0 and "shown" in listing.stdout
        assert "s3cret-pw" not in listing.output


def test_an_unreachable_server_is_an_error_naming_the_url_without_its_password():
    url = "postgresql://someone:s3cret-pw@127.0.0.1:1/nothing"
    with pytest.raises(StorageError) as caught:
        PostgresLocation(url).open("p", SPACES)
    message = str(caught.value)
    assert "cannot connect to PostgreSQL at postgresql://someone@127.0.0.1:1/nothing" in message
    assert "s3cret-pw" not in message and "check that the server is running" in message
    listing = cli("data", "ls", "--storage", url)
    assert listing.exit_code == 1 and "s3cret-pw" not in listing.output
    assert "postgresql://someone@127.0.0.1:1/nothing" in listing.output


@pytest.mark.slow
def test_run_on_an_unreachable_server_exits_1_without_the_password(tmp_path):
    patch = tmp_path / "note.patch"
    patch.write_text("patch note\n[loadbang] -> [msg set k 1] -> [kv]\n")
    url = "postgresql://someone:s3cret-pw@127.0.0.1:1/nothing"
    done = subprocess.run(
        [sys.executable, "-m", "patchflow", "run", str(patch), "--storage", url],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1, done.stderr
    assert "postgresql://someone@127.0.0.1:1/nothing" in done.stderr
    assert "s3cret-pw" not in done.stdout + done.stderr


# ---- a lost connection -------------------------------------------------------------------------


def test_after_the_server_ends_the_connection_the_next_calls_reconnect_and_lose_nothing():
    name = f"pf-{uuid.uuid4().hex[:12]}"
    backend = PostgresLocation(fresh_url(application_name=name)).open("lost", SPACES)
    try:
        backend.write(lambda txn: txn.put("kv", b"k", b"before"))
        assert terminate(name) == 1
        assert backend.get("kv", b"k") == b"before"  # a read: reconnected transparently
        assert terminate(name) == 1
        assert backend.read(lambda txn: list(txn.scan("kv", b""))) == [(b"k", b"before")]
        assert terminate(name) == 1

        def bump(txn):  # never reached COMMIT the first time: running it again is safe
            txn.put("kv", b"n", b"%d" % (int(txn.get("kv", b"n") or b"0") + 1))

        backend.write(bump)
        assert backend.get("kv", b"n") == b"1"
    finally:
        backend.close()


def test_a_connection_lost_while_committing_is_an_error_saying_the_write_may_be_lost():
    backend = PostgresLocation(fresh_url()).open("commit", SPACES)
    try:
        # the server ends the connection where the commit goes (with the first write's record)
        backend._record_and_commit = "SELECT pg_terminate_backend(pg_backend_pid())"
        with pytest.raises(StorageError, match=r"while committing.*may or may not have been"):
            backend.write(lambda txn: txn.put("kv", b"k", b"v"))
        assert backend.get("kv", b"k") is None  # it was not committed; reconnected
    finally:
        backend.close()


class Proxy:
    """A TCP relay to the server that can be cut off and brought back, like a network."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.sockets: list[socket.socket] = []
        self.up = True
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if not self.up:
                client.close()
                continue
            upstream = socket.create_connection(self.target)
            self.sockets += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)
        for end in (source, sink):
            with contextlib.suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        self.up = False
        for end in self.sockets:
            with contextlib.suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)
            end.close()
        self.sockets.clear()

    def close(self) -> None:
        self.cut()
        self.listener.close()


def test_while_the_server_cannot_be_reached_boxes_get_error_replies_then_it_comes_back(box_reply):
    url = fresh_url()
    host_port = url.split("@", 1)[1].split("/", 1)[0]
    host, _, port = host_port.rpartition(":")
    proxy = Proxy(host, int(port))
    try:
        through = with_password(url.replace(host_port, f"127.0.0.1:{proxy.port}"), "pw-xyz")
        with open_storage("net", storage=through) as storage:
            kv = kv_on(storage)
            assert box_reply(kv, {"type": "set", "key": "a", "value": 1})["op"] == "set"
            proxy.cut()
            for message in ({"type": "get", "key": "a"}, {"type": "set", "key": "b", "value": 2}):
                reply = box_reply(kv, message)
                assert reply["op"] == "error", reply
                assert f"127.0.0.1:{proxy.port}" in reply["message"]
                assert "pw-xyz" not in reply["message"]
            proxy.up = True
            assert box_reply(kv, {"type": "get", "key": "a"})["value"] == 1  # acknowledged: kept
            assert box_reply(kv, {"type": "get", "key": "b"})["found"] is False  # refused: absent
            assert box_reply(kv, {"type": "set", "key": "b", "value": 2})["op"] == "set"
    finally:
        proxy.close()


# ---- many processes, the tables, durability ----------------------------------------------------

INCREMENT = """
import sys
from patchflow.storage import SPACES
from patchflow.storage.backends.postgres_backend import PostgresLocation

backend = PostgresLocation(sys.argv[1]).open("counted", SPACES)
def bump(txn):
    txn.put("kv", b"n", b"%d" % (int(txn.get("kv", b"n") or b"0") + 1))
for _ in range(int(sys.argv[2])):
    backend.write(bump)
backend.close()
"""


@pytest.mark.slow
def test_ten_processes_incrementing_one_counter_lose_nothing(start):
    url = fresh_url()  # no tables yet: the ten processes also race to create them
    processes = [start(INCREMENT, url, "30") for _ in range(10)]
    for process in processes:
        _, stderr = process.communicate(timeout=120)
        assert process.returncode == 0, stderr
    backend = PostgresLocation(url).open("counted", SPACES)
    try:
        assert backend.get("kv", b"n") == b"300"
    finally:
        backend.close()


def test_replace_returns_the_value_it_replaced_while_other_connections_write():
    # each write swaps in its own mark and reads the one it replaced: under the write lock,
    # every mark is replaced exactly once, whatever the interleaving of four connections
    url = fresh_url()
    location = PostgresLocation(url)
    backends = [location.open("swapped", SPACES) for _ in range(4)]
    replaced: list[bytes | None] = []
    errors: list[BaseException] = []

    def swap(backend, who: int) -> None:
        try:
            for n in range(25):
                mark = b"%d-%d" % (who, n)
                replaced.append(backend.write(lambda txn, m=mark: txn.replace("kv", b"k", m)))
        except BaseException as error:  # reported below, not lost in the thread
            errors.append(error)

    threads = [threading.Thread(target=swap, args=(b, i)) for i, b in enumerate(backends)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert not errors, errors
        last = backends[0].get("kv", b"k")
        expected = [None, *(mark for mark in _marks() if mark != last)]
        assert sorted(map(repr, replaced)) == sorted(map(repr, expected))
    finally:
        for backend in backends:
            backend.close()


def _marks() -> list[bytes]:
    return [b"%d-%d" % (who, n) for who in range(4) for n in range(25)]


def test_a_write_that_runs_no_statement_sends_nothing_and_returns_its_result():
    backend = PostgresLocation(fresh_url()).open("idle", SPACES)
    try:
        assert backend.write(lambda txn: "nothing to do") == "nothing to do"
        status = backend._conn.info.transaction_status
        assert status == type(status).IDLE  # not begun, so nothing was left open either
        # a write whose first statement is not a get begins the transaction itself
        assert backend.write(lambda txn: (txn.put("kv", b"a", b"1"), txn.count("kv"))[1]) == 1
        assert backend.write(lambda txn: txn.delete("kv", b"a")) is True
        assert backend.write(lambda txn: list(txn.scan("kv", b""))) == []
    finally:
        backend.close()


def test_writes_after_a_rolled_back_write_begin_as_before():
    # the rollback makes psycopg deallocate every prepared statement, the write's too, once
    # psycopg has prepared statements of its own (after 5 runs of one)
    backend = PostgresLocation(fresh_url()).open("rolled-back", SPACES)
    try:
        for n in range(10):
            backend.write(lambda txn, n=n: txn.put("kv", b"%d" % n, b"v"))

        def fails(txn):
            txn.put("kv", b"k", b"lost")
            raise ZeroDivisionError

        for _ in range(2):
            with pytest.raises(ZeroDivisionError):
                backend.write(fails)
            assert (
                backend.write(lambda txn: (txn.get("kv", b"k"), txn.put("kv", b"n", b"1"))[0])
                is None
            )
    finally:
        backend.close()


def test_tables_of_a_newer_format_are_refused_naming_both_versions():
    url = fresh_url()
    location = PostgresLocation(url)
    assert location.patches() == []  # creates the tables
    schema = url.rsplit("%3D", 1)[1]
    with admin() as conn:
        conn.execute(
            f"UPDATE {schema}.patchflow_meta SET value = '99' WHERE name = 'schema_version'"
        )
    with pytest.raises(StorageError, match=r"format 99, newer than this patchflow knows \(1\)"):
        location.open("p", SPACES)


def test_process_durability_commits_without_waiting_for_the_disk_and_flushes_on_close():
    url = fresh_url()
    location = PostgresLocation(url)
    backend = location.open("relaxed", SPACES, durability="process")
    try:
        setting = backend._conn.execute("SHOW synchronous_commit").fetchone()[0]
        assert setting == "off"
        backend.write(lambda txn: txn.put("kv", b"k", b"v"))
        other = location.open("relaxed", SPACES)  # committed: visible to another connection
        try:
            assert other.get("kv", b"k") == b"v"
        finally:
            other.close()
    finally:
        backend.close()
    with pytest.raises(ValueError, match="unknown durability"):
        location.open("relaxed", SPACES, durability="sometimes")


def test_a_patch_open_in_another_process_cannot_be_deleted(start):
    url = fresh_url()
    holder = start(
        "import sys\n"
        "from patchflow.storage import SPACES\n"
        "from patchflow.storage.backends.postgres_backend import PostgresLocation\n"
        "backend = PostgresLocation(sys.argv[1]).open('held', SPACES)\n"
        "print('open', flush=True)\n"
        "import time; time.sleep(120)\n",
        url,
    )
    try:
        assert holder.stdout.readline() == "open\n"
        refused = cli("data", "rm", "held", "--yes", "--storage", url)
        assert refused.exit_code == 1 and "is open in a process" in refused.stderr
    finally:
        holder.kill()
        holder.communicate()
    deleted = cli("data", "rm", "held", "--yes", "--storage", url)
    assert deleted.exit_code == 0, deleted.stderr
    assert PostgresLocation(url).patches() == []


# ---- patchflow run and patchflow data on PostgreSQL --------------------------------------------


@pytest.mark.slow
def test_a_patch_prints_the_same_on_postgresql_as_on_lmdb(tmp_path):
    url = fresh_url()
    patch = EXAMPLES / "named-store.patch"
    run = [sys.executable, "-m", "patchflow", "run", str(patch), "--storage"]
    on_lmdb = subprocess.run([*run, f"lmdb:{tmp_path}"], capture_output=True, text=True)
    on_postgres = subprocess.run([*run, url], capture_output=True, text=True)
    assert on_postgres.returncode == 0, on_postgres.stderr
    assert on_postgres.stdout == on_lmdb.stdout == (EXAMPLES / "named-store.expected").read_text()


def body(dump_text: str) -> list[str]:
    return dump_text.splitlines()[1:]


def shell_pipe(left: list[str], right: list[str]) -> subprocess.CompletedProcess[str]:
    """Run `left | right` as a shell would; return `right`, with `left`'s status checked."""
    first = subprocess.Popen(left, stdout=subprocess.PIPE)
    second = subprocess.run(right, stdin=first.stdout, capture_output=True, text=True, timeout=60)
    first.stdout.close()
    assert first.wait(timeout=60) == 0
    return second


@pytest.mark.slow
def test_a_patch_moves_to_postgresql_and_back_with_export_and_import(tmp_path):
    lmdb, url = f"lmdb:{tmp_path / 'data'}", fresh_url()

    async def fill(storage) -> None:
        await storage.kv(local="kv-1").set("count", 3)
        await storage.kv(name="settings").set("blob", b"\x00\xff")
        await storage.db(local="history").insert("runs", {"n": 1, "z": [1.5, None]})

    with open_storage("demo", storage=lmdb) as storage:
        trio.run(fill, storage)
    data = [sys.executable, "-m", "patchflow", "data"]
    there = shell_pipe(
        [*data, "export", "demo", "--storage", lmdb], [*data, "import", "demo", "--storage", url]
    )
    assert there.returncode == 0, there.stderr
    assert there.stdout.startswith("Imported 2 keys, 1 collection and 1 document")
    back = shell_pipe(
        [*data, "export", "demo", "--storage", url], [*data, "import", "back", "--storage", lmdb]
    )
    assert back.returncode == 0, back.stderr
    original = cli("data", "export", "demo", "--storage", lmdb).stdout
    assert body(cli("data", "export", "demo", "--storage", url).stdout) == body(original)
    assert body(cli("data", "export", "back", "--storage", lmdb).stdout) == body(original)


def test_the_data_commands_work_on_postgresql(tmp_path):
    url = fresh_url()
    with open_storage("demo", storage=url) as storage:
        trio.run(kv_on(storage).set, "volume", 0.8)
        (row,) = json.loads(cli("data", "ls", "--json", "--storage", url).stdout)
        assert (row["patch"], row["keys"]) == ("demo", 1)
        assert row["size"] > 0 and row["last_write"] is not None
        shown = json.loads(
            cli("data", "show", "demo", "--store", "s", "--json", "--storage", url).stdout
        )
        assert shown["kv"] == {"volume": 0.8}
        busy = cli("data", "rm", "demo", "--yes", "--storage", url)
        assert busy.exit_code == 1 and "is open" in busy.stderr
    destination = tmp_path / "demo.dump"
    backup = cli("data", "backup", "demo", str(destination), "--storage", url)
    assert backup.exit_code == 0 and " as an export: " in backup.stdout, backup.output
    removed = cli("data", "rm", "demo", "--yes", "--storage", url)
    assert removed.exit_code == 0, removed.stderr
    assert json.loads(cli("data", "ls", "--json", "--storage", url).stdout) == []
    restored = cli("data", "import", "demo", "--storage", url, input=destination.read_text())
    assert restored.exit_code == 0, restored.stderr
    with open_storage("demo", storage=url) as storage:
        assert trio.run(kv_on(storage).get, "volume") == 0.8
