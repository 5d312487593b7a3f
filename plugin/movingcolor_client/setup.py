"""``ShotSetup`` messages from keyword arguments that read like ``movingcolor fuse``'s options."""

from __future__ import annotations

import os
from pathlib import Path

from movingcolor.errors import MovingColorError
from movingcolor.frames.frame_range import FrameRange
from movingcolor.protocol.images import SAMPLE_TYPES
from movingcolor.v1 import fusion_pb2
from movingcolor.v1 import image_pb2 as pb


def grade_message(grade: str | os.PathLike) -> fusion_pb2.Grade:
    """Inline text and ``look:NAME`` go as text; an existing grade file goes as its bytes."""
    text = os.fspath(grade).strip()
    if "=" in text or text.startswith("look:"):
        return fusion_pb2.Grade(text=text)
    path_text, _, cccid = text.partition("#")
    path = Path(path_text).expanduser()
    if path.is_file():
        return fusion_pb2.Grade(file=path.read_bytes(), file_name=path.name, cccid=cccid)
    return fusion_pb2.Grade(text=text)  # a look name the server's config may know


def output_message(
    file_format: str | None = "exr", sample_type: str = "half", compression: str = "zip"
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
    handles: int = 0,
    engine: str = "guided",
    model: str | None = None,
    device: str = "auto",
    band: str | int = "12",
    config: str | None = None,
    plate_colorspace: str | None = None,
    graded_colorspace: str | None = None,
    grade_colorspace: str | None = None,
    out_colorspace: str | None = None,
    output: fusion_pb2.Output | None = None,
) -> fusion_pb2.ShotSetup:
    """A setup; exactly one of ``grade``, ``graded``, ``edited``."""
    if sum((grade is not None, graded, edited)) != 1:
        raise MovingColorError("give exactly one of grade (a grade to apply), graded or edited frames")
    if config and not config.startswith("ocio://"):
        raise MovingColorError(
            f"config {config!r}: a server takes a built-in config (ocio://default, "
            f"ocio://studio-config-latest) or its own ($OCIO on the server); leave it out or name one"
        )
    setup = fusion_pb2.ShotSetup(
        clip=clip,
        handles=handles,
        matte=fusion_pb2.MATTE_SOURCE_FRAMES if matte_frames else fusion_pb2.MATTE_SOURCE_PLATE_ALPHA,
        engine=engine,
        model=model or "",
        device=device or "auto",
        band=str(band),
        config=config or "",
        plate_colorspace=plate_colorspace or "",
        graded_colorspace=graded_colorspace or "",
        grade_colorspace=grade_colorspace or "",
        out_colorspace=out_colorspace or "",
        output=output or output_message(),
    )
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
