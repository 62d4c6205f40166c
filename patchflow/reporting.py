"""How runtime errors and output lines are written: `FILE:LINE [BOX: CLASS]: what went wrong`."""

from __future__ import annotations

import sys
import traceback
from typing import TYPE_CHECKING

from .errors import PatchflowError

if TYPE_CHECKING:
    from .box import Box


def error_line(file: str, box: Box | None, exc: BaseException) -> str:
    """The report of an error raised in `box` (or outside any box)."""
    if box is None:
        return f"{file}: {exception_text(exc)}"
    return f"{file}:{box.error_line(exc)} [{box_label(box)}]: {exception_text(exc)}"


def box_label(box: Box) -> str:
    """`id: class`, or just the id when it already names the class (`print-1`, `t`)."""
    cls = box.text.split(maxsplit=1)[0] if box.text else box.name
    return box.id if box.id.startswith(f"{cls}-") or box.id == cls else f"{box.id}: {cls}"


def exception_text(exc: BaseException) -> str:
    """Our errors as their message; others with their type, as Python prints them."""
    if isinstance(exc, PatchflowError):
        return str(exc)
    return "".join(traceback.format_exception_only(type(exc), exc)).strip()


def print_stdout(text: str) -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def print_stderr(text: str) -> None:
    sys.stderr.write(text + "\n")
    sys.stderr.flush()
