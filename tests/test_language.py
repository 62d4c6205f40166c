"""The `.patch` language (spec/language.md): every statement of the page, and error positions."""

from __future__ import annotations

import textwrap

import pytest
from hypothesis import given
from hypothesis import strategies as st

from patchflow.errors import PatchError, Problem
from patchflow.language import BoxDecl, PatchDecl, WireDecl, parse_patch

COUNTER = """\
# Counter: every run adds one to a stored count and prints it.
patch counter

store = [kv counter]
next  = [t a a]

[loadbang] -> [msg get count] -> store
store -> [route op=get] -> [expr ($1.value or 0) + 1] -> next
next:1 -> [print count]
next:0 -> [msg set count $1] -> store
"""


def parse(text: str) -> PatchDecl:
    return parse_patch(text, "t.patch")


def ok(text: str) -> PatchDecl:
    """Parse text that must have no problems."""
    decl = parse(text)
    assert decl.problems == (), [str(p) for p in decl.problems]
    return decl


def wires(decl: PatchDecl) -> list[tuple[str, int, str, int]]:
    return [(w.source, w.outlet, w.target, w.inlet) for w in decl.wires]


def box(decl: PatchDecl, box_id: str) -> BoxDecl:
    (found,) = [b for b in decl.boxes if b.id == box_id]
    return found


def where(decl: PatchDecl) -> list[tuple[int, int]]:
    return [(p.line, p.column) for p in decl.problems]


def only_problem(text: str) -> Problem:
    decl = parse(text)
    assert len(decl.problems) == 1, [str(p) for p in decl.problems]
    return decl.problems[0]


DECLARED = "\na = [x]\nb = [y]\nc = [z]\npack = [pack]\n"  # names the port tests use


# --- the counter example --------------------------------------------------------------------


def test_counter_example_parses_without_problems_and_sets_patch_id():
    decl = parse_patch(COUNTER, "counter.patch")
    assert decl.problems == ()
    assert decl.file == "counter.patch"
    assert decl.patch_id == "counter"


def test_counter_example_has_its_boxes_in_file_order():
    decl = parse_patch(COUNTER, "counter.patch")
    assert [(b.id, b.cls, b.args, b.named) for b in decl.boxes] == [
        ("store", "kv", "counter", True),
        ("next", "t", "a a", True),
        ("loadbang-1", "loadbang", "", False),
        ("msg-1", "msg", "get count", False),
        ("route-1", "route", "op=get", False),
        ("expr-1", "expr", "($1.value or 0) + 1", False),
        ("print-1", "print", "count", False),
        ("msg-2", "msg", "set count $1", False),
    ]


def test_counter_example_has_its_wires_in_file_order():
    decl = parse_patch(COUNTER, "counter.patch")
    assert wires(decl) == [
        ("loadbang-1", 0, "msg-1", 0),
        ("msg-1", 0, "store", 0),
        ("store", 0, "route-1", 0),
        ("route-1", 0, "expr-1", 0),
        ("expr-1", 0, "next", 0),
        ("next", 1, "print-1", 0),
        ("next", 0, "msg-2", 0),
        ("msg-2", 0, "store", 0),
    ]


# --- boxes ----------------------------------------------------------------------------------


def test_box_class_is_first_word_and_args_are_the_rest_trimmed():
    decl = ok("[msg   set count $1   ]")
    assert (decl.boxes[0].cls, decl.boxes[0].args) == ("msg", "set count $1")


def test_box_records_positions_of_bracket_and_first_argument():
    decl = ok("  x = [route  op=get]")
    assert (decl.boxes[0].line, decl.boxes[0].column) == (1, 7)
    assert (decl.boxes[0].args_line, decl.boxes[0].args_column) == (1, 15)


def test_box_without_args_puts_args_position_just_after_class_word():
    decl = ok("[loadbang ]")
    assert decl.boxes[0].args == ""
    assert (decl.boxes[0].args_line, decl.boxes[0].args_column) == (1, 10)


@pytest.mark.parametrize(
    ("text", "cls", "args"),
    [
        ("[route: op=get]", "route", "op=get"),
        ('[msg: {type: "get", key: "count"}]', "msg", '{type: "get", key: "count"}'),
        ("[msg: {a: 1}]", "msg", "{a: 1}"),
        ("[route:op=get]", "route", "op=get"),
        ("[print:]", "print", ""),
    ],
)
def test_colon_right_after_class_is_dropped(text, cls, args):
    decl = ok(text)
    assert (decl.boxes[0].cls, decl.boxes[0].args) == (cls, args)


