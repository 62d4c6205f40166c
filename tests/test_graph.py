"""Building the graph: every problem at once, with positions; wires recorded as data."""

from __future__ import annotations

import pytest

from patchflow import Patch, PatchError


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


def test_wires_are_recorded_as_data_per_outlet_in_file_order():
    from patchflow import build_graph, parse_patch

    graph = build_graph(
        parse_patch("t = [t a b]\nt:1 -> [print x]\nt -> [print y]\nt:1 -> [print z]\n")
    )
    [first, second] = graph.wires["t"]
    assert [(box.id, inlet) for box, inlet in first] == [("print-2", 0)]
    assert [(box.id, inlet) for box, inlet in second] == [("print-1", 0), ("print-3", 0)]
    assert graph.wires["print-1"] == ()


def test_building_leaves_delivery_to_the_runtime():
    from patchflow import build_graph, parse_patch

    graph = build_graph(parse_patch("[loadbang] -> [t a] -> [print]\n"))
    for box in graph.boxes.values():
        assert box._outlets == ()  # compiled only when a run starts
        assert "_accept" not in vars(box)
