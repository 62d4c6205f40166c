"""Connecting to PostgreSQL for `postgres_backend`: the driver, the tables, the locks, the errors.

The driver is psycopg 3, imported here on first use, so that only runs storing in PostgreSQL
load it (and a missing driver is a message saying what to install, not an ImportError). Every
connection is in autocommit mode: the backend sends `BEGIN`/`COMMIT` itself, so that a write's
`BEGIN` and its lock travel in one round trip.

**Tables** live in the first schema of the connection's `search_path` (`public` unless the URL
says otherwise, e.g. `?options=-csearch_path%3Dpatchflow`) and are created on first use, under
an advisory lock so that two processes starting at once do not race:

- `patchflow_data(patch, space, key, value)`: every patch's keys and values, `bytea`, with the
  primary key `(patch, space, key)` as the index every lookup and scan uses. `bytea` compares
  bytewise (memcmp, then length; no collation is involved), which is the order the backend
  protocol asks for.
- `patchflow_patches(patch, created, last_write)`: which patches have data, and when each was
  last written (`data ls`).
- `patchflow_meta(name, value)`: the tables' own format version, `schema_version`; a newer one
  than this patchflow knows is refused.

**Locks** are advisory locks whose 64-bit keys are derived from the schema and the patch id, so
that patches (and test schemas) never contend: a write transaction takes the patch's *write*
lock (serialising writes across processes and machines); an open backend holds the patch's
*open* lock shared for as long as its connection lives, and deleting a patch needs it
exclusively (so `data rm` refuses a patch that any process anywhere has open).
"""

from __future__ import annotations

import hashlib
from typing import Any

from ...errors import StorageError
from . import redact
from .protocol import BadPath

__all__ = [
    "SCHEMA_VERSION",
    "connect",
    "driver",
    "is_lost",
    "lock_key",
    "parse_url",
    "reason_of",
    "scrub",
    "storage_error",
]

#: The format of the tables; `patchflow_meta.schema_version` records it.
SCHEMA_VERSION = 1

_SCHEMA_LOCK = 0x7061_7463_6866_6C6F  # "patchflo": creating the tables

_CREATE_TABLES = """\
CREATE TABLE IF NOT EXISTS patchflow_meta (
    name text COLLATE "C" PRIMARY KEY,
    value text NOT NULL
);
CREATE TABLE IF NOT EXISTS patchflow_patches (
    patch text COLLATE "C" PRIMARY KEY,
    created timestamptz NOT NULL DEFAULT now(),
    last_write timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS patchflow_data (
    patch text COLLATE "C" NOT NULL,
    space text COLLATE "C" NOT NULL,
    key bytea NOT NULL,
    value bytea NOT NULL,
    PRIMARY KEY (patch, space, key)
);
"""


def driver() -> Any:
    """Return the `psycopg` module, or raise StorageError saying how to install it."""
    try:
        import psycopg
    except ImportError:
        raise StorageError(
            "PostgreSQL storage needs the psycopg driver: pip install 'patchflow[postgresql]'"
        ) from None
    return psycopg


def parse_url(url: str) -> dict[str, Any]:
    """Return the connection parameters of a `postgresql://` URL (libpq's syntax).

    Raises:
        BadPath: not a `postgresql://` URL, or one libpq cannot read (the message names it
            without its password).
    """
    if not url.lower().startswith("postgresql://"):
        raise BadPath(
            f"{redact(url)!r} is not a PostgreSQL URL; write postgresql://USER@HOST:PORT/DATABASE"
        )
    try:
        return driver().conninfo.conninfo_to_dict(url)
    except driver().Error as error:
        reason = scrub(str(error).strip(), url)
        raise BadPath(f"cannot read the PostgreSQL URL {redact(url)}: {reason}") from None


