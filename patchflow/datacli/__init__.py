"""`patchflow data`: list, inspect, export, import, back up and delete patches' stored data.

The command group lives in `common.py`; importing the command modules registers their
commands on it. They work on every backend through `storage/backends.py` (a URL → a
`StorageLocation`) and the protocols of `storage/backend.py`; the rest of the logic is in
`storage/dump.py` and `storage/inventory.py`. Nothing here knows a backend by name.
"""

from . import cleanup, migrate, transfer, view  # noqa: F401 - registers the commands
from .common import data

__all__ = ["data"]
