"""The MovingColor node for Nuke: a group with plate, matte and graded inputs and a Fuse button.

For TDs and farm scripts (``nuke -t``)::

    import movingcolor_nuke

    node = movingcolor_nuke.create_node()       # or nuke.toNode("MovingColor1")
    node.setInput(0, plate); node.setInput(1, roto)
    node["server"].setValue("gpu-box:50051")
    node["out"].setValue("/shows/x/fused/x.####.exr")
    result = movingcolor_nuke.fuse(node, 1001, 1100)   # raises MovingColorError with the fix
    print(result.written)
"""

import sys

#: The bridge and the packages under it need Python 3.10: Nuke 15 or later (Nuke 14 runs Python 3.9).
MINIMUM_PYTHON = (3, 10)

# Checked before anything else is imported, in syntax an older Nuke reads, so that it says why instead
# of failing on a newer Python's syntax somewhere below.
if tuple(sys.version_info[:2]) < MINIMUM_PYTHON:
    try:
        import nuke

        _NUKE = " " + str(nuke.NUKE_VERSION_STRING)
    except Exception:  # any failure here must still end in the message below
        _NUKE = ""
    raise ImportError(
        "MovingColor needs Nuke 15 or later (Python {}.{}+); this Nuke{} has Python {}.{}".format(
            *(MINIMUM_PYTHON + (_NUKE,) + tuple(sys.version_info[:2]))
        )
    )

from .bridge import fuse, fuse_button  # noqa: E402 (after the version check, on purpose)
from .node import create_node  # noqa: E402

__all__ = ["create_node", "fuse", "fuse_button"]
