"""One rule for tests that need a server on this machine (PostgreSQL, Redis, Mosquitto).

Without the server a test is skipped, saying why; with `CI=true` it fails loudly instead,
since `.ci/run` starts every server and a missing one must not pass for a green run.
"""

from __future__ import annotations

import os
from collections.abc import Callable

import pytest

_problems: dict[str, str] = {}  # url → why it is unusable ("": usable), checked once


def require(what: str, problem: str) -> None:
    """Skip (or, in CI, fail) the calling test when `problem` says why `what` is unusable."""
    if not problem:
        return
    message = f"{what}: {problem}"
    if os.environ.get("CI") == "true":
        pytest.fail(message + " (CI=true: .ci/run starts it)")
    pytest.skip(message)


def server_url(what: str, url: str, check: Callable[[], str]) -> str:
    """Return `url` if `check` (run once per url) finds the server usable; else skip or fail."""
    if url not in _problems:
        _problems[url] = check()
    require(f"{what} is needed at {url}", _problems[url])
    return url
