"""Upgrade a patch's storage from an older format version to this release's, step by step.

The layout records its format version (`keys.FORMAT_VERSION`, in `meta`); opening storage of an
older version is refused (`keys.OldFormat`) until `patchflow data migrate PATCH` runs the steps
here. `STEPS` holds one `Step` per version N < FORMAT_VERSION: a function over a write
transaction that turns format N data into format N+1. `migrate` runs each step in its own
transaction, together with recording the new version, so a step is all or nothing: a crash or a
failing step leaves the storage at the last version completed (and a later `migrate` carries on
from there). Each transaction first checks the version it expects, so two `migrate`s racing on
one store never run a step twice.

Steps must be pure transaction work (`Backend.write` may run them more than once) and must keep
to this module's layout knowledge (`keys.py`, `expiry.py`): a step is written once, for the
layout as it was, and must keep working as later releases change the code around it.

Taking a backup before migrating is the command's job (`datacli/migrate.py`); this module only
transforms data, so it runs on every backend.

Format history:

- **1** — the first layout (kv, docs, ids, collections).
- **2** — format 1 plus the expiry space (`ttl`; a kv value written with a ttl is stored as
  `expiry.MARKER + DUE + msgpack`, which format 1 readers cannot decode) and the db index
  spaces. Format 1 data is valid format 2 data as it stands: plain msgpack values never start
  with the marker, and the new spaces start empty (backends create missing spaces on open), so
  step 1 → 2 only records the version. It exists so that a format 1 release never opens a store
  that may hold expiring values or indexes it would not maintain.
"""

from __future__ import annotations

from collections.abc import Callable

import attrs

from ...errors import StorageError
from ..backends.protocol import Backend, WriteTxn
from . import codec
from .keys import FORMAT_KEY, FORMAT_VERSION, META, read_format_version

__all__ = ["STEPS", "MigrationError", "Step", "migrate", "pending_steps"]


class MigrationError(StorageError):
    """Storage that cannot be migrated: no path from its version, or a step failed."""


@attrs.frozen
class Step:
    """Turn format `source` data into format `source + 1`, in one write transaction."""

    source: int
    #: what the step does, for `patchflow data migrate`'s output
    summary: str
    apply: Callable[[WriteTxn], None]

    @property
    def target(self) -> int:
        return self.source + 1


def _add_expiry_and_index_spaces(txn: WriteTxn) -> None:
    """Format 1 → 2: nothing to convert (see the module docstring); the new spaces are empty."""


#: source version → the step from it to the next; one per version below FORMAT_VERSION.
STEPS: dict[int, Step] = {
    1: Step(1, "adds the expiry (ttl) and index spaces", _add_expiry_and_index_spaces),
}


def pending_steps(version: int) -> list[Step]:
    """Return the steps that take format `version` to FORMAT_VERSION, in order.

    Raises:
        MigrationError: a version with no step from it (not one any release wrote).
    """
    steps = []
    for source in range(version, FORMAT_VERSION):
        step = STEPS.get(source)
        if step is None:
            raise MigrationError(
                f"no migration from format version {source}: no patchflow release wrote it;"
                " the storage may be damaged, so restore it from a backup"
            )
        steps.append(step)
    return steps


def migrate(backend: Backend, *, on_step: Callable[[Step], None] | None = None) -> list[Step]:
    """Bring `backend`'s storage to FORMAT_VERSION, one transaction per step; return the steps run.

    Storage already current (or new: nothing recorded) is left untouched and `[]` returned.
    `on_step(step)` is called after each step is committed.

    Raises:
        MigrationError: no path from the recorded version, or it changed under us to one that
            is not a step's (another process migrated meanwhile: run again).
        StorageError: the storage is newer than this release, or cannot be written.
    """
    version = backend.read(read_format_version)
    if version is None or version == FORMAT_VERSION:
        return []
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise StorageError(
            f"patch storage at {backend.location} has format version {version!r}, written by a"
            f" newer patchflow; this one reads format {FORMAT_VERSION} at most. Upgrade"
            " patchflow (pip install --upgrade patchflow) to open it"
        )
    done = []
    for step in pending_steps(version):
        if backend.write(lambda txn, step=step: _run_step(txn, step)):
            done.append(step)
            if on_step is not None:
                on_step(step)
    return done


def _run_step(txn: WriteTxn, step: Step) -> bool:
    """Run `step` and record its target version; False if another process already had."""
    found = read_format_version(txn)
    if isinstance(found, int) and found >= step.target:
        return False
    if found != step.source:
        raise MigrationError(
            f"the storage's format version changed to {found!r} during the migration (another"
            " process?); run `patchflow data migrate` again"
        )
    step.apply(txn)
    txn.put(META, FORMAT_KEY, codec.encode(step.target))
    return True
