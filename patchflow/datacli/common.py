"""What the `patchflow data` commands share: the group, options, prompts, formats, progress.

The commands work on any backend, through the storage location a URL names (`--storage URL`,
`--data-dir DIR`, else as for `run`: `storage/backends.py`) and its `StorageLocation` protocol
(`storage/backend.py`: listing, usage, deleting, backups); the rest of the logic lives in
`storage/dump.py` (export, import) and `storage/inventory.py` (stores and their contents), and
this module is the command line around it.

Exit codes: 0 done (also when a deletion is declined at the prompt); 1 the storage cannot be
used (cannot be opened or written, newer format, open in another process for `rm`); 2 bad
usage: an invalid or unknown patch id, a bad path, a bad dump line (`FILE:LINE: message`, and
nothing imported), a patch file with errors. Prompts go to standard error; `y` or `yes` agrees,
anything else, an empty line or end of input declines. `rich` is imported only to draw a
progress bar, and only when standard error is a terminal.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import sys
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import click

from ..errors import CommandError, StorageError
from ..options import DATA_DIR, STORAGE_URL
from ..storage.backends import resolve_location
from ..storage.backends.protocol import BadPath, StorageLocation
from ..storage.layout.keys import StoreRef
from ..storage.store import check_patch_id
from ..storage.tools import dump

EXIT_FAILURE, EXIT_USAGE = 1, 2
F = TypeVar("F", bound=Callable[..., Any])


class _Exit(Exception):
    """Stop a command with a message on standard error and an exit code."""

    def __init__(self, message: str, code: int = EXIT_USAGE):
        super().__init__(message)
        self.code = code


def _guarded(command: F) -> F:
    """Turn the errors a data command expects into a message and an exit code, never a traceback."""

    @functools.wraps(command)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except _Exit as stop:
            message, code = str(stop), stop.code
        except dump.DumpError as error:
            click.echo(_printable(str(error)), err=True)
            sys.exit(EXIT_USAGE)
        except StorageError as error:
            message, code = str(error), EXIT_FAILURE
        except (BadPath, CommandError) as error:
            message, code = str(error), EXIT_USAGE
        except BrokenPipeError:
            _silence_stdout()
            message, code = "standard output was closed before all was written", EXIT_FAILURE
        except OSError as error:
            where = f" {error.filename}" if error.filename else ""
            message, code = f"cannot use{where}: {error.strerror or error}", EXIT_FAILURE
        click.echo(f"patchflow: {_printable(message)}", err=True)
        sys.exit(code)

    return run  # type: ignore[return-value]


def _silence_stdout() -> None:
    """Point stdout at /dev/null so that the flush at exit does not fail on the closed pipe."""
    with contextlib.suppress(OSError, ValueError, AttributeError):
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, sys.stdout.fileno())


def _location_options(command: F) -> F:
    """Add `--storage URL` and `--data-dir DIR`; the command calls `_location` with both."""
    command = click.option(
        "--storage",
        type=STORAGE_URL,
        metavar="URL",
        help="Where patch storage lives, as a URL: lmdb:DIR or memory: (default:"
        " $PATCHFLOW_STORAGE, else as --data-dir).",
    )(command)
    return click.option(
        "--data-dir",
        type=DATA_DIR,
        metavar="DIR",
        help="The LMDB data directory, the same as --storage lmdb:DIR (default:"
        " $PATCHFLOW_DATA_DIR, else the user data directory).",
    )(command)


_patch_argument = click.argument("patch", metavar="PATCH")


@click.group(name="data", context_settings={"help_option_names": ["-h", "--help"]})
def data() -> None:
    """List, inspect, export, import, back up and delete patches' stored data.

    Storage is chosen as for `run`: --storage URL or --data-dir DIR (each patch's storage is
    then DATA_DIR/PATCH_ID/). Exit codes: 0 done (a declined prompt too),
    1 storage that cannot be used, 2 bad usage, unknown patch, bad path or bad dump line.
    """


# ---- shared steps ------------------------------------------------------------------------------


def _location(storage: str | None, data_dir: str | None) -> StorageLocation:
    """The storage the options name; a data directory that is a file is a usage error."""
    if storage is not None and data_dir is not None:
        raise _Exit("give --storage URL or --data-dir DIR, not both")
    location = resolve_location(storage, data_dir)
    location.patches()  # raises BadPath for a location that cannot be listed (a file)
    return location


def _patch_id(patch_id: str) -> str:
    try:
        return check_patch_id(patch_id)
    except ValueError as error:
        raise _Exit(str(error)) from None


def _existing_patch(patch_id: str, location: StorageLocation) -> None:
    """Exit 2 unless the patch has stored data in `location`."""
    if not location.has_patch(_patch_id(patch_id)):
        known = location.patches()
        hint = f"; patches with data: {', '.join(known)}" if known else ""
        raise _Exit(f"no stored data for patch {patch_id!r} in {location.location}{hint}")


def _confirm(question: str) -> bool:
    """Ask on standard error; only `y`/`yes` agrees (an empty line or end of input declines)."""
    click.echo(f"{question} [y/N] ", nl=False, err=True)
    answer = sys.stdin.readline()
    if not answer.endswith("\n"):
        click.echo(err=True)  # end of input: finish the prompt's line
    return answer.strip().lower() in ("y", "yes")


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def _size(size: int) -> str:
    """A size for people: `512 B`, `52.0 KB`, `1.3 MB` (units of 1024)."""
    if size < 1024:
        return f"{size} B"
    scaled = size / 1024
    for unit in ("KB", "MB", "GB"):
        if scaled < 1024:
            return f"{scaled:.1f} {unit}"
        scaled /= 1024
    return f"{scaled:.1f} TB"


def _megabytes(size: int) -> str:
    return f"{size / (1 << 20):.1f} MB"


def _printable(text: str, *, json_text: bool = False) -> str:
    """Return `text` with every character a terminal could act on written as an escape.

    A stored name, key or value may hold anything: ESC sequences, newlines, bidirectional
    overrides. Printed as is, it could rewrite the terminal or fake output lines. So output
    for people passes through here: characters that are not printable (Unicode's "Other" and
    "Separator" categories, the ASCII space excepted: C0 and C1 controls, DEL, format and
    line-separator characters, lone surrogates) become `\\n`, `\\t`, `\\r`, `\\x1b`, `\\u202e`.
    `json_text=True` is for JSON text (whose own escapes already cover C0 controls): it keeps
    the indentation's newlines and writes `\\u007f`-style escapes, so that the text stays valid
    JSON meaning the same value. `--json` output does not pass through here: it stays exact.
    """
    if text.isprintable():
        return text
    escape = _json_escape if json_text else _escape
    return "".join(char if char.isprintable() else escape(char) for char in text)


_NAMED_ESCAPES = {"\n": "\\n", "\t": "\\t", "\r": "\\r"}


def _escape(char: str) -> str:
    point = ord(char)
    if char in _NAMED_ESCAPES:
        return _NAMED_ESCAPES[char]
    if point < 0x100:
        return f"\\x{point:02x}"
    return f"\\u{point:04x}" if point < 0x10000 else f"\\U{point:08x}"


def _json_escape(char: str) -> str:
    point = ord(char)
    if char == "\n":
        return char  # JSON escapes newlines in strings: this one is the indentation's
    if point < 0x10000:
        return f"\\u{point:04x}"
    point -= 0x10000  # a UTF-16 surrogate pair, as JSON spells characters beyond the BMP
    return f"\\u{0xD800 + (point >> 10):04x}\\u{0xDC00 + (point & 0x3FF):04x}"


def _store_label(store: StoreRef) -> str:
    return _printable(f"{store.kind} {store.name}")


def _shown(value: Any) -> str:
    """Pretty JSON for people: indented, unicode as is (unless unprintable), bytes as sizes."""
    text = json.dumps(value, ensure_ascii=False, indent=2, default=_bytes_as_size)
    return _printable(text, json_text=True)


def _bytes_as_size(value: Any) -> str:
    if isinstance(value, bytes):
        return f"<{len(value)} bytes>"
    raise TypeError(type(value).__name__)


@contextlib.contextmanager
def _progress(description: str, *, in_bytes: bool) -> Iterator[dump.Progress | None]:
    """A progress bar on standard error when it is a terminal (rich is imported only then)."""
    stream = sys.stderr
    if not stream.isatty():
        yield None
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    amount = DownloadColumn() if in_bytes else MofNCompleteColumn()
    columns = (TextColumn(description), BarColumn(), amount, TimeElapsedColumn())
    with Progress(*columns, console=Console(file=stream), transient=True) as bar:
        task = bar.add_task(description, total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total or None)

        yield update


# ---- ls ----------------------------------------------------------------------------------------
