"""The embedding API: Patch, run, run_sync, running sessions that send, post and collect."""

from __future__ import annotations

import pytest
import trio
import trio.testing

from patchflow import Patch


def test_strict_mode_stops_at_the_first_error():
    patch = Patch.from_string(
        "[loadbang] -> [msg 0] -> [expr 1 / $1]\n[loadbang] -> [msg later] -> [print]\n"
    )
    errors: list[str] = []
    lines: list[str] = []
    result = patch.run_sync(
        data_dir=":memory:", strict=True, errors=errors.append, output=lines.append
    )
    assert result.reason == "failed"
    assert lines == []
    assert len(errors) == 1


def test_run_ends_when_idle_and_reports_why():
    patch = Patch.from_string("[loadbang] -> [print]")
    lines: list[str] = []
    result = patch.run_sync(data_dir=":memory:", output=lines.append)
    assert result.reason == "idle"
    assert lines == ['print: {"type": "bang"}']


def test_timeout_stops_a_patch_that_never_goes_idle():
    patch = Patch.from_string("[loadbang] -> [metro 10] -> [print]")
    lines: list[str] = []

    async def main():
        return await patch.run(data_dir=":memory:", output=lines.append, timeout=0.095)

    result = trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))
    assert result.reason == "timeout"
    assert len(lines) == 10


def test_messages_injected_from_python_run_as_cascades_and_can_be_collected():
    patch = Patch.from_string("adder = [+ 10]\nadder -> sink\nsink = [t a]\n")

    async def main():
        async with patch.running(data_dir=":memory:") as session:
            seen = session.collect("sink")
            await session.send("adder", 5)
            await session.send("adder", 3, inlet=1)
            await session.send("adder", 1)
            await session.idle()
            return seen

    assert trio.run(main) == [15, 4]


def test_injecting_into_a_missing_inlet_or_box_says_what_exists():
    patch = Patch.from_string("adder = [+ 10]\n")

    async def main():
        async with patch.running(data_dir=":memory:") as session:
            with pytest.raises(ValueError, match="inlet 5 does not exist"):
                session.post("adder", 1, inlet=5)
            with pytest.raises(KeyError, match="boxes: adder"):
                session.post("nope", 1)

    trio.run(main)


def test_the_graph_is_built_once_for_the_first_run_and_afresh_for_each_later_one():
    from patchflow import Box, Registry, default_registry

    built: list[Box] = []

    class Counted(Box):
        name = "counted"

        def __init__(self) -> None:
            super().__init__(inlets=1, outlets=0)
            built.append(self)

        def receive(self, inlet, message):
            pass

    patch = Patch.from_string("[counted]\n", registry=Registry([*default_registry(), Counted]))
    assert len(built) == 1  # checked when the patch was made
    patch.run_sync(data_dir=":memory:")
    assert len(built) == 1  # the first run used those boxes
    patch.run_sync(data_dir=":memory:")
    assert len(built) == 2  # a later run never shares boxes with an earlier one


def test_collect_of_one_inlet_sees_only_that_inlet():
    patch = Patch.from_string("adder = [+ 10]\n")

    async def main():
        async with patch.running(data_dir=":memory:") as session:
            left, right = session.collect("adder", inlet=0), session.collect("adder", inlet=1)
            await session.send("adder", 1)
            await session.send("adder", 2, inlet=1)
            await session.idle()
            return left, right

    assert trio.run(main) == ([1], [2])
