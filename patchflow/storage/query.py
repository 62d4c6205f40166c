"""Match, sort and page `db` documents: the query language of `find` and `count`.

Pure functions over decoded documents (dicts of message values); no storage here. A query is
compiled once per command into closures, so matching a document costs no dispatch on operator
names. Invalid queries, sorts and paging raise `CommandError` before any document is read.

Queries, ``{field: condition, …}`` — a document matches when every field's condition holds:

- A field is a name or a dotted path (``"author.name"``); it may not start with ``$``, nor have
  empty segments. Walking a path, a dict is looked up by key; a list is indexed by a segment of
  ASCII digits (``"tags.0"``) and otherwise *fans out*: each dict in it is looked up by key, so
  ``"items.name"`` reaches the name of every item (one list level per segment). Anything else on
  the way — a missing key, a scalar, an index out of range — contributes nothing. A field whose
  walk reaches no value is **missing**; walking never raises.
- A condition is a plain value (equality), or an operator dict whose keys all start with ``$``
  (several operators must all hold). A dict without ``$`` keys, including ``{}``, is a plain
  value; a dict mixing both is an error.
- Kinds: None, bool, number (int and float; *not* bool), str, bytes, list (tuples count as
  lists), dict. Values of different kinds are never equal and never ordered, so ``1`` does not
  match ``true`` and ``"5"`` is not ``$gt 4`` — no match, no error. ``1`` equals ``1.0``; NaN
  equals NaN (so a stored NaN can be found) but no ordering operator matches NaN. Lists are
  equal element by element, dicts by key set and values (key order ignored), kind-safely.
- Equality (a plain value, ``$eq``) holds when a reached value equals the operand, or is a list
  with an element equal to it; so ``{tags: "x"}`` matches ``tags: ["x", "y"]`` and
  ``{tags: ["x", "y"]}`` matches the whole list. ``None`` also matches a missing field.
- ``$gt $gte $lt $lte`` hold when a reached value, or an element of a reached list, is of the
  operand's kind and compares true. Only numbers, strings (by code point), bytes and bools
  (false < true) are ordered; any other operand (None, list, dict) never matches.
- ``$in: [v, …]`` holds when equality holds for some ``v`` (so ``$in: [null]`` matches missing);
  ``$nin`` is its negation.
- ``$ne`` is the negation of equality, like MongoDB: it matches a missing field, and does not
  match a list containing the operand. ``$nin`` likewise matches a missing field.
- ``$contains``: a string operand is a substring of a reached string (bytes in bytes likewise);
  any operand is a member (kind-safe equality) of a reached list. Otherwise no match.
- ``$exists: true`` holds when the field is not missing (a stored None exists); ``false`` when it
  is. ``$in``/``$nin`` need a list and ``$exists`` a bool.
- When a path reaches several values (fan-out), a condition holds if it holds for any of them;
  the negations ``$ne``, ``$nin`` and ``$exists: false`` hold only if it holds for none.

Sorting, ``{field: 1 | -1, …}``: fields in the dict's order, stable, paths as in queries. When a
path fans out over a list, its sort value is the list of the values reached. Every value has a
place in one total order, so sorting never raises: missing < None < bools (false < true) <
numbers (NaN first, then by value, int and float together) < strings (code point) < bytes <
lists (element by element, a prefix first) < dicts (by their (key, value) items in stored order)
< anything that is not a message value. ``-1`` reverses that whole order; ties keep their input
order in both directions.

Paging: ``skip`` and ``limit`` are non-negative ints or None (no skip / no limit); they apply
after sorting, and ``limit: 0`` returns no documents.
"""

from __future__ import annotations

import functools
import json
import operator
from collections.abc import Callable, Iterable
from typing import Any

from ..errors import CommandError

Matcher = Callable[[dict[str, Any]], bool]
Sorter = Callable[[Iterable[dict[str, Any]]], list[dict[str, Any]]]

OPERATORS = ("$eq", "$ne", "$gt", "$gte", "$lt", "$lte", "$in", "$nin", "$contains", "$exists")


