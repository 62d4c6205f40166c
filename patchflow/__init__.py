"""patchflow: run message-dataflow patches (Pure Data / Max / Patchies style) written as text.

This module is the one public door; `objects` (installed as `patchflow_objects`) and embedding
programs use only the names in `__all__`.
"""

from ._version import __version__
from .api import MEMORY, Patch, RunResult, Session, check_patch_id, resolve_data_dir
from .box import Box
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
from .language import parse_patch
from .messages import (
    BANG,
    UNSET,
    MessageTemplate,
    describe,
    is_bang,
    message_type,
    parse_json5,
    to_json,
)
from .registry import Registry, default_registry
from .runtime import Hold, Runtime
from .schemas import BUILTIN_SCHEMAS, DB_SCHEMAS, KV_SCHEMAS, Field, Schema, schema

__all__ = [
    "BANG",
    "BUILTIN_SCHEMAS",
    "DB_SCHEMAS",
    "KV_SCHEMAS",
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
    "Patch",
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
    "__version__",
    "build_graph",
    "check_patch_id",
    "default_registry",
    "describe",
    "is_bang",
    "message_type",
    "parse_json5",
    "parse_patch",
    "resolve_data_dir",
    "schema",
    "to_json",
]