def test_colon_after_class_moves_args_position_past_it():
    decl = ok("[route: op=get]")
    assert decl.boxes[0].args_column == 9


def test_brackets_braces_and_quotes_nest_inside_a_box():
    decl = ok('[msg {list: [1, 2], s: "a]b"}] -> [print]')
    assert [b.id for b in decl.boxes] == ["msg-1", "print-1"]
    assert decl.boxes[0].args == '{list: [1, 2], s: "a]b"}'


@pytest.mark.parametrize("string", ["'a]b'", '"a]b"', "`a]b`", r'"a\"]b"', r"'it\'s ]'"])
def test_quotes_of_every_kind_with_backslash_escapes_hide_brackets(string):
    decl = ok(f"[msg {string}] -> [print]")
    assert decl.boxes[0].args == string
    assert len(decl.wires) == 1


def test_hash_inside_a_box_is_text_not_a_comment():
    decl = ok("[msg #1 and #2] -> [print]")
    assert decl.boxes[0].args == "#1 and #2"
    assert len(decl.wires) == 1


def test_box_spans_several_lines_while_its_brackets_are_open():
    text = textwrap.dedent(
        """\
        cfg = [msg {
          a: [1,
              2],
        }] -> [print]
        [loadbang] -> cfg
        """
    )
    decl = ok(text)
    assert box(decl, "cfg").args == "{\n  a: [1,\n      2],\n}"
    assert wires(decl) == [("cfg", 0, "print-1", 0), ("loadbang-1", 0, "cfg", 0)]
    assert (box(decl, "print-1").line, box(decl, "print-1").column) == (4, 7)


def test_args_starting_on_a_later_line_record_that_line():
    decl = ok("[expr\n    $1 + 1]")
    assert decl.boxes[0].args == "$1 + 1"
    assert (decl.boxes[0].args_line, decl.boxes[0].args_column) == (2, 5)


def test_operator_class_words_are_kept_as_written():
    decl = ok("[+ 1] -> [<= 3] -> [!=]")
    assert [(b.id, b.cls, b.args) for b in decl.boxes] == [
        ("+-1", "+", "1"),
        ("<=-1", "<=", "3"),
        ("!=-1", "!=", ""),
    ]


def test_empty_box_is_a_problem_at_its_bracket():
    problem = only_problem("[loadbang] -> [ ]")
    assert (problem.line, problem.column) == (1, 15)
    assert "empty box" in problem.message and "[print]" in problem.message


def test_box_without_a_class_word_is_a_problem():
    problem = only_problem('["hi"]')
    assert (problem.line, problem.column) == (1, 2)
    assert "expected a class name" in problem.message


# --- anonymous boxes ------------------------------------------------------------------------


def test_anonymous_boxes_are_new_each_time_and_counted_per_class_word():
    decl = ok("[kv] -> [print]\n[print] -> [print]\n[kv]")
    assert [b.id for b in decl.boxes] == ["kv-1", "print-1", "print-2", "print-3", "kv-2"]
    assert not any(b.named for b in decl.boxes)


def test_anonymous_count_skips_named_boxes_and_counts_aliases_apart():
    decl = ok("p = [print]\n[print]\n[m a] -> [msg b] -> [m c]")
    assert [b.id for b in decl.boxes] == ["p", "print-1", "m-1", "msg-1", "m-2"]


def test_box_on_its_own_line_is_an_unwired_anonymous_box():
    decl = ok("[loadbang]")
    assert [b.id for b in decl.boxes] == ["loadbang-1"]
    assert decl.wires == ()


# --- names ----------------------------------------------------------------------------------


def test_declaration_names_the_box_and_the_name_is_its_id():
    decl = ok("store = [kv counter]")
    assert decl.boxes == (BoxDecl("store", "kv", "counter", None, 1, 9, 1, 13, 0, True),)


def test_declaration_may_continue_as_a_chain_on_the_same_line():
    decl = ok("store = [kv counter] -> [print]")
    assert [b.id for b in decl.boxes] == ["store", "print-1"]
    assert wires(decl) == [("store", 0, "print-1", 0)]


def test_declared_box_may_carry_an_outlet_in_its_chain():
    decl = ok("t = [t b b]:1 -> [print]")
    assert wires(decl) == [("t", 1, "print-1", 0)]


