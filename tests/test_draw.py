"""`patchflow draw`: layout geometry, the SVG/PNG/DOT pictures, and the text round trip."""

from __future__ import annotations

import ast
import os
import re
import struct
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from patchflow import Patch
from patchflow.draw import load_drawing, render
from patchflow.draw.chains import chain_names, render_chains, same_graph
from patchflow.draw.layout import FLAG, TAB_WIDTH, inlet_point, lay_out
from patchflow.draw.model import Edge
from patchflow.draw.ordering import isotonic_place
from patchflow.draw.text import render_text, write_text

ROOT = Path(__file__).resolve().parent.parent

#: A counter that gets, adds one and sets (patches/counter.patch before `incr`): its set goes
#: back up into the store, the feedback wire these tests draw.
GET_SET_COUNTER = """\
patch counter

store = [kv counter]
next  = [t a a]

[loadbang] -> [msg get count] -> store
store -> [route op=get] -> [expr ($1.value or 0) + 1] -> next
next:1 -> [print count]
next:0 -> [msg set count $1] -> store
"""
PATCHES = sorted((ROOT / "patches").glob("*.patch"))
SVG = "{http://www.w3.org/2000/svg}"
# what each example patch reads from standard input when run in the round trip
STDIN = {"notes.patch": ["buy milk", "call mom"], "spec-notes.patch": ["buy milk"]}
# what differs from run to run in their output: ids a db makes, times (spec-jsrunner.patch)
VARYING = re.compile(r'"_id": "[^"]*"|\b1\d{12}\b')

WIDE = """\
patch wide
t = [t b b b b]
[loadbang] -> t
t:0 -> [print a]
t:1 -> [+ 1] -> [print b]
t:2 -> [msg 1, 2] -> [pack 0 0] -> [print c]
t:3 -> [route op=get] -> 1:[pack 0 0]
f = [f]
t:3 -> f -> [+ 2] -> 1:f
f -> [+ 2]
"""


def drawing_of(path: Path):
    return load_drawing(path.read_text(encoding="utf-8"), str(path))


def every_drawing():
    return [*(drawing_of(p) for p in PATCHES), load_drawing(WIDE, "wide.patch")]


def svg_tree(drawing) -> ET.Element:
    return ET.fromstring(render(drawing, "svg").decode())


# ---- layout ----


def test_layout_places_no_two_boxes_over_each_other():
    for drawing in every_drawing():
        places = list(lay_out(drawing).places.items())
        for i, (a_id, a) in enumerate(places):
            for b_id, b in places[i + 1 :]:
                apart = (
                    a.x + a.width <= b.x
                    or b.x + b.width <= a.x
                    or a.y + a.height <= b.y
                    or b.y + b.height <= a.y
                )
                assert apart, f"{drawing.file}: {a_id} overlaps {b_id}"


def test_every_wire_starts_at_its_outlet_tab_and_ends_at_its_inlet_tab():
    for drawing in every_drawing():
        tree = svg_tree(drawing)
        tabs = {}  # (box id, kind) → [(centre x, y of the edge it sits on)]
        for box in tree.iter(f"{SVG}g"):
            if box.get("class") != "box":
                continue
            for rect in box.iter(f"{SVG}rect"):
                kind = rect.get("class")
                if kind in ("inlet", "outlet"):
                    x, y = float(rect.get("x")), float(rect.get("y"))
                    edge_y = y if kind == "inlet" else y + float(rect.get("height"))
                    tabs.setdefault((box.get("data-id"), kind), []).append(
                        (x + TAB_WIDTH / 2, edge_y)
                    )
        for route in lay_out(drawing).routes:
            e = route.edge
            (x0, y0), (x1, y1) = route.points[0], route.points[-1]
            assert tabs[e.source, "outlet"][e.outlet] == pytest.approx((x0, y0), abs=0.06)
            assert tabs[e.target, "inlet"][e.inlet] == pytest.approx((x1, y1), abs=0.06)


