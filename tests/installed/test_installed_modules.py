"""The installed distribution is whole: every module of the checkout is installed and imports,
its data files are there, and its entry points load.

A hand-kept package list once left `patchflow.datacli` out of the wheel; nothing failed until a
user ran `patchflow data`. Importing everything that was installed, and comparing it with the
checkout, fails instead.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.resources
import os
import pkgutil
from pathlib import Path

import patchflow
import patchflow_objects

#: import name → directory in the checkout (objects/ installs as patchflow_objects)
PACKAGES = {"patchflow": "patchflow", "patchflow_objects": "objects"}


def installed_modules(package: str) -> set[str]:
    """Every module and package under `package` as installed, found by walking it."""

    def fail(name: str) -> None:
        raise ImportError(f"cannot import installed package {name}")

    root = importlib.import_module(package)
    walked = pkgutil.walk_packages(root.__path__, prefix=f"{package}.", onerror=fail)
    return {package, *(info.name for info in walked)}


def source_modules(source_dir: Path, package: str) -> set[str]:
    """Every module the checkout holds under `package`'s directory."""
    directory = source_dir / PACKAGES[package]
    names = set()
    for path in directory.rglob("*.py"):
        parts = path.relative_to(directory).with_suffix("").parts
        if "__pycache__" in parts:
            continue
        if parts[-1] == "__init__":
            parts = parts[:-1]
        names.add(".".join((package, *parts)))
    return names


def source_data_files(source_dir: Path, package: str) -> set[str]:
    """Every file of `package` in the checkout that is not Python: each must be installed."""
    directory = source_dir / PACKAGES[package]
    return {
        path.relative_to(directory).as_posix()
        for path in directory.rglob("*")
        if path.is_file()
        and path.suffix not in {".py", ".pyc"}
        and "__pycache__" not in path.parts
        and not path.name.startswith(".")
    }


def test_every_installed_module_imports():
    for package in PACKAGES:
        for name in sorted(installed_modules(package)):
            if name.rpartition(".")[2] == "__main__":
                continue  # importing it runs the command line
            importlib.import_module(name)


def test_every_module_of_the_checkout_is_installed(source_dir):
    for package in PACKAGES:
        missing = source_modules(source_dir, package) - installed_modules(package)
        assert not missing, (
            f"the installation lacks {sorted(missing)}: check package discovery in pyproject.toml"
        )


def test_every_data_file_of_the_checkout_is_installed(source_dir):
    assert "py.typed" in source_data_files(source_dir, "patchflow")
    for package in PACKAGES:
        installed = importlib.resources.files(package)
        missing = [
            name
            for name in sorted(source_data_files(source_dir, package))
            if not installed.joinpath(name).is_file()
        ]
        assert not missing, (
            f"{package} is installed without {missing}: list them in "
            "[tool.setuptools.package-data] of pyproject.toml"
        )


def test_the_builtin_objects_load_through_their_entry_point():
    (entry,) = importlib.metadata.entry_points(group="patchflow.objects", name="builtin")
    assert entry.load() is patchflow_objects
    assert patchflow.default_registry().get("print") is not None


def test_the_console_script_is_declared_and_installed_beside_python(patchflow_executable):
    (script,) = importlib.metadata.entry_points(group="console_scripts", name="patchflow")
    assert script.load() is importlib.import_module("patchflow.cli").main
    assert os.access(patchflow_executable, os.X_OK)


def test_patchflow_comes_from_the_installation_under_test(installed, source_dir):
    """With PATCHFLOW_TEST_INSTALLED=1 an import from the checkout would test the source, not
    the wheel, and pass for the wrong reason."""
    if not installed:
        return
    for module in (patchflow, patchflow_objects):
        where = Path(module.__file__).resolve()
        assert not where.is_relative_to(source_dir), (
            f"{module.__name__} was imported from the checkout ({where}), not the installed"
            " wheel: run the tests from a directory outside the checkout, without PYTHONPATH"
        )
