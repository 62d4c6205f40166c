"""Time each benchmark against its baseline, interleaved in one process; judge the ratio.

**Method.** For each benchmark the patchflow side (A) and its baseline (B) run in the same
process, alternately: one untimed warm-up of each, then A B A B … for `--rounds` rounds
(default 9, and 15 shorter rounds for the durable-write benchmarks, whose fsync times swing
with other disk traffic; 5 with --quick; never fewer than 5). Each side's median is reported
with its min–max; `ratio` is median(A) / median(B) — for throughputs higher is better, for
`startup_s` lower is better. Setup (building patches, filling stores, opening storage) is never
timed. Every reply is checked after the timed loop, so a benchmark that stops working fails
loudly.

**Honest baselines.** The same data, the same number of operations, the same durability:
durable LMDB writes on both sides use `sync=True, metasync=True` (as patchflow's
`storage/lmdb_env.py` opens its environments), in temporary directories on one filesystem.
What each benchmark and its baseline do is in the docstring of its function, in the
`bench_GROUP.py` module that declares it.

A benchmark whose patchflow side is not implemented yet (NotImplementedError, as `[db]` was
before the db issue landed) is reported as "unavailable: <reason>" instead of stopping the run.

This module knows no particular benchmark: a group module declares each of its benchmarks with
`@benchmark(...)`, and `run.py` collects the declarations from the group modules it lists.
"""

from __future__ import annotations

import gc
import os
import platform
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

# ---- configuration ------------------------------------------------------------------------

ROUNDS = {"full": (9, 15), "quick": (5, 5)}  # (rounds, durable-write rounds) per mode
MIN_ROUNDS = 5

#: Messages between (untimed) checks of what came back, which is then dropped. Results held
#: for checking are walked by every garbage collection: 50,000 retained values made the
#: py-lmdb get loop 2.4× slower, so neither side may keep more than this.
CHUNK = 1_000


@dataclass(frozen=True)
class Size:
    """An operation count, smaller for --quick: the quick run only keeps the code from rotting."""

    full: int
    quick: int


@dataclass(frozen=True)
class Config:
    rounds: int
    durable_rounds: int  # more, shorter rounds: fsync times swing with other disk traffic
    quick: bool
    tmp: str

    def size(self, size: Size) -> int:
        """The count for this run's mode."""
        return size.quick if self.quick else size.full


def make_config(quick: bool, rounds: int | None, tmp: str) -> Config:
    """The settings of a full or quick run; `rounds` (at least MIN_ROUNDS) overrides both."""
    normal, durable = ROUNDS["quick" if quick else "full"]
    if rounds is not None:
        normal = durable = rounds
    return Config(rounds=normal, durable_rounds=durable, quick=quick, tmp=tmp)


# ---- results ------------------------------------------------------------------------------


class Unavailable(Exception):
    """The patchflow side cannot run yet (not implemented)."""


class BenchFailed(Exception):
    """The patchflow side ran but did not do the work (errors, wrong replies)."""


Rate = tuple[float, float | None]  # (per wall-clock second, per CPU second of this process)


class Stopwatch:
    """Wall-clock time and this process's CPU time, summed over `with` blocks.

    The CPU figure leaves out time the process spent descheduled, so on a busy machine the
    CPU ratio of an in-process benchmark is steadier than the wall-clock one; the targets are
    judged on wall-clock time.
    """

    def __init__(self) -> None:
        self.wall = self.cpu = 0.0

    def __enter__(self) -> Stopwatch:
        self._wall, self._cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.wall += time.perf_counter() - self._wall
        self.cpu += time.process_time() - self._cpu

    def rates(self, n: int) -> Rate:
        return n / self.wall, (n / self.cpu if self.cpu > 0 else None)


