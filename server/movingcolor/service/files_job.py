"""RunJob: a shot named by paths on shared storage, planned and run on the server, with progress.

The server reads and writes only inside its root folders. Frames are written by
``jobs.run_plan`` (as ``run_shot`` writes them), each atomically, to the plan's output
pattern, which the progress events name; a cancelled job stops at the next frame or window.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterator

from ..frames.confine import confined
from ..jobs import ShotPlan, ShotReport, run_plan
from ..jobs.run import Progress
from ..jobs.warnings_said import collected
from ..v1 import fusion_pb2
from .jobs import Job
from .logs import event, job_thread_context
from .scheduler import ScheduledEngine
from .setup_spec import job_spec
from .state import ServerState
from .summary import summary_message

_POLL_SECONDS = 0.2


def run_job(state: ServerState, job: Job, request: fusion_pb2.JobRequest) -> Iterator[fusion_pb2.JobProgress]:
    roots = state.settings.roots
    spec = job_spec(request, roots)
    engine, device = state.engines.engine_for(spec.engine, request.model, request.device, roots=roots)
    events: queue.Queue = queue.Queue()

    def progress(plan: ShotPlan) -> Progress:
        def written(done: int, total: int, frame: int) -> None:
            path = plan.pattern.path(frame)
            events.put(fusion_pb2.FrameWritten(frame=frame, done=done, total=total, path=str(path)))
            job.check()

        return written

    def work() -> None:
        try:
            # Every file the shot opens is checked as it is opened, not only the names checked above:
            # a frame linked outside the roots, or an output folder swapped for a link, is refused.
            with confined(roots), collected():
                started = time.perf_counter()
                plan = ShotPlan.files(spec, ScheduledEngine(engine, state.scheduler, device, job))
                events.put(run_plan(plan, progress(plan), started))
        except BaseException as error:  # handed to the call's thread, which reports it
            events.put(error)

    event("job.accepted", job=job.id, engine=engine.name, device=device, plate=spec.plate, out=spec.out)
    yield fusion_pb2.JobProgress(accepted=fusion_pb2.JobAccepted(job_id=job.id))
    worker = threading.Thread(
        target=job_thread_context(job.id).run, args=(work,), name=f"job-{job.id}", daemon=True
    )
    worker.start()
    # The slot stays the shot's until its worker ends, even once the call is answered.
    job.hold_slot_for(worker)
    # A cancelled job's call is answered at once, with the reason: the worker checks for a cancel
    # between frames only, and a frame can outlast the second a drain cancels its jobs ahead of
    # gRPC's own cancel (the client then read "Cancelling all calls", not that the server stopped).
    job.on_cancel(lambda reason: events.put(job.error()))
    try:
        while True:
            try:
                item = events.get(timeout=_POLL_SECONDS)
            except queue.Empty:
                continue
            if isinstance(item, fusion_pb2.FrameWritten):
                yield fusion_pb2.JobProgress(frame=item)
            elif isinstance(item, ShotReport):
                yield fusion_pb2.JobProgress(done=fusion_pb2.JobDone(summary=summary_message(item)))
                return
            else:
                raise item
    finally:
        # A call that ends before its shot (the client left) stops the shot, whose slot stays held
        # until the worker has stopped (``hold_slot_for``): it wrote frames after its job had ended,
        # beside the jobs --max-jobs let in.
        if worker.is_alive():
            job.cancel("the call ended before the shot")
