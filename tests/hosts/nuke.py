"""A stand-in for Nuke's ``nuke`` module: the calls the MovingColor node makes, behaving as Nuke's.

Modelled on the Nuke 15.1 Python API reference. Images flow for real: a Read
node reads its files (OpenImageIO), a Write node executed with ``execute``
writes the EXR frames its input describes, with the channels and data type its
knobs name. Tests drive the artist's side through module state: ``GUI``,
``messages`` (what ``message`` showed), ``ProgressTask.cancel_when`` (the
artist presses Cancel) and ``execute_cancel_after`` (Cancel in a render's
progress dialog).

The root node's colour management is modelled as far as the knobs go: the OCIO config
(``colorManagement``, ``OCIO_config``, ``customOCIOConfigPath``) decides which colourspaces
the working space (``workingSpaceLUT``) may name, read from the config itself (nuke-default's
list; Nuke's ``fn-nuke_`` ACES configs are OCIO's built-in ones; aces_1.2's roles and the colourspaces
they name; a custom config's file).
Pixels are not converted: Read and Write nodes must be ``raw``. Proxy mode is modelled: a
Write renders its input at the proxy scale (``proxy_type`` scale, or the proxy format's width
over the full-size format's), into its ``proxy`` file when one is set.
An artist's input connection (``artist_connects``: knobChanged with the ``inputChange`` knob)
and copy and paste (``artist_pastes_a_copy``: every knob and inner node copied, then the
``addOnCreate`` callbacks) are modelled, as is ``Node.format()`` (a Read's: its files' size).
Renders are modelled as Nuke's reference describes them: ``execute`` runs the ``addBeforeRender``
callbacks first (one that raises aborts the render), and the TCL variable ``$gui`` is 1 only while
the GUI computes an image for its viewer: 0 under ``nuke -x``/``-t`` and in any render, the GUI's
own too (Foundry's Q100349). A Read's ``before``/``after`` knobs say what it shows outside its
frames: ``hold`` (the default) its first or last frame, ``error`` an error.

Stricter than Nuke where Nuke's failure is undefined: the node graph belongs to
Nuke's main thread, and touching a node, a knob, ``execute`` or ``message`` from
another thread (which can crash Nuke) raises here. Only ``ProgressTask`` and
``executeInMainThread`` are documented for other threads. A deleted node's Python
object raises ``ValueError`` as Nuke's does.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np
import OpenImageIO as oiio

NUKE_VERSION_STRING = "15.1v3"
NUKE_VERSION_MAJOR = 15
GUI = False

messages: list[str] = []
#: Cancel in the progress dialog of ``execute`` after this many frames (None: never).
execute_cancel_after: int | None = None

_lock = threading.RLock()
_this_node: list[Node] = []
_this_knob: list[Knob] = []
#: nuke.addKnobChanged's callbacks: (callable, args, kwargs, node class).
_knob_changed: list[tuple] = []
#: nuke.addOnCreate's callbacks, the same way.
_on_create: list[tuple] = []
#: nuke.addBeforeRender's callbacks, the same way.
_before_render: list[tuple] = []
#: How many renders (``execute``) are under way: TCL's ``$gui`` is 0 while one is.
_rendering = 0


def _require_main_thread(what: str) -> None:
    if threading.current_thread() is not threading.main_thread():
        raise RuntimeError(
            f"{what} called from thread {threading.current_thread().name!r}: Nuke's nodes, knobs, "
            f"execute and message belong to its main thread (use nuke.executeInMainThread)"
        )


class _MainThreadOnly:
    """Public attributes of nodes and knobs are reachable from Nuke's main thread only."""

    def __getattribute__(self, name: str):
        if not name.startswith("_"):
            _require_main_thread(f"{type(self).__name__}.{name}")
        return object.__getattribute__(self, name)


# -- knobs ---------------------------------------------------------------------


class Knob(_MainThreadOnly):
    def __init__(self, name: str, label: str | None = None, value=None):
        self._name = name
        self._label = label if label is not None else name
        self._value = self._coerce(value) if value is not None else self._default()
        self._tooltip = ""
        self._node: Node | None = None
        self.visible = True

    def _default(self):
        return ""

    def _coerce(self, value):
        return value

    def name(self) -> str:
        return self._name

    def label(self) -> str:
        return self._label

    def value(self):
        return self._value

    def getValue(self):
        return self._value

    def setValue(self, value) -> bool:
        self._value = self._coerce(value)
        return True

    def setTooltip(self, text: str) -> None:
        self._tooltip = text

    def tooltip(self) -> str:
        return self._tooltip

    def setFlag(self, flag: int) -> None:
        pass

    def setVisible(self, visible: bool) -> None:
        self.visible = visible

    def node(self) -> Node | None:
        return self._node

    def setExpression(self, expression: str, channel: int = -1, view=None) -> bool:
        self._expression = expression
        return True

    def hasExpression(self, index: int = -1, view=None) -> bool:
        return bool(getattr(self, "_expression", ""))

    def expression(self) -> str:
        return getattr(self, "_expression", "")


class String_Knob(Knob):
    def _coerce(self, value):
        return str(value)

    def getEvaluatedValue(self) -> str:
        """The value with its TCL expressions evaluated: the stand-in's values hold none."""
        return self._value


class File_Knob(String_Knob):
    pass


class EvalString_Knob(String_Knob):
    pass


class Text_Knob(Knob):
    def __init__(self, name: str, label: str | None = None, text: str = ""):
        super().__init__(name, label, text)


class Tab_Knob(Knob):
    pass


class Int_Knob(Knob):
    def _default(self):
        return 0

    def _coerce(self, value):
        if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
            raise TypeError(f"{self._name}: an integer knob takes a number, not {value!r}")
        return int(value)


