"""The Redis server the storage tests use, and a fresh key prefix per test.

The server is `$PATCHFLOW_TEST_REDIS`, by default `redis://127.0.0.1:6379/0`. Without it the
Redis tests are skipped, saying why — except with `CI=true`, where a missing server fails them
loudly.

Each location gets a key prefix of its own (`pftest-PID-N`, chosen through the URL's
`?prefix=`), so tests never see each other's patches, even when two test runs share the server.
This process's keys are deleted when it exits; those of a test run that was killed are deleted
by the next.
"""

from __future__ import annotations

import atexit
import itertools
import os

from services import server_url

SERVER = os.environ.get("PATCHFLOW_TEST_REDIS", "redis://127.0.0.1:6379/0")
_PREFIX = "pftest-"
_numbers = itertools.count()


def server() -> str:
    """Return the server's URL; skip the test (fail it with CI=true) if it cannot be reached."""
    return server_url("Redis", SERVER, _check)


def _client():
    import redis

    return redis.Redis.from_url(SERVER, socket_connect_timeout=5)


def _check() -> str:
    try:
        import redis
    except ImportError:
        return "redis-py is not installed (pip install -e '.[dev]')"
    try:
        with _client() as client:
            client.ping()
            _delete(client, f"{_PREFIX}*", lambda key: not _alive(key.split(b"-")[1]))
    except redis.RedisError as error:
        return " ".join(str(error).split())
    atexit.register(_delete_ours)
    return ""


def fresh_prefix() -> str:
    """Return a key prefix no other test uses (checking the server first)."""
    server()
    return f"{_PREFIX}{os.getpid()}-{next(_numbers)}"


def fresh_url() -> str:
    """Return a URL of the server with a fresh key prefix."""
    return f"{server()}{'&' if '?' in SERVER else '?'}prefix={fresh_prefix()}"


def redis_location(tmp_path=None):
    """A `RedisLocation` on a fresh key prefix (`LOCATIONS` in conftest.py)."""
    from patchflow.storage.backends.redis_backend import RedisLocation

    return RedisLocation.from_url(fresh_url())


def _delete(client, pattern: str, wanted=lambda key: True) -> None:
    doomed = [key for key in client.scan_iter(match=pattern, count=1000) if wanted(key)]
    for start in range(0, len(doomed), 500):
        client.delete(*doomed[start : start + 500])


def _delete_ours() -> None:
    import redis

    try:
        with _client() as client:
            _delete(client, f"{_PREFIX}{os.getpid()}-*")
    except redis.RedisError:
        pass  # the next run deletes them as stale


def _alive(pid: bytes) -> bool:
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except (PermissionError, ValueError):
        return True
    return True
