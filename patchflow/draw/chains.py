"""Write a patch as chains (language.md), and check that written text reads back the same.

These are the text format's fallbacks, tried in this order when the diagram (text.py) cannot
be written or would not read back as the same graph:

- anchored chains: one wire drawn in two dimensions makes the file a diagram, in which an
  anonymous box written again is the same box, so a line of the boxes in their original
  order keeps every id and the wires follow as chains that repeat box texts;
- plain chains, when every anonymous box has at most one wire: each appears once, inline;
- named chains: every box declared by name, then one wire a line — always valid, though
  anonymous boxes get a name made from their id (`print-1` → `print_1`).
"""

from __future__ import annotations

import re

from ..errors import PatchError
from .model import Drawing, Edge, Node, load_drawing

_NAME_BAD = re.compile(r"[^A-Za-z0-9_]")


def chain_names(drawing: Drawing) -> dict[str, str]:
    """The names `render_chains` declares each box with."""
    return _chain_names(drawing)


def render_chains(drawing: Drawing) -> str:
    """The patch as language.md chains: every box declared by name, then one wire a line.

    Anonymous boxes get a name made from their id (`print-1` → `print_1`), since a chain file
    can refer to a box twice only by name.
    """
    names = _chain_names(drawing)
    out = [f"patch {drawing.patch_id}", ""]
    for node in drawing.nodes:
        out.extend(declaration(names[node.id], node))
    out.append("")
    for e in drawing.edges:
        out.append(wire(names[e.source], e.outlet, names[e.target], e.inlet))
    return "\n".join(out) + "\n"


def _chain_names(drawing: Drawing) -> dict[str, str]:
    taken = {n.id for n in drawing.nodes if n.named}
    names = {}
    for n in drawing.nodes:
        names[n.id] = n.id if n.named else fresh_name(n.id, taken)
    return names


def fresh_name(box_id: str, taken: set[str]) -> str:
    base = _NAME_BAD.sub("_", box_id)
    if not base.strip("_0123456789"):  # `+-2`: no letters to keep
        base = "box_" + base.strip("_")
    elif base[0].isdigit() or base == "patch":
        base = "box_" + base
    name, k = base, 1
    while name in taken:
        k += 1
        name = f"{base}_{k}"
    taken.add(name)
    return name


def declaration(name: str, node: Node) -> list[str]:
    lines = [f"{name} = [{node.text}]"]
    if node.body is not None:
        lines += ["    " + line if line.strip() else "" for line in node.body.split("\n")]
    return lines


def wire(source: str, outlet: int, target: str, inlet: int) -> str:
    out = f"{source}:{outlet}" if outlet else source
    into = f"{inlet}:{target}" if inlet else target
    return f"{out} -> {into}"


def same_graph(a: Drawing, b: Drawing, renames: dict[str, str] | None = None) -> bool:
    """Whether `b` has `a`'s boxes (same text and body) and wires (same order per outlet).

    `renames` maps ids of `a` to the ids they have in `b` (boxes that had to get a name).
    """
    renames = renames or {}
    ids = {n.id: renames.get(n.id, n.id) for n in a.nodes}
    nodes_b = {n.id: n for n in b.nodes}
    if a.patch_id != b.patch_id or len(a.nodes) != len(b.nodes):
        return False
    for n in a.nodes:
        m = nodes_b.get(ids[n.id])
        if m is None or (m.cls, m.args, m.body) != (n.cls, n.args, n.body):
            return False
    # boxes that act at start do so in file order (loadbangs fire so): keep their order
    if [ids[n.id] for n in a.nodes if n.starts] != [n.id for n in b.nodes if n.starts]:
        return False
    edges_a = [Edge(ids[e.source], e.outlet, ids[e.target], e.inlet) for e in a.edges]
    return sorted(edges_a, key=_outlet_key) == sorted(b.edges, key=_outlet_key)