def test_ports_are_spread_from_the_left_edge_to_the_right_edge_as_in_pd():
    drawing = load_drawing(WIDE, "wide.patch")
    layout = lay_out(drawing)
    pack, place = drawing.node("pack-1"), layout.places["pack-1"]
    assert inlet_point(place, pack, 0)[0] == place.x + TAB_WIDTH / 2
    assert inlet_point(place, pack, 1)[0] == pytest.approx(place.x + place.width - TAB_WIDTH / 2)


def test_a_tree_is_drawn_without_crossing_wires():
    drawing = drawing_of(ROOT / "patches" / "trigger-order.patch")
    segments = [
        (a, b)
        for r in lay_out(drawing).routes
        for a, b in zip(r.points, r.points[1:], strict=False)
    ]
    for i, (p1, p2) in enumerate(segments):
        for p3, p4 in segments[i + 1 :]:
            assert not _proper_crossing(p1, p2, p3, p4), (p1, p2, p3, p4)


def _proper_crossing(p1, p2, p3, p4) -> bool:
    def side(a, b, c):
        return (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0])

    d1, d2 = side(p3, p4, p1), side(p3, p4, p2)
    d3, d4 = side(p1, p2, p3), side(p1, p2, p4)
    return d1 * d2 < 0 and d3 * d4 < 0


def test_feedback_wire_goes_back_up_into_its_inlet():
    drawing = load_drawing(GET_SET_COUNTER, "counter.patch")
    layout = lay_out(drawing)
    (back,) = [r for r in layout.routes if r.feedback]
    assert back.edge == Edge("msg-2", 0, "store", 0)
    assert back.points[-1][1] < back.points[0][1]  # ends above where it starts
    assert back.points[-2][0] == back.points[-1][0]  # and comes into the inlet from above


def test_loadbang_sources_are_on_top_and_unfed_boxes_sit_by_what_they_feed():
    text = "patch p\nout = [print x]\n[loadbang] -> [msg a] -> [t b] -> out\n[metro 10] -> out\n"
    layout = lay_out(load_drawing(text, "p.patch"))
    assert layout.places["loadbang-1"].y == min(p.y for p in layout.places.values())
    # [metro] has an inlet, so it is drawn just above the box it feeds, not on the top row
    assert layout.places["metro-1"].y == layout.places["t-1"].y


def test_isotonic_placement_keeps_order_and_gaps_closest_to_what_was_wanted():
    assert isotonic_place([0, 0, 0], [10, 10]) == [-10, 0, 10]
    assert isotonic_place([0, 50, 60], [10, 10]) == [0, 50, 60]


# ---- svg, png, dot ----


def test_svg_parses_as_xml_and_shows_every_box_text_and_name():
    for drawing in every_drawing():
        tree = svg_tree(drawing)
        texts = [t.text for t in tree.iter(f"{SVG}text")]
        for node in drawing.nodes:
            assert any(t and t.startswith(node.text[:40]) for t in texts), node.text
            if node.named:
                assert node.id in texts


def test_message_boxes_have_the_flag_shape_and_objects_are_rectangles():
    drawing = load_drawing(GET_SET_COUNTER, "counter.patch")
    tree = svg_tree(drawing)
    shapes = {}
    for box in tree.iter(f"{SVG}g"):
        if box.get("class") == "box":
            shapes[box.get("data-id")] = box[0]
    for node in drawing.nodes:
        shape = shapes[node.id]
        if not node.message:
            assert shape.tag == f"{SVG}rect"
            continue
        assert shape.tag == f"{SVG}polygon"
        points = [tuple(map(float, p.split(","))) for p in shape.get("points").split()]
        (_, y0), (x1, _), (x2, y2), (x3, _), (x4, y4), (_, y5) = points
        assert x1 - x2 == FLAG and x4 - x3 == FLAG  # the corners flare out on the right
        assert y2 == y0 + FLAG and y4 == y5  # and the edge between them is notched in


