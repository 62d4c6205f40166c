"""Write a patch as Graphviz DOT source, for users who lay out with their own tools.

Each box is a record-like HTML-label node: a row of inlet cells, the box text, a row of
outlet cells; each wire goes from an outlet port (`:o0:s`) to an inlet port (`:i1:n`), so
`dot -Tsvg` draws ports where Pd has them. Message boxes get Pd's lighter look as a
`note`-shaped node, and named boxes show their name. Nodes and edges are in file order.
"""

from __future__ import annotations

from .model import Drawing, Node

MAX_TEXT = 80


def _quote(text: str) -> str:
    """A DOT double-quoted ID."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _html(text: str) -> str:
    return (
        text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
    )


def _ports(prefix: str, count: int) -> str:
    if count == 0:
        return ""
    cells = "".join(
        f'<td port="{prefix}{k}" height="4" bgcolor="black"></td>' for k in range(count)
    )
    inner = f'<table border="0" cellspacing="6" cellpadding="0"><tr>{cells}</tr></table>'
    return f'<tr><td border="0" cellpadding="0">{inner}</td></tr>'


def _label(node: Node) -> str:
    text = " ".join(node.text.split())
    if len(text) > MAX_TEXT:
        text = text[: MAX_TEXT - 1] + "…"
    rows = [_ports("i", node.inlets), f'<tr><td border="0">{_html(text)}</td></tr>']
    if node.body:
        lines = '<br align="left"/>'.join(_html(line) for line in node.body.splitlines())
        rows.append(f'<tr><td border="0" align="left">{lines}<br align="left"/></td></tr>')
    rows.append(_ports("o", node.outlets))
    return '<<table border="0" cellborder="0" cellspacing="0">' + "".join(rows) + "</table>>"


def render_dot(drawing: Drawing) -> str:
    """The DOT source of `drawing`: a top-to-bottom digraph with ports."""
    out = [
        f"digraph {_quote(drawing.patch_id)} {{",
        "  rankdir=TB;",
        '  node [shape=box, fontname="DejaVu Sans Mono, monospace", fontsize=11, margin=0];',
        "  edge [arrowhead=none];",
    ]
    for node in drawing.nodes:
        attrs = [f"label={_label(node)}"]
        if node.message:
            attrs.append("shape=note")
        if node.named:
            attrs.append(f"xlabel={_quote(node.id)}")
        out.append(f"  {_quote(node.id)} [{', '.join(attrs)}];")
    for e in drawing.edges:
        out.append(f"  {_quote(e.source)}:o{e.outlet}:s -> {_quote(e.target)}:i{e.inlet}:n;")
    out.append("}")
    return "\n".join(out) + "\n"
