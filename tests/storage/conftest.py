"""Fixtures that run every storage test against each backend: LMDB in a temporary directory, and
the in-memory backend."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import patchflow.storage
from patchflow.storage import MEMORY, SPACES, LmdbBackend, MemoryBackend, open_storage

BACKENDS = ["lmdb", "memory"]

#: the directory holding the `patchflow` package, for subprocesses to import it from
SOURCE_ROOT = Path(patchflow.storage.__file__).resolve().parents[2]


@pytest.fixture(params=BACKENDS)
def data_dir(request, tmp_path) -> str:
    """A data directory for `open_storage`: a temporary directory, or `:memory:`."""
    return str(tmp_path / "data") if request.param == "lmdb" else MEMORY


@pytest.fixture
def storage(data_dir):
    """The storage of patch `test-patch`, on each backend; closed afterwards."""
    with open_storage("test-patch", data_dir) as opened:
        yield opened


@pytest.fixture(params=BACKENDS)
def backend(request, tmp_path):
    """A bare backend holding the layout's spaces, on each implementation; closed afterwards."""
    if request.param == "lmdb":
        opened = LmdbBackend(tmp_path / "env", SPACES)
    else:
        opened = MemoryBackend(SPACES)
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
