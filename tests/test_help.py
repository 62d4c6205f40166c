"""Every built-in object documents itself, and the generated reference is up to date."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from patchflow import default_registry, parse_patch
from patchflow.docs import render_reference

ROOT = Path(__file__).resolve().parent.parent
SECTIONS = ("Arguments:", "Inlets:", "Outlets:", "Example:")
BUILTINS = list(default_registry())


def test_the_builtin_library_has_every_object_of_the_contract():
    names = {name for cls in BUILTINS for name in (cls.name, *cls.aliases)}
    contract = set(
        [
            "loadbang",
            "print",
            "stdin",
            "msg",
            "m",
            "trigger",
            "t",
            "route",
            "select",
            "sel",
            "spigot",
            "send",
            "s",
            "receive",
            "r",
            "pack",
            "unpack",
            "float",
            "f",
            "int",
            "i",
            "+",
            "-",
            "*",
            "/",
            "%",
            "min",
            "max",
            "==",
            "!=",
            "<",
            "<=",
            ">",
            ">=",
            "expr",
            "map",
            "filter",
            "tap",
            "delay",
            "metro",
            "py",
            "kv",
            "db",
        ]
    )
    assert contract <= names, sorted(contract - names)


@pytest.mark.parametrize("cls", BUILTINS, ids=lambda cls: cls.name)
def test_help_text_has_summary_and_every_section(cls):
    text = cls.help_text()
    summary = text.splitlines()[0]
    assert summary and not summary.endswith(":"), summary
    for section in SECTIONS:
        assert re.search(rf"^{section}$", text, re.M), f"[{cls.name}] help lacks {section}"


@pytest.mark.parametrize("cls", BUILTINS, ids=lambda cls: cls.name)
def test_help_example_is_a_valid_patch(cls):
    example = cls.help_text().split("Example:", 1)[1]
    lines = [line for line in example.splitlines() if line.strip()]
    indent = min(len(line) - len(line.lstrip()) for line in lines)
    text = "\n".join(line[indent:] for line in lines)
    from patchflow import Patch

    Patch.from_string(text, file=f"{cls.name}-example.patch", patch_id="example")
    assert parse_patch(text).boxes


def test_object_reference_in_docs_is_generated_from_the_help_texts():
    committed = (ROOT / "docs" / "objects.md").read_text(encoding="utf-8")
    assert committed == render_reference(), "run `make docs` to regenerate docs/objects.md"
