"""Values and arithmetic: stored numbers, binary operators and comparisons (Pd's x_arithmetic.c).

The operators come in two families, each one class made into many by a table: arithmetic
(`+ - * / % min max`, a number out) and comparison (`== != < <= > >=`, true or false out).
They share their inlets: a number on the left computes `left OP operand`, a bang computes
again with the stored left value, and the right inlet sets the operand. A list on the left
inlet is spread over both by the core (`spreads_lists`, Pd's rule): `[3, 4]` into `[+]`
sends 7.
"""

from __future__ import annotations

import math
import operator
import textwrap
from collections.abc import Callable
from typing import Any, ClassVar

from patchflow import ArgumentError, Box, Number, is_bang, is_number, parse_number


def _number_argument(args: str, example: str) -> Number | None:
    """The one optional number of `args`; ArgumentError shows the right form otherwise."""
    text = args.strip()
    if not text:
        return None
    number = parse_number(text)
    if number is None:
        raise ArgumentError(f"expected one number, got {text!r}; e.g. {example}")
    return number


# -- float and int ----------------------------------------------------------------------------


class Float(Box):
    """Store a number and send it on a bang.

    Arguments:
        initial: the number stored at the start (default 0)

    Inlets:
        0: a number: store it and send it; a bang: send the stored number; a list
           `[a, b]`: b into inlet 1, then a into inlet 0 (Pd's list rule)
        1: a number: store it without sending

    Outlets:
        0: the stored number

    Example:
        [loadbang] -> [f 3.5] -> [print]
    """

    name = "float"
    aliases = ("f",)
    spreads_lists = True
    #: what the box stores, for error messages
    expected: ClassVar[str] = "a number"

    def __init__(self, initial: Number = 0) -> None:
        super().__init__(inlets=2, outlets=1)
        self.value = self.convert(initial)

    @staticmethod
    def accepts(message: Any) -> bool:
        return is_number(message)

    @staticmethod
    def convert(number: Number) -> Number:
        return number

    @classmethod
    def from_text(cls, args: str, body: str | None = None) -> Float:
        example = f"[{cls.aliases[0]} 1]"
        initial = _number_argument(args, example)
        if initial is None:
            return cls()
        if not cls.accepts(initial):
            raise ArgumentError(f"expected {cls.expected}, got {args.strip()!r}; e.g. {example}")
        return cls(initial)

    def receive(self, inlet: int, message: Any) -> None:
        if inlet == 0 and is_bang(message):
            self.send(self.value)
            return
        if not self.accepts(message):
            hint = f"{self.expected} or bang" if inlet == 0 else self.expected
            raise self.reject(inlet, message, hint)
        self.value = self.convert(message)
        if inlet == 0:
            self.send(self.value)


class Int(Float):
    """Store a whole number and send it on a bang; numbers are truncated toward zero.

    Arguments:
        initial: the number stored at the start, truncated (default 0)

    Inlets:
        0: a finite number: store it truncated (3.7 → 3, -3.7 → -3) and send it; a bang:
           send the stored number
        1: a finite number: store it truncated without sending

    Outlets:
        0: the stored number, an integer

    Example:
        [loadbang] -> [msg 3.7] -> [i] -> [print]
    """

    name = "int"
    aliases = ("i",)
    expected = "a finite number"

    @staticmethod
    def accepts(message: Any) -> bool:
        return is_number(message) and math.isfinite(message)

    @staticmethod
    def convert(number: Number) -> Number:
        return int(number)


# -- binary operators -------------------------------------------------------------------------


class Operator(Box):
    """Base of the binary operators: `left OP operand`, left inlet hot (not itself an object)."""

    #: computes the output from the left value and the operand
    operate: ClassVar[Callable[[Number, Number], Any]]
    spreads_lists = True

    def __init__(self, operand: Number = 0) -> None:
        super().__init__(inlets=2, outlets=1)
        self.left: Number = 0
        self.operand = operand

    @classmethod
    def from_text(cls, args: str, body: str | None = None) -> Operator:
        operand = _number_argument(args, f"[{cls.name} 1]")
        return cls() if operand is None else cls(operand)

    def receive(self, inlet: int, message: Any) -> None:
        if inlet == 1:
            if not is_number(message):
                raise self.reject(inlet, message, "a number")
            self.operand = message
            return
        if is_number(message):
            self.left = message
        elif not is_bang(message):
            raise self.reject(inlet, message, "a number or bang")
        self.send(self.operate(self.left, self.operand))