def test_names_may_be_used_before_they_are_declared():
    decl = ok("[loadbang] -> later\nlater = [print]")
    assert wires(decl) == [("loadbang-1", 0, "later", 0)]


def test_undeclared_name_is_a_problem_at_its_use():
    decl = parse("next = [t a a]\n[loadbang] -> [msg 1]\nnxt:1 -> [print]\n")
    assert len(decl.problems) == 1
    assert str(decl.problems[0]).startswith("t.patch:3:1: 'nxt' is not declared")
    assert "did you mean 'next'?" in decl.problems[0].message
    assert wires(decl) == [("loadbang-1", 0, "msg-1", 0)]


def test_every_use_of_an_undeclared_name_is_reported():
    decl = parse("[a] -> ghost\nghost -> [b]")
    assert where(decl) == [(1, 8), (2, 1)]
    assert all("'ghost' is not declared" in p.message for p in decl.problems)


def test_declaring_a_name_twice_is_a_problem_at_the_second_declaration():
    decl = parse("store = [kv a]\n\nstore = [kv b]\nstore -> [print]")
    assert where(decl) == [(3, 1)]
    assert "'store' is already declared on line 1" in decl.problems[0].message
    assert [b.id for b in decl.boxes] == ["store", "print-1"]
    assert box(decl, "store").args == "a"


@pytest.mark.parametrize(("text", "column"), [("patch = [kv]", 1), ("[a] -> patch", 8)])
def test_patch_is_reserved_as_a_name(text, column):
    problem = only_problem(text)
    assert (problem.line, problem.column) == (1, column)
    assert "'patch' is reserved" in problem.message


@pytest.mark.parametrize("name", ["my-box", "2box", "a.b"])
def test_bad_name_is_a_problem(name):
    problem = only_problem(f"{name} = [print]")
    assert (problem.line, problem.column) == (1, 1)
    assert f"bad name '{name}'" in problem.message


# --- chains and arrows ----------------------------------------------------------------------


@pytest.mark.parametrize("arrow", ["->", "→"])
def test_right_arrows_wire_left_to_right(arrow):
    decl = ok(f"[a] {arrow} [b] {arrow} [c]")
    assert wires(decl) == [("a-1", 0, "b-1", 0), ("b-1", 0, "c-1", 0)]


@pytest.mark.parametrize("arrow", ["<-", "←"])
def test_left_arrows_wire_right_to_left(arrow):
    decl = ok(f"[+ 1] {arrow} [expr $1.value] {arrow} [route op=get]")
    assert [b.id for b in decl.boxes] == ["+-1", "expr-1", "route-1"]
    assert wires(decl) == [("expr-1", 0, "+-1", 0), ("route-1", 0, "expr-1", 0)]


def test_arrows_may_be_mixed_in_one_chain():
    decl = ok("a -> b <- c → 1:pack ← [loadbang]" + DECLARED)
    assert wires(decl) == [
        ("a", 0, "b", 0),
        ("c", 0, "b", 0),
        ("c", 0, "pack", 1),
        ("loadbang-1", 0, "pack", 1),  # the inlet number is pack's, whichever side feeds it
    ]


def test_arrows_need_no_spaces_around_them():
    decl = ok("a->b<-c" + DECLARED)
    assert wires(decl) == [("a", 0, "b", 0), ("c", 0, "b", 0)]


def test_wires_are_kept_in_file_order():
    decl = ok("a -> c\nb -> c\na -> b\na -> 1:pack" + DECLARED)
    assert wires(decl) == [
        ("a", 0, "c", 0),
        ("b", 0, "c", 0),
        ("a", 0, "b", 0),
        ("a", 0, "pack", 1),
    ]


def test_a_name_on_its_own_line_wires_nothing():
    decl = ok("a" + DECLARED)
    assert decl.wires == ()


# --- ports ----------------------------------------------------------------------------------


def test_outlet_number_after_name_selects_outlet():
    assert wires(ok("a:1 -> b" + DECLARED)) == [("a", 1, "b", 0)]


def test_inlet_number_before_name_selects_inlet():
    assert wires(ok("a -> 1:pack" + DECLARED)) == [("a", 0, "pack", 1)]


def test_port_numbers_work_on_inline_boxes_too():
    decl = ok("[t b b]:1 -> 2:[pack f f f]")
    assert wires(decl) == [("t-1", 1, "pack-1", 2)]


