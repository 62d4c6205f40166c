"""Every path a message takes behaves alike: order, error containment, runaway loops.

The paths: a box's send on 0, 1, 2 or 3 wires; the relay of a pass-through box; `[send]` to
subscribers; a message injected from Python (at once or queued); and a box watched by
`collect`. They are all generated from one delivery step (delivery.py); these tests hold them
to it.
"""

from __future__ import annotations

from types import CodeType
from typing import Any

import pytest
import trio

from patchflow import Box, Patch, Registry, default_registry
from patchflow.delivery import _factory
from patchflow.testing import run_patch

ARRIVALS: list[tuple[str, Any]] = []


class Emit(Box):
    """Send each message on: a box that sends (not a pass-through)."""

    name = "emit"

    def receive(self, inlet: int, message: Any) -> None:
        self.send(message)


class Relay(Box):
    """Send each message on, declared as a pass-through: the core relays it."""

    name = "relay"
    passes_through = True

    def receive(self, inlet: int, message: Any) -> None:
        raise AssertionError("a pass-through box is never called")


class Probe(Box):
    """Record what arrives; fail on "boom"."""

    name = "probe"

    def __init__(self, label: str) -> None:
        super().__init__(inlets=1, outlets=0)
        self.label = label

    @classmethod
    def from_text(cls, args: str, body: str | None = None) -> Probe:
        return cls(args.strip())

    def receive(self, inlet: int, message: Any) -> None:
        _arrive(self.label, message)


class Pair(Box):
    """Record (inlet, message) for each arrival; spreads lists (fails on "boom")."""

    name = "pair"
    spreads_lists = True

    def __init__(self, inlets: int = 2) -> None:
        super().__init__(inlets=inlets, outlets=0)

    @classmethod
    def from_text(cls, args: str, body: str | None = None) -> Pair:
        return cls(int(args) if args.strip() else 2)

    def receive(self, inlet: int, message: Any) -> None:
        _arrive(f"in{inlet}", message)


class Listen(Box):
    """Subscribe to a name with a handler that records (and fails on "boom")."""

    name = "listen"

    def __init__(self, channel: str, label: str) -> None:
        super().__init__(inlets=0, outlets=0)
        self.channel, self.label = channel, label

    @classmethod
    def from_text(cls, args: str, body: str | None = None) -> Listen:
        return cls(*args.split())

    def start(self) -> None:
        self.patch.subscribe(self.channel, self, lambda message: _arrive(self.label, message))


def _arrive(label: str, message: Any) -> None:
    ARRIVALS.append((label, message))
    if message == "boom":
        raise ValueError(f"boom at {label}")


REGISTRY = Registry([*default_registry(), Emit, Relay, Probe, Pair, Listen])


def _run(text: str, *inject: tuple[str, Any]) -> tuple[list[tuple[str, Any]], list[str]]:
    ARRIVALS.clear()
    patch = Patch.from_string(text, file="test.patch", registry=REGISTRY)
    out = run_patch(patch, inject=list(inject))
    assert out.lines == []
    return list(ARRIVALS), out.errors


def _fan_out(kind: str, wires: int) -> str:
    """A patch whose box `src` delivers to `wires` receivers p0, p1, … in file order."""
    if kind == "bus":
        lines = ["src = [send ch]"]
        lines += [f"l{k} = [listen ch p{k}]" for k in range(wires)]
        return "\n".join(lines) + "\n"
    lines = [f"src = [{kind}]"]
    lines += [f"p{k} = [probe p{k}]" for k in range(wires)]
    lines += [f"src -> p{k}" for k in range(wires)]
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("kind", ["emit", "relay", "bus"])
@pytest.mark.parametrize("wires", [0, 1, 2, 3])
def test_every_path_delivers_in_file_order_and_contains_each_receivers_error(kind, wires):
    arrivals, errors = _run(_fan_out(kind, wires), ("src", "a"), ("src", "boom"), ("src", "b"))
    labels = [f"p{k}" for k in range(wires)]
    assert arrivals == [(p, m) for m in ("a", "boom", "b") for p in labels]
    # one error per receiver, naming it; the receivers after it still got the message
    owner = "listen" if kind == "bus" else "probe"
    line = {label: 2 + k for k, label in enumerate(labels)}
    assert errors == [
        f"test.patch:{line[p]} [{p.replace('p', 'l') if kind == 'bus' else p}: {owner}]: "
        f"ValueError: boom at {p}"
        for p in labels
    ]


