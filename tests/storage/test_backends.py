"""Backends by URL scheme (`storage/backends.py`): the table, URLs and directories, where a run
stores by default, and passwords kept out of every message."""

from __future__ import annotations

import pytest

from patchflow.errors import StorageError
from patchflow.storage import BACKENDS, open_location, open_storage, redact
from patchflow.storage.backends import resolve_location
from patchflow.storage.backends.lmdb_admin import LmdbLocation
from patchflow.storage.backends.memory_backend import MemoryLocation
from patchflow.storage.backends.protocol import BadPath


@pytest.mark.parametrize("scheme", sorted(BACKENDS))
def test_every_scheme_in_the_table_names_a_location_class(scheme, tmp_path):
    url = f"{scheme}:{tmp_path}" if scheme == "lmdb" else f"{scheme}://"  # nothing connects
    location = open_location(url)
    for method in ("open", "patches", "has_patch", "usage", "check_deletable", "delete", "backup"):
        assert callable(getattr(location, method))


@pytest.mark.parametrize(
    ("text", "kind", "where"),
    [
        ("lmdb:/srv/data", LmdbLocation, "/srv/data"),
        ("LMDB:rel/dir", LmdbLocation, "rel/dir"),
        ("/srv/data", LmdbLocation, "/srv/data"),
        ("./a:b", LmdbLocation, "./a:b"),
        ("C:/data", LmdbLocation, "C:/data"),  # a drive letter, not a scheme
        ("memory:", MemoryLocation, ":memory:"),
        (":memory:", MemoryLocation, ":memory:"),
    ],
)
def test_a_url_or_a_directory_names_a_location(text, kind, where):
    location = open_location(text)
    assert type(location) is kind and location.location == where


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "mysql://u:secret@db.example/x",
            "unknown scheme 'mysql'; known: lmdb:, memory:",
        ),
        ("lmdb:", "needs a directory"),
        ("memory:notes", "takes no path"),
        ("", "empty"),
    ],
)
def test_a_url_no_backend_takes_is_a_clear_error_without_its_password(text, message):
    with pytest.raises(BadPath, match=message) as caught:
        open_location(text)
    assert "secret" not in str(caught.value)


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://u:pw@127.0.0.1:1/x", "postgresql://u@127.0.0.1:1/x"),
        ("redis://:p@ss/w@cache:6379/0", "redis://@cache:6379/0"),
        ("redis://cache:6379/0", "redis://cache:6379/0"),
        (
            "postgresql://u@h/db?password=pw&sslmode=require",
            "postgresql://u@h/db?password=***&sslmode=require",
        ),
        ("lmdb:/srv/a@b", "lmdb:/srv/a@b"),
    ],
)
def test_redact_removes_the_password_and_nothing_else(url, shown):
    assert redact(url) == shown


def test_the_option_beats_the_environment_and_storage_beats_data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("PATCHFLOW_STORAGE", "memory:")
    monkeypatch.setenv("PATCHFLOW_DATA_DIR", str(tmp_path / "env"))
    assert type(resolve_location()) is MemoryLocation
    assert resolve_location(data_dir=tmp_path / "dir").location == str(tmp_path / "dir")
    assert type(resolve_location("memory:", tmp_path / "dir")) is MemoryLocation
    monkeypatch.delenv("PATCHFLOW_STORAGE")
    assert resolve_location().location == str(tmp_path / "env")


def test_a_data_dir_is_never_read_as_a_url(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    location = resolve_location(data_dir="memory:x")
    assert type(location) is LmdbLocation and location.location == "memory:x"


def test_open_storage_takes_a_url_or_a_location(tmp_path):
    with open_storage("p", storage=f"lmdb:{tmp_path}") as storage:
        assert storage.location == str(tmp_path / "p")
    with open_storage("p", storage=LmdbLocation(tmp_path)) as storage:
        assert storage.location == str(tmp_path / "p")
    with open_storage("p", storage="memory:") as storage:
        assert storage.location == ":memory:"


def test_a_bad_url_in_the_environment_is_a_storage_error_naming_the_variable(monkeypatch):
    monkeypatch.setenv("PATCHFLOW_STORAGE", "mysql://:secret@cache/0")
    with pytest.raises(StorageError, match=r"^\$PATCHFLOW_STORAGE: no storage backend") as caught:
        resolve_location()
    assert "secret" not in str(caught.value)
