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

from .bridge import fuse, fuse_button
from .node import create_node

__all__ = ["create_node", "fuse", "fuse_button"]
