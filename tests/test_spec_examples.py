"""The storage spec's three example patches run as written and behave as the spec says.

patches/spec-counter.patch, spec-notes.patch and spec-jsrunner.patch hold the diagrams and
the JSRunner code of the spec's "Example Patches" section byte for byte (one test reads them
out of the spec and compares); the other tests run them several times on one data directory.
The spec is the project's seed, kept beside the repository in ../shared/seeds (CI has it
there too).
"""

from __future__ import annotations

import json
import os
import re
import textwrap
from pathlib import Path

import pytest

from patchflow import Patch
from patchflow.testing import run_patch

ROOT = Path(__file__).resolve().parent.parent
PATCHES = ROOT / "patches"
SEEDS = ROOT.parent / "shared" / "seeds"


def spec_examples() -> list[str]:
    """The code blocks of the spec's "Example Patches" section: Counter, Notes, JSRunner."""
    for seed in sorted(SEEDS.glob("000_*.txt")):
        text = seed.read_text(encoding="utf-8")
        if "## Example Patches" in text:
            section = text.split("## Example Patches", 1)[1].split("\n## ", 1)[0]
            return re.findall(r"^```[a-z]*\n(.*?)^```", section, flags=re.S | re.M)
    if os.environ.get("CI") == "true":
        pytest.fail(f"the storage spec (000_*.txt with 'Example Patches') is missing in {SEEDS}")
    pytest.skip(f"the storage spec is not beside the repository ({SEEDS})")


def test_the_example_patches_hold_the_spec_diagrams_and_code_unchanged():
    counter, notes, jsrunner = spec_examples()
    assert counter in (PATCHES / "spec-counter.patch").read_text(encoding="utf-8")
    assert notes in (PATCHES / "spec-notes.patch").read_text(encoding="utf-8")
    body = textwrap.indent(jsrunner, "    ")  # the code as the indented body of `runner`
    assert f"runner = [js]\n{body}" in (PATCHES / "spec-jsrunner.patch").read_text(encoding="utf-8")


def test_the_spec_has_the_three_examples_this_file_expects():
    counter, notes, jsrunner = spec_examples()
    assert "[kv counter]" in counter and "[db]" in notes and "kv.get" in jsrunner


def test_spec_counter_counts_up_across_runs(tmp_path):
    patch = Patch.from_file(PATCHES / "spec-counter.patch")
    runs = [run_patch(patch, data_dir=tmp_path) for _ in range(3)]
    assert [(run.lines, run.errors) for run in runs] == [
        (["count: 1"], []),
        (["count: 2"], []),
        (["count: 3"], []),
    ]
    reader = Patch.from_string(
        "patch spec-counter\n[loadbang] -> [msg get count] -> [kv counter] -> [print]"
    )
    assert run_patch(reader, data_dir=tmp_path).lines == [
        'print: {"op": "get", "key": "count", "value": 3, "found": true}'
    ]


def listed(lines: list[str]) -> list[dict]:
    assert all(line.startswith("list view: ") for line in lines), lines
    return [json.loads(line.removeprefix("list view: ")) for line in lines]


def test_spec_notes_stores_each_line_typed_and_lists_the_notes(tmp_path):
    patch = Patch.from_file(PATCHES / "spec-notes.patch")
    first = run_patch(patch, data_dir=tmp_path, stdin=["buy milk\n", "call mom\n"])
    assert (first.lines, first.errors) == ([], [])  # nothing stored when the run began
    second = run_patch(patch, data_dir=tmp_path, stdin=["water plants\n"])
    assert second.errors == []
    assert [note["text"] for note in listed(second.lines)] == ["buy milk", "call mom"]
    third = run_patch(patch, data_dir=tmp_path, stdin=[])
    notes = listed(third.lines)
    assert [note["text"] for note in notes] == ["buy milk", "call mom", "water plants"]
    for note in notes:  # as the spec's db stores them: an id, timestamps, and the js's `ts`
        assert isinstance(note["_id"], str) and note["_id"]
        assert type(note["ts"]) is int and note["ts"] > 1_600_000_000_000


def test_spec_jsrunner_keeps_a_counter_and_the_last_ten_history_entries(tmp_path):
    patch = Patch.from_file(PATCHES / "spec-jsrunner.patch")
    for run_number in range(1, 12):
        outcome = run_patch(patch, data_dir=tmp_path)
        assert outcome.errors == []
        [line] = outcome.lines
        sent = json.loads(line.removeprefix("print: "))
        assert sent["count"] == run_number
        counts = [entry["count"] for entry in sent["history"]]
        assert counts == list(range(max(1, run_number - 9), run_number + 1))
        assert all(type(entry["timestamp"]) is int for entry in sent["history"])