class Double_Knob(Knob):
    def _default(self):
        return 0.0

    def _coerce(self, value):
        return float(value)


class Boolean_Knob(Knob):
    def _default(self):
        return False

    def _coerce(self, value):
        return bool(value)


class Enumeration_Knob(Knob):
    def __init__(self, name: str, label: str | None = None, values: list[str] = ()):
        self._values = [str(v) for v in values]
        super().__init__(name, label)

    def _default(self):
        return self._values[0] if self._values else ""

    def _coerce(self, value):
        if isinstance(value, int) and not isinstance(value, bool):
            return self._values[value]
        if str(value) not in self._values:
            raise ValueError(f"{self._name}: {value!r} is not one of {self._values}")
        return str(value)

    def values(self) -> list[str]:
        return list(self._values)

    def setValues(self, values: list[str]) -> None:
        self._values = [str(v) for v in values]


class Format:
    """An image format: ``nuke.root()["format"].value()`` and ``["proxy_format"].value()``."""

    def __init__(self, width: int, height: int, name: str = "", pixel_aspect: float = 1.0):
        self._width, self._height, self._name, self._pixel_aspect = width, height, name, pixel_aspect

    def width(self) -> int:
        return self._width

    def height(self) -> int:
        return self._height

    def name(self) -> str:
        return self._name

    def pixelAspect(self) -> float:
        return self._pixel_aspect


class Format_Knob(Knob):
    """Takes a Format, or its text as the .nk file writes it: "width height [x y r t] [aspect] [name]"."""

    def _default(self):
        return Format(2048, 1556, "2K_Super_35(full-ap)")

    def _coerce(self, value):
        if isinstance(value, Format):
            return value
        words = str(value).split()
        if len(words) < 2 or not (words[0].isdigit() and words[1].isdigit()):
            raise ValueError(f"{self._name}: {value!r} is not a format ('width height name')")
        return Format(int(words[0]), int(words[1]), words[-1] if len(words) > 2 else "")


class PyScript_Knob(Knob):
    def __init__(self, name: str, label: str | None = None, command: str = ""):
        super().__init__(name, label, command)

    def execute(self) -> None:
        """As pressing the button: runs its script with ``nuke.thisNode()`` the knob's node and, on a
        Group, inside that group (Nuke's context for a group's buttons: ``nuke.allNodes()`` there
        lists the group's own nodes)."""
        _this_node.append(self._node)
        inside = isinstance(self._node, Group)
        if inside:
            _CONTEXT.append(self._node)
        try:
            exec(self._value, {"nuke": _module()})
        finally:
            if inside and _CONTEXT and _CONTEXT[-1] is self._node:
                _CONTEXT.pop()
            _this_node.pop()


def _module():
    import sys

    return sys.modules[__name__]


# -- nodes ---------------------------------------------------------------------

_CONTEXT: list[Group] = []


class Node(_MainThreadOnly):
    _class = "Node"
    _max_inputs = 1

    def __getattribute__(self, name: str):
        if not name.startswith("_") and object.__getattribute__(self, "_deleted"):
            raise ValueError("A PythonObject is not attached to a node")
        return super().__getattribute__(name)

    def __init__(self, **knobs):
        self._deleted = False
        self._knobs: dict[str, Knob] = {}
        self._inputs: list[Node | None] = []
        self._name = ""
        self._parent: Group | None = None
        for knob in self._default_knobs():
            self.addKnob(knob)
        for key, value in knobs.items():
            if key == "name":
                continue
            self[key].setValue(value)

    def _default_knobs(self) -> list[Knob]:
        return [String_Knob("name"), Boolean_Knob("disable")]

    def Class(self) -> str:
        return self._class

    def name(self) -> str:
        return self._name

    def fullName(self) -> str:
        if self._parent is not None and self._parent is not _root_group:
            return f"{self._parent.fullName()}.{self._name}"
        return self._name

    def setName(self, name: str, uncollide: bool = False, updateExpressions: bool = False) -> None:
        parent = self._parent
        taken = {n.name() for n in parent.nodes() if n is not self} if parent else set()
        if name in taken:
            if not uncollide:
                raise ValueError(f"name {name!r} is already in use")
            base = re.sub(r"\d+$", "", name)
            number = 1
            while f"{base}{number}" in taken:
                number += 1
            name = f"{base}{number}"
        self._name = name
        self._knobs["name"]._value = name

    def knob(self, name: str) -> Knob | None:
        return self._knobs.get(name)

    def knobs(self) -> dict[str, Knob]:
        return dict(self._knobs)

    def __getitem__(self, name: str) -> Knob:
        _require_main_thread(f"{type(self).__name__}[{name!r}]")
        if self._deleted:
            raise ValueError("A PythonObject is not attached to a node")
        if name not in self._knobs:
            raise NameError(f"knob {name} does not exist")
        return self._knobs[name]

    def addKnob(self, knob: Knob) -> bool:
        knob._node = self
        self._knobs[knob.name()] = knob
        return True

    def input(self, index: int) -> Node | None:
        return self._inputs[index] if index < len(self._inputs) else None

    def setInput(self, index: int, node: Node | None) -> bool:
        if index >= self.maxInputs():
            return False
        while len(self._inputs) <= index:
            self._inputs.append(None)
        self._inputs[index] = node
        return True

    def inputs(self) -> int:
        return len(self._inputs)

    def maxInputs(self) -> int:
        return self._max_inputs

    def channels(self) -> list[str]:
        upstream = self.input(0)
        return upstream.channels() if upstream else []

    def firstFrame(self) -> int:
        upstream = self.input(0)
        return upstream.firstFrame() if upstream else root().firstFrame()

    def lastFrame(self) -> int:
        upstream = self.input(0)
        return upstream.lastFrame() if upstream else root().lastFrame()

    def hasError(self) -> bool:
        """Whether the node itself shows an error, whatever its inputs do."""
        return False

    def format(self) -> Format:
        """The format of the node's output (full size, in proxy mode too): its input's, or with none the
        script's (Project Settings > full size format)."""
        upstream = self.input(0)
        return upstream.format() if upstream else root()["format"].value()

    def _image(self, frame: int) -> dict[str, np.ndarray]:
        """Channel name -> (H, W) float32 at ``frame``; what the node outputs."""
        upstream = self.input(0)
        if upstream is None:
            raise RuntimeError(f"{self.fullName()}: input 0 is not connected")
        return upstream._image(frame)


