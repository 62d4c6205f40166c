"""Sort and page `db` documents: `find`'s `sort`, `skip` and `limit`.

Sorting, ``{field: 1 | -1, …}``: fields in the dict's order, stable, paths as in queries
(query.py). When a path fans out over a list, its sort value is the list of the values reached.
Every value has a place in one total order, so sorting never raises: missing < None < bools
(false < true) < numbers (NaN first, then by value, int and float together) < strings (code
point) < bytes < lists (element by element, a prefix first) < dicts (by their (key, value) items
in stored order) < anything that is not a message value. ``-1`` reverses that whole order; ties
keep their input order in both directions.

Paging: ``skip`` and ``limit`` are non-negative ints or None (no skip / no limit); they apply
after sorting, and ``limit: 0`` returns no documents.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from ...errors import CommandError
from .base import ABSENT
from .base import describe as _show
from .query import BOOL, BYTES, DICT, KIND, LIST, NUM, OTHER, STR, Path, parse_path, resolve

Sorter = Callable[[Iterable[dict[str, Any]]], list[dict[str, Any]]]


def _sort_key(value: Any) -> tuple:
    """Place any value in the total order described in the module docstring."""
    kind = KIND.get(type(value), OTHER)
    if kind == NUM:
        return (kind, 0, 0) if value != value else (kind, 1, value)
    if kind in (BOOL, STR, BYTES):
        return (kind, value)
    if kind == LIST:
        return (kind, tuple(map(_sort_key, value)))
    if kind == DICT:
        return (kind, tuple((_sort_key(k), _sort_key(v)) for k, v in value.items()))
    return (kind,)


def compile_sort(sort: dict[str, int] | None) -> Sorter:
    """Compile `{field: 1 | -1, …}` into a function returning the docs sorted, as a new list.

    Raises:
        CommandError: sort is not a dict, names a bad field, or a direction is not 1 or -1.
    """
    if sort is None:
        return list
    if not isinstance(sort, dict):
        raise CommandError(f"db: sort must be a dict of {{field: 1 | -1}}; got {_show(sort)}")
    keys = []
    for field, direction in sort.items():
        path = parse_path(field, "sort")
        if type(direction) is not int or direction not in (1, -1):
            raise CommandError(
                f"db: sort direction for field {field!r} must be 1 (ascending) or -1 "
                f"(descending); got {_show(direction)}"
            )
        keys.append((_sort_key_function(path), direction == -1))

    def sort_documents(docs: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
        result = list(docs)
        for key, descending in reversed(keys):  # stable passes: the last field first
            result.sort(key=key, reverse=descending)
        return result

    return sort_documents


def _sort_key_function(path: Path) -> Callable[[Any], tuple]:
    def key(doc: dict[str, Any]) -> tuple:
        found, fanned = resolve(doc, path)
        if not found:
            return _sort_key(ABSENT)
        return _sort_key(found if fanned else found[0])

    return key


def validate_paging(skip: Any, limit: Any) -> None:
    """Check skip and limit are each None or a non-negative int (a bool is not an int here).

    Raises:
        CommandError: naming the bad one, e.g. `db: 'limit' must be … got -1`.
    """
    for name, value in (("skip", skip), ("limit", limit)):
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, int) or value < 0
        ):
            raise CommandError(
                f"db: {name!r} must be a non-negative integer (or left out); got {_show(value)}"
            )
