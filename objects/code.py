"""Code: objects that evaluate a Python expression per message — `expr map filter tap`.

`[py]` blocks, the other half of the family, are in py.py. Both are compiled once, when the
patch is built, so syntax errors are found before anything runs and a message costs one
function call. A patch that runs code is a program: run only patches you trust.
"""

from __future__ import annotations

from typing import Any

from patchflow import ArgumentError, Box

from ._expression import Expression, compile_expression

# -- expressions ----------------------------------------------------------------------------


class _ExpressionBox(Box):
    """The shared part of `[expr]`, `[map]`, `[filter]` and `[tap]`: inlets store `$1`…`$9`."""

    outlet_count = 1
    #: with several inlets ($2…), a list on inlet 0 is spread over them (Pd's rule)
    spreads_lists = True

    def __init__(self, text: str) -> None:
        self.expression: Expression = compile_expression(text, lambda: self.patch.print_line)
        self.function = self.expression.function
        slots = max(1, self.expression.slots)
        super().__init__(inlets=slots, outlets=self.outlet_count)
        # An input not received yet reads as 0, as in Pd's [expr].
        self.values: list[Any] = [0] * slots
        # `function(message)` took 30 ns less than `function(*values)` (2026-11-29, 2-core Xeon
        # VM, timeit, best of 7 × 1,000,000 calls)
        self._one_input = slots == 1

    @classmethod
    def from_text(cls, args: str, body: str | None = None) -> _ExpressionBox:
        text = args.strip()
        if not text:
            raise ArgumentError(f"needs a Python expression, e.g. [{cls.name} $1 * 2]")
        return cls(text)

    def evaluate(self, inlet: int, message: Any) -> Any:
        """Store `message` as `$(inlet+1)`; on inlet 0 also evaluate: the result, else COLD."""
        values = self.values
        values[inlet] = message
        if inlet:
            return COLD
        try:
            return self.function(*values)
        except (SystemExit, KeyboardInterrupt) as exc:  # `exit()`: this box's error
            raise self.patch.code_error(exc) from None


COLD: Any = object()  # what `evaluate` returns for a cold inlet: nothing was evaluated


class Expr(_ExpressionBox):
    """Evaluate a Python expression and send the result.

    `$1`…`$9` are the values stored in inlets 0…8; the box has as many inlets as the highest
    `$n` used (at least one), and an input not received yet reads as 0. Dict values allow
    attribute access, nested too: `$1.value` is `$1["value"]`, `$1.meta.w` is
    `$1["meta"]["w"]`, a missing field is None (as in JavaScript), and a dict without that key
    keeps its methods (`$1.get("x", 0)`, `$1.items()`). The expression may use builtins and
    the modules math, json, time and random; `print(...)` writes a line to the patch output.
    A result of None sends nothing; a tuple is sent as a list.

    Security: the expression is Python and runs with your rights when the patch runs (it can
    read and delete files, or start programs). Run only patches you trust, as you would a
    Makefile; `patchflow check` and `patchflow help` never run it.

    Arguments:
        expression: a Python expression using $1…$9 (a `$` inside a string literal is text)

    Inlets:
        0: any message: store it as $1 and evaluate (hot)
        1…8: (one per $2…$9 used) store the value without evaluating (cold)

    Outlets:
        0: the result

    Example:
        [loadbang] -> [msg {value: 20}] -> [expr ($1.value or 0) + 1] -> [print]
    """

    name = "expr"

    def receive(self, inlet: int, message: Any) -> None:
        # `evaluate` and `send` written out: an [expr] is on the hot path of most patches
        # (the README counter), and a hop costs what its Python calls do (box.py, `send`).
        values = self.values
        values[inlet] = message
        if inlet:
            return
        try:
            result = self.function(message) if self._one_input else self.function(*values)
        except (SystemExit, KeyboardInterrupt) as exc:  # `exit()`: this box's error
            raise self.patch.code_error(exc) from None
        if result is not None:
            self._outlets[0](list(result) if type(result) is tuple else result)


class Map(Expr):
    """Send the result of a Python expression for each message; empty passes it through.

    The same as `[expr]` (see its help for `$n`, attribute access and the modules), except
    that a box without an expression sends each message on unchanged.

    Arguments:
        expression: a Python expression using $1…$9 (optional)

    Inlets:
        0: any message: store it as $1 and evaluate (hot)
        1…8: (one per $2…$9 used) store the value without evaluating (cold)

    Outlets:
        0: the result (None sends nothing; a tuple is sent as a list)

    Example:
        [loadbang] -> [msg [1, 2, 3]] -> [map [n * 10 for n in $1]] -> [print]
    """

    name = "map"

    @classmethod
    def from_text(cls, args: str, body: str | None = None) -> Map:
        return cls(args.strip() or "$1")


class Filter(_ExpressionBox):
    """Send each message on outlet 0 when a Python expression is true of it, else on outlet 1.

    The expression is written as for `[expr]` (see its help for `$n`, attribute access and
    the modules); its result is tested for truth the Python way (0, "", [], {} and None are
    false). The message itself goes out, not the result.

    Arguments:
        expression: a Python condition using $1…$9

    Inlets:
        0: any message: store it as $1 and test it (hot)
        1…8: (one per $2…$9 used) store the value without testing (cold)

    Outlets:
        0: the messages for which the expression is true
        1: the other messages

    Example:
        [loadbang] -> [msg {score: 7}] -> [filter $1.score > 5] -> [print passed]
    """

    name = "filter"
    outlet_count = 2

    def receive(self, inlet: int, message: Any) -> None:
        result = self.evaluate(inlet, message)
        if result is not COLD:
            self.send(message, 0 if result else 1)


class Tap(_ExpressionBox):
    """Evaluate a Python expression for its side effect, then send the message on unchanged.

    Written as for `[expr]` (see its help); the result is ignored. Useful with `print(...)`,
    which writes a line to the patch output, or to look inside a cascade.

    Arguments:
        expression: a Python expression using $1…$9

    Inlets:
        0: any message: store it as $1, evaluate, send it on (hot)
        1…8: (one per $2…$9 used) store the value without evaluating (cold)

    Outlets:
        0: the message that came in on inlet 0

    Example:
        [loadbang] -> [msg 5] -> [tap print("saw", $1)] -> [print]
    """

    name = "tap"

    def receive(self, inlet: int, message: Any) -> None:
        if self.evaluate(inlet, message) is not COLD:
            self.send(message)


BOXES = (Expr, Map, Filter, Tap)
