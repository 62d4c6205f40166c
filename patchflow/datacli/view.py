"""`data ls` and `data show`: what patches store, and how much."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from typing import Any

import click

from ..errors import StorageError
from ..storage.backends.protocol import DamagedStorage
from ..storage.layout import inventory
from ..storage.layout.keys import StoreRef
from ..storage.store import open_storage
from ..storage.tools import dump
from .common import (
    EXIT_FAILURE,
    _existing_patch,
    _Exit,
    _guarded,
    _location,
    _location_options,
    _patch_argument,
    _plural,
    _printable,
    _shown,
    _size,
    _store_label,
    data,
)


@data.command(name="ls")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list instead of a table.")
@_location_options
@_guarded
def ls(as_json: bool, storage: str | None, data_dir: str | None) -> None:
    """List every patch with stored data.

    For each: patch id, size (on disk for LMDB), kv keys, collections, documents and the time
    of the last write. A patch whose storage cannot be read is still listed, with `?` counts and
    flagged DAMAGED (restore a backup or `data rm` it) or UNUSABLE (e.g. written by a newer
    patchflow); the reasons go to standard error and the exit code is 1.
    """
    location = _location(storage, data_dir)
    rows: list[dict[str, Any]] = []
    flags: dict[str, str] = {}  # patch id -> DAMAGED or UNUSABLE
    for patch_id in location.patches():
        try:
            usage = location.usage(patch_id)
        except FileNotFoundError:
            continue  # deleted since it was listed
        last_write = usage.last_write
        row: dict[str, Any] = {
            "patch": patch_id,
            "size": usage.size,
            "keys": None,
            "collections": None,
            "documents": None,
            "last_write": None if last_write is None else datetime.fromtimestamp(last_write),
        }
        try:
            with open_storage(patch_id, storage=location) as opened:
                counts = inventory.totals(opened.backend)
        except StorageError as error:
            # Listed all the same, flagged, so that one damaged store hides none of the others.
            click.echo(_printable(f"patchflow: patch {patch_id!r}: {error}"), err=True)
            row["error"] = str(error)
            flags[patch_id] = "DAMAGED" if isinstance(error, DamagedStorage) else "UNUSABLE"
        else:
            row.update(keys=counts.keys, collections=counts.collections, documents=counts.documents)
        rows.append(row)
    if as_json:
        for row in rows:
            if row["last_write"] is not None:
                row["last_write"] = row["last_write"].astimezone().isoformat(timespec="seconds")
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
    elif not rows:
        click.echo(f"No stored patch data in {_printable(location.location)}.")
    else:
        _table(
            ("PATCH", "SIZE", "KEYS", "COLLECTIONS", "DOCUMENTS", "LAST WRITE", ""),
            [
                (
                    _printable(row["patch"]),
                    _size(row["size"]),
                    *(
                        "?" if row[count] is None else str(row[count])
                        for count in ("keys", "collections", "documents")
                    ),
                    "-" if row["last_write"] is None else f"{row['last_write']:%Y-%m-%d %H:%M:%S}",
                    flags.get(row["patch"], ""),
                )
                for row in rows
            ],
            right=(1, 2, 3, 4),
        )
    if flags:
        sys.exit(EXIT_FAILURE)


def _table(header: tuple[str, ...], rows: list[tuple[str, ...]], right: tuple[int, ...]) -> None:
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        cells = [
            cell.rjust(width) if i in right else cell.ljust(width)
            for i, (cell, width) in enumerate(zip(row, widths, strict=True))
        ]
        click.echo("  ".join(cells).rstrip())


# ---- show --------------------------------------------------------------------------------------


@data.command()
@_patch_argument
@click.option("--store", "named", metavar="NAME", help="Show the named store NAME ([kv NAME]).")
@click.option(
    "--local",
    metavar="BOX_ID",
    help="Show the local store of box BOX_ID (a [kv], [db] or [py] box, e.g. kv-1).",
)
@click.option(
    "--collection",
    metavar="NAME",
    help="Show the documents of collection NAME of that store (needs --store or --local).",
)
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help='Print JSON; values in the dump\'s encoding, so bytes are kept ({"$bytes": base64}).',
)
@_location_options
@_guarded
def show(
    patch: str,
    named: str | None,
    local: str | None,
    collection: str | None,
    as_json: bool,
    storage: str | None,
    data_dir: str | None,
) -> None:
    """Show PATCH's stores, one store's keys and values, or a collection.

    Without options: every store with its kv key count and its collections. Values are shown
    as indented JSON, bytes as <N bytes>.
    """
    if named is not None and local is not None:
        raise _Exit("give --store NAME or --local BOX_ID, not both")
    if collection is not None and named is None and local is None:
        raise _Exit("--collection needs the store it is in: --store NAME or --local BOX_ID")
    location = _location(storage, data_dir)
    _existing_patch(patch, location)
    with open_storage(patch, storage=location) as opened:
        stores = inventory.inventory(opened.backend)
        if named is None and local is None:
            _show_stores(patch, stores, as_json)
            return
        store = StoreRef.named(named) if named is not None else StoreRef.local(local or "")
        stats = next((found for found in stores if found.store == store), None)
        if stats is None:
            listed = ", ".join(_store_label(found.store) for found in stores) or "none"
            raise _Exit(f"patch {patch!r} has no {store}; its stores: {listed}")
        if collection is None:
            _show_store(patch, stats, inventory.read_store(opened.backend, store), as_json)
            return
        docs = inventory.read_collection(opened.backend, store, collection)
        if docs is None:
            listed = ", ".join(name for name, _ in stats.collections) or "none"
            raise _Exit(f"{store} has no collection {collection!r}; its collections: {listed}")
        if as_json:
            docs_json = [dump.encode_value(doc) for doc in docs]
            where = {"patch": patch, "store": inventory.store_json(store)}
            _echo_json({**where, "collection": collection, "docs": docs_json})
            return
        heading = f"collection {collection!r} of {store}: {_plural(len(docs), 'document')}"
        click.echo(_printable(heading))
        for doc in docs:
            click.echo(_shown(doc))


def _echo_json(value: Any) -> None:
    click.echo(json.dumps(value, ensure_ascii=False, indent=2))


def _show_stores(patch: str, stores: list[inventory.StoreStats], as_json: bool) -> None:
    if as_json:
        listed = [
            {
                "store": inventory.store_json(stats.store),
                "keys": stats.keys,
                "collections": dict(stats.collections),
                "bytes": stats.size,
            }
            for stats in stores
        ]
        _echo_json({"patch": patch, "stores": listed})
        return
    if not stores:
        click.echo(_printable(f"Patch {patch!r} stores nothing."))
        return
    rows = [
        (
            _store_label(stats.store),
            str(stats.keys),
            ", ".join(f"{_printable(name)} ({count})" for name, count in stats.collections) or "-",
        )
        for stats in stores
    ]
    _table(("STORE", "KEYS", "COLLECTIONS (DOCUMENTS)"), rows, right=(1,))


def _show_store(
    patch: str, stats: inventory.StoreStats, items: list[tuple[str, Any]], as_json: bool
) -> None:
    if as_json:
        _echo_json(
            {
                "patch": patch,
                "store": inventory.store_json(stats.store),
                "kv": {key: dump.encode_value(value) for key, value in items},
                "collections": dict(stats.collections),
            }
        )
        return
    click.echo(_printable(f"{stats.store}: {_plural(stats.keys, 'key')}"))
    for key, value in items:
        text = _shown(value).replace("\n", "\n  ")
        click.echo(f"  {_printable(json.dumps(key, ensure_ascii=False), json_text=True)}: {text}")
    if stats.collections:
        click.echo(f"collections: {len(stats.collections)}")
        for name, count in stats.collections:
            click.echo(f"  {_printable(name)}: {_plural(count, 'document')}")


# ---- export / import ---------------------------------------------------------------------------
