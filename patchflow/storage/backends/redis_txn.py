"""The Redis backend's transactions: key names, lexicographic ranges, reads, buffered writes.

Kept whole (~440 lines): both transactions and the Lua scripts they run share one optimistic
versioning protocol; split, the read side and the compare-and-set side of it would sit in
different files.

`redis_backend.py` has the design; this module is its transactions in the backend protocol's
terms. Every commit increments the patch's write counter, `version`, and every read from the
server returns it too, atomically with what it read (a `MULTI`/`EXEC` for `get` and `count`,
a Lua script for a batch of a `scan`). Transactions are optimistic:

- **`ReadTxn`** (for `Backend.read`): if `version` moved between two of its reads, a write came
  in between, the transaction is `stale`, and `read` runs `fn` again.
- **`WriteTxn`** buffers `put`/`delete` in memory (its own reads see them) and commits them with
  one Lua script (`COMMIT_SCRIPT`) that applies them only if `version` is still the one its
  reads saw — a compare-and-set in one round trip; otherwise `write` runs `fn` again. A
  transaction that read nothing (blind) commits unconditionally.
- **`ReadCache`**: a write transaction's reads are remembered with the version they were read
  at, and this process's own commits carry them forward (it knows what it changed). A later
  write transaction reads from them without a round trip; the commit's version check makes
  that safe, since any write by another process changes the version. A kv `set`, which reads
  the old value and the expiry index, then costs one round trip from one writer.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from .protocol import DamagedStorage, check_key, prefix_end

if TYPE_CHECKING:
    from .redis_backend import RedisBackend

__all__ = [
    "COMMIT_SCRIPT",
    "SCAN_BATCH",
    "SCAN_SCRIPT",
    "Keys",
    "ReadCache",
    "ReadTxn",
    "WriteTxn",
    "commit_call",
    "script_sha",
]

#: keys fetched per round trip of a scan
SCAN_BATCH = 256
#: most reads a `ReadCache` holds before it starts afresh
CACHE_LIMIT = 4096

# One batch of a scan, atomically with the write counter: KEYS = the space's sorted set, its
# hash, the version key; ARGV = min, max (ZRANGEBYLEX syntax), count, "1" for reverse.
# ZRANGEBYLEX compares members with memcmp: unsigned byte order, as the protocol asks.
SCAN_SCRIPT = b"""
local keys
if ARGV[4] == '1' then
  keys = redis.call('ZREVRANGEBYLEX', KEYS[1], ARGV[2], ARGV[1], 'LIMIT', 0, ARGV[3])
else
  keys = redis.call('ZRANGEBYLEX', KEYS[1], ARGV[1], ARGV[2], 'LIMIT', 0, ARGV[3])
end
local values = {}
if #keys > 0 then values = redis.call('HMGET', KEYS[2], unpack(keys)) end
return {tonumber(redis.call('GET', KEYS[3]) or '0'), keys, values, redis.call('ZCARD', KEYS[1])}
"""

# A commit: KEYS = version, written, then each changed space's sorted set and hash; ARGV =
# "1" to check the version (else blind), the version expected, the time, the channel to
# publish the new version on ("" for none: nobody watches), then per space the number of puts
# and of deletions, the puts' keys and values, the deleted keys. Returns the new version, or
# -1 (nothing written or published) if the version was not the one expected. The PUBLISH is
# part of the script, so a notice goes out exactly when the commit applies, at no round trip.
COMMIT_SCRIPT = b"""
if ARGV[1] == '1' and tonumber(redis.call('GET', KEYS[1]) or '0') ~= tonumber(ARGV[2]) then
  return -1
end
local a = 5
for s = 3, #KEYS, 2 do
  local members, values = KEYS[s], KEYS[s + 1]
  local puts, deletions = tonumber(ARGV[a]), tonumber(ARGV[a + 1])
  a = a + 2
  for _ = 1, puts do
    redis.call('HSET', values, ARGV[a], ARGV[a + 1])
    redis.call('ZADD', members, 0, ARGV[a])
    a = a + 2
  end
  for _ = 1, deletions do
    redis.call('HDEL', values, ARGV[a])
    redis.call('ZREM', members, ARGV[a])
    a = a + 1
  end
