"""The bus: `[send]`/`[receive]` names, and raw `[mqtt-in]`/`[mqtt-out]` topics, over MQTT.

Imported only by runs given a bus (`--bus URL`, `$PATCHFLOW_BUS`), so a patch without one never
loads paho. One paho client per run, its network thread started by `loop_start`; what arrives
on that thread is handed to trio with the run's trio token (`run_sync_soon`) and posted as a
cascade of its own, so a box never runs outside the scheduler.

- Payloads are JSON text, with the dump format's markers (`{"$bytes": BASE64}`; the codec and
  the URL's parsing are in bus_url.py), so any MQTT client can read and write them; a payload
  that is not JSON arrives as a string (bytes when it is not even UTF-8, rather than a string
  with replacement characters).
- No echo: every subscription has MQTT v5's `no_local`, so the broker never sends a process its
  own publications (local receivers already got them, depth-first).
- Each topic filter carries an MQTT v5 subscription identifier, and a message goes only to the
  filters the broker says it matched: overlapping filters (`a/#` and `a/b`) each get it once,
  whether the broker sends one copy or one per filter.
- While the connection is down, publications wait in a bounded queue (the oldest dropped and
  counted); paho reconnects with back-off, and the queue is sent on reconnection.
"""

from __future__ import annotations

import collections
import contextlib
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import attrs

from .bus_url import BusError, BusURL, decode_payload, encode_payload, has_wildcard, redacted

#: publications kept while the broker is unreachable; older ones are dropped (and counted)
QUEUE_LIMIT = 10_000
#: how long the end of a run waits for pending publications to reach the broker
FLUSH_SECONDS = 5.0
#: how long the start of a run waits for the broker's CONNACK, and for its SUBACKs
CONNECT_SECONDS = 5.0


@attrs.define
class BusLink:
    """What the bus needs of a run: post a cascade, hold it open, deliver a name, report."""

    post: Callable[..., None]
    hold: Callable[[], Any]
    deliver: Callable[[str, Any], None]  # publish to local receivers of a name
    errors: Callable[[str], None]
    token: Any  # the run's trio token


class _Filter:
    """One subscribed topic filter: the names and raw listeners it serves."""

    def __init__(self, sid: int, topic: str) -> None:
        self.sid = sid
        self.topic = topic
        self.wildcard = has_wildcard(topic)
        self.names: collections.Counter[str] = collections.Counter()
        self.listeners: dict[Any, Callable[[Any], None]] = {}  # box → handler

    def empty(self) -> bool:
        return not self.names and not self.listeners


