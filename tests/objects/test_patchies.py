"""Headless stand-ins for Patchies' screen objects: [text input] and [list view]."""

from __future__ import annotations

from patchflow.testing import first_problem as problem
from patchflow.testing import run_text as run


def test_text_input_sends_each_line_of_input_as_a_string():
    out = run("[text input] -> [print typed]", stdin=["buy milk\n", "42\r\n", "\n"])
    assert out.lines == ['typed: "buy milk"', 'typed: "42"', 'typed: ""']


def test_text_takes_only_input():
    assert "only [text input] exists" in problem("[text output] -> [print]").message
    assert "only [text input] exists" in problem("[text] -> [print]").message


def test_list_view_prints_each_element_of_a_list_in_print_format():
    out = run("[loadbang] -> [msg [1, 'a', {b: [2]}]] -> [list view]")
    assert out.lines == ["list view: 1", 'list view: "a"', 'list view: {"b": [2]}']


def test_list_view_shows_the_documents_of_a_find_reply():
    out = run(
        """
        [loadbang] -> [msg {insert: ["notes", {text: "hi"}]}] -> notes
        [loadbang] -> [msg {find: "notes"}] -> notes
        notes = [db]
        notes -> [route op=find] -> [map [{"text": d["text"]} for d in $1.docs]] -> [list view]
        notes -> [route op=find] -> [list view]
        """
    )
    assert out.lines[0] == 'list view: {"text": "hi"}'
    assert out.lines[1].startswith('list view: {"_id": ') and '"text": "hi"' in out.lines[1]


def test_list_view_refuses_what_is_no_list():
    out = run("[loadbang] -> [msg 5] -> [list view]")
    assert len(out.errors) == 1
    assert "expected a list, or a dict with a list in `docs`" in out.errors[0]


def test_list_view_takes_no_arguments_and_other_list_commands_still_work():
    assert "[list view] takes no arguments" in problem("[list view 3]").message
    out = run("[loadbang] -> [msg [1, 2]] -> [list length] -> [print]")
    assert out.lines == ["print: 2"]
