"""PostgreSQL storage (`postgresql://USER@HOST:PORT/DB`): every patch's data in one database.

Every machine that can reach the database shares the data: two runs of a patch (or a run and
`patchflow data`) on different machines see one store. The tables, locks and connecting are
`postgres_connection.py`'s, the statements of a transaction `postgres_txn.py`'s; this module is
the backend protocol (`protocol.py`) on top:

- **One backend transaction is one SQL transaction.** A write begins with the patch's advisory
  *write* lock (`BEGIN; SELECT pg_advisory_xact_lock(…)`, sent with the transaction's first
  statement: `postgres_txn`), so writes to one patch are serialised across every process and
  machine while other patches' go on; it runs at READ COMMITTED, which under that lock sees
  every earlier write. A read runs at REPEATABLE READ, one snapshot for all its statements;
  `get` is one statement (its own snapshot).
- **Watchers are told of changes** through `LISTEN/NOTIFY` (`postgres_notify`): a write that
  logged changes for watchers sends `NOTIFY` on the patch's channel with its `COMMIT`, and
  `subscribe_changes` listens on a connection of its own (`protocol.ChangeSignal`).
- **Durability** is the server's commit: `"full"` waits for the commit's WAL to reach disk
  (`synchronous_commit = on`, PostgreSQL's default), `"process"` sets `synchronous_commit = off`
  for the connection — committed and visible at once, the WAL flushed by the server's WAL writer
  within `3 × wal_writer_delay` (600 ms by default), and a synchronous commit when the backend
  closes flushes the rest. Either way a crash of patchflow loses nothing that was replied to.
- **Scans** use the primary key index `(patch, space, key)`: `bytea` compares bytewise, so
  `ORDER BY key` is the byte order the protocol asks for. They fetch in batches (64 rows, then
  doubling to 1024) by key ranges, so a `find` that stops early reads little.
- **A lost connection** (a server restart, `pg_terminate_backend`, the network) is noticed on
  the next statement. The call then reconnects and runs its transaction again, once — which
  `fn` may (protocol: `fn` may run more than once): nothing of a transaction that never reached
  `COMMIT` was stored. If the connection was lost while committing, whether the write was
  stored cannot be known: that call raises StorageError saying so, and is not retried. If
  reconnecting fails, StorageError (an `{op: "error"}` reply from a box); every later call
  tries again, so a run recovers when the server is back.
- **When a patch was last written** (`data ls`) is recorded in `patchflow_patches` with a
  commit at most once a second per backend (`_RECORD_EVERY`), and when the backend closes: it
  may show a time up to a second early while a patch is being written.
- **Deleting a patch** (`data rm`) is refused while any process anywhere has it open: an open
  backend holds the patch's *open* advisory lock shared on its connection, and deleting takes
  it exclusively without waiting. A run that opens the patch meanwhile waits for the deletion
  and then sees an empty store. (A run whose connection is down holds no lock: a deletion then
  goes ahead, and the run sees an empty store when it reconnects. Session advisory locks need
  a session per client: put a pooler such as PgBouncer in session mode, not transaction mode.)

Passwords never appear in messages: the URL is shown through `backends.redact`, and driver and
server messages pass through `postgres_connection.scrub`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, suppress
from time import monotonic
from typing import Any, TypeVar

from ...errors import StorageError
from . import redact
from .postgres_connection import (
    connect,
    driver,
    is_lost,
    lock_key,
    parse_url,
    reason_of,
    storage_error,
)
from .postgres_notify import Listener, channel_of
from .postgres_txn import GET, PostgresReadTxn, PostgresWriteTxn, prepare_get
from .protocol import StorageBusy, StorageLocation, Usage, check_durability

__all__ = ["PostgresBackend", "PostgresLocation"]

T = TypeVar("T")

_BEGIN_READ = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"
#: Seconds between records of a patch's `last_write` by one backend. Recording it with every
#: commit doubled the time of a write without fsync (0.75 ms against 0.35 ms, PostgreSQL 15
#: on loopback, 2-core VM, 2026): the one hot row's update costs as much as the write.
_RECORD_EVERY = 1.0


class _Lost(Exception):
    """The connection went away during a transaction (internal: the caller reconnects)."""

    def __init__(self, error: BaseException, committing: bool) -> None:
        super().__init__(error)
        self.error = error
        self.committing = committing


class PostgresBackend:
    """One patch's data in a PostgreSQL database (see the module docstring), on one connection.

    Connects when created, so that an unreachable server is an error at open.

    Raises:
        StorageError: the server cannot be reached, refuses, or has newer patchflow tables.
    """

    def __init__(
        self, url: str, patch_id: str, spaces: Iterable[str] = (), durability: str = "full"
    ) -> None:
        self._url = url
        self.durability = check_durability(durability)
        #: a commit since `last_write` was recorded, or ("process") the server may not have
        #: flushed: `close` records and flushes it
        self._pending = False
        self._recorded = -_RECORD_EVERY  # time.monotonic() when `last_write` was last recorded
        self.location = redact(url)
        self.patch_id = patch_id
        self._error = driver().Error
        self._lock = threading.Lock()
        self._closed = False
        self._conn: Any = None
        self._pid: int | None = None  # the server process of `_conn`, whose notices are ours
        self._listener: Listener | None = None  # made by the first `subscribe_changes`
        self._reconnect()

    # ---- the protocol --------------------------------------------------------------------------

    def get(self, space: str, key: bytes) -> bytes | None:
        with self._lock:
            for attempt in (0, 1):
                conn = self._conn or self._reconnect()
                try:
                    row = self._data.execute(GET, (self.patch_id, space, key)).fetchone()
                    return None if row is None else row[0]
                except self._error as error:
                    if not is_lost(conn):
                        raise storage_error(error, self._url, "reading") from None
                    self._drop()
                    if attempt:
                        raise self._lost_error(error) from None
        raise AssertionError("unreachable")  # pragma: no cover

    def read(self, fn: Callable[[PostgresReadTxn], T]) -> T:
        return self._transact(fn, write=False)

    def write(self, fn: Callable[[PostgresWriteTxn], T]) -> T:
        return self._transact(fn, write=True)

    def subscribe_changes(self, wake: Callable[[], None]) -> Callable[[], None]:
        """Call `wake()` (from a thread of the backend's) soon after another connection
        commits a change announced for this patch; return the function that stops it
        (`protocol.ChangeSignal`; `postgres_notify` says how).

        Raises:
            StorageError: the backend is closed.
        """
        with self._lock:
            if self._closed:
                raise StorageError(
                    f"PostgreSQL storage of patch {self.patch_id!r} at {self.location} is"
                    " closed; open it again to watch it"
                )
            if self._listener is None:
                self._listener = Listener(self._url, self._channel, lambda: self._pid)
            return self._listener.subscribe(wake)  # starts its thread: does not wait for it

    def close(self) -> None:
        with self._lock:
            self._closed = True
            if self._listener is not None:
                self._listener.close()
            if self._pending and self._conn is not None:
                # a synchronous commit flushes the WAL of every earlier asynchronous one
                with suppress(self._error):
                    self._control.execute(self._record_and_flush)
            self._drop()

    # ---- transactions and connections ----------------------------------------------------------

    def _transact(self, fn: Callable[[Any], T], write: bool) -> T:
        with self._lock:
            for attempt in (0, 1):
                conn = self._conn or self._reconnect()
                try:
                    return self._once(conn, fn, write)
                except _Lost as lost:
                    self._drop()
                    if lost.committing:
                        raise StorageError(
                            f"lost the connection to PostgreSQL at {self.location} while"
                            f" committing a write of patch {self.patch_id!r}"
                            f" ({reason_of(lost.error, self._url)}): it may or may not have"
                            " been stored; check it once the server is back"
                        ) from None
                    if attempt:
                        raise self._lost_error(lost.error) from None
        raise AssertionError("unreachable")  # pragma: no cover

    def _once(self, conn: Any, fn: Callable[[Any], T], write: bool) -> T:
        """Run `fn` in one SQL transaction on `conn`; raise _Lost if the connection goes.

        A write's `BEGIN` and its lock go with its first statement (`postgres_txn`), and its
        `NOTIFY`, record of `last_write` and `COMMIT` in one round trip: a kv `set` nobody
        watches is three round trips, as a bare upsert transaction is (`BEGIN` with the lock
        and the watch lease, the replacing upsert, `COMMIT`). Each round trip cost about
        0.1 ms of a 0.4 ms durable `set` (PostgreSQL 15 on loopback, a busy 2-core VM, 2026:
        `pg_kv_set_ops_per_s` in bench/bench_postgres.py). psycopg's pipeline mode, which
        could also send the writes with the next read, measured slower (0.59 ms against
        0.46 ms a `set` without fsync, same machine).
        """
        control = self._control
        stage = "beginning"
        try:
            if write:
                txn = PostgresWriteTxn(self._data, self.patch_id, control, self._begin_write)
            else:
                control.execute(_BEGIN_READ)
                txn = PostgresReadTxn(self._data, self.patch_id)
            stage = "running"
            result = fn(txn)
            stage = "committing"
            if not write:
                control.execute("COMMIT")
                return result
            if not txn.begun:
                return result  # no statement was sent: nothing to commit
            changed = txn.changed
            notify = self._notify if txn.announced else ""
            if changed and monotonic() - self._recorded >= _RECORD_EVERY:
                control.execute(notify + self._record_and_commit)
                self._recorded = monotonic()
                self._pending = self.durability == "process"
            else:
                control.execute(notify + "COMMIT")
                self._pending = self._pending or changed
            return result
        except self._error as error:
            if is_lost(conn):
                raise _Lost(error, stage == "committing") from None
            self._rollback(conn)
            kind = "write" if write else "read"
            raise storage_error(error, self._url, f"{stage} a {kind}") from None
        except BaseException:
            self._rollback(conn)
            raise

    def _reconnect(self) -> Any:
        """Connect, take the patch's open lock shared, and record that the patch has data."""
        if self._closed:
            raise StorageError(
                f"PostgreSQL storage of patch {self.patch_id!r} at {self.location} is closed;"
                " open it again to use it"
            )
        conn, schema = connect(self._url)
        sql = driver().sql
        try:
            if self.durability == "process":
                conn.execute("SET synchronous_commit = off")
            conn.execute(
                "SELECT pg_advisory_lock_shared(%s)", (lock_key(schema, self.patch_id, "open"),)
            )
            conn.execute(
                "INSERT INTO patchflow_patches (patch) VALUES (%s) ON CONFLICT (patch) DO NOTHING",
                (self.patch_id,),
            )
            write_key = lock_key(schema, self.patch_id, "write")
            patch = sql.Literal(self.patch_id).as_string(conn)
            # prepared: the simple query beginning each write only executes them
            lock = f"SELECT pg_advisory_xact_lock({write_key})"
            self._prepares = {
                "patchflow_lock": f"PREPARE patchflow_lock AS {lock}",
                "patchflow_get": prepare_get(patch),
            }
            self._prepare(conn)
            self._begin_write = "BEGIN; EXECUTE patchflow_lock"
            self._channel = channel_of(schema, self.patch_id)
            self._notify = f"NOTIFY {self._channel}; "
            record = f"UPDATE patchflow_patches SET last_write = now() WHERE patch = {patch}"
            self._record_and_commit = f"{record}; COMMIT"
            self._record_and_flush = f"SET synchronous_commit = on; BEGIN; {record}; COMMIT"
        except self._error as error:
            conn.close()
            raise storage_error(error, self._url, f"opening patch {self.patch_id!r}") from None
        self._data = conn.cursor(binary=True)  # bytea arrives as bytes, without hex decoding
        self._control = conn.cursor()  # multi-statement text: BEGIN with its lock, COMMIT
        self._conn = conn
        self._pid = conn.info.backend_pid
        return conn

    def _drop(self) -> None:
        """Forget the connection (closing it); the next call reconnects."""
        conn, self._conn = self._conn, None
        self._pid = None
        if conn is not None:
            conn.close()

    def _rollback(self, conn: Any) -> None:
        """End a failed transaction; a connection that cannot is dropped."""
        if is_lost(conn):
            self._drop()
            return
        try:
            if conn.info.transaction_status != driver().pq.TransactionStatus.IDLE:
                self._control.execute("ROLLBACK")
                self._prepare(conn)
        except Exception:  # interrupted mid-statement, say: start afresh
            self._drop()

    def _prepare(self, conn: Any) -> None:
        """Prepare the statements that begin a write, those the connection lacks.

        psycopg answers a `ROLLBACK` by deallocating every prepared statement of the session
        (`DEALLOCATE ALL`, its own and ours), so `_rollback` calls this again.
        """
        rows = conn.execute("SELECT name FROM pg_prepared_statements").fetchall()
        present = {name for (name,) in rows}
        for name, statement in self._prepares.items():
            if name not in present:
                conn.execute(statement)

    def _lost_error(self, error: BaseException) -> StorageError:
        return StorageError(
            f"lost the connection to PostgreSQL at {self.location} ({reason_of(error, self._url)});"
            " nothing of this transaction was stored, and the next call reconnects"
        )

    def __repr__(self) -> str:
        return f"PostgresBackend({self.location!r}, {self.patch_id!r})"


class PostgresLocation(StorageLocation):
    """A PostgreSQL database holding every patch's data (`postgresql://USER@HOST:PORT/DB`).

    Nothing connects until a patch is opened or listed; each administration call uses a short
    connection of its own.
    """

    def __init__(self, url: str) -> None:
        parse_url(url)  # a URL libpq cannot read is refused now, not at the first connection
        self._url = url
        self.location = redact(url)

    @classmethod
    def from_url(cls, url: str) -> PostgresLocation:
        """Return the location of a `postgresql://` URL (libpq's URL syntax)."""
        return cls(url)

    def open(
        self,
        patch_id: str,
        spaces: tuple[str, ...],
        *,
        size_hint: int = 0,
        durability: str = "full",
    ) -> PostgresBackend:
        return PostgresBackend(self._url, patch_id, spaces, durability)

    def patches(self) -> list[str]:
        with self._admin("listing patches") as (conn, _):
            rows = conn.execute("SELECT patch FROM patchflow_patches").fetchall()
        return sorted(row[0] for row in rows)

    def has_patch(self, patch_id: str) -> bool:
        with self._admin("looking up a patch") as (conn, _):
            sql = "SELECT 1 FROM patchflow_patches WHERE patch = %s"
            return conn.execute(sql, (patch_id,)).fetchone() is not None

    def usage(self, patch_id: str) -> Usage:
        """Return the bytes of the patch's keys and values, and when it was last written."""
        with self._admin("measuring a patch") as (conn, _):
            row = conn.execute(
                "SELECT last_write, (SELECT coalesce(sum(octet_length(key) + octet_length(value)),"
                " 0) FROM patchflow_data WHERE patch = %s) FROM patchflow_patches WHERE patch = %s",
                (patch_id, patch_id),
            ).fetchone()
        if row is None:
            raise FileNotFoundError(f"no stored data for patch {patch_id!r} in {self.location}")
        return Usage(size=int(row[1]), last_write=row[0].timestamp())

    def check_deletable(self, patch_id: str) -> None:
        with self._admin("checking a patch") as (conn, schema), conn.transaction():
            self._take_exclusively(conn, schema, patch_id)

    def delete(self, patch_id: str) -> None:
        """Delete the patch's rows in one transaction, unless a process has it open."""
        with self._admin("deleting a patch") as (conn, schema), conn.transaction():
            self._take_exclusively(conn, schema, patch_id)
            key = lock_key(schema, patch_id, "write")
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (key,))
            conn.execute("DELETE FROM patchflow_data WHERE patch = %s", (patch_id,))
            conn.execute("DELETE FROM patchflow_patches WHERE patch = %s", (patch_id,))

    def _take_exclusively(self, conn: Any, schema: str, patch_id: str) -> None:
        """Hold the patch's open lock until the transaction ends; StorageBusy if it is open."""
        key = lock_key(schema, patch_id, "open")
        if not conn.execute("SELECT pg_try_advisory_xact_lock(%s)", (key,)).fetchone()[0]:
            raise StorageBusy(
                f"patch {patch_id!r} is open in a process using {self.location} (a running patch"
                " or a script, on this machine or another); stop it and try again"
            )

    @contextmanager
    def _admin(self, doing: str) -> Iterator[tuple[Any, str]]:
        """A connection of its own for one administration call; driver errors → StorageError."""
        conn, schema = connect(self._url)
        try:
            yield conn, schema
        except driver().Error as error:
            raise storage_error(error, self._url, doing) from None
        finally:
            conn.close()

    def __repr__(self) -> str:
        return f"PostgresLocation({self.location!r})"
