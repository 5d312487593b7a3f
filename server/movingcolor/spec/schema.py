"""A shot's settings: the one description every surface (command line, client, wire, hosts) uses.

Each ``Setting`` says what a setting is (type, default, help, fixed choices, check) and which
surfaces carry it, under which names. ``movingcolor fuse``'s options, the client's setup
building, the server's reading of the wire and the hosts' defaults are made from it, and
tests/test_schema.py fails when a surface misses a setting. A new setting is one entry here,
then whatever each surface that carries it needs to do with it.

Light on purpose (standard library only): the client and the host bridges import it.
"""

from __future__ import annotations

import dataclasses
import numbers
import operator
import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import MovingColorError

# The surfaces a setting can be carried by.
#: ``movingcolor fuse``'s options.
CLI = "cli"
#: ``Client.fuse_files``'s keyword arguments.
CLIENT = "client"
#: The ``ShotSetup`` message of FuseShot and FuseWindow (frames stream, so no paths).
SETUP = "setup"
#: The ``JobRequest`` message of RunJob (paths on shared storage).
JOB = "job"
#: ``movingcolor_hosts.FuseSettings``, what the Nuke and Resolve bridges fill.
HOSTS = "hosts"
#: The Nuke node's knobs.
NUKE = "nuke"
#: The OFX plugin's parameters (ofx_bridge/src/settings.hpp, ``param::``).
OFX = "ofx"
SURFACES = (CLI, CLIENT, SETUP, JOB, HOSTS, NUKE, OFX)

#: The edge band's width when none is given: pixels, as artists write it.
DEFAULT_BAND = "12"
#: The engine when none is given: steady and cheap on any machine.
DEFAULT_ENGINE = "guided"
#: The engines every server has, in the order hosts list them when no server answers.
BUILTIN_ENGINES = ("guided", "movingcolor", "feather", "hard")

#: What an inline grade starts with when it is a look of the OCIO config rather than parameters.
LOOK_PREFIX = "look:"


def grade_file_parts(text: str) -> tuple[str, str] | None:
    """The existing grade file ``text`` names and the id of a correction in it (``FILE.ccc#ID``;
    "" for none), or None when it names no file. The whole text first: a folder or file name may
    hold ``#`` or ``=`` (``reel #3/shot 010.cc``), which would otherwise read as an id or a CDL."""
    stripped = text.strip()
    if stripped and _is_file(stripped):
        return stripped, ""
    # The first ``#`` after which the text before it is a file: an id may hold ``#`` too (``sh#040``).
    at = stripped.find("#")
    while at > 0:
        if _is_file(stripped[:at]):
            return stripped[:at], stripped[at + 1 :]
        at = stripped.find("#", at + 1)
    return None


def _is_file(text: str) -> bool:
    try:
        return Path(text).expanduser().is_file()
    except (OSError, ValueError):  # a name too long for a file (a CDL at full precision), a NUL
        return False


def is_inline_grade(text: str) -> bool:
    """True for grade text that is the grade itself (CDL or parametric ``key=value``, or
    ``look:NAME``), False for what may be a file path or a bare look name."""
    return "=" in text or text.startswith(LOOK_PREFIX)


def _check_band(value: object) -> None:
    from .band_width import BandWidth  # numpy: only where a band is checked

    BandWidth.parse(value)  # raises BandSpecError naming the fix


def _check_not_negative(name: str) -> Callable[[object], None]:
    def check(value: object) -> None:
        if int(value) < 0:
            raise MovingColorError(f"{name} is {value}: give 0 or more")

    return check


@dataclass(frozen=True)
class Setting:
    """One shot setting, and where it travels.

    ``on`` maps each surface that carries the setting to the names it has there (its own name
    unless renamed: the Nuke knob ``cdl`` carries ``grade``, the ShotSetup field ``render``
    carries ``frames``). A surface missing from ``on`` deliberately leaves the setting out;
    ``absent`` says why, for each, so the reason is read where the choice is made.
    """

    name: str
    type: type
    default: object
    help: str
    on: Mapping[str, tuple[str, ...]]
    absent: Mapping[str, str] = field(default_factory=dict)
    #: Values the setting takes; ``strict``: nothing else is accepted (else they are the usual ones).
    choices: tuple[str, ...] = ()
    strict: bool = True
    required: bool = False
    #: One of a group of which exactly one is given (the grade's source).
    exclusive: str = ""
    check: Callable[[object], None] | None = None

    @property
    def option(self) -> str:
        """The command-line option: ``--plate-colorspace``."""
        return "--" + self.name.replace("_", "-")

    def names_on(self, surface: str) -> tuple[str, ...]:
        """The names that carry this setting on ``surface``; empty when it is not carried there."""
        return self.on.get(surface, ())

    def validate(self, value: object) -> None:
        """Raise MovingColorError when ``value`` cannot work; None and the default always pass."""
        if value is None or value == self.default:
            return
        if self.choices and self.strict and value not in self.choices:
            raise MovingColorError(
                f"{self.name} {value!r} is not known: use one of {', '.join(self.choices)}"
            )
        if self.check:
            self.check(value)


