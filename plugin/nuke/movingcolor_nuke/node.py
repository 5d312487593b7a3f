"""The MovingColor group: three inputs, the Write nodes the Fuse button renders, the fused Read."""

from __future__ import annotations

import nuke

from .knobs import INPUT_NAMES, add_knobs

#: Inside the group: a Write per input (rendered by Fuse), and the Read of the fused frames.
WRITE_NAMES = {name: f"write_{name}" for name in INPUT_NAMES}
READ_NAME = "fused"
OUTPUT_NAME = "Output1"
#: In the artist's viewer, shows the fused frames within their run and the plate outside it: a Read
#: outside its frames holds its first or last one, another frame's picture shown as this frame's.
SWITCH_NAME = "fused_or_plate"
#: A render (``nuke -x`` on the farm, a Write rendered in the GUI: TCL's ``$gui`` is 0 in both) reads
#: the take at every frame, so a frame outside it fails (the Read's before and after are ``error``)
#: where the plate had been rendered as the shot's graded frame without a word.
WITHIN_FUSED = f"!$gui || (frame >= {READ_NAME}.first && frame <= {READ_NAME}.last)"
#: What the fused Read does at frames before and after its run: a render of one of them fails.
OUTSIDE_THE_TAKE = "error"


def create_node() -> nuke.Node:
    """A MovingColor node in the current script: before its first Fuse it passes the plate through in
    the GUI (a render outside it fails: ``farm.py``)."""
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
        for side in ("before", "after"):
            read[side].setValue(OUTSIDE_THE_TAKE)
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


def show_the_take(group: nuke.Node) -> nuke.Node:
    """Make the group's output its take (the Switch of the fused frames and the plate), as renders read
    it; also in a group of an earlier version, whose renders showed the plate outside the take's
    frames (its Switch's expression, its Read holding its ends). Returns the Switch."""
    switch = fused_or_plate(group)
    # Set every time, not compared first: the same value again changes nothing, and two Python objects
    # of one Nuke node need not be one object.
    switch["which"].setExpression(WITHIN_FUSED)
    read = inner(group, READ_NAME)
    for side in ("before", "after"):
        read[side].setValue(OUTSIDE_THE_TAKE)
    inner(group, OUTPUT_NAME).setInput(0, switch)
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