def test_same_patch_gives_the_same_bytes():
    for drawing in every_drawing():
        for fmt in ("svg", "text", "dot"):
            assert render(drawing, fmt) == render(drawing, fmt)


@pytest.mark.slow
def test_same_patch_gives_the_same_bytes_across_processes():
    def svg(seed: str) -> bytes:
        return subprocess.run(
            [sys.executable, "-m", "patchflow", "draw", str(ROOT / "patches" / "timer.patch")],
            capture_output=True,
            check=True,
            env={**os.environ, "PYTHONHASHSEED": seed},
        ).stdout

    assert svg("1") == svg("2") == svg("3")


def test_png_has_the_png_signature_and_the_picture_size():
    drawing = load_drawing(GET_SET_COUNTER, "counter.patch")
    png = render(drawing, "png")
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", png[16:24])
    layout = lay_out(drawing)
    assert abs(width - 2 * layout.width) <= 2 and abs(height - 2 * layout.height) <= 2
    assert 5_000 < len(png) < 200_000


def test_png_renders_text_with_the_bundled_font():
    """With text the picture has many more dark pixels than the same boxes without text."""
    resvg_py = pytest.importorskip("resvg_py")
    from patchflow.draw.png import render_png

    svg = render(drawing_of(ROOT / "patches" / "hello.patch"), "svg").decode()
    no_text = svg.replace("<text", "<text visibility='hidden'")
    assert render_png(svg) != render_png(no_text)
    assert resvg_py is not None


def test_dot_mentions_every_box_and_wire():
    for drawing in every_drawing():
        dot = render(drawing, "dot").decode()
        assert dot.startswith("digraph ")
        for node in drawing.nodes:
            assert f'"{node.id}" [' in dot
        for e in drawing.edges:
            assert f'"{e.source}":o{e.outlet}:s -> "{e.target}":i{e.inlet}:n;' in dot
        assert dot.count(" -> ") == len(drawing.edges)


# ---- text ----


#: patches that keep running (a watching store) get a timeout; they print the same meanwhile
TIMEOUT = {"watch.patch": 0.5}


def _run(text: str, file: str, stdin=None) -> list[str]:
    lines: list[str] = []
    Patch.from_string(text, file).run_sync(
        data_dir=":memory:",
        output=lines.append,
        stdin=stdin,
        timeout=TIMEOUT.get(Path(file).name),
    )
    return [VARYING.sub("…", line) for line in lines]


@pytest.mark.parametrize("path", PATCHES, ids=lambda p: p.name)
def test_text_diagram_runs_as_the_same_graph_with_the_same_output(path):
    original = path.read_text(encoding="utf-8")
    drawing = drawing_of(path)
    text, renames = write_text(drawing)
    assert same_graph(drawing, load_drawing(text, str(path)), renames)
    # only anonymous boxes whose text repeats another's get a name (a diagram merges them),
    # unless the writer fell back to naming every box
    texts = [n.text for n in drawing.nodes if not n.named]
    if len(renames) < len(texts):
        for box_id in renames:
            assert texts.count(drawing.node(box_id).text) > 1, box_id
    stdin = STDIN.get(path.name)
    assert _run(text, str(path), stdin) == _run(original, str(path), stdin)


def test_text_of_the_counter_is_a_diagram_with_drawn_wires():
    text = render_text(load_drawing(GET_SET_COUNTER, "counter.patch"))
    assert "store = [kv counter]" in text
    assert "↓" in text and "└" in text
    assert "[msg set count $1] -> store" in text  # the feedback wire, as a chain


def test_text_keeps_the_delivery_order_of_one_outlet_wired_to_several_boxes():
    text = (
        "patch fan\nt = [t b]\n[loadbang] -> t\n"
        "t -> [msg second, here] -> [print z]\nt -> [msg first] -> [print a]\n"
    )
    drawing = load_drawing(text, "fan.patch")
    written = render_text(drawing)
    assert same_graph(drawing, load_drawing(written, "fan.patch"))
    assert _run(written, "fan.patch") == _run(text, "fan.patch")


