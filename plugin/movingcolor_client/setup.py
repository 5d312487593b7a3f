"""``ShotSetup`` messages from keyword arguments that read like ``movingcolor fuse``'s options."""

from __future__ import annotations

import os
from pathlib import Path

from movingcolor.errors import MovingColorError
from movingcolor.frames.frame_range import FrameRange
from movingcolor.protocol.images import SAMPLE_TYPES
from movingcolor.spec.schema import (
    LOOK_PREFIX,
    SETUP,
    carried_by,
    default,
    grade_file_parts,
    setting_value,
)
from movingcolor.v1 import fusion_pb2
from movingcolor.v1 import image_pb2 as pb


def grade_message(grade: str | os.PathLike) -> fusion_pb2.Grade:
    """Inline text and ``look:NAME`` go as text; an existing grade file goes as its bytes."""
    text = os.fspath(grade).strip()
    named = grade_file_parts(text)
    if named is not None:
        path = Path(named[0]).expanduser()
        return fusion_pb2.Grade(file=path.read_bytes(), file_name=path.name, cccid=named[1])
    if not text.startswith(LOOK_PREFIX) and names_a_file(text):
        # Sent as text it would be taken for a look's name ("not in the config; it has: ...").
        raise MovingColorError(f"grade {text!r}: no such file; check the path (or write look:NAME)")
    # Inline text, or a look name the server's config may know.
    return fusion_pb2.Grade(text=text)


#: Extensions of the files OpenColorIO's FileTransform reads (a name ending so is a file's, not a
#: look's).
_GRADE_FILE_SUFFIXES = (
    ".3dl", ".cc", ".ccc", ".cdl", ".clf", ".csp", ".ctf", ".cub", ".cube", ".hdl", ".icc", ".icm",
    ".itx", ".look", ".lut", ".m3d", ".mga", ".pf", ".spi1d", ".spi3d", ".spimtx", ".vf",
)  # fmt: skip


def names_a_file(text: str) -> bool:
    """Whether ``text`` reads as a grade file's path (``#ID`` aside): a grade file's extension, or an
    absolute path; not a look's name (``Film/Print``) nor adjustments (``slope=1.2``)."""
    name = text.split("#", 1)[0].strip()
    absolute = name.startswith(("/", "~", "\\")) or (len(name) > 2 and name[1] == ":" and name[2] in "/\\")
    return absolute or name.lower().endswith(_GRADE_FILE_SUFFIXES)


#: Settings a ShotSetup carries in a field of their own name: ``shot_setup``'s ``settings``.
SETUP_SETTINGS = tuple(
    setting.name
    for setting in carried_by(SETUP)
    if setting.names_on(SETUP) == (setting.name,) and not setting.exclusive and setting.name != "matte"
)


def output_message(
    file_format: str | None = "exr",
    sample_type: str = default("exr_type"),
    compression: str = default("compression"),
) -> fusion_pb2.Output:
    """File bytes of ``file_format`` (exr, png, tif), or raw samples when ``file_format`` is None."""
    if sample_type not in SAMPLE_TYPES:
        raise MovingColorError(f"pixel type {sample_type!r} unknown: use half or float")
    if file_format is None:
        return fusion_pb2.Output(encoding=pb.ENCODING_RAW, sample_type=SAMPLE_TYPES[sample_type])
    return fusion_pb2.Output(
        encoding=pb.ENCODING_FILE,
        format=file_format.lower().lstrip("."),
        sample_type=SAMPLE_TYPES[sample_type],
        compression=compression,
    )


def shot_setup(
    *,
    clip: list[int],
    grade: str | os.PathLike | None = None,
    graded: bool = False,
    edited: bool = False,
    matte_frames: bool = True,
    frames: str | None = None,
    output: fusion_pb2.Output | None = None,
    plate: str = "",
    **settings,
) -> fusion_pb2.ShotSetup:
    """A setup; exactly one of ``grade``, ``graded``, ``edited``. ``settings``: any of
    ``SETUP_SETTINGS`` (handles, engine, model, device, band, config, the colourspaces) as
    ``movingcolor fuse`` takes them; one left out or None is the schema's default. ``plate``: where
    the plate's files live, recorded in the fused frames' headers (files only; never opened there)."""
    if sum((grade is not None, graded, edited)) != 1:
        raise MovingColorError("give exactly one of grade (a grade to apply), graded or edited frames")
    unknown = sorted(set(settings) - set(SETUP_SETTINGS))
    if unknown:
        raise MovingColorError(
            f"{', '.join(unknown)}: not a shot setting this call takes; use {', '.join(SETUP_SETTINGS)}"
        )
    config = settings.get("config")
    if config and not config.startswith("ocio://"):
        raise MovingColorError(
            f"config {config!r}: a server takes a built-in config (ocio://default, "
            f"ocio://studio-config-latest) or its own ($OCIO on the server); leave it out or name one"
        )
    setup = fusion_pb2.ShotSetup(
        clip=clip,
        matte=fusion_pb2.MATTE_SOURCE_FRAMES if matte_frames else fusion_pb2.MATTE_SOURCE_PLATE_ALPHA,
        output=output or output_message(),
        plate=plate,
    )
    for name in SETUP_SETTINGS:
        value = settings.get(name)
        value = default(name) if value is None else value
        if value is not None:
            setattr(setup, name, setting_value(name, value, "shot setting"))
    if frames is not None:
        frames = setting_value("frames", frames, "shot setting")  # frames=1001, as a ShotSpec takes it
    if frames:
        wanted = FrameRange.parse(frames)
        setup.render.CopyFrom(pb.FrameRange(first=wanted.first, last=wanted.last))
    if grade is not None:
        setup.grade.CopyFrom(grade_message(grade))
    elif graded:
        setup.graded = True
    else:
        setup.edited = True
    return setup


def roles_of(setup: fusion_pb2.ShotSetup) -> tuple[str, ...]:
    """The roles each frame of ``setup`` brings, in the order they are sent."""
    mode = setup.WhichOneof("source")
    matte = ("matte",) if setup.matte == fusion_pb2.MATTE_SOURCE_FRAMES else ()
    return ("plate", *matte) + ((mode,) if mode in ("graded", "edited") else ())
