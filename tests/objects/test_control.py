"""loadbang, print, stdin and msg: each inlet, outlet and error case."""

from __future__ import annotations

import trio

from patchflow import Patch
from patchflow.testing import first_problem as problem
from patchflow.testing import run_text as run

# -- loadbang ---------------------------------------------------------------------------------


def test_loadbang_sends_one_bang_after_the_patch_is_built():
    assert run("[loadbang] -> [print]").lines == ['print: {"type": "bang"}']


def test_loadbang_takes_no_arguments_and_has_no_inlets():
    assert "takes no arguments" in problem("[loadbang now]").message
    assert "has no inlets" in problem("[t a] -> [loadbang]").message


# -- print ------------------------------------------------------------------------------------


def test_print_writes_label_and_json_with_keys_in_order_and_unicode_kept():
    out = run("[loadbang] -> [msg {b: 1, a: 'é', c: [true, null]}] -> [print my label]")
    assert out.lines == ['my label: {"b": 1, "a": "é", "c": [true, null]}']


def test_print_shows_bytes_as_their_size():
    out = run("p = [print]", ("p", {"blob": b"abc"}), ("p", b"\x00" * 10))
    assert out.lines == ['print: {"blob": "<3 bytes>"}', 'print: "<10 bytes>"']


# -- stdin ------------------------------------------------------------------------------------


def test_stdin_sends_each_line_then_a_bang_at_the_end_of_input():
    text = "in = [stdin]\nin -> [print line]\nin:1 -> [print end]\n"
    out = run(text, stdin=["one\n", "two\r\n", "\n"])
    assert out.lines == ['line: "one"', 'line: "two"', 'line: ""', 'end: {"type": "bang"}']


def test_stdin_json_parses_each_line_and_reports_a_bad_one_without_stopping():
    text = "in = [stdin json]\nin -> [print value]\nin:1 -> [print end]\n"
    out = run(text, stdin=['{"a": [1, 2]}\n', "not json\n", "3\n"])
    assert out.lines == ['value: {"a": [1, 2]}', "value: 3", 'end: {"type": "bang"}']
    assert len(out.errors) == 1
    assert "[in: stdin]" in out.errors[0] and "not JSON" in out.errors[0]


def test_two_stdins_each_get_every_line_in_file_order():
    text = "a = [stdin]\nb = [stdin]\na -> [print a]\nb -> [print b]\nb:1 -> [print end]\n"
    for _ in range(5):  # the same order every run
        out = run(text, stdin=["1\n", "2\n"])
        assert out.lines == ['a: "1"', 'b: "1"', 'a: "2"', 'b: "2"', 'end: {"type": "bang"}']


def test_stdin_rejects_arguments_other_than_json():
    assert "expected nothing or 'json'" in problem("[stdin yaml]").message


def test_an_open_stdin_keeps_the_patch_running_until_the_input_ends():
    patch = Patch.from_string("in = [stdin]\nin -> [print]\n")
    send_line, receive_line = trio.open_memory_channel(1)
    lines: list[str] = []

    async def stdin():
        async for line in receive_line:
            yield line

    async def main():
        async with trio.open_nursery() as nursery:
            finished = trio.Event()

            async def run_patch():
                await patch.run(data_dir=":memory:", stdin=stdin(), output=lines.append)
                finished.set()

            nursery.start_soon(run_patch)
            await send_line.send("first\n")
            await trio.sleep(1)
            assert not finished.is_set()  # idle otherwise, but stdin is still open
            await send_line.aclose()
            await finished.wait()

    trio.run(main)
    assert lines == ['print: "first"']


# -- msg --------------------------------------------------------------------------------------


def test_msg_sends_its_segments_in_order():
    out = run("[loadbang] -> [msg 1, 'two', {three: 3}, bang] -> [print]")
    assert out.lines == [
        "print: 1",
        'print: "two"',
        'print: {"three": 3}',
        'print: {"type": "bang"}',
    ]


def test_msg_inlet_0_stores_dollar_1_and_fires_and_a_bang_fires_without_storing():
    text = "m = [msg {got: $1}]\nm -> [print]\n"
    out = run(text, ("m", 5), ("m", {"type": "bang"}), ("m", None), ("m", "hi"))
    assert out.lines == [
        'print: {"got": 5}',
        'print: {"got": 5}',
        'print: {"got": 5}',
        'print: {"got": "hi"}',
    ]


