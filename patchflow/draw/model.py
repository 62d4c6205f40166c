"""What a picture of a patch shows: its boxes, their ports, and its wires, in file order.

Drawing reads a patch exactly as `patchflow check` does — parse, then build the graph — because
only the built boxes know how many inlets and outlets they have (`[route a b]` has three
outlets, `[t b a b]` three). Building compiles `[py]`/`[expr]` code but never runs it, so
drawing a patch is as safe as checking it. The renderers see only these frozen values, never
boxes or the runtime.
"""

from __future__ import annotations

import attrs

from ..box import Box
from ..graph import Graph, build_graph
from ..language import PatchDecl, parse_patch

#: classes drawn in Pd's message-box flag shape (their alias `m` resolves to the same class)
MESSAGE_CLASSES = frozenset({"msg"})


@attrs.frozen
class Node:
    """One box as drawn: its text as written, its ports, whether it is named or a message."""

    id: str
    cls: str  # the class word as written
    args: str
    body: str | None
    named: bool
    inlets: int
    outlets: int
    message: bool  # a message box: Pd draws it with a notched right edge
    starts: bool = False  # acts when the patch starts (loadbang, [stdin], [receive])

    @property
    def text(self) -> str:
        """The box text as written between the brackets (class word, then arguments)."""
        return f"{self.cls} {self.args}".strip() if self.args else self.cls


@attrs.frozen
class Edge:
    """A wire from `source`'s outlet to `target`'s inlet."""

    source: str
    outlet: int
    target: str
    inlet: int


@attrs.frozen
class Drawing:
    """A patch as pictures see it: boxes in file order, wires by source box, outlet, order."""

    patch_id: str
    file: str
    nodes: tuple[Node, ...]
    edges: tuple[Edge, ...]

    def node(self, node_id: str) -> Node:
        return next(n for n in self.nodes if n.id == node_id)


def drawing_from_graph(decl: PatchDecl, graph: Graph) -> Drawing:
    """Combine the declarations (full text, bodies, names) with the built graph (ports, wires).

    Wires come from the built boxes, so drawn wires have their ports already chosen; within
    one outlet they keep the order they are delivered in, which the text format must keep.
    """
    nodes = []
    edges = []
    for decl_box in decl.boxes:
        box = graph.boxes[decl_box.id]
        nodes.append(
            Node(
                id=decl_box.id,
                cls=decl_box.cls,
                args=decl_box.args,
                body=decl_box.body,
                named=decl_box.named,
                inlets=box.inlets,
                outlets=box.outlets,
                message=type(box).name in MESSAGE_CLASSES,
                starts=_acts_at_start(box),
            )
        )
        for outlet, targets in enumerate(graph.wires[decl_box.id]):
            edges.extend(Edge(decl_box.id, outlet, target.id, inlet) for target, inlet in targets)
    return Drawing(graph.patch_id, decl.file, tuple(nodes), tuple(edges))


def _acts_at_start(box: Box) -> bool:
    """Whether the box does something when the patch starts; such boxes act in file order
    (a loadbang fires, a [stdin] opens, a [receive] subscribes), so their order is kept.
    A message box's start only looks at its wiring."""
    if type(box).name in MESSAGE_CLASSES:
        return False
    return type(box).overrides("loadbang") or type(box).overrides("start")


def load_drawing(text: str, file: str = "<patch>") -> Drawing:
    """Parse and build `text` (never running it); raise PatchError listing every problem."""
    decl = parse_patch(text, file)
    return drawing_from_graph(decl, build_graph(decl))
