"""patchflow: run message-dataflow patches (Pure Data / Max / Patchies style) written as text.

This module is the one public door; `objects` (installed as `patchflow_objects`) and embedding
programs use only the names in `__all__`.
"""

from ._version import __version__
from .api import MEMORY, Patch, RunResult, Session, check_patch_id, resolve_data_dir
from .arguments import json5_or_text, parse_number, split_arguments
from .box import Box
from .context import PatchContext, Timer
from .errors import (
    ArgumentError,
    CommandError,
    MessageError,
    PatchError,
    PatchflowError,
    Problem,
    RunawayLoop,
    StorageError,
)
from .graph import Graph, build_graph
from .holds import Hold
from .language import parse_patch
from .messages import BANG, is_bang, message_type, parse_json5, to_json
from .registry import Registry, default_registry
from .render import describe
from .runtime import Runtime
from .schemas import BUILTIN_SCHEMAS, Field, Schema, schema
from .templates import UNSET, MessageTemplate
from .values import Number, is_number, is_string_or_control, same_value

__all__ = [
    "BANG",
    "BUILTIN_SCHEMAS",
    "DB_COMMANDS",
    "KV_COMMANDS",
    "MEMORY",
    "UNSET",
    "ArgumentError",
    "Box",
    "CommandError",
    "Field",
    "Graph",
    "Hold",
    "MessageError",
    "MessageTemplate",
    "Number",
    "Patch",
    "PatchContext",
    "PatchError",
    "PatchflowError",
    "Problem",
    "Registry",
    "RunResult",
    "RunawayLoop",
    "Runtime",
    "Schema",
    "Session",
    "StorageError",
    "Timer",
    "__version__",
    "build_graph",
    "check_patch_id",
    "default_registry",
    "describe",
    "is_bang",
    "is_number",
    "is_string_or_control",
    "json5_or_text",
    "message_type",
    "parse_json5",
    "parse_number",
    "parse_patch",
    "resolve_data_dir",
    "same_value",
    "schema",
    "split_arguments",
    "to_json",
]


def __getattr__(name: str) -> object:
    """Storage's command sets (`KV_COMMANDS`, `DB_COMMANDS`), imported on first use.

    Importing storage (msgpack, lmdb, the command classes) measured about 40 ms (2026, 2-core
    Xeon), a fifth of startup, which a patch without `[kv]`/`[db]` should not pay.
    """
    if name in ("KV_COMMANDS", "DB_COMMANDS"):
        from . import storage

        return getattr(storage, name)
    raise AttributeError(f"module 'patchflow' has no attribute {name!r}")