#: nuke-default's colourspaces (the nuke-default OCIO config Nuke ships; Nuke's own colour management).
NUKE_DEFAULT_SPACES = [
    "linear", "sRGB", "rec709", "Cineon", "Gamma1.8", "Gamma2.2", "Gamma2.4", "Panalog", "REDLog",
    "ViperLog", "AlexaV3LogC", "PLogLin", "SLog", "SLog1", "SLog2", "SLog3", "CLog", "Log3G10",
    "Log3G12", "HybridLogGamma", "Protune", "BT1886", "st2084", "raw",
]  # fmt: skip
NUKE_DEFAULT_ROLES = ["scene_linear", "reference", "color_picking", "compositing_log", "data"]
#: Project Settings > Color > OCIO config, as Nuke 15.1 lists them (less its older ACES 1.x configs).
#: The fn-nuke_ configs are OCIO's built-in configs of that name.
OCIO_CONFIGS = [
    "nuke-default",
    "aces_1.2",
    "fn-nuke_cg-config-v1.0.0_aces-v1.3_ocio-v2.1",
    "fn-nuke_studio-config-v1.0.0_aces-v1.3_ocio-v2.1",
    "custom",
]
#: aces_1.2's roles (imageworks/OpenColorIO-Configs aces_1.2/config.ocio). The stand-in has not the
#: config's file (its LUTs): its working space lists these roles and the colourspaces they name.
ACES_1_2_ROLES = {
    "color_picking": "Output - sRGB",
    "color_timing": "ACES - ACEScc",
    "compositing_linear": "ACES - ACEScg",
    "compositing_log": "Input - ADX - ADX10",
    "data": "Utility - Raw",
    "default": "ACES - ACES2065-1",
    "matte_paint": "Utility - sRGB - Texture",
    "reference": "Utility - Raw",
    "rendering": "ACES - ACEScg",
    "scene_linear": "ACES - ACEScg",
    "texture_paint": "ACES - ACEScc",
}


class _ColorConfigKnob(Enumeration_Knob):
    """A knob that chooses the OCIO config: the working space's choices follow it, as in Nuke."""

    def setValue(self, value) -> bool:
        super().setValue(value)
        if self._node is not None:
            self._node._config_changed()
        return True


class _ConfigPathKnob(File_Knob):
    def setValue(self, value) -> bool:
        super().setValue(value)
        if self._node is not None:
            self._node._config_changed()
        return True


class Root(Node):
    _class = "Root"
    _max_inputs = 0

    def _default_knobs(self) -> list[Knob]:
        return [
            String_Knob("name"),
            Int_Knob("first_frame", value=1),
            Int_Knob("last_frame", value=100),
            Format_Knob("format"),
            # Project Settings > Color. "Nuke": Nuke's own colour management, nuke-default's names.
            Enumeration_Knob("colorManagement", values=["Nuke", "OCIO"]),
            _ColorConfigKnob("OCIO_config", values=OCIO_CONFIGS),
            _ConfigPathKnob("customOCIOConfigPath"),
            Enumeration_Knob("workingSpaceLUT", values=NUKE_DEFAULT_SPACES + NUKE_DEFAULT_ROLES),
            # Project Settings > Root: proxy mode.
            Boolean_Knob("proxy"),
            Enumeration_Knob("proxy_type", values=["scale", "format"]),
            Double_Knob("proxy_scale", value=0.5),
            Format_Knob("proxy_format", value=Format(1024, 778, "1K_Super_35(full-ap)")),
        ]

    def _config_changed(self) -> None:
        """The working space's choices are the chosen config's colourspaces and roles, and it becomes
        the config's scene_linear colourspace; any config but nuke-default switches to OCIO."""
        import PyOpenColorIO as ocio

        name = self._knobs["OCIO_config"]._value
        if name == "nuke-default":
            spaces, roles, working = NUKE_DEFAULT_SPACES, NUKE_DEFAULT_ROLES, "linear"
        elif name == "aces_1.2":
            self._knobs["colorManagement"]._value = "OCIO"
            spaces = sorted(set(ACES_1_2_ROLES.values()))
            roles, working = list(ACES_1_2_ROLES), ACES_1_2_ROLES["scene_linear"]
        else:
            self._knobs["colorManagement"]._value = "OCIO"
            source = self._knobs["customOCIOConfigPath"]._value if name == "custom" else (
                "ocio://" + name.removeprefix("fn-nuke_")
            )  # fmt: skip
            try:
                config = ocio.Config.CreateFromFile(source)
            except Exception:  # Nuke shows the config's error in Project Settings; no choices
                spaces, roles, working = [], [], ""
            else:
                spaces = [space.getName() for space in config.getColorSpaces()]
                roles = [role for role, _ in config.getRoles()]
                working = config.getRoleColorSpace("scene_linear") or ""
        knob = self._knobs["workingSpaceLUT"]
        knob._values = list(spaces) + list(roles)
        knob._value = working

    def firstFrame(self) -> int:
        return self["first_frame"].value()

    def lastFrame(self) -> int:
        return self["last_frame"].value()


