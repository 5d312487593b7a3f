"""A module imported on a thread of its own, started before a shot's first frames are read."""

from __future__ import annotations

import importlib
import sys
import threading

#: What the band's wide distance transforms and the guided filter's box filters import: about a
#: quarter of a second, most of it scipy's array-API layer.
SCIPY_FILTERS = "scipy.ndimage"


def import_in_background(module: str) -> None:
    """Start importing ``module`` on a thread of its own unless it is imported already. Started
    before a shot's first frames are read, the import runs while OpenImageIO decodes them with
    Python's lock released, instead of after them, on the first frame's path (a later import waits
    for this one rather than starting again). Not a daemon: a process that ends sooner (every frame
    already written) waits for the import to finish rather than stopping the thread inside it."""
    if module not in sys.modules:
        threading.Thread(target=importlib.import_module, args=(module,), name="movingcolor-import").start()