@dataclass
class Result:
    name: str
    unit: str
    baseline: str
    target: str  # e.g. ">= 0.25" (on the ratio) or "<= 10" (on the value)
    value: float | None = None
    value_range: tuple[float, float] | None = None
    baseline_value: float | None = None
    baseline_range: tuple[float, float] | None = None
    cpu_value: float | None = None  # medians of the CPU-time rates, for in-process benchmarks
    cpu_baseline_value: float | None = None
    rounds: int = 0
    status: str = "ok"
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ratio(self) -> float | None:
        if self.value is None or not self.baseline_value:
            return None
        return self.value / self.baseline_value

    @property
    def cpu_ratio(self) -> float | None:
        if self.cpu_value is None or not self.cpu_baseline_value:
            return None
        return self.cpu_value / self.cpu_baseline_value

    @property
    def met(self) -> bool | None:
        if self.status != "ok":
            return None
        op, limit = self.target.split()
        subject = self.value if self.baseline_value is None else self.ratio
        if subject is None:
            return None
        return subject >= float(limit) if op == ">=" else subject <= float(limit)

    def as_json(self) -> dict[str, Any]:
        ratio = self.ratio
        return {
            "name": self.name,
            "value": self.value,
            "unit": self.unit,
            "baseline": self.baseline,
            "baseline_value": self.baseline_value,
            "ratio": None if ratio is None else round(ratio, 4),
            "min": None if self.value_range is None else self.value_range[0],
            "max": None if self.value_range is None else self.value_range[1],
            "baseline_min": None if self.baseline_range is None else self.baseline_range[0],
            "baseline_max": None if self.baseline_range is None else self.baseline_range[1],
            "cpu_value": self.cpu_value,
            "cpu_baseline_value": self.cpu_baseline_value,
            "cpu_ratio": None if self.cpu_ratio is None else round(self.cpu_ratio, 4),
            "rounds": self.rounds,
            "target": self.target,
            "met": self.met,
            "status": self.status,
            **self.extra,
        }


# ---- declaring benchmarks -----------------------------------------------------------------

BenchFn = Callable[[Config, str, Result], Result]


@dataclass(frozen=True)
class Bench:
    """One benchmark: its name, group, unit, baseline, target and the function that runs it."""

    name: str
    group: str  # the declaring module's name without "bench_"
    unit: str
    baseline: str
    target: str  # ">= R" / "<= R" on the ratio, or on the value when there is no baseline
    run: BenchFn


def benchmark(name: str, *, unit: str, baseline: str, target: str) -> Callable[[BenchFn], Bench]:
    """Declare the decorated function `run(cfg, tmp, result) -> result` a benchmark.

    The function fills `result` (usually through `interleave`) working in the private
    directory `tmp`; it raises Unavailable or BenchFailed when it cannot do its work.
    """
    op, _, limit = target.partition(" ")
    try:
        float(limit)
    except ValueError:
        limit = ""
    if op not in (">=", "<=") or not limit:
        raise ValueError(f"benchmark {name!r}: target {target!r} is not '>= NUMBER' or '<= NUMBER'")

    def declare(run: BenchFn) -> Bench:
        group = run.__module__.rpartition(".")[2].removeprefix("bench_")
        return Bench(name, group, unit, baseline, target, run)

    return declare


def declared_in(module: ModuleType) -> list[Bench]:
    """The benchmarks `module` declares (not those it imports), in the order it declares them."""
    return [
        value
        for value in vars(module).values()
        if isinstance(value, Bench) and value.run.__module__ == module.__name__
    ]


# ---- timing -------------------------------------------------------------------------------


