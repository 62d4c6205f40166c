"""The PostgreSQL server the storage tests use, and a fresh schema per test.

The server is `$PATCHFLOW_TEST_POSTGRESQL`, by default `postgresql://USER@127.0.0.1:5432/test`
(USER: whoever runs the tests; CI's server trusts loopback). Without it the PostgreSQL tests are
skipped, saying why — except with `CI=true`, where a missing server fails them loudly.

Each location gets a schema of its own (`pftest_PID_N`, chosen through the URL's
`search_path`, so the tables and the advisory locks — keyed by schema — are its own): tests
never see each other's patches, even when two test runs share the server. This process's
schemas are dropped when it exits; those of a test run that was killed are dropped by the next.
"""

from __future__ import annotations

import atexit
import getpass
import itertools
import os

from services import server_url

SERVER = os.environ.get(
    "PATCHFLOW_TEST_POSTGRESQL", f"postgresql://{getpass.getuser()}@127.0.0.1:5432/test"
)
_PREFIX = "pftest_"
_created: list[str] = []
_numbers = itertools.count()


def server() -> str:
    """Return the server's URL; skip the test (fail it with CI=true) if it cannot be reached."""
    return server_url("PostgreSQL", SERVER, _check)


def _check() -> str:
    try:
        import psycopg
    except ImportError:
        return "psycopg is not installed (pip install -e '.[dev]')"
    try:
        with psycopg.connect(SERVER, connect_timeout=5, autocommit=True) as conn:
            _drop_stale(conn)
    except psycopg.Error as error:
        return " ".join(str(error).split())
    atexit.register(_drop_ours)
    return ""


def fresh_url(**parameters: str) -> str:
    """Return a URL of the server on a new, empty schema (extra URL `parameters` appended)."""
    import psycopg

    schema = f"{_PREFIX}{os.getpid()}_{next(_numbers)}"
    with psycopg.connect(server(), autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    _created.append(schema)
    query = "&".join(
        [f"options=-csearch_path%3D{schema}", *(f"{k}={v}" for k, v in parameters.items())]
    )
    return f"{SERVER}{'&' if '?' in SERVER else '?'}{query}"


def postgres_location(tmp_path=None):
    """A `PostgresLocation` on a fresh schema (`LOCATIONS` in conftest.py)."""
    from patchflow.storage.backends.postgres_backend import PostgresLocation

    return PostgresLocation(fresh_url())


def _drop(conn, schemas: list[str]) -> None:
    for start in range(0, len(schemas), 20):  # a few at a time: each takes several locks
        names = ", ".join(schemas[start : start + 20])
        conn.execute(f"DROP SCHEMA IF EXISTS {names} CASCADE")


def _drop_ours() -> None:
    import psycopg

    try:
        with psycopg.connect(SERVER, connect_timeout=5, autocommit=True) as conn:
            conn.execute("SET lock_timeout = '5s'")
            _drop(conn, _created)
    except psycopg.Error:
        pass  # the next run drops them as stale


def _drop_stale(conn) -> None:
    """Drop the schemas of test processes that are gone (killed before they could)."""
    rows = conn.execute(
        "SELECT nspname FROM pg_namespace WHERE nspname LIKE %s", (_PREFIX + "%",)
    ).fetchall()
    stale = [name for (name,) in rows if not _alive(name.split("_")[1])]
    conn.execute("SET lock_timeout = '5s'")
    _drop(conn, stale)


def _alive(pid: str) -> bool:
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except (PermissionError, ValueError):
        return True
    return True
