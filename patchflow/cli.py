"""The `patchflow` console script: run, check, help (and `data`, for stored patch data).

Program output goes to standard output, diagnostics to standard error. Exit codes: 0 idle,
timeout or clean check; 1 a runtime failure that stops the run (also output that cannot be
written); 2 patch-file errors or bad usage; 130/143 stopped by SIGINT/SIGTERM (stopping.py);
141 standard output closed by its reader, quietly, as for a program ended by SIGPIPE.
"""

from __future__ import annotations

import contextlib
import os
import sys
from functools import partial
from pathlib import Path

import click
import trio

from ._version import __version__
from .api import Patch
from .errors import PatchError
from .options import DATA_DIR, SECONDS, STORAGE_URL
from .registry import default_registry
from .stopping import stop_on_signals, supervise

EXIT_FAILURE, EXIT_USAGE = 1, 2
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE: what a shell reports for `yes | head -1`


def _fail(message: str, code: int = EXIT_USAGE) -> None:
    click.echo(f"patchflow: {message}", err=True)
    sys.exit(code)


def load_patch_or_exit(path: str) -> Patch:
    """Read and check a patch (`-` is standard input); on problems print them and exit 2."""
    try:
        if path == "-":
            return Patch.from_string(sys.stdin.read(), file="<stdin>")
        if not Path(path).is_file():
            _fail(f"no patch file {path!r}")
        return Patch.from_file(path)
    except PatchError as exc:
        for problem in exc.problems:
            click.echo(str(problem), err=True)
        sys.exit(EXIT_USAGE)
    except ValueError as exc:  # patch id that cannot name storage, undecodable text
        _fail(str(exc))
    except OSError as exc:
        _fail(f"cannot read {path!r}: {exc.strerror or exc}")
    raise AssertionError("unreachable")


class _Commands(click.Group):
    """The top-level group; `data` (datacli/) is imported only when it is asked for, so that
    `patchflow run` does not load the storage tooling it may never use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted([*super().list_commands(ctx), "data"])

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name == "data":
            from .datacli import data

            return data
        return super().get_command(ctx, name)


@click.group(cls=_Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="patchflow")
def main() -> None:
    """Run message-dataflow patches written as text (.patch files)."""


@main.command()
@click.argument("patch", metavar="PATCH")
@click.option(
    "--data-dir",
    type=DATA_DIR,
    metavar="DIR",
    help="Where patch storage lives (default: $PATCHFLOW_DATA_DIR, else the user data "
    "directory). ':memory:' keeps storage in memory for this run only.",
)
@click.option(
    "--storage",
    type=STORAGE_URL,
    metavar="URL",
    help="Where patch storage lives, as a URL: lmdb:DIR or memory: (default:"
    " $PATCHFLOW_STORAGE, else as --data-dir).",
)
@click.option(
    "--timeout",
    type=SECONDS,
    metavar="SECONDS",
    help="Stop after this long even if not idle (a clean stop, exit 0).",
)
@click.option("--forever", is_flag=True, help="Do not stop when idle.")
@click.option(
    "--bus",
    envvar="PATCHFLOW_BUS",
    callback=lambda ctx, param, value: _check_bus(value),
    metavar="URL",
    help="Connect [send]/[receive] to an MQTT broker: mqtt://[USER[:PASSWORD]@]HOST[:PORT]"
    "[/PREFIX][?qos=0|1|2] (default: $PATCHFLOW_BUS; see docs/bus.md).",
)
@click.option("--strict", is_flag=True, help="Stop with exit 1 at the first runtime error.")
@click.option(
    "--trace",
    is_flag=True,
    help="Write every delivery to standard error as it happens:"
    " [SOURCE:OUTLET] -> [TARGET:INLET] MESSAGE.",
)
@click.option(
    "--durability",
    type=click.Choice(["full", "process"]),
    default="full",
    show_default=True,
    help="full: each storage command is flushed to disk before its reply. process: committed"
    " before its reply (kill -9 loses nothing), flushed to disk within a second: many times"
    " faster, but a power cut may lose the last second.",
)
def run(
    patch: str,
    data_dir: str | None,
    storage: str | None,
    timeout: float | None,
    forever: bool,
    strict: bool,
    durability: str,
    trace: bool,
    bus: str | None,
) -> None:
    """Run PATCH until it is idle (PATCH may be '-' for standard input).

    Idle means no cascade running, no message queued, no pending [delay], no running [metro]
    and no open [stdin]. Ctrl-C and SIGTERM stop cleanly (exit 130 / 143), also while a box is
    busy. When standard output is closed (`| head`) the run stops quietly (exit 141, as a
    program ended by SIGPIPE); when it cannot be written (a full disk), with exit 1.
    """
    if storage is not None and data_dir is not None:
        raise click.UsageError("give --storage URL or --data-dir DIR, not both")
    supervise()  # the last resort against a box stuck in C code (stopping.py)
    with stop_on_signals() as stop:
        loaded = load_patch_or_exit(patch)
        runtime = loaded.runtime(
            data_dir=data_dir,
            storage=storage,
            strict=strict,
            durability=durability,
            trace=trace,
            bus=bus,
        )
        reason = trio.run(partial(runtime.run, forever=forever, timeout=timeout))
    if stop.signum is not None:
        sys.exit(stop.exit_code)
    if runtime.output_error is not None:
        _silence_stdout()  # what is left in its buffer cannot be written either
        closed = isinstance(runtime.output_error, BrokenPipeError)
        sys.exit(EXIT_BROKEN_PIPE if closed else EXIT_FAILURE)
    sys.exit(EXIT_FAILURE if reason == "failed" else 0)


def _check_bus(url: str | None) -> str | None:
    """A malformed --bus URL is a usage error (exit 2), shown without its password."""
    if url:
        from .bus_url import BusURL  # no paho, no client: only the URL is checked here

        try:
            BusURL.parse(url)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="'--bus'") from None
    return url or None


def _silence_stdout() -> None:
    """Point standard output at /dev/null, so that Python's flush at exit does not fail again."""
    with contextlib.suppress(OSError, ValueError, AttributeError):
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, sys.stdout.fileno())
        os.close(null)


