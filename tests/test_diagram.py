"""Two-dimensional diagrams in `.patch` files: wires drawn with ↓ │ ┘ ──→ become boxes and wires.

Positions in the expected problems are 1-based lines and columns of the dedented text, whose
first line is the line after the opening quotes.
"""

from __future__ import annotations

import contextlib
import re
import textwrap
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from patchflow import PatchError
from patchflow.graph import build_graph
from patchflow.language import PortColumn, parse_patch
from patchflow.testing import run_text

SEEDS = Path("/work/shared/seeds")


def parse(text: str):
    return parse_patch(textwrap.dedent(text).removeprefix("\n"), "d.patch")


def wires(decl) -> list[tuple[str, int, str, int]]:
    return [(w.source, w.outlet, w.target, w.inlet) for w in decl.wires]


def problems(text: str) -> list[str]:
    return [str(p) for p in parse(text).problems]


def built_wires(text: str) -> list[tuple[str, int, str, int]]:
    """The wires of the built graph: ports chosen by column once the boxes exist."""
    graph = build_graph(parse(text))
    return [
        (box_id, outlet, target.id, inlet)
        for box_id, outlets in graph.wires.items()
        for outlet, targets in enumerate(outlets)
        for target, inlet in targets
    ]


def build_problems(text: str) -> list[str]:
    with pytest.raises(PatchError) as caught:
        build_graph(parse(text))
    return [str(p) for p in caught.value.problems]


# ---- vertical wires -----------------------------------------------------------------------


def test_a_down_arrow_wires_the_box_above_to_the_box_below():
    decl = parse("""
        [loadbang]
          ↓
        [print]
    """)
    assert decl.problems == ()
    assert wires(decl) == [("loadbang-1", 0, "print-1", 0)]
    wire = decl.wires[0]
    assert wire.outlet_column == PortColumn(line=2, column=3, index=2, width=10)
    assert wire.inlet_column == PortColumn(line=2, column=3, index=2, width=7)
    assert (wire.line, wire.column, wire.target_line, wire.target_column) == (1, 1, 3, 1)


def test_a_small_diagram_runs():
    outcome = run_text("""
        [loadbang]
          ↓
        [msg "hi"]
          ↓
        [print]
    """)
    assert outcome.lines == ['print: "hi"']
    assert outcome.errors == []


def test_an_up_arrow_wires_the_box_below_to_the_box_above():
    assert wires(
        parse("""
        [print]
          ↑
          │
        [loadbang]
    """)
    ) == [("loadbang-1", 0, "print-1", 0)]


def test_ascii_vertical_wires_v_caret_and_bar():
    assert wires(
        parse("""
        [loadbang]
         |
         v
        [print]
          ^
        [msg x]
    """)
    ) == [("loadbang-1", 0, "print-1", 0), ("msg-1", 0, "print-1", 0)]


def test_v_is_a_name_beside_an_arrow_or_equals_sign():
    decl = parse("""
        v = [print]
        [loadbang] -> v
    """)
    assert decl.problems == ()
    assert wires(decl) == [("loadbang-1", 0, "v", 0)]


# ---- horizontal runs, arrows and bends ------------------------------------------------------


@pytest.mark.parametrize(
    "line",
    [
        "[loadbang] ───→ [print]",
        "[print] ←─── [loadbang]",
        "[loadbang] ---> [print]",
        "[print] <--- [loadbang]",
        "[loadbang]-->[print]",
        "[loadbang] ─> [print]",
    ],
)
def test_a_horizontal_run_ending_in_an_arrowhead_wires_the_boxes_it_joins(line):
    decl = parse(line)
    assert decl.problems == ()
    assert wires(decl) == [("loadbang-1", 0, "print-1", 0)]


def test_chain_arrows_and_runs_mix_on_one_line():
    decl = parse("[loadbang] -> [t b] ---> [print] <- [msg a] <- a\na = [f]")
    assert decl.problems == ()
    assert wires(decl) == [
        ("loadbang-1", 0, "t-1", 0),
        ("t-1", 0, "print-1", 0),
        ("msg-1", 0, "print-1", 0),
        ("a", 0, "msg-1", 0),
    ]


def test_a_wire_goes_round_boxes_with_bends():
    decl = parse("""
        [loadbang] → [msg "x"]
                        │
        [print] ←───────┘
    """)
    assert decl.problems == ()
    assert wires(decl) == [("loadbang-1", 0, "msg-1", 0), ("msg-1", 0, "print-1", 0)]


