"""Lay a patch out top to bottom in signal-flow order: a small Sugiyama-style layered layout.

Pure Python, no Graphviz, deterministic (file order breaks every tie). The steps are the
classic ones, each kept simple because patches are small:

1. cycle breaking: a depth-first search from the sources (loadbang-like boxes first) turns
   every feedback wire around, so the rest works on an acyclic graph;
2. layering by longest path, then boxes that have inlets but nothing wired in (a `[stdin]`,
   a stray `[metro]`) move down next to what they feed — only inlet-less sources stay on top;
3. long wires get a dummy node per layer they pass, so they reserve room and can bend around
   boxes; a feedback wire gets dummies in its own two end layers too, to climb beside them;
4. crossing reduction: barycentre sweeps down and up, ports counted, keeping the best order;
5. x positions: each sweep pulls a box to where its wires would be straight (the median of
   its neighbours' ports), then the least-squares placement that keeps the layer's order and
   gaps (isotonic regression by pooling adjacent violators) settles the overlaps.
"""

from __future__ import annotations

from collections import defaultdict
from itertools import pairwise

import attrs

from .model import Drawing, Edge, Node
from .ordering import isotonic_place, reduce_crossings

FONT_SIZE = 12
CHAR_WIDTH = 7.23  # DejaVu Sans Mono advance (1233/2048 em) at 12 px: the box text's metric
LINE_HEIGHT = 15
PAD_X, PAD_Y = 5, 3
TAB_WIDTH, TAB_HEIGHT = 7, 3  # Pd's IOWIDTH, and a visible tab height
FLAG = 4  # how far a message box's corners flare out on the right (Pd's flag shape)
MARGIN = 16
GAP_X, GAP_DUMMY = 24, 10  # between boxes in a layer; next to a wire's dummy
GAP_Y, NAME_SPACE = 34, 13  # between layers; extra room above a layer with a named box
MAX_TEXT, MAX_BODY_LINES = 72, 12  # longer text is cut with '…' in the picture


@attrs.frozen
class Place:
    """Where a box is drawn: its top-left corner and size (a message box's flag included)."""

    x: float
    y: float
    width: float
    height: float
    lines: tuple[str, ...]  # the text shown: the box text, then any body lines


@attrs.frozen
class Route:
    """A wire as drawn: points from the outlet tab to the inlet tab."""

    edge: Edge
    points: tuple[tuple[float, float], ...]
    feedback: bool  # the wire goes back up (a cycle), drawn round the boxes' side


@attrs.frozen
class Layout:
    drawing: Drawing
    places: dict[str, Place]
    routes: tuple[Route, ...]
    width: float
    height: float


def shown_lines(node: Node) -> tuple[str, ...]:
    """The lines a box shows: its text (each written line) and its body, cut to fit."""
    lines = [line.strip() for line in node.text.splitlines() if line.strip()] or [node.cls]
    if node.body:
        body = node.body.splitlines()
        lines += body[:MAX_BODY_LINES]
        if len(body) > MAX_BODY_LINES:
            lines.append("…")
    return tuple(line if len(line) <= MAX_TEXT else line[: MAX_TEXT - 1] + "…" for line in lines)


def box_size(node: Node, lines: tuple[str, ...]) -> tuple[float, float]:
    """Width from the longest line in the monospace metric, wide enough for its ports."""
    text = max(len(line) for line in lines) * CHAR_WIDTH + 2 * PAD_X
    ports = max(node.inlets, node.outlets)
    width = max(text, ports * TAB_WIDTH + (ports - 1) * 8, 3 * TAB_WIDTH)
    if node.message:
        width += FLAG
    return round(width, 1), len(lines) * LINE_HEIGHT + 2 * PAD_Y


def port_x(place: Place, index: int, count: int, message: bool = False) -> float:
    """The centre of port `index` of `count`, spread from the left edge to the right as Pd does."""
    width = place.width - (FLAG if message else 0)
    if count <= 1:
        return place.x + TAB_WIDTH / 2
    return place.x + (width - TAB_WIDTH) * index / (count - 1) + TAB_WIDTH / 2


