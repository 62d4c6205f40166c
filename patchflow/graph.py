"""Turn parsed declarations into a checked graph: Box instances and the wires between them.

The graph knows nothing of trio, storage or delivery. It creates every box through its class's
`from_text`, checks port numbers against the real ports, and collects every problem (the
parser's and its own) so that one `PatchError` reports them all, in file order. The wires are
recorded as data (`Graph.wires`); the runtime's delivery (delivery.py) compiles them.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import attrs

from .box import Box
from .diagram import choose_ports
from .errors import ArgumentError, PatchError, Problem
from .language import BoxDecl, PatchDecl
from .patchid import patch_id_problem, show_patch_id
from .registry import Registry, default_registry

#: per outlet of a box, its wires in file order, each (target box, inlet)
Outlets = tuple[tuple[tuple[Box, int], ...], ...]


@attrs.frozen
class Graph:
    """A built patch: boxes in file order, the wires between them, and its identity."""

    patch_id: str
    file: str
    boxes: dict[str, Box]  # id → box, in file order
    wires: dict[str, Outlets]  # box id → its outlets' wires

    def box(self, box_id: str) -> Box:
        """The box with this id; KeyError lists the ids there are."""
        try:
            return self.boxes[box_id]
        except KeyError:
            known = ", ".join(self.boxes) or "none"
            raise KeyError(
                f"no box {box_id!r} in patch {self.patch_id!r}; boxes: {known}"
            ) from None


def default_patch_id(file: str) -> str:
    """The patch id a file gets without a `patch` line: its name without `.patch`.

    Pseudo-files get the name inside their brackets: `<stdin>` → `stdin`, `<string>` → `string`.
    """
    name = Path(file).name
    if name.startswith("<") and name.endswith(">"):
        return name[1:-1]
    return name[: -len(".patch")] if name.endswith(".patch") else name


def build_graph(decl: PatchDecl, registry: Registry | None = None) -> Graph:
    """Create and wire the boxes of `decl`; raise PatchError listing every problem."""
    registry = registry or default_registry()
    problems = list(decl.problems)
    boxes: dict[str, Box] = {}

    def problem(line: int, column: int, message: str) -> None:
        problems.append(Problem(decl.file, line, column, message))

    for b in decl.boxes:
        cls = registry.get(b.cls)
        if cls is None:
            hint = registry.suggest(b.cls)
            did_you_mean = f" — did you mean '{hint}'?" if hint else ""
            problem(
                b.line,
                b.column + 1,
                f"unknown object '{b.cls}'{did_you_mean} (`patchflow help` lists objects)",
            )
            continue
        if b.body is not None and not cls.takes_body:
            problem(b.body_line, 1, f"[{b.cls}] takes no body; only [msg] and [py] do")
            continue
        try:
            box = cls.from_text(b.args, b.body)
        except ArgumentError as exc:
            # the text is cut: a long argument (a 2000-character expression) fills no screen
            label = _short(f"{b.cls} {b.args}".strip(), 60)
            problem(*_argument_position(b, exc), f"[{label}]: {exc}")
            continue
        box.id, box.line, box.body_line = b.id, b.line, b.body_line
        box.column = b.column
        box.text = _short(f"{b.cls} {b.args}".strip())
        boxes[b.id] = box

    wires: dict[str, list[list[tuple[Box, int]]]] = {
        box_id: [[] for _ in range(box.outlets)] for box_id, box in boxes.items()
    }
    for w in decl.wires:
        source, target = boxes.get(w.source), boxes.get(w.target)
        if source is None or target is None:
            continue  # already reported: unknown class, bad arguments or undeclared name
        if w.outlet_column or w.inlet_column:  # a drawn wire: its ports follow its columns
            drawn = choose_ports(w, source, target, problem)
            if drawn is None:
                continue
            w = drawn
        ok = True
        if not 0 <= w.outlet < source.outlets:
            problem(w.line, w.column, _port_problem(source, "outlet", w.outlet, source.outlets))
            ok = False
        if not 0 <= w.inlet < target.inlets:
            problem(
                w.target_line,
                w.target_column,
                _port_problem(target, "inlet", w.inlet, target.inlets),
            )
            ok = False
        if ok:
            wires[w.source][w.outlet].append((target, w.inlet))

    if decl.patch_id is None:
        _check_file_patch_id(decl.file, problem)
    if problems:
        raise PatchError(problems)
    patch_id = decl.patch_id or default_patch_id(decl.file)
    recorded = {box_id: tuple(map(tuple, outlets)) for box_id, outlets in wires.items()}
    return Graph(patch_id=patch_id, file=decl.file, boxes=boxes, wires=recorded)


def _check_file_patch_id(file: str, problem: Callable[[int, int, str], None]) -> None:
    """Report a patch id taken from a file name that cannot name storage, at line 1."""
    patch_id = default_patch_id(file)
    reason = patch_id_problem(
        patch_id, "rename the file to '{id}.patch' or add the line 'patch {id}'"
    )
    if reason is not None:
        problem(1, 1, f"invalid patch id {show_patch_id(patch_id)} (from the file name): {reason}")


def _argument_position(b: BoxDecl, exc: ArgumentError) -> tuple[int, int]:
    """Where an argument error points: the argument text, or the place in the box's code that
    the object names (`exc.code_position`: 0-based line and column in the body, or in the
    argument text of a box without one; `[js]` syntax errors). A body's indentation is not
    kept, so a body position names its line and column 1."""
    where = getattr(exc, "code_position", None)
    if where is None:
        return b.args_line, b.args_column
    line, column = where
    if b.body is not None:
        return b.body_line + line, 1
    return b.args_line + line, (b.args_column if line == 0 else 1) + column


def _port_problem(box: Box, kind: str, number: int, count: int) -> str:
    label = f"[{box.text}]"
    if count == 0:
        return f"{label} has no {kind}s; {kind} {number} does not exist"
    plural = f"{kind}s" if count > 1 else kind
    span = f"0–{count - 1}" if count > 1 else "0"
    return f"{label} has {count} {plural} ({span}); {kind} {number} does not exist"


def _short(text: str, limit: int = 40) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
