"""The bus over MQTT (docs/bus.md): `patchflow run --bus URL` processes, and outside clients.

Needs the Mosquitto broker on 127.0.0.1:1883 and its `mosquitto_pub`/`mosquitto_sub`; skipped
without them, except in CI (CI=true), where a missing broker fails loudly. Each test uses a
topic prefix of its own, so runs never see each other's messages (or retained ones).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from patchflow import Patch

HOST, PORT = "127.0.0.1", 1883
pytestmark = pytest.mark.slow


def _broker_missing() -> str | None:
    if not (shutil.which("mosquitto_pub") and shutil.which("mosquitto_sub")):
        return "mosquitto_pub/mosquitto_sub are not installed"
    try:
        socket.create_connection((HOST, PORT), timeout=2).close()
    except OSError as exc:
        return f"no MQTT broker on {HOST}:{PORT} ({exc})"
    return None


@pytest.fixture
def prefix() -> str:
    missing = _broker_missing()
    if missing:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI needs Mosquitto: {missing}; start it with `mosquitto -d`")
        pytest.skip(missing)
    return f"pftest-{uuid.uuid4().hex[:10]}"


def _patch(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / f"{name}.patch"
    path.write_text(text, encoding="utf-8")
    return str(path)


def _run(*args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "patchflow", "run", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


class Receiver:
    """A `patchflow run --bus` process printing what it receives; ready once subscribed."""

    def __init__(self, path: str, bus: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "patchflow", "run", path, "--bus", bus, "--timeout", "30"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        # loadbangs fire once the broker acknowledged the subscriptions (runtime.py)
        assert self.line() == "ready: 7"

    def line(self) -> str:
        text = self.proc.stdout.readline()
        if not text:
            self.proc.wait(5)
            raise AssertionError(f"receiver ended: {self.proc.stderr.read()}")
        return text.rstrip("\n")

    def stop(self) -> str:
        self.proc.send_signal(signal.SIGTERM)
        _, err = self.proc.communicate(timeout=15)
        return err


READY = "[loadbang] -> [msg 7] -> [print ready]\n"


def test_two_processes_exchange_a_message_through_send_and_receive(tmp_path, prefix):
    bus = f"mqtt://{HOST}:{PORT}/{prefix}"
    receiver = Receiver(_patch(tmp_path, "r", "[r cue] -> [print got]\n" + READY), bus)
    try:
        sent = _run(
            _patch(tmp_path, "s", '[loadbang] -> [msg {"n": 1}] -> [s cue]\n'), "--bus", bus
        )
        assert sent.returncode == 0, sent.stderr
        assert receiver.line() == 'got: {"n": 1}'
    finally:
        receiver.stop()


def test_outside_clients_payloads_wildcards_and_raw_topics(tmp_path, prefix):
    bus = f"mqtt://{HOST}/{prefix}"
    text = (
        "[r room/+] -> [print room]\n"
        "[r plain] -> [print plain]\n"
        f"[mqtt-in {prefix}-raw/#] -> [print raw]\n" + READY
    )
    receiver = Receiver(_patch(tmp_path, "r", text), bus)
    try:
        for topic, payload in (
            (f"{prefix}/room/kitchen", '{"t": 21.5}'),
            (f"{prefix}/plain", "not json"),
            (f"{prefix}/plain", '{"$bytes": "aGk="}'),
            (f"{prefix}-raw/a/b", "[1, 2]"),
        ):
            subprocess.run(["mosquitto_pub", "-q", "1", "-t", topic, "-m", payload], check=True)
            got = receiver.line()
            if topic.endswith("kitchen"):
                assert got == 'room: {"topic": "room/kitchen", "message": {"t": 21.5}}'
            elif payload == "not json":
                assert got == 'plain: "not json"'  # a string
            elif topic.endswith("plain"):
                assert got == 'plain: "<2 bytes>"'  # bytes b"hi"
            else:
                assert got == f'raw: {{"topic": "{prefix}-raw/a/b", "message": [1, 2]}}'
    finally:
        receiver.stop()


def test_retained_send_and_mqtt_out_reach_a_late_outside_subscriber(tmp_path, prefix):
    text = (
        '[loadbang] -> [msg {"on": true}] -> [s light retain=1]\n'
        f"[loadbang] -> [msg 42] -> [mqtt-out {prefix}-raw/x retain=1]\n"
    )
    path = _patch(tmp_path, "s", text)
    sent = _run(path, "--bus", f"mqtt://{HOST}/{prefix}?qos=1")
    assert sent.returncode == 0, sent.stderr
    try:
        for topic, expected in ((f"{prefix}/light", '{"on":true}'), (f"{prefix}-raw/x", "42")):
            seen = subprocess.run(
                ["mosquitto_sub", "-t", topic, "-C", "1", "-W", "5"],
                capture_output=True,
                text=True,
                check=True,
            )
            assert seen.stdout.replace(" ", "").strip() == expected
    finally:
        for topic in (f"{prefix}/light", f"{prefix}-raw/x"):  # clear the retained messages
            subprocess.run(["mosquitto_pub", "-t", topic, "-r", "-n"], check=True)


def test_a_process_does_not_receive_its_own_publications_back(tmp_path, prefix):
    text = "[r x] -> [print got]\n[loadbang] -> [msg 1] -> [s x]\n"
    done = _run(_patch(tmp_path, "e", text), "--bus", f"mqtt://{HOST}/{prefix}", "--timeout", "1")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["got: 1"]  # the local delivery only, no echo


def test_an_unreachable_broker_is_exit_1_naming_the_url_without_its_password(tmp_path):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind((HOST, 0))
        port = probe.getsockname()[1]
    path = _patch(tmp_path, "p", "[r x] -> [print]\n")
    done = _run(path, "--bus", f"mqtt://bob:s3cret@{HOST}:{port}/studio")
    assert done.returncode == 1
    assert f"mqtt://bob@{HOST}:{port}/studio" in done.stderr
    assert "s3cret" not in done.stderr


def test_mqtt_objects_without_a_bus_stop_the_run_saying_what_to_do(tmp_path):
    done = _run(_patch(tmp_path, "p", "[mqtt-in a/b] -> [print]\n"))
    assert done.returncode == 1
    assert "p.patch:1" in done.stderr and "--bus mqtt://" in done.stderr


def test_a_malformed_bus_url_is_a_usage_error(tmp_path):
    done = _run(_patch(tmp_path, "p", "[r x] -> [print]\n"), "--bus", "mqtt://h/x?qos=5")
    assert done.returncode == 2
    assert "qos=5 must be 0, 1 or 2" in done.stderr


def test_bus_urls_parse_into_host_port_prefix_and_qos():
    from patchflow.bus import BusURL

    url = BusURL.parse("mqtt://bob:pw@broker:1884/studio/a?qos=2")
    assert (url.host, url.port, url.username, url.password) == ("broker", 1884, "bob", "pw")
    assert (url.prefix, url.qos, url.topic("cue")) == ("studio/a", 2, "studio/a/cue")
    assert BusURL.parse("mqtts://h").port == 8883
    with pytest.raises(ValueError, match=r"'mqtt://bob@h/#'.*prefix may not hold"):
        BusURL.parse("mqtt://bob:pw@h/#")


def test_payloads_are_json_with_bytes_markers_and_text_otherwise():
    from patchflow.bus import decode_payload, encode_payload

    assert encode_payload({"b": b"hi"}) == b'{"b": {"$bytes": "aGk="}}'
    assert decode_payload(b'{"b": {"$bytes": "aGk="}}') == {"b": b"hi"}
    assert decode_payload(b"not json") == "not json"
    assert decode_payload(b"\xff\xfe") == b"\xff\xfe"


def test_send_takes_retain_1_and_rejects_other_values():
    from patchflow import PatchError

    Patch.from_string("[loadbang] -> [s x retain=1]\n")
    with pytest.raises(PatchError, match="retain=1 or retain=0"):
        Patch.from_string("[loadbang] -> [s x retain=yes]\n")
