"""patchflow benchmarks: each benchmark and its baseline, interleaved in one process run.

How to run (from the repository root, with the project installed in .venv):

    .venv/bin/python bench/run.py                  # full run: a few minutes
    .venv/bin/python bench/run.py --quick          # fewer operations: well under a minute
    .venv/bin/python bench/run.py --json out.json  # also write the results as JSON
    .venv/bin/python bench/run.py kv_get_ops_per_s startup_s --rounds 9   # only these
    .venv/bin/python bench/run.py kv               # only one group's benchmarks
    .venv/bin/python bench/run.py --list           # the benchmarks, by group

`make bench` runs the full suite; `.ci/run` runs `--quick` once so that the benchmarks cannot
rot. Nothing asserts anything about speed, here or in the test suite; the exit status is 1 only
when a benchmark FAILED (errors, wrong or missing replies). Record full runs in
bench/RESULTS.md (machine, date, table). Run on a quiet machine: durable writes time fsync,
which other processes' disk traffic slows by an order of magnitude.

The files:

    run.py            this entry point: arguments, selection, the table, --json
    harness.py        the method (interleaved A/B rounds, medians, ratio against target),
                      declaring benchmarks, machine information
    stores.py         helpers shared by the storage groups: command sessions, prefill, py-lmdb
    bench_GROUP.py    one module per group in GROUPS, each declaring its benchmarks

To add a benchmark, write its function in its group's module and declare it there with
`@benchmark(name, unit=…, baseline=…, target=…)`; its docstring says what it and its baseline
measure. A new group is a new `bench_GROUP.py` plus its name in GROUPS below.
"""

from __future__ import annotations

import argparse
import importlib
import json
import shutil
import sys
import tempfile
import time

from harness import (
    MIN_ROUNDS,
    Bench,
    Result,
    declared_in,
    filesystem,
    machine,
    make_config,
    revision,
    run_one,
)

#: The group modules (`bench_NAME.py`), in the order their benchmarks run and are tabled.
GROUPS = (
    "delivery",
    "patches",
    "kv",
    "db",
    "indexes",
    "durability",
    "startup",
    "memory",
    "timing",
    "storage2",
    "postgres",
    "redis",
    "bus",
    "watch",
)


def all_benches() -> list[Bench]:
    """Every declared benchmark, group by group; a name declared twice is an error."""
    benches: list[Bench] = []
    for group in GROUPS:
        benches += declared_in(importlib.import_module(f"bench_{group}"))
    seen: set[str] = set()
    for bench in benches:
        if bench.name in seen:
            raise SystemExit(f"bench: benchmark {bench.name!r} is declared twice; rename one")
        seen.add(bench.name)
    return benches


def select(benches: list[Bench], wanted: list[str]) -> list[Bench] | str:
    """The benchmarks named, or of the groups named, in run order (all if none are named);
    or the error message when a name is neither a benchmark nor a group."""
    if not wanted:
        return benches
    known = {bench.name for bench in benches} | {bench.group for bench in benches}
    unknown = [name for name in wanted if name not in known]
    if unknown:
        names = ", ".join(sorted({bench.name for bench in benches}))
        return (
            f"unknown benchmark {unknown[0]!r}; choose from {names} or a group: {', '.join(GROUPS)}"
        )
    return [bench for bench in benches if bench.name in wanted or bench.group in wanted]


def _fmt(value: float | None) -> str:
    if value is None:
        return "—"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 1:
        return f"{value:.2f}"
    return f"{value:.3f}"


def _fmt_range(value: float | None, span: tuple[float, float] | None) -> str:
    if value is None:
        return "—"
    if span is None:
        return _fmt(value)
    return f"{_fmt(value)} ({_fmt(span[0])}–{_fmt(span[1])})"


