"""Document field paths: `"author.name"`, `"tags.0"`, and the values a path reaches in a doc.

The one definition of what a field names, shared by the query language (`commands/query.py`),
sorting (`commands/sorting.py`) and the db indexes (`index_keys.py`), so that an index holds
exactly the values a query on the same field tests. It lives in the layout because index
entries are stored data: rebuilding them (on import) must not need the command layer.

A path is a name or names joined by dots. Walking it, a dict is looked up by key; a list is
indexed by a segment of ASCII digits (`"tags.0"`) and otherwise *fans out*: each dict in it is
looked up by key, so `"items.name"` reaches the name of every item (one list level per
segment). Anything else on the way — a missing key, a scalar, an index out of range —
contributes nothing; a path that reaches no value is **missing**. Walking never raises.
"""

from __future__ import annotations

from typing import Any

from ...errors import CommandError
from ...render import describe

__all__ = ["Path", "parse_path", "resolve"]

#: (segment, its list index or None) per segment
Path = tuple[tuple[str, int | None], ...]

_MISSING = object()


def parse_path(field: Any, what: str) -> Path:
    """Split a field into (segment, list index or None) pairs, checking it is a usable path.

    `what` names the field's use in the error text (`"query"`, `"sort"`, `"index"`).

    Raises:
        CommandError: not a string, starts with `$`, or has an empty segment.
    """
    if not isinstance(field, str):
        raise CommandError(f"db: {what} field names must be strings; got {describe(field, 200)}")
    if field.startswith("$"):
        raise CommandError(
            f"db: {what} field {field!r} cannot start with '$'; operators go inside a field, "
            f'e.g. {{"age": {{"$gt": 18}}}}'
        )
    segments = field.split(".")
    if "" in segments:
        raise CommandError(
            f"db: {what} field {field!r} is not a valid path; use names joined by dots, "
            f"e.g. 'author.name'"
        )
    return tuple((s, int(s) if s.isascii() and s.isdigit() else None) for s in segments)


def resolve(doc: dict[str, Any], path: Path) -> tuple[list, bool]:
    """Return the values a path reaches (empty: missing) and whether it fanned out over a list."""
    first = doc.get(path[0][0], _MISSING)
    if first is _MISSING:
        return [], False
    current, fanned = [first], False
    for name, index in path[1:]:
        found = []
        for value in current:
            t = value.__class__
            if t is dict:
                if name in value:
                    found.append(value[name])
            elif t is list or t is tuple:
                if index is not None:
                    if index < len(value):
                        found.append(value[index])
                else:
                    fanned = True
                    found.extend(
                        item[name] for item in value if type(item) is dict and name in item
                    )
        if not found:
            return found, fanned
        current = found
    return current, fanned
