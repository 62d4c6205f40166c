"""The bus's values: its URL (`mqtt[s]://…`) parsed and checked, and the payload codec.

Apart from bus.py so that the command line can check a `--bus URL`, and tests the codec,
without the client and its threads; nothing here imports paho.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import attrs

from .errors import PatchflowError

_WILDCARDS = frozenset("+#")


class BusError(PatchflowError, ValueError):
    """The bus URL is malformed, or the broker cannot be reached or refuses the connection."""


def redacted(url: str) -> str:
    """The URL without its password, for every message (storage's `redact`)."""
    from .storage.backends import redact

    return redact(url)


def encode_payload(message: Any) -> bytes:
    """A message as the JSON text of a payload (bytes and non-finite floats as dump markers)."""
    from .storage.tools.dump_values import encode_value

    return json.dumps(encode_value(message), ensure_ascii=False, allow_nan=False).encode()


def decode_payload(payload: bytes) -> Any:
    """A payload as a message: its JSON value, else its text, else (not UTF-8) its bytes."""
    from .storage.tools.dump_values import decode_value

    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError:
        return bytes(payload)
    try:
        return decode_value(json.loads(text))
    except ValueError:  # not JSON (JSONDecodeError), or a bad marker
        return text


def has_wildcard(topic: str) -> bool:
    return any(char in _WILDCARDS for char in topic)


@attrs.frozen
class BusURL:
    """`mqtt[s]://[USER[:PASSWORD]@]HOST[:PORT][/PREFIX][?qos=0|1|2]`, parsed."""

    url: str
    host: str
    port: int
    tls: bool
    username: str | None
    password: str | None
    prefix: str
    qos: int

    @classmethod
    def parse(cls, url: str) -> BusURL:
        shown = redacted(url)
        example = "e.g. mqtt://127.0.0.1:1883/studio"
        parts = urlsplit(url)
        if parts.scheme not in ("mqtt", "mqtts"):
            raise BusError(f"bus URL {shown!r} is not mqtt:// or mqtts://; {example}")
        try:
            port = parts.port or (8883 if parts.scheme == "mqtts" else 1883)
        except ValueError:
            raise BusError(f"bus URL {shown!r} has a bad port; {example}") from None
        if not parts.hostname:
            raise BusError(f"bus URL {shown!r} has no host; {example}")
        prefix = unquote(parts.path).strip("/")
        if has_wildcard(prefix) or "#" in url:  # urlsplit takes `#…` for a fragment
            raise BusError(f"bus URL {shown!r}: the prefix may not hold + or #; {example}")
        query = parse_qs(parts.query)
        unknown = sorted(set(query) - {"qos"})
        if unknown:
            raise BusError(f"bus URL {shown!r}: unknown parameter {unknown[0]!r}; only qos=")
        qos_text = query.get("qos", ["1"])[-1]
        if qos_text not in ("0", "1", "2"):
            raise BusError(f"bus URL {shown!r}: qos={qos_text} must be 0, 1 or 2")
        return cls(
            url=url,
            host=parts.hostname,
            port=port,
            tls=parts.scheme == "mqtts",
            username=unquote(parts.username) if parts.username is not None else None,
            password=unquote(parts.password) if parts.password is not None else None,
            prefix=prefix,
            qos=int(qos_text),
        )

    def topic(self, name: str) -> str:
        """The MQTT topic of a send/receive name: `PREFIX/NAME`."""
        return f"{self.prefix}/{name}" if self.prefix else name

    def name(self, topic: str) -> str:
        """The send name of a topic under the prefix (the topic itself when outside it)."""
        if self.prefix and topic.startswith(self.prefix + "/"):
            return topic[len(self.prefix) + 1 :]
        return topic
