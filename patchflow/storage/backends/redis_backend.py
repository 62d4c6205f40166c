"""Redis storage: every patch's data on a Redis server, `redis://[USER:PASSWORD@]HOST:PORT/N`.

Shared by every process and machine that can reach the server, and as durable as the server is
configured to be (below). The driver is redis-py, imported only when a `redis:` URL is used.

**Layout.** Under the prefix (`patchflow`, or `?prefix=NAME` in the URL, so that several
deployments can share one database), patch P has

    PREFIX:patches                 set: the ids of the patches with data here
    PREFIX:{P}:keys:SPACE          sorted set: the space's keys, every score 0
    PREFIX:{P}:values:SPACE        hash: key → value
    PREFIX:{P}:version             integer: incremented by every commit
    PREFIX:{P}:written             the time of the last commit, for `data ls`
    PREFIX:{P}:spaces              set: the space names, so that `delete` finds every key
    PREFIX:{P}:changes             pub/sub channel (no key): notices of watched commits

Members of a sorted set whose scores are equal are ordered, and ranged over by `ZRANGEBYLEX`,
with `memcmp`: unsigned byte order, as the protocol asks. The braces are a Cluster hash tag.

**Transactions** (`redis_txn.py`): optimistic, on `version`. Every read from the server returns
it atomically with what it read; a read transaction whose reads saw different versions runs
`fn` again. A write buffers its changes and commits them with one Lua script that applies them
only if `version` is still the one its reads saw (a compare-and-set), else `fn` runs again (the
protocol allows it). Writes remember what they read, valid at a version, so the next write of
this process can skip those round trips; the commit's check keeps that safe. A kv `get` is one
`HGET`, a kv `set` one script call: one round trip each.

**Watching** (`redis_notify.py`): while someone watches the patch, each commit that logged
changes publishes a notice on `PREFIX:{P}:changes` from its commit script, and a backend with
subscribers listens on that channel with a connection and thread of its own, so watchers in
other processes hear of a commit at once rather than at their next poll.

**Durability** is the server's: a reply is sent after Redis has applied the commit in memory.
Data outlives patchflow's processes (`kill -9` loses nothing acknowledged), but survives a
restart of Redis only if the server persists it: RDB snapshots lose the writes since the last
one; `appendonly yes` with `appendfsync everysec` up to a second (the `process` mode's promise),
with `appendfsync always` nothing (the `full` mode's). Both modes are accepted and change
nothing here: what is on disk is the server's configuration, which patchflow does not change.
A server run with `--save "" --appendonly no` (as on the CI machine) keeps nothing on disk.

**Connections.** Each open patch has one connection, named `PREFIX:open:P` (`CLIENT SETNAME`),
which is how `delete` sees that some process has the patch open; a process that dies drops its
connection, so nothing stale is left behind. A watched patch has a second, `PREFIX:watch:P`,
in pub/sub mode. A lost connection makes the call fail with
StorageError naming the URL (never its password); the next call connects again.
"""

from __future__ import annotations

import contextlib
import random
import re
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from ...errors import StorageError
from . import redact
from .protocol import (
    BadPath,
    StorageBusy,
    StorageLocation,
    Usage,
    check_durability,
)
from .redis_link import Link, redis_module, storage_error
from .redis_notify import Notices
from .redis_txn import (
    COMMIT_SCRIPT,
    SCAN_BATCH,
    SCAN_SCRIPT,
    SCAN_SHA,
    Keys,
    ReadCache,
    ReadTxn,
    WriteTxn,
    commit_call,
)

__all__ = ["RedisBackend", "RedisLocation"]

T = TypeVar("T")

#: How often a transaction runs again after conflicting writes before giving up.
MAX_ATTEMPTS = 1000
#: redis-py connection options patchflow sets unless the URL does (`?socket_timeout=…`).
CONNECTION_DEFAULTS = {"socket_connect_timeout": 5.0, "socket_timeout": 30.0}
DEFAULT_URL = "redis://127.0.0.1:6379/0"

_PREFIX = re.compile(r"[A-Za-z0-9_.-]{1,100}\Z")


