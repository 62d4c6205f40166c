"""What the tests of an installed patchflow share: where the source checkout is, which example
patches it holds, and how to run the installed `patchflow` executable.

These tests run twice. In the normal suite they check the editable install in .venv. In
.ci/run they check the wheel installed in a fresh virtualenv, run from a directory where the
checkout is not importable, with PATCHFLOW_TEST_INSTALLED=1: then a module, data file or entry
point the wheel lacks fails them, where the editable install would have hidden it. They are
fixtures, not importable helpers, because a test module cannot import this conftest reliably.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

#: the source checkout: its patches/ are the examples run, its packages the modules expected;
#: PATCHFLOW_SOURCE names it when these files are run from a copy
SOURCE = Path(os.environ.get("PATCHFLOW_SOURCE") or Path(__file__).resolve().parents[2]).resolve()
PATCHES = SOURCE / "patches"
if not PATCHES.is_dir():
    raise pytest.UsageError(
        f"no example patches in {PATCHES}: set PATCHFLOW_SOURCE to the patchflow checkout"
    )


@pytest.fixture(scope="session")
def source_dir() -> Path:
    return SOURCE


@pytest.fixture(scope="session")
def installed() -> bool:
    """True when .ci/run checks a wheel: patchflow must then come from site-packages."""
    return os.environ.get("PATCHFLOW_TEST_INSTALLED") == "1"


@pytest.fixture(scope="session")
def patchflow_executable() -> str:
    """The console script beside this Python (the virtualenv's bin/), not one on PATH that may
    belong to another installation."""
    found = shutil.which("patchflow", path=str(Path(sys.executable).parent))
    assert found, f"no `patchflow` console script next to {sys.executable}"
    return found


@pytest.fixture(scope="session")
def patchflow(patchflow_executable) -> Callable[..., subprocess.CompletedProcess]:
    """Run the installed `patchflow ARGS` to completion, from `cwd`: never the checkout, so a
    stray `''` on sys.path cannot import the source."""

    def run(*args: str, cwd: Path, stdin: str | None = None) -> subprocess.CompletedProcess:
        return subprocess.run(
            [patchflow_executable, *args],
            input=stdin,
            capture_output=True,
            text=True,
            cwd=cwd,
            timeout=60,
        )

    return run


@pytest.fixture(params=sorted(PATCHES.glob("*.patch")), ids=lambda path: path.stem)
def example(request) -> Path:
    """Each example patch of the checkout."""
    return request.param