class _Missing:
    """The value of a field a document does not have; distinct from a stored None."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<missing>"


_MISSING = _Missing()

# Kinds, numbered in sort order. Exact types only: decoded documents never hold subclasses,
# and query operands are normalised to exact types when compiled.
_MISS, _NONE, _BOOL, _NUM, _STR, _BYTES, _LIST, _DICT, _OTHER = range(9)
_KIND = {_Missing: _MISS, type(None): _NONE, bool: _BOOL, int: _NUM, float: _NUM}
_KIND |= {str: _STR, bytes: _BYTES, list: _LIST, tuple: _LIST, dict: _DICT}
_ORDERED_TYPES = {_BOOL: (bool,), _NUM: (int, float), _STR: (str,), _BYTES: (bytes,)}

Test = Callable[[Any], bool]  # one reached value (or _MISSING) → does the operator hold


def _equal(a: Any, b: Any) -> bool:
    """Compare two values kind-safely: `1` is not `True`, `1` is `1.0`, NaN is NaN."""
    kind = _KIND.get(type(a), _OTHER)
    if kind != _KIND.get(type(b), _OTHER) or kind == _OTHER:
        return False
    if kind == _NUM:
        return a == b or (a != a and b != b)
    if kind == _LIST:
        return len(a) == len(b) and all(map(_equal, a, b))
    if kind == _DICT:
        return len(a) == len(b) and all(k in b and _equal(v, b[k]) for k, v in a.items())
    return a == b


def _show(value: Any) -> str:
    """Render a value in an error message as JSON where it can be, never failing."""
    try:
        return json.dumps(value, ensure_ascii=False, default=repr)
    except (TypeError, ValueError, RecursionError):
        return repr(value)


# ---- compiling queries -------------------------------------------------------------------


def compile_query(query: dict[str, Any] | None) -> Matcher:
    """Compile a query into a fast `doc -> bool` matcher; None or `{}` matches every document.

    Raises:
        CommandError: the query is not a dict, names a bad field, mixes operator and plain
            keys, uses an unknown operator or gives an operator a wrong operand.
    """
    if query is None:
        return _match_all
    if not isinstance(query, dict):
        raise CommandError(
            f"db: a query must be a dict of {{field: value or {{$operator: operand}}}}; "
            f"got {_show(query)}"
        )
    matchers = []
    for field, condition in query.items():
        path = _parse_path(field, "query")
        tests = _compile_condition(field, condition)
        matchers += [_field_matcher(path, test, negate) for test, negate in tests]
    if not matchers:
        return _match_all
    return functools.reduce(_both, matchers)


def _both(first: Matcher, second: Matcher) -> Matcher:
    return lambda doc: first(doc) and second(doc)


def match(doc: dict[str, Any], query: dict[str, Any] | None) -> bool:
    """Tell whether one document matches a query (compile the query once for many docs)."""
    return compile_query(query)(doc)


def _match_all(doc: dict[str, Any]) -> bool:
    return True


def _parse_path(field: Any, what: str) -> tuple[tuple[str, int | None], ...]:
    """Split a field into (segment, list index or None) pairs, checking it is a usable path."""
    if not isinstance(field, str):
        raise CommandError(f"db: {what} field names must be strings; got {_show(field)}")
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


def _normalize(value: Any, field: str) -> Any:
    """Return an operand as exact message-value types (tuples become lists)."""
    kind = _KIND.get(type(value), _OTHER)
    if kind == _LIST:
        return [_normalize(item, field) for item in value]
    if kind == _DICT:
        if not all(isinstance(key, str) for key in value):
            raise CommandError(
                f"db: dict keys in the query value of field {field!r} must be strings; "
                f"got {_show(list(value))}"
            )
        return {str.__str__(k): _normalize(v, field) for k, v in value.items()}
    if kind != _OTHER:
        return value
    for base in (int, float, str, bytes, list, tuple, dict):  # a subclass, e.g. an IntEnum
        if isinstance(value, base):
            return _normalize(base.__str__(value) if base is str else base(value), field)
    raise CommandError(
        f"db: the query value of field {field!r} is not a message value "
        f"({type(value).__name__}); use None, bool, int, float, str, bytes, list or dict"
    )


def _compile_condition(field: str, condition: Any) -> list[tuple[Test, bool]]:
    """Turn one field's condition into (test, negate) pairs that must all hold."""
    if not isinstance(condition, dict) or not condition:
        return [(_equality_test(_normalize(condition, field)), False)]
    is_op = [isinstance(key, str) and key.startswith("$") for key in condition]
    if not any(is_op):
        return [(_equality_test(_normalize(condition, field)), False)]
    if not all(is_op):
        keys = ", ".join(repr(k) for k in condition)
        raise CommandError(
            f"db: the condition for field {field!r} mixes operators and plain keys ({keys}); "
            f'use only operators, e.g. {{"$gte": 1, "$lt": 5}}, or a plain dict to match exactly'
        )
    tests = []
    for op, raw in condition.items():
        if op not in OPERATORS:
            raise CommandError(
                f"db: unknown query operator {op!r} in field {field!r}; "
                f"expected one of {', '.join(OPERATORS)}"
            )
        if op == "$exists":
            if not isinstance(raw, bool):
                raise CommandError(
                    f"db: '$exists' in field {field!r} needs true or false; got {_show(raw)}"
                )
            tests.append((_exists, not raw))
            continue
        operand = _normalize(raw, field)
        if op in ("$in", "$nin") and not isinstance(operand, list):
            raise CommandError(
                f"db: {op!r} in field {field!r} needs a list of values; got {_show(raw)}"
            )
        build, negate = _BUILDERS[op]
        tests.append((build(operand), negate))
    return tests