class RedisLocation(StorageLocation):
    """A Redis database holding the data of many patches (the module docstring has the layout).

    Args:
        url: a redis-py URL (`redis://…`, `rediss://…`, `unix://…`), password included.
        prefix: the first part of every key name.
    """

    def __init__(self, url: str = DEFAULT_URL, *, prefix: str = "patchflow") -> None:
        if not _PREFIX.match(prefix):
            raise BadPath(
                f"Redis key prefix {prefix!r} is not usable: write 1 to 100 of A-Z a-z 0-9 _ . -"
            )
        shown = redact(url).replace("://@", "://")
        self.location = shown if prefix == "patchflow" else f"{shown} (prefix {prefix})"
        self.url, self.prefix = url, prefix
        self._options, self._db = _connection_options(url, shown)
        self._client: Any = None
        self._patches = f"{prefix}:patches".encode()

    @classmethod
    def from_url(cls, url: str) -> RedisLocation:
        """Return the location of `redis://HOST:PORT/N[?prefix=NAME]` (`redis:` alone: local)."""
        if url.lower() in ("redis:", "redis://"):
            url = DEFAULT_URL
        parts = urllib.parse.urlsplit(url)
        query = urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
        prefixes = [value for name, value in query if name == "prefix"]
        rest = urllib.parse.urlencode([(name, value) for name, value in query if name != "prefix"])
        url = urllib.parse.urlunsplit(parts._replace(query=rest))
        return cls(url, prefix=prefixes[-1] if prefixes else "patchflow")

    def connection(self, client_name: str | None = None) -> Any:
        """Return a new redis-py connection (not yet connected), named `client_name`."""
        pool = redis_module().ConnectionPool.from_url(
            self.url, client_name=client_name, **self._options
        )
        return pool.make_connection()

    def open(
        self,
        patch_id: str,
        spaces: tuple[str, ...],
        *,
        size_hint: int = 0,
        durability: str = "full",
    ) -> RedisBackend:
        """Open the patch's data; `durability` is checked, and changes nothing (module docs)."""
        check_durability(durability)
        return RedisBackend(self, patch_id, spaces)

    def open_name(self, patch_id: str) -> str:
        """The client name of the connections of backends open on `patch_id`."""
        return f"{self.prefix}:open:{patch_id}"

    def watch_name(self, patch_id: str) -> str:
        """The client name of the pub/sub connections of backends watching `patch_id`."""
        return f"{self.prefix}:watch:{patch_id}"

    def patches(self) -> list[str]:
        with self._talking():
            members = self._redis_client().smembers(self._patches)
        return sorted(member.decode() for member in members)

    def has_patch(self, patch_id: str) -> bool:
        with self._talking():
            return bool(self._redis_client().sismember(self._patches, patch_id))

    def usage(self, patch_id: str) -> Usage:
        keys = Keys(self.prefix, patch_id)
        with self._talking(patch_id):
            client = self._redis_client()
            if not client.sismember(self._patches, patch_id):
                raise FileNotFoundError(f"no Redis storage for patch {patch_id!r}")
            names = keys.all(sorted(space.decode() for space in client.smembers(keys.spaces)))
            pipe = client.pipeline(transaction=False)
            for name in names:
                pipe.memory_usage(name, samples=0)
            pipe.get(keys.written)
            *sizes, written = pipe.execute()
        return Usage(
            size=sum(size or 0 for size in sizes),
            last_write=None if written is None else float(written),
        )

    def check_deletable(self, patch_id: str) -> None:
        name, db = self.open_name(patch_id), str(self._db)
        with self._talking():
            clients = self._redis_client().client_list(_type="normal")
        holders = [c for c in clients if c.get("name") == name and str(c.get("db")) == db]
        if holders:
            where = ", ".join(sorted(str(c.get("addr")) for c in holders))
            raise StorageBusy(
                f"the Redis storage of patch {patch_id!r} at {self.location} is open in a"
                f" process connected from {where}; stop it first"
            )

    def delete(self, patch_id: str) -> None:
        """Delete the patch's keys in one transaction, unless a process has it open.

        A run that connects after the check and before the `MULTI`/`EXEC` would see the data
        vanish; the window is one round trip, and that run's writes then start afresh.
        """
        self.check_deletable(patch_id)
        keys = Keys(self.prefix, patch_id)
        with self._talking(patch_id):
            client = self._redis_client()
            spaces = sorted(space.decode() for space in client.smembers(keys.spaces))
            pipe = client.pipeline(transaction=True)
            pipe.delete(*keys.all(spaces))
            pipe.srem(self._patches, patch_id)
            pipe.execute()

    def _redis_client(self) -> Any:
        if self._client is None:
            redis = redis_module()
            pool = redis.ConnectionPool.from_url(self.url, **self._options)
            self._client = redis.Redis(connection_pool=pool)
        return self._client

    @contextlib.contextmanager
    def _talking(self, patch_id: str | None = None) -> Iterator[None]:
        redis = redis_module()
        try:
            yield
        except redis.RedisError as error:
            raise storage_error(self.location, error, patch_id) from None

    def close(self) -> None:
        """Close the location's own connections (those of open backends stay)."""
        client, self._client = self._client, None
        if client is not None:
            client.connection_pool.disconnect()

    def __repr__(self) -> str:
        return f"RedisLocation({self.location!r})"


def _connection_options(url: str, shown: str) -> tuple[dict[str, Any], int]:
    """Return the options patchflow adds to those of `url`, and the database number."""
    redis = redis_module()
    try:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme in ("redis", "rediss") and not re.fullmatch(r"/?[0-9]*", parts.path):
            raise ValueError(f"the path {parts.path!r} is no database number (/0, /1, …)")
        given = redis.connection.parse_url(url)
    except ValueError as error:
        raise BadPath(f"{shown!r} is not a usable Redis URL: {error}") from None
    options: dict[str, Any] = dict(CONNECTION_DEFAULTS)  # the URL's own options win
    # no retries inside redis-py: a commit whose reply was lost must not be sent twice
    options["retry"] = redis.retry.Retry(redis.backoff.NoBackoff(), 0)
    return options, int(given.get("db", 0))