class MqttBus:
    """A run's connection to an MQTT broker (the object behind `PatchContext.bus`)."""

    def __init__(self, url: str) -> None:
        self.url = BusURL.parse(url)
        self.shown = redacted(url)
        self._link: BusLink | None = None
        self._client: Any = None
        self._lock = threading.Lock()
        self._filters: dict[str, _Filter] = {}
        self._by_sid: dict[int, _Filter] = {}
        self._next_sid = 1
        self._hold: Any = None
        self._connected = threading.Event()
        self._refused: str | None = None
        self._lost = False
        self._queue: collections.deque[tuple[str, bytes, int, bool]] = collections.deque()
        self._dropped = 0
        self._pending: collections.deque[Any] = collections.deque()  # paho MQTTMessageInfo
        self._unacked_subs: set[int] = set()
        self._closed = False

    # -- the run's side (trio thread) ---------------------------------------------------------

    def open(self, link: BusLink) -> None:
        """Connect, waiting for the broker's answer; raise BusError naming the URL if none."""
        import paho.mqtt.client as mqtt

        self._link = link
        client_id = f"patchflow-{uuid.uuid4().hex[:12]}"
        client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5
        )
        if self.url.username is not None:
            client.username_pw_set(self.url.username, self.url.password)
        if self.url.tls:
            client.tls_set()
        client.reconnect_delay_set(min_delay=1, max_delay=30)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.on_subscribe = self._on_subscribe
        self._client = client
        try:
            client.connect(self.url.host, self.url.port, keepalive=30)
        except (OSError, ValueError) as exc:
            raise BusError(self._cannot(getattr(exc, "strerror", None) or str(exc))) from None
        client.loop_start()
        if not self._connected.wait(CONNECT_SECONDS) or self._refused:
            reason = self._refused or f"no answer within {CONNECT_SECONDS:g} s"
            self._stop_client()
            raise BusError(self._cannot(reason))

    def _cannot(self, reason: str) -> str:
        return (
            f"cannot connect to the bus {self.shown}: {reason};"
            " is the broker running, and the URL right?"
        )

    def wait_subscribed(self, timeout: float = CONNECT_SECONDS) -> None:
        """Wait (in a thread) until the broker acknowledged the subscriptions made so far."""
        deadline = time.monotonic() + timeout
        while self._unacked_subs and time.monotonic() < deadline and self._connected.is_set():
            time.sleep(0.002)

    def subscribe_name(self, name: str) -> None:
        """`[receive NAME]`: deliver `PREFIX/NAME` to local receivers of NAME."""
        self._filter(self.url.topic(name)).names[name] += 1
        self._update_hold()

    def unsubscribe_name(self, name: str) -> None:
        topic = self.url.topic(name)
        entry = self._filters.get(topic)
        if entry is not None and entry.names[name] > 0:
            entry.names[name] -= 1
            entry.names += collections.Counter()  # drop zero counts
            self._drop_if_empty(entry)

    def publish_name(self, name: str, message: Any, retain: bool = False) -> None:
        """`[send NAME]`: publish `message` to `PREFIX/NAME`."""
        if has_wildcard(name):
            raise BusError(f"a send name may not hold MQTT wildcards (+ #): {name!r}")
        self.publish(self.url.topic(name), message, retain)

    # the three a box may use (`PatchContext.bus`)

    def listen(self, topic: str, box: Any, handler: Callable[[Any], None]) -> None:
        """Call `handler(message)` as a cascade of `box` for each message on the raw `topic`.

        With a wildcard in `topic` the message is `{"topic": FULL_TOPIC, "message": …}`.
        """
        self._filter(topic).listeners[box] = handler
        self._update_hold()

    def unlisten(self, topic: str, box: Any) -> None:
        entry = self._filters.get(topic)
        if entry is not None and entry.listeners.pop(box, None) is not None:
            self._drop_if_empty(entry)

    def publish(self, topic: str, message: Any, retain: bool = False) -> None:
        """Publish `message` to the raw `topic` (queued while the connection is down)."""
        if not topic or has_wildcard(topic):
            raise BusError(f"cannot publish to {topic!r}: a topic is not empty and has no + #")
        payload = encode_payload(message)
        item = (topic, payload, self.url.qos, retain)
        if self._connected.is_set() and not self._queue:
            self._send(item)
            return
        with self._lock:
            if len(self._queue) >= QUEUE_LIMIT:
                self._queue.popleft()
                self._dropped += 1
            self._queue.append(item)

    def close(self) -> None:
        """Hand pending publications to the broker (up to FLUSH_SECONDS), then disconnect."""
        if self._client is None or self._closed:
            return
        deadline = time.monotonic() + FLUSH_SECONDS
        while (self._unpublished() or self._queue) and time.monotonic() < deadline:
            time.sleep(0.002)
        left = self._unpublished() + len(self._queue)
        self._closed = True
        if left and self._link is not None:
            self._link.errors(
                f"bus {self.shown}: {left} message(s) not handed to the broker"
                f" within {FLUSH_SECONDS:g} s"
            )
        self._release_hold()
        self._stop_client()

    def _unpublished(self) -> int:
        return sum(not info.is_published() for info in list(self._pending))

    # -- bookkeeping ---------------------------------------------------------------------------

    def _filter(self, topic: str) -> _Filter:
        entry = self._filters.get(topic)
        if entry is None:
            with self._lock:
                entry = _Filter(self._next_sid, topic)
                self._next_sid += 1
                self._filters[topic] = entry
                self._by_sid[entry.sid] = entry
            self._subscribe(entry)
        return entry

    def _drop_if_empty(self, entry: _Filter) -> None:
        if entry.empty():
            with self._lock:
                del self._filters[entry.topic]
                del self._by_sid[entry.sid]
            if self._client is not None and not self._closed:
                self._client.unsubscribe(entry.topic)
        self._update_hold()

    def _update_hold(self) -> None:
        """A patch with a bus receiver is never idle: one hold while any filter is subscribed."""
        if self._filters and self._hold is None and self._link is not None:
            self._hold = self._link.hold()
        elif not self._filters:
            self._release_hold()

    def _release_hold(self) -> None:
        if self._hold is not None:
            self._hold.release()
            self._hold = None

    def _subscribe(self, entry: _Filter) -> None:
        from paho.mqtt.packettypes import PacketTypes
        from paho.mqtt.properties import Properties
        from paho.mqtt.subscribeoptions import SubscribeOptions

        properties = Properties(PacketTypes.SUBSCRIBE)
        properties.SubscriptionIdentifier = entry.sid
        options = SubscribeOptions(qos=self.url.qos, noLocal=True)
        result, mid = self._client.subscribe(entry.topic, options=options, properties=properties)
        if result == 0 and mid is not None:
            self._unacked_subs.add(mid)

    def _send(self, item: tuple[str, bytes, int, bool]) -> None:
        topic, payload, qos, retain = item
        info = self._client.publish(topic, payload, qos=qos, retain=retain)
        pending = self._pending
        while pending and pending[0].is_published():  # acknowledged: forget, oldest first
            pending.popleft()
        if qos > 0:
            pending.append(info)

    def _stop_client(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            client.disconnect()
            client.loop_stop()

    def _to_trio(self, fn: Callable[..., None], *args: Any) -> None:
        """Run `fn(*args)` on the run's trio thread (nothing, once the run has ended)."""
        link = self._link
        if link is None or self._closed:
            return
        with contextlib.suppress(RuntimeError):  # trio.RunFinishedError: the run has ended
            link.token.run_sync_soon(fn, *args)

    # -- paho's network thread -----------------------------------------------------------------

    def _on_connect(self, client: Any, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        if reason.is_failure:
            self._refused = f"the broker refused: {reason}"
            self._connected.set()  # wakes `open`, which reports the refusal
            return
        with self._lock:
            entries = list(self._filters.values())
        for entry in entries:  # a clean session: subscribe again after a reconnect
            self._subscribe(entry)
        self._connected.set()
        if self._lost:
            self._lost = False
            self._to_trio(self._link.errors, f"bus {self.shown}: connected again")
        self._flush_queue()

    def _flush_queue(self) -> None:
        with self._lock:
            items, self._queue = list(self._queue), collections.deque()
            dropped, self._dropped = self._dropped, 0
        if dropped:
            self._to_trio(
                self._link.errors,
                f"bus {self.shown}: {dropped} message(s) dropped while disconnected"
                f" (the queue keeps the last {QUEUE_LIMIT})",
            )
        for item in items:
            self._send(item)

    def _on_disconnect(self, client: Any, userdata: Any, flags: Any, reason: Any, props: Any):
        was_connected = self._connected.is_set()
        self._connected.clear()
        if was_connected and not self._closed and not self._lost:
            self._lost = True
            self._to_trio(
                self._link.errors,
                f"bus {self.shown}: lost the connection ({reason}); reconnecting, messages"
                " sent meanwhile are queued",
            )

    def _on_subscribe(self, client: Any, userdata: Any, mid: int, reasons: Any, props: Any):
        self._unacked_subs.discard(mid)

    def _on_message(self, client: Any, userdata: Any, msg: Any) -> None:
        sids = getattr(msg.properties, "SubscriptionIdentifier", None) or []
        with self._lock:
            entries = [self._by_sid[sid] for sid in sids if sid in self._by_sid]
        if not entries:
            return
        message = decode_payload(msg.payload)
        for entry in entries:
            self._to_trio(self._arrive, entry, msg.topic, message)

    def _arrive(self, entry: _Filter, topic: str, message: Any) -> None:
        """On the trio thread: post a cascade per receiver of a message from the broker."""
        link = self._link
        assert link is not None
        for name in list(entry.names):
            value = (
                {"topic": self.url.name(topic), "message": message} if entry.wildcard else message
            )
            link.post(_Deliver(link.deliver, name, value))
        for box, handler in list(entry.listeners.items()):
            value = {"topic": topic, "message": message} if entry.wildcard else message
            link.post(_Call(handler, value), box)


@attrs.frozen
class _Deliver:
    """The cascade of a remote message: deliver it to the local receivers of `name`."""

    deliver: Callable[[str, Any], None]
    name: str
    message: Any

    def __call__(self) -> None:
        self.deliver(self.name, self.message)


@attrs.frozen
class _Call:
    handler: Callable[[Any], None]
    message: Any

    def __call__(self) -> None:
        self.handler(self.message)