_RGBA = ("rgba.red", "rgba.green", "rgba.blue", "rgba.alpha")


def _frame_path(pattern: str, frame: int) -> str:
    """A sequence name with its frame: ``####`` or ``%04d`` replaced, as Nuke's file knobs."""
    hashes = re.search(r"#+", pattern)
    if hashes:
        return pattern[: hashes.start()] + f"{frame:0{len(hashes.group(0))}d}" + pattern[hashes.end() :]
    printf = re.search(r"%(0?\d*)d", pattern)
    if printf:
        return pattern[: printf.start()] + (printf.group(0) % frame) + pattern[printf.end() :]
    return pattern


#: A Read's ``before`` and ``after`` choices: what it shows at frames before or after its range.
_OUTSIDE_FRAMES = ["hold", "loop", "bounce", "black", "error"]


class Read(Node):
    _class = "Read"
    _max_inputs = 0

    def _default_knobs(self) -> list[Knob]:
        return [
            String_Knob("name"),
            Boolean_Knob("disable"),
            File_Knob("file"),
            File_Knob("proxy"),
            Int_Knob("first", value=1),
            Int_Knob("last", value=1),
            Int_Knob("origfirst", value=1),
            Int_Knob("origlast", value=1),
            Boolean_Knob("raw"),
            Enumeration_Knob("colorspace", values=["default"]),
            Enumeration_Knob("on_error", values=["error", "black", "checkerboard", "nearest frame"]),
            Enumeration_Knob("before", values=_OUTSIDE_FRAMES),
            Enumeration_Knob("after", values=_OUTSIDE_FRAMES),
            PyScript_Knob("reload", "Reload"),
        ]

    def _path(self, frame: int) -> str:
        first, last = self["first"].value(), self["last"].value()
        side = "before" if frame < first else "after" if frame > last else ""
        if side and self[side].value() == "error":
            raise RuntimeError(f"{self.fullName()}: frame {frame} is outside the frame range {first}-{last}")
        if side and self[side].value() != "hold":
            raise NotImplementedError(f"{self.fullName()}: the stand-in models {side} hold and error only")
        # Outside first..last the Read holds its first or last frame (Nuke's before/after: hold).
        held = min(max(frame, first), last)
        # In proxy mode a Read reads its proxy file where it has one, its file otherwise.
        proxy = self["proxy"].value() if root()["proxy"].value() else ""
        return _frame_path(proxy or self["file"].value(), held)

    def _read(self, frame: int) -> tuple[np.ndarray, list[str]]:
        if not self["raw"].value():
            raise NotImplementedError(
                f"{self.fullName()}: the stand-in reads raw only (no colour management); set raw"
            )
        path = self._path(frame)
        image = oiio.ImageInput.open(path)
        if image is None:
            oiio.geterror()  # read, so OpenImageIO does not report it again at exit
            raise RuntimeError(f"{self.fullName()}: Read error: {path}: No such file or directory")
        try:
            spec = image.spec()
            pixels = image.read_image(0, 0, 0, spec.nchannels, oiio.FLOAT)
            names = list(spec.channelnames)
        finally:
            image.close()
        return np.asarray(pixels, np.float32).reshape(spec.height, spec.width, spec.nchannels), names

    def format(self) -> Format:
        """The size of its files (Nuke sets a Read's format from the file's header); the script's while
        it reads none (its format knob's default)."""
        if self.hasError():
            return root()["format"].value()
        pixels, _ = self._read(self["first"].value())
        return Format(pixels.shape[1], pixels.shape[0])

    def hasError(self) -> bool:
        """Whether the Read shows an error (its first frame's file cannot be opened)."""
        image = oiio.ImageInput.open(self._path(self["first"].value()))
        if image is None:
            oiio.geterror()
            return True
        image.close()
        return False

    def channels(self) -> list[str]:
        pixels, names = self._read(self["first"].value())
        return list(_RGBA) if "A" in names or pixels.shape[2] == 4 else list(_RGBA[:3])

    def firstFrame(self) -> int:
        return self["first"].value()

    def lastFrame(self) -> int:
        return self["last"].value()

    def _image(self, frame: int) -> dict[str, np.ndarray]:
        pixels, names = self._read(frame)
        if pixels.shape[2] < 3:  # a grey image shows in every colour channel, as in Nuke
            return {channel: pixels[:, :, 0] for channel in _RGBA[:3]}
        channels = {channel: pixels[:, :, i] for i, channel in enumerate(_RGBA[:3])}
        if pixels.shape[2] >= 4:
            channels["rgba.alpha"] = pixels[:, :, names.index("A") if "A" in names else 3]
        return channels


class Roto(Node):
    """A roto with nothing connected: a disc in alpha over the script's format, drawn at any frame.
    As in Nuke, a node that generates its image reports the script's frame range, whatever frames
    its shapes are drawn on."""

    _class = "Roto"

    def channels(self) -> list[str]:
        return list(_RGBA) if self.input(0) is None else super().channels()

    def _image(self, frame: int) -> dict[str, np.ndarray]:
        if self.input(0) is not None:
            return super()._image(frame)
        size = root()["format"].value()
        yy, xx = np.mgrid[0 : size.height(), 0 : size.width()]
        disc = (xx - size.width() / 2) ** 2 + (yy - size.height() / 2) ** 2 < (size.height() / 3) ** 2
        zeros = np.zeros(disc.shape, np.float32)
        return {
            "rgba.red": zeros,
            "rgba.green": zeros,
            "rgba.blue": zeros,
            "rgba.alpha": disc.astype(np.float32),
        }