def _field_matcher(path: tuple[tuple[str, int | None], ...], test: Test, negate: bool) -> Matcher:
    """Apply a test to the values a path reaches in a document (any of them may satisfy it)."""
    if len(path) == 1:
        name = path[0][0]
        if negate:
            return lambda doc: not test(doc.get(name, _MISSING))
        return lambda doc: test(doc.get(name, _MISSING))
    when_missing = test(_MISSING) != negate
    first, rest = path[0][0], [name for name, _ in path[1:]]

    def match_path(doc: dict[str, Any]) -> bool:
        value = doc.get(first, _MISSING)
        for name in rest:  # the common case first: dicts all the way down
            if value.__class__ is not dict:
                break
            value = value.get(name, _MISSING)
        else:
            return when_missing if value is _MISSING else test(value) != negate
        if value.__class__ is not list and value.__class__ is not tuple:
            return when_missing
        found, _ = _resolve(doc, path)
        return any(map(test, found)) != negate if found else when_missing

    return match_path


def _resolve(doc: dict[str, Any], path: tuple[tuple[str, int | None], ...]) -> tuple[list, bool]:
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


# ---- one test per operator ---------------------------------------------------------------


def _exists(value: Any) -> bool:
    return value is not _MISSING


def _one_value_test(q: Any) -> Test:
    """Test: one value equals q, kind-safely (the fast forms of `_equal(v, q)`)."""
    kind = _KIND.get(type(q), _OTHER)
    if kind in (_STR, _BYTES):
        tq = type(q)
        return lambda v: v.__class__ is tq and v == q
    if kind == _NUM:
        if q != q:
            return lambda v: v.__class__ is float and v != v
        return lambda v: (v.__class__ is int or v.__class__ is float) and v == q
    if kind == _BOOL:
        return lambda v: v is q
    if kind == _NONE:
        return lambda v: v is None or v is _MISSING
    return lambda v: _equal(v, q)


def _equality_test(q: Any) -> Test:
    """Test: the value equals q, or is a list with an element equal to q."""
    if type(q) in (str, bytes):

        def test(v: Any) -> bool:  # among message values only a str equals a str: == is safe
            return v == q or ((v.__class__ is list or v.__class__ is tuple) and q in v)

        return test
    one = _one_value_test(q)

    def test(v: Any) -> bool:
        t = v.__class__
        return one(v) or ((t is list or t is tuple) and any(map(one, v)))

    return test


def _in_test(operands: list[Any]) -> Test:
    """Test: equality holds for some operand; scalars are looked up in per-type sets."""
    # Within one kind Python's == is ours, so a set per exact type is kind-safe (NaN aside).
    sets: dict[type, set[Any]] = {}
    others = []
    for x in operands:
        t = type(x)
        if t in (int, float) and x == x:
            sets.setdefault(int, set()).add(x)
            sets.setdefault(float, set()).add(x)
        elif t in (str, bytes, bool, type(None)):
            sets.setdefault(t, set()).add(x)
        else:
            others.append(_equality_test(x))
    has_none = type(None) in sets

    def test(v: Any) -> bool:
        t = v.__class__
        found = sets.get(t)
        if found is not None and v in found:
            return True
        if t is list or t is tuple:
            for e in v:
                found = sets.get(e.__class__)
                if found is not None and e in found:
                    return True
        elif v is _MISSING and has_none:
            return True
        return bool(others) and any(other(v) for other in others)

    return test


