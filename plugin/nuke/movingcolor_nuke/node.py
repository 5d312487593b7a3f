"""The MovingColor group: three inputs, the Write nodes the Fuse button renders, the fused Read."""

from __future__ import annotations

import nuke

from .knobs import INPUT_NAMES, add_knobs

#: Inside the group: a Write per input (rendered by Fuse), and the Read of the fused frames.
WRITE_NAMES = {name: f"write_{name}" for name in INPUT_NAMES}
READ_NAME = "fused"
OUTPUT_NAME = "Output1"


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
        nuke.nodes.Read(name=READ_NAME)
        output = nuke.nodes.Output(name=OUTPUT_NAME)
        output.setInput(0, inputs[0])
    finally:
        group.end()
    add_knobs(group)
    return group


def inner(group: nuke.Node, name: str) -> nuke.Node:
    node = group.node(name)
    if node is None:
        raise RuntimeError(f"{group.name()} has no {name} node inside: create a new MovingColor node")
    return node
