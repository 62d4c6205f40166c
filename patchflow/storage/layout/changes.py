"""The change log: every change to a kv key or a document, in commit order, for watchers.

Watching (storage.md, "Watching a store") must see every change to a store — made by this
process or by any other sharing the data — in commit order. So the log lives in the store
itself, written in the same transaction as the change it records:

    changes  SEQ                  → KIND (1 byte) + len(KEY) (2 bytes) + KEY + [VALUE]
    meta     b"changes"           → SEQ of the newest entry (8 bytes, big-endian)
    meta     b"watch-lease"       → T: someone watches until T (epoch ms, 8 bytes, big-endian)

`KIND` is `k` for a kv key (KEY is the full kv key: store prefix + key; VALUE the stored
value, expiry header included, absent for a delete or an expiry) or `d` for a document
(KEY is `collection_prefix + id`; VALUE the msgpack document, absent when deleted).

The one place writes go through is `Recorder`: `store.open_storage` wraps the patch's backend
in a `ChangeLog`, whose `write(fn)` hands `fn` a transaction that notes each put and delete in
the `kv`, `docs` and `ids` spaces and appends the entries and the new SEQ before the commit.
Every writer — the kv and db commands, batches, expiry sweeps, `patchflow data import` — thus
logs its changes without knowing of it, and each backend (LMDB, memory, PostgreSQL, Redis)
works unchanged. A db change is seen as the document put in `docs` (an insert, update or
replace) or the id removed from `ids` (a delete or a drop); a cleared store's or dropped
collection's keys are listed before they are removed.

Logging costs two puts and a lookup per write, so it happens only while someone watches: a
watcher holds a *lease*. Its first `listen` writes "watched until now + `LEASE_MS`" in its
own committed transaction (reading the SEQ it starts after in the same one), and its
`poll()` renews it every `RENEW_MS`; a writer reads the lease (one lookup) in its write
transaction and logs only while it is live. So every write committed after a watch starts —
in any process — is logged, and with nobody watching a write pays one lookup. A process with
listeners of its own logs without looking, and a live lease once read is trusted until it
ends (logging too much is harmless; too little is not). A watcher that stops polling for
longer than `LEASE_MS` (a process stopped in a debugger) may miss other processes' changes
made meanwhile; its own process's are never missed.

Watchers in this process are told right after each commit (`ChangeLog.listen`), without
polling; changes other processes commit are found by `poll()`, which reads only the counter
(one lookup) unless it moved. Either way each listener gets every entry once, in SEQ order.

The log keeps the newest `KEEP` entries: a write whose SEQ crosses a multiple of `TRIM_EVERY`
drops the older ones. A watcher polling every few tens of milliseconds is never that far
behind; one that is (a process stopped in a debugger) skips what was dropped.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import msgpack

from ..backends.protocol import Backend, ReadTxn, WriteTxn
from . import codec, expiry
from .keys import CHANGES, DOCS, IDS, KV_SPACE, META, SEQ_BYTES, decode_seq, encode_seq

__all__ = [
    "CHANGES",
    "KEEP",
    "LEASE_MS",
    "POLL_SECONDS",
    "SIGNALLED_POLL_SECONDS",
    "ChangeLog",
    "Entry",
    "Recorder",
    "last_seq",
]

T = TypeVar("T")

#: The counter's key in `meta`: the SEQ of the newest entry.
COUNTER_KEY = b"changes"
#: How many entries the log keeps, and how often (in SEQs) it drops older ones.
KEEP = 10_000
TRIM_EVERY = 1_024

#: The watch lease's key in `meta`; how long a lease lasts, and how old it gets before its
#: watcher renews it (ms). A lease of 10 s renewed every 3 s survives a watcher's two missed
#: renewals (a long garbage collection, a busy machine); an ended watch costs writers at most
#: 10 s of needless logging.
LEASE_KEY = b"watch-lease"
LEASE_MS = 10_000
RENEW_MS = 3_000

#: How often a watcher looks for changes committed by other processes (storage.md: within
#: 100 ms). A look reads one counter (about 7 µs); waking the event loop costs far more
#: (measured 0.3 ms on a busy 2-core machine), so 20 ms cost 2% of a core idle and 50 ms under
#: 1% (bench/bench_watch.py), with changes from other processes seen 25 ms later on average.
POLL_SECONDS = 0.05
#: How often when the backend pushes a notice of each change (`protocol.ChangeSignal`): the
#: look then only finds keys that expired (a notice the server dropped in a reconnect too),
#: and renews the lease.
SIGNALLED_POLL_SECONDS = 0.5

KV_KIND, DOC_KIND = b"k", b"d"

#: One logged change: (SEQ, KIND, KEY, VALUE or None when removed).
Entry = tuple[int, bytes, bytes, bytes | None]


def last_seq(txn: ReadTxn) -> int:
    """Return the SEQ of the newest logged change (0: none yet)."""
    raw = txn.get(META, COUNTER_KEY)
    return 0 if raw is None else decode_seq(raw)


def now_ms() -> int:
    """The lease's clock: milliseconds since the epoch, shared by every process."""
    return time.time_ns() // 1_000_000


