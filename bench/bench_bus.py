"""Benchmarks of the bus: `[send]`/`[receive]` across processes over MQTT (docs/bus.md).

Needs an MQTT broker on 127.0.0.1:1883 (Mosquitto); without one the benchmark is reported as
unavailable rather than stopping the run.
"""

from __future__ import annotations

import os
import socket
import statistics
import subprocess
import sys
import threading
import time
import uuid

from harness import BenchFailed, Config, Result, Size, Unavailable, benchmark, interleave

HOST, PORT = "127.0.0.1", 1883
TRIPS = Size(full=200, quick=5)

# The baseline's echo: a raw paho client that answers each ping with a pong, as the patch does.
RAW_ECHO = """
import sys, paho.mqtt.client as mqtt
host, port, prefix = sys.argv[1], int(sys.argv[2]), sys.argv[3]
c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
c.on_message = lambda cl, u, m: cl.publish(prefix + "/pong", m.payload, qos=1)
def ready(cl, u, f, rc, p):
    cl.subscribe(prefix + "/ping", qos=1)
c.on_connect = ready
c.on_subscribe = lambda *a: print("ready", flush=True)
c.connect(host, port)
c.loop_forever()
"""


class Driver:
    """The timing side: a paho client that publishes a ping and waits for its pong."""

    def __init__(self, prefix: str) -> None:
        import paho.mqtt.client as mqtt

        self.prefix = prefix
        self.got = threading.Event()
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
        client.on_message = lambda cl, u, m: self.got.set()
        client.connect(HOST, PORT)
        client.loop_start()
        subscribed = threading.Event()
        client.on_subscribe = lambda *a: subscribed.set()
        client.subscribe(f"{prefix}/pong", qos=1)
        if not subscribed.wait(5):
            raise BenchFailed("the broker did not acknowledge the driver's subscription")
        self.client = client

    def p50_ms(self, trips: int) -> float:
        times = []
        for n in range(trips):
            self.got.clear()
            start = time.perf_counter()
            self.client.publish(f"{self.prefix}/ping", str(n), qos=1)
            if not self.got.wait(5):
                raise BenchFailed(f"no pong within 5 s on {self.prefix}/pong")
            times.append((time.perf_counter() - start) * 1000)
        return statistics.median(times)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def _start(cmd: list[str], ready: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = proc.stdout.readline().strip() if proc.stdout else ""
    if ready not in line:
        proc.kill()
        raise BenchFailed(f"{cmd[2]} did not start: {proc.communicate()[1][-300:]}")
    return proc


@benchmark(
    "bus_roundtrip_ms",
    unit="ms",
    baseline="the same ping → pong through a raw paho echo process",
    target="<= 2.0",
)
def bench_bus_roundtrip(cfg: Config, tmp: str, result: Result) -> Result:
    """Median (p50) milliseconds of a ping from this process, through a `patchflow run --bus`
    process whose patch is `[r ping] -> [s pong]`, back to this process; vs the same round trip
    through a raw paho client that answers each ping (QoS 1 on both sides, same broker).

    Both echo processes are started (and subscribed) before timing; the driver is one paho
    client in this process, so the difference is what patchflow adds to one hop.
    """
    try:
        socket.create_connection((HOST, PORT), timeout=2).close()
        import paho.mqtt.client  # noqa: F401
    except (OSError, ImportError) as exc:
        raise Unavailable(f"no MQTT broker on {HOST}:{PORT} ({exc})") from None
    flow, raw = f"pfbench-{uuid.uuid4().hex[:8]}", f"pfbench-raw-{uuid.uuid4().hex[:8]}"
    patch = os.path.join(tmp, "echo.patch")
    with open(patch, "w", encoding="utf-8") as f:
        f.write("[r ping] -> [s pong]\n[loadbang] -> [msg 1] -> [print ready]\n")
    bus = f"mqtt://{HOST}:{PORT}/{flow}"
    procs = [
        _start([sys.executable, "-m", "patchflow", "run", patch, "--bus", bus], "ready"),
        _start([sys.executable, "-c", RAW_ECHO, HOST, str(PORT), raw], "ready"),
    ]
    drivers = [Driver(flow), Driver(raw)]
    trips = cfg.size(TRIPS)
    try:
        return interleave(
            result,
            cfg.rounds,
            lambda: drivers[0].p50_ms(trips),
            lambda: drivers[1].p50_ms(trips),
        )
    finally:
        for driver in drivers:
            driver.close()
        for proc in procs:
            proc.terminate()
            proc.communicate(timeout=10)
