"""Patch ids: the length limit, the error texts and the suggestions they make, wherever an id
enters (the `patch` line, the file name, the Python API, storage, `patchflow data`)."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from patchflow import Patch, PatchError
from patchflow.language import parse_patch
from patchflow.patchid import (
    MAX_PATCH_ID_LENGTH,
    check_patch_id,
    is_patch_id,
    patch_id_problem,
    suggest_patch_id,
)

INVALID_IDS = [
    "",
    ".",
    "..",
    ".hidden",
    "...",
    "my patch",
    "my file.v2 final",
    "a/b",
    "../x",
    "café",
    "naïve résumé",
    "日本語",
    "x\x00y",
    " ",
    ".-.",
    "x" * 300,
    "é" * 200,
    ". " + "y" * 400,
]


def example_in(text: str) -> str:
    """The id the error text proposes: the quoted word it ends with (after `patch ` if any)."""
    found = re.search(r"'(?:patch )?([^' ]*)'$", text)
    assert found, text
    return found[1]


@pytest.mark.parametrize("patch_id", ["a", "counter", "-x", "v1.2", "x" * MAX_PATCH_ID_LENGTH])
def test_valid_ids_up_to_the_limit_are_accepted(patch_id):
    assert check_patch_id(patch_id) == patch_id


def test_an_id_over_the_limit_says_how_long_it_is_and_what_the_limit_is():
    with pytest.raises(ValueError) as caught:
        check_patch_id("x" * 300)
    message = str(caught.value)
    assert message.startswith("invalid patch id 'xxxx")
    assert "it is 300 bytes long; the limit is 128" in message
    assert "data directory" not in message
    assert len(message) < 300  # the id itself is cut in the message
    assert is_patch_id(example_in(message))
    with pytest.raises(ValueError, match="129 bytes long"):
        check_patch_id("x" * (MAX_PATCH_ID_LENGTH + 1))


@pytest.mark.parametrize("patch_id", INVALID_IDS)
def test_every_invalid_id_gets_a_valid_suggestion(patch_id):
    assert not is_patch_id(patch_id)
    with pytest.raises(ValueError, match="invalid patch id") as caught:
        check_patch_id(patch_id)
    assert is_patch_id(example_in(str(caught.value)))
    assert is_patch_id(suggest_patch_id(patch_id))


@pytest.mark.parametrize(
    ("text", "suggestion"),
    [
        ("my patch", "my-patch"),
        ("my file.v2 final", "my-file.v2-final"),
        (".hidden", "hidden"),
        ("café au lait", "cafe-au-lait"),
        ("日本語", "my-patch"),
        ("...", "my-patch"),
        ("x" * 300, "x" * MAX_PATCH_ID_LENGTH),
    ],
)
def test_suggestions_keep_what_they_can_of_the_id(text, suggestion):
    assert suggest_patch_id(text) == suggestion


@given(st.text(max_size=400))
def test_every_suggestion_is_a_valid_id(text):
    assert is_patch_id(suggest_patch_id(text))


@given(st.text(max_size=300))
def test_the_example_in_every_problem_is_a_valid_id(text):
    problem = patch_id_problem(text)
    if problem is not None:
        assert is_patch_id(example_in(problem))


def test_a_non_string_id_is_a_value_error():
    with pytest.raises(ValueError, match="a patch id is text, not int"):
        check_patch_id(5)  # type: ignore[arg-type]


# -- where ids enter ----------------------------------------------------------------------------


@pytest.mark.parametrize("patch_id", ["x" * 300, "my patch", ".hidden", "café", ". a"])
def test_a_bad_patch_line_is_a_problem_at_the_id_with_a_valid_example(patch_id):
    decl = parse_patch(f"patch {patch_id}\n[print]\n", "t.patch")
    [problem] = decl.problems
    assert (problem.line, problem.column) == (1, 7)
    assert problem.message.startswith("bad patch id '")
    assert is_patch_id(example_in(problem.message))
    assert decl.patch_id is None


def test_a_too_long_patch_line_says_the_length_and_the_limit():
    [problem] = parse_patch("patch " + "p" * 300 + "\n", "t.patch").problems
    assert "it is 300 bytes long; the limit is 128 — write e.g. 'patch ppp" in problem.message


@pytest.mark.parametrize(
    ("file", "patch_id", "fixed"),
    [
        ("my patch.patch", "my patch", "my-patch"),
        ("café.patch", "café", "cafe"),
        ("..patch", ".", "my-patch"),
        ("n" * 200 + ".patch", "n" * 200, "n" * 128),
    ],
)
def test_a_file_name_that_gives_a_bad_id_is_a_problem_at_line_1(file, patch_id, fixed):
    with pytest.raises(PatchError) as caught:
        Patch.from_string("[print]\n", file=file)
    [problem] = caught.value.problems
    assert (problem.file, problem.line, problem.column) == (file, 1, 1)
    assert problem.message.startswith("invalid patch id '")
    assert "(from the file name)" in problem.message
    assert f"rename the file to '{fixed}.patch' or add the line 'patch {fixed}'" in (
        problem.message
    )


def test_an_id_given_in_python_is_checked_too():
    with pytest.raises(ValueError, match="300 bytes long; the limit is 128"):
        Patch.from_string("[print]\n", patch_id="i" * 300)


def test_a_patch_line_makes_any_file_name_fine():
    assert Patch.from_string("patch ok\n[print]\n", file="my patch.patch").id == "ok"


def test_storage_refuses_a_long_id_before_touching_the_disk(tmp_path):
    from patchflow.storage import open_storage

    with pytest.raises(ValueError, match="300 bytes long; the limit is 128"):
        open_storage("s" * 300, tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_data_commands_refuse_a_long_id_with_exit_2(tmp_path):
    from patchflow.cli import main

    result = CliRunner().invoke(main, ["data", "show", "d" * 300, "--data-dir", str(tmp_path)])
    assert result.exit_code == 2
    assert "300 bytes long; the limit is 128" in result.stderr
    assert "writable data directory" not in result.stderr


@pytest.mark.slow
def test_check_reports_a_long_file_name_as_a_positioned_error(tmp_path):
    patch = tmp_path / ("f" * 200 + ".patch")
    patch.write_text("[print]\n", encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "patchflow", "check", str(patch)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.startswith(f"{patch}:1:1: invalid patch id 'fff")
    assert "it is 200 bytes long; the limit is 128" in result.stderr
    assert "Traceback" not in result.stderr