end
redis.call('SET', KEYS[2], ARGV[3])
local version = redis.call('INCR', KEYS[1])
if ARGV[4] ~= '' then redis.call('PUBLISH', ARGV[4], version) end
return version
"""


def script_sha(script: bytes) -> bytes:
    """Return the SHA-1 by which `EVALSHA` names a script."""
    return hashlib.sha1(script).hexdigest().encode()


class Keys:
    """The Redis key names of one patch's data, under `PREFIX:{PATCH}:`.

    The braces are a Redis Cluster hash tag: every key of a patch lands in one slot, so its
    transactions and scripts may touch them all.
    """

    __slots__ = ("base", "changes", "space_keys", "spaces", "version", "written")

    def __init__(self, prefix: str, patch_id: str, spaces: tuple[str, ...] = ()) -> None:
        self.base = f"{prefix}:{{{patch_id}}}:".encode()
        #: incremented by every commit; `WATCH`ed by write transactions
        self.version = self.base + b"version"
        #: the time of the last commit (seconds since the epoch, as text)
        self.written = self.base + b"written"
        #: the set of the patch's space names, so that `delete` finds every key
        self.spaces = self.base + b"spaces"
        #: the pub/sub channel (not a key) of the notices of watched commits (`redis_notify`)
        self.changes = self.base + b"changes"
        self.space_keys = {space: self.of_any(space) for space in spaces}

    def of(self, space: str) -> tuple[bytes, bytes]:
        """Return the space's sorted set (its keys, all scored 0) and hash (key → value).

        Raises:
            KeyError: the backend was not opened with this space.
        """
        return self.space_keys[space]

    def of_any(self, space: str) -> tuple[bytes, bytes]:
        """Return the sorted set and hash of any space, opened or not (for `delete`)."""
        return self.base + b"keys:" + space.encode(), self.base + b"values:" + space.encode()

    def all(self, spaces: list[str]) -> list[bytes]:
        """Return every key the patch may have, given its space names."""
        names = [self.version, self.written, self.spaces]
        for space in spaces:
            names += self.of_any(space)
        return names


def scan_bounds(prefix: bytes, start: bytes | None, reverse: bool) -> tuple[bytes, bytes] | None:
    """Return the `(min, max)` ZRANGEBYLEX bounds of a scan, or None if it is empty."""
    end = prefix_end(prefix)
    low = b"[" + prefix if prefix else b"-"
    high = b"(" + end if end is not None else b"+"
    if start is not None:
        if reverse:
            if start < prefix:
                return None
            if end is None or start < end:
                high = b"[" + start
        elif start > prefix:
            if end is not None and start >= end:
                return None
            low = b"[" + start
    return low, high


class ReadCache:
    """Reads of write transactions, valid at one `version` of the patch (module docstring)."""

    __slots__ = ("empty", "reads", "values", "version")

    def __init__(self) -> None:
        self.version = -1  # none yet
        #: (space, key) → the value read (None: missing)
        self.values: dict[tuple[str, bytes], bytes | None] = {}
        #: ("count", space) → int, ("scan", space, bounds…) → a batch
        self.reads: dict[tuple[Any, ...], Any] = {}
        #: the spaces known to hold no key at all (the expiry index, mostly)
        self.empty: set[str] = set()

    def lookup(self, what: tuple[Any, ...]) -> tuple[bool, Any]:
        """Return `(True, result)` for a read the cache can answer, else `(False, None)`."""
        kind, space = what[0], what[1]
        if space in self.empty:
            return True, _EMPTY[kind]
        if kind == "get":
            key = (space, what[2])
            if key in self.values:
                return True, self.values[key]
        elif what in self.reads:
            return True, self.reads[what]
        return False, None

    def store(self, version: int, what: tuple[Any, ...], result: Any) -> None:
        """Remember a read made at `version` (forgetting every read of another version)."""
        if version != self.version or len(self.values) + len(self.reads) >= CACHE_LIMIT:
            self.clear()
            self.version = version
        kind, space = what[0], what[1]
        if kind == "get":
            self.values[space, what[2]] = result
        elif (kind == "count" and result == 0) or (kind == "scan" and result[2] == 0):
            self.empty.add(space)
        else:
            self.reads[what] = result

    def committed(
        self, before: int | None, after: int, changes: dict[str, dict[bytes, bytes | None]]
    ) -> None:
        """Carry the reads forward over this process's own commit, from `before` to `after`."""
        if before != self.version or after != self.version + 1:
            self.clear()  # someone else wrote in between (or nothing was cached)
        else:
            changed = {space for space, keys in changes.items() if keys}
            self.empty -= changed
            for what in [what for what in self.reads if what[1] in changed]:
                del self.reads[what]
            for space in changed:
                for key, value in changes[space].items():
                    self.values[space, key] = value
        self.version = after

    def clear(self) -> None:
        self.values.clear()
        self.reads.clear()
        self.empty.clear()
        self.version = -1