def _range_test(compare: Callable[[Any, Any], bool], q: Any) -> Test:
    """Test: the value, or an element of a list value, is of q's kind and compares true."""
    types = _ORDERED_TYPES.get(_KIND.get(type(q), _OTHER))
    if types is None:
        return lambda v: False

    def test(v: Any) -> bool:
        t = v.__class__
        if t in types:
            return compare(v, q)
        return (t is list or t is tuple) and any(e.__class__ in types and compare(e, q) for e in v)

    return test


def _contains_test(q: Any) -> Test:
    """Test: q is a substring of a string (bytes of bytes) or a member of a list."""
    tq = type(q) if type(q) in (str, bytes) else None
    one = _one_value_test(q)

    def test(v: Any) -> bool:
        t = v.__class__
        if t is tq:
            return q in v
        if t is list or t is tuple:  # a str is == only to a str: `in` is kind-safe for it
            return q in v if tq else any(map(one, v))
        return False

    return test


_BUILDERS: dict[str, tuple[Callable[[Any], Test], bool]] = {  # operator → (test, negated)
    "$eq": (_equality_test, False),
    "$ne": (_equality_test, True),
    "$gt": (functools.partial(_range_test, operator.gt), False),
    "$gte": (functools.partial(_range_test, operator.ge), False),
    "$lt": (functools.partial(_range_test, operator.lt), False),
    "$lte": (functools.partial(_range_test, operator.le), False),
    "$in": (_in_test, False),
    "$nin": (_in_test, True),
    "$contains": (_contains_test, False),
}


# ---- sorting and paging ------------------------------------------------------------------


def _sort_key(value: Any) -> tuple:
    """Place any value in the total order described in the module docstring."""
    kind = _KIND.get(type(value), _OTHER)
    if kind == _NUM:
        return (kind, 0, 0) if value != value else (kind, 1, value)
    if kind in (_BOOL, _STR, _BYTES):
        return (kind, value)
    if kind == _LIST:
        return (kind, tuple(map(_sort_key, value)))
    if kind == _DICT:
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
        path = _parse_path(field, "sort")
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


def _sort_key_function(path: tuple[tuple[str, int | None], ...]) -> Callable[[Any], tuple]:
    def key(doc: dict[str, Any]) -> tuple:
        found, fanned = _resolve(doc, path)
        if not found:
            return _sort_key(_MISSING)
        return _sort_key(found if fanned else found[0])

    return key


def sort_docs(docs: Iterable[dict[str, Any]], sort: dict[str, int] | None) -> list[dict[str, Any]]:
    """Return the docs sorted by `{field: 1 | -1, …}` (None keeps their order), as a new list."""
    return compile_sort(sort)(docs)


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


def apply_paging(docs: list[Any], skip: int | None, limit: int | None) -> list[Any]:
    """Drop the first `skip` docs, then keep at most `limit` (None: no skip / no limit)."""
    validate_paging(skip, limit)
    start = skip or 0
    return docs[start:] if limit is None else docs[start : start + limit]


# ---- a prefilter for the storage layer ---------------------------------------------------


def equality_probes(query: dict[str, Any] | None) -> list[tuple[str, str | bytes]]:
    """List the (field, value) terms of a query that require a str or bytes value by equality.

    A document matching the query contains each such value somewhere, so its msgpack bytes
    (`msgpack.packb(value, use_bin_type=True)`) occur in the document's raw msgpack bytes when
    it was packed the same way; a document without them can be skipped undecoded. Only plain
    values and `$eq` operands count: other operators may match without the value present.
    Call `compile_query` first: this does not validate.
    """
    probes: list[tuple[str, str | bytes]] = []
    if not isinstance(query, dict):
        return probes
    for field, condition in query.items():
        if type(condition) is dict and condition and all(str(k).startswith("$") for k in condition):
            condition = condition.get("$eq")
        if type(condition) in (str, bytes):
            probes.append((field, condition))
    return probes
