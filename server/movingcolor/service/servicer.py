"""The Fusion service's methods: admission, logging and error mapping around each job."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator

import grpc

from ..errors import MovingColorError
from ..protocol import CLIENT_METADATA
from ..protocol.images import WireFormatError
from ..v1 import fusion_pb2, fusion_pb2_grpc
from .errors import status_for
from .files_job import run_job
from .info import build_info
from .jobs import Job
from .logs import event
from .shots import fuse_shot
from .state import ServerState
from .window import fuse_window

#: Digests one FindImages call may ask about: far more than any window holds.
MAX_FIND_IMAGES = 1024


def client_name(context: grpc.ServicerContext) -> str:
    """The client's own name (its metadata), else its peer address: the unit of fair turns."""
    for key, value in context.invocation_metadata() or ():
        if key == CLIENT_METADATA and value:
            return str(value)[:200]
    return context.peer()


def _setup(requests: Iterator) -> fusion_pb2.ShotSetup:
    first = next(requests, None)
    if first is None or first.WhichOneof("message") != "setup":
        raise WireFormatError("send a ShotSetup as the stream's first message, then the images")
    return first.setup


class FusionServicer(fusion_pb2_grpc.FusionServicer):
    def __init__(self, state: ServerState):
        self.state = state

    def GetInfo(self, request, context):
        return build_info(self.state)

    def FindImages(self, request, context):
        if len(request.sha256) > MAX_FIND_IMAGES:
            context.abort(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"{len(request.sha256)} digests asked for; ask for at most {MAX_FIND_IMAGES} per call",
            )
        # What is held is kept longest: another client's window must not evict it before this
        # client's FuseWindow names it.
        return fusion_pb2.FindImagesResponse(held=self.state.windows.images.touch(request.sha256))

    def CancelJob(self, request, context):
        try:
            cancelled = self.state.jobs.cancel(request.job_id, "cancelled by a CancelJob call")
        except MovingColorError as error:
            context.abort(status_for(error), str(error))
        event("job.cancel", job=request.job_id, cancelled=cancelled, by=client_name(context))
        return fusion_pb2.CancelJobResponse(cancelled=cancelled)

    def FuseShot(self, request_iterator, context):
        return self._job(
            context,
            "FuseShot",
            lambda job: fuse_shot(self.state, job, _setup(request_iterator), request_iterator),
        )

    def FuseWindow(self, request_iterator, context):
        return self._job(
            context,
            "FuseWindow",
            lambda job: fuse_window(self.state, job, _setup(request_iterator), request_iterator),
        )

    def RunJob(self, request, context):
        return self._job(context, "RunJob", lambda job: run_job(self.state, job, request))

    def _job(self, context, method: str, body: Callable[[Job], Iterator]) -> Iterator:
        """Admit a job, run ``body``'s stream, map its errors to status codes, log start and end."""
        client = client_name(context)
        try:
            job = self.state.jobs.admit(client, method)
        except MovingColorError as error:
            event("job.refused", level=logging.WARNING, method=method, client=client, reason=str(error))
            context.abort(status_for(error), str(error))
        context.add_callback(
            lambda: job.cancel("the call ended: the client cancelled it or its deadline passed")
        )
        started = time.perf_counter()
        event("job.start", job=job.id, method=method, client=client, deadline=_deadline(context))
        code, message = grpc.StatusCode.OK, ""
        try:
            yield from body(job)
        except MovingColorError as error:
            code, message = status_for(error), str(error)
        except Exception as error:
            if job.cancelled.is_set() or not context.is_active():  # the call broke under the job: not a bug
                code, message = grpc.StatusCode.CANCELLED, f"the call ended ({type(error).__name__})"
            else:
                code = grpc.StatusCode.INTERNAL
                message = (
                    f"the server failed ({type(error).__name__}: {error}); this is a bug: "
                    f"its log has the details"
                )
                logging.getLogger("movingcolor.service").exception("job %s failed", job.id)
        finally:
            if job.cancelled.is_set() and code in (grpc.StatusCode.OK, grpc.StatusCode.CANCELLED):
                code, message = grpc.StatusCode.CANCELLED, str(job.error())
            self.state.jobs.finish(job)
            event(
                "job.end",
                level=logging.INFO
                if code in (grpc.StatusCode.OK, grpc.StatusCode.CANCELLED)
                else logging.WARNING,
                job=job.id,
                method=method,
                client=client,
                status=code.name,
                seconds=round(time.perf_counter() - started, 3),
                message=message or None,
            )
        if code != grpc.StatusCode.OK and context.is_active():
            context.abort(code, message)


def _deadline(context: grpc.ServicerContext) -> str | None:
    remaining = context.time_remaining()
    return None if remaining is None or remaining > 1e9 else f"{remaining:.1f}s"