def test_ascii_bends_are_plus_signs():
    assert wires(
        parse("""
        [loadbang] --> [msg a] --+
                                 |
        [print] <----------------+
    """)
    ) == [("loadbang-1", 0, "msg-1", 0), ("msg-1", 0, "print-1", 0)]


def test_a_run_leaving_a_box_from_below_turns_into_a_horizontal_arrow():
    assert wires(
        parse("""
        [loadbang]
          └──→ [print]
    """)
    ) == [("loadbang-1", 0, "print-1", 0)]


def test_a_crossing_lets_two_wires_pass():
    decl = parse("""
        [loadbang]
           │
        ───┼──→ [print]
           ↓
        [msg a]
    """)
    assert [str(p) for p in decl.problems] == [
        "d.patch:3:1: wire '─' has nothing left of it; draw it on to a box, "
        "or turn it with a bend (┘ └ ┐ ┌ or +)"
    ]
    assert wires(decl) == [("loadbang-1", 0, "msg-1", 0)]


def test_a_tee_fans_one_outlet_out_in_the_order_its_arrowheads_are_written():
    assert wires(
        parse("""
        [loadbang]
            │
        ┌───┴───┐
        ↓       ↓
        [msg a] [msg b]
    """)
    ) == [("loadbang-1", 0, "msg-1", 0), ("loadbang-1", 0, "msg-2", 0)]


def test_a_tee_gathers_several_outlets_into_one_inlet():
    assert wires(
        parse("""
        [msg a] [msg b]
          │       │
          └───┬───┘
              ↓
           [print]
    """)
    ) == [("msg-1", 0, "print-1", 0), ("msg-2", 0, "print-1", 0)]


# ---- hand-drawn slack -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "bend",
    [
        "[print] ←──────┘",  # one column left, as the spec's Notes diagram draws it
        "                 └──→ [print]",  # one column right
        "[print] <──────┘",
    ],
)
def test_a_vertical_run_continues_into_a_bend_one_column_aside(bend):
    decl = parse(f"[loadbang] -> [msg a]\n                ↓\n{bend}")
    assert decl.problems == ()
    assert wires(decl) == [("loadbang-1", 0, "msg-1", 0), ("msg-1", 0, "print-1", 0)]


def test_slack_that_could_go_two_ways_is_an_error():
    assert problems("""
        [loadbang]
          │
         └ ┘
    """)[0] == (
        "d.patch:2:3: wire '│' could go on at column 2 and 4 below it; "
        "draw it straight into the piece it joins"
    )


# ---- ports -----------------------------------------------------------------------------------


def test_a_vertical_wire_takes_the_port_under_its_column():
    assert built_wires("""
        [loadbang]
         ↓
        [t b b]
         ↓    ↓
        [pack 0 0]
         ↓
        [print]
    """) == [
        ("loadbang-1", 0, "t-1", 0),
        ("t-1", 0, "pack-1", 0),
        ("t-1", 1, "pack-1", 1),
        ("pack-1", 0, "print-1", 0),
    ]


def test_ports_by_column_run_in_pd_order():
    outcome = run_text("""
        [loadbang]
         ↓
        [t b b]
         │    └──────┐
         ↓           ↓
        [msg "left"] [msg "right"]
         ↓           ↓
        [print]      [print]
    """)
    assert outcome.lines == ['print: "right"', 'print: "left"']


def test_a_column_between_two_ports_is_an_error_that_names_the_good_columns():
    assert build_problems("""
        [loadbang]
         ↓
        [t b b]
           ↓
        [print]
    """) == [
        "d.patch:4:4: the wire at column 4 meets [t b b] between outlet 0 and outlet 1 "
        "(2 outlets across 7 columns); move it to column 1–3 for outlet 0 or column 5–7 "
        "for outlet 1, or write the port number beside the box ([t b b]:N)"
    ]


def test_a_port_number_beside_the_box_overrides_the_column():
    assert built_wires("""
        [loadbang] -> [t b b]:1
                       ↓
                      [pack 0 0]:0 ──→ 1:[pack 0 0 0]
    """) == [("loadbang-1", 0, "t-1", 0), ("t-1", 1, "pack-1", 0), ("pack-1", 0, "pack-2", 1)]


def test_a_port_number_no_wire_uses_is_still_an_error():
    assert problems("[loadbang] -> [print]:1\n[msg a]\n  ↓\n[f]") == [
        "d.patch:1:23: outlet number on [print], the last endpoint of the chain, which only "
        "receives here; for inlet 1 write '1:[print]'"
    ]


