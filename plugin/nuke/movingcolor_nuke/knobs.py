"""The node's knobs: how they are made, and what they mean as FuseSettings."""

from __future__ import annotations

import os
from dataclasses import dataclass

import nuke
from movingcolor.errors import GradeError
from movingcolor.spec.grade_text import inline_values
from movingcolor.spec.schema import BUILTIN_ENGINES, default, grade_file_parts
from movingcolor_hosts import FuseSettings, SettingsError

from .server_choices import ServerChoices, ask_server

#: Where the grade comes from; the graded input makes the server blend towards that plate.
GRADE_SOURCES = ("CDL", "grade file", "OCIO look", "graded input")
#: The matte's channel: its alpha (Nuke's convention) or, for a roto or key rendered as a grey
#: image, its colour (the brightest of R, G, B).
MATTE_CHANNELS = ("alpha", "rgb")
DEFAULT_CDL = "slope=1,1,1;offset=0,0,0;power=1,1,1;sat=1"

#: Input numbers of the group, in the order the artist sees them.
PLATE, MATTE, GRADED = 0, 1, 2
INPUT_NAMES = ("plate", "matte", "graded")

LABELS = {
    "server": "server",
    "engine": "engine",
    "model": "model",
    "grade": "grade",
    "band": "band width",
    "handles": "window",
    "out": "output",
    "colorspace": "colourspace",
}


#: Knobs whose change makes the take the node shows one of other settings (the range does not).
FUSION_KNOBS = (
    "server", "engine", "model", "grade_source", "cdl", "grade_file", "look", "matte_channel", "band",
    "handles", "colorspace", "out",
)  # fmt: skip
#: Begins the status line while the node shows a take fused with other settings than its knobs'.
STALE = "knobs changed since the take shown was fused"


def fusion_knobs(node: nuke.Node) -> tuple[tuple[str, object], ...]:
    """The values of the node's :data:`FUSION_KNOBS`, as a fuse begins with them."""
    return tuple((name, node[name].value()) for name in FUSION_KNOBS if node.knob(name) is not None)


#: The same, for an input connected to another node (Nuke's knobChanged names the knob ``inputChange``).
RECONNECTED = "inputs reconnected since the take shown was fused"
INPUT_CHANGE = "inputChange"


def with_stale_hint(status: str, knob: nuke.Knob) -> str:
    """``status`` begun with :data:`STALE`, naming ``knob`` by its label (:data:`RECONNECTED` for
    Nuke's ``inputChange``), unless it says so already."""
    if knob.name() == INPUT_CHANGE:
        said, hint = RECONNECTED, f"{RECONNECTED}: press Fuse to see the take of these inputs"
    else:
        said, hint = STALE, f"{STALE} ({knob.label() or knob.name()}): press Fuse to see them"
    if said in status.split("\n", 1)[0]:
        return status
    return f"{hint}; {status}"


def add_knobs(node: nuke.Node) -> None:
    """The MovingColor tab, in the order an artist fills it in."""
    first, last = nuke.root().firstFrame(), nuke.root().lastFrame()
    knobs = [
        nuke.Tab_Knob("movingcolor", "MovingColor"),
        nuke.String_Knob("server", LABELS["server"]),
        # Filled from the server's GetInfo below; the built-in engines until one answers.
        nuke.Enumeration_Knob("engine", LABELS["engine"], list(BUILTIN_ENGINES)),
        nuke.String_Knob("model", LABELS["model"]),
        nuke.PyScript_Knob(
            "ask_server",
            "ask server",
            "import movingcolor_nuke.knobs as k; k.fill_choices(nuke.thisNode())",
        ),
        nuke.Enumeration_Knob("grade_source", "grade from", list(GRADE_SOURCES)),
        nuke.String_Knob("cdl", "CDL"),
        nuke.File_Knob("grade_file", "grade file"),
        nuke.String_Knob("look", "OCIO look"),
        nuke.Enumeration_Knob("matte_channel", "matte from", list(MATTE_CHANNELS)),
        nuke.String_Knob("band", LABELS["band"]),
        nuke.Int_Knob("handles", LABELS["handles"]),
        nuke.Int_Knob("first", "first frame"),
        nuke.Int_Knob("last", "last frame"),
        nuke.String_Knob("colorspace", LABELS["colorspace"]),
        nuke.File_Knob("out", LABELS["out"]),
        nuke.PyScript_Knob(
            "fuse", "Fuse", "import movingcolor_nuke; movingcolor_nuke.fuse_button(nuke.thisNode())"
        ),
        nuke.Text_Knob("status", "", ""),
    ]
    for knob in knobs:
        node.addKnob(knob)
    node["server"].setValue(os.environ.get("MOVINGCOLOR_SERVER", "localhost:50051"))
    node["cdl"].setValue(DEFAULT_CDL)
    node["band"].setValue(default("band"))
    node["first"].setValue(first)
    node["last"].setValue(last)
    tips = {
        "server": "address of `movingcolor serve`: host:port or unix:///path/to.sock",
        "ask_server": "ask the server for its engines and installed models",
        "cdl": "slope=R,G,B;offset=R,G,B;power=R,G,B;sat=S",
        "grade_file": ".cc/.ccc/.cdl, or a LUT: .cube, .clf, .ctf, .3dl, ...",
        "look": "a look of the server's OCIO config",
        "matte_channel": "alpha: the matte input's alpha (or the plate's, with no matte connected); "
        "rgb: the brightest of its colour channels",
        "band": "edge band width around the matte: pixels (12) or % of the object's size (10%)",
        "handles": "frames rendered each side of the range, for the temporal window "
        "(at least the engine's own reach)",
        "colorspace": "empty (the default): the script's working space, sent with the OCIO config that "
        "names it (nuke-default and Nuke's ACES configs), or checked to be the server's config too; "
        "otherwise the working space's name in the server's OCIO config. The fused frames come back "
        "in the working space",
        "out": "where the fused frames go: an EXR sequence, e.g. /shots/x/fused/x.####.exr",
    }
    for name, tip in tips.items():
        node[name].setTooltip(tip)
    fill_choices(node)


