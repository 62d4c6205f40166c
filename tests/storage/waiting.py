"""Waiting in tests for what another thread or process does: poll a condition, with a limit."""

from __future__ import annotations

import time
from collections.abc import Callable


def eventually(condition: Callable[[], object], seconds: float = 5.0) -> bool:
    """Return True once `condition()` is true, False if it is not within `seconds`."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True