def _on(*surfaces: str, **renamed: str | tuple[str, ...]) -> dict[str, tuple[str, ...]]:
    """Surfaces that carry a setting under its own name, and those that rename it."""
    names: dict[str, tuple[str, ...]] = {surface: () for surface in surfaces}
    for surface, name in renamed.items():
        names[surface] = (name,) if isinstance(name, str) else tuple(name)
    return names


def _named(settings: tuple[Setting, ...]) -> dict[str, Setting]:
    named = {}
    for setting in settings:
        # An empty tuple means "its own name": filled here so readers never special-case it.
        on = {surface: names or (setting.name,) for surface, names in setting.on.items()}
        named[setting.name] = dataclasses.replace(setting, on=on)
    return named


_STREAMED = "the frames travel on the stream; no path crosses the wire"
_HOST_RENDERS = "the host renders its inputs itself and connects them as inputs or clips"
_HOST_COLORSPACE = "one working-space setting (colorspace) stands for the plate, graded and output spaces"
_ALL_COLORSPACES = "the host's working space (colorspace) stands for every colourspace"
_NO_SERVER_CONFIG = "hosts use the server's config"
_SERVER_DEVICE = "the server's --device decides"

#: Every shot setting, in the order ``movingcolor fuse --help`` lists them.
SETTINGS: dict[str, Setting] = _named(
    (
        Setting(
            "plate",
            str,
            None,
            "plate: shot.####.exr, shot.%04d.exr, a folder or a video",
            _on(CLI, CLIENT, JOB),
            {SETUP: _STREAMED, HOSTS: _HOST_RENDERS, NUKE: _HOST_RENDERS, OFX: _HOST_RENDERS},
            required=True,
        ),
        Setting(
            "matte",
            str,
            "alpha",
            "matte: a sequence, folder, still or video; 'alpha' uses the plate's alpha",
            _on(CLI, CLIENT, JOB, SETUP, nuke=("matte_channel",)),
            {HOSTS: _HOST_RENDERS, OFX: "the Matte clip, or the Source clip's alpha"},
        ),
        Setting(
            "grade",
            str,
            None,
            "grade to apply: CDL 'slope=..;offset=..;power=..;sat=..', a .cc/.ccc/.cdl (FILE.ccc#ID: one "
            "correction of a collection), a LUT "
            "file (.cube, .clf, .ctf, .3dl, ...), look:NAME, or 'exposure=..;saturation=..' "
            "(brightness, contrast, exposure, gamma, hue, saturation, vibrance, warmth)",
            _on(
                CLI,
                CLIENT,
                SETUP,
                JOB,
                HOSTS,
                nuke=("grade_source", "cdl", "grade_file", "look"),
                ofx=("slope", "offset", "power", "saturation"),
            ),
            exclusive="source",
        ),
        Setting(
            "graded",
            str,
            None,
            "the whole plate already graded (composited through the matte here)",
            _on(CLI, CLIENT, SETUP, JOB, hosts=("use_graded",), nuke=("grade_source",)),
            {OFX: "the Graded clip"},
            exclusive="source",
        ),
        Setting(
            "edited",
            str,
            None,
            "the host's composite through the matte (e.g. a Resolve qualifier)",
            _on(CLI, CLIENT, SETUP, JOB),
            {
                HOSTS: "Nuke and Resolve grade in the host and send the grade or the graded plate",
                NUKE: "the node sends a grade or the graded plate",
                OFX: "the plugin sends its CDL or the Graded clip",
            },
            exclusive="source",
        ),
        Setting(
            "engine",
            str,
            DEFAULT_ENGINE,
            "fusion engine",
            _on(CLI, CLIENT, SETUP, JOB, HOSTS, NUKE, OFX),
            choices=BUILTIN_ENGINES,
            strict=False,  # servers may have more (engine plug-ins); Info.engines lists them
        ),
        Setting(
            "model",
            str,
            None,
            "movingcolor engine: an installed model (movingcolor info lists them) or a model folder "
            "(default: the installed default)",
            _on(CLI, CLIENT, SETUP, JOB, HOSTS, NUKE),
            {OFX: "the plugin runs the server's default model"},
        ),
        Setting(
            "device",
            str,
            "auto",
            "where the engine computes: auto (the GPU when present), cpu or cuda; hard has no use for it",
            _on(CLI, CLIENT, SETUP, JOB),
            {
                HOSTS: "the server's --device decides",
                NUKE: "the server's --device decides",
                OFX: "the server's --device decides",
            },
            choices=("auto", "cpu", "cuda"),
            strict=False,  # cuda:N names one GPU of several
        ),
        Setting(
            "out",
            str,
            None,
            "output: out/shot.####.exr (or .png/.tif), or a folder (one that holds other frames gets "
            "a fused/ subfolder)",
            _on(CLI, CLIENT, JOB, HOSTS, NUKE),
            {SETUP: "fused frames come back on the stream", OFX: "the host writes the output clip"},
            required=True,
        ),
        Setting(
            "frames",
            str,
            None,
            "frame range FIRST-LAST, e.g. 1001-1100 (default: all)",
            _on(CLI, CLIENT, JOB, setup=("render",), nuke=("first", "last")),
            {HOSTS: "the bridges pass the range they render", OFX: "the host renders one frame at a time"},
        ),
        Setting(
            "handles",
            int,
            0,
            "extra frames each side of --frames",
            _on(CLI, CLIENT, SETUP, JOB, HOSTS, NUKE, ofx=("windowRadius",)),
            check=_check_not_negative("handles"),
        ),
        Setting(
            "band",
            str,
            DEFAULT_BAND,
            "edge band width: pixels (12 or 12px) or % of object size (10%)",
            _on(CLI, CLIENT, SETUP, JOB, HOSTS, NUKE, ofx=("bandWidth", "bandUnit")),
            check=_check_band,
        ),
        Setting(
            "config",
            str,
            None,
            "OpenColorIO config (default: $OCIO, else ocio://default)",
            _on(CLI, CLIENT, SETUP, JOB, HOSTS),
            {
                NUKE: "the node names it from the script's colour management, no knob",
                OFX: _NO_SERVER_CONFIG,
            },
        ),
        Setting(
            "plate_colorspace",
            str,
            None,
            "plate colourspace (default: file header, else by type)",
            _on(CLI, CLIENT, SETUP, JOB, hosts=("colorspace",), nuke=("colorspace",), ofx=("colorspace",)),
        ),
        Setting(
            "graded_colorspace",
            str,
            None,
            "colourspace of --graded/--edited (default: its file header, else the plate's where both "
            "are float or both integer, else by type)",
            _on(CLI, CLIENT, SETUP, JOB, hosts=("colorspace",), nuke=("colorspace",), ofx=("colorspace",)),
        ),
        Setting(
            "grade_colorspace",
            str,
            None,
            "colourspace CDLs and LUTs apply in (default: the plate's)",
            _on(CLI, CLIENT, SETUP, JOB),
            {HOSTS: _ALL_COLORSPACES, NUKE: _ALL_COLORSPACES, OFX: _ALL_COLORSPACES},
        ),
        Setting(
            "out_colorspace",
            str,
            None,
            "output colourspace (default: the config's scene_linear for EXR, the plate's encoding for "
            "PNG/TIFF)",
            _on(CLI, CLIENT, SETUP, JOB, hosts=("colorspace",), nuke=("colorspace",), ofx=("colorspace",)),
        ),
        Setting(
            "exr_type",
            str,
            "half",
            "EXR pixel type",
            _on(CLI, CLIENT, JOB, setup=("output",)),
            {HOSTS: "hosts write half EXRs", NUKE: "the node writes half EXRs", OFX: "the host's image"},
            choices=("float", "half"),
        ),
        Setting(
            "compression",
            str,
            "zip",
            "EXR compression",
            _on(CLI, CLIENT, JOB, setup=("output",)),
            {HOSTS: "hosts write zip EXRs", NUKE: "the node writes zip EXRs", OFX: "the host's image"},
            choices=("zip", "zips", "piz", "pxr24", "b44", "b44a", "dwaa", "dwab", "rle", "none"),
        ),
        Setting(
            "force",
            bool,
            False,
            "redo frames already written for the same inputs and settings, and replace what is at the "
            "output's names that MovingColor did not write or fused from another plate",
            _on(CLI, CLIENT),
            {
                SETUP: "a streamed shot writes nothing on the server; the client keeps or redoes frames",
                JOB: "a file job always writes every frame",
                HOSTS: "the bridges always fuse anew",
                NUKE: "the node always fuses anew",
                OFX: "the host renders anew",
            },
        ),
    )
)