def fill_choices(node: nuke.Node) -> ServerChoices:
    """The engine choice and the model's tooltip from the server the node names (GetInfo), or the
    built-in engines when none answers; the status line says which."""
    choices = ask_server(node["server"].value())
    engine = node["engine"].value()
    node["engine"].setValues(list(choices.engines))
    node["engine"].setValue(engine if engine in choices.engines else choices.engines[0])
    models = ", ".join(choices.models) if choices.models else "none listed"
    node["model"].setTooltip(
        f"the movingcolor engine's model (empty: the server's default); installed: {models}"
    )
    # Asking the server changes no take: the status of the take shown (what was fused, its notes, the
    # word that it is of other settings) stays, the server's answer on a line of its own below it.
    node["status"].setValue("\n".join(filter(None, (take_status(node), choices.note))))
    return choices


def take_status(node: nuke.Node) -> str:
    """The status line's words on the take the node shows, without the server's answer below them;
    "" while it shows none (the plate)."""
    from .node import READ_NAME  # node.py imports this module

    read = node.node(READ_NAME)
    if read is None or not read["file"].value():
        return ""
    return node["status"].value().split("\n", 1)[0]


def frame_range(node: nuke.Node, first: int | None, last: int | None) -> tuple[int, int]:
    first = node["first"].value() if first is None else int(first)
    last = node["last"].value() if last is None else int(last)
    if first > last:
        raise SettingsError(f"frame range {first}-{last}: the first frame is after the last; swap them")
    return first, last


def grade_text(node: nuke.Node) -> tuple[str, bool]:
    """The grade the knobs name, and whether the graded input is used instead."""
    source = node["grade_source"].value()
    if source == "graded input":
        return "", True
    if source == "CDL":
        text = node["cdl"].value().strip()
        if not text:
            raise SettingsError(
                "CDL is empty: give slope=..;offset=..;power=..;sat=.. or choose another grade"
            )
        try:
            # Its numbers read here, as the server reads them: a word for a number was found only after
            # every input had been rendered.
            inline_values(text)
        except GradeError as error:
            raise SettingsError(f"CDL: {error}; write slope=R,G,B;offset=R,G,B;power=R,G,B;sat=S") from None
        return text, False
    if source == "grade file":
        path = _path_knob(node, "grade_file")
        if not path:
            raise SettingsError("grade file is empty: choose a .cc/.cdl or LUT file")
        # FILE.ccc#ID picks one correction of a collection (a .ccc of a reel's shots), as fuse takes it.
        if grade_file_parts(path) is None:
            raise SettingsError(
                f"grade file {path} does not exist: check the path (FILE.ccc#ID names one correction "
                f"of a collection)"
            )
        return path, False
    look = node["look"].value().strip()
    if not look:
        raise SettingsError("OCIO look is empty: name a look of the server's OCIO config")
    return f"look:{look}", False


def output_knob(node: nuke.Node) -> str:
    """The ``out`` knob's sequence as typed, ``~`` expanded (as :func:`_path_knob` gives it to the
    fusion): what the node writes, and what another node's output or a fusion under way is compared
    with."""
    return os.path.expanduser(node["out"].value().strip())


def _path_knob(node: nuke.Node, name: str) -> str:
    """A file knob's path as typed, ``~`` expanded to the home folder (as Nuke's own file knobs do: the
    bridge had made a folder named ``~`` in Nuke's working folder). Nuke's Writes evaluate TCL in
    theirs (``[value root.name]``, ``$env(SHOW)``), which a knob's value does not: such a path would
    be taken as the words typed and frames written to a folder named after them, so it is refused."""
    path = node[name].value().strip()
    label = LABELS.get(name, name.replace("_", " "))
    if "[" in path or "$" in path:
        raise SettingsError(
            f"{label} {path!r} holds a TCL expression, which this node does not evaluate: write the "
            f"path itself"
        )
    path = os.path.expanduser(path)
    if path and not os.path.isabs(path):
        # Nuke's Reads take a relative path from the project directory, the bridge from the folder
        # Nuke was started in: the frames were written in one place and looked for in another.
        raise SettingsError(
            f"{label} {path!r} is relative; give the whole path (this node does not apply the project "
            f"directory)"
        )
    return path


@dataclass
class NodeSettings(FuseSettings):
    """A node's settings: its take is 32-bit float, as its inputs are rendered (render.py); a half-float
    take rounded every pixel downstream."""

    @property
    def exr_type(self) -> str:
        return "float"


def settings_from_node(node: nuke.Node) -> FuseSettings:
    """The node's knobs as validated settings; SettingsError names the knob to fix. An empty colourspace
    stays empty here: the script's working space is sent (script_color.py)."""
    grade, use_graded = grade_text(node)
    settings = NodeSettings(
        server=node["server"].value().strip(),
        out=_path_knob(node, "out"),
        grade=grade,
        use_graded=use_graded,
        engine=node["engine"].value(),
        model=node["model"].value().strip(),
        band=node["band"].value().strip(),
        handles=node["handles"].value(),
        colorspace=node["colorspace"].value().strip(),
        labels=dict(LABELS),
    )
    return settings.validate()
