"""The Nodes toolbar entry (GUI sessions)."""

from __future__ import annotations

import nuke

COMMAND = "import movingcolor_nuke; movingcolor_nuke.create_node()"


def install_menu() -> None:
    """The Nodes toolbar entry, and the status line's word when an artist changes a knob after a fuse."""
    from .bridge import knob_changed

    nuke.menu("Nodes").addMenu("MovingColor").addCommand("MovingColor", COMMAND)
    nuke.addKnobChanged(knob_changed, nodeClass="Group")