def outlet_point(place: Place, node: Node, outlet: int) -> tuple[float, float]:
    return port_x(place, outlet, node.outlets, node.message), place.y + place.height


def inlet_point(place: Place, node: Node, inlet: int) -> tuple[float, float]:
    return port_x(place, inlet, node.inlets, node.message), place.y


def lay_out(drawing: Drawing) -> Layout:
    """Place every box and route every wire of `drawing`."""
    return _Layouter(drawing).run()


@attrs.define
class _Vertex:
    """A box or a dummy in the layered graph."""

    key: str
    layer: int
    width: float
    node: Node | None = None  # None for a dummy
    x: float = 0.0


class _Layouter:
    def __init__(self, drawing: Drawing) -> None:
        self.drawing = drawing
        self.nodes = {n.id: n for n in drawing.nodes}
        self.lines = {n.id: shown_lines(n) for n in drawing.nodes}
        self.sizes = {n.id: box_size(n, self.lines[n.id]) for n in drawing.nodes}
        # (upper, lower, upper port fraction, lower port fraction) between adjacent layers
        self.links: list[tuple[str, str, float, float]] = []
        self.chains: dict[int, list[str]] = {}  # edge index → its dummies, top to bottom

    def run(self) -> Layout:
        reversed_edges = self._break_cycles()
        layer = self._assign_layers(reversed_edges)
        vertices = {
            n.id: _Vertex(n.id, layer[n.id], self.sizes[n.id][0], n) for n in self.drawing.nodes
        }
        self._add_dummies(vertices, reversed_edges)
        rows: list[list[str]] = [[] for _ in range(max(layer.values(), default=0) + 1)]
        for key in self._first_order(vertices):
            rows[vertices[key].layer].append(key)
        rows = reduce_crossings(rows, self.links)
        self._place_x(rows, vertices)
        return self._finish(rows, vertices, reversed_edges)

    # ---- layers ----

    def _successors(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {n.id: [] for n in self.drawing.nodes}
        for e in self.drawing.edges:
            if e.source != e.target and e.target not in out[e.source]:
                out[e.source].append(e.target)
        return out

    def _roots(self) -> list[str]:
        """Depth-first start points: inlet-less sources, then unfed boxes, then the rest."""
        fed = {e.target for e in self.drawing.edges if e.source != e.target}
        order = self.drawing.nodes
        return (
            [n.id for n in order if n.inlets == 0]
            + [n.id for n in order if n.inlets and n.id not in fed]
            + [n.id for n in order]
        )

    def _break_cycles(self) -> set[tuple[str, str]]:
        succ = self._successors()
        state: dict[str, int] = {}  # 1 on the stack, 2 done
        back: set[tuple[str, str]] = set()
        self.visit_order: list[str] = []
        for root in self._roots():
            if root in state:
                continue
            stack = [(root, iter(succ[root]))]
            state[root] = 1
            self.visit_order.append(root)
            while stack:
                node, children = stack[-1]
                child = next(children, None)
                if child is None:
                    state[node] = 2
                    stack.pop()
                elif state.get(child) == 1:
                    back.add((node, child))
                elif child not in state:
                    state[child] = 1
                    self.visit_order.append(child)
                    stack.append((child, iter(succ[child])))
        return back

    def _dag(self, reversed_edges: set[tuple[str, str]]) -> dict[str, list[str]]:
        dag: dict[str, list[str]] = {n.id: [] for n in self.drawing.nodes}
        for source, targets in self._successors().items():
            for target in targets:
                a, b = (target, source) if (source, target) in reversed_edges else (source, target)
                if b not in dag[a]:
                    dag[a].append(b)
        return dag

    def _assign_layers(self, reversed_edges: set[tuple[str, str]]) -> dict[str, int]:
        dag = self._dag(reversed_edges)
        indegree = {key: 0 for key in dag}
        for targets in dag.values():
            for t in targets:
                indegree[t] += 1
        layer = dict.fromkeys(dag, 0)
        ready = [key for key in self.visit_order if indegree[key] == 0]
        topo = []
        while ready:
            key = ready.pop(0)
            topo.append(key)
            for t in dag[key]:
                layer[t] = max(layer[t], layer[key] + 1)
                indegree[t] -= 1
                if indegree[t] == 0:
                    ready.append(t)
        # a box fed by nothing but able to receive sits just above what it feeds
        preds = {t for targets in dag.values() for t in targets}
        for key in reversed(topo):
            if key not in preds and dag[key] and self.nodes[key].inlets:
                layer[key] = min(layer[t] for t in dag[key]) - 1
        return layer

    def _add_dummies(self, vertices: dict[str, _Vertex], reversed_edges: set) -> None:
        for index, e in enumerate(self.drawing.edges):
            upper, lower = e.source, e.target
            flipped = (e.source, e.target) in reversed_edges
            if flipped:
                upper, lower = lower, upper
            top, bottom = vertices[upper].layer, vertices[lower].layer
            if e.source == e.target:
                continue
            # a feedback wire climbs beside both its boxes, so it has dummies in their layers
            span = range(top, bottom + 1) if flipped else range(top + 1, bottom)
            chain = []
            for layer in span:
                key = f"\0{index}:{layer}"
                vertices[key] = _Vertex(key, layer, 0.0)
                chain.append(key)
            self.chains[index] = chain
            up_frac = _fraction(e.inlet, self.nodes[upper].inlets) if flipped else None
            if up_frac is None:
                up_frac = _fraction(e.outlet, self.nodes[upper].outlets)
            low_frac = _fraction(e.inlet, self.nodes[lower].inlets)
            if flipped:
                low_frac = _fraction(e.outlet, self.nodes[lower].outlets)
            path = chain if flipped else [upper, *chain, lower]
            for k, (a, b) in enumerate(pairwise(path)):
                first, last = k == 0, k == len(path) - 2
                fa = up_frac if first and not flipped else 0.5
                fb = low_frac if last and not flipped else 0.5
                self.links.append((a, b, fa, fb))

    def _first_order(self, vertices: dict[str, _Vertex]) -> list[str]:
        """Depth-first visit order for boxes; a dummy follows its wire's source."""
        rank = {key: i for i, key in enumerate(self.visit_order)}
        edges = self.drawing.edges

        def order(key: str) -> tuple[float, str]:
            if vertices[key].node is not None:
                return rank[key], ""
            index = int(key[1:].split(":")[0])
            return rank[edges[index].source] + 0.5, key

        return sorted(vertices, key=order)

    # ---- x positions ----

    def _place_x(self, rows: list[list[str]], vertices: dict[str, _Vertex]) -> None:
        for row in rows:
            x = 0.0
            for key in row:
                vertices[key].x = x
                x += vertices[key].width + GAP_X
        ups: dict[str, list[tuple[str, float, float]]] = defaultdict(list)
        downs: dict[str, list[tuple[str, float, float]]] = defaultdict(list)
        for a, b, fa, fb in self.links:
            ups[b].append((a, fa, fb))
            downs[a].append((b, fb, fa))

        def offset(key: str, fraction: float) -> float:
            v = vertices[key]
            if v.node is None:
                return 0.0
            place = Place(0, 0, v.width, 0, ())
            count = max(v.node.inlets, v.node.outlets, 1)
            index = round(fraction * count - 0.5)
            return port_x(place, index, count, v.node.message)

        def settle(row: list[str], neighbours: dict) -> None:
            wanted = []
            for key in row:
                links = neighbours.get(key)
                if not links:
                    wanted.append(vertices[key].x)
                    continue
                spots = sorted(
                    vertices[other].x + offset(other, f_other) - offset(key, f_own)
                    for other, f_other, f_own in links
                )
                mid = len(spots) // 2
                wanted.append(spots[mid] if len(spots) % 2 else (spots[mid - 1] + spots[mid]) / 2)
            gaps = [
                vertices[a].width + (GAP_X if vertices[a].node and vertices[b].node else GAP_DUMMY)
                for a, b in pairwise(row)
            ]
            for key, x in zip(row, isotonic_place(wanted, gaps), strict=True):
                vertices[key].x = x

        for _ in range(6):
            for row in rows[1:]:
                settle(row, ups)
            for row in reversed(rows[:-1]):
                settle(row, downs)
        for row in rows:
            settle(row, {})
        left = min((v.x for v in vertices.values()), default=0.0)
        for v in vertices.values():
            v.x = round(v.x - left + MARGIN, 1)

    # ---- final geometry ----

    def _finish(self, rows, vertices, reversed_edges) -> Layout:
        tops, y = [], float(MARGIN)
        for row in rows:
            if any(vertices[k].node and vertices[k].node.named for k in row):
                y += NAME_SPACE
            tops.append(y)
            height = max((self.sizes[k][1] for k in row if vertices[k].node), default=0)
            y += height + GAP_Y
        places = {}
        for n in self.drawing.nodes:
            v = vertices[n.id]
            width, height = self.sizes[n.id]
            places[n.id] = Place(v.x, tops[v.layer], width, height, self.lines[n.id])
        bottoms = [
            tops[i] + max((self.sizes[k][1] for k in row if vertices[k].node), default=0)
            for i, row in enumerate(rows)
        ]
        routes = []
        for index, e in enumerate(self.drawing.edges):
            start = outlet_point(places[e.source], self.nodes[e.source], e.outlet)
            end = inlet_point(places[e.target], self.nodes[e.target], e.inlet)
            chain = self.chains.get(index, [])
            if (e.source, e.target) in reversed_edges or e.source == e.target:
                points = self._feedback(
                    start,
                    end,
                    places[e.source],
                    chain,
                    vertices,
                    tops,
                    bottoms,
                    self.nodes[e.target].named,
                )
                routes.append(Route(e, points, True))
                continue
            points = [start]
            for key in chain:
                v = vertices[key]
                points += [(v.x, tops[v.layer] - 6), (v.x, bottoms[v.layer] + 6)]
            points.append(end)
            routes.append(Route(e, tuple(points), False))
        right = max((p.x + p.width for p in places.values()), default=0)
        right = max([right, *(x for r in routes for x, _ in r.points)])
        return Layout(
            self.drawing, places, tuple(routes), round(right + MARGIN, 1), round(y - GAP_Y + MARGIN)
        )

    def _feedback(self, start, end, source: Place, chain, vertices, tops, bottoms, named):
        """Down from the outlet, aside to the wire's lane, up beside the boxes, into the inlet."""
        below, above = start[1] + 8, end[1] - 8 - (NAME_SPACE - 4 if named else 0)
        if chain:
            lane = list(reversed(chain))  # bottom to top
            points = [start, (start[0], below), (vertices[lane[0]].x, below)]
            for low, high in pairwise(lane):
                a, b = vertices[low], vertices[high]
                if a.x != b.x:  # bend in the gap between the two layers
                    mid = (bottoms[b.layer] + tops[a.layer]) / 2
                    points += [(a.x, mid), (b.x, mid)]
            points += [(vertices[lane[-1]].x, above), (end[0], above), end]
            return tuple(_dedupe(points))
        side = source.x + source.width + 10  # a wire from a box to itself
        return (start, (start[0], below), (side, below), (side, above), (end[0], above), end)


def _fraction(port: int, count: int) -> float:
    return (port + 0.5) / max(count, 1)


def _dedupe(points):
    out = []
    for p in points:
        if not out or out[-1] != p:
            out.append(p)
    return out
