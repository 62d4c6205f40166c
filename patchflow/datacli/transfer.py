"""`data export`, `data import` and `data backup`: moving a patch's data in and out."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import tempfile
import threading
from collections.abc import Iterator
from typing import IO

import click

from ..errors import StorageError
from ..storage.backends.protocol import Backend, StorageLocation, Unsupported
from ..storage.layout import inventory
from ..storage.layout.keys import SPACES, OldFormat, ensure_format_version
from ..storage.store import open_storage
from ..storage.tools import dump
from .common import (
    _existing_patch,
    _Exit,
    _guarded,
    _location,
    _location_options,
    _megabytes,
    _patch_argument,
    _patch_id,
    _plural,
    _progress,
    data,
)


@data.command()
@_patch_argument
@click.option(
    "-o",
    "--output",
    metavar="FILE",
    help="Write the dump to FILE (replaced only once complete); default: standard output.",
)
@_location_options
@_guarded
def export(patch: str, output: str | None, storage: str | None, data_dir: str | None) -> None:
    """Dump everything PATCH stores as JSON Lines (for `data import`).

    The dump is one consistent snapshot, taken while the patch may be running. Line 1 is a
    header, then one line per kv key, collection and document, then an end line; bytes are
    {"$bytes": base64}.
    """
    location = _location(storage, data_dir)
    _existing_patch(patch, location)
    with (
        open_storage(patch, storage=location) as opened,
        _progress("Exporting", in_bytes=False) as progress,
    ):
        if output is None or output == "-":
            sys.stdout.flush()
            out = sys.stdout.buffer
            dump.export_dump(opened.backend, patch, out, progress=progress)
            out.flush()
            return
        with _replacing(output) as out:
            dump.export_dump(opened.backend, patch, out, progress=progress)


@contextlib.contextmanager
def _replacing(path: str) -> Iterator[IO[bytes]]:
    """Write to a temporary file beside `path`, moved over it only when writing succeeded."""
    folder = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        raise _Exit(f"cannot write the dump to {path}: it is a directory")
    if not os.path.isdir(folder):
        raise _Exit(f"cannot write the dump to {path}: no directory {folder}")
    try:
        handle, temporary = tempfile.mkstemp(dir=folder, prefix=".patchflow-dump-")
    except OSError as error:
        raise _Exit(f"cannot write the dump to {path}: {error.strerror or error}") from None
    try:
        with os.fdopen(handle, "wb") as out:
            yield out
        os.chmod(temporary, _new_file_mode(path))  # mkstemp made it private
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(temporary)
        raise


def _new_file_mode(path: str) -> int:
    """The mode `open(path, "w")` would give: the old file's, else 0o666 less the umask."""
    with contextlib.suppress(OSError):
        return os.stat(path).st_mode & 0o7777
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


@data.command(name="import")
@_patch_argument
@click.argument("file", metavar="[FILE]", required=False, default="-")
@click.option(
    "--replace", is_flag=True, help="Delete everything PATCH stores first (default: merge)."
)
@_location_options
@_guarded
def import_(
    patch: str, file: str, replace: bool, storage: str | None, data_dir: str | None
) -> None:
    """Load a dump made by `data export` into PATCH, from FILE or standard input.

    All or nothing, in one transaction: the first bad line is reported as FILE:LINE: message
    (exit 2) and nothing is changed. Merging (the default) overwrites kv keys and documents
    with the same _id and appends other documents; --replace clears the patch's data first.
    The dump may come from any patch; PATCH's storage is created if it has none.
    """
    location = _location(storage, data_dir)
    existed = location.has_patch(_patch_id(patch))
    with _dump_input(file) as (source, name), dump.rereadable(source) as dump_file:
        dump_file.seek(0, os.SEEK_END)
        size_hint = 4 * dump_file.tell()  # room for it from the start: no restart to grow
        with _progress("Importing", in_bytes=True) as progress:
            try:
                with open_storage(patch, storage=location, size_hint=size_hint) as opened:
                    result = dump.import_dump(
                        opened.backend, dump_file, name, replace=replace, progress=progress
                    )
            except BaseException:
                if not existed and location.has_patch(patch):  # leave no empty storage behind
                    with contextlib.suppress(OSError, StorageError):
                        location.delete(patch)
                raise
    click.echo(
        f"Imported {_plural(result.keys, 'key')}, {_plural(result.collections, 'collection')}"
        f" and {_plural(result.documents, 'document')} into patch {patch!r}."
    )


