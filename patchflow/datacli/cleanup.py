"""`data rm` and `data gc`: deleting a patch's data, or the stores of deleted boxes."""

from __future__ import annotations

import click

from ..storage.backends.protocol import DamagedStorage
from ..storage.layout import inventory
from ..storage.store import open_storage
from .common import (
    _confirm,
    _existing_patch,
    _Exit,
    _guarded,
    _location,
    _location_options,
    _megabytes,
    _patch_argument,
    _plural,
    _printable,
    _size,
    data,
)


@data.command()
@_patch_argument
@click.option("-y", "--yes", is_flag=True, help="Delete without asking.")
@_location_options
@_guarded
def rm(patch: str, yes: bool, storage: str | None, data_dir: str | None) -> None:
    """Delete all of PATCH's stored data (asks first).

    Refuses (exit 1) while another process — a running patch, a script — has the storage open.
    Declining is not an error: it prints "Not deleted." and exits 0. Damaged storage can be
    deleted too. A run starting meanwhile either makes rm refuse or, once rm has begun
    deleting, starts with fresh, empty storage: never with half-deleted files.
    """
    location = _location(storage, data_dir)
    _existing_patch(patch, location)
    try:
        with open_storage(patch, storage=location) as opened:
            counts: inventory.Totals | None = inventory.totals(opened.backend)
    except DamagedStorage:
        counts = None  # deleting is what a damaged store needs: no counts, but no refusal
    location.check_deletable(patch)
    if not yes:
        size = _megabytes(location.usage(patch).size)
        question = (
            f"This patch has stored data ({_plural(counts.keys, 'key')},"
            f" {_plural(counts.documents, 'document')}, {size}). Delete it?"
            if counts is not None
            else f"This patch's stored data is damaged ({size}). Delete it?"
        )
        if not _confirm(question):
            click.echo("Not deleted.")
            return
    location.delete(patch)
    click.echo(f"Deleted the stored data of patch {patch!r}.")


@data.command()
@_patch_argument
@click.option(
    "--patch-file",
    "patch_file",
    required=True,
    metavar="FILE",
    help="The .patch file of PATCH; local stores of box ids not in it are orphaned.",
)
@click.option("-y", "--yes", is_flag=True, help="Delete without asking.")
@_location_options
@_guarded
def gc(patch: str, patch_file: str, yes: bool, storage: str | None, data_dir: str | None) -> None:
    """Delete the local stores of boxes no longer in the patch file.

    A box's local store (of [kv], [db] or [py] without a store name) is keyed by its box id;
    when the box is removed or renamed its data stays behind. Stores of any box id still in
    FILE are kept, whatever the box's class, and named stores are never touched. Lists the
    orphans with their sizes, then asks (y/N) unless --yes.
    """
    from ..graph import default_patch_id
    from ..language import parse_patch

    location = _location(storage, data_dir)
    _existing_patch(patch, location)
    try:
        with open(patch_file, encoding="utf-8") as text:
            decl = parse_patch(text.read(), patch_file)
    except (OSError, UnicodeDecodeError) as error:
        reason = getattr(error, "strerror", None) or error
        raise _Exit(f"cannot read patch file {patch_file}: {reason}") from None
    if decl.problems:
        for problem in decl.problems:
            click.echo(str(problem), err=True)
        raise _Exit(f"{patch_file} has errors; fix them first so that no box is missed")
    file_patch = decl.patch_id or default_patch_id(patch_file)
    if file_patch != patch:
        raise _Exit(f"{patch_file} is patch {file_patch!r}, not {patch!r}; give PATCH's own file")
    boxes = {box.id for box in decl.boxes}
    with open_storage(patch, storage=location) as opened:
        orphans = [
            stats
            for stats in inventory.inventory(opened.backend)
            if stats.store.kind == "local" and stats.store.name not in boxes
        ]
        if not orphans:
            click.echo(f"No orphaned local stores: every one belongs to a box in {patch_file}.")
            return
        click.echo(f"Local stores of boxes not in {patch_file}:")
        for stats in orphans:
            click.echo(
                f"  {_printable(stats.store.name)}: {_plural(stats.keys, 'key')},"
                f" {_plural(len(stats.collections), 'collection')}"
                f" ({_plural(stats.documents, 'document')}), {_size(stats.size)}"
            )
        count = _plural(len(orphans), "orphaned local store")
        if not yes and not _confirm(f"Delete {count}?"):
            click.echo("Not deleted.")
            return
        inventory.delete_stores(opened.backend, [stats.store for stats in orphans])
    click.echo(f"Deleted {count}.")