def test_mid_chain_endpoint_takes_inlet_in_and_outlet_out():
    decl = ok("a -> 1:pack:0 -> b" + DECLARED)
    assert wires(decl) == [("a", 0, "pack", 1), ("pack", 0, "b", 0)]


def test_ports_default_to_zero():
    assert wires(ok("a -> b" + DECLARED)) == [("a", 0, "b", 0)]


def test_port_numbers_keep_their_meaning_with_left_arrows():
    assert wires(ok("1:pack <- a:2" + DECLARED)) == [("a", 2, "pack", 1)]


def test_port_numbers_are_not_range_checked_by_the_parser():
    assert wires(ok("a:99 -> 42:b" + DECLARED)) == [("a", 99, "b", 42)]


def test_wire_records_positions_of_source_and_target_endpoints():
    # an endpoint is where its box's `[` or its name starts; port numbers do not move it
    decl = ok("a -> [print]\n  [loadbang] -> 1:pack:0 -> 1:b" + DECLARED)
    assert decl.wires == (
        WireDecl("a", 0, "print-1", 0, 1, 1, 1, 6),
        WireDecl("loadbang-1", 0, "pack", 1, 2, 3, 2, 19),
        WireDecl("pack", 0, "b", 1, 2, 19, 2, 31),
    )


def test_wire_from_a_left_arrow_records_source_and_target_positions():
    decl = ok("[print] <- a" + DECLARED)
    assert decl.wires[0] == WireDecl("a", 0, "print-1", 0, 1, 12, 1, 1)


def test_outlet_number_on_the_last_endpoint_is_a_problem_showing_the_inlet_form():
    problem = only_problem("a -> b:1" + DECLARED)
    assert (problem.line, problem.column) == (1, 8)
    assert "outlet number" in problem.message and "last endpoint" in problem.message
    assert "'1:b'" in problem.message


def test_inlet_number_on_the_first_endpoint_is_a_problem_showing_the_outlet_form():
    problem = only_problem("2:a -> b" + DECLARED)
    assert (problem.line, problem.column) == (1, 1)
    assert "inlet number" in problem.message and "first endpoint" in problem.message
    assert "'a:2'" in problem.message


def test_inlet_number_on_the_first_endpoint_of_a_left_chain_is_fine():
    assert wires(ok("1:pack <- a" + DECLARED)) == [("a", 0, "pack", 1)]


def test_outlet_number_on_a_middle_endpoint_that_only_receives_is_a_problem():
    problem = only_problem("a -> b:1 <- c" + DECLARED)
    assert (problem.line, problem.column) == (1, 8)
    assert "'1:b'" in problem.message


def test_port_number_on_an_unwired_endpoint_is_a_problem():
    problem = only_problem("a:1" + DECLARED)
    assert (problem.line, problem.column) == (1, 3)
    assert "not wired" in problem.message


def test_number_without_colon_is_a_problem_showing_both_forms():
    problem = only_problem("1 -> a" + DECLARED)
    assert (problem.line, problem.column) == (1, 1)
    assert "'1:NAME'" in problem.message and "'NAME:1'" in problem.message


def test_colon_without_outlet_number_is_a_problem():
    problem = only_problem("a: -> b" + DECLARED)
    assert (problem.line, problem.column) == (1, 4)
    assert "expected an outlet number after ':'" in problem.message


# --- missing endpoints and garbage ----------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "column", "words"),
    [
        ("a ->", 3, "missing endpoint after '->'"),
        ("-> b", 1, "missing endpoint before '->'"),
        ("a -> -> b", 6, "missing endpoint between '->' and '->'"),
        ("a <-", 3, "missing endpoint after '<-'"),
        ("store = [kv] ->  # a comment", 14, "missing endpoint after '->'"),
    ],
)
def test_missing_endpoint_after_or_before_an_arrow_is_a_problem(text, column, words):
    decl = parse(text + DECLARED.replace("\na = [x]", "\na = [x]\nstore = [kv]"))
    problems = [p for p in decl.problems if "missing endpoint" in p.message]
    assert [(p.line, p.column) for p in problems] == [(1, column)]
    assert words in problems[0].message


