"""Command-line option types shared by `patchflow run` and the `patchflow data` commands.

One type per kind of value, so that every subcommand rejects the same bad values with the same
message and exit 2 (click's usage error): an empty `--data-dir ""` would otherwise put storage
in the current directory, `--storage postgres://…` would be a directory of that name, and
`--timeout nan` would never time out.
"""

from __future__ import annotations

import math
from typing import Any

import click


class DataDirectory(click.ParamType):
    """A data directory: any path but the empty one."""

    name = "directory"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        text = str(value)
        if not text:
            self.fail(
                "is empty; give a directory, or leave the option out to use"
                " $PATCHFLOW_DATA_DIR (else the user data directory)",
                param,
                ctx,
            )
        return text


class StorageURL(click.ParamType):
    """A storage location: a URL whose scheme a backend has (`lmdb:DIR`, `memory:`), or a path.

    Checked here, so that a misspelt scheme is a usage error (exit 2) naming the known ones;
    the password of a URL never appears in the message.
    """

    name = "url"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        from .storage.backends import open_location
        from .storage.backends.protocol import BadPath

        text = str(value)
        try:
            open_location(text)
        except BadPath as error:
            self.fail(str(error), param, ctx)
        return text


class Seconds(click.ParamType):
    """A duration in seconds: a number ≥ 0 (`inf` allowed: no limit), not NaN nor empty."""

    name = "seconds"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            number = float(value)
        else:
            text = str(value).strip()
            if not text:
                self.fail("is empty; give a number of seconds ≥ 0, e.g. 2.5", param, ctx)
            try:
                number = float(text)
            except ValueError:
                self.fail(f"{value!r} is not a number; give seconds ≥ 0, e.g. 2.5", param, ctx)
        if math.isnan(number) or number < 0:
            self.fail(f"{value!r} is not a number of seconds ≥ 0; give e.g. 2.5", param, ctx)
        return number


DATA_DIR = DataDirectory()
SECONDS = Seconds()
STORAGE_URL = StorageURL()
