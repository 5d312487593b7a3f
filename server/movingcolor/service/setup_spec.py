"""The wire's shot settings (a FuseShot/FuseWindow setup, a RunJob request) turned into a ``ShotSpec``."""

from __future__ import annotations

from pathlib import Path

from ..errors import GradeError, MovingColorError
from ..spec import ShotSpec
from ..v1 import fusion_pb2
from ..v1 import image_pb2 as pb
from .plan import OutputSettings, output_settings
from .roots import inside_roots


def _setup_grade(grade: fusion_pb2.Grade, folder: Path) -> str:
    """The ``--grade`` text for a streamed grade; a file's bytes go to the job's folder."""
    if grade.file:
        name = Path(grade.file_name).name
        if not Path(name).suffix:
            raise GradeError(
                f"grade file name {grade.file_name!r} has no extension; send the file's name "
                f"(e.g. look.cube, shot.clf) so its format is known"
            )
        path = folder / name
        path.write_bytes(grade.file)
        return str(path) + (f"#{grade.cccid}" if grade.cccid else "")
    text = grade.text.strip()
    if not text:
        raise GradeError("the setup's grade is empty; give inline text (a CDL, look:NAME) or a grade file")
    if "=" in text or text.startswith("look:"):
        return text
    # Never a path on the server's disk: a bare name can only be a look of the config.
    return f"look:{text}"


def shot_spec(setup: fusion_pb2.ShotSetup, folder: Path) -> tuple[ShotSpec, tuple[str, ...], OutputSettings]:
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
    output = output_settings(setup)
    matte_frames = setup.matte == fusion_pb2.MATTE_SOURCE_FRAMES
    roles = ("plate",) + (("matte",) if matte_frames else ()) + ((mode,) if mode != "grade" else ())
    spec = ShotSpec(
        plate="streamed plate",
        out="",
        matte="streamed matte" if matte_frames else "alpha",
        grade=_setup_grade(setup.grade, folder) if mode == "grade" else None,
        graded="streamed graded" if mode == "graded" else None,
        edited="streamed edited" if mode == "edited" else None,
        frames=f"{setup.render.first}-{setup.render.last}" if setup.HasField("render") else None,
        handles=setup.handles,
        engine=setup.engine or "guided",
        model=setup.model or None,
        device=setup.device or "auto",
        band=setup.band or "12",
        config=config or None,
        plate_colorspace=setup.plate_colorspace or None,
        graded_colorspace=setup.graded_colorspace or None,
        grade_colorspace=setup.grade_colorspace or None,
        out_colorspace=setup.out_colorspace or None,
        exr_type="float" if output.sample_type == pb.SAMPLE_TYPE_FLOAT else "half",
        compression=output.compression or "zip",
    )
    return spec, roles, output


def _job_grade(text: str, roots) -> str | None:
    """Inline grades and looks pass; a grade file must be an absolute path inside the roots."""
    if not text or "=" in text or text.startswith("look:"):
        return text or None
    path = text.partition("#")[0]
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
    matte = request.matte or "alpha"
    for what, value in (
        ("plate", request.plate),
        ("matte", "" if matte == "alpha" else matte),
        ("graded", request.graded),
        ("edited", request.edited),
        ("out", request.out),
        ("config", "" if request.config.startswith("ocio://") else request.config),
    ):
        if value:
            inside_roots(value, what, roots)
    # The model is checked where it is resolved (EnginePool.model_folder): an installed name, or a
    # folder inside the roots.
    model = request.model or None
    return ShotSpec(
        plate=request.plate,
        out=request.out,
        matte=matte,
        grade=_job_grade(request.grade, roots),
        graded=request.graded or None,
        edited=request.edited or None,
        engine=request.engine or "guided",
        model=model,
        device=request.device or "auto",
        frames=request.frames or None,
        handles=request.handles,
        band=request.band or "12",
        config=request.config or None,
        plate_colorspace=request.plate_colorspace or None,
        graded_colorspace=request.graded_colorspace or None,
        grade_colorspace=request.grade_colorspace or None,
        out_colorspace=request.out_colorspace or None,
        exr_type=request.exr_type or "half",
        compression=request.compression or "zip",
    )
