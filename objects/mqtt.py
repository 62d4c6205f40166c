"""Raw MQTT topics, outside the bus prefix: `[mqtt-in TOPIC]` and `[mqtt-out TOPIC]`.

For talking to other systems (sensors, Node-RED, Home Assistant) on the broker the run's bus
(`--bus URL`) connects to. Payloads follow the bus's rules (docs/bus.md): JSON text, bytes as
`{"$bytes": BASE64}`; a payload that is not JSON arrives as a string.
"""

from __future__ import annotations

from typing import Any

from patchflow import ArgumentError, Box

from .bus import split_retain


def _topic(args: str, name: str, wildcards: bool) -> str:
    words = args.split()
    if len(words) != 1:
        raise ArgumentError(
            f"takes one MQTT topic, got {len(words)} words; e.g. [{name} home/temp]"
        )
    topic = words[0]
    if not wildcards and ("+" in topic or "#" in topic):
        raise ArgumentError(
            f"cannot publish to {topic!r}: + and # are for subscribing; e.g. [{name} home/temp]"
        )
    return topic


class MqttIn(Box):
    """Send on each message the MQTT broker delivers on a raw topic (outside the bus prefix).

    Needs a bus: run with `--bus mqtt://HOST[:PORT][/PREFIX]`; without one the run stops
    with an error (exit 1). The topic is used as written (the bus prefix is not added). A
    process does not receive what it publishes itself. A patch with `[mqtt-in]` is never
    idle: stop it with `--timeout` or Ctrl-C.

    Arguments:
        topic: the MQTT topic; `+` matches one level, `#` the rest (e.g. home/+/temp)

    Inlets:
        none

    Outlets:
        0: the message (the payload's JSON value, else its text); with a wildcard in the
           topic, {"topic": FULL_TOPIC, "message": …}

    Example:
        [mqtt-in sensors/+/temp] -> [print]
    """

    name = "mqtt-in"

    def __init__(self, topic: str) -> None:
        super().__init__(inlets=0, outlets=1)
        self.topic = topic
        self._bus: Any = None

    @classmethod
    def from_text(cls, args: str, body: str | None = None) -> MqttIn:
        return cls(_topic(args, "mqtt-in", wildcards=True))

    def start(self) -> None:
        bus = self.patch.bus  # raises, naming what to do, when the run has no bus
        bus.listen(self.topic, self, self.send)
        self._bus = bus

    def stop(self) -> None:
        if self._bus is not None:
            self._bus.unlisten(self.topic, self)
            self._bus = None


class MqttOut(Box):
    """Publish each message to a raw MQTT topic (outside the bus prefix), as JSON.

    Needs a bus: run with `--bus mqtt://HOST[:PORT][/PREFIX]`; without one the run stops
    with an error (exit 1). Quality of service is the bus URL's (`?qos=`, default 1).

    Arguments:
        topic: the MQTT topic (no wildcards)
        retain=1: the broker keeps the last message for late subscribers

    Inlets:
        0: any message, published to the topic

    Outlets:
        none

    Example:
        [loadbang] -> [msg {"on": true}] -> [mqtt-out lights/kitchen retain=1]
    """

    name = "mqtt-out"

    def __init__(self, topic: str, retain: bool = False) -> None:
        super().__init__(inlets=1, outlets=0)
        self.topic = topic
        self.retain = retain
        self._bus: Any = None

    @classmethod
    def from_text(cls, args: str, body: str | None = None) -> MqttOut:
        rest, retain = split_retain(args)
        return cls(_topic(rest, "mqtt-out", wildcards=False), retain)

    def start(self) -> None:
        self._bus = self.patch.bus  # raises, naming what to do, when the run has no bus

    def receive(self, inlet: int, message: Any) -> None:
        self._bus.publish(self.topic, message, self.retain)


BOXES = (MqttIn, MqttOut)