@contextlib.contextmanager
def _dump_input(file: str) -> Iterator[tuple[IO[bytes], str]]:
    if file == "-":
        yield sys.stdin.buffer, "<stdin>"
        return
    if os.path.isdir(file):
        raise _Exit(f"cannot read {file}: it is a directory")
    try:
        source = open(file, "rb")  # noqa: SIM115 - closed below, after the import
    except OSError as error:
        raise _Exit(f"cannot read {file}: {error.strerror or error}") from None
    with source:
        yield source, file


# ---- backup ------------------------------------------------------------------------------------


@data.command()
@_patch_argument
@click.argument("dest", metavar="DEST")
@_location_options
@_guarded
def backup(patch: str, dest: str, storage: str | None, data_dir: str | None) -> None:
    """Copy PATCH's storage into the new directory DEST, even while the patch runs.

    The copy (LMDB's compacting copy) holds exactly what was committed when it began. DEST
    must not exist (its parent must) or be empty; it becomes a storage directory like
    DATA_DIR/PATCH_ID, so when DEST is named after the patch, `--data-dir` of its parent
    opens it. The copy is written beside DEST as DEST.partial-PID-... and renamed to DEST
    once complete, so an interrupted backup never leaves half a copy under DEST's name.
    Storage without a native copy (memory:) is backed up as an export: DEST is then a new
    dump file, for `data import`.
    """
    location = _location(storage, data_dir)
    _existing_patch(patch, location)
    try:
        with _terminable():
            try:
                counts = location.backup(patch, dest, SPACES, _checked_totals)
                how = ""
            except Unsupported:
                counts = _export_backup(location, patch, dest)
                how = " as an export"
    except _Terminated:
        raise _Exit(f"stopped by SIGTERM; nothing was written to {dest}", EXIT_SIGTERM) from None
    click.echo(
        f"Backed up patch {patch!r} to {dest}{how}: {_plural(counts.keys, 'key')},"
        f" {_plural(counts.documents, 'document')}, {_megabytes(_path_size(dest))}."
    )


def _checked_totals(copy: Backend) -> inventory.Totals:
    """Check a fresh copy is storage this release knows; return what it holds.

    A copy of an older format is fine (it is what `data migrate` saves before upgrading, and a
    user may back up before migrating); only a newer, unknown layout is refused.
    """
    with contextlib.suppress(OldFormat):
        ensure_format_version(copy)
    return inventory.totals(copy)


def _export_backup(location: StorageLocation, patch: str, dest: str) -> dump.DumpCounts:
    """Back up as an export, for backends without a native copy: DEST is a new dump file."""
    if os.path.lexists(dest):
        raise _Exit(f"backup destination {dest} exists; choose a new file name")
    with open_storage(patch, storage=location) as opened, _replacing(dest) as out:
        return dump.export_dump(opened.backend, patch, out)


def _path_size(path: str) -> int:
    """The bytes a backup takes on disk (as `du` counts them): a dump file, or a directory's."""
    if not os.path.isdir(path):
        return _blocks(os.stat(path))
    with os.scandir(path) as entries:
        return sum(_blocks(entry.stat()) for entry in entries if entry.is_file())


def _blocks(stat: os.stat_result) -> int:
    blocks = getattr(stat, "st_blocks", None)
    return stat.st_size if blocks is None else blocks * 512


EXIT_SIGTERM = 128 + signal.SIGTERM


class _Terminated(BaseException):
    """SIGTERM arrived: unwind like Ctrl-C, so that a half-made backup is removed."""


@contextlib.contextmanager
def _terminable() -> Iterator[None]:
    """Make SIGTERM raise `_Terminated` meanwhile (on the main thread; elsewhere do nothing).

    Its default action ends the process at once, leaving the temporary copy behind; raised as
    an exception, it runs the cleanup on its way out, as Ctrl-C does.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def terminate(signum: int, frame: object) -> None:
        raise _Terminated

    previous = signal.signal(signal.SIGTERM, terminate)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