@pytest.mark.parametrize(
    ("text", "start", "loop"),
    [
        ("x = [emit]\nx -> x\n", "x", "test.patch:1:5: runaway loop x → x"),
        ("x = [relay]\nx -> x\n", "x", "test.patch:1:5: runaway loop x → x"),
        ("x = [emit]\ny = [relay]\nx -> y -> x\n", "x", "test.patch:1:5: runaway loop x → y → x"),
        ("x = [relay]\ny = [emit]\nx -> y -> x\n", "x", "test.patch:1:5: runaway loop x → y → x"),
        ("x = [s ch]\nr = [r ch]\nr -> x\n", "x", "test.patch:1:5: runaway loop x → r → x"),
    ],
)
def test_every_path_stops_a_runaway_loop_once_naming_it_and_goes_on(text, start, loop):
    text += "after = [probe after]\n"
    arrivals, errors = _run(text, (start, "go"), ("after", "next"))
    assert arrivals == [("after", "next")]  # the patch goes on after the loop is stopped
    [error] = errors
    assert error.startswith(loop + ":")


@pytest.mark.parametrize("kinds", [("emit", "emit"), ("relay", "emit"), ("emit", "relay")])
def test_a_runaway_loop_reached_by_a_wire_or_injected_reads_the_same(kinds):
    # Injection delivers as a wire from outside does: as deep, so the loop is cut at the same
    # box and reported the same way (which member comes first follows the depth's parity).
    loop = f"x = [{kinds[0]}]\ny = [{kinds[1]}]\nx -> y -> x\n"
    _, by_wire = _run(loop + "[loadbang] -> x\n")
    _, injected = _run(loop, ("x", 1))
    assert by_wire == injected
    assert by_wire[0].startswith("test.patch:1:5: runaway loop x → y → x:")


@pytest.mark.parametrize("kinds", [("emit", "emit"), ("relay", "emit")])
def test_an_injected_runaway_loop_reads_the_same_whichever_way_injection_goes(kinds):
    # A patch with a box that spreads lists injects through `Delivery.inject`, one without
    # it through `run_now`'s written-out copy of it (delivery.py, `root`): the same report.
    loop = f"x = [{kinds[0]}]\ny = [{kinds[1]}]\nx -> y -> x\n"
    _, plain = _run(loop, ("x", 1))
    _, spreading = _run(loop + "[pair]\n", ("x", 1))
    assert plain == spreading
    assert plain[0].startswith("test.patch:1:5: runaway loop x → y → x:")


def test_injection_at_once_and_queued_and_collect_see_the_same():
    text = "x = [emit]\nx -> [probe a]\nx -> [probe b]\n"
    patch = Patch.from_string(text, registry=REGISTRY)

    async def main() -> tuple[list[Any], list[str]]:
        errors: list[str] = []
        async with patch.running(data_dir=":memory:", errors=errors.append) as session:
            seen = session.collect("x")
            await session.send("x", 1)  # at once, in this task
            session.post("x", "boom")  # queued
            await session.send("x", 2)  # queued behind it
            await session.idle()
        return seen, errors

    ARRIVALS.clear()
    seen, errors = trio.run(main)
    assert seen == [1, "boom", 2]
    assert ARRIVALS == [("a", 1), ("b", 1), ("a", "boom"), ("b", "boom"), ("a", 2), ("b", 2)]
    assert [e.split("]: ")[1] for e in errors] == ["ValueError: boom at a", "ValueError: boom at b"]


def test_collect_watches_a_pass_through_box_and_one_inlet():
    text = "x = [relay]\nx -> [probe a]\n"
    patch = Patch.from_string(text, registry=REGISTRY)

    async def main() -> tuple[list[Any], list[Any]]:
        async with patch.running(data_dir=":memory:") as session:
            every, inlet0 = session.collect("x"), session.collect("x", inlet=0)
            await session.send("x", 1)
            await session.idle()
        return every, inlet0

    ARRIVALS.clear()
    assert trio.run(main) == ([1], [1])
    assert ARRIVALS == [("a", 1)]


def test_senders_are_generated_once_per_shape():
    assert _factory("send", 3) is _factory("send", 3)
    assert _factory("send", 2) is not _factory("relay", 2)