def default(name: str) -> object:
    """The default of setting ``name`` (KeyError for a name that is no setting)."""
    return SETTINGS[name].default


def carried_by(surface: str) -> Iterator[Setting]:
    """The settings ``surface`` carries, in schema order."""
    return (setting for setting in SETTINGS.values() if surface in setting.on)


def unknown_settings(names: object, surface: str) -> list[str]:
    """The names among ``names`` that ``surface`` does not carry as settings."""
    known = {setting.name for setting in carried_by(surface)}
    return sorted(set(names) - known)


#: The largest count a whole-number setting holds (a ShotSetup's uint32).
LARGEST_COUNT = 2**32 - 1


def setting_value(name: str, value, caller: str, largest: int | None = LARGEST_COUNT):
    """A shot setting as every surface takes it (``band=12``, a path, a numpy integer, ``frames=1001``);
    MovingColorError naming ``caller``'s setting where it is no such value (protobuf raised a bare
    ValueError for ``handles=-1`` and cut ``handles=2.5`` to 2; a ShotSpec's ``frames=1001`` failed
    deep in the run with a TypeError). ``largest``: the most a whole number may be (a message's
    field holds a uint32; in process, None: a huge ``handles`` is cut to what the sources hold)."""
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    wanted = SETTINGS[name].type if name in SETTINGS else str
    if wanted is bool:
        if isinstance(value, bool):
            return value
        raise MovingColorError(f"{caller} {name}={value!r}: give True or False")
    if wanted is int:
        number = None
        if isinstance(value, numbers.Integral) and not isinstance(value, bool):
            number = operator.index(value)
        elif isinstance(value, str) and value.strip().isascii() and value.strip().isdecimal():
            number = int(value)
        if number is None or number < 0:
            raise MovingColorError(f"{caller} {name}={value!r}: give a whole number of 0 or more")
        if largest is not None and number > largest:
            raise MovingColorError(f"{caller} {name}={value!r}: give a whole number from 0 to {largest}")
        return number
    if isinstance(value, (str, numbers.Real)) and not isinstance(value, bool):
        return str(value)
    raise MovingColorError(f"{caller} {name}={value!r}: give text (or a path)")


