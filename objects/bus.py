"""The patch's named bus: `[send name]` delivers to every `[receive name]` (Pd's wireless)."""

from __future__ import annotations

from typing import Any

from patchflow import ArgumentError, Box, MessageError


def split_retain(args: str) -> tuple[str, bool]:
    """Take a trailing `retain=1`/`retain=0` off `args` (`[send]`, `[mqtt-out]`): (rest, flag)."""
    words = args.split()
    retain = False
    if words and words[-1].startswith("retain="):
        if words[-1] not in ("retain=0", "retain=1"):
            raise ArgumentError(f"{words[-1]}: expected retain=1 or retain=0")
        retain = words.pop() == "retain=1"
    return " ".join(words), retain


def _channel(args: str, name: str) -> str | None:
    words = args.split()
    if len(words) > 1:
        raise ArgumentError(f"takes one name, got {len(words)} words; e.g. [{name} counter]")
    return words[0] if words else None


def _new_channel(box: Box, inlet: int, message: Any) -> str:
    if not isinstance(message, str) or not message.strip():
        raise box.reject(inlet, message, "a name (a non-empty string)")
    return message


class Send(Box):
    """Send each message to every `[receive NAME]` in the patch, in their file order.

    The receivers' cascades complete (depth-first) before the next message is taken. A name
    nobody receives is not an error. Without a name argument the box has a right inlet that
    sets the name (as Pd's `[send]`). Run with a bus (`--bus mqtt://HOST/PREFIX`), each
    message is also published to the MQTT topic `PREFIX/NAME`, for other processes
    (docs/bus.md).

    Arguments:
        name: the name to send to (optional: otherwise set it through inlet 1)
        retain=1: with a bus, the broker keeps the last message for late subscribers

    Inlets:
        0: any message, sent to the receivers of the name
        1: (only without a name argument) a string: the name to send to from now on

    Outlets:
        none

    Example:
        [loadbang] -> [msg hello] -> [s greeting]
        [r greeting] -> [print]
    """

    name = "send"
    aliases = ("s",)

    def __init__(self, channel: str | None = None, retain: bool = False) -> None:
        super().__init__(inlets=1 if channel else 2, outlets=0)
        self.channel = channel
        self.retain = retain

    @classmethod
    def from_text(cls, args: str, body: str | None = None) -> Send:
        rest, retain = split_retain(args)
        return cls(_channel(rest, "s"), retain)

    def receive(self, inlet: int, message: Any) -> None:
        if inlet == 1:
            self.channel = _new_channel(self, inlet, message)
        elif self.channel is None:
            raise MessageError("no name to send to yet: send a name to inlet 1 first")
        else:
            self.patch.publish(self.channel, message, retain=self.retain)


class Receive(Box):
    """Send on whatever `[send NAME]` boxes send to its name.

    Receivers of one name get each message in subscription order: the order of the
    `[receive]` boxes in the file (a box renamed through its inlet moves to the end).
    Without a name argument the box has an inlet that sets the name (as Pd's `[receive]`).

    Arguments:
        name: the name to receive (optional: otherwise set it through inlet 0)

    Inlets:
        0: (only without a name argument) a string: the name to receive from now on

    Outlets:
        0: every message sent to the name

    Example:
        [r greeting] -> [print]
        [loadbang] -> [msg hello] -> [s greeting]
    """

    name = "receive"
    aliases = ("r",)

    def __init__(self, channel: str | None = None) -> None:
        super().__init__(inlets=0 if channel else 1, outlets=1)
        self.channel = channel
        self._subscribed: str | None = None

    @classmethod
    def from_text(cls, args: str, body: str | None = None) -> Receive:
        return cls(_channel(args, "r"))

    def start(self) -> None:
        self._subscribe()

    def stop(self) -> None:
        if self._subscribed is not None:
            self.patch.unsubscribe(self._subscribed, self)
            self._subscribed = None

    def _subscribe(self) -> None:
        if self.channel is not None:
            # what is sent to the name goes straight out of the outlet (inlet 0 sets the name)
            self.patch.subscribe(self.channel, self, self.send)
            self._subscribed = self.channel

    def receive(self, inlet: int, message: Any) -> None:
        channel = _new_channel(self, inlet, message)
        self.stop()
        self.channel = channel
        self._subscribe()


BOXES = (Send, Receive)
