"""The Nodes toolbar entry (GUI sessions)."""

from __future__ import annotations

import nuke

COMMAND = "import movingcolor_nuke; movingcolor_nuke.create_node()"


def install_menu() -> None:
    """The Nodes toolbar entry; the status line's word when an artist changes a knob or an input after a
    fuse; a pasted copy of a fused node showing its plate, not its original's take."""
    from .bridge import knob_changed, on_create

    nuke.menu("Nodes").addMenu("MovingColor").addCommand("MovingColor", COMMAND)
    nuke.addKnobChanged(knob_changed, nodeClass="Group")
    nuke.addOnCreate(on_create, nodeClass="Group")