def _require_schema(cls: type) -> type:
    """Check at import that a dataclass has a field per setting, with the setting's default."""
    fields = {item.name: item for item in dataclasses.fields(cls)}
    if set(fields) != set(SETTINGS):
        raise TypeError(
            f"{cls.__name__} and the shot settings schema differ: "
            f"{sorted(set(fields) ^ set(SETTINGS))}; add the setting to both"
        )
    for name, setting in SETTINGS.items():
        has_default = fields[name].default is not dataclasses.MISSING
        if has_default == setting.required or (has_default and fields[name].default != setting.default):
            raise TypeError(f"{cls.__name__}.{name}'s default differs from the schema's {setting.default!r}")
    return cls


@_require_schema
@dataclass
class ShotSpec:
    """Everything that defines a shot's fusion; the command line fills one of these.

    One field per ``SETTINGS`` entry, with its default (checked when this module loads)."""

    plate: str
    out: str
    matte: str = default("matte")  # a source, or "alpha" for the plate's own alpha channel
    grade: str | None = None
    graded: str | None = None
    edited: str | None = None
    engine: str = default("engine")
    model: str | None = None  # movingcolor engine: installed model name or model folder
    device: str = default("device")  # auto, cpu or cuda (feather, guided, movingcolor)
    frames: str | None = None
    handles: int = default("handles")
    band: str = default("band")
    config: str | None = None
    plate_colorspace: str | None = None
    graded_colorspace: str | None = None
    grade_colorspace: str | None = None
    out_colorspace: str | None = None
    exr_type: str = default("exr_type")
    compression: str = default("compression")
    force: bool = default("force")  # redo frames already written for the same inputs and settings

    def __post_init__(self) -> None:
        # What the client takes, the in-process API takes (a path, band=12, frames=1001), and
        # anything else is refused naming the setting: a None plate or an int frames failed deep in
        # the run, after the sources were opened, with a TypeError or an AttributeError.
        for name, setting in SETTINGS.items():
            value = getattr(self, name)
            if value is None:
                if setting.required:
                    raise MovingColorError(f"ShotSpec {name}=None: the {name} setting is required")
                continue
            setattr(self, name, setting_value(name, value, "ShotSpec", largest=None))
