"""Backends by URL scheme: the one table, and turning a storage URL or directory into a location.

A storage location is a URL (storage.md, "Backends"): `lmdb:DIR`, `memory:`, later
`postgresql://USER@HOST/DB` and `redis://HOST/N`. A plain path is an LMDB data directory, and
`:memory:` (SQLite's spelling, and not a name a real data directory is likely to have) the
in-memory backend, so `--data-dir DIR` keeps meaning `lmdb:DIR`.

`BACKENDS` maps each scheme to the class implementing `backend.StorageLocation`, as a
`"module:Class"` name imported on first use, so that a backend's driver (lmdb, psycopg, redis)
is loaded only by the runs that use it. Adding a backend is one line here; see
docs/architecture.md ("Adding a backend"). Each class is built from the whole URL
(`Class.from_url(url)`) and parses the rest itself.

Where a run or a `data` command stores, first found: `--storage URL`, `--data-dir DIR`,
`$PATCHFLOW_STORAGE`, `$PATCHFLOW_DATA_DIR`, the user data directory of the platform.
"""

from __future__ import annotations

import importlib
import os
import re
from typing import Any

from ...errors import StorageError
from .protocol import BadPath, StorageLocation

__all__ = [
    "BACKENDS",
    "MEMORY",
    "default_data_dir",
    "open_location",
    "redact",
    "resolve_location",
]

#: scheme → the `StorageLocation` class for it, `"module:Class"` (imported on first use)
BACKENDS: dict[str, str] = {
    "lmdb": "patchflow.storage.backends.lmdb_admin:LmdbLocation",
    "memory": "patchflow.storage.backends.memory_backend:MemoryLocation",
    "redis": "patchflow.storage.backends.redis_backend:RedisLocation",
    "postgresql": "patchflow.storage.backends.postgres_backend:PostgresLocation",
}

#: The data-directory spelling of `memory:`.
MEMORY = ":memory:"

_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]+):")  # two letters at least: `C:\` is a path


def open_location(url: str | os.PathLike[str]) -> StorageLocation:
    """Return the location a storage URL or a data directory names (nothing is opened yet).

    Raises:
        BadPath: empty, or a URL whose scheme no backend has (the message lists the schemes).
    """
    text = os.fspath(url)
    if not text:
        raise BadPath(
            "the storage location is empty; give a URL (lmdb:DIR, memory:) or a directory"
        )
    if text == MEMORY:
        text = "memory:"
    match = _SCHEME.match(text)
    if match is None:
        return _location_class("lmdb").from_url(f"lmdb:{text}")
    scheme = match.group(1).lower()
    if scheme not in BACKENDS:
        known = ", ".join(f"{name}:" for name in BACKENDS)
        raise BadPath(
            f"no storage backend for {redact(text)!r}: unknown scheme {scheme!r}; known: {known}"
            f" (a directory whose name has a colon: write ./{redact(text)})"
        )
    return _location_class(scheme).from_url(text)


def _location_class(scheme: str) -> Any:
    module, _, name = BACKENDS[scheme].partition(":")
    return getattr(importlib.import_module(module), name)


def resolve_location(
    storage: str | os.PathLike[str] | None = None,
    data_dir: str | os.PathLike[str] | None = None,
) -> StorageLocation:
    """Return where to store: `storage` (a URL), else `data_dir`, else the environment's.

    With neither: `$PATCHFLOW_STORAGE`, else `$PATCHFLOW_DATA_DIR`, else `default_data_dir()`.
    The command line refuses `--storage` and `--data-dir` together; here `storage` wins.

    Raises:
        BadPath: `storage` or `data_dir` names no usable location.
        StorageError: an environment variable does (a run then stops with exit 1).
    """
    if storage is not None:
        return open_location(storage)
    if data_dir is not None:
        return open_location(_as_directory(os.fspath(data_dir)))
    for variable, as_url in (("PATCHFLOW_STORAGE", str), ("PATCHFLOW_DATA_DIR", _as_directory)):
        value = os.environ.get(variable)
        if value:
            try:
                return open_location(as_url(value))
            except BadPath as error:  # not the caller's mistake: the storage cannot be used
                raise StorageError(f"${variable}: {error}") from None
    return open_location(_as_directory(default_data_dir()))


def _as_directory(directory: str) -> str:
    """A data directory is never a URL: `lmdb:DIR` for any DIR but `:memory:`."""
    if not directory:
        raise BadPath("the data directory is empty; give a directory")
    return directory if directory == MEMORY else f"lmdb:{directory}"


def default_data_dir() -> str:
    """Return the platform's user data directory for patchflow (`~/.local/share/patchflow`)."""
    import platformdirs

    return platformdirs.user_data_dir("patchflow", appauthor=False)


# scheme://USER:PASSWORD@ up to the host's `@`; the password may hold anything, even `/` or `@`
_USERINFO = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)(?P<user>[^:/?#@]*)(?::.*)?@\Z")
_PASSWORD_PARAM = re.compile(r"(?i)([?&](?:password|pass|pwd)=)[^&#]*")


def redact(url: str) -> str:
    """Return `url` without its password, for messages: `postgresql://u:pw@h/db` → `postgresql://u@h/db`.

    Everything a backend shows — errors, `data ls`, `Backend.location` — passes through here.
    A password in the query string (`?password=…`) becomes `***`.
    """
    at = url.rfind("@", 0, _authority_end(url))
    if at >= 0:
        head = _USERINFO.match(url[: at + 1])
        if head is not None:
            url = f"{head.group('scheme')}{head.group('user')}@{url[at + 1 :]}"
    return _PASSWORD_PARAM.sub(r"\1***", url)


def _authority_end(url: str) -> int:
    """Where a URL's host part ends: the first `/`, `?` or `#` after the last `@` (or `://`)."""
    start = url.find("://")
    if start < 0:
        return 0
    start = max(start + 3, url.rfind("@") + 1)
    ends = [i for i in (url.find(c, start) for c in "/?#") if i >= 0]
    return min(ends, default=len(url))
