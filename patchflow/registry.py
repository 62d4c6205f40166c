"""Map class names (and aliases) to Box classes, found through the `patchflow.objects` entry point.

Each entry point names a module whose `BOXES` sequence lists Box classes. Discovery is sorted by
entry-point name so that the same installation always resolves names the same way.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Iterator
from importlib import import_module
from importlib.metadata import entry_points

from .box import Box

ENTRY_POINT_GROUP = "patchflow.objects"


class Registry:
    """Class name → Box class, with aliases and did-you-mean suggestions."""

    def __init__(self, classes: Iterable[type[Box]] = ()) -> None:
        self._by_name: dict[str, type[Box]] = {}
        self._primary: dict[str, type[Box]] = {}
        for cls in classes:
            self.add(cls)

    def add(self, cls: type[Box]) -> None:
        if not cls.name:
            raise ValueError(f"{cls.__qualname__} has no `name`")
        for key in (cls.name, *cls.aliases):
            other = self._by_name.get(key)
            if other is not None and other is not cls:
                raise ValueError(f"object name {key!r} is taken by {other.__qualname__}")
            self._by_name[key] = cls
        self._primary[cls.name] = cls

    def get(self, name: str) -> type[Box] | None:
        return self._by_name.get(name)

    def __contains__(self, name: str) -> bool:
        return name in self._by_name

    def __iter__(self) -> Iterator[type[Box]]:
        """Every object class once, sorted by primary name."""
        return iter(self._primary[name] for name in sorted(self._primary))

    def suggest(self, name: str) -> str | None:
        """The closest known class name, for a did-you-mean hint."""
        close = difflib.get_close_matches(name, list(self._by_name), n=1, cutoff=0.6)
        return close[0] if close else None


def load_registry() -> Registry:
    """Build the registry from every installed `patchflow.objects` entry point."""
    registry = Registry()
    for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda ep: ep.name):
        module = import_module(ep.value) if ":" not in ep.value else ep.load()
        for cls in getattr(module, "BOXES", ()):
            registry.add(cls)
    return registry


_default: Registry | None = None


def default_registry() -> Registry:
    """The process-wide registry of installed objects, loaded once."""
    global _default
    if _default is None:
        _default = load_registry()
    return _default
