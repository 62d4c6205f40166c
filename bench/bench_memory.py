"""Benchmarks of memory use: what a long run of messages leaves behind."""

from __future__ import annotations

import gc
import sys

import trio
from bench_delivery import chain_patch_text, chain_session
from harness import Config, Result, Size, benchmark

from patchflow import Patch

RSS_FIRST = Size(full=100_000, quick=20_000)  # messages before the first reading
RSS_TOTAL = Size(full=1_000_000, quick=200_000)  # messages before the second reading


def rss_mib() -> float:
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource  # peak, not current: a fallback for systems without /proc

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1 << 20) if sys.platform == "darwin" else peak / 1024


@benchmark("rss_growth_mib", unit="MiB", baseline="—", target="<= 10")
def bench_rss(cfg: Config, tmp: str, result: Result) -> Result:
    """VmRSS after 1,000,000 messages minus VmRSS after 100,000 (quick: 200,000 and 20,000)
    through the chain10 patch, one `send` each, `gc.collect()` before each reading.

    The sink's list is checked and emptied every CHUNK messages, so it is not what grows.
    There is no baseline: the target is on the value.
    """
    patch = Patch.from_string(chain_patch_text())
    first, total = cfg.size(RSS_FIRST), cfg.size(RSS_TOTAL)
    readings: list[float] = []

    def probe() -> None:
        gc.collect()
        readings.append(rss_mib())

    rate, _ = trio.run(chain_session, patch, [first, total - first], probe)
    result.value = readings[1] - readings[0]
    result.rounds = 1
    result.extra = {
        "rss_at_first_mib": round(readings[0], 2),
        "rss_at_total_mib": round(readings[1], 2),
        "messages": [first, total],
        "msgs_per_s": round(rate),
    }
    return result
