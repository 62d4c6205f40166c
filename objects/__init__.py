"""patchflow's built-in object library, one module per family (like Pd's x_*.c files).

Installed as `patchflow_objects` and found through the `patchflow.objects` entry point: the
registry reads `BOXES` from here. Modules import only the public `patchflow` API.
"""

from . import bus, code, control, flow, lists, math, storage, time

BOXES = (
    *control.BOXES,
    *flow.BOXES,
    *bus.BOXES,
    *lists.BOXES,
    *math.BOXES,
    *time.BOXES,
    *code.BOXES,
    *storage.BOXES,
)
