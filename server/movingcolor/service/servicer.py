"""The Fusion service's methods: admission, logging and error mapping around each job."""

from __future__ import annotations

import contextvars
import logging
import threading
import time
from collections.abc import Callable, Iterator

import grpc
from grpc import _common as grpc_common

from ..errors import MovingColorError
from ..model.device import device_memory_error
from ..protocol.images import StreamEndedError, WireFormatError
from ..v1 import fusion_pb2, fusion_pb2_grpc
from .auth import client_identity, client_name
from .errors import abort, status_for
from .files_job import run_job
from .info import build_info
from .jobs import SHUTTING_DOWN, Job
from .logs import event, job_context, job_thread_context
from .shots import fuse_shot
from .state import ServerState
from .window import fuse_window

#: Digests one FindImages call may ask about: far more than any window holds.
MAX_FIND_IMAGES = 1024
#: How long a stream that ended inside an image waits to learn whether its client cancelled the
#: call: gRPC ends a cancelled call's request stream as a half-close and marks the call cancelled
#: just after (a client's cancel mid-image was logged as its mistake, INVALID_ARGUMENT).
CANCEL_SETTLE_SECONDS = 0.5


def _setup(requests: Iterator) -> fusion_pb2.ShotSetup:
    first = next(requests, None)
    if first is None or first.WhichOneof("message") != "setup":
        raise WireFormatError("send a ShotSetup as the stream's first message, then the images")
    return first.setup


class Requests:
    """A call's request stream, read one message ahead by a thread of its own.

    A read blocked inside gRPC ends only when the call is cancelled, and the client then sees a
    bare CANCELLED; read here, a job that is cancelled (a limit passed, CancelJob, shutdown)
    stops waiting at once and its call ends with the reason. The job's activity shows the
    server waiting on the client while a reader waits here.
    """

    def __init__(self, requests: Iterator, job: Job):
        self._requests = requests
        self._job = job
        self._condition = threading.Condition()
        self._next: tuple | None = None  # (message, None) or (None, the end: StopIteration or an error)
        self._closed = False
        job.on_cancel(lambda reason: self._notify())
        threading.Thread(
            target=job_thread_context(job.id).run, args=(self._pump,), name=f"requests-{job.id}", daemon=True
        ).start()

    def _notify(self) -> None:
        with self._condition:
            self._condition.notify_all()

    def _pump(self) -> None:
        while True:
            try:
                item = (next(self._requests), None)
            except Exception as error:  # StopIteration at the client's half-close; RpcError if it broke
                item = (None, error)
            with self._condition:
                self._next = item
                self._condition.notify_all()
                while self._next is not None and not self._closed:
                    self._condition.wait()
                if self._closed or item[1] is not None:
                    return

    def __iter__(self) -> Requests:
        return self

    def __next__(self):
        with self._job.activity.reading(), self._condition:
            while self._next is None:
                self._job.check()
                self._condition.wait()
            message, end = self._next
            if end is None:
                self._next = None
                self._condition.notify_all()
                self._job.activity.received(message.ByteSize())
                return message
        raise end

    def close(self) -> None:
        """Let the reading thread go: it ends with the call's last message, or with the call."""
        with self._condition:
            self._closed = True
            self._condition.notify_all()