def _outlet_key(e: Edge) -> tuple[str, int]:
    return e.source, e.outlet  # a stable sort keeps each outlet's wires in delivery order


def reads_back(drawing: Drawing, text: str, renames: dict[str, str]) -> bool:
    try:
        again = load_drawing(text, drawing.file)
    except PatchError:
        return False
    return same_graph(drawing, again, renames)


def duplicate_names(drawing: Drawing) -> dict[str, str]:
    """Names for the anonymous boxes whose text repeats an earlier anonymous box's.

    In a diagram such boxes would be one box, so they are declared by name instead.
    """
    taken = {n.id for n in drawing.nodes if n.named}
    seen: set[str] = set()
    renames = {}
    for n in drawing.nodes:
        if n.named:
            continue
        if n.text in seen:
            renames[n.id] = fresh_name(n.id, taken)
        seen.add(n.text)
    return renames


def _ref(node: Node, renames: dict[str, str]) -> str:
    if node.named or node.id in renames:
        return renames.get(node.id, node.id)
    return f"[{node.text}]"


def anchored_chains(drawing: Drawing) -> tuple[str, dict[str, str]] | None:
    """Chains in a file made a diagram by one drawn wire; None without a wire to draw so."""
    renames = duplicate_names(drawing)
    nodes = {n.id: n for n in drawing.nodes}
    plain = {n.id for n in drawing.nodes if not n.named and n.id not in renames}
    firsts = {}
    for e in drawing.edges:
        firsts.setdefault((e.source, e.outlet), e)
    anchor = next((e for e in firsts.values() if e.source in plain and e.target in plain), None)
    if anchor is None or any("\n" in n.text for n in drawing.nodes):
        return None
    out = [f"patch {drawing.patch_id}", ""]
    for n in drawing.nodes:
        if n.id not in plain:
            out.extend(declaration(renames.get(n.id, n.id), n))
    out.append("# the boxes, in the order that keeps their ids")
    out.extend(
        box_lines([f"[{nodes[k].text}]" for k in (n.id for n in drawing.nodes) if k in plain])
    )
    a, b = nodes[anchor.source], nodes[anchor.target]
    out.append("# one wire drawn, so that a box written again is the same box")
    out.append(f"[{a.text}]:{anchor.outlet} ──→ {anchor.inlet}:[{b.text}]")
    out.append("")
    for e in drawing.edges:
        if e is not anchor:
            out.append(
                wire(
                    _ref(nodes[e.source], renames),
                    e.outlet,
                    _ref(nodes[e.target], renames),
                    e.inlet,
                )
            )
    return "\n".join(out) + "\n", renames


def plain_chains(drawing: Drawing) -> tuple[str, dict[str, str]] | None:
    """Chains with each anonymous box inline once; None if one has more than one wire."""
    wires: dict[str, int] = {}
    for e in drawing.edges:
        wires[e.source] = wires.get(e.source, 0) + 1
        wires[e.target] = wires.get(e.target, 0) + 1
    if any(wires.get(n.id, 0) > 1 for n in drawing.nodes if not n.named):
        return None
    out = [f"patch {drawing.patch_id}", ""]
    for n in drawing.nodes:
        if n.named:
            out.extend(declaration(n.id, n))
    out.append("")
    nodes = {n.id: n for n in drawing.nodes}
    for n in drawing.nodes:
        if not n.named and n.id not in wires:
            out.append(f"[{n.text}]")
    for e in drawing.edges:
        out.append(wire(_ref(nodes[e.source], {}), e.outlet, _ref(nodes[e.target], {}), e.inlet))
    return "\n".join(out) + "\n", {}


def box_lines(boxes: list[str]) -> list[str]:
    lines, line = [], ""
    for box in boxes:
        if line and len(line) + len(box) > 90:
            lines.append(line)
            line = ""
        line = f"{line} {box}" if line else box
    return [*lines, line] if line else lines
