"""Pictures of patches: `patchflow draw` as SVG, PNG, a text diagram, or Graphviz DOT.

The package depends only on the parser and the graph (through `model`), never on the
runtime or trio: drawing a patch builds it as `patchflow check` does and runs nothing.
`render` is the one entry point; PNG support (resvg) is imported only when PNG is asked for.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .model import Drawing, Edge, Node, drawing_from_graph, load_drawing

if TYPE_CHECKING:
    from ..api import Patch

FORMATS = ("svg", "png", "text", "dot")

__all__ = [
    "FORMATS",
    "Drawing",
    "Edge",
    "Node",
    "drawing_from_patch",
    "format_for",
    "load_drawing",
    "render",
]


def drawing_from_patch(patch: Patch) -> Drawing:
    """The drawing of a checked patch (built afresh: building compiles, never runs)."""
    return drawing_from_graph(patch.decl, patch.build())


def render(drawing: Drawing, fmt: str = "svg") -> bytes:
    """`drawing` in format `fmt` (one of FORMATS), as bytes ready to write (text is UTF-8)."""
    if fmt == "dot":
        from .dot import render_dot

        return render_dot(drawing).encode()
    if fmt == "text":
        from .text import render_text

        return render_text(drawing).encode()
    if fmt not in ("svg", "png"):
        raise ValueError(f"unknown drawing format {fmt!r}; use one of {', '.join(FORMATS)}")
    from .layout import lay_out
    from .svg import render_svg

    svg = render_svg(lay_out(drawing))
    if fmt == "svg":
        return svg.encode()
    from .png import render_png

    return render_png(svg)


def format_for(output: str | None, fmt: str | None) -> str:
    """The format asked for: `--format`, else the output file's extension, else svg.

    Raises:
        ValueError: the extension names no format and none was given.
    """
    if fmt:
        return fmt
    if output is None or output == "-":
        return "svg"
    suffix = output.rsplit(".", 1)[-1].lower() if "." in output else ""
    by_suffix = {"svg": "svg", "png": "png", "dot": "dot", "gv": "dot", "txt": "text"}
    by_suffix["patch"] = "text"
    if suffix not in by_suffix:
        raise ValueError(
            f"cannot tell the format from {output!r}; name it .svg, .png, .dot or .patch, "
            "or give --format svg|png|text|dot"
        )
    return by_suffix[suffix]
