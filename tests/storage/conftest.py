"""Fixtures that run every storage test against each backend: LMDB in a temporary directory, and
the in-memory backend. A new backend joins every contract test with one line in `LOCATIONS`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from postgres_server import postgres_location
from redis_server import redis_location

import patchflow.storage
from patchflow.errors import CommandError
from patchflow.storage import MEMORY, SPACES, open_storage
from patchflow.storage.backends.lmdb_admin import LmdbLocation
from patchflow.storage.backends.memory_backend import MemoryLocation

#: backend name → the `StorageLocation` the contract suite runs on, given a temporary directory
LOCATIONS = {
    "lmdb": lambda tmp_path: LmdbLocation(tmp_path / "data"),
    "memory": lambda tmp_path: MemoryLocation(),
    "postgresql": postgres_location,
    "redis": redis_location,
}
BACKENDS = list(LOCATIONS)

#: the directory holding the `patchflow` package, for subprocesses to import it from
SOURCE_ROOT = Path(patchflow.storage.__file__).resolve().parents[2]


@pytest.fixture(params=["lmdb", "memory"])  # the backends a data directory can name
def data_dir(request, tmp_path) -> str:
    """A data directory for `open_storage`: a temporary directory, or `:memory:`."""
    return str(tmp_path / "data") if request.param == "lmdb" else MEMORY


@pytest.fixture(params=BACKENDS)
def location(request, tmp_path):
    """A storage location of each backend (`LOCATIONS`), holding no patches yet."""
    return LOCATIONS[request.param](tmp_path)


@pytest.fixture
def storage(location):
    """The storage of patch `test-patch`, on each backend; closed afterwards."""
    with open_storage("test-patch", storage=location) as opened:
        yield opened


@pytest.fixture
def backend(location):
    """A bare backend holding the layout's spaces, on each implementation; closed afterwards."""
    opened = location.open("contract", SPACES)
    yield opened
    opened.close()


def python_env() -> dict[str, str]:
    """The environment for a fresh Python that can import patchflow from this checkout."""
    paths = [str(SOURCE_ROOT), os.environ.get("PYTHONPATH", "")]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(path for path in paths if path)}


def run_python(code: str, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run `code` in a fresh Python that can import patchflow; return the finished process."""
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=python_env(),
        check=False,
    )


def start_python(code: str, *args: str) -> subprocess.Popen[str]:
    """Start `code` in a fresh Python that can import patchflow; return it running."""
    return subprocess.Popen(
        [sys.executable, "-c", code, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=python_env(),
    )


@pytest.fixture
def python():
    """`python(code, *args)`: run code in a fresh interpreter (for crash and process tests)."""
    return run_python


@pytest.fixture
def start():
    """`start(code, *args)`: start code in a fresh interpreter; returns the `Popen`."""
    return start_python


@pytest.fixture
def box_reply():
    """`box_reply(store, message)`: the reply a `[kv]`/`[db]` box on `store` (a `KV`/`DB`) sends
    for `message`, through the same calls the box makes: parse, then answer."""

    def reply(store, message):
        try:
            command = store.parse(message)
        except CommandError as error:
            return store.error_reply(error)
        return store.answer(command)

    return reply