_WRITE_CHANNELS = {"rgb": _RGBA[:3], "rgba": _RGBA, "alpha": _RGBA[3:], "all": _RGBA}
_FILE_NAMES = {"rgba.red": "R", "rgba.green": "G", "rgba.blue": "B", "rgba.alpha": "A"}
_DATATYPES = {"16 bit half": oiio.HALF, "32 bit float": oiio.FLOAT}


class _FileTypeKnob(Enumeration_Knob):
    """A Write's file_type: choosing a format gives the node that format's knobs, as in Nuke (before
    then a Write has no ``datatype`` or ``compression`` knob)."""

    _FORMAT_KNOBS = {
        "exr": lambda: [
            Enumeration_Knob("datatype", values=list(_DATATYPES)),
            Enumeration_Knob(
                "compression", values=["Zip (1 scanline)", "none", "PIZ Wavelet (32 scanlines)"]
            ),
        ]
    }

    def setValue(self, value) -> bool:
        super().setValue(value)
        node = self._node
        for knobs in self._FORMAT_KNOBS.values():
            for knob in knobs():
                node._knobs.pop(knob._name, None)
        for knob in self._FORMAT_KNOBS.get(self._value, list)():
            node.addKnob(knob)
        return True


class Write(Node):
    _class = "Write"

    def _default_knobs(self) -> list[Knob]:
        return [
            String_Knob("name"),
            Boolean_Knob("disable"),
            File_Knob("file"),
            File_Knob("proxy"),
            _FileTypeKnob("file_type", values=[" ", "exr", "png", "tiff", "dpx", "jpeg"]),
            Enumeration_Knob("channels", values=["rgb", "rgba", "alpha", "all"]),
            Boolean_Knob("raw"),
            Enumeration_Knob("colorspace", values=["default"]),
            Boolean_Knob("create_directories"),
            Int_Knob("first", value=1),
            Int_Knob("last", value=1),
            Boolean_Knob("use_limit"),
        ]

    def _render(self, frame: int) -> None:
        if self["file_type"].value() != "exr":
            raise NotImplementedError(f"{self.fullName()}: the stand-in writes file_type exr only")
        if not self["raw"].value():
            raise NotImplementedError(
                f"{self.fullName()}: the stand-in writes raw only (no colour management); set raw"
            )
        proxy = root()["proxy"].value()
        path = Path(_frame_path((proxy and self["proxy"].value()) or self["file"].value(), frame))
        if not path.parent.is_dir():
            if not self["create_directories"].value():
                raise RuntimeError(f"{self.fullName()}: Can't write {path}: No such file or directory")
            path.parent.mkdir(parents=True, exist_ok=True)
        image = self._image(frame)
        height, width = next(iter(image.values())).shape
        wanted = _WRITE_CHANNELS[self["channels"].value()]
        # Channels the input lacks are written black, as Nuke does.
        planes = [image.get(c, np.zeros((height, width), np.float32)) for c in wanted]
        pixels = np.stack(planes, axis=2).astype(np.float32)
        if proxy:
            pixels = _scaled(pixels, _proxy_scale())
            height, width = pixels.shape[:2]
        spec = oiio.ImageSpec(width, height, len(wanted), _DATATYPES[self["datatype"].value()])
        spec.channelnames = tuple(_FILE_NAMES[c] for c in wanted)
        spec.attribute("compression", "zip")
        # Nuke writes a temporary file and renames it when the frame is complete.
        partial = path.with_name(f".{path.stem}.tmp{path.suffix}")
        output = oiio.ImageOutput.create(str(partial))
        if output is None or not output.open(str(partial), spec):
            raise RuntimeError(f"{self.fullName()}: Can't write {path}")
        try:
            output.write_image(pixels)
        finally:
            output.close()
        os.replace(partial, path)


def _proxy_scale() -> float:
    settings = root()
    if settings["proxy_type"].value() == "format":
        return settings["proxy_format"].value().width() / settings["format"].value().width()
    return settings["proxy_scale"].value()


def _scaled(pixels: np.ndarray, scale: float) -> np.ndarray:
    """``pixels`` resized by ``scale``, as Nuke renders a frame in proxy mode."""
    height, width, channels = pixels.shape
    source = oiio.ImageBuf(oiio.ImageSpec(width, height, channels, oiio.FLOAT))
    source.set_pixels(oiio.ROI(0, width, 0, height, 0, 1, 0, channels), np.ascontiguousarray(pixels))
    size = max(1, round(width * scale)), max(1, round(height * scale))
    resized = oiio.ImageBufAlgo.resize(source, roi=oiio.ROI(0, size[0], 0, size[1], 0, 1, 0, channels))
    return np.asarray(resized.get_pixels(oiio.FLOAT), np.float32).reshape(size[1], size[0], channels)


class Input(Node):
    _class = "Input"
    _max_inputs = 0

    def _default_knobs(self) -> list[Knob]:
        return [String_Knob("name"), Int_Knob("number")]

    def _source(self) -> Node | None:
        group = self._parent
        return group.input(self["number"].value()) if group is not None else None

    def channels(self) -> list[str]:
        source = self._source()
        return source.channels() if source else []

    def format(self) -> Format:
        source = self._source()
        return source.format() if source else root()["format"].value()

    def firstFrame(self) -> int:
        source = self._source()
        return source.firstFrame() if source else root().firstFrame()

    def lastFrame(self) -> int:
        source = self._source()
        return source.lastFrame() if source else root().lastFrame()

    def _image(self, frame: int) -> dict[str, np.ndarray]:
        source = self._source()
        if source is None:
            raise RuntimeError(
                f"{self.fullName()}: the group's input {self['number'].value()} is not connected"
            )
        return source._image(frame)


