"""RunJob: a shot named by paths on shared storage, run by ``run_shot`` on the server, with progress.

The server reads and writes only inside its root folders. Frames are written by
``run_shot``, each atomically; a cancelled job stops at the next frame or window.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from pathlib import Path

from ..errors import MovingColorError
from ..frames.confine import confined
from ..frames.sequence import SequencePattern, is_sequence_pattern, pattern_from_folder
from ..jobs import ShotReport, ShotSpec, run_shot
from ..jobs.output import output_pattern
from ..v1 import fusion_pb2
from .jobs import Job
from .logs import event
from .roots import inside_roots
from .scheduler import ScheduledEngine
from .state import ServerState

_POLL_SECONDS = 0.2


def _grade(text: str, roots) -> str | None:
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
        grade=_grade(request.grade, roots),
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


def _output_path(spec: ShotSpec):
    """Where frame ``n`` goes, as ``run_shot`` names it (a folder output takes the plate's prefix)."""
    plate = Path(spec.plate)
    if is_sequence_pattern(spec.plate):
        prefix = SequencePattern.parse(plate).prefix
    elif plate.is_dir():
        prefix = pattern_from_folder(plate).prefix
    else:
        prefix = ""
    return output_pattern(spec.out, prefix).path


def run_job(state: ServerState, job: Job, request: fusion_pb2.JobRequest) -> Iterator[fusion_pb2.JobProgress]:
    roots = state.settings.roots
    spec = job_spec(request, roots)
    engine, device = state.engines.engine_for(spec.engine, request.model, request.device, roots=roots)
    path_of = _output_path(spec)
    events: queue.Queue = queue.Queue()

    def progress(done: int, total: int, frame: int) -> None:
        events.put(fusion_pb2.FrameWritten(frame=frame, done=done, total=total, path=str(path_of(frame))))
        job.check()

    def work() -> None:
        try:
            # Every file the shot opens is checked as it is opened, not only the names checked above:
            # a frame linked outside the roots, or an output folder swapped for a link, is refused.
            with confined(roots):
                events.put(run_shot(spec, progress, ScheduledEngine(engine, state.scheduler, device, job)))
        except BaseException as error:  # handed to the call's thread, which reports it
            events.put(error)

    event("job.accepted", job=job.id, engine=engine.name, device=device, plate=spec.plate, out=spec.out)
    yield fusion_pb2.JobProgress(accepted=fusion_pb2.JobAccepted(job_id=job.id))
    worker = threading.Thread(target=work, name=f"job-{job.id}", daemon=True)
    worker.start()
    while True:
        try:
            item = events.get(timeout=_POLL_SECONDS)
        except queue.Empty:
            continue
        if isinstance(item, fusion_pb2.FrameWritten):
            yield fusion_pb2.JobProgress(frame=item)
        elif isinstance(item, ShotReport):
            yield fusion_pb2.JobProgress(done=fusion_pb2.JobDone(summary=_summary(item)))
            return
        else:
            raise item


def _summary(report: ShotReport) -> fusion_pb2.ShotSummary:
    return fusion_pb2.ShotSummary(
        frames=report.frames,
        engine=report.engine,
        model=report.model,
        band=report.band,
        colorspaces=report.colorspaces,
        grade=report.grade,
        config=report.config,
        seconds=report.seconds,
        written=report.written,
        frame_count=len(report.written),
    )
