"""Benchmarks of starting patchflow in a new process."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from harness import BenchFailed, Config, Result, benchmark, interleave


@benchmark(
    "startup_s",
    unit="s",
    baseline='python -c "import trio, lmdb, msgpack, attrs"',
    target="<= 2.0",
)
def bench_startup(cfg: Config, tmp: str, result: Result) -> Result:
    """Wall time of `python -m patchflow run ONE_LINE.patch --data-dir :memory:` in a new
    process vs `python -c "import trio, lmdb, msgpack, attrs"`.

    Both start with bytecode caches (a private PYTHONPYCACHEPREFIX, filled by the warm-up), as
    an installed package does; without that, PYTHONDONTWRITEBYTECODE=1 would make only
    patchflow compile its modules.
    """
    patch_file = os.path.join(tmp, "startup.patch")
    with open(patch_file, "w", encoding="utf-8") as f:
        f.write("[loadbang] -> [print]\n")
    patchflow_cmd = [sys.executable, "-m", "patchflow", "run", patch_file, "--data-dir", ":memory:"]
    baseline_cmd = [sys.executable, "-c", "import trio, lmdb, msgpack, attrs"]
    # Both sides start with bytecode caches, as an installed package does: an editable install
    # under PYTHONDONTWRITEBYTECODE=1 would otherwise compile patchflow's modules from source on
    # every start while trio & co. load their .pyc. The warm-up runs fill the cache.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = os.path.join(tmp, "pycache")

    def timed(cmd: list[str]) -> float:
        start = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False, env=env)
        elapsed = time.perf_counter() - start
        if proc.returncode != 0:
            last = (proc.stderr.strip().splitlines() or ["(no output)"])[-1]
            what = "patchflow run" if cmd is patchflow_cmd else "the baseline"
            raise BenchFailed(f"{what} exited {proc.returncode}: {last}")
        return elapsed

    return interleave(result, cfg.rounds, lambda: timed(patchflow_cmd), lambda: timed(baseline_cmd))
