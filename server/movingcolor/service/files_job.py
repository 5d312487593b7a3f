"""RunJob: a shot named by paths on shared storage, run by ``run_shot`` on the server, with progress.

The server reads and writes only inside its root folders. Frames are written by
``run_shot``, each atomically; a cancelled job stops at the next frame or window.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from pathlib import Path

from ..frames.confine import confined
from ..frames.sequence import SequencePattern, is_sequence_pattern, pattern_from_folder
from ..jobs import ShotReport, ShotSpec, run_shot
from ..jobs.output import output_pattern
from ..v1 import fusion_pb2
from .jobs import Job
from .logs import event
from .scheduler import ScheduledEngine
from .setup_spec import job_spec
from .state import ServerState

_POLL_SECONDS = 0.2


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