class Output(Node):
    _class = "Output"


#: The expression forms the stand-in evaluates: whether the frame lies within two knobs' values,
#: optionally or'ed with ``!$gui`` (true outside the GUI's viewer: under ``nuke -x`` and in renders).
_WITHIN = re.compile(r"(!\$gui \|\| \()?frame >= (\w+)\.(\w+) && frame <= (\w+)\.(\w+)(\))?")


def _gui() -> int:
    """TCL's ``$gui``: 1 while the GUI computes an image for its viewer, 0 in any render."""
    return int(bool(GUI) and not _rendering)


class Switch(Node):
    """Shows input ``which`` (clamped to the inputs connected), its value or its expression's at the
    frame; the frame range is input 0's, as Nuke's Switch of one active input gives."""

    _class = "Switch"
    _max_inputs = 64

    def _default_knobs(self) -> list[Knob]:
        return [String_Knob("name"), Boolean_Knob("disable"), Double_Knob("which")]

    def _which(self, frame: int) -> int:
        knob = self["which"]
        if not knob.hasExpression():
            return int(knob.value())
        match = _WITHIN.fullmatch(knob.expression())
        if match is None or bool(match[1]) != bool(match[6]):
            raise NotImplementedError(
                f"{self.fullName()}: the stand-in evaluates only '[!$gui || (]frame >= NODE.KNOB && "
                f"frame <= NODE.KNOB[)]', not {knob.expression()!r}"
            )
        if match[1] and not _gui():
            return 1
        group = self._parent
        low = group.node(match[2])[match[3]].value()
        high = group.node(match[4])[match[5]].value()
        return int(low <= frame <= high)

    def _image(self, frame: int) -> dict[str, np.ndarray]:
        index = min(max(self._which(frame), 0), self.inputs() - 1)
        upstream = self.input(index)
        if upstream is None:
            raise RuntimeError(f"{self.fullName()}: input {index} is not connected")
        return upstream._image(frame)


class Group(Node):
    _class = "Group"
    _max_inputs = 0  # grows with the Input nodes inside

    def __init__(self, **knobs):
        self._children: list[Node] = []
        super().__init__(**knobs)

    def maxInputs(self) -> int:
        return sum(1 for n in self._children if n.Class() == "Input")

    def begin(self) -> Group:
        _CONTEXT.append(self)
        return self

    def end(self) -> None:
        if _CONTEXT and _CONTEXT[-1] is self:
            _CONTEXT.pop()

    def __enter__(self) -> Group:
        return self.begin()

    def __exit__(self, *exc) -> None:
        self.end()

    def nodes(self) -> list[Node]:
        return list(self._children)

    def node(self, name: str) -> Node | None:
        head, _, rest = name.partition(".")
        for child in self._children:
            if child.name() == head:
                return child.node(rest) if rest and isinstance(child, Group) else child
        return None

    def output(self) -> Node | None:
        return next((n for n in self._children if n.Class() == "Output"), None)

    def channels(self) -> list[str]:
        output = self.output()
        return output.channels() if output else []

    def format(self) -> Format:
        output = self.output()
        return output.format() if output else root()["format"].value()

    def firstFrame(self) -> int:
        output = self.output()
        return output.firstFrame() if output else root().firstFrame()

    def lastFrame(self) -> int:
        output = self.output()
        return output.lastFrame() if output else root().lastFrame()

    def _image(self, frame: int) -> dict[str, np.ndarray]:
        if self["disable"].value() and self.input(0) is not None:
            return self.input(0)._image(frame)  # a disabled node passes its first input through
        output = self.output()
        if output is None:
            raise RuntimeError(f"{self.fullName()}: the group has no Output node")
        return output._image(frame)


_CLASSES = {cls._class: cls for cls in (Read, Write, Input, Output, Group, Roto, Switch)}
_root_group = Group()
_root_group._name = "root"
_root_node = Root()
_root_node._name = "root"


def root() -> Root:
    return _root_node


def thisNode() -> Node | None:
    return _this_node[-1] if _this_node else None


def thisGroup() -> Group:
    return _CONTEXT[-1] if _CONTEXT else _root_group


def _create(node_class: str, knobs: dict) -> Node:
    if node_class not in _CLASSES:
        raise RuntimeError(f"{node_class} is not a known node class in this stand-in")
    with _lock:
        parent = thisGroup()
        node = _CLASSES[node_class](**{k: v for k, v in knobs.items() if k not in ("inputs",)})
        node._parent = parent
        parent._children.append(node)
        node.setName(knobs.get("name") or f"{node_class}1", uncollide=True)
        for index, upstream in enumerate(knobs.get("inputs", ())):
            node.setInput(index, upstream)
    _callbacks(_on_create, node, None)
    return node


def createNode(node: str, args: str = "", inpanel: bool = True) -> Node:
    """Create a node of class ``node`` in the current group; ``args`` is "knob value knob value"."""
    words = args.split()
    knobs = dict(zip(words[::2], words[1::2], strict=False))
    return _create(node, knobs)


class _Nodes:
    """``nuke.nodes.Read(file=...)``: create a node with knob values, without connecting it."""

    def __getattr__(self, node_class: str) -> Callable[..., Node]:
        if node_class not in _CLASSES:
            raise AttributeError(node_class)
        return lambda **knobs: _create(node_class, knobs)


nodes = _Nodes()