@main.command()
@click.argument("patches", nargs=-1, required=True, metavar="PATCH...")
def check(patches: tuple[str, ...]) -> None:
    """Parse and build each PATCH without running it; print every problem."""
    bad = 0
    for path in patches:
        try:
            Patch.from_file(path)
        except PatchError as exc:
            bad += 1
            for problem in exc.problems:
                click.echo(str(problem), err=True)
        except (OSError, ValueError) as exc:
            bad += 1
            click.echo(f"{path}: {getattr(exc, 'strerror', None) or exc}", err=True)
    sys.exit(EXIT_USAGE if bad else 0)


@main.command()
@click.argument("patch", metavar="PATCH")
@click.option("-o", "--output", metavar="FILE", help="Write here instead of standard output.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["svg", "png", "text", "dot"]),
    help="Default: from FILE's extension (.svg .png .dot .patch), else svg.",
)
def draw(patch: str, output: str | None, fmt: str | None) -> None:
    """Draw PATCH as a picture (svg, png), a text diagram (text) or Graphviz source (dot).

    The patch is checked as by `check` (problems are printed, exit 2) and never run. The
    text diagram runs as the same patch: `patchflow draw p.patch -o p2.patch`.
    """
    from .draw import drawing_from_patch, format_for, render

    try:
        fmt = format_for(output, fmt)
    except ValueError as exc:
        _fail(str(exc))
    if fmt == "png" and output in (None, "-") and sys.stdout.isatty():
        _fail("a PNG is binary: write it to a file with -o FILE.png")
    data = render(drawing_from_patch(load_patch_or_exit(patch)), fmt)
    try:
        if output in (None, "-"):
            sys.stdout.buffer.write(data)
            sys.stdout.flush()
        else:
            Path(output).write_bytes(data)
    except OSError as exc:
        _fail(f"cannot write {output or 'standard output'!r}: {exc.strerror or exc}", EXIT_FAILURE)


@main.command(name="help")
@click.argument("obj", required=False, metavar="[OBJECT]")
def help_(obj: str | None) -> None:
    """List every object, or print one object's help."""
    registry = default_registry()
    if obj is None:
        classes = list(registry)
        width = max(len(_names(cls)) for cls in classes)
        for cls in classes:
            click.echo(f"{_names(cls):<{width}}  {cls.summary()}")
        return
    cls = registry.get(obj)
    if cls is None:
        hint = registry.suggest(obj)
        _fail(f"unknown object {obj!r}" + (f" — did you mean '{hint}'?" if hint else ""))
    click.echo(cls.help_text())


def _names(cls) -> str:
    return ", ".join((cls.name, *cls.aliases))


if __name__ == "__main__":  # pragma: no cover
    main()
