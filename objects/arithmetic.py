"""More arithmetic, as Pd's x_arithmetic.c does it: mod, div, abs, sqrt, pow and clip.

Pd's own results at the edges are the contract here, since Pd users rely on them: `mod` and
`div` truncate both operands toward zero first and count a divisor of 0 as 1, `pow` sends 0
where the result is not a real number, `sqrt` of a negative number sends 0, and `clip` tests
its low bound first. Whole-number inputs keep whole-number results (`[pow 2]` of 3 is 9, not
9.0), as `[/]` does.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, ClassVar

from patchflow import (
    ArgumentError,
    Box,
    Number,
    is_bang,
    is_number,
    parse_number,
    split_arguments,
)

#: the largest magnitude a float holds every whole number up to (2**53)
_EXACT = 2**53


def whole(value: Number) -> Number:
    """`value` as an int when it is a whole float that a float holds exactly, else as is."""
    if type(value) is float and value.is_integer() and -_EXACT <= value <= _EXACT:
        return int(value)
    return value


def number_arguments(args: str, count: int, example: str) -> list[Number]:
    """Up to `count` number arguments; ArgumentError shows the right form otherwise."""
    words = split_arguments(args)
    numbers = [parse_number(word) for word in words]
    if len(words) > count or None in numbers:
        wanted = "one number" if count == 1 else f"up to {count} numbers"
        raise ArgumentError(f"expected {wanted}, got {args.strip()!r}; e.g. {example}")
    return numbers  # type: ignore[return-value]


def is_finite(message: Any) -> bool:
    return is_number(message) and math.isfinite(message)


# -- mod, div and pow: a number with a stored operand -----------------------------------------


class _Binary(Box):
    """Base of `[mod]`, `[div]` and `[pow]`: inlet 0 hot, inlet 1 the operand (not an object).

    A list on inlet 0 is spread over the two inlets by the core (`spreads_lists`).
    """

    spreads_lists = True

    #: the operand when no argument is given
    default: ClassVar[Number] = 0
    #: what the inlets take, and its test
    expected: ClassVar[str] = "a number"
    accepts: ClassVar[Callable[[Any], bool]] = staticmethod(is_number)

    def __init__(self, operand: Number | None = None) -> None:
        super().__init__(inlets=2, outlets=1)
        self.left: Number = 0
        self.operand = self.default if operand is None else operand

    @classmethod
    def from_text(cls, args: str, body: str | None = None) -> _Binary:
        numbers = number_arguments(args, 1, f"[{cls.name} 3]")
        if numbers and not cls.accepts(numbers[0]):
            raise ArgumentError(
                f"expected {cls.expected}, got {args.strip()!r}; e.g. [{cls.name} 3]"
            )
        return cls(*numbers)

    def operate(self, left: Number, operand: Number) -> Number:
        raise NotImplementedError

    def receive(self, inlet: int, message: Any) -> None:
        if self.accepts(message):
            if inlet == 1:
                self.operand = message
                return
            self.left = message
        elif inlet == 1 or not is_bang(message):
            hint = self.expected if inlet == 1 else f"{self.expected} or bang"
            raise self.reject(inlet, message, hint)
        self.send(self.operate(self.left, self.operand))


def _divisor(operand: Number) -> int:
    """Pd's divisor: truncated toward zero, its magnitude taken, 0 counted as 1."""
    return abs(int(operand)) or 1


class Mod(_Binary):
    """Send the remainder of a whole-number division, never negative (Pd's `[mod]`).

    Both numbers are truncated toward zero first; the divisor's sign is ignored and a divisor
    of 0 counts as 1. So `-7 mod 3` is 2, `7 mod -3` is 1, `7.9 mod 3` is 1 and `7 mod 0` is
    0. For Python's rule (the sign of the operand, fractions kept) use `[%]`.

    Arguments:
        n: the divisor (default 1)

    Inlets:
        0: a finite number: the dividend; its remainder is sent; a bang: send it again
        1: a finite number: the new divisor, stored without sending

    Outlets:
        0: the remainder, an integer from 0 to |n| - 1

    Example:
        [loadbang] -> [msg 9] -> [mod 8] -> [print]
    """

    name = "mod"
    default = 1
    expected = "a finite number"
    accepts = staticmethod(is_finite)

    def operate(self, left: Number, operand: Number) -> Number:
        return int(left) % _divisor(operand)


class Div(_Binary):
    """Divide whole numbers, rounding down (Pd's `[div]`).

    Both numbers are truncated toward zero first; the divisor's sign is ignored and a divisor
    of 0 counts as 1, as Pd computes it: `7 div 2` is 3, `-7 div 3` is -3, `7 div -3` is 2,
    `7 div 0` is 7. For exact division use `[/]`.

    Arguments:
        n: the divisor (default 1)

    Inlets:
        0: a finite number: the dividend; the quotient is sent; a bang: send it again
        1: a finite number: the new divisor, stored without sending

    Outlets:
        0: the quotient, an integer

    Example:
        [loadbang] -> [msg 17] -> [div 8] -> [print]
    """

    name = "div"
    default = 1
    expected = "a finite number"
    accepts = staticmethod(is_finite)

    def operate(self, left: Number, operand: Number) -> Number:
        # Pd subtracts divisor - 1 from a negative dividend and truncates: that is floor.
        return int(left) // _divisor(operand)