def toNode(name: str) -> Node | None:
    group = thisGroup()
    return group.node(name) if group is not _root_group else _root_group.node(name)


def allNodes(  # noqa: N802 (Nuke's name)
    filter: str | None = None,  # noqa: A002
    group: Group | None = None,
    recurseGroups: bool = False,  # noqa: N803
) -> list[Node]:
    # The root node stands for the script's top level, as nuke.root() does in Nuke.
    found = list((_root_group if group is _root_node else group or thisGroup()).nodes())
    if recurseGroups:
        for child in list(found):
            if isinstance(child, Group):
                found += allNodes(None, child, True)
    return [n for n in found if filter is None or n.Class() == filter]


def delete(node: Node) -> None:
    """Remove ``node`` (and what a group holds); Python objects of it raise ValueError from now on."""
    _require_main_thread("nuke.delete")
    if node._parent is not None and node in node._parent._children:
        node._parent._children.remove(node)
    for child in node._children if isinstance(node, Group) else []:
        child._deleted = True
    node._deleted = True


def execute(
    nameOrNode: str | Node,  # noqa: N803 (Nuke's own argument name)
    start: int | None = None,
    end: int | None = None,
    incr: int = 1,
    views=None,
    continueOnError: bool = False,  # noqa: N803
) -> None:
    """Render a Write node's frames ``start``..``end``; Cancel raises RuntimeError('Cancelled'). The
    ``addBeforeRender`` callbacks run first, ``nuke.thisNode()`` the Write: one that raises aborts the
    render (RuntimeError, its message)."""
    global _rendering
    _require_main_thread("nuke.execute")
    node = toNode(nameOrNode) if isinstance(nameOrNode, str) else nameOrNode
    if node is None:
        raise ValueError(f"{nameOrNode}: no such node")
    if not isinstance(node, Write):
        raise RuntimeError(f"{node.fullName()} cannot be executed")
    if node["disable"].value():
        raise RuntimeError(f"{node.fullName()}: node is disabled")
    first = root().firstFrame() if start is None else start
    last = root().lastFrame() if end is None else end
    _rendering += 1
    try:
        try:
            _callbacks(_before_render, node, None)
        except Exception as error:
            raise RuntimeError(str(error)) from error
        for done, frame in enumerate(range(first, last + 1, incr)):
            if execute_cancel_after is not None and done >= execute_cancel_after:
                raise RuntimeError("Cancelled")
            node._render(frame)
    finally:
        _rendering -= 1


# -- the artist's side: progress, messages, menus, threads ------------------------


class ProgressBar:
    """What the artist saw of one ProgressTask: its title, messages, percentages, and whether it
    closed (Nuke closes the bar when the task object is destroyed)."""

    def __init__(self, title: str):
        self.title = title
        self.progress: list[int] = []
        self.messages: list[str] = []
        self.closed = False


class ProgressTask:
    """A progress bar with a Cancel button, usable from any thread. ``cancel_when(bar)``: the artist
    presses Cancel; ``tasks``: the bars shown so far (a ProgressBar each, kept after they close)."""

    cancel_when: Callable[[ProgressBar], bool] | None = None
    tasks: list[ProgressBar] = []

    def __init__(self, title: str):
        self._bar = ProgressBar(title)
        ProgressTask.tasks.append(self._bar)

    def setMessage(self, message: str) -> None:
        self._bar.messages.append(message)

    def setProgress(self, percent: int) -> None:
        if not isinstance(percent, int):
            raise TypeError("setProgress takes an int percentage")
        self._bar.progress.append(percent)

    def isCancelled(self) -> bool:
        return bool(ProgressTask.cancel_when and ProgressTask.cancel_when(self._bar))

    def __del__(self) -> None:
        self._bar.closed = True


def message(prompt: str) -> None:
    """An alert dialog in the GUI; printed under ``nuke -t``."""
    _require_main_thread("nuke.message")
    messages.append(prompt)
    if not GUI:
        print(prompt)


_main_thread_calls: list[tuple] = []


def executeInMainThread(call: Callable, args=(), kwargs=None) -> None:
    """Queue ``call`` for Nuke's main thread and return at once (``run_main_thread`` is its event loop)."""
    with _lock:
        _main_thread_calls.append((call, args if isinstance(args, tuple) else (args,), kwargs or {}))


def run_main_thread() -> int:
    """Tests: the main thread's event loop takes its turn, running the queued calls; how many ran."""
    ran = 0
    while True:
        with _lock:
            if not _main_thread_calls:
                return ran
            call, args, kwargs = _main_thread_calls.pop(0)
        call(*args, **kwargs)
        ran += 1


class MenuItem:
    def __init__(self, name: str, command: str | Callable = "", icon: str = ""):
        self._name = name
        self.command = command
        self.icon = icon

    def name(self) -> str:
        return self._name

    def invoke(self):
        if callable(self.command):
            return self.command()
        exec(self.command, {"nuke": _module()})
        return None


class Menu(MenuItem):
    def __init__(self, name: str, icon: str = ""):
        super().__init__(name, "", icon)
        self._items: list[MenuItem] = []

    def items(self) -> list[MenuItem]:
        return list(self._items)

    def findItem(self, name: str) -> MenuItem | None:
        head, _, rest = name.partition("/")
        for item in self._items:
            if item.name() == head:
                if not rest:
                    return item
                return item.findItem(rest) if isinstance(item, Menu) else None
        return None

    def addMenu(self, name: str, icon: str = "", **kwargs) -> Menu:
        existing = self.findItem(name)
        if isinstance(existing, Menu):
            return existing
        menu = Menu(name, icon)
        self._items.append(menu)
        return menu

    def addCommand(
        self, name: str, command: str | Callable = "", shortcut: str = "", icon: str = "", **kwargs
    ) -> MenuItem:
        head, _, rest = name.rpartition("/")
        parent = self.addMenu(head) if head else self
        item = MenuItem(rest, command, icon)
        parent._items.append(item)
        return item


