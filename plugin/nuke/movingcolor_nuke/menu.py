"""The Nodes toolbar entry (GUI sessions)."""

from __future__ import annotations

import nuke

COMMAND = "import movingcolor_nuke; movingcolor_nuke.create_node()"


def install_menu() -> None:
    nuke.menu("Nodes").addMenu("MovingColor").addCommand("MovingColor", COMMAND)
