"""Which keys a `keys` command names, and reading only those: globs, prefixes and ranges.

Keys are stored as UTF-8 after their store's prefix (`keys.py`), and UTF-8's byte order is
code-point order, so every query here is one ordered walk of the backend's scan between two
bounds: the scan prefix (the `prefix` asked for, or the literal start of a glob, whichever is
longer — they must agree), then `start` (inclusive) and `end` (exclusive). A glob is matched
only against the keys of its literal prefix: `user:*:name` reads the `user:` keys, not the
store.

Globs: `*` is any run of characters (`/` too), `?` one character, `[abc]` one of a set, with
ranges (`[a-z]`) and negation (`[!abc]` or `[^abc]`); `\\` makes the next character literal,
inside a set too. A glob matches the whole key.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import attrs

from ...errors import CommandError
from ..backends.protocol import ReadTxn
from ..layout import expiry
from ..layout.keys import KV_SPACE, MAX_KV_KEY_BYTES

__all__ = ["Glob", "KeyRange", "compile_glob"]

_WILD = "*?["


@attrs.frozen
class Glob:
    """A compiled glob: its literal start (what a scan can seek to) and its matcher."""

    pattern: str
    literal: str
    regex: re.Pattern[str]

    def matches(self, key: str) -> bool:
        return self.regex.fullmatch(key) is not None


def compile_glob(pattern: str) -> Glob:
    """Compile a glob (see the module docstring). Raises CommandError on a malformed one."""
    parts: list[str] = []
    i, n = 0, len(pattern)
    while i < n:
        char = pattern[i]
        if char == "\\":
            if i + 1 == n:
                raise CommandError(
                    f"pattern {pattern!r} ends with a lone \\; write \\\\ for a backslash"
                )
            parts.append(re.escape(pattern[i + 1]))
            i += 2
        elif char == "*":
            parts.append(".*")
            i += 1
        elif char == "?":
            parts.append(".")
            i += 1
        elif char == "[":
            part, i = _char_set(pattern, i)
            parts.append(part)
        else:
            parts.append(re.escape(char))
            i += 1
    return Glob(pattern, _literal_start(pattern), re.compile("".join(parts), re.DOTALL))


def _literal_start(pattern: str) -> str:
    """The literal text before a glob's first wildcard, escapes resolved."""
    out, i = [], 0
    while i < len(pattern) and pattern[i] not in _WILD:
        if pattern[i] == "\\":
            i += 1
        out.append(pattern[i])
        i += 1
    return "".join(out)


def _char_set(pattern: str, start: int) -> tuple[str, int]:
    """Compile the `[...]` at `start`; return its regex and the index after it."""
    i = start + 1
    negate = i < len(pattern) and pattern[i] in "!^"
    if negate:
        i += 1
    items: list[str] = []
    first = True
    while i < len(pattern):
        char = pattern[i]
        if char == "]" and not first:
            body = "".join(items)
            return f"[{'^' if negate else ''}{body}]", i + 1
        first = False
        if char == "\\" and i + 1 < len(pattern):
            char = pattern[i + 1]
            i += 1
        if i + 2 < len(pattern) and pattern[i + 1] == "-" and pattern[i + 2] != "]":
            high = pattern[i + 2]
            if high == "\\" and i + 3 < len(pattern):
                high = pattern[i + 3]
                i += 1
            if high < char:
                raise CommandError(
                    f"pattern {pattern!r} has the range {char}-{high} at index {start}, which"
                    f" runs backwards; write {high}-{char}"
                )
            items.append(f"{_in_set(char)}-{_in_set(high)}")
            i += 3
            continue
        items.append(_in_set(char))
        i += 1
    raise CommandError(
        f"pattern {pattern!r} has an unclosed [ at index {start}; close it with ], or write \\["
        " for a literal ["
    )


def _in_set(char: str) -> str:
    return "\\" + char if char in "\\]^-[" else char


@attrs.frozen
class KeyRange:
    """What a `keys` command asks for, as bounds on one store's keys and a filter.

    All given conditions must hold: the key starts with `prefix`, matches `glob`, and
    `start <= key < end` in code-point order; `limit` caps the count (None: no cap);
    `reverse` walks the same keys from the highest down.
    """

    prefix: str = ""
    glob: Glob | None = None
    start: str | None = None
    end: str | None = None
    limit: int | None = None
    reverse: bool = False

    def read(self, txn: ReadTxn, store_prefix: bytes, now: int) -> list[str]:
        """Return the keys asked for, reading only the part of the store they lie in."""
        if self.limit == 0:
            return []
        scan_prefix = self._scan_prefix()
        if scan_prefix is None or len(scan_prefix.encode()) > MAX_KV_KEY_BYTES:
            return []  # no key can start with both, or with something that long
        base = len(store_prefix)
        low = None if self.start is None else store_prefix + self.start.encode()
        high = None if self.end is None else store_prefix + self.end.encode()
        if low is not None and high is not None and low >= high:
            return []
        glob, limit, found = self.glob, self.limit, []
        for key, raw in self._walk(txn, store_prefix + scan_prefix.encode(), low, high):
            if raw[0] == expiry.MARKER and expiry.is_expired(raw, now):
                continue
            text = key[base:].decode("utf-8")
            if glob is not None and not glob.matches(text):
                continue
            found.append(text)
            if limit is not None and len(found) >= limit:
                break
        return found

    def _scan_prefix(self) -> str | None:
        """The longer of `prefix` and the glob's literal start; None if they disagree."""
        literal = "" if self.glob is None else self.glob.literal
        longer, shorter = sorted((self.prefix, literal), key=len, reverse=True)
        return longer if longer.startswith(shorter) else None

    def _walk(
        self, txn: ReadTxn, prefix: bytes, low: bytes | None, high: bytes | None
    ) -> Iterator[tuple[bytes, bytes]]:
        if not self.reverse:
            for key, raw in txn.scan(KV_SPACE, prefix, start=low):
                if high is not None and key >= high:
                    return
                yield key, raw
            return
        for key, raw in txn.scan(KV_SPACE, prefix, start=high, reverse=True):
            if high is not None and key >= high:
                continue  # the scan starts at the last key <= high; end is exclusive
            if low is not None and key < low:
                return
            yield key, raw
