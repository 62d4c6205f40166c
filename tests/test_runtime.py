"""Delivery order, loadbang, error containment, runaway loops and strict mode in a run."""

from __future__ import annotations

import pytest

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
