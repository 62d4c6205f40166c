"""The documentation tells the truth: its links resolve inside the repository and its examples run.

The Markdown files checked are README.md and docs/*.md. Fenced code blocks are run according
to their language tag:

- ```patch: a complete patch. It is built and run (storage in memory, timers on a mock clock,
  the file called `example.patch`) and must print no runtime error.
- ```output right after a ```patch or ```python block (only blank lines between): the lines
  that block prints, exactly.
- ```errors right after a ```patch block: the problems `patchflow check` reports for it when
  it does not build, else the runtime errors its run reports, exactly.
- ```patch-fragment: a piece of a patch, shown for its form. It must parse; only names
  declared elsewhere may be missing. Prefer complete examples.
- ```python: run, in file order, each in a fresh namespace, in one temporary directory per
  Markdown file that also holds a link to `patches/`.
- ```python-sketch: Python shown for its shape (a class with `...` bodies). It must parse.
- Any other block (shell sessions, plain text, tables of output) is not run.

Also here: `patchflow check` and `patchflow help` never run a patch's code (README, Security).
"""

from __future__ import annotations

import contextlib
import io
import re
import textwrap
from pathlib import Path
from urllib.parse import unquote

import attrs
import pytest
from click.testing import CliRunner

from patchflow import Patch, PatchError, parse_patch
from patchflow.cli import main as patchflow_main
from patchflow.testing import run_patch

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
EXAMPLE_FILE = "example.patch"


# ---- reading Markdown --------------------------------------------------------------------------


RESULT_TAGS = ("output", "errors")