def _divide(left: Number, right: Number) -> Number:
    if right == 0:
        return 0
    if type(left) is int and type(right) is int and left % right == 0:
        return left // right  # exact: stays an int (6 / 3 → 2, not 2.0)
    return left / right


def _modulo(left: Number, right: Number) -> Number:
    return 0 if right == 0 else left % right


_HELP = """{summary}

{detail}

Arguments:
    operand: the right-hand number (default 0)

Inlets:
    0: a number: store it as the left value and send `left {symbol} operand`; a bang: send it
       again from the stored left value (0 at first) and the current operand; a list
       `[left, operand]`: the operand, then the left value (Pd's list rule)
    1: a number: the new operand, stored without sending

Outlets:
    0: {output}

Example:
    [loadbang] -> [msg 7] -> [{symbol} 2] -> [print]
"""

_INTEGERS = "Two integers give an integer; a float on either side gives a float."

#: symbol, class name, function, summary, output
_ARITHMETIC = (
    ("+", "Add", operator.add, "Add the operand to a number.", "the sum"),
    ("-", "Subtract", operator.sub, "Subtract the operand from a number.", "the difference"),
    ("*", "Multiply", operator.mul, "Multiply a number by the operand.", "the product"),
    ("/", "Divide", _divide, "Divide a number by the operand.", "the quotient"),
    (
        "%",
        "Modulo",
        _modulo,
        "Send the remainder of a number divided by the operand.",
        "the remainder",
    ),
    ("min", "Minimum", min, "Send the smaller of a number and the operand.", "the smaller"),
    ("max", "Maximum", max, "Send the larger of a number and the operand.", "the larger"),
)
_DETAILS = {
    "/": "Division is exact, as Pd users expect: 7 / 2 is 3.5, and two integers that divide "
    "evenly give an integer (6 / 3 is 2). Division by 0 gives 0.",
    "%": "Python's rule: the result takes the sign of the operand (-7 % 3 is 2) and fractions "
    "work too (7.5 % 2 is 1.5). " + _INTEGERS + " By 0 it gives 0.",
}

#: symbol, class name, function, what it tests
_COMPARISONS = (
    ("==", "Equal", operator.eq, "equals"),
    ("!=", "NotEqual", operator.ne, "differs from"),
    ("<", "Less", operator.lt, "is less than"),
    ("<=", "LessOrEqual", operator.le, "is less than or equal to"),
    (">", "Greater", operator.gt, "is greater than"),
    (">=", "GreaterOrEqual", operator.ge, "is greater than or equal to"),
)


def _operator_class(symbol: str, class_name: str, function: Callable, doc: str) -> type[Operator]:
    """Make the Operator subclass for one row of a table."""
    namespace = {
        "__doc__": doc,
        "__module__": __name__,
        "__qualname__": class_name,
        "name": symbol,
        "operate": staticmethod(function),
    }
    return type(class_name, (Operator,), namespace)


ARITHMETIC = tuple(
    _operator_class(
        symbol,
        class_name,
        function,
        _HELP.format(
            summary=summary,
            detail=textwrap.fill(_DETAILS.get(symbol, _INTEGERS), width=92),
            symbol=symbol,
            output=output,
        ),
    )
    for symbol, class_name, function, summary, output in _ARITHMETIC
)

COMPARISONS = tuple(
    _operator_class(
        symbol,
        class_name,
        function,
        _HELP.format(
            summary=f"Send true when a number {test} the operand, else false.",
            detail="Numbers compare by value (1 == 1.0); booleans are not numbers.",
            symbol=symbol,
            output=f"true or false: whether `left {symbol} operand`",
        ),
    )
    for symbol, class_name, function, test in _COMPARISONS
)

BOXES = (Float, Int, *ARITHMETIC, *COMPARISONS)