def lease_until(txn: ReadTxn) -> int:
    """Return when the store's watch lease ends (epoch ms; 0: never taken)."""
    raw = txn.get(META, LEASE_KEY)
    return 0 if raw is None else decode_seq(raw)


def entries_after(txn: ReadTxn, seq: int) -> list[Entry]:
    """Return the logged changes after `seq`, oldest first."""
    found = []
    for key, value in txn.scan(CHANGES, b"", start=encode_seq(seq + 1)):
        size = int.from_bytes(value[1:3], "big")
        body = value[3 + size :]
        found.append((decode_seq(key), value[:1], value[3 : 3 + size], body[1:] if body else None))
    return found


class Recorder:
    """A write transaction that notes every change to kv keys and documents (see the module)."""

    __slots__ = ("_txn", "changes")

    def __init__(self, txn: WriteTxn) -> None:
        self._txn = txn
        #: (KIND, KEY, VALUE or None), in the order they were made
        self.changes: list[tuple[bytes, bytes, bytes | None]] = []

    def get(self, space: str, key: bytes) -> bytes | None:
        return self._txn.get(space, key)

    def scan(self, space: str, prefix: bytes, **options: Any) -> Iterator[tuple[bytes, bytes]]:
        return self._txn.scan(space, prefix, **options)

    def count(self, space: str) -> int:
        return self._txn.count(space)

    def put(self, space: str, key: bytes, value: bytes) -> None:
        self._txn.put(space, key, value)
        if space == KV_SPACE:
            self.changes.append((KV_KIND, key, value))
        elif space == DOCS:
            self._doc_put(key, value)

    def replace(self, space: str, key: bytes, value: bytes) -> bytes | None:
        old = self._txn.replace(space, key, value)
        if space == KV_SPACE:
            self.changes.append((KV_KIND, key, value))
        elif space == DOCS:
            self._doc_put(key, value)
        return old

    def delete(self, space: str, key: bytes) -> bool:
        removed = self._txn.delete(space, key)
        if removed and space == KV_SPACE:
            self.changes.append((KV_KIND, key, None))
        elif removed and space == IDS:
            self.changes.append((DOC_KIND, key, None))
        return removed

    def delete_prefix(self, space: str, prefix: bytes) -> int:
        kind = KV_KIND if space == KV_SPACE else DOC_KIND if space == IDS else None
        if kind is not None:
            gone = [key for key, _ in self._txn.scan(space, prefix)]
            self.changes.extend((kind, key, None) for key in gone)
        return self._txn.delete_prefix(space, prefix)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._txn, name)  # whatever else a backend's transaction offers

    def _doc_put(self, key: bytes, value: bytes) -> None:
        """Log a document put under `collection_prefix + SEQ` as `collection_prefix + id`."""
        doc_id = msgpack.unpackb(value).get("_id")
        if isinstance(doc_id, str):
            self.changes.append((DOC_KIND, key[:-SEQ_BYTES] + doc_id.encode(), value))

    def finish(self) -> tuple[int, list[Entry]]:
        """Append the noted changes to the log; return (SEQ before them, the entries added).

        On every watched write: one lookup and one put per change plus one, nothing else.
        """
        if not self.changes:
            return 0, []
        txn = self._txn
        raw = txn.get(META, COUNTER_KEY)
        first = last = 0 if raw is None else int.from_bytes(raw, "big")
        put = txn.put
        entries: list[Entry] = []
        for kind, key, value in self.changes:
            last += 1
            body = kind + len(key).to_bytes(2, "big") + key
            put(
                CHANGES,
                last.to_bytes(SEQ_BYTES, "big"),
                body if value is None else body + b"v" + value,
            )
            entries.append((last, kind, key, value))
        put(META, COUNTER_KEY, last.to_bytes(SEQ_BYTES, "big"))
        announce = getattr(txn, "announce_changes", None)
        if announce is not None:  # a backend that pushes notices (protocol.ChangeSignal)
            announce()
        if last // TRIM_EVERY != first // TRIM_EVERY and last > KEEP:
            stale = encode_seq(last - KEEP)
            old = []  # listed, then cut (the space must not change while being scanned)
            for key, _ in txn.scan(CHANGES, b""):
                if key >= stale:
                    break
                old.append(key)
            for key in old:
                txn.delete(CHANGES, key)
        return first, entries


