"""Per-patch persistent storage: the `kv` and `db` stores.

`open_storage(patch_id, data_dir)` opens a patch's storage (LMDB in `DATA_DIR/PATCH_ID/`, in
memory for `":memory:"`, or `storage=URL` for any backend of `backends.BACKENDS`) as a
`PatchStorage` (`store.py`); its `kv(...)`/`db(...)` give the async Python API, and their
`parse(message)` / `answer(command)` are what a `[kv]` / `[db]` box runs.

The subpackages are layers; each uses only those below it:

- `commands/`: typed commands. `base.py` declares what a command is, `command_set.py` derives
  parsing, `[msg]` schemas, help and Python methods from the classes in `kv.py` and `db.py`
  (`documents.py`); the query language is `query.py`, `sorting.py` and `scan.py`.
- `tools/`: whole-patch tools for `patchflow data`: dumps (`dump.py`, `dump_values.py`).
- `layout/`: the key layout of one patch's storage (`keys.py`: spaces and store keys), the
  msgpack codec (`codec.py`) and reading what is stored (`inventory.py`).
- `backends/`: the synchronous backend protocols (`protocol.py`), the registry of backends by
  URL scheme (`__init__.py`), and the LMDB and in-memory implementations.

This package knows nothing of boxes or of the runtime.
"""

from .backends import BACKENDS, MEMORY, open_location, redact
from .backends.lmdb_backend import LmdbBackend
from .backends.memory_backend import MemoryBackend
from .backends.protocol import (
    MAX_KEY_BYTES,
    Backend,
    DamagedStorage,
    ReadTxn,
    StorageBusy,
    StorageLocation,
    Usage,
    WriteTxn,
)
from .commands.base import ABSENT, NOT_GIVEN, InvalidCommand, describe, error_reply
from .commands.command_set import CommandSet
from .commands.db import (
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
from .commands.kv import (
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
from .layout.codec import UnstorableValue, decode, encode
from .layout.keys import FORMAT_VERSION, SPACES, StoreRef, ensure_format_version
from .store import DB, KV, PatchStorage, check_patch_id, open_storage

__all__ = [
    "ABSENT",
    "BACKENDS",
    "DB",
    "DB_COMMANDS",
    "FORMAT_VERSION",
    "KV",
    "KV_COMMANDS",
    "MAX_KEY_BYTES",
    "MEMORY",
    "NOT_GIVEN",
    "SPACES",
    "Backend",
    "Clear",
    "CommandSet",
    "Count",
    "DamagedStorage",
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
    "StorageBusy",
    "StorageLocation",
    "StoreRef",
    "UnstorableValue",
    "Update",
    "Usage",
    "WriteTxn",
    "check_patch_id",
    "decode",
    "describe",
    "encode",
    "ensure_format_version",
    "error_reply",
    "open_location",
    "open_storage",
    "parse_db_command",
    "parse_kv_command",
    "redact",
]
