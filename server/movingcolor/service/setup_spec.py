"""The wire's shot settings (a FuseShot/FuseWindow setup, a RunJob request) turned into a ``ShotSpec``."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ..color.confined_files import private_folder, write_once
from ..errors import GradeError, MovingColorError
from ..spec import ShotSpec
from ..spec.grade_text import say_what_is_wrong, written_out
from ..spec.schema import JOB, LOOK_PREFIX, SETUP, carried_by, default, grade_file_parts, is_inline_grade
from ..v1 import fusion_pb2
from ..v1 import image_pb2 as pb
from .plan import OutputSettings, output_settings
from .roots import config_inside_roots, inside_roots

#: Settings each message carries under their own name, read the same way: an empty field is the
#: schema's default. The rest are read apart, below.
_SETUP_PLAIN = tuple(
    setting.name
    for setting in carried_by(SETUP)
    if setting.names_on(SETUP) == (setting.name,)
    and setting.name not in ("matte", "grade", "graded", "edited", "config")
)
_JOB_PLAIN = tuple(
    setting.name for setting in carried_by(JOB) if setting.name not in ("plate", "out", "matte", "grade")
)


def _plain_values(message, names: tuple[str, ...]) -> dict:
    return {name: getattr(message, name) or default(name) for name in names}


def _setup_grade(grade: fusion_pb2.Grade, folder: Path | None) -> str:
    """The ``--grade`` text for a streamed grade; a file's bytes go to ``folder``."""
    if grade.file:
        if folder is None:
            raise RuntimeError("a grade file arrived but no folder was made for it")
        name = Path(grade.file_name).name
        if "\0" in name or len(name.encode()) > 200:
            raise GradeError(
                f"grade file name {grade.file_name[:80]!r} is not a file name (a NUL, or over 200 "
                f"bytes); send the file's own name, e.g. look.cube"
            )
        if not Path(name).suffix:
            raise GradeError(
                f"grade file name {grade.file_name!r} has no extension; send the file's name "
                f"(e.g. look.cube, shot.clf) so its format is known"
            )
        path = write_once(folder, name, grade.file)
        return str(path) + (f"#{grade.cccid}" if grade.cccid else "")
    text = grade.text.strip()
    if not text:
        raise GradeError("the setup's grade is empty; give inline text (a CDL, look:NAME) or a grade file")
    # Never a path on the server's disk: a grade written out, a look, or a bare name, which can only
    # be a look of the config. Text that names a file (``/etc/x#a=b``) would be opened, and its
    # lines quoted back in OpenColorIO's error.
    if text.startswith(LOOK_PREFIX) or written_out(text):
        return text
    if is_inline_grade(text):
        say_what_is_wrong(text)
        raise GradeError(
            f"the setup's grade {text[:80]!r} is neither key=numbers (slope=..;offset=..;power=..;sat=.., "
            f"exposure=..) nor look:NAME; a grade file is sent as its bytes (Grade.file)"
        )
    return f"look:{text}"


@contextmanager
def setup_settings(setup: fusion_pb2.ShotSetup) -> Iterator[tuple[ShotSpec, tuple[str, ...], OutputSettings]]:
    """:func:`shot_spec` for the life of the block. A grade file sent as bytes is the one thing of a
    streamed shot the server writes: OpenColorIO reads LUTs by file name. It lives in the process's
    private folder of grade files, one path for one content: OpenColorIO keeps every file it reads by
    its path for good, and a folder of each call's own grew a scrubbing server by a LUT a frame. Every
    frame stays in memory."""
    if setup.WhichOneof("source") == "grade" and setup.grade.file:
        folder = str(private_folder(setup.grade.file))
        try:
            yield shot_spec(setup, Path(folder))
        except MovingColorError as error:
            # The client knows its file by its name: the server's private folder (its temporary
            # folder, process and host) is none of its business.
            text = str(error)
            if folder not in text:
                raise
            raise type(error)(text.replace(f"{folder}{os.sep}", "")) from None
    else:
        yield shot_spec(setup, None)