# -- list spreading -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "start"),
    [
        ("src = [emit]\nsrc -> x\nx = [pair 3]\n", "src"),  # a wire
        ("src = [relay]\nsrc -> x\nx = [pair 3]\n", "src"),  # a pass-through box's relay
        ("x = [pair 3]\n", "x"),  # injected from Python
    ],
)
def test_every_path_spreads_a_list_on_inlet_0_cold_inlets_left_to_right_then_the_hot_one(
    text, start
):
    arrivals, errors = _run(text, (start, [1, 2, 3, 4]), (start, ("a", "b")), (start, []))
    assert errors == []
    assert arrivals == [
        ("in1", 2), ("in2", 3), ("in0", 1),  # the extra element 4 is dropped
        ("in1", "b"), ("in0", "a"),  # a tuple from Python is a list; fewer leave inlet 2 alone
        ("in0", {"type": "bang"}),  # the empty list is a bang
    ]  # fmt: skip


def test_a_list_on_a_cold_inlet_or_to_a_box_that_does_not_spread_arrives_whole():
    arrivals, _ = _run("x = [pair 3]\n", ("x", [1, 2], 1))
    assert arrivals == [("in1", [1, 2])]
    arrivals, _ = _run("x = [pair 1]\n", ("x", [1, 2]))  # one inlet: nothing to spread over
    assert arrivals == [("in0", [1, 2])]
    arrivals, _ = _run("x = [probe p]\n", ("x", [1, 2]))
    assert arrivals == [("p", [1, 2])]


def test_an_error_on_a_cold_inlet_of_a_spread_list_is_reported_and_the_rest_arrives():
    arrivals, errors = _run("x = [pair 3]\n", ("x", [1, "boom", 3]))
    assert arrivals == [("in1", "boom"), ("in2", 3), ("in0", 1)]
    assert errors == ["test.patch:1 [x: pair]: ValueError: boom at in1"]


def _free_names(make) -> tuple[str, ...]:
    """The names a generated sender reaches outside itself (its closure)."""
    return next(c for c in make.__code__.co_consts if isinstance(c, CodeType)).co_freevars


def test_spreading_and_tracing_are_generated_only_into_the_senders_that_use_them():
    plain = _factory("send", 2)
    assert _factory("send", 2, (False, False), trace=False) is plain
    assert "_spread" not in _free_names(plain) and "_trace" not in _free_names(plain)
    assert "_spread" in _free_names(_factory("send", 2, (True, False)))
    assert "_trace" in _free_names(_factory("send", 2, trace=True))


# -- the runaway guard (Pd's stack guard) --------------------------------------------------------


def test_a_runaway_fails_only_the_delivery_too_deep_and_the_shallower_sends_go_on():
    # A Pd feedback patch: t sends back into add first, prints on the way out. Pd prints
    # every value the loop reached; abandoning the whole cascade printed none.
    out = run_patch(
        Patch.from_string(
            "add = [+ 1]\n"
            "t = [t f f]\n"
            "[loadbang] -> [msg 0] -> add -> t\n"
            "t:1 -> add\n"
            "t:0 -> [print]\n",
            file="test.patch",
        )
    )
    assert out.lines == [f"print: {n}" for n in range(499, 0, -1)]  # 1000 deep: 2 per lap
    [error] = out.errors
    assert error.startswith("test.patch:2:5: runaway loop t → add → t: more than 1000")


def test_after_a_runaway_the_other_receivers_of_the_same_outlets_still_receive():
    text = "x = [emit]\nx -> x\nx -> after\nafter = [probe after]\n"
    arrivals, errors = _run(text, ("x", "go"))
    # the 999 shallower sends of x each go on to their second wire (the deepest send fails)
    assert arrivals == [("after", "go")] * 999
    assert len(errors) == 1


def test_a_runaway_that_fans_out_is_stopped_whole_after_the_limit_with_a_second_error():
    from patchflow.delivery import RUNAWAY_LIMIT

    text = "x = [emit]\nx -> x\nx -> x\n"  # two wires back: 2**1000 trips if let go on
    _, errors = _run(text, ("x", "go"))
    assert len(errors) == 2
    assert errors[0].startswith("test.patch:1:5: runaway loop x → x: more than 1000")
    assert errors[1].startswith(
        f"test.patch:1:5: runaway loop x → x: {RUNAWAY_LIMIT} sends in one cascade"
    )
    assert "the rest of that cascade was stopped" in errors[1]


def test_strict_mode_stops_the_run_at_the_first_runaway():
    patch = Patch.from_string("x = [emit]\nx -> x\nx -> [probe p]\n", registry=REGISTRY)
    ARRIVALS.clear()
    out = run_patch(patch, inject=[("x", "go")], strict=True)
    assert len(out.errors) == 1
    assert ARRIVALS == []