Listener = Callable[[list[Entry]], None]


class _Watched(Exception):
    """Raised out of a write transaction that must note its changes after all."""


def _nothing() -> None:
    """The stop function of a subscription that was never made."""


class ChangeLog:
    """A backend whose writes log their changes, and which tells its listeners of every change.

    It is a `Backend` (the facade and every command use it as one). `listen(fn)` calls
    `fn(entries)` right after each commit of this process, and from `poll()` for what other
    processes committed; `fn` must not write to the storage.
    """

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self.location = backend.location
        self.get = backend.get
        self.read = backend.read
        self._listeners: list[Listener] = []
        self._seen = 0  # the newest SEQ every listener has been given
        self._lock = threading.RLock()
        self._lease = 0  # when the lease this process last wrote ends (epoch ms)
        self._live_until = 0  # a lease known live until then: no need to look (epoch ms)
        self._sweep_at = 0  # the next write from then on sweeps (expiry clock, ms)
        #: no other process can open the data (memory): only this log's listeners can watch,
        #: so no write needs to look for a lease
        self._process_local = getattr(backend, "process_local", False)
        self._signal = getattr(backend, "subscribe_changes", None)
        #: how often a watcher should call `poll` (less often when the backend pushes notices)
        self.poll_seconds = POLL_SECONDS if self._signal is None else SIGNALLED_POLL_SECONDS

    def on_remote_change(self, wake: Callable[[], None]) -> Callable[[], None]:
        """Call `wake()` (from any thread) when another process may have committed changes;
        return the function that stops it.

        Only a backend that pushes notices (`protocol.ChangeSignal`) calls it; with others a
        watcher finds those changes by calling `poll` every `poll_seconds`. `wake` should make
        the watcher call `poll` soon; it must not touch the storage itself.
        """
        if self._signal is None:
            return _nothing
        return self._signal(wake)

    def watched(self, txn: WriteTxn) -> bool:
        """Return whether a write in `txn` must log its changes: someone watches the store.

        A lapsed lease is removed, so that later writes find none with one lookup.
        """
        if self._listeners:
            return True
        if self._live_until:
            if now_ms() < self._live_until:
                return True
            self._live_until = 0
        raw = txn.get(META, LEASE_KEY)
        if raw is None:  # the usual case: one lookup, no clock
            return False
        until = decode_seq(raw)
        if until <= now_ms():  # lapsed (its watcher stopped or died): as good as none
            txn.delete(META, LEASE_KEY)
            return False
        self._live_until = until
        return True

    def _take_lease(self, txn: WriteTxn) -> int:
        """Extend the store's lease to now + `LEASE_MS`; return the SEQ of the newest entry."""
        until = now_ms() + LEASE_MS
        if lease_until(txn) < until:  # never shorten another watcher's
            txn.put(META, LEASE_KEY, encode_seq(until))
        self._lease = until
        return last_seq(txn)

    def write(self, fn: Callable[[WriteTxn], T]) -> T:
        """Run `fn` in a write transaction that logs its changes while someone watches, and
        sweeps expired keys away when a sweep is due (`expiry.SWEEP_EVERY_MS`)."""
        now = expiry.now_ms()
        if now >= self._sweep_at:
            return self._write_and_sweep(fn, now)
        if self._listeners or self._live_until:  # watched here, or lately elsewhere
            return self._write_and_log(fn)
        if self._process_local:  # nobody can watch but through this log: nothing to note
            return self.backend.write(fn)

        # The hot path: one lookup says whether another process has started watching; if
        # it has, this transaction is dropped and the write done again, noting its changes.
        def unless_watched(txn: WriteTxn) -> T:
            if txn.get(META, LEASE_KEY) is not None:
                raise _Watched
            return fn(txn)

        try:
            return self.backend.write(unless_watched)
        except _Watched:
            return self._write_and_log(fn)

    def _write_and_log(self, fn: Callable[[WriteTxn], T]) -> T:
        """`write`, noting the changes if the store is watched, and telling this process's
        listeners of them after the commit."""

        def logged(txn: WriteTxn) -> tuple[T, list[Entry]]:
            if not self.watched(txn):
                return fn(txn), []
            return self._logged(fn, txn)

        result, entries = self.backend.write(logged)
        if entries and self._listeners:
            self._tell(entries)
        return result

    def _write_and_sweep(self, fn: Callable[[WriteTxn], T], now: int) -> T:
        """`write`, with a sweep after `fn` in the same transaction; schedules the next one."""
        swept = [0]

        def sweeping(txn: WriteTxn) -> T:
            result = fn(txn)
            swept[0] = len(expiry.sweep(txn, now))
            return result

        def logged(txn: WriteTxn) -> tuple[T, list[Entry]]:
            if not self.watched(txn):
                return sweeping(txn), []
            return self._logged(sweeping, txn)

        result, entries = self.backend.write(logged)
        # a full sweep leaves a backlog: the next write sweeps again
        self._sweep_at = now if swept[0] >= expiry.SWEEP_LIMIT else now + expiry.SWEEP_EVERY_MS
        if entries and self._listeners:
            self._tell(entries)
        return result

    def _logged(self, fn: Callable[[WriteTxn], T], txn: WriteTxn) -> tuple[T, list[Entry]]:
        """Run `fn` on `txn`, noting its changes, and append them to the log."""
        recorder = Recorder(txn)
        result = fn(recorder)  # type: ignore[arg-type]
        first, mine = recorder.finish()
        if not mine or not self._listeners:
            return result, mine
        # other processes' changes not yet polled go first: listeners get commit order
        seen = self._seen
        if first > seen:
            return result, [e for e in entries_after(txn, seen) if e[0] <= first] + mine
        return result, mine

    def listen(self, listener: Listener) -> Callable[[], None]:
        """Call `listener(entries)` for every later change; return the function that stops it."""
        with self._lock:
            if not self._listeners:  # the lease first: every later commit is logged
                self._seen = self.backend.write(self._take_lease)
            self._listeners.append(listener)

        def stop() -> None:
            with self._lock:
                if listener in self._listeners:
                    self._listeners.remove(listener)

        return stop

    def poll(self) -> None:
        """Tell the listeners of the changes other processes committed since the last call.

        Reads only the counter (and the first entry of the expiry index) when nothing changed;
        if a kv key has expired, sweeps it, so that its watchers hear of it. Renews the watch
        lease once it is `RENEW_MS` old.
        """
        if not self._listeners:
            return
        if self._lease - now_ms() < LEASE_MS - RENEW_MS:
            self.backend.write(self._take_lease)
        now = expiry.now_ms()
        newest, due = self.backend.read(
            lambda txn: (last_seq(txn), expiry.due_entries(txn, now, 1))
        )
        if due:  # an expired key is deleted now, so that watchers hear of it (found: false)
            self.write(lambda txn: expiry.sweep(txn, now))
        if newest <= self._seen:
            return
        seen = self._seen
        entries = self.backend.read(lambda txn: entries_after(txn, seen))
        if entries:
            self._tell(entries)

    def _tell(self, entries: list[Entry]) -> None:
        with self._lock:
            entries = [entry for entry in entries if entry[0] > self._seen]
            if not entries:
                return
            self._seen = entries[-1][0]
            for listener in list(self._listeners):
                listener(entries)

    def close(self) -> None:
        self._listeners.clear()
        self.backend.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.backend, name)  # whatever else a backend offers (admin, stats)


