"""Render a value for an error message: one renderer, one spelling of bytes.

Error messages show the value that was really received, JSON-like: a non-string dict key stays
a number (`{2: 3}`), bytes show their size as `<N bytes>`, a set or other object its repr. The
text is cut with `…` at a limit, and rendering stops once past it, so a huge value costs
nothing. `[print]` output is JSON text instead (messages.to_json), which spells bytes the same
way, as a JSON string.
"""

from __future__ import annotations

import json
from typing import Any


def bytes_label(value: bytes | bytearray | memoryview) -> str:
    """How bytes show in output and errors: `<N bytes>` (they have no JSON text)."""
    return f"<{memoryview(value).nbytes} bytes>"


def describe(value: Any, limit: int = 80) -> str:
    """Render `value` for an error message, JSON-like and at most `limit` characters."""
    parts: list[str] = []
    _render(value, parts, limit + 1)
    text = "".join(parts)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _render(value: Any, parts: list[str], budget: int) -> int:
    """Append `value`'s rendering to `parts`; return the budget left (stop at or below 0)."""
    if budget <= 0:
        return budget
    if value is None or isinstance(value, bool):
        text = {None: "null", True: "true", False: "false"}[value]
    elif isinstance(value, int | float):
        text = json.dumps(value) if type(value) in (int, float) else repr(value)
    elif isinstance(value, str):
        text = _quote(value)
    elif isinstance(value, bytes | bytearray | memoryview):
        text = bytes_label(value)
    elif isinstance(value, list | tuple):
        parts.append("[")
        budget -= 1
        for index, item in enumerate(value):
            if index:
                parts.append(", ")
                budget -= 2
            budget = _render(item, parts, budget)
            if budget <= 0:
                return budget
        text = "]"
    elif isinstance(value, dict):
        parts.append("{")
        budget -= 1
        for index, (key, item) in enumerate(value.items()):
            key_text = _quote(key) if isinstance(key, str) else repr(key)
            parts.append((", " if index else "") + key_text + ": ")
            budget = _render(item, parts, budget - len(key_text) - 4)
            if budget <= 0:
                return budget
        text = "}"
    else:
        text = repr(value)[:budget]
    parts.append(text)
    return budget - len(text)


def _quote(text: str) -> str:
    # JSON quoting, keeping non-ASCII readable but escaping lone surrogates, which could not
    # be printed or encoded.
    quoted = json.dumps(text, ensure_ascii=False)
    return quoted.encode("utf-8", "backslashreplace").decode("utf-8")
