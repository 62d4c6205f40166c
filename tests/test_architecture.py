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
    for path in (ROOT / "patchflow" / "storage").rglob("*.py"):
        for name in imports_of(path):
            assert not name.startswith(
                ("patchflow.box", "patchflow.runtime", "patchflow.graph", "patchflow_objects")
            ), f"{path.name} imports {name}"


def test_every_public_name_is_exported():
    for name in patchflow.__all__:
        assert hasattr(patchflow, name), name


def _patch_members_used(path: Path) -> set[str]:
    """The attributes a module reads off a box's `patch` (`self.patch.X`, `box.patch.X`)."""
    used: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Attribute)
            and node.value.attr == "patch"
        ):
            used.add(node.attr)
    return used


def test_objects_ask_the_patch_only_what_the_patch_context_declares():
    from patchflow.context import PatchContext

    declared = {name for name in dir(PatchContext) if not name.startswith("_")}
    for path in (ROOT / "objects").glob("*.py"):
        extra = _patch_members_used(path) - declared
        assert not extra, f"{path.name} uses {sorted(extra)}, not in PatchContext (context.py)"


ENGINE = (
    "box.py",
    "graph.py",
    "runtime.py",
    "scheduler.py",
    "delivery.py",
    "context.py",
    "input.py",
    "api.py",
)


@pytest.mark.parametrize("module", ENGINE)
def test_the_engine_calls_no_method_of_a_particular_object(module):
    # what the runtime once called on [stdin] by name; an object's methods are its own
    source = (ROOT / "patchflow" / module).read_text(encoding="utf-8")
    for name in ("read_stdin", "line_in", "end_of_input", "_Listener", "relay("):
        assert name not in source, f"{module} mentions {name}"


def test_only_delivery_writes_the_delivery_slots_of_a_box():
    for path in [*(ROOT / "patchflow").rglob("*.py"), *(ROOT / "objects").glob("*.py")]:
        if path.name == "delivery.py":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Assign):
                for target in node.targets:
                    if isinstance(target, ast.Attribute):
                        assert target.attr not in (
                            "_outlets",
                            "_accept",
                            "_wires",
                            "receive",
                            "send",
                        ), f"{path.name}:{node.lineno} assigns .{target.attr}"