@pytest.mark.parametrize(
    ("text", "column", "words"),
    [
        ("a b", 3, "expected '=' or an arrow '->' after 'a', found 'b'"),
        ("= [x]", 1, "expected a box '[...]' or a name, found '='"),
        ("x = a", 5, "expected a box '[...]' after 'x =', found 'a'"),
        ("x =", 3, "expected a box '[...]' after 'x ='"),
        ("a -> b c", 8, "expected an arrow '->' or '<-' after 'b', found 'c'"),
        ("[a] [b]", 5, "expected an arrow '->' or '<-' after [a], found a box"),
        ("a -> {b}", 6, "expected a box '[...]' or a name, found '{'"),
        ('"a" -> b', 1, "expected a box '[...]' or a name"),
    ],
)
def test_garbage_is_a_problem_saying_what_was_expected(text, column, words):
    problem = only_problem(text + DECLARED)
    assert (problem.line, problem.column) == (1, column)
    assert words in problem.message


def test_stray_closing_bracket_is_a_problem():
    decl = parse("]\na ] -> b" + DECLARED)
    assert where(decl) == [(1, 1), (2, 3)]
    assert all("stray ']'" in p.message for p in decl.problems)


# --- bodies ---------------------------------------------------------------------------------

PY_BODY = """\
history = [py]
    count = (await kv.get("count") or 0) + 1
    await kv.set("count", count)
    send({"count": count, "history": (await db.find("history"))[-10:]})
[loadbang] -> history
"""


def test_indented_lines_under_a_lone_declaration_are_its_body():
    decl = ok(PY_BODY)
    history = box(decl, "history")
    assert history.body == (
        'count = (await kv.get("count") or 0) + 1\n'
        'await kv.set("count", count)\n'
        'send({"count": count, "history": (await db.find("history"))[-10:]})'
    )
    assert history.body_line == 2
    assert wires(decl) == [("loadbang-1", 0, "history", 0)]


def test_body_text_is_not_parsed():
    decl = ok("code = [py]\n    x = [1, 2  # ] ' unbalanced\n    -> <- patch\n[print]")
    assert box(decl, "code").body == "x = [1, 2  # ] ' unbalanced\n-> <- patch"
    assert [b.id for b in decl.boxes] == ["code", "print-1"]


def test_body_keeps_relative_indentation_and_blank_lines_inside_and_drops_trailing_ones():
    decl = ok("f = [py]\n    if x:\n\n        send(x)\n  \n    y = 1\n\n\n[print]\n")
    assert box(decl, "f").body == "if x:\n\n    send(x)\n\ny = 1"


def test_body_ends_at_first_non_blank_line_no_deeper_than_the_declaration():
    decl = ok("  m = [msg]\n    hello\n  [print]\n    [print]")
    assert box(decl, "m").body == "hello"
    assert [b.id for b in decl.boxes] == ["m", "print-1", "print-2"]


def test_a_comment_line_at_declaration_depth_ends_the_body():
    decl = parse("m = [msg]\n    a\n# note\n    b = [x]\n")
    assert box(decl, "m").body == "a"
    assert "b" in [b.id for b in decl.boxes]


def test_blank_lines_between_declaration_and_body_are_skipped():
    decl = ok("m = [msg]\n\n    hello\n")
    assert (box(decl, "m").body, box(decl, "m").body_line) == ("hello", 3)


def test_lines_indented_after_a_declaration_with_a_chain_are_statements_not_a_body():
    decl = ok("a = [x] -> [print]\n    [loadbang] -> a")
    assert box(decl, "a").body is None
    assert wires(decl) == [("a", 0, "print-1", 0), ("loadbang-1", 0, "a", 0)]


def test_box_without_body_has_none_and_body_line_zero():
    decl = ok("m = [msg hi]\n[print]")
    assert (box(decl, "m").body, box(decl, "m").body_line) == (None, 0)


def test_declaration_with_a_trailing_comment_may_still_have_a_body():
    decl = ok("m = [msg]  # the text follows\n    {a: 1}\n")
    assert box(decl, "m").body == "{a: 1}"


def test_multi_line_declaration_may_have_a_body():
    decl = ok("p = [py\n  inlets=2]\n    send(x)\n")
    assert (box(decl, "p").args, box(decl, "p").body, box(decl, "p").body_line) == (
        "inlets=2",
        "send(x)",
        3,
    )


def test_a_tab_indents_to_the_next_multiple_of_eight():
    # the declaration is indented 4; a tab (8) is deeper, and 8 spaces match the tab exactly
    decl = ok("    m = [msg]\n\thello\n        again\n    [print]")
    assert box(decl, "m").body == "hello\nagain"


