"""The Redis backend's connection: commands in, replies out, redis-py's errors as StorageError.

A backend holds one connection (`Link`) and sends its commands in batches of one round trip,
packed here (`pack`: a few times faster than redis-py's packer, which matters on the hot path,
where a commit has a dozen arguments). redis-py itself is imported on first use only.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ...errors import StorageError
from .protocol import DamagedStorage

__all__ = ["Link", "pack", "redis_module", "storage_error"]


def redis_module() -> Any:
    """Return redis-py; StorageError saying how to install it if it is missing."""
    try:
        import redis
    except ImportError:
        raise StorageError(
            "the Redis backend needs the redis package: pip install 'patchflow[redis]'"
        ) from None
    return redis


def storage_error(where: str, error: Exception, patch_id: str | None = None) -> StorageError:
    """Return the StorageError for a redis-py error; `where` is a URL without its password."""
    redis = redis_module()
    said = str(error).rstrip(".")
    if isinstance(error, redis.AuthenticationError | redis.AuthenticationWrongNumberOfArgsError):
        return StorageError(
            f"Redis at {where} refused the login: {said}; check the user and password in the URL"
        )
    if isinstance(error, redis.ConnectionError | redis.TimeoutError):
        return StorageError(
            f"cannot reach Redis at {where}: {said}; check that the server runs and the URL is"
            " right (a later command connects again)"
        )
    if said.startswith("WRONGTYPE") and patch_id is not None:
        return DamagedStorage(where, f"a key holds another type of value ({said})", patch_id)
    return StorageError(f"Redis at {where} refused a command: {said}")


class Link:
    """One connection to the server, used by one backend under its lock."""

    __slots__ = ("_conn", "patch_id", "where")

    def __init__(self, conn: Any, where: str, patch_id: str) -> None:
        self._conn = conn
        self.where, self.patch_id = where, patch_id

    def run(self, commands: list[tuple[Any, ...]]) -> list[Any]:
        """Send `commands` in one round trip and return their replies.

        Raises:
            StorageError: the connection failed or Redis refused a command (every reply is
                read first, so the connection stays usable); NoScriptError passes through.
        """
        conn = self._open_conn()
        redis = redis_module()
        replies: list[Any] = []
        refused = None
        try:
            conn.send_packed_command([pack(commands)], check_health=False)
            for _ in commands:
                try:
                    replies.append(conn.read_response())
                except redis.ResponseError as error:
                    replies.append(error)
                    refused = refused or error
        except (redis.ConnectionError, redis.TimeoutError) as error:
            raise self._lost(error) from None
        if refused is not None:
            if isinstance(refused, redis.exceptions.NoScriptError):
                raise refused
            raise storage_error(self.where, refused, self.patch_id)
        return replies

    def one(self, *command: Any) -> Any:
        """Send one command and return its reply (the hot path of `Backend.get`)."""
        conn = self._open_conn()
        redis = redis_module()
        try:
            conn.send_packed_command([pack((command,))], check_health=False)
            return conn.read_response()
        except (redis.ConnectionError, redis.TimeoutError) as error:
            raise self._lost(error) from None
        except redis.ResponseError as error:
            raise storage_error(self.where, error, self.patch_id) from None

    def checked(self, replies: list[Any]) -> list[Any]:
        """Return the replies of an `EXEC`, raising StorageError for a command Redis refused."""
        for reply in replies:
            if isinstance(reply, Exception):
                raise storage_error(self.where, reply, self.patch_id)
        return replies

    def _open_conn(self) -> Any:
        conn = self._conn
        if conn is None:
            raise StorageError(f"patch storage at {self.where} is closed; open it again to use it")
        return conn

    def _lost(self, error: Exception) -> StorageError:
        self._conn.disconnect()
        return storage_error(self.where, error)

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.disconnect()


def pack(commands: Iterable[tuple[Any, ...]]) -> bytes:
    """Return `commands` in the Redis protocol (RESP), ready to send."""
    pieces: list[bytes] = []
    append = pieces.append
    for command in commands:
        append(b"*%d\r\n" % len(command))
        for argument in command:
            if type(argument) is not bytes:
                argument = str(argument).encode()
            append(b"$%d\r\n" % len(argument))
            append(argument)
            append(b"\r\n")
    return b"".join(pieces)
