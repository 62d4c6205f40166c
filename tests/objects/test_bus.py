"""The named bus: `[send NAME]` delivers to every `[receive NAME]`."""

from __future__ import annotations

from patchflow import BANG
from patchflow.testing import first_problem as problem
from patchflow.testing import run_text as run

BANG_LINE = '{"type": "bang"}'

# -- send and receive -------------------------------------------------------------------------


def test_send_delivers_to_every_receive_of_the_name_in_file_order():
    out = run(
        """
        [r news] -> [print first]
        [r other] -> [print never]
        [loadbang] -> [msg 1] -> [s news]
        [r news] -> [print second]
        """
    )
    assert out.lines == ["first: 1", "second: 1"]


def test_send_returns_after_the_receivers_cascades_complete():
    out = run(
        """
        t = [t b b]
        [loadbang] -> t
        t:1 -> [msg 1] -> [send x]
        t:0 -> [print after]
        [receive x] -> deep
        deep = [t a a]
        deep:1 -> [print one]
        deep:0 -> [print zero]
        """
    )
    assert out.lines == ["one: 1", "zero: 1", f"after: {BANG_LINE}"]


def test_send_to_a_name_nobody_receives_is_not_an_error():
    out = run("[loadbang] -> [s nobody]")
    assert out.lines == [] and out.errors == []


def test_send_without_a_name_takes_it_on_inlet_1():
    out = run(
        "snd = [s]\n[r a] -> [print a]\n[r b] -> [print b]",
        ("snd", 1),
        ("snd", "a", 1),
        ("snd", 2),
        ("snd", "b", 1),
        ("snd", 3),
    )
    assert out.errors == [
        "test.patch:1 [snd: s]: no name to send to yet: send a name to inlet 1 first"
    ]
    assert out.lines == ["a: 2", "b: 3"]


def test_send_with_a_name_has_no_name_inlet():
    found = problem("[loadbang] -> 1:[s x]")
    assert "[s x] has 1 inlet (0); inlet 1 does not exist" in found.message


def test_send_name_inlet_rejects_what_is_not_a_name():
    out = run("snd = [s]", ("snd", 5, 1), ("snd", "", 1))
    assert out.errors == [
        "test.patch:1 [snd: s]: inlet 1 cannot take 5; expected a name (a non-empty string)",
        'test.patch:1 [snd: s]: inlet 1 cannot take ""; expected a name (a non-empty string)',
    ]


def test_receive_without_a_name_takes_it_on_inlet_0_and_moves_to_the_end_of_the_order():
    text = """
    rcv = [r]
    rcv -> [print renamed]
    [r x] -> [print fixed]
    snd = [s x]
    """
    out = run(text, ("snd", 1), ("rcv", "x"), ("snd", 2), ("rcv", "y"), ("snd", 3))
    assert out.lines == ["fixed: 1", "fixed: 2", "renamed: 2", "fixed: 3"]


def test_receive_with_a_name_has_no_inlet():
    found = problem("[loadbang] -> [r x]")
    assert "[r x] has no inlets; inlet 0 does not exist" in found.message


def test_receive_name_inlet_rejects_what_is_not_a_name():
    out = run("rcv = [r]", ("rcv", BANG))
    assert out.errors == [
        'test.patch:1 [rcv: r]: inlet 0 cannot take {"type": "bang"}; '
        "expected a name (a non-empty string)"
    ]


def test_send_and_receive_take_at_most_one_name():
    assert problem("[s a b]").message == "[s a b]: takes one name, got 2 words; e.g. [s counter]"
    assert problem("[r a b]").message == "[r a b]: takes one name, got 2 words; e.g. [r counter]"


def test_send_receive_loop_is_stopped_with_one_error_and_the_patch_keeps_running():
    out = run("[loadbang] -> [s x]\n[r x] -> [s x]\n[loadbang] -> [msg 'after'] -> [print]")
    assert len(out.errors) == 1
    assert out.lines == ['print: "after"']