def test_msg_skips_a_segment_whose_placeholder_is_unfilled():
    text = "m = [msg before, {a: $1, b: $2}, after]\nm -> [print]\n"
    out = run(text, ("m", {"type": "bang"}), ("m", 2, 1), ("m", 1))
    assert out.lines == [
        'print: {"type": "before"}',
        'print: {"type": "after"}',
        'print: {"type": "before"}',
        'print: {"a": 1, "b": 2}',
        'print: {"type": "after"}',
    ]


def test_msg_cold_inlets_store_without_sending():
    text = "m = [msg $1 $2 $3]\nm -> [print]\n"
    out = run(text, ("m", "b", 1), ("m", "c", 2), ("m", "a"))
    assert out.lines == ['print: ["a", "b", "c"]']


def test_msg_has_one_inlet_per_highest_placeholder():
    assert Patch.from_string("m = [msg $3]").build().box("m").inlets == 3
    assert Patch.from_string("m = [msg hi]").build().box("m").inlets == 1
    assert "inlet 2 does not exist" in problem("[loadbang] -> 2:[msg $2]").message


def test_msg_set_replaces_the_text_and_sends_nothing():
    text = "m = [msg old]\nm -> [print]\n"
    out = run(text, ("m", {"type": "set", "value": "new $1"}), ("m", 7), ("m", {"type": "bang"}))
    assert out.lines == ['print: [{"type": "new"}, 7]', 'print: [{"type": "new"}, 7]']


def test_msg_set_from_a_text_with_placeholders_to_a_constant_one_sends_the_new_text():
    text = "m = [msg {a: $1}]\nm -> [print]\n"
    out = run(text, ("m", 1), ("m", {"type": "set", "value": "done"}), ("m", 2), ("m", None))
    assert out.lines == ['print: {"a": 1}', 'print: {"type": "done"}', 'print: {"type": "done"}']


def test_msg_set_with_a_value_that_is_not_a_string_uses_its_json5_text():
    text = "m = [msg old]\nm -> [print]\n"
    out = run(text, ("m", {"type": "set", "value": {"a": [1, 2]}}), ("m", {"type": "bang"}))
    assert out.lines == ['print: {"a": [1, 2]}']


def test_msg_set_needing_more_inlets_than_the_box_has_is_an_error_and_keeps_the_text():
    text = "m = [msg old]\nm -> [print]\n"
    out = run(text, ("m", {"type": "set", "value": "$1 $2"}), ("m", {"type": "bang"}))
    assert out.lines == ['print: {"type": "old"}']
    assert "has 1 inlet" in out.errors[0]


def test_msg_shorthand_prefers_the_schemas_of_the_boxes_it_feeds():
    out = run(
        "m = [msg set count 5, get count]\nm -> store\nstore = [kv]\nstore -> [print]\n",
        ("m", {"type": "bang"}),
    )
    assert out.lines[-2:] == [
        'print: {"op": "set", "key": "count", "ok": true}',
        'print: {"op": "get", "key": "count", "value": 5, "found": true}',
    ]


def test_msg_text_may_be_an_indented_body():
    text = """
        m = [msg]
            {type: 'set', key: 'k',
             value: [1, 2]}, bang
        [loadbang] -> m -> [print]
    """
    assert run(text).lines == [
        'print: {"type": "set", "key": "k", "value": [1, 2]}',
        'print: {"type": "bang"}',
    ]


def test_msg_with_both_inline_text_and_a_body_is_an_error():
    assert "not both" in problem("m = [msg hi]\n    there\n").message


def test_m_is_msg():
    assert run("[loadbang] -> [m hi] -> [print]").lines == ['print: {"type": "hi"}']


def test_objects_without_a_body_reject_one():
    assert "takes no body" in problem("p = [print]\n    text\n").message


def test_storage_shorthand_works_through_boxes_in_between():
    # storage commands are built-in shorthand (messages.md), not only when wired to a store
    out = run("[loadbang] -> [msg has 20, insert notes {a: 1}] -> [t a] -> [print]")
    assert out.lines == [
        'print: {"type": "has", "key": "20"}',
        'print: {"type": "insert", "collection": "notes", "doc": {"a": 1}}',
    ]


def test_a_message_box_without_shorthand_does_not_load_storage():
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from patchflow.testing import run_text\n"
        "run_text('[loadbang] -> [msg hello, 1, {a: 2}] -> [print]')\n"
        "print('patchflow.storage' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.stdout.strip().splitlines()[-1] == "False", done.stderr