_menus: dict[str, Menu] = {}


def menu(name: str) -> Menu:
    """ "Nuke" (the menu bar), "Nodes" (the Nodes toolbar), "Pane", ..."""
    return _menus.setdefault(name, Menu(name))


def toolbar(name: str) -> Menu:
    return menu(name)


def addKnobChanged(call: Callable, args=(), kwargs=None, nodeClass: str = "*") -> None:  # noqa: N803
    """Call ``call(*args, **kwargs)`` when an artist changes a knob of a node of ``nodeClass`` in its
    panel (Nuke calls knobChanged for user interaction, not for a script's setValue), with
    ``nuke.thisNode()`` and ``nuke.thisKnob()`` the node and knob."""
    _knob_changed.append((call, tuple(args), dict(kwargs or {}), nodeClass))


def thisKnob() -> Knob | None:
    return _this_knob[-1] if _this_knob else None


def _callbacks(callbacks: list[tuple], node: Node, knob: Knob | None) -> None:
    """Run ``callbacks`` of ``node``'s class with ``nuke.thisNode()`` (and ``nuke.thisKnob()``) set."""
    _this_node.append(node)
    _this_knob.append(knob)
    try:
        for call, args, kwargs, node_class in list(callbacks):
            if node_class in ("*", node.Class()):
                call(*args, **kwargs)
    finally:
        _this_knob.pop()
        _this_node.pop()


def artist_sets(knob: Knob, value) -> None:
    """Tests: an artist edits ``knob`` in its node's panel: the value is set, then the knobChanged
    callbacks of its node's class run."""
    knob.setValue(value)
    _callbacks(_knob_changed, knob.node(), knob)


def artist_connects(node: Node, index: int, upstream: Node | None) -> None:
    """Tests: an artist drags input ``index`` of ``node`` onto ``upstream`` (None: disconnects it).
    Nuke then calls knobChanged on ``node`` with ``nuke.thisKnob()`` its ``inputChange`` knob."""
    node.setInput(index, upstream)
    knob = Knob("inputChange")
    knob._node = node
    _callbacks(_knob_changed, node, knob)


def addBeforeRender(call: Callable, args=(), kwargs=None, nodeClass: str = "Write") -> None:  # noqa: N802, N803
    """Call ``call(*args, **kwargs)`` before any render of a node of ``nodeClass`` starts (``execute``,
    ``nuke -x``; GUI and terminal alike), with ``nuke.thisNode()`` the node rendered. If it raises, the
    render aborts. A callback added again with the same arguments is kept once, as Nuke's are."""
    entry = (call, tuple(args), dict(kwargs or {}), nodeClass)
    if entry in _before_render:
        _before_render.remove(entry)
    _before_render.append(entry)


def addOnCreate(call: Callable, args=(), kwargs=None, nodeClass: str = "*") -> None:  # noqa: N802, N803
    """Call ``call(*args, **kwargs)`` whenever a node of ``nodeClass`` is created (made, pasted, or read
    from a script), with ``nuke.thisNode()`` the node, its knobs and (a group's) nodes already there."""
    _on_create.append((call, tuple(args), dict(kwargs or {}), nodeClass))


def _copy_of(node: Node, parent: Group) -> Node:
    """A copy of ``node`` (and of the nodes a group holds, connected as they are) in ``parent``, as a
    paste makes it from the .nk text a copy writes: every knob's value and expression."""
    import copy

    duplicate = type(node).__new__(type(node))
    duplicate._deleted = False
    duplicate._knobs = {}
    duplicate._inputs = list(node._inputs)
    duplicate._parent = parent
    duplicate._name = ""
    for name, knob in node._knobs.items():
        twin = copy.copy(knob)
        if isinstance(knob, Enumeration_Knob):
            twin._values = list(knob._values)
        twin._node = duplicate
        duplicate._knobs[name] = twin
    if isinstance(node, Group):
        duplicate._children = []
        twins = {id(child): _copy_of(child, duplicate) for child in node._children}
        for child in duplicate._children:
            child._inputs = [twins.get(id(upstream), upstream) for upstream in child._inputs]
    parent._children.append(duplicate)
    duplicate.setName(node._name, uncollide=True)
    return duplicate


def artist_pastes_a_copy(node: Node) -> Node:
    """Tests: an artist copies ``node`` (Ctrl+C) and pastes it (Ctrl+V), with nothing selected: the copy
    keeps every knob and, inside a group, every node and knob (a Read's file), and is connected to the
    original's inputs; then the onCreate callbacks run on it."""
    with _lock:
        duplicate = _copy_of(node, node._parent or _root_group)
    _callbacks(_on_create, duplicate, None)
    return duplicate


def reset() -> None:
    """Tests: a fresh session (empty script, no menus, no messages)."""
    global GUI, execute_cancel_after, _rendering
    GUI = False
    execute_cancel_after = None
    _rendering = 0
    messages.clear()
    _menus.clear()
    _knob_changed.clear()
    _on_create.clear()
    _before_render.clear()
    _main_thread_calls.clear()
    _CONTEXT.clear()
    _root_group._children.clear()
    ProgressTask.cancel_when = None
    ProgressTask.tasks.clear()
    settings = root()
    for knob in settings._default_knobs():  # a new script's Project Settings
        if knob.name() != "name":
            settings.addKnob(knob)
    settings._config_changed()
