"""The README's "Outgrowing one machine": the producer and consumer example patches as two
processes sharing a PostgreSQL store and an MQTT bus, and a patch moved between backends.

Needs PostgreSQL on 127.0.0.1:5432 and Mosquitto on 127.0.0.1:1883: skipped without them,
except in CI (CI=true), where a missing server fails loudly.
"""

from __future__ import annotations

import select
import socket
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from postgres_server import fresh_url
from services import require

PATCHES = Path(__file__).resolve().parents[2] / "patches"
HOST, PORT = "127.0.0.1", 1883
pytestmark = pytest.mark.slow


@pytest.fixture
def prefix() -> str:
    """A topic prefix of its own on the local broker (skip without one; CI fails loudly)."""
    problem = ""
    try:
        socket.create_connection((HOST, PORT), timeout=2).close()
    except OSError as exc:
        problem = str(exc)
    require(f"Mosquitto is needed on {HOST}:{PORT}", problem)
    return f"pftest-{uuid.uuid4().hex[:10]}"


def _patchflow(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "patchflow", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_producer_and_consumer_share_a_postgres_store_and_an_mqtt_bus(prefix):
    storage, bus = fresh_url(), f"mqtt://{HOST}:{PORT}/{prefix}"
    consumer = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "patchflow",
            "run",
            str(PATCHES / "consumer.patch"),
            "--storage",
            storage,
            "--bus",
            bus,
            "--timeout",
            "20",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        # The consumer subscribes a moment after it starts: run the producer (each run adds
        # one) until the consumer has heard a count, then once more.
        heard = False
        for _ in range(40):
            made = _patchflow(
                "run", str(PATCHES / "producer.patch"), "--storage", storage, "--bus", bus
            )
            assert made.returncode == 0, made.stderr
            if select.select([consumer.stdout], [], [], 0.5)[0]:
                heard = True
                break
        assert heard, "the consumer heard nothing"
        made = _patchflow(
            "run", str(PATCHES / "producer.patch"), "--storage", storage, "--bus", bus
        )
        count = int(made.stdout.split(":")[1])
        lines: list[str] = []
        while f"stored: {count}" not in lines:  # ends by the consumer's --timeout at worst
            line = consumer.stdout.readline()
            if not line:
                break
            lines.append(line.rstrip("\n"))
        # the last count is heard, and the store the consumer reads holds it: one store
        assert lines[-2:] == [f"heard: {count}", f"stored: {count}"], lines
    finally:
        if consumer.poll() is None:
            consumer.kill()
        consumer.communicate(timeout=20)  # reap it and close its pipes


def test_a_patch_moves_to_postgres_and_back_with_export_and_import(tmp_path):
    storage = fresh_url()
    lmdb = str(tmp_path / "data")
    for _ in range(3):
        assert _patchflow("run", str(PATCHES / "counter.patch"), "--data-dir", lmdb).returncode == 0
    dump = _patchflow("data", "export", "counter", "--data-dir", lmdb)
    assert dump.returncode == 0, dump.stderr
    moved = _patchflow("data", "import", "counter", "--storage", storage, stdin=dump.stdout)
    assert moved.returncode == 0, moved.stderr
    ran = _patchflow("run", str(PATCHES / "counter.patch"), "--storage", storage)
    assert ran.stdout == "count: 4\n", ran.stderr
    back = _patchflow("data", "export", "counter", "--storage", storage)
    assert (
        _patchflow(
            "data", "import", "counter", "--data-dir", lmdb, "--replace", stdin=back.stdout
        ).returncode
        == 0
    )
    assert _patchflow("run", str(PATCHES / "counter.patch"), "--data-dir", lmdb).stdout == (
        "count: 5\n"
    )
