"""Per-patch persistent storage: the `kv` and `db` stores of storage.md.

`open_storage(patch_id, data_dir)` opens a patch's storage (LMDB in `DATA_DIR/PATCH_ID/`, or
in memory for `":memory:"`) as a `PatchStorage`; its `kv(...)`/`db(...)` give the async Python
API, and `execute_kv(store, message)` / `execute_db(store, message)` run a `[kv]` / `[db]` box's
command message and return the reply. Beneath it: typed commands (`kv.py`, `db.py`), the query
language (`query.py`), the key layout (`keys.py`), the msgpack codec (`codec.py`)
and a small synchronous backend protocol (`backend.py`) with LMDB and in-memory backends.
This package knows nothing of boxes or of the runtime.
"""

from .backend import MAX_KEY_BYTES, Backend, ReadTxn, WriteTxn
from .codec import UnstorableValue, decode, encode
from .commands import MISSING, InvalidCommand, describe, error_reply
from .db import (
    DB_COMMANDS,
    Count,
    DbCommand,
    DbSetStore,
    DeleteDoc,
    Drop,
    Find,
    FindOne,
    Insert,
    Replace,
    Update,
    parse_db_command,
)
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
    "DB_COMMANDS",
    "FORMAT_VERSION",
    "KV",
    "KV_COMMANDS",
    "MAX_KEY_BYTES",
    "MEMORY",
    "MISSING",
    "SPACES",
    "Backend",
    "Clear",
    "Count",
    "DbCommand",
    "DbSetStore",
    "Delete",
    "DeleteDoc",
    "Drop",
    "Find",
    "FindOne",
    "Get",
    "Has",
    "Insert",
    "InvalidCommand",
    "Keys",
    "KvCommand",
    "LmdbBackend",
    "MemoryBackend",
    "PatchStorage",
    "ReadTxn",
    "Replace",
    "Set",
    "SetStore",
    "StoreRef",
    "UnstorableValue",
    "Update",
    "WriteTxn",
    "check_patch_id",
    "decode",
    "describe",
    "encode",
    "ensure_format_version",
    "error_reply",
    "open_storage",
    "parse_db_command",
    "parse_kv_command",
]
