"""Draw a laid-out patch as SVG, the way Pd draws a canvas.

An object box is its text in a rectangle; a message box has Pd's flag shape (the right edge
notched, its corners flared out); inlets are small filled tabs on the top edge and outlets on
the bottom edge; wires are straight lines from an outlet to an inlet (a feedback wire bends
round the side, with rounded corners). A named box shows its name in small grey type above
it. Coordinates are written with one decimal and elements in file order, so the same patch
always gives the same bytes.
"""

from __future__ import annotations

from xml.sax.saxutils import escape, quoteattr

from .layout import (
    FLAG,
    FONT_SIZE,
    LINE_HEIGHT,
    PAD_X,
    PAD_Y,
    TAB_HEIGHT,
    TAB_WIDTH,
    Layout,
    Place,
    port_x,
)
from .model import Node

FONT_FAMILY = "DejaVu Sans Mono, Menlo, Consolas, monospace"
INK, PAPER, FAINT, BODY_INK = "#000", "#fff", "#666", "#333"


def _n(value: float) -> str:
    """A coordinate with at most one decimal, no trailing zeros (stable across platforms)."""
    text = f"{value:.1f}"
    return text[:-2] if text.endswith(".0") else text


def render_svg(layout: Layout) -> str:
    """The SVG document for `layout`, as text."""
    w, h = layout.width, layout.height
    title = escape(f"patch {layout.drawing.patch_id}")
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{_n(w)}" height="{_n(h)}" '
        f'viewBox="0 0 {_n(w)} {_n(h)}" font-family="{FONT_FAMILY}" '
        f'font-size="{FONT_SIZE}">',
        f"<title>{title}</title>",
        f'<rect width="100%" height="100%" fill="{PAPER}"/>',
        f'<g class="wires" fill="none" stroke="{INK}" stroke-width="1.2">',
    ]
    for route in layout.routes:
        e = route.edge
        out.append(
            f'<path class="wire" d="{_path(route.points, route.feedback)}" '
            f'data-from="{_attr(e.source)}:{e.outlet}" data-to="{_attr(e.target)}:{e.inlet}"/>'
        )
    out.append("</g>")
    out.append('<g class="boxes">')
    for node in layout.drawing.nodes:
        out.extend(_box(node, layout.places[node.id]))
    out.append("</g>")
    out.append("</svg>")
    return "\n".join(out) + "\n"


def _attr(text: str) -> str:
    return quoteattr(text)[1:-1]


def _path(points, rounded: bool) -> str:
    """A polyline; with `rounded`, its corners are cut by short quadratic curves."""
    if not rounded or len(points) < 3:
        return "M" + " L".join(f"{_n(x)} {_n(y)}" for x, y in points)
    parts = [f"M{_n(points[0][0])} {_n(points[0][1])}"]
    for (x0, y0), (x1, y1), (x2, y2) in zip(points, points[1:], points[2:], strict=False):
        r_in = min(6.0, abs(x1 - x0) / 2 + abs(y1 - y0) / 2)
        r_out = min(6.0, abs(x2 - x1) / 2 + abs(y2 - y1) / 2)
        ax, ay = x1 - _sign(x1 - x0) * r_in, y1 - _sign(y1 - y0) * r_in
        bx, by = x1 + _sign(x2 - x1) * r_out, y1 + _sign(y2 - y1) * r_out
        parts.append(f"L{_n(ax)} {_n(ay)} Q{_n(x1)} {_n(y1)} {_n(bx)} {_n(by)}")
    parts.append(f"L{_n(points[-1][0])} {_n(points[-1][1])}")
    return " ".join(parts)


def _sign(value: float) -> int:
    return (value > 0) - (value < 0)


def _box(node: Node, p: Place) -> list[str]:
    out = [f'<g class="box" data-id="{_attr(node.id)}">']
    if node.message:
        body_right = p.x + p.width - FLAG
        shape = [
            (p.x, p.y),
            (body_right + FLAG, p.y),
            (body_right, p.y + FLAG),
            (body_right, p.y + p.height - FLAG),
            (body_right + FLAG, p.y + p.height),
            (p.x, p.y + p.height),
        ]
        points = " ".join(f"{_n(x)},{_n(y)}" for x, y in shape)
        out.append(f'<polygon class="message" points="{points}" fill="{PAPER}" stroke="{INK}"/>')
    else:
        out.append(
            f'<rect class="object" x="{_n(p.x)}" y="{_n(p.y)}" width="{_n(p.width)}" '
            f'height="{_n(p.height)}" fill="{PAPER}" stroke="{INK}"/>'
        )
    for kind, count in (("inlet", node.inlets), ("outlet", node.outlets)):
        y = p.y if kind == "inlet" else p.y + p.height - TAB_HEIGHT
        for index in range(count):
            x = port_x(p, index, count, node.message) - TAB_WIDTH / 2
            out.append(
                f'<rect class="{kind}" x="{_n(x)}" y="{_n(y)}" width="{TAB_WIDTH}" '
                f'height="{TAB_HEIGHT}" fill="{INK}"/>'
            )
    if node.body:  # a thin rule between the box text and its body
        y = p.y + PAD_Y + LINE_HEIGHT + 0.5
        right = p.x + p.width - (FLAG if node.message else 0)
        out.append(
            f'<line x1="{_n(p.x)}" y1="{_n(y)}" x2="{_n(right)}" y2="{_n(y)}" stroke="#bbb"/>'
        )
    for i, line in enumerate(p.lines):
        y = p.y + PAD_Y + LINE_HEIGHT * i + FONT_SIZE - 1
        fill = "" if i == 0 else f' fill="{BODY_INK}"'
        out.append(
            f'<text x="{_n(p.x + PAD_X)}" y="{_n(y)}"{fill} xml:space="preserve">'
            f"{escape(line)}</text>"
        )
    if node.named:
        out.append(
            f'<text class="name" x="{_n(p.x + TAB_WIDTH + 3)}" y="{_n(p.y - 3)}" '
            f'font-size="10" fill="{FAINT}" stroke="{PAPER}" stroke-width="3" '
            f'paint-order="stroke">{escape(node.id)}</text>'
        )
    out.append("</g>")
    return out