# ---- box identity ----------------------------------------------------------------------------


def test_in_a_diagram_boxes_with_the_same_text_are_one_box():
    decl = parse("""
        [loadbang] -> [print]
        [msg a]
          ↓
        [print]
    """)
    assert [box.id for box in decl.boxes] == ["loadbang-1", "print-1", "msg-1"]
    assert wires(decl) == [("loadbang-1", 0, "print-1", 0), ("msg-1", 0, "print-1", 0)]
    assert (decl.wires[1].target_line, decl.wires[1].target_column) == (4, 1)


def test_in_a_diagram_named_boxes_stay_apart():
    decl = parse("""
        a = [print]
        b = [print]
        [loadbang] -> a
          ↓
        [print]
    """)
    assert [box.id for box in decl.boxes] == ["a", "b", "loadbang-1", "print-1"]


def test_without_a_drawn_wire_boxes_with_the_same_text_stay_apart():
    decl = parse("[loadbang] -> [print]\n[msg a] -> [print]")
    assert [box.id for box in decl.boxes] == ["loadbang-1", "print-1", "msg-1", "print-2"]


def test_a_wire_drawn_under_a_lone_declaration_is_not_its_body():
    decl = parse("""
        hi = [msg "hi"]
               ↓
             [print]
        [loadbang] -> hi
    """)
    assert decl.problems == ()
    assert wires(decl) == [("hi", 0, "print-1", 0), ("loadbang-1", 0, "hi", 0)]
    assert decl.boxes[0].body is None


# ---- what is not wiring ----------------------------------------------------------------------


def test_wire_characters_in_boxes_comments_and_bodies_are_not_wires():
    decl = parse("""
        # a comment may draw: ↓ │ ┘ --> |
        [loadbang] -> [msg {"a": "x|y -> +", "b": [1, 2]}] -> code
        [expr $1 - 1 | 0]
          ↓
        [print]
        code = [py]
            send(x | {"+": 1})
            # ---> v ^
    """)
    assert decl.problems == ()
    assert wires(decl) == [
        ("loadbang-1", 0, "msg-1", 0),
        ("msg-1", 0, "code", 0),
        ("expr-1", 0, "print-1", 0),
    ]
    assert decl.boxes[-1].body == 'send(x | {"+": 1})\n# ---> v ^'


def test_a_mixed_file_has_chains_names_and_drawn_wires():
    text = """
        patch mixed
        sum = [+ 10]
        [loadbang] -> [t b b]
                      │     └──→ [msg 2] -> 1:sum
                      ↓
                     [msg 1] -> sum -> [print]
    """
    assert built_wires(text) == [
        ("sum", 0, "print-1", 0),
        ("loadbang-1", 0, "t-1", 0),
        ("t-1", 0, "msg-2", 0),
        ("t-1", 1, "msg-1", 0),
        ("msg-1", 0, "sum", 1),
        ("msg-2", 0, "sum", 0),
    ]
    outcome = run_text(text)
    assert outcome.errors == []
    assert outcome.lines == ["print: 3"]


# ---- errors -----------------------------------------------------------------------------------


def test_every_wiring_problem_is_reported_with_its_position_all_at_once():
    assert problems("""
        [loadbang] -> nope
           ↓
        [print]   ↓
                  x
        [msg a]  ──→
          │
        [msg b] ←──→ [print x]
        [msg c]
          +
    """) == [
        "d.patch:1:15: 'nope' is not declared — declare it: 'nope = [...]'",
        "d.patch:3:11: wire '↓' points at 'x', not at a box; draw the box it leads to "
        "right below it",
        "d.patch:3:11: wire '↓' has nothing above it; draw it on to a box, or turn it "
        "with a bend (┘ └ ┐ ┌ or +)",
        "d.patch:4:11: 'x' is not declared — declare it: 'x = [...]'",
        "d.patch:5:12: wire '→' points at no box; draw the box it leads to right of it",
        "d.patch:6:3: wire has no arrowhead; draw one (↓ ↑ → ← or v ^ > <) where it "
        "enters the box it leads to",
        "d.patch:7:9: wire has arrowheads at every end, so it starts nowhere; remove the "
        "arrowhead at the box it comes from",
        "d.patch:9:3: '+' joins fewer than two wire pieces; remove it or draw on",
    ]