def shot_spec(
    setup: fusion_pb2.ShotSetup, folder: Path | None
) -> tuple[ShotSpec, tuple[str, ...], OutputSettings]:
    """The ``ShotSpec`` a setup describes, the roles each frame brings, and the output settings."""
    mode = setup.WhichOneof("source")
    if mode is None or (mode != "grade" and not getattr(setup, mode)):
        raise MovingColorError(
            "the setup needs exactly one of grade (a grade to apply), graded (graded plates follow) "
            "or edited (the host's composites follow)"
        )
    config = setup.config.strip()
    if config and not config.startswith("ocio://"):
        raise MovingColorError(
            f"config {config!r}: over the network name a built-in config (ocio://default, "
            f"ocio://studio-config-latest) or leave it empty for the server's config; RunJob takes "
            f"a config file on shared storage"
        )
    if len(setup.plate) > 4096 or not setup.plate.isprintable():
        raise MovingColorError(
            "the setup's plate is not a name its frames' headers can record (over 4096 characters, or "
            "control characters): send the plate's path as the client reads it, or leave it empty"
        )
    if setup.matte not in fusion_pb2.MatteSource.values():
        # A client newer than this server: its matte source taken for the plate's alpha fused a shot
        # through a matte nobody gave.
        raise MovingColorError(
            f"the setup's matte source {setup.matte} is not known to this server (MatteSource: "
            f"{', '.join(fusion_pb2.MatteSource.keys())}); update the server, or send the matte frames"
        )
    output = output_settings(setup)
    matte_frames = setup.matte == fusion_pb2.MATTE_SOURCE_FRAMES
    roles = ("plate",) + (("matte",) if matte_frames else ()) + ((mode,) if mode != "grade" else ())
    spec = ShotSpec(
        plate="streamed plate",
        out="",
        matte="streamed matte" if matte_frames else default("matte"),
        grade=_setup_grade(setup.grade, folder) if mode == "grade" else None,
        graded="streamed graded" if mode == "graded" else None,
        edited="streamed edited" if mode == "edited" else None,
        frames=f"{setup.render.first}-{setup.render.last}" if setup.HasField("render") else None,
        config=config or default("config"),
        exr_type="float" if output.sample_type == pb.SAMPLE_TYPE_FLOAT else default("exr_type"),
        compression=output.compression or default("compression"),
        **_plain_values(setup, _SETUP_PLAIN),
    )
    return spec, roles, output


def _job_grade(text: str, roots) -> str | None:
    """Inline grades and looks pass; a grade file must be an absolute path inside the roots."""
    named = grade_file_parts(text) if text else None
    if named is None and (not text or is_inline_grade(text)):
        return text or None
    path = named[0] if named is not None else text.partition("#")[0]
    if Path(path).is_absolute():
        inside_roots(path, "grade file", roots)
        return text
    if "/" in path or Path(path).suffix:
        raise MovingColorError(
            f"grade file {text!r} is a relative path; give its absolute path on the shared storage"
        )
    return f"look:{text}"


def job_spec(request: fusion_pb2.JobRequest, roots) -> ShotSpec:
    """The ``ShotSpec`` of a RunJob request, every path checked against the roots."""
    if not request.plate or not request.out:
        raise MovingColorError("a file job needs plate and out paths")
    matte = request.matte or default("matte")
    for what, value in (
        ("plate", request.plate),
        ("matte", "" if matte == default("matte") else matte),
        ("graded", request.graded),
        ("edited", request.edited),
        ("out", request.out),
        ("config", "" if request.config.startswith("ocio://") else request.config),
    ):
        if value:
            inside_roots(value, what, roots)
    if request.config and not request.config.startswith("ocio://"):
        config_inside_roots(request.config, roots)
    # The model is checked where it is resolved (EnginePool.model_folder): an installed name, or a
    # folder inside the roots.
    return ShotSpec(
        plate=request.plate,
        out=request.out,
        matte=matte,
        grade=_job_grade(request.grade, roots),
        **_plain_values(request, _JOB_PLAIN),
    )