def test_a_lone_named_box_in_the_diagram_does_not_take_the_next_line_as_its_body():
    text = "patch lone\n[loadbang] -> [msg 1] -> keep\nkeep = [f]\n[metro 5] -> [print p]\n"
    drawing = load_drawing(text, "lone.patch")
    assert same_graph(drawing, load_drawing(render_text(drawing), "lone.patch"))


def test_chain_form_names_every_box_and_reads_back_the_same():
    drawing = load_drawing(WIDE, "wide.patch")
    text = render_chains(drawing)
    again = load_drawing(text, "wide.patch")
    assert same_graph(drawing, again, chain_names(drawing))
    assert "box_1 = [+ 1]" in text  # a name made from an id without letters


# ---- the command ----


def _cli(*args: str):
    return subprocess.run(
        [sys.executable, "-m", "patchflow", "draw", *args], capture_output=True, timeout=60
    )


@pytest.mark.slow
def test_draw_a_bad_patch_prints_positioned_errors_and_exits_2(tmp_path):
    bad = tmp_path / "bad.patch"
    bad.write_text("patch bad\n[loadbang] -> [nosuch] -> [print]\n[msg x]:3 -> [print]\n")
    result = _cli(str(bad))
    assert result.returncode == 2
    errors = result.stderr.decode()
    assert f"{bad}:2:16: unknown object 'nosuch'" in errors
    assert f"{bad}:3:1: [msg x] has 1 outlet" in errors
    assert result.stdout == b""


@pytest.mark.slow
def test_draw_writes_the_format_its_output_file_names(tmp_path):
    for name, start in (("p.svg", b"<svg"), ("p.png", b"\x89PNG"), ("p.dot", b"digraph")):
        result = _cli(str(ROOT / "patches" / "hello.patch"), "-o", str(tmp_path / name))
        assert result.returncode == 0, result.stderr
        assert (tmp_path / name).read_bytes().startswith(start)
    result = _cli(str(ROOT / "patches" / "hello.patch"), "--format", "text")
    assert result.stdout.decode().startswith("patch hello\n")


@pytest.mark.slow
def test_drawing_never_runs_patch_code(tmp_path):
    marker = tmp_path / "ran"
    patch = tmp_path / "danger.patch"
    patch.write_text(
        "patch danger\n"
        "code = [py]\n"
        f"    open({str(marker)!r}, 'w').write('ran')\n"
        "    await send(x)\n"
        f"[loadbang] -> code -> [py open({str(marker)!r}, 'w')] -> [print]\n"
    )
    for fmt in ("svg", "png", "text", "dot"):
        result = _cli(str(patch), "--format", fmt, "-o", str(tmp_path / f"out.{fmt}"))
        assert result.returncode == 0, result.stderr
    assert not marker.exists()
    # and the patch itself does write the marker when run: the test would see it
    subprocess.run(
        [sys.executable, "-m", "patchflow", "run", str(patch), "--data-dir", ":memory:"],
        capture_output=True,
        timeout=60,
    )
    assert marker.exists()


def test_draw_depends_on_the_parser_and_graph_only():
    for path in (ROOT / "patchflow" / "draw").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                names = [("." * node.level) + (node.module or "")]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            else:
                continue
            for name in names:
                assert name.split(".")[0] not in ("trio", "patchflow_objects"), path.name
                assert name != "resvg_py" or path.name == "png.py"
                assert not name.startswith(("..runtime", "..storage", "..suspend")), path.name


@pytest.mark.slow
def test_the_command_line_loads_no_rasteriser_until_a_png_is_drawn():
    code = "import sys, patchflow.cli; print('resvg_py' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.strip() == "False", result.stderr