def power(base: Number, exponent: Number) -> Number:
    """`base ** exponent`, or 0 where Pd sends 0: no real result, or too large to hold."""
    try:
        result = math.pow(base, exponent)
    except (ValueError, OverflowError):  # -4 ** 0.5, 0 ** -1, 10 ** 400
        return 0
    if not math.isfinite(result):
        return 0
    if type(base) is int and type(exponent) is int and exponent >= 0 and abs(result) < _EXACT:
        return base**exponent  # exact: 3 ** 2 is 9, not 9.0
    return result


class Pow(_Binary):
    """Raise a number to a power; 0 where the result is not a real number (as Pd does).

    A negative number to a fractional power, 0 to a negative power and a result too large
    for a float all send 0. Two integers with an exponent ≥ 0 give an integer.

    Arguments:
        n: the exponent (default 0)

    Inlets:
        0: a number: the base; the power is sent; a bang: send it again
        1: a number: the new exponent, stored without sending

    Outlets:
        0: base to the power of the exponent, or 0

    Example:
        [loadbang] -> [msg 3] -> [pow 2] -> [print]
    """

    name = "pow"

    def operate(self, left: Number, operand: Number) -> Number:
        return power(left, operand)


# -- abs and sqrt: a function of one number ---------------------------------------------------


class _Function(Box):
    """Base of `[abs]` and `[sqrt]`: one number in, one out; no bang, as in Pd (not an object)."""

    def __init__(self) -> None:
        super().__init__(inlets=1, outlets=1)

    def compute(self, number: Number) -> Number:
        raise NotImplementedError

    def receive(self, inlet: int, message: Any) -> None:
        if isinstance(message, list | tuple) and message:
            message = message[0]  # Pd: a list's first element; the rest is dropped
        if not is_number(message):
            raise self.reject(inlet, message, "a number")
        self.send(self.compute(message))


class Abs(_Function):
    """Send the absolute value of a number.

    Arguments:
        none

    Inlets:
        0: a number

    Outlets:
        0: its absolute value (an integer stays an integer)

    Example:
        [loadbang] -> [msg -3] -> [abs] -> [print]
    """

    name = "abs"

    def compute(self, number: Number) -> Number:
        return abs(number)


class Sqrt(_Function):
    """Send the square root of a number; 0 for a negative number (as Pd does).

    The square root of a whole number that is a perfect square is an integer (`9` → 3);
    others are floats.

    Arguments:
        none

    Inlets:
        0: a number

    Outlets:
        0: its square root, or 0 when it is negative

    Example:
        [loadbang] -> [msg 2] -> [sqrt] -> [print]
    """

    name = "sqrt"

    def compute(self, number: Number) -> Number:
        if number < 0:
            return 0
        if type(number) is int:
            root = math.isqrt(number)
            if root * root == number:
                return root
        return math.sqrt(number)


# -- clip -------------------------------------------------------------------------------------


class Clip(Box):
    """Clamp a number between a low and a high bound, testing the low one first (as Pd).

    A number below `lo` becomes `lo`; otherwise one above `hi` becomes `hi`. With `lo` above
    `hi` this is Pd's answer, not a swap: `[clip 10 0]` sends 10 for 5 and 0 for 20.

    Arguments:
        lo: the low bound (default 0)
        hi: the high bound (default 0)

    Inlets:
        0: a number: clamp it and send it; a bang: send the last one again, clamped
        1: a number: the new low bound, stored without sending
        2: a number: the new high bound, stored without sending

    Outlets:
        0: the clamped number

    Example:
        [loadbang] -> [msg 12] -> [clip 0 10] -> [print]
    """

    name = "clip"
    spreads_lists = True

    def __init__(self, lo: Number = 0, hi: Number = 0) -> None:
        super().__init__(inlets=3, outlets=1)
        self.value: Number = 0
        self.bounds: list[Number] = [lo, hi]

    @classmethod
    def from_text(cls, args: str, body: str | None = None) -> Clip:
        return cls(*number_arguments(args, 2, "[clip 0 127]"))

    def receive(self, inlet: int, message: Any) -> None:
        if is_number(message):
            if inlet:
                self.bounds[inlet - 1] = message
                return
            self.value = message
        elif inlet or not is_bang(message):
            raise self.reject(inlet, message, "a number" if inlet else "a number or bang")
        lo, hi = self.bounds
        value = self.value
        self.send(lo if value < lo else hi if value > hi else value)


BOXES = (Mod, Div, Abs, Sqrt, Pow, Clip)