def connect(url: str) -> tuple[Any, str]:
    """Open an autocommit connection to `url` with the tables in place; return it and its schema.

    Raises:
        StorageError: the server cannot be reached or refuses (says where, without the
            password), or its tables were made by a newer patchflow.
    """
    psycopg = driver()
    options: dict[str, Any] = {"autocommit": True}
    given = parse_url(url)
    if "connect_timeout" not in given:
        options["connect_timeout"] = 10  # libpq waits as long as TCP does otherwise
    if "application_name" not in given:
        options["application_name"] = "patchflow"
    try:
        conn = psycopg.connect(url, **options)
    except psycopg.Error as error:
        raise StorageError(
            f"cannot connect to PostgreSQL at {redact(url)}: {reason_of(error, url)}; check that"
            " the server is running and the URL (user, host, port, database) is right"
        ) from None
    try:
        schema = _ensure_tables(conn, url)
    except BaseException:
        conn.close()
        raise
    return conn, schema


def _ensure_tables(conn: Any, url: str) -> str:
    """Create the tables if missing (under the schema lock); check their format version."""
    psycopg = driver()
    try:
        schema, version = _schema_and_version(conn)
        if version is None:
            with conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
                conn.execute(_CREATE_TABLES)
                conn.execute(
                    "INSERT INTO patchflow_meta (name, value) VALUES ('schema_version', %s)"
                    " ON CONFLICT (name) DO NOTHING",
                    (str(SCHEMA_VERSION),),
                )
            schema, version = _schema_and_version(conn)
    except psycopg.Error as error:
        raise storage_error(error, url, "preparing the patchflow tables") from None
    if schema is None:
        raise StorageError(
            f"PostgreSQL at {redact(url)} has no schema to hold patchflow's tables (the"
            " search_path is empty); give one, e.g. ?options=-csearch_path%3Dpublic"
        )
    if not (version or "").isdigit():
        raise StorageError(
            f"PostgreSQL at {redact(url)}: patchflow_meta.schema_version is {version!r}, not a"
            f" number; the patchflow tables in schema {schema!r} are not patchflow's"
        )
    if int(version) > SCHEMA_VERSION:
        raise StorageError(
            f"the patchflow tables at {redact(url)} (schema {schema!r}) have format"
            f" {version}, newer than this patchflow knows ({SCHEMA_VERSION}); upgrade patchflow"
        )
    return schema


def _schema_and_version(conn: Any) -> tuple[str | None, str | None]:
    """Return the schema the tables live in and their version (None: the tables are missing)."""
    psycopg = driver()
    try:
        row = conn.execute(
            "SELECT current_schema(), (SELECT value FROM patchflow_meta"
            " WHERE name = 'schema_version')"
        ).fetchone()
    except psycopg.errors.UndefinedTable:
        return conn.execute("SELECT current_schema()").fetchone()[0], None
    return row[0], row[1]


def lock_key(schema: str, patch_id: str, purpose: str) -> int:
    """Return the advisory lock key (a signed 64-bit integer) for one purpose on one patch."""
    digest = hashlib.blake2b(
        f"{purpose}\0{schema}\0{patch_id}".encode(), digest_size=8, person=b"patchflow"
    ).digest()
    return int.from_bytes(digest, "big", signed=True)


def is_lost(conn: Any) -> bool:
    """Return whether the connection is gone (closed, or broken by the server or the network)."""
    return conn.closed or conn.broken


def reason_of(error: BaseException, url: str) -> str:
    """Return the driver's message on one line, without the URL's password."""
    return scrub(" ".join(str(error).split()), url) or type(error).__name__


def scrub(text: str, url: str) -> str:
    """Remove the URL's password from `text`, wherever a server or driver message repeats it."""
    try:
        password = driver().conninfo.conninfo_to_dict(url).get("password")
    except Exception:
        password = None
    return text.replace(password, "***") if password else text


def storage_error(error: BaseException, url: str, doing: str) -> StorageError:
    """Return the StorageError for a driver error while `doing` something, naming the URL."""
    return StorageError(f"PostgreSQL at {redact(url)} failed {doing}: {reason_of(error, url)}")