class FusionServicer(fusion_pb2_grpc.FusionServicer):
    def __init__(self, state: ServerState):
        self.state = state

    def GetInfo(self, request, context):
        try:
            return build_info(self.state)
        except MovingColorError as error:  # the server's config broken under it: its admin's to fix
            event("info.failed", level=logging.WARNING, error=str(error), by=client_name(context))
            abort(context, error)

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
            abort(context, error)
        event(
            "job.cancel",
            job=request.job_id,
            cancelled=cancelled,
            by=client_name(context),
            identity=client_identity(context, self.state.settings.token),
        )
        return fusion_pb2.CancelJobResponse(cancelled=cancelled)

    def FuseShot(self, request_iterator, context):
        return self._job(
            context,
            "FuseShot",
            lambda job, requests: fuse_shot(self.state, job, _setup(requests), requests),
            request_iterator,
        )

    def FuseWindow(self, request_iterator, context):
        return self._job(
            context,
            "FuseWindow",
            lambda job, requests: fuse_window(self.state, job, _setup(requests), requests),
            request_iterator,
        )

    def RunJob(self, request, context):
        return self._job(context, "RunJob", lambda job, _: run_job(self.state, job, request))

    def _job(
        self,
        context,
        method: str,
        body: Callable[[Job, Requests | None], Iterator],
        request_iterator: Iterator | None = None,
    ) -> Iterator:
        """Admit a job, run ``body``'s stream, map its errors to status codes, log start and end."""
        client, identity = client_name(context), client_identity(context, self.state.settings.token)
        try:
            # ``job`` is read when a limit cuts the call off, long after it is bound here.
            job = self.state.jobs.admit(
                identity, method, label=client, interrupt=lambda: _cut_off(context, job)
            )
        except MovingColorError as error:
            event(
                "job.refused",
                level=logging.WARNING,
                method=method,
                client=client,
                identity=identity,
                reason=str(error),
            )
            abort(context, error)
        context.add_callback(
            lambda: job.cancel("the call ended: the client cancelled it or its deadline passed")
        )
        # The job's work runs in a context of its own, which names the job on its log records: this
        # thread's own is gRPC's, which runs other calls after this one.
        work = job_context(job.id)
        requests = Requests(request_iterator, job) if request_iterator is not None else None
        responses = _responses(body, job, requests)
        try:
            yield from self._respond(context, method, client, identity, job, work, responses, requests)
        finally:
            # Closed in the context it ran in (its cleanup resets what it set there), not whenever
            # it is collected; at once where it had ended.
            work.run(responses.close)

    def _respond(
        self,
        context,
        method: str,
        client: str,
        identity: str,
        job: Job,
        work: contextvars.Context,
        responses: Iterator,
        requests: Requests | None,
    ) -> Iterator:
        """``responses``, each made in the job's context ``work``; its errors mapped to status codes."""
        started = time.perf_counter()
        event(
            "job.start",
            job=job.id,
            method=method,
            client=client,
            identity=identity,
            deadline=_deadline(context),
        )
        code, message, failure = grpc.StatusCode.OK, "", None
        try:
            while True:
                try:
                    response = work.run(next, responses)
                except StopIteration:
                    break
                # While gRPC holds the response the server waits on the client (a client that
                # reads nothing stalls the send), which the idle limit counts.
                with job.activity.sending():
                    yield response
        except StreamEndedError as error:
            if job.cancelled.wait(CANCEL_SETTLE_SECONDS):  # the client's cancel; its reason below
                code = grpc.StatusCode.CANCELLED
            else:
                code, message, failure = status_for(error), str(error), error
        except MovingColorError as error:
            code, message, failure = status_for(error), str(error), error
        except Exception as error:
            out_of_memory = device_memory_error(error)
            if job.cancelled.is_set() or not context.is_active():  # the call broke under the job: not a bug
                code, message = grpc.StatusCode.CANCELLED, f"the call ended ({type(error).__name__})"
            elif out_of_memory is not None:
                code, message, failure = status_for(out_of_memory), str(out_of_memory), out_of_memory
            else:
                code = grpc.StatusCode.INTERNAL
                message = (
                    f"the server failed ({type(error).__name__}: {error}); this is a bug: "
                    f"its log has the details"
                )
                work.run(logging.getLogger("movingcolor.service").exception, "job %s failed", job.id)
        finally:
            if requests is not None:
                requests.close()
            if job.cancelled.is_set() and code in (grpc.StatusCode.OK, grpc.StatusCode.CANCELLED):
                code, message = _cancelled_status(job)
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
            if failure is not None and code == status_for(failure):
                abort(context, failure)
            context.abort(code, message)


def _responses(
    body: Callable[[Job, Requests | None], Iterator], job: Job, requests: Requests | None
) -> Iterator:
    """``body``'s responses, ``body`` itself called at the first (it reads the setup), where its
    errors are mapped to status codes like those of its responses."""
    yield from body(job, requests)


def _cancelled_status(job: Job) -> tuple[grpc.StatusCode, str]:
    """The status a cancelled job's call ends with, and its reason."""
    if job.reason == SHUTTING_DOWN:
        # Not the client's doing: UNAVAILABLE, which clients retry and a farm's task exits 75 for
        # (try again), where a cancel is final.
        return grpc.StatusCode.UNAVAILABLE, str(job.error())
    return grpc.StatusCode.CANCELLED, str(job.error())


def _cut_off(context: grpc.ServicerContext, job: Job) -> None:
    """End a cancelled job's call at the transport, from any thread, with the job's reason as its
    status: its own thread cannot say it while gRPC holds a response its client does not read (a
    progress callback or a host's UI blocked), and ``context.cancel()`` reached the client as a bare
    CANCELLED, which it read as its own cancel. gRPC's public API cancels without a status only, so
    this reaches for the call beneath it, and falls back to that where its internals differ."""
    code, message = _cancelled_status(job)
    try:
        call = context._rpc_event.call
        status = grpc_common.STATUS_CODE_TO_CYGRPC_STATUS_CODE[code]
        call.cancel(status, message)
    except (AttributeError, KeyError, TypeError, ValueError):
        context.cancel()


def _deadline(context: grpc.ServicerContext) -> str | None:
    remaining = context.time_remaining()
    return None if remaining is None or remaining > 1e9 else f"{remaining:.1f}s"
