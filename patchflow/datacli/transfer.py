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
from ..storage import dump, inventory
from ..storage.lmdb_backend import DEFAULT_INITIAL_MAP_SIZE
from ..storage.store import open_storage
from .common import (
    _data_dir,
    _data_dir_option,
    _existing_patch,
    _Exit,
    _guarded,
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
@_data_dir_option
@_guarded
def export(patch: str, output: str | None, data_dir: str | None) -> None:
    """Dump everything PATCH stores as JSON Lines (for `data import`).

    The dump is one consistent snapshot, taken while the patch may be running. Line 1 is a
    header, then one line per kv key, collection and document, then an end line; bytes are
    {"$bytes": base64}.
    """
    directory = _data_dir(data_dir)
    _existing_patch(patch, directory)
    with (
        open_storage(patch, directory) as storage,
        _progress("Exporting", in_bytes=False) as progress,
    ):
        if output is None or output == "-":
            sys.stdout.flush()
            out = sys.stdout.buffer
            dump.export_dump(storage.backend, patch, out, progress=progress)
            out.flush()
            return
        with _replacing(output) as out:
            dump.export_dump(storage.backend, patch, out, progress=progress)


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
@_data_dir_option
@_guarded
def import_(patch: str, file: str, replace: bool, data_dir: str | None) -> None:
    """Load a dump made by `data export` into PATCH, from FILE or standard input.

    All or nothing, in one transaction: the first bad line is reported as FILE:LINE: message
    (exit 2) and nothing is changed. Merging (the default) overwrites kv keys and documents
    with the same _id and appends other documents; --replace clears the patch's data first.
    The dump may come from any patch; PATCH's storage is created if it has none.
    """
    directory = _data_dir(data_dir)
    path = inventory.patch_directory(directory, _patch_id(patch))
    existed = inventory.has_storage(path)
    with _dump_input(file) as (source, name), dump.rereadable(source) as dump_file:
        dump_file.seek(0, os.SEEK_END)
        # A map big enough from the start, so that the import seldom restarts to grow it.
        needed = (inventory.disk_usage(path) if existed else 0) + 4 * dump_file.tell()
        sizes = {"initial_map_size": max(DEFAULT_INITIAL_MAP_SIZE, 1 << needed.bit_length())}
        with _progress("Importing", in_bytes=True) as progress:
            try:
                with open_storage(patch, directory, **sizes) as storage:
                    result = dump.import_dump(
                        storage.backend, dump_file, name, replace=replace, progress=progress
                    )
            except BaseException:
                if not existed and inventory.has_storage(path):  # leave no empty storage behind
                    with contextlib.suppress(OSError, StorageError):
                        inventory.delete_patch(path)
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
@_data_dir_option
@_guarded
def backup(patch: str, dest: str, data_dir: str | None) -> None:
    """Copy PATCH's storage into the new directory DEST, even while the patch runs.

    The copy (LMDB's compacting copy) holds exactly what was committed when it began. DEST
    must not exist (its parent must) or be empty; it becomes a storage directory like
    DATA_DIR/PATCH_ID, so when DEST is named after the patch, `--data-dir` of its parent
    opens it. The copy is written beside DEST as DEST.partial-PID-... and renamed to DEST
    once complete, so an interrupted backup never leaves half a copy under DEST's name.
    """
    directory = _data_dir(data_dir)
    _existing_patch(patch, directory)
    try:
        with _terminable(), open_storage(patch, directory) as storage:
            counts = inventory.backup(storage.backend, dest)  # type: ignore[arg-type]
    except _Terminated:
        raise _Exit(f"stopped by SIGTERM; nothing was written to {dest}", EXIT_SIGTERM) from None
    click.echo(
        f"Backed up patch {patch!r} to {dest}: {_plural(counts.keys, 'key')},"
        f" {_plural(counts.documents, 'document')}, {_megabytes(inventory.disk_usage(dest))}."
    )


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
