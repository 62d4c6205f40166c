"""Delivery order, loadbang, error containment, runaway loops, idleness and the embedding API."""

from __future__ import annotations

import pytest
import trio
import trio.testing

from patchflow import Patch, PatchError
from patchflow.testing import run_text


def test_fan_out_follows_wire_order_in_the_file():
    out = run_text(
        """
        src = [msg 1]
        [loadbang] -> src
        src -> [print a]
        src -> [print b]
        src -> [print c]
        """.replace("        ", "")
    )
    assert out.lines == ["a: 1", "b: 1", "c: 1"]


def test_send_completes_the_whole_downstream_cascade_before_returning():
    out = run_text(
        """
        t = [t b b]
        [loadbang] -> t
        t:1 -> [msg 1] -> d
        d = [t a a]
        d:1 -> [print deep]
        d:0 -> [print deep]
        t:0 -> [print after]
        """.replace("        ", "")
    )
    assert out.lines == ["deep: 1", "deep: 1", 'after: {"type": "bang"}']


def test_loadbangs_fire_once_each_in_file_order():
    out = run_text(
        "[loadbang] -> [msg one] -> [print]\n"
        "[loadbang] -> [msg two] -> [print]\n"
        "[loadbang] -> [msg three] -> [print]\n"
    )
    assert out.lines == [
        'print: {"type": "one"}',
        'print: {"type": "two"}',
        'print: {"type": "three"}',
    ]


def test_error_in_one_receiver_is_reported_and_the_others_still_receive():
    out = run_text(
        "src = [msg 0]\n"
        "[loadbang] -> src\n"
        "src -> [expr 1 / $1] -> [print never]\n"
        "src -> [print still]\n"
    )
    assert out.lines == ["still: 0"]
    assert len(out.errors) == 1
    assert out.errors[0].startswith("test.patch:3 [expr-1]: ZeroDivisionError")


def test_runaway_loop_is_stopped_and_named_and_the_patch_keeps_running():
    out = run_text(
        "a = [t a]\n"
        "b = [t a]\n"
        "[loadbang] -> [msg 1] -> a -> b -> a\n"
        "[loadbang] -> [msg after] -> [print]\n"
    )
    assert out.lines == ['print: {"type": "after"}']
    assert len(out.errors) == 1
    assert "runaway loop" in out.errors[0]
    assert "a → b → a" in out.errors[0] or "b → a → b" in out.errors[0]


def test_runaway_loop_message_says_it_once_at_the_position_of_a_box_in_the_loop():
    out = run_text("x = [t a]\n[loadbang] -> [msg 1] -> x\nx -> [expr $1] -> x\n")
    [error] = out.errors
    # x is at line 1, column 5; expr-1 at line 3, column 6: either may come first
    assert error.startswith(
        ("test.patch:1:5: runaway loop x → expr-1 → x", "test.patch:3:6: runaway loop expr-1 → x")
    )
    assert error.count("runaway loop") == 1


@pytest.mark.parametrize(
    ("box", "what"),
    [
        ("[py raise SystemExit(3)]", "SystemExit(3)"),
        ("[py sys.exit()]", "SystemExit"),
        ("[expr exit(2)]", "SystemExit(2)"),
        ("[py raise KeyboardInterrupt]", "KeyboardInterrupt"),
        ("[expr (_ for _ in ()).throw(KeyboardInterrupt)]", "KeyboardInterrupt"),
    ],
)
def test_exit_or_keyboard_interrupt_in_box_code_is_that_boxs_error(box, what):
    code = box.replace("[py sys", "[py import sys; sys")
    out = run_text(f"src = [msg 1]\n[loadbang] -> src\nsrc -> {code}\nsrc -> [print still]\n")
    assert out.lines == ["still: 1"]  # the other receivers of the send, and the run, go on
    [error] = out.errors
    assert error.startswith("test.patch:3 [") and f"raised {what}" in error


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


def test_a_box_awaiting_does_not_let_another_cascade_interleave():
    patch = Patch.from_string(
        "slow = [py]\n"
        "    await send(f'{x} start')\n"
        "    await trio.sleep(1)\n"
        "    await send(f'{x} end')\n"
        "slow -> [print]\n"
    )

    async def main():
        lines: list[str] = []
        async with patch.running(data_dir=":memory:", output=lines.append) as session:
            session.post("slow", "a")
            session.post("slow", "b")
            await session.idle()
        return lines

    lines = trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))
    assert lines == ['print: "a start"', 'print: "a end"', 'print: "b start"', 'print: "b end"']


def test_patch_errors_are_all_reported_with_positions():
    with pytest.raises(PatchError) as caught:
        Patch.from_string(
            "n = [t a a]\n[loadbang] -> [rout op=get]\nn:2 -> [print]\n[loadbang] -> nxt\n",
            file="counter.patch",
        )
    text = str(caught.value)
    assert "counter.patch:2:16: unknown object 'rout' — did you mean 'route'?" in text
    assert "counter.patch:3:1: [t a a] has 2 outlets (0–1); outlet 2 does not exist" in text
    assert "counter.patch:4:15: 'nxt' is not declared" in text


def test_bad_creation_arguments_are_reported_at_the_argument_text():
    with pytest.raises(PatchError) as caught:
        Patch.from_string("[loadbang] -> [t x]\n", file="p.patch")
    assert caught.value.first.line == 1
    assert caught.value.first.column == 18


def test_a_patch_id_that_cannot_name_storage_is_rejected():
    with pytest.raises(ValueError, match="invalid patch id"):
        Patch.from_string("[print]", file="my patch.patch")


def test_send_waits_for_a_cascade_that_suspends_in_a_py_box():
    patch = Patch.from_string(
        "slow = [py]\n    await trio.sleep(5)\n    await send(x + 1)\nslow -> sink\nsink = [t a]\n"
    )

    async def main():
        async with patch.running(data_dir=":memory:") as session:
            seen = session.collect("sink")
            before = trio.current_time()
            await session.send("slow", 1)
            assert seen == [2]  # the whole cascade, sleep included, ran before send returned
            assert trio.current_time() - before >= 5
            await session.send("slow", 10)
            return seen

    assert trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0)) == [2, 11]