def test_body_indented_with_tabs_keeps_its_inner_tabs():
    decl = ok("f = [py]\n\tif x:\n\t\tsend(x)\n")
    assert box(decl, "f").body == "if x:\n\tsend(x)"


def test_body_mixing_tabs_and_spaces_is_dedented_by_width_as_spaces():
    decl = ok("f = [py]\n    if x:\n\tsend(x)\n")
    assert box(decl, "f").body == "if x:\n    send(x)"


def test_body_under_a_broken_declaration_is_skipped_not_parsed():
    decl = parse("a = [x]\na = [py]\n    x = [1\n")
    assert where(decl) == [(2, 1)]


# --- the patch line -------------------------------------------------------------------------


def test_patch_id_is_none_without_a_patch_line():
    assert ok("[print]").patch_id is None


@pytest.mark.parametrize("patch_id", ["counter", "my-counter_2", "v1.2", "0day", "-x"])
def test_patch_line_sets_the_patch_id(patch_id):
    assert ok(f"# a comment first\npatch {patch_id}  # and after\n[print]").patch_id == patch_id


@pytest.mark.parametrize(
    ("text", "column", "words"),
    [
        ("patch .hidden", 7, "must not start with '.'"),
        ("patch my counter", 7, "bad patch id 'my counter'"),
        ("patch a/b", 7, "bad patch id 'a/b'"),
        ("patch", 1, "expected a patch id after 'patch'"),
    ],
)
def test_bad_patch_id_is_a_problem(text, column, words):
    decl = parse(text)
    assert where(decl) == [(1, column)]
    assert words in decl.problems[0].message
    assert decl.patch_id is None


@pytest.mark.parametrize(
    ("patch_id", "example"),
    [
        (". a", "patch a"),  # once suggested 'patch  a', itself invalid
        ("..my patch", "patch my-patch"),
        ("x" * 129, "patch " + "x" * 128),  # too long: once accepted, then storage failed
        ("naïve", "patch naive"),
    ],
)
def test_bad_patch_id_problem_suggests_a_valid_patch_line(patch_id, example):
    [problem] = parse(f"patch {patch_id}\n[print]").problems
    assert problem.message.endswith(f"write e.g. '{example}'")


def test_patch_line_after_a_box_is_a_problem():
    decl = parse("[loadbang]\npatch late")
    assert where(decl) == [(2, 1)]
    assert "before any box" in decl.problems[0].message


def test_second_patch_line_is_a_problem_naming_the_first():
    decl = parse("patch one\npatch two\n")
    assert where(decl) == [(2, 1)]
    assert "already set on line 1" in decl.problems[0].message
    assert decl.patch_id == "one"


# --- comments -------------------------------------------------------------------------------


def test_comments_run_to_the_end_of_the_line_outside_boxes():
    decl = ok("# [a] -> [b]\n[a] # -> [c]\n  [b]  # -> [d]\n")
    assert wires(decl) == []
    assert [b.id for b in decl.boxes] == ["a-1", "b-1"]


def test_comment_after_an_arrow_leaves_a_missing_endpoint():
    assert "missing endpoint after '->'" in only_problem("[a] -> # [b]").message


# --- problems: positions, recovery, all at once ---------------------------------------------


def test_unclosed_bracket_is_reported_at_the_bracket():
    problem = only_problem("a = [kv counter\n[print] -> a")
    assert (problem.line, problem.column) == (1, 5)
    assert problem.message.startswith("unclosed '[' opened here")


def test_unclosed_box_ends_at_its_line_so_later_lines_still_parse():
    decl = parse("a = [kv counter\nb = [print]\na -> b")
    assert where(decl) == [(1, 5)]
    assert [(b.id, b.args) for b in decl.boxes] == [("a", "counter"), ("b", "")]
    assert wires(decl) == [("a", 0, "b", 0)]


def test_unclosed_quote_is_reported_at_the_quote():
    problem = only_problem('[msg "a]\n[print]')
    assert (problem.line, problem.column) == (1, 6)
    assert problem.message.startswith("unclosed quote '\"' opened here")


def test_unclosed_brace_inside_a_box_is_reported_at_the_brace():
    decl = parse("[msg {a: [1]]\n[msg {b: 2]\n")
    assert where(decl) == [(1, 6), (2, 6)]
    assert all("unclosed '{'" in p.message for p in decl.problems)


