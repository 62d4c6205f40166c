"""`data migrate`: upgrade a patch's storage written by an older release, after a backup.

The steps are `storage/layout/migrations.py`'s; this is the command around them: check the
version, refuse while another process has the storage open, back it up, run the steps.

The backup goes beside the store, `DIR/PATCH~backup-format-N-TIMESTAMP` (UTC), made by the
location's native backup (LMDB's consistent copy). The `~` keeps it from being a patch id, so
`data ls` does not list it as a patch (which it would then flag, being of the old format); to
go back, stop patchflow and move it over `DIR/PATCH` (with the old release). A location without
a native backup (or without a directory) gets an export dump in the current directory instead,
`PATCH~backup-format-N-TIMESTAMP.jsonl`, for `data import` with the old release.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable

import click

from ..errors import StorageError
from ..storage.backends.protocol import Backend, StorageLocation, Unsupported
from ..storage.layout import migrations
from ..storage.layout.keys import FORMAT_VERSION, META, SPACES, read_format_version
from ..storage.tools import dump
from .common import (
    _existing_patch,
    _Exit,
    _guarded,
    _location,
    _location_options,
    _patch_argument,
    _plural,
    data,
)
from .transfer import _replacing


@data.command()
@_patch_argument
@_location_options
@_guarded
def migrate(patch: str, storage: str | None, data_dir: str | None) -> None:
    """Upgrade PATCH's storage, written by an older release, to this one's format.

    First writes a backup beside the store (DATA_DIR/PATCH~backup-format-N-TIMESTAMP, a
    storage directory; printed), then runs each step in one transaction: a crash leaves the
    storage at the last step completed, and running again carries on. Storage already current
    is left untouched (exit 0). Refuses (exit 1) storage written by a newer patchflow, and
    storage another process has open: stop it first.
    """
    location = _location(storage, data_dir)
    _existing_patch(patch, location)
    version = _recorded_version(location, patch)
    if version is None or version == FORMAT_VERSION:
        click.echo(
            f"Patch {patch!r} is already in format {FORMAT_VERSION}, the current one;"
            " nothing to migrate."
        )
        return
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise StorageError(
            f"patch storage of {patch!r} in {location.location} has format version {version!r},"
            f" written by a newer patchflow; this one reads format {FORMAT_VERSION} at most."
            " Upgrade patchflow (pip install --upgrade patchflow) to open it"
        )
    steps = migrations.pending_steps(version)  # no path: refuse before backing up
    location.check_deletable(patch)  # nobody else may write the old format meanwhile
    where = _backup(location, patch, version)
    click.echo(f"Backed up patch {patch!r} (format {version}) to {where}.")
    backend = location.open(patch, SPACES)
    try:
        migrations.migrate(
            backend,
            on_step=lambda step: click.echo(
                f"Format {step.source} → {step.target}: {step.summary}."
            ),
        )
    finally:
        backend.close()
    click.echo(
        f"Migrated patch {patch!r} from format {version} to {FORMAT_VERSION}"
        f" ({_plural(len(steps), 'step')})."
    )


def _recorded_version(location: StorageLocation, patch: str) -> object:
    """The version the storage records, opened with only `meta`, so that nothing is written."""
    backend = location.open(patch, (META,))
    try:
        return backend.read(read_format_version)
    finally:
        backend.close()


def _backup(location: StorageLocation, patch: str, version: int) -> str:
    """Back the patch up beside its storage (natively) or as a dump here; return where."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    name = f"{patch}~backup-format-{version}-{stamp}"
    directory = getattr(location, "directory", None)  # a location on the file system
    if isinstance(directory, str):
        destination = _unused(os.path.join(directory, name))
        try:
            location.backup(patch, destination, (META,), _same_version(version))
            return destination
        except Unsupported:
            pass
    destination = _unused(f"{name}.jsonl")
    opened = location.open(patch, SPACES)
    try:
        with _replacing(destination) as out:
            dump.export_dump(opened, patch, out)
    finally:
        opened.close()
    return destination


def _same_version(version: int) -> Callable[[Backend], None]:
    """A backup `check`: the copy must record `version` (it is a copy of what we migrate)."""

    def check(copy: Backend) -> None:
        found = copy.read(read_format_version)
        if found != version:
            raise _Exit(
                f"the backup records format {found!r}, not {version}; nothing was migrated", 1
            )

    return check


def _unused(path: str) -> str:
    """`path`, or `path-2`, `path-3`, ... if it exists (two migrations within a second)."""
    candidate, number = path, 1
    while os.path.lexists(candidate):
        number += 1
        candidate = f"{path}-{number}"
    return candidate
