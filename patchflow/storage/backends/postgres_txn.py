"""The transactions of `postgres_backend`: one patch's rows of `patchflow_data`, by SQL.

A transaction object runs its statements on the backend's cursor, inside the SQL transaction
the backend began (`BEGIN ... COMMIT` is the backend's). Every statement names the patch and
the space, so the primary key index `(patch, space, key)` answers it; key ranges are byte
ranges of `bytea`, whose order is the protocol's.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from .protocol import ReadTxn, check_key, prefix_end

__all__ = ["GET", "PostgresReadTxn", "PostgresWriteTxn"]

WHERE = "FROM patchflow_data WHERE patch = %s AND space = %s"
GET = f"SELECT value {WHERE} AND key = %s"
PUT = (
    "INSERT INTO patchflow_data (patch, space, key, value) VALUES (%s, %s, %s, %s)"
    " ON CONFLICT (patch, space, key) DO UPDATE SET value = EXCLUDED.value"
)
DELETE = f"DELETE {WHERE} AND key = %s"
COUNT = f"SELECT count(*) {WHERE}"
_FIRST_BATCH, _LAST_BATCH = 64, 1024  # rows a scan fetches at first, and at most, at a time


class PostgresReadTxn(ReadTxn):
    """A read transaction (the protocol's `ReadTxn`) on the backend's cursor."""

    __slots__ = ("_cur", "_patch")

    def __init__(self, cursor: Any, patch_id: str) -> None:
        self._cur = cursor
        self._patch = patch_id

    def get(self, space: str, key: bytes) -> bytes | None:
        row = self._cur.execute(GET, (self._patch, space, key)).fetchone()
        return None if row is None else row[0]

    def count(self, space: str) -> int:
        return self._cur.execute(COUNT, (self._patch, space)).fetchone()[0]

    def scan(
        self, space: str, prefix: bytes, *, start: bytes | None = None, reverse: bool = False
    ) -> Iterator[tuple[bytes, bytes]]:
        after = None if start is None else ("<=" if reverse else ">=", start)
        return self._walk(space, _range(prefix), after, reverse)

    def _walk(
        self,
        space: str,
        bounds: list[tuple[str, bytes]],
        after: tuple[str, bytes] | None,
        reverse: bool,
    ) -> Iterator[tuple[bytes, bytes]]:
        """Yield the rows within `bounds` (and `after`) in key order, a whole batch at a time.

        Each batch is fetched whole before it is yielded, so `fn` may run other statements on
        the cursor while it iterates.
        """
        order = "DESC" if reverse else "ASC"
        batch = _FIRST_BATCH
        while True:
            where = bounds if after is None else [*bounds, after]
            sql = f"SELECT key, value {WHERE}{_conditions(where)} ORDER BY key {order} LIMIT %s"
            rows = self._cur.execute(sql, (self._patch, space, *_values(where), batch)).fetchall()
            yield from rows
            if len(rows) < batch:
                return
            after = ("<" if reverse else ">", rows[-1][0])  # the next batch: past the last key
            batch = min(batch * 2, _LAST_BATCH)


class PostgresWriteTxn(PostgresReadTxn):
    """A write transaction; `changed` says whether it wrote anything (else no record is due)."""

    __slots__ = ("changed",)

    def __init__(self, cursor: Any, patch_id: str) -> None:
        super().__init__(cursor, patch_id)
        self.changed = False

    def put(self, space: str, key: bytes, value: bytes) -> None:
        check_key(key)
        self.changed = True
        self._cur.execute(PUT, (self._patch, space, key, value))

    def replace(self, space: str, key: bytes, value: bytes) -> bytes | None:
        old = self.get(space, key)
        self.put(space, key, value)
        return old

    def delete(self, space: str, key: bytes) -> bool:
        self.changed = True
        return self._cur.execute(DELETE, (self._patch, space, key)).rowcount > 0

    def delete_prefix(self, space: str, prefix: bytes) -> int:
        self.changed = True
        bounds = _range(prefix)
        sql = f"DELETE {WHERE}{_conditions(bounds)}"
        return self._cur.execute(sql, (self._patch, space, *_values(bounds))).rowcount


def _range(prefix: bytes) -> list[tuple[str, bytes]]:
    """The key bounds of the keys beginning with `prefix`: `prefix <= key < prefix_end`."""
    bounds = [(">=", prefix)] if prefix else []
    upper = prefix_end(prefix)
    if upper is not None:
        bounds.append(("<", upper))
    return bounds


def _conditions(bounds: list[tuple[str, bytes]]) -> str:
    return "".join(f" AND key {op} %s" for op, _ in bounds)


def _values(bounds: list[tuple[str, bytes]]) -> list[bytes]:
    return [value for _, value in bounds]