def test_unmatched_brace_inside_a_box_is_a_problem():
    problem = only_problem("[msg a}]")
    assert (problem.line, problem.column) == (1, 7)
    assert "unmatched '}'" in problem.message


def test_every_problem_in_a_file_is_reported_at_once_in_file_order():
    text = textwrap.dedent(
        """\
        patch my patch
        store = [kv counter]
        store = [kv other]
        [loadbang] -> [msg get count] -> stor
        store -> [route op=get] ->
        foo bar
        x = [t a a]:1
        [msg {a: 1}
        """
    )
    decl = parse(text)
    assert [str(p) for p in decl.problems] == [
        "t.patch:1:7: bad patch id 'my patch': use only letters, digits, '_', '.' and '-' "
        "(not spaces) — write e.g. 'patch my-patch'",
        "t.patch:3:1: 'store' is already declared on line 2; choose another name",
        "t.patch:4:34: 'stor' is not declared — did you mean 'store'?",
        "t.patch:5:25: missing endpoint after '->': write a box or a name, e.g. '-> [print]'",
        "t.patch:6:1: 'foo' is not declared — declare it: 'foo = [...]'",
        "t.patch:6:5: expected '=' or an arrow '->' after 'foo', found 'bar'",
        "t.patch:7:13: outlet number on 'x', which is not wired; wire it with '->'",
        "t.patch:8:1: unclosed '[' opened here; close it with ']'",
    ]
    # what could be understood is kept
    assert [b.id for b in decl.boxes] == [
        "store",
        "loadbang-1",
        "msg-1",
        "route-1",
        "x",
        "msg-2",
    ]
    assert wires(decl) == [("loadbang-1", 0, "msg-1", 0), ("store", 0, "route-1", 0)]


def test_raise_problems_raises_a_patch_error_with_file_line_and_column():
    decl = parse("a -> b\nb = [print]")
    with pytest.raises(PatchError) as caught:
        decl.raise_problems()
    assert caught.value.first == Problem(
        "t.patch", 1, 1, "'a' is not declared — declare it: 'a = [...]'"
    )
    assert str(caught.value).startswith("t.patch:1:1: 'a' is not declared")
    ok("[print]").raise_problems()  # no problems: nothing raised


def test_columns_count_characters_not_bytes():
    decl = parse("[msg é→ü] → ghost")
    assert where(decl) == [(1, 13)]


def test_windows_line_endings_parse_like_unix_ones():
    assert parse(COUNTER.replace("\n", "\r\n")) == parse(COUNTER)
    decl = parse("m = [msg]\r\n    a\r\n    b\r\n")
    assert box(decl, "m").body == "a\nb"


def test_a_byte_order_mark_is_ignored():
    assert [b.id for b in ok("\ufeff[print]").boxes] == ["print-1"]


def test_non_str_text_raises_type_error():
    with pytest.raises(TypeError, match="str"):
        parse_patch(b"[print]")  # type: ignore[arg-type]


# --- property: any text parses, and every problem lies inside it ----------------------------

FRAGMENTS = st.sampled_from(
    [
        "[", "]", "{", "}", "->", "<-", "→", "←", '"', "'", "`", "\\", "#", ":", "=", " ", "  ",
        "\t", "\n", "\n    ", "\r\n", "a", "next", "patch", "store", "1", "0", "42", "[print]",
        "[msg ", "x = ", "é", "-", ".", "\ufeff",
    ]
)  # fmt: skip


def assert_parses_within(text: str) -> None:
    decl = parse_patch(text, "p.patch")
    assert isinstance(decl, PatchDecl)
    lines = text.split("\n")
    for problem in decl.problems:
        assert isinstance(problem, Problem)
        assert problem.file == "p.patch"
        assert 1 <= problem.line <= len(lines)
        assert 1 <= problem.column <= len(lines[problem.line - 1]) + 1
    for found in decl.boxes:
        assert 1 <= found.line <= len(lines) and 1 <= found.args_line <= len(lines)
    ids = {found.id for found in decl.boxes}
    assert len(ids) == len(decl.boxes)
    assert all(w.source in ids and w.target in ids for w in decl.wires)


@given(st.text())
def test_any_text_parses_without_exception_and_problems_lie_within_it(text):
    assert_parses_within(text)


@given(st.lists(FRAGMENTS, max_size=40).map("".join))
def test_patch_like_text_parses_without_exception_and_problems_lie_within_it(text):
    assert_parses_within(text)