def test_a_junction_joining_several_sources_to_several_targets_is_an_error():
    assert problems(
        """
        [msg a] [msg b]
          │       │
          └───┼───┘
          ┌───┴───┐
          ↓       ↓
        [print] [print x]
    """.replace("┼", "┬")
    ) == [
        "d.patch:3:7: this junction joins 2 boxes to 2 boxes and could wire them several "
        "ways; draw separate wires"
    ]


def test_wire_problems_come_with_the_graphs_problems():
    assert build_problems("""
        [lodbang]
          ↓
        [print]
          ↓
    """) == [
        "d.patch:1:2: unknown object 'lodbang' — did you mean 'loadbang'? "
        "(`patchflow help` lists objects)",
        "d.patch:4:3: wire '↓' points at no box; draw the box it leads to right below it",
    ]


def test_a_file_without_drawn_wires_reports_side_by_side_boxes_as_before():
    assert problems("[a] [b]") == [
        "d.patch:1:5: expected an arrow '->' or '<-' after [a], found a box"
    ]


# ---- the storage spec's examples ---------------------------------------------------------------


def seed_examples() -> list[str]:
    """The code blocks under "Example Patches" in the storage spec, as written there."""
    (seed,) = SEEDS.glob("000_*.txt")
    text = seed.read_text(encoding="utf-8")
    section = text[text.index("## Example Patches") :]
    section = section[: section.index("\n## ", 1)]
    return re.findall(r"^```\n(.*?)^```", section, re.MULTILINE | re.DOTALL)


needs_seed = pytest.mark.skipif(not SEEDS.is_dir(), reason="the storage spec is not here")


@needs_seed
def test_the_spec_counter_diagram_parses_to_its_graph():
    decl = parse_patch(seed_examples()[0], "counter.patch")
    assert decl.problems == ()
    assert [(b.id, b.cls, b.args) for b in decl.boxes] == [
        ("loadbang-1", "loadbang", ""),
        ("msg-1", "msg", '{get: "count"}'),
        ("kv-1", "kv", "counter"),
        ("+-1", "+", "1"),
        ("js-1", "js", "x.found ? x.value : 0"),
        ("route-1", "route", "op=get"),
        ("msg-2", "msg", 'x => ({set: ["count", x]})'),
    ]
    assert wires(decl) == [
        ("loadbang-1", 0, "msg-1", 0),
        ("msg-1", 0, "kv-1", 0),
        ("kv-1", 0, "route-1", 0),
        ("js-1", 0, "+-1", 0),
        ("route-1", 0, "js-1", 0),
        ("+-1", 0, "msg-2", 0),
        ("msg-2", 0, "kv-1", 0),
    ]
    drawn = [w for w in decl.wires if w.outlet_column]
    assert [(w.outlet_column.column, w.outlet_column.width) for w in drawn] == [(42, 12), (3, 5)]


@needs_seed
def test_the_spec_notes_diagram_parses_to_its_graph():
    decl = parse_patch(seed_examples()[1], "notes.patch")
    assert decl.problems == ()
    assert [b.id for b in decl.boxes] == [
        "text-1",
        "js-1",
        "db-1",
        "list-1",
        "js-2",
        "route-1",
        "loadbang-1",
        "msg-1",
    ]
    assert wires(decl) == [
        ("text-1", 0, "js-1", 0),
        ("js-1", 0, "db-1", 0),
        ("js-2", 0, "list-1", 0),
        ("route-1", 0, "js-2", 0),
        ("db-1", 0, "route-1", 0),  # down from [db], slack into ┘, along ←── to the route
        ("loadbang-1", 0, "msg-1", 0),
        ("msg-1", 0, "db-1", 0),
    ]


# ---- never anything but a PatchError ----------------------------------------------------------

PIECES = ["[f]", "[t b b]", "[print]", "[+ 1]", "a", "->", "<-", ":1", "1:", "#", "="]
CHARS = list("↓↑│─┌┐└┘├┤┬┴┼|+^v<>-→← ") + PIECES


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(st.sampled_from(CHARS), max_size=10), min_size=1, max_size=6))
def test_any_grid_of_diagram_characters_parses_or_reports_a_patch_error(rows):
    text = "\n".join("".join(row) for row in rows)
    decl = parse_patch(text, "g.patch")
    for problem in decl.problems:
        assert problem.line >= 1 and problem.column >= 1
    with contextlib.suppress(PatchError):
        build_graph(decl)