_EMPTY: dict[str, Any] = {"get": None, "count": 0, "scan": ((), (), 0)}


class ReadTxn:
    """A read transaction: each read is atomic with the version (module docstring)."""

    __slots__ = ("_backend", "stale", "version")

    def __init__(self, backend: RedisBackend) -> None:
        self._backend = backend
        #: the version every read so far saw; None before the first
        self.version: int | None = None
        #: a write committed between two of this transaction's reads: run `fn` again
        self.stale = False

    def _seen(self, version: int) -> None:
        if self.version is None:
            self.version = version
        elif version != self.version:
            self.stale = True

    def _read(self, what: tuple[Any, ...], fetch: Callable[[], tuple[int, Any]]) -> Any:
        version, value = fetch()
        self._seen(version)
        return value

    def _one(self, command: tuple[Any, ...]) -> Callable[[], tuple[int, Any]]:
        def fetch() -> tuple[int, Any]:
            backend = self._backend
            replies = backend.link.run(
                [(b"MULTI",), (b"GET", backend.keys.version), command, (b"EXEC",)]
            )
            version, value = backend.link.checked(replies[-1])
            return int(version or 0), value

        return fetch

    def get(self, space: str, key: bytes) -> bytes | None:
        command = (b"HGET", self._backend.keys.of(space)[1], key)
        return self._read(("get", space, key), self._one(command))

    def count(self, space: str) -> int:
        command = (b"ZCARD", self._backend.keys.of(space)[0])
        return self._read(("count", space), self._one(command))

    def scan(
        self, space: str, prefix: bytes, *, start: bytes | None = None, reverse: bool = False
    ) -> Iterator[tuple[bytes, bytes]]:
        self._backend.keys.of(space)  # an unknown space fails here, as on other backends
        bounds = scan_bounds(prefix, start, reverse)
        if bounds is None:
            return iter(())
        return self._scan(space, *bounds, reverse)

    def _scan(
        self, space: str, low: bytes, high: bytes, reverse: bool
    ) -> Iterator[tuple[bytes, bytes]]:
        while True:
            keys, values, _ = self._read(
                ("scan", space, low, high, reverse),
                lambda: self._backend.scan_batch(space, low, high, reverse),  # noqa: B023
            )
            for key, value in zip(keys, values, strict=True):
                if value is None:
                    raise DamagedStorage(
                        self._backend.location,
                        f"key {key!r} of space {space!r} has no value",
                        self._backend.patch_id,
                    )
                yield key, value
            if len(keys) < SCAN_BATCH:
                return
            if reverse:
                high = b"(" + keys[-1]
            else:
                low = b"(" + keys[-1]


