"""Dependencies point one way (trio's test_exports idea): checked by reading imports."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import patchflow

ROOT = Path(__file__).resolve().parent.parent


def imports_of(path: Path) -> set[str]:
    """Every module a file imports, relative imports resolved against its package."""
    package = ".".join(path.relative_to(ROOT).with_suffix("").parts[:-1])
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                found.add(".".join([*base, node.module] if node.module else base))
            else:
                found.add(node.module or "")
    return found


def test_objects_import_only_the_public_patchflow_api():
    for path in (ROOT / "objects").glob("*.py"):
        for name in imports_of(path):
            assert not name.startswith("patchflow."), f"{path.name} imports {name}"


PARSER = ("language.py", "_patch_scanner.py", "diagram.py", "_wire_tracer.py")


@pytest.mark.parametrize("module", PARSER)
def test_parser_knows_nothing_of_the_runtime_or_storage(module):
    for name in imports_of(ROOT / "patchflow" / module):
        assert name.split(".")[0] != "trio"
        assert not name.startswith(
            ("patchflow.runtime", "patchflow.storage", "patchflow.box", "patchflow.graph")
        ), f"{module} imports {name}"


def test_graph_knows_nothing_of_trio_or_storage():
    for name in imports_of(ROOT / "patchflow" / "graph.py"):
        assert name.split(".")[0] != "trio"
        assert not name.startswith(("patchflow.runtime", "patchflow.storage"))


def test_storage_knows_nothing_of_boxes_or_the_runtime():
    for path in (ROOT / "patchflow" / "storage").glob("*.py"):
        for name in imports_of(path):
            assert not name.startswith(
                ("patchflow.box", "patchflow.runtime", "patchflow.graph", "patchflow_objects")
            ), f"{path.name} imports {name}"


def test_every_public_name_is_exported():
    for name in patchflow.__all__:
        assert hasattr(patchflow, name), name
