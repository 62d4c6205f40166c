"""Per-patch persistent storage: the `kv` and `db` stores of storage.md.

`open_storage(patch_id, data_dir)` opens a patch's storage (LMDB in `DATA_DIR/PATCH_ID/`, or
in memory for `":memory:"`) as a `PatchStorage`; its `kv(...)`/`db(...)` give the async Python
API, and `execute_kv(store, message)` runs a `[kv]` box's command message and returns the reply.
Beneath it: typed commands (`kv.py`), the key layout (`keys.py`), the msgpack codec (`codec.py`)
and a small synchronous backend protocol (`backend.py`) with LMDB and in-memory backends.
This package knows nothing of boxes or of the runtime.
"""

from .backend import MAX_KEY_BYTES, Backend, ReadTxn, WriteTxn
from .codec import UnstorableValue, decode, encode
from .commands import MISSING, InvalidCommand, describe, error_reply
from .keys import FORMAT_VERSION, SPACES, StoreRef, ensure_format_version
from .kv import (
    KV_COMMANDS,
    Clear,
    Delete,
    Get,
    Has,
    Keys,
    KvCommand,
    Set,
    SetStore,
    parse_kv_command,
)
from .lmdb_backend import LmdbBackend
from .memory_backend import MEMORY, MemoryBackend
from .store import DB, KV, PatchStorage, check_patch_id, open_storage

__all__ = [
    "DB",
    "FORMAT_VERSION",
    "KV",
    "KV_COMMANDS",
    "MAX_KEY_BYTES",
    "MEMORY",
    "MISSING",
    "SPACES",
    "Backend",
    "Clear",
    "Delete",
    "Get",
    "Has",
    "InvalidCommand",
    "Keys",
    "KvCommand",
    "LmdbBackend",
    "MemoryBackend",
    "PatchStorage",
    "ReadTxn",
    "Set",
    "SetStore",
    "StoreRef",
    "UnstorableValue",
    "WriteTxn",
    "check_patch_id",
    "decode",
    "describe",
    "encode",
    "ensure_format_version",
    "error_reply",
    "open_storage",
    "parse_kv_command",
]
