"""patchflow's built-in object library, one module per family (like Pd's x_*.c files).

Installed as `patchflow_objects` and found through the `patchflow.objects` entry point: the
registry reads `BOXES` from here. Modules import only the public `patchflow` API.
"""

from . import (
    arithmetic,
    bus,
    code,
    connective,
    control,
    flow,
    js,
    listops,
    lists,
    math,
    mqtt,
    patchies,
    py,
    random,
    storage,
    time,
    timing,
)

BOXES = (
    *control.BOXES,
    *flow.BOXES,
    *bus.BOXES,
    *lists.BOXES,
    *math.BOXES,
    *time.BOXES,
    *arithmetic.BOXES,
    *connective.BOXES,
    *random.BOXES,
    *timing.BOXES,
    *listops.BOXES,
    *code.BOXES,
    *py.BOXES,
    *js.BOXES,
    *patchies.BOXES,
    *storage.BOXES,
    *mqtt.BOXES,
)
