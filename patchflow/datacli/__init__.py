"""`patchflow data`: list, inspect, export, import, back up and delete patches' stored data.

The command group lives in `common.py`; importing the command modules registers their
commands on it. The logic is in `storage/dump.py` and `storage/inventory.py`.
"""

from . import cleanup, transfer, view  # noqa: F401 - registers the commands
from .common import data

__all__ = ["data"]