def interleave(
    result: Result, rounds: int, a: Callable[[], Rate | float], b: Callable[[], Rate | float]
) -> Result:
    """Run a (patchflow) and b (baseline) alternately: a warm-up of each, then A B × rounds.

    Each returns its rate, or (wall-clock rate, CPU-time rate). What setup built (messages,
    expected replies, TinyDB's table) is moved out of the garbage collector's sight first
    (`gc.freeze`): otherwise every collection either side triggers would walk it, a cost that
    belongs to neither.
    """
    gc.collect()
    gc.freeze()
    try:
        a()
        b()
        values: list[Rate] = []
        baselines: list[Rate] = []
        for _ in range(rounds):
            values.append(_rate(a()))
            baselines.append(_rate(b()))
    finally:
        gc.unfreeze()
    walls = [wall for wall, _ in values]
    base_walls = [wall for wall, _ in baselines]
    result.value = statistics.median(walls)
    result.value_range = (min(walls), max(walls))
    result.baseline_value = statistics.median(base_walls)
    result.baseline_range = (min(base_walls), max(base_walls))
    if all(cpu for _, cpu in values + baselines):
        result.cpu_value = statistics.median(cpu for _, cpu in values)
        result.cpu_baseline_value = statistics.median(cpu for _, cpu in baselines)
    result.rounds = rounds
    return result


def _rate(measured: Rate | float) -> Rate:
    return measured if isinstance(measured, tuple) else (measured, None)


def check_errors(errors: list[str]) -> None:
    """Raise for the runtime errors a patch reported: Unavailable if not implemented yet."""
    if errors:
        text = errors[0]
        if "NotImplementedError" in text:
            raise Unavailable(text.split("NotImplementedError:", 1)[-1].strip() or text)
        raise BenchFailed(f"{len(errors)} runtime error(s), first: {text}")


def run_one(bench: Bench, cfg: Config) -> Result:
    """Run one benchmark in its own temporary directory; never raise for a benchmark that
    cannot run (unavailable) or that does not do its work (FAILED)."""
    result = Result(bench.name, bench.unit, bench.baseline, bench.target)
    started = time.perf_counter()
    tmp = tempfile.mkdtemp(prefix=f"{bench.name}-", dir=cfg.tmp)
    try:
        try:
            bench.run(cfg, tmp, result)
        except BaseExceptionGroup as group:  # from inside a trio nursery: raise the cause
            raise _leaf(group) from group
    except (Unavailable, NotImplementedError) as exc:
        result = Result(bench.name, bench.unit, bench.baseline, bench.target)
        result.status = f"unavailable: {exc or 'not implemented'}"
    except BenchFailed as exc:
        result = Result(bench.name, bench.unit, bench.baseline, bench.target)
        result.status = f"FAILED: {exc}"
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    result.extra["seconds"] = round(time.perf_counter() - started, 2)
    return result


def _leaf(group: BaseExceptionGroup) -> BaseException:
    """The first of our own exceptions in a (nested) group, else the group itself."""
    for exc in group.exceptions:
        if isinstance(exc, BaseExceptionGroup):
            exc = _leaf(exc)
        if isinstance(exc, Unavailable | BenchFailed | NotImplementedError):
            return exc
    return group


# ---- the machine --------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    versions = {}
    for module in ("trio", "lmdb", "msgpack", "tinydb"):
        try:
            from importlib.metadata import version

            versions[module] = version(module)
        except Exception:
            versions[module] = "?"
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "packages": versions,
    }


def revision() -> str:
    """The checked-out commit, with "+changes" if the working tree differs (read-only git)."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    try:
        head = subprocess.run(
            ["git", "-C", root, "rev-parse", "--short", "HEAD"], capture_output=True, text=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", root, "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
        ).stdout.strip()
    except OSError:
        return "?"
    return (head or "?") + ("+changes" if dirty else "")


def filesystem(path: str) -> str:
    """The type of the filesystem `path` is on (durable writes time its fsync)."""
    try:
        with open("/proc/mounts", encoding="utf-8") as f:
            mounts = [line.split()[:3] for line in f]
    except OSError:
        return "?"
    real = os.path.realpath(path)
    best = ("", "?")
    for _dev, point, kind in mounts:
        if (real == point or real.startswith(point.rstrip("/") + "/")) and len(point) > len(
            best[0]
        ):
            best = (point, kind)
    return best[1]