class RedisBackend:
    """One patch's data on a Redis server (the module docstring has the design).

    Opening connects, so that an unreachable server is an error at once, and records the patch
    and its spaces.
    """

    def __init__(self, location: RedisLocation, patch_id: str, spaces: tuple[str, ...]) -> None:
        self.patch_id = patch_id
        self.location = f"{location.location} (patch {patch_id})"
        self.keys = Keys(location.prefix, patch_id, spaces)
        self._lock = threading.Lock()
        #: reads of write transactions, for the next ones (`redis_txn.ReadCache`)
        self.cache = ReadCache()
        conn = location.connection(client_name=location.open_name(patch_id))
        self.link = Link(conn, self.location, patch_id)
        watch_name = location.watch_name(patch_id)
        #: the notices of watched commits, for `subscribe_changes` (connects on first use)
        self.notices = Notices(
            lambda: location.connection(client_name=watch_name), self.keys.changes, self.location
        )
        try:
            self.link.run(
                [
                    (b"SADD", f"{location.prefix}:patches".encode(), patch_id),
                    (b"SADD", self.keys.spaces, *spaces),
                ]
            )
        except BaseException:
            self.link.close()
            raise

    def get(self, space: str, key: bytes) -> bytes | None:
        with self._lock:
            return self.link.one(b"HGET", self.keys.of(space)[1], key)

    def read(self, fn: Callable[[ReadTxn], T]) -> T:
        with self._lock:
            for attempt in range(MAX_ATTEMPTS):
                txn = ReadTxn(self)
                try:
                    result = fn(txn)
                except Exception:
                    if not txn.stale:
                        raise
                else:
                    if not txn.stale:
                        return result
                _pause(attempt)
            raise self._contention()

    def write(self, fn: Callable[[WriteTxn], T]) -> T:
        with self._lock:
            for attempt in range(MAX_ATTEMPTS):
                txn = WriteTxn(self)
                try:
                    result = fn(txn)
                except Exception:
                    if not (txn.stale or (txn.cached and not self._current(txn))):
                        raise
                else:
                    if not txn.stale and self._commit(txn):
                        return result
                self.cache.clear()
                if attempt:  # the first conflict is likely a stale cache: no pause for it
                    _pause(attempt)
            raise self._contention()

    def subscribe_changes(self, wake: Callable[[], None]) -> Callable[[], None]:
        """Call `wake()`, from a thread of the backend's, soon after any process commits a
        watched write to this patch (`protocol.ChangeSignal`); return the function that stops
        it. The first subscription opens the pub/sub connection; the last one to stop, or
        `close`, closes it."""
        return self.notices.subscribe(wake)

    def scan_batch(self, space: str, low: bytes, high: bytes, reverse: bool) -> tuple[int, Any]:
        """Return `(version, (keys, values, keys in the space))`: one batch of a scan, read
        atomically (a script)."""
        members, values = self.keys.of(space)
        names = (members, values, self.keys.version)
        version, *batch = self._script(
            SCAN_SCRIPT,
            (b"EVALSHA", SCAN_SHA, 3, *names, low, high, SCAN_BATCH, b"1" if reverse else b"0"),
        )
        return version, batch

    def _script(self, script: bytes, call: tuple[Any, ...]) -> Any:
        try:
            return self.link.run([call])[0]
        except redis_module().exceptions.NoScriptError:  # a new or restarted server: load it once
            self.link.run([(b"SCRIPT", b"LOAD", script)])
            return self.link.run([call])[0]

    def _current(self, txn: WriteTxn) -> bool:
        """Whether the version `txn` read at is still the server's (one round trip)."""
        return int(self.link.one(b"GET", self.keys.version) or 0) == txn.version

    def _commit(self, txn: WriteTxn) -> bool:
        """Apply `txn`'s changes; False if another write came first (run `fn` again)."""
        if not any(txn.changes.values()):
            return not txn.cached or self._current(txn)
        call = commit_call(self.keys, txn.changes, txn.version, time.time(), txn.announce)
        try:
            version = self._script(COMMIT_SCRIPT, call)
        except BaseException:
            self.cache.clear()  # it may or may not have been applied
            raise
        if version < 0:
            return False
        self.cache.committed(txn.version, version, txn.changes)
        return True

    def _contention(self) -> StorageError:
        return StorageError(
            f"gave up a transaction on {self.location}: other processes wrote to it"
            f" {MAX_ATTEMPTS} times while it ran; try again when fewer processes write at once"
        )

    def close(self) -> None:
        with self._lock:
            self.link.close()
        self.notices.close()

    def __repr__(self) -> str:
        return f"RedisBackend({self.location!r})"


def _pause(attempt: int) -> None:
    """Wait a little after a conflict, longer each time, at random so that writers spread out."""
    time.sleep(random.uniform(0, min(0.05, 0.0002 * 2 ** min(attempt, 10))))
