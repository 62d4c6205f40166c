"""Rasterise the SVG picture to PNG with resvg (through `resvg_py`), using the bundled font.

resvg is a self-contained renderer (a Rust library in the wheel: no Cairo, no system
libraries) that is maintained and renders text itself. It still needs a font, and a server
or a fresh container often has none, so the package ships a subset of DejaVu Sans Mono (the
font the layout measures boxes with, see layout.CHAR_WIDTH) and names it first; system fonts
stay loaded only as fallbacks for characters outside the subset (CJK, emoji).

`resvg_py` is imported here, lazily, so that `patchflow run` never pays for loading it.
"""

from __future__ import annotations

from pathlib import Path

FONT = Path(__file__).with_name("fonts") / "DejaVuSansMono-subset.ttf"
SCALE = 2.0  # device pixels per SVG unit: sharp text on high-density screens and in READMEs


def render_png(svg: str, scale: float = SCALE) -> bytes:
    """The PNG image of `svg`, `scale` pixels per unit, its text in the bundled font."""
    try:
        import resvg_py
    except ImportError as exc:  # pragma: no cover - it is a dependency; a broken install
        raise RuntimeError(
            "drawing PNG needs the 'resvg-py' package: pip install resvg-py "
            "(or draw SVG with --format svg)"
        ) from exc
    png = resvg_py.svg_to_bytes(
        svg_string=svg,
        zoom=scale,
        font_files=[str(FONT)],
        font_family="DejaVu Sans Mono",
        monospace_family="DejaVu Sans Mono",
    )
    return bytes(png)
