"""Patch ids: the names of patches' storage, checked where they enter (files, CLI, Python).

Kept apart from `storage` so that checking an id does not load LMDB and msgpack: a patch that
never touches its storage starts without them.
"""

from __future__ import annotations

import re

_PATCH_ID = re.compile(r"[A-Za-z0-9_.-]+")


def check_patch_id(patch_id: str) -> str:
    """Return `patch_id` if it may name a patch's storage; raise ValueError if not.

    A patch id is `[A-Za-z0-9_.-]+`, not starting with a dot (so it can never be `..`, a hidden
    file, or a path).
    """
    if not isinstance(patch_id, str) or not _PATCH_ID.fullmatch(patch_id) or patch_id[0] == ".":
        raise ValueError(
            f"invalid patch id {patch_id!r}: use letters, digits, '_', '.' and '-', not"
            " starting with a dot (e.g. 'counter' or 'my-patch.v2')"
        )
    return patch_id
