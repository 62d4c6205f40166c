"""Render the object reference (docs/objects.md) from the objects' own help texts.

    python -m patchflow.docs > docs/objects.md

A test checks the committed file matches, so the reference never drifts from the code.
"""

from __future__ import annotations

from .registry import Registry, default_registry


def render_reference(registry: Registry | None = None) -> str:
    """The whole object reference as Markdown, objects sorted by name."""
    registry = registry or default_registry()
    out = [
        "# Object reference",
        "",
        "Generated from each object's help text by `python -m patchflow.docs`; "
        "`patchflow help NAME` prints the same text.",
        "",
    ]
    for cls in registry:
        names = ", ".join(f"`{n}`" for n in (cls.name, *cls.aliases))
        out += [f"## {names}", "", "```", cls.help_text(), "```", ""]
    return "\n".join(out)


if __name__ == "__main__":
    print(render_reference(), end="")