class WriteTxn(ReadTxn):
    """A write transaction: reads at one version (cached where it can), writes buffered."""

    __slots__ = ("announce", "cached", "changes")

    def __init__(self, backend: RedisBackend) -> None:
        super().__init__(backend)
        #: space → key → new value, or None for a deletion
        self.changes: dict[str, dict[bytes, bytes | None]] = {}
        #: some read came from the cache (a commit checks it; a read-only write must, too)
        self.cached = False
        #: the commit publishes a notice for watchers (`announce_changes`)
        self.announce = False

    def announce_changes(self) -> None:
        """Make the commit publish a notice of it (`protocol.ChangeSignal`): the change log
        calls this only while someone watches, so unwatched writes publish nothing."""
        self.announce = True

    def _read(self, what: tuple[Any, ...], fetch: Callable[[], tuple[int, Any]]) -> Any:
        cache = self._backend.cache
        if self.version is None or self.version == cache.version:
            found, value = cache.lookup(what)
            if found:
                self.cached = True
                self._seen(cache.version)
                return value
        version, value = fetch()
        self._seen(version)
        if not self.stale:
            cache.store(version, what, value)
        return value

    def get(self, space: str, key: bytes) -> bytes | None:
        changed = self.changes.get(space)
        if changed is not None and key in changed:
            return changed[key]
        return super().get(space, key)

    def count(self, space: str) -> int:
        if self.changes.get(space):
            return sum(1 for _ in self.scan(space, b""))
        return super().count(space)

    def scan(
        self, space: str, prefix: bytes, *, start: bytes | None = None, reverse: bool = False
    ) -> Iterator[tuple[bytes, bytes]]:
        stored = super().scan(space, prefix, start=start, reverse=reverse)
        changed = self.changes.get(space)
        if not changed:
            return stored
        mine = [
            (key, value)
            for key, value in changed.items()
            if key.startswith(prefix)
            and (start is None or (key <= start if reverse else key >= start))
        ]
        mine.sort(reverse=reverse)
        return _merge(stored, mine, reverse)

    def put(self, space: str, key: bytes, value: bytes) -> None:
        check_key(key)
        self._backend.keys.of(space)  # an unknown space fails here, as on other backends
        self.changes.setdefault(space, {})[key] = bytes(value)

    def replace(self, space: str, key: bytes, value: bytes) -> bytes | None:
        old = self.get(space, key)
        self.put(space, key, value)
        return old

    def delete(self, space: str, key: bytes) -> bool:
        if self.get(space, key) is None:
            return False
        self.changes.setdefault(space, {})[key] = None
        return True

    def delete_prefix(self, space: str, prefix: bytes) -> int:
        doomed = [key for key, _ in self.scan(space, prefix)]
        changed = self.changes.setdefault(space, {})
        for key in doomed:
            changed[key] = None
        return len(doomed)


def _merge(
    stored: Iterator[tuple[bytes, bytes]], mine: list[tuple[bytes, bytes | None]], reverse: bool
) -> Iterator[tuple[bytes, bytes]]:
    """Merge the server's keys with the transaction's changes (both in scan order)."""
    i = 0
    for key, value in stored:
        while i < len(mine) and (mine[i][0] > key if reverse else mine[i][0] < key):
            if mine[i][1] is not None:
                yield mine[i]  # type: ignore[misc]
            i += 1
        if i < len(mine) and mine[i][0] == key:
            if mine[i][1] is not None:
                yield mine[i]  # type: ignore[misc]
            i += 1
            continue
        yield key, value
    for key, value in mine[i:]:
        if value is not None:
            yield key, value


def commit_call(
    keys: Keys,
    changes: dict[str, dict[bytes, bytes | None]],
    expected: int | None,
    now: float,
    announce: bool = False,
) -> tuple[Any, ...]:
    """Return the `EVALSHA` of `COMMIT_SCRIPT` applying `changes` if the version is `expected`
    (None: unconditionally), publishing a notice on `keys.changes` if `announce`."""
    names: list[bytes] = [keys.version, keys.written]
    check = (b"0", b"0") if expected is None else (b"1", str(expected).encode())
    arguments: list[Any] = [*check, repr(now).encode(), keys.changes if announce else b""]
    for space, changed in changes.items():
        if not changed:
            continue
        names += keys.of(space)
        puts: list[bytes] = []
        gone: list[bytes] = []
        for key, value in changed.items():
            if value is None:
                gone.append(key)
            else:
                puts += (key, value)
        arguments += (len(puts) // 2, len(gone), *puts, *gone)
    return (b"EVALSHA", COMMIT_SHA, len(names), *names, *arguments)


SCAN_SHA = script_sha(SCAN_SCRIPT)
COMMIT_SHA = script_sha(COMMIT_SCRIPT)
