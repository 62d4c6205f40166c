"""The watch example across two processes, on every backend two processes can share.

`patches/watch.patch` runs in one `patchflow run`, `patches/watch-writer.patch` in another; the
watcher must print every change the writer makes, in order, and stop when told. LMDB finds the
other process's changes by looking every 50 ms; PostgreSQL and Redis by the writer's notice.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _postgresql(tmp_path: Path) -> list[str]:
    from postgres_server import fresh_url

    return ["--storage", fresh_url()]


def _redis(tmp_path: Path) -> list[str]:
    pytest.importorskip("redis")
    from redis_server import fresh_url

    return ["--storage", fresh_url()]


STORES = {
    "lmdb": lambda tmp_path: ["--data-dir", str(tmp_path)],
    "postgresql": _postgresql,
    "redis": _redis,
}


@pytest.mark.slow
@pytest.mark.parametrize("store", list(STORES))
def test_the_watch_example_sees_another_process_write(store, tmp_path):
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    run = [sys.executable, "-m", "patchflow", "run"]
    storage = STORES[store](tmp_path)
    watcher = subprocess.Popen(
        [*run, str(ROOT / "patches" / "watch.patch"), *storage],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert watcher.stdout.readline().startswith("watching:"), watcher.stderr.read()
        writer = subprocess.run(
            [*run, str(ROOT / "patches" / "watch-writer.patch"), *storage],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
            check=False,
        )
        assert writer.returncode == 0, writer.stderr
        out, err = watcher.communicate(timeout=60)  # generous: it ends once it sees `stop`
    finally:
        watcher.kill()
    assert watcher.returncode == 0, err
    assert out.splitlines() == [
        'changed: {"op": "changed", "key": "note", "value": "hello", "found": true}',
        'changed: {"op": "changed", "key": "level", "value": 1, "found": true}',
        'changed: {"op": "changed", "key": "note", "value": null, "found": false}',
        'changed: {"op": "changed", "key": "stop", "value": true, "found": true}',
    ]
