"""Match `db` documents: the query language of `find` and `count`.

Pure functions over decoded documents (dicts of message values); no storage here. A query is
compiled once per command into closures, so matching a document costs no dispatch on operator
names. Invalid queries raise `CommandError` before any document is read.

Queries, ``{field: condition, …}`` — a document matches when every field's condition holds:

- A field is a name or a dotted path (``"author.name"``; `layout/paths.py`); it may not start
  with ``$``, nor have empty segments. Walking a path, a dict is looked up by key; a list is
  indexed by a segment of ASCII digits (``"tags.0"``) and otherwise *fans out*: each dict in it
  is looked up by key, so ``"items.name"`` reaches the name of every item (one list level per
  segment). Anything else on the way — a missing key, a scalar, an index out of range —
  contributes nothing. A field whose walk reaches no value is **missing**; walking never raises.
- A condition is a plain value (equality), or an operator dict whose keys all start with ``$``
  (several operators must all hold). A dict without ``$`` keys, including ``{}``, is a plain
  value; a dict mixing both is an error.
- Kinds: None, bool, number (int and float; *not* bool), str, bytes, list (tuples count as
  lists), dict. Values of different kinds are never equal and never ordered, so ``1`` does not
  match ``true`` and ``"5"`` is not ``$gt 4`` — no match, no error. ``1`` equals ``1.0``; NaN
  equals NaN (so a stored NaN can be found) but no ordering operator matches NaN. Lists are
  equal element by element, dicts by key set and values (key order ignored), kind-safely:
  equality is `patchflow.values.same_value`, the one notion of "the same value" everywhere.
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

Sorting and paging are `sorting.py`'s. The operators are `OPERATORS`, which the `[db]` help
lists.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable
from typing import Any, NamedTuple

from ...errors import CommandError
from ...values import same_value
from ..layout.paths import Path, parse_path, resolve
from .base import ABSENT
from .base import describe as _show

Matcher = Callable[[dict[str, Any]], bool]

# Kinds, numbered in sort order. Exact types only: decoded documents never hold subclasses,
# and query operands are normalised to exact types when compiled.
MISS, NONE, BOOL, NUM, STR, BYTES, LIST, DICT, OTHER = range(9)
KIND = {type(ABSENT): MISS, type(None): NONE, bool: BOOL, int: NUM, float: NUM}
KIND |= {str: STR, bytes: BYTES, list: LIST, tuple: LIST, dict: DICT}
_ORDERED_TYPES = {BOOL: (bool,), NUM: (int, float), STR: (str,), BYTES: (bytes,)}

Test = Callable[[Any], bool]  # one reached value (or ABSENT) → does the operator hold


# The one notion of "the same JSON value" (patchflow.values) is the query's equality; the fast
# tests below agree with it (a property test checks) and take their answer for NaN from it.
_NAN_IS_NAN = same_value(float("nan"), float("nan"))


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
        path = parse_path(field, "query")
        tests = _compile_condition(field, condition)
        matchers += [_field_matcher(path, test, negate) for test, negate in tests]
    if not matchers:
        return _match_all
    return functools.reduce(_both, matchers)


def _both(first: Matcher, second: Matcher) -> Matcher:
    return lambda doc: first(doc) and second(doc)


def _match_all(doc: dict[str, Any]) -> bool:
    return True


def _normalize(value: Any, field: str) -> Any:
    """Return an operand as exact message-value types (tuples become lists)."""
    kind = KIND.get(type(value), OTHER)
    if kind == LIST:
        return [_normalize(item, field) for item in value]
    if kind == DICT:
        if not all(isinstance(key, str) for key in value):
            raise CommandError(
                f"db: dict keys in the query value of field {field!r} must be strings; "
                f"got {_show(list(value))}"
            )
        return {str.__str__(k): _normalize(v, field) for k, v in value.items()}
    if kind != OTHER:
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
        build, negate, _ = OPERATORS[op]
        assert build is not None
        tests.append((build(operand), negate))
    return tests


def _field_matcher(path: Path, test: Test, negate: bool) -> Matcher:
    """Apply a test to the values a path reaches in a document (any of them may satisfy it)."""
    if len(path) == 1:
        name = path[0][0]
        if negate:
            return lambda doc: not test(doc.get(name, ABSENT))
        return lambda doc: test(doc.get(name, ABSENT))
    when_missing = test(ABSENT) != negate
    first, rest = path[0][0], [name for name, _ in path[1:]]

    def match_path(doc: dict[str, Any]) -> bool:
        value = doc.get(first, ABSENT)
        for name in rest:  # the common case first: dicts all the way down
            if value.__class__ is not dict:
                break
            value = value.get(name, ABSENT)
        else:
            return when_missing if value is ABSENT else test(value) != negate
        if value.__class__ is not list and value.__class__ is not tuple:
            return when_missing
        found, _ = resolve(doc, path)
        return any(map(test, found)) != negate if found else when_missing

    return match_path


# ---- one test per operator ---------------------------------------------------------------


def _exists(value: Any) -> bool:
    return value is not ABSENT


def _one_value_test(q: Any) -> Test:
    """Test: one value equals q, kind-safely (the fast forms of `same_value(v, q)`)."""
    kind = KIND.get(type(q), OTHER)
    if kind in (STR, BYTES):
        tq = type(q)
        return lambda v: v.__class__ is tq and v == q
    if kind == NUM:
        if q != q:
            if not _NAN_IS_NAN:
                return lambda v: False
            return lambda v: v.__class__ is float and v != v
        return lambda v: (v.__class__ is int or v.__class__ is float) and v == q
    if kind == BOOL:
        return lambda v: v is q
    if kind == NONE:
        return lambda v: v is None or v is ABSENT
    return lambda v: same_value(v, q)


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
        elif v is ABSENT and has_none:
            return True
        return bool(others) and any(other(v) for other in others)

    return test


def _range_test(compare: Callable[[Any, Any], bool], q: Any) -> Test:
    """Test: the value, or an element of a list value, is of q's kind and compares true."""
    types = _ORDERED_TYPES.get(KIND.get(type(q), OTHER))
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


class Operator(NamedTuple):
    """A query operator: how to build its test from the operand, and its line of help."""

    build: Callable[[Any], Test] | None  # None for $exists, whose operand chooses the test
    negated: bool  # the test is of the negation: it must hold for none of the values reached
    help: str


#: every query operator, in the order the `[db]` help and the error text list them
OPERATORS: dict[str, Operator] = {
    "$eq": Operator(_equality_test, False, "equal (a list field: contains it)"),
    "$ne": Operator(_equality_test, True, "not equal (a missing field matches)"),
    "$gt": Operator(functools.partial(_range_test, operator.gt), False, "greater than"),
    "$gte": Operator(functools.partial(_range_test, operator.ge), False, "at least"),
    "$lt": Operator(functools.partial(_range_test, operator.lt), False, "less than"),
    "$lte": Operator(functools.partial(_range_test, operator.le), False, "at most"),
    "$in": Operator(_in_test, False, "equal to one of a list of values"),
    "$nin": Operator(_in_test, True, "equal to none of a list of values"),
    "$contains": Operator(_contains_test, False, "a substring of a string, a member of a list"),
    "$exists": Operator(None, False, "true: the field is there (a null counts); false: it is not"),
}


def operator_help() -> list[str]:
    """One line per operator, for the `[db]` help: `$gt  greater than`."""
    width = max(map(len, OPERATORS)) + 2
    return [f"{name:<{width}}{op.help}" for name, op in OPERATORS.items()]