def table(results: list[Result]) -> str:
    """The results as a Markdown table (what bench/RESULTS.md records)."""
    header = [
        "name",
        "value (min–max)",
        "unit",
        "baseline (min–max)",
        "ratio",
        "CPU ratio",
        "target",
        "met",
    ]
    rows = []
    for r in results:
        target = r.target.replace(">=", "≥").replace("<=", "≤")
        if r.status != "ok":
            status = r.status if len(r.status) <= 90 else r.status[:89] + "…"
            rows.append([r.name, status, r.unit, "", "", "", target, "—"])
            continue
        ratio, cpu_ratio = r.ratio, r.cpu_ratio
        rows.append(
            [
                r.name,
                _fmt_range(r.value, r.value_range),
                r.unit,
                _fmt_range(r.baseline_value, r.baseline_range),
                "—" if ratio is None else f"{ratio:.3f}",
                "—" if cpu_ratio is None else f"{cpu_ratio:.3f}",
                target + (" (value)" if r.baseline_value is None else ""),
                "yes" if r.met else "NO",
            ]
        )
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    lines = ["| " + " | ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)) + " |"]
    lines.append("| " + " | ".join("-" * w for w in widths) + " |")
    for row in rows:
        lines.append(
            "| " + " | ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)) + " |"
        )
    return "\n".join(lines)


def listing(benches: list[Bench]) -> str:
    """One line per benchmark: group, name, target, baseline."""
    width = max(len(bench.name) for bench in benches)
    return "\n".join(
        f"{bench.group:<9} {bench.name:<{width}}  {bench.target:<7}  {bench.baseline}"
        for bench in benches
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "names",
        nargs="*",
        metavar="NAME",
        help="run only these benchmarks, or the benchmarks of these groups (default: all)",
    )
    parser.add_argument("--quick", action="store_true", help="fewer operations (CI smoke run)")
    parser.add_argument("--json", metavar="FILE", help="write the results as JSON to FILE")
    parser.add_argument(
        "--rounds",
        type=int,
        help=f"A/B rounds of every benchmark, at least {MIN_ROUNDS} (default: 9, and 15 shorter"
        " ones for durable writes; 5 with --quick)",
    )
    parser.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="NAME",
        help="run only this benchmark or group (repeatable; the same as naming it)",
    )
    parser.add_argument(
        "--list", action="store_true", help="list the benchmarks by group, and run none"
    )
    parser.add_argument(
        "--tmp", metavar="DIR", help="where durable data goes (default: the system temp dir)"
    )
    args = parser.parse_args(argv)
    if args.rounds is not None and args.rounds < MIN_ROUNDS:
        parser.error(f"--rounds must be at least {MIN_ROUNDS}")
    chosen = select(all_benches(), [*args.names, *args.only])
    if isinstance(chosen, str):
        parser.error(chosen)
    if args.list:
        print(listing(chosen))
        return 0

    tmp = tempfile.mkdtemp(prefix="patchflow-bench-", dir=args.tmp)
    cfg = make_config(args.quick, args.rounds, tmp)
    info = machine()
    info["data_filesystem"] = filesystem(tmp)
    info["revision"] = revision()
    print(
        f"patchflow bench ({'quick' if args.quick else 'full'}, {cfg.rounds} rounds):"
        f" patchflow {info['revision']}, {info['cpu']}, {info['nproc']} CPUs,"
        f" Python {info['python']},"
        f" data in {tmp} ({info['data_filesystem']})",
        flush=True,
    )
    results = []
    try:
        for bench in chosen:
            print(f"  {bench.name} …", end="", flush=True)
            result = run_one(bench, cfg)
            status = "" if result.status == "ok" else f" {result.status}"
            print(f" {result.extra['seconds']:.1f} s{status}", flush=True)
            results.append(result)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print()
    print(table(results))
    if args.json:
        document = {
            "results": [r.as_json() for r in results],
            "mode": "quick" if args.quick else "full",
            "date": time.strftime("%Y-%m-%d %H:%M:%S %z"),
            "machine": info,
        }
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(document, f, indent=2)
            f.write("\n")
    failed = [r for r in results if r.status.startswith("FAILED")]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
