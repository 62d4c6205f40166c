"""Every example patch runs and prints what its `.expected` file says.

The examples in README.md and docs/ are run by test_docs.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from patchflow import Patch
from patchflow.testing import run_patch

PATCHES = Path(__file__).resolve().parent.parent / "patches"
WITH_EXPECTED = sorted(p for p in PATCHES.glob("*.patch") if p.with_suffix(".expected").exists())


def test_every_example_starts_with_a_comment_saying_what_it_shows():
    for path in PATCHES.glob("*.patch"):
        assert path.read_text(encoding="utf-8").startswith("# "), path.name


@pytest.mark.parametrize("path", WITH_EXPECTED, ids=lambda p: p.stem)
def test_example_prints_its_expected_output(path, tmp_path):
    outcome = run_patch(Patch.from_file(path), data_dir=tmp_path)
    assert outcome.errors == []
    assert outcome.lines == path.with_suffix(".expected").read_text(encoding="utf-8").splitlines()


def test_counter_counts_up_across_runs(tmp_path):
    patch = Patch.from_file(PATCHES / "counter.patch")
    runs = [run_patch(patch, data_dir=tmp_path).lines for _ in range(3)]
    assert runs == [["count: 1"], ["count: 2"], ["count: 3"]]


def test_named_store_example_is_the_same_on_every_run(tmp_path):
    patch = Patch.from_file(PATCHES / "named-store.patch")
    first = run_patch(patch, data_dir=tmp_path).lines
    assert run_patch(patch, data_dir=tmp_path).lines == first


def test_jsrunner_example_keeps_count_and_history_across_runs(tmp_path):
    patch = Patch.from_file(PATCHES / "jsrunner.patch")
    runs = [run_patch(patch, data_dir=tmp_path).lines for _ in range(3)]
    assert runs == [
        ['print: {"count": 1, "history": [1]}'],
        ['print: {"count": 2, "history": [1, 2]}'],
        ['print: {"count": 3, "history": [1, 2, 3]}'],
    ]


def test_notes_example_prints_old_and_new_notes(tmp_path):
    patch = Patch.from_file(PATCHES / "notes.patch")
    first = run_patch(patch, data_dir=tmp_path, stdin=["buy milk\n", "call mom\n"])
    assert first.lines == ['note: "buy milk"', 'note: "call mom"']
    second = run_patch(patch, data_dir=tmp_path, stdin=["water plants\n"])
    assert second.lines == ['note: "buy milk"', 'note: "call mom"', 'note: "water plants"']
