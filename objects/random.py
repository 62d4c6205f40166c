"""Pseudo-random numbers with Pd's own generator (x_misc.c), so runs repeat and match Pd.

Pd gives each `[random]` a seed from a process-wide sequence as it is created; here each
box of a running patch takes the next seed of a per-run sequence, in the order the boxes
start (file order). The same patch therefore sends the same numbers on every run, and the
same numbers as Pd 0.53 running the same boxes (a test in tests/pd/ checks it).
"""

from __future__ import annotations

import math
from typing import Any
from weakref import WeakKeyDictionary

from patchflow import Box, Number, is_bang, is_number, message_type, schema

from .arithmetic import number_arguments

_MASK = 0xFFFFFFFF
_FIRST_SEED = 1489853723  # Pd's makeseed() starting point

_seeds: WeakKeyDictionary[Any, int] = WeakKeyDictionary()


def next_seed(patch: Any) -> int:
    """The next box seed of a running patch: Pd's makeseed() sequence, restarted per run."""
    seed = (_seeds.get(patch, _FIRST_SEED) * 435898247 + 938284287) & _MASK
    _seeds[patch] = seed
    return seed & 0x7FFFFFFF


def seed_value(message: Any) -> tuple[bool, Any]:
    """Read a `seed` message (`{type: "seed", value: S}`, `["seed", S]`): (is it one, S)."""
    if message_type(message) == "seed" and "value" in message:
        return True, message["value"]
    if isinstance(message, list | tuple) and len(message) == 2:
        head = message[0]
        if head == "seed" or message_type(head) == "seed":
            return True, message[1]
    return False, None


class Random(Box):
    """Send a pseudo-random integer from 0 to n - 1 on each bang.

    The numbers come from Pd's generator: each box starts from its own fixed seed (the k-th
    `[random]` of the patch the k-th of Pd's seeds), so a run repeats the previous one and
    matches Pd; `seed S` restarts a box's sequence from S.

    Arguments:
        n: how many different numbers, truncated; 1 or less always sends 0 (default 1)

    Inlets:
        0: a bang: send the next number; `seed S` ({type: "seed", value: S}): restart the
           sequence from the integer S
        1: a finite number: the new n, stored without sending

    Outlets:
        0: an integer from 0 to n - 1

    Example:
        [loadbang] -> [msg bang, bang, bang] -> [random 6] -> [+ 1] -> [print dice]
    """

    name = "random"
    schemas = (schema("seed", "value:number"),)

    def __init__(self, n: Number = 1) -> None:
        super().__init__(inlets=2, outlets=1)
        self.n = n
        self.state = 0

    @classmethod
    def from_text(cls, args: str, body: str | None = None) -> Random:
        return cls(*number_arguments(args, 1, "[random 100]"))

    def start(self) -> None:
        self.state = next_seed(self.patch)

    def receive(self, inlet: int, message: Any) -> None:
        if inlet == 1:
            if not (is_number(message) and math.isfinite(message)):
                raise self.reject(inlet, message, "a finite number")
            self.n = message
        elif is_bang(message):
            self.send(self.next())
        else:
            is_seed, seed = seed_value(message)
            if not (is_seed and is_number(seed) and math.isfinite(seed)):
                raise self.reject(inlet, message, "a bang or seed N")
            self.state = int(seed) & _MASK

    def next(self) -> int:
        """Advance the generator and scale its state into 0 … n - 1 (Pd's random_bang)."""
        span = max(int(self.n), 1)
        self.state = (self.state * 472940017 + 832416023) & _MASK
        return min(int(span * self.state / 4294967296.0), span - 1)


BOXES = (Random,)
