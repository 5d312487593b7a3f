"""The MovingColor group: three inputs, the Write nodes the Fuse button renders, the fused Read."""

from __future__ import annotations

import nuke

from .knobs import INPUT_NAMES, add_knobs

#: Inside the group: a Write per input (rendered by Fuse), and the Read of the fused frames.
WRITE_NAMES = {name: f"write_{name}" for name in INPUT_NAMES}
READ_NAME = "fused"
OUTPUT_NAME = "Output1"
#: Shows the fused frames within their run and the plate outside it: a Read outside its frames
#: holds its first or last one, another frame's picture shown as this frame's.
SWITCH_NAME = "fused_or_plate"
WITHIN_FUSED = f"frame >= {READ_NAME}.first && frame <= {READ_NAME}.last"


def create_node() -> nuke.Node:
    """A MovingColor node in the current script: before its first Fuse it passes the plate through."""
    group = nuke.createNode("Group", inpanel=False)
    group.setName("MovingColor1", uncollide=True)
    group.begin()
    try:
        inputs = []
        for number, name in enumerate(INPUT_NAMES):
            node = nuke.nodes.Input(name=name)
            node["number"].setValue(number)
            inputs.append(node)
        for source, name in zip(inputs, INPUT_NAMES, strict=True):
            write = nuke.nodes.Write(name=WRITE_NAMES[name])
            write.setInput(0, source)
            # Rendered only by the Fuse button, never by a Render All of the script.
            write["disable"].setValue(True)
        read = nuke.nodes.Read(name=READ_NAME)
        _add_switch(inputs[0], read)
        output = nuke.nodes.Output(name=OUTPUT_NAME)
        output.setInput(0, inputs[0])
    finally:
        group.end()
    add_knobs(group)
    return group


def _add_switch(plate: nuke.Node, read: nuke.Node) -> nuke.Node:
    """The Switch of the plate (input 0) and the fused frames (1) by whether the frame is fused."""
    switch = nuke.nodes.Switch(name=SWITCH_NAME)
    switch.setInput(0, plate)
    switch.setInput(1, read)
    switch["which"].setExpression(WITHIN_FUSED)
    return switch


def fused_or_plate(group: nuke.Node) -> nuke.Node:
    """The group's Switch of the fused frames and the plate; made in a group of an earlier version,
    which showed the Read alone."""
    switch = group.node(SWITCH_NAME)
    if switch is not None:
        return switch
    group.begin()
    try:
        return _add_switch(inner(group, INPUT_NAMES[0]), inner(group, READ_NAME))
    finally:
        group.end()


def inner(group: nuke.Node, name: str) -> nuke.Node:
    node = group.node(name)
    if node is None:
        raise RuntimeError(f"{group.name()} has no {name} node inside: create a new MovingColor node")
    return node