@attrs.frozen
class Block:
    """One fenced code block: its language tag, its text, where it starts, and the result
    blocks (```output, ```errors) that follow it with only blank lines between."""

    path: Path
    tag: str
    text: str
    line: int  # of the opening fence, 1-based
    results: dict[str, str] = attrs.field(factory=dict)
    follows_block: bool = False  # only blank lines separate it from the block before

    @property
    def where(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"


_FENCE = re.compile(r"^(`{3,}|~{3,})\s*([^\s`]*)")


def read_blocks(path: Path) -> list[Block]:
    """Every fenced code block of a Markdown file, in order, with the results shown for it."""
    blocks: list[Block] = []
    lines = path.read_text(encoding="utf-8").splitlines()
    i, after_block = 0, -1  # the index of the line after the last closing fence
    while i < len(lines):
        match = _FENCE.match(lines[i])
        if not match:
            i += 1
            continue
        fence, tag, start = match[1], match[2], i
        i += 1
        while i < len(lines) and not lines[i].startswith(fence):
            i += 1
        adjacent = after_block >= 0 and not any(line.strip() for line in lines[after_block:start])
        text = "\n".join(lines[start + 1 : i]) + "\n"
        blocks.append(Block(path, tag, text, start + 1, follows_block=adjacent))
        i += 1
        after_block = i
    for k, block in enumerate(blocks):
        for result in blocks[k + 1 :]:
            if not result.follows_block or result.tag not in RESULT_TAGS:
                break
            block.results.setdefault(result.tag, result.text)
    return blocks


def without_code_blocks(path: Path) -> str:
    """The file's text without its fenced code blocks."""
    text = path.read_text(encoding="utf-8")
    return re.sub(r"^(`{3,}|~{3,}).*?^\1\s*$", "", text, flags=re.M | re.S)


def prose(path: Path) -> str:
    """The file's text without code, fenced or inline (links there are not links)."""
    return re.sub(r"(`+)(?:(?!\1).)+?\1", "", without_code_blocks(path), flags=re.S)


def links(path: Path) -> list[str]:
    """The targets of a Markdown file's links: inline, images, reference-style, <autolinks>."""
    text = prose(path)
    inline = re.findall(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)", text)
    reference = re.findall(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)", text, flags=re.M)
    auto = re.findall(r"<([a-z][a-z0-9+.-]*:[^>\s]+)>", text, flags=re.I)
    return inline + reference + auto


def anchors(path: Path) -> set[str]:
    """The anchors GitHub makes for a file's headings (`## Hot and cold` → `hot-and-cold`)."""
    seen: dict[str, int] = {}
    result = set()
    headings = re.finditer(r"^#{1,6}\s+(.+?)\s*#*\s*$", without_code_blocks(path), flags=re.M)
    for match in headings:
        slug = re.sub(r"[^\w\- ]", "", match[1].strip().lower()).replace(" ", "-")
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        result.add(slug if count == 0 else f"{slug}-{count}")
    return result


def blocks_tagged(*tags: str) -> list[Block]:
    return [block for path in DOCS for block in read_blocks(path) if block.tag in tags]


def _id(block: Block) -> str:
    return block.where


# ---- links -------------------------------------------------------------------------------------


def test_the_documentation_files_exist():
    names = {path.name for path in DOCS}
    wanted = {"README.md", "language.md", "messages.md", "objects.md", "storage.md", "cli.md"}
    assert wanted <= names, sorted(wanted - names)


@pytest.mark.parametrize("path", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_link_resolves_to_a_file_and_heading_in_the_repository(path):
    problems = []
    for target in links(path):
        if re.match(r"[a-z][a-z0-9+.-]*:", target, flags=re.I) or target.startswith("//"):
            problems.append(f"{target}: points outside the repository; link to a file in it")
            continue
        file_part, _, anchor = target.partition("#")
        linked = (path.parent / unquote(file_part)).resolve() if file_part else path
        if not linked.is_relative_to(ROOT):
            problems.append(f"{target}: leaves the repository")
        elif not linked.exists():
            problems.append(f"{target}: no such file")
        elif anchor and linked.suffix == ".md" and anchor not in anchors(linked):
            problems.append(f"{target}: no heading with anchor #{anchor} in {linked.name}")
    assert problems == [], f"{path.name}: " + "; ".join(problems)


@pytest.mark.parametrize("path", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_bare_web_address_in_the_prose(path):
    assert re.findall(r"\b(?:https?|ftp)://\S+", prose(path)) == []


def test_the_link_checker_sees_what_it_must_refuse(tmp_path):
    page = tmp_path / "page.md"
    page.write_text(
        "# The `x` title\n[a](../x.md) [b](https://example.com)\n"
        "[c](page.md#nope) [d](page.md#the-x-title)\n"
        "`[e](not/a/link.md)`\n```\n[f](in/code.md)\n```\n",
        encoding="utf-8",
    )
    assert links(page) == ["../x.md", "https://example.com", "page.md#nope", "page.md#the-x-title"]
    assert anchors(page) == {"the-x-title"}


# ---- patch examples ----------------------------------------------------------------------------

PATCH_BLOCKS = blocks_tagged("patch")


def test_there_are_patch_examples_in_every_reference_page():
    pages = {block.path.name for block in PATCH_BLOCKS}
    assert {"README.md", "language.md", "messages.md", "storage.md"} <= pages


@pytest.mark.parametrize("block", PATCH_BLOCKS, ids=_id)
def test_patch_example_runs_as_shown(block):
    expected_errors = block.results.get("errors", "").splitlines()
    try:
        patch = Patch.from_string(block.text, file=EXAMPLE_FILE)
    except PatchError as exc:
        problems = [str(p) for p in exc.problems]
        assert expected_errors, f"{block.where}: the example does not build:\n" + str(exc)
        assert problems == expected_errors, block.where
        return
    outcome = run_patch(patch)
    assert outcome.errors == expected_errors, block.where
    if "output" in block.results:
        assert outcome.lines == block.results["output"].splitlines(), block.where


def test_python_sketches_parse():
    import ast

    for block in blocks_tagged("python-sketch"):
        ast.parse(block.text, filename=f"{block.path}:{block.line}")


def test_patch_fragments_parse():
    for block in blocks_tagged("patch-fragment"):
        problems = parse_patch(block.text, EXAMPLE_FILE).problems
        assert [p for p in problems if "is not declared" not in p.message] == [], block.where


def test_output_and_errors_blocks_belong_to_an_example():
    for path in DOCS:
        owner = None  # the example the result blocks just read belong to
        for block in read_blocks(path):
            if block.tag not in RESULT_TAGS:
                owner = block.tag
            elif not block.follows_block:
                owner = None
            allowed = ("patch", "python") if block.tag == "output" else ("patch",)
            if block.tag in RESULT_TAGS:
                assert owner in allowed, f"{block.where}: ```{block.tag} follows no example"


# ---- Python examples ---------------------------------------------------------------------------

PYTHON_PAGES = sorted({block.path for block in blocks_tagged("python")})


@pytest.mark.parametrize("path", PYTHON_PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_python_examples_run_as_shown(path, tmp_path, monkeypatch):
    (tmp_path / "patches").symlink_to(ROOT / "patches")
    monkeypatch.chdir(tmp_path)
    for block in read_blocks(path):
        if block.tag != "python":
            continue
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            exec(compile(block.text, block.where, "exec"), {"__name__": "example"})
        if "output" in block.results:
            assert printed.getvalue().splitlines() == block.results["output"].splitlines(), (
                block.where
            )


def test_the_readme_has_python_examples():
    assert ROOT / "README.md" in PYTHON_PAGES


# ---- check and help never run patch code -------------------------------------------------------


def _patch_that_writes(tmp_path: Path) -> tuple[Path, Path, Path]:
    """A patch whose [py] and [expr] would each create a file, were they ever run."""
    by_py, by_expr = tmp_path / "made-by-py", tmp_path / "made-by-expr"
    text = f"""\
        code = [py]
            import pathlib
            pathlib.Path({str(by_py)!r}).write_text("ran")
            print("PY-RAN")
        [loadbang] -> code
        write = [expr __import__("pathlib").Path({str(by_expr)!r}).write_text("ran")]
        [loadbang] -> write -> [print]
        """
    path = tmp_path / "writes.patch"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path, by_py, by_expr


def test_the_code_test_patch_really_runs_its_code_when_run(tmp_path):
    path, by_py, by_expr = _patch_that_writes(tmp_path)
    outcome = run_patch(Patch.from_file(path))
    assert outcome.errors == []
    assert by_py.exists() and by_expr.exists()


def test_check_never_runs_patch_code(tmp_path):
    path, by_py, by_expr = _patch_that_writes(tmp_path)
    result = CliRunner().invoke(patchflow_main, ["check", str(path)])
    assert result.exit_code == 0, result.output
    assert "PY-RAN" not in result.output
    assert not by_py.exists() and not by_expr.exists()


def test_help_never_runs_patch_code(tmp_path):
    path, by_py, by_expr = _patch_that_writes(tmp_path)
    for args in (["help"], ["help", "py"], ["help", "expr"], ["help", str(path)]):
        result = CliRunner().invoke(patchflow_main, args)
        assert "PY-RAN" not in result.output, args
    assert not by_py.exists() and not by_expr.exists()


@pytest.mark.parametrize("name", ["py", "expr"])
def test_help_of_code_objects_warns_that_patches_run_code(name):
    result = CliRunner().invoke(patchflow_main, ["help", name])
    assert result.exit_code == 0
    assert "Security:" in result.output and "trust" in result.output
