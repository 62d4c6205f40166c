"""Patch ids: the names of patches' storage, checked where they enter (files, CLI, Python).

Kept apart from `storage` so that checking an id does not load LMDB and msgpack: a patch that
never touches its storage starts without them.

A patch id names a directory, `DATA_DIR/PATCH_ID/`, so it must be a safe file name everywhere:
ASCII letters, digits, `_`, `.` and `-`, not starting with a dot (never `..`, a hidden file or a
path), and at most `MAX_PATCH_ID_LENGTH` characters. The id is ASCII, so characters are bytes.
The limit is 128, not the 255 bytes most file systems allow per name, because the default data
directory is in the home directory and an encrypted home (eCryptfs) allows only 143 bytes per
name; a limit well under both also leaves room for names built from an id later (a backup
beside it, a temporary directory while importing) and keeps ids readable in log lines.
"""

from __future__ import annotations

import re
import unicodedata

#: the longest patch id, in characters (= UTF-8 bytes: an id is ASCII); see the module docs
MAX_PATCH_ID_LENGTH = 128

_PATCH_ID = re.compile(r"[A-Za-z0-9_.-]+")
_NOT_ALLOWED = re.compile(r"[^A-Za-z0-9_.-]")
_FALLBACK = "my-patch"  # the suggestion when nothing of the id can be kept


def patch_id_problem(patch_id: object, advice: str = "e.g. '{id}'") -> str | None:
    """Say what is wrong with `patch_id` and how to write it, or return None if it is valid.

    The text reads after "invalid patch id 'X': " and ends with `advice`, whose `{id}` becomes
    a valid id close to the one given, so each caller (the `patch` line, a file name, the
    command line) can say what to change there.
    """
    if not isinstance(patch_id, str):
        return f"a patch id is text, not {type(patch_id).__name__} — {advice.format(id='counter')}"
    if not patch_id:
        return f"it is empty — {advice.format(id='counter')}"
    reasons = []
    if patch_id[0] == ".":
        reasons.append("it must not start with '.'")
    bad = dict.fromkeys(_NOT_ALLOWED.findall(patch_id))
    if bad:
        shown = " ".join(_show_char(c) for c in list(bad)[:5]) + (" …" if len(bad) > 5 else "")
        reasons.append(f"use only letters, digits, '_', '.' and '-' (not {shown})")
    size = len(patch_id.encode("utf-8", "surrogatepass"))
    if size > MAX_PATCH_ID_LENGTH:
        reasons.append(f"it is {size} bytes long; the limit is {MAX_PATCH_ID_LENGTH}")
    if not reasons:
        return None
    return f"{'; '.join(reasons)} — {advice.format(id=suggest_patch_id(patch_id))}"


def check_patch_id(patch_id: str) -> str:
    """Return `patch_id` if it may name a patch's storage; raise ValueError saying why not.

    A patch id is `[A-Za-z0-9_.-]+`, not starting with a dot, at most `MAX_PATCH_ID_LENGTH`
    characters long; the error shows a valid id close to the one given.
    """
    problem = patch_id_problem(patch_id)
    if problem is not None:
        raise ValueError(f"invalid patch id {show_patch_id(patch_id)}: {problem}")
    return patch_id


def is_patch_id(patch_id: object) -> bool:
    """Whether `patch_id` is a valid patch id."""
    return patch_id_problem(patch_id) is None


def suggest_patch_id(text: str) -> str:
    """Return a valid patch id close to `text`, for "e.g." and "did you mean" hints.

    Accented letters lose their accents (`café` → `cafe`), every run of other characters that
    are not allowed becomes one `-`, leading dots and dashes and trailing dashes go, and the
    result is cut to the length limit; when nothing is left, `my-patch`.
    """
    pieces: list[str] = []
    for char in str(text):
        if _PATCH_ID.fullmatch(char):
            pieces.append(char)
            continue
        ascii_form = unicodedata.normalize("NFKD", char).encode("ascii", "ignore").decode()
        ascii_form = _NOT_ALLOWED.sub("", ascii_form)
        if ascii_form:
            pieces.append(ascii_form)
        elif pieces and pieces[-1] != "-":
            pieces.append("-")
    suggestion = "".join(pieces).lstrip(".-")[:MAX_PATCH_ID_LENGTH].rstrip("-")
    return suggestion or _FALLBACK


def show_patch_id(patch_id: object, limit: int = 40) -> str:
    """The id quoted for an error message, cut with `…` when it is long."""
    shown = repr(patch_id)
    return shown if len(shown) <= limit else shown[: limit - 2] + "…" + shown[0]


def _show_char(char: str) -> str:
    if char.isprintable() and not char.isspace():
        return repr(char)
    return {" ": "spaces", "\t": "tabs"}.get(char, f"U+{ord(char):04X}")