def messages_for(
    store_prefix: bytes, collection: bytes | None, send: Callable[[dict[str, Any]], None]
) -> Listener:
    """Return a listener that calls `send(message)` for each change to one store.

    With `collection` None it watches the store's kv keys: `{op: "changed", key, value,
    found}`; else that collection's documents: `{op: "changed", collection, id, doc}` (`doc`
    None when deleted). These are the messages a watching `[kv]`/`[db]` box sends.
    """
    if collection is None:
        kind, prefix = KV_KIND, store_prefix
    else:
        kind, prefix = DOC_KIND, store_prefix + collection + b"\0"
    start = len(prefix)
    name = None if collection is None else collection.decode()

    def listener(entries: list[Entry]) -> None:
        for _seq, entry_kind, key, value in entries:
            if entry_kind != kind or not key.startswith(prefix):
                continue
            if name is not None:
                doc = None if value is None else msgpack.unpackb(value)
                send({"op": "changed", "collection": name, "id": key[start:].decode(), "doc": doc})
                continue
            if value is not None and expiry.is_expired(value, expiry.now_ms()):
                value = None  # set already expired: as good as deleted
            found = value is not None
            decoded = codec.decode(expiry.payload(value)) if found else None  # type: ignore[arg-type]
            send({"op": "changed", "key": key[start:].decode(), "value": decoded, "found": found})

    return listener
