"""The job table: admission (a bounded number of jobs), ids, cancellation, and the call limits.

While jobs run, a watchdog thread ends a call that has waited on its client for longer than
the idle limit, or run for longer than the total limit, and frees its slot at once. The
thread exits when no job is left, so it never outlives the server's calls.
"""

from __future__ import annotations

import logging
import math
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from .errors import JobCancelledError, ServerBusyError, UnknownJobError
from .logs import event, log

# Finished job ids remembered, so cancelling one that just ended is "already finished", not "unknown".
_REMEMBERED = 256
# How often the watchdog looks at the limits: a small share of a second, cheap for a few dozen jobs.
_WATCH_SECONDS = 0.25
# The most of an unknown job id an error repeats (ids are 12 characters): a 100 KB id echoed whole
# took the error past gRPC's metadata limit, and the client read RESOURCE_EXHAUSTED (busy).
_SHOWN_ID_CHARS = 64
# A call ended by a limit that has gone on waiting on its client this long is cut off at the transport:
# gRPC blocks a send to a client that reads nothing, and only cancelling the call frees that thread.
_CUT_OFF_SECONDS = 2.0


class Activity:
    """Whether a call is waiting on its client, and since when.

    A call waits on its client while one of its threads is blocked reading the next request, or
    while gRPC holds one of its responses (flow control stalls the send when the client does not
    read), and none of its engine windows runs or waits for its turn on the device. The clock
    restarts when the call moves: a response taken, a window begun or done, or
    :data:`PROGRESS_BYTES` more of the client's messages received. Not at every message: a client
    sending a byte a second held its job slot past the idle limit for as long as it liked.
    """

    #: Bytes of messages that count as the client moving: a part of any image is larger; a
    #: trickle of a few bytes at a time is not.
    PROGRESS_BYTES = 64 * 1024

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._since = time.monotonic()
        self._reading = self._sending = self._busy = 0
        self._unsettled = 0  # bytes received since the clock last restarted

    def _change(self, reading: int = 0, sending: int = 0, busy: int = 0) -> None:
        with self._lock:
            self._reading += reading
            self._sending += sending
            self._busy += busy
            if not reading:
                self._since = time.monotonic()

    def received(self, size: int) -> None:
        """A message of ``size`` bytes arrived from the client."""
        with self._lock:
            self._unsettled += size
            if self._unsettled >= self.PROGRESS_BYTES:
                self._unsettled = 0
                self._since = time.monotonic()

    @contextmanager
    def reading(self) -> Iterator[None]:
        """While a thread of the call waits for the client's next message."""
        self._change(reading=1)
        try:
            yield
        finally:
            self._change(reading=-1)

    @contextmanager
    def sending(self) -> Iterator[None]:
        """While gRPC holds a response of the call (from its yield until the next one is asked for)."""
        self._change(sending=1)
        try:
            yield
        finally:
            self._change(sending=-1)

    @contextmanager
    def busy(self) -> Iterator[None]:
        """While the job's engine runs a window or waits for its turn: the server's work, not the client's."""
        self._change(busy=1)
        try:
            yield
        finally:
            self._change(busy=-1)

    def idle_seconds(self, now: float) -> float:
        """How long the call has waited on its client without a break; 0 when it is not waiting."""
        with self._lock:
            if self._busy or not (self._reading or self._sending):
                return 0.0
            return max(0.0, now - self._since)


#: Why the jobs a stopping server still runs are cancelled: their clients are told to come back.
SHUTTING_DOWN = "the server is shutting down"


class Job:
    """One FuseShot, FuseWindow or RunJob call while it runs.

    ``client`` is the identity fair turns go by; ``label`` is the name the client reports, for logs.
    ``interrupt`` ends the call at the transport, with the job's reason where gRPC allows (the
    servicer passes it), for a call whose own thread is stuck in a send its client does not read.
    """

    def __init__(
        self,
        client: str,
        method: str,
        label: str | None = None,
        interrupt: Callable[[], object] | None = None,
    ):
        self.id = uuid.uuid4().hex[:12]
        self.client = client
        self.label = label or client
        self.method = method
        self.started = time.monotonic()
        self.activity = Activity()
        self.interrupt = interrupt
        self.cancelled = threading.Event()
        self.reason = ""
        #: Whether a limit of the server's ended the job, not its client nor a CancelJob.
        self.by_limit = False
        self.finished = False
        self._callbacks: list[Callable[[str], None]] = []
        #: Threads doing the job's work beside its call (RunJob's shot): its slot is theirs too.
        self._workers: list[threading.Thread] = []
        self._lock = threading.Lock()

    def cancel(self, reason: str, by_limit: bool = False) -> bool:
        """Stop the job: waits and reads raise :class:`JobCancelledError`. False if it had ended.
        ``by_limit``: a limit of the server's ends it, which its error says."""
        with self._lock:
            if self.finished or self.cancelled.is_set():
                return False
            self.reason = reason
            self.by_limit = by_limit
            self.cancelled.set()
            callbacks = list(self._callbacks)
        for callback in callbacks:
            callback(reason)
        return True

    def on_cancel(self, callback: Callable[[str], None]) -> None:
        """Call ``callback(reason)`` when the job is cancelled (at once if it already is)."""
        with self._lock:
            if not self.cancelled.is_set():
                self._callbacks.append(callback)
                return
        callback(self.reason)

    def hold_slot_for(self, worker: threading.Thread) -> None:
        """Keep the job's slot, once its call has ended, until ``worker`` has ended too: a cancelled
        call is answered at once (its client reads why, not gRPC's cancel at the end of a drain's
        grace) while its worker finishes the frame it is in, and no new job may run beside that."""
        with self._lock:
            self._workers.append(worker)

    def error(self) -> JobCancelledError:
        if self.by_limit:
            # Its client made no cancel: a bare "cancelled" read as its own, or as a crash.
            return JobCancelledError(f"the server ended job {self.id}: {self.reason}")
        return JobCancelledError(f"job {self.id} was cancelled: {self.reason}")

    def check(self) -> None:
        """Raise :class:`JobCancelledError` if the job was cancelled."""
        if self.cancelled.is_set():
            raise self.error()


class JobTable:
    """At most ``max_jobs`` jobs at once; beyond that calls are refused, and clients retry later.

    A job that waits on its client for ``idle_seconds``, or runs for ``max_call_seconds`` in all,
    is cancelled and its slot freed (``serve --idle-timeout``, ``--max-call-time``).
    """

    def __init__(self, max_jobs: int, idle_seconds: float = math.inf, max_call_seconds: float = math.inf):
        self.max_jobs = max_jobs
        self.idle_seconds = idle_seconds
        self.max_call_seconds = max_call_seconds
        self._jobs: dict[str, Job] = {}
        self._ended: OrderedDict[str, None] = OrderedDict()
        # Jobs a limit ended whose calls have not returned yet, by job id: the watchdog sees them out.
        self._ending: dict[str, Job] = {}
        self._watchdog: threading.Thread | None = None
        self._lock = threading.Condition()

    def admit(
        self,
        client: str,
        method: str,
        label: str | None = None,
        interrupt: Callable[[], object] | None = None,
    ) -> Job:
        with self._lock:
            if len(self._jobs) >= self.max_jobs:
                raise ServerBusyError(
                    f"the server is busy with {len(self._jobs)} jobs (its limit, serve --max-jobs); "
                    f"retry later or start another server"
                )
            job = Job(client, method, label, interrupt)
            self._jobs[job.id] = job
            if self._watchdog is None:
                self._watchdog = threading.Thread(target=self._watch, name="call-limits", daemon=True)
                self._watchdog.start()
            return job

    def finish(self, job: Job) -> None:
        """The job's call has ended: its slot is freed, or once its workers have ended
        (:meth:`Job.hold_slot_for`), which are stopped first."""
        working = [worker for worker in job._workers if worker.is_alive()]
        if working:
            job.cancel("the call ended before its work")  # they stop at their next check
        with job._lock:
            job.finished = True
        if working:
            threading.Thread(
                target=self._finish_after, args=(job, working), name=f"finish-{job.id}", daemon=True
            ).start()
            return
        self._finished(job)

    def _finish_after(self, job: Job, workers: list[threading.Thread]) -> None:
        for worker in workers:
            worker.join()
        self._finished(job)

    def _finished(self, job: Job) -> None:
        with self._lock:
            self._release(job)
            self._ending.pop(job.id, None)

    def _release(self, job: Job) -> None:
        """Free ``job``'s slot (the table's lock is held)."""
        if self._jobs.pop(job.id, None) is not None:
            self._ended[job.id] = None
            while len(self._ended) > _REMEMBERED:
                self._ended.popitem(last=False)
        self._lock.notify_all()

    def cancel(self, job_id: str, reason: str) -> bool:
        """Cancel ``job_id``; False when it has already finished."""
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None:
                if job_id in self._ended:
                    return False
                shown = repr(job_id[:_SHOWN_ID_CHARS]) + (
                    f" (the first {_SHOWN_ID_CHARS} of {len(job_id)} characters)"
                    if len(job_id) > _SHOWN_ID_CHARS
                    else ""
                )
                raise UnknownJobError(
                    f"no job {shown} on this server; the id comes from ShotAccepted or JobAccepted"
                )
        return job.cancel(reason)

    def cancel_all(self, reason: str) -> int:
        with self._lock:
            jobs = list(self._jobs.values())
        return sum(job.cancel(reason) for job in jobs)

    def wait_idle(self, timeout: float) -> bool:
        """Wait until no job runs; False if some still do after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while self._jobs:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._lock.wait(left)
            return True

    def wait_workers(self, seconds: float) -> list[str]:
        """Wait up to ``seconds`` for the workers of the jobs still held (:meth:`Job.hold_slot_for`)
        to end: once cancelled, each stops at its next check, between frames. Returns the ids of the
        jobs whose workers are still running then (a frame longer than the wait: the process exits
        under it, as a drain must end)."""
        deadline = time.monotonic() + seconds
        with self._lock:
            jobs = list(self._jobs.values()) + list(self._ending.values())
        running = []
        for job in dict.fromkeys(jobs):
            with job._lock:
                workers = list(job._workers)
            for worker in workers:
                worker.join(max(0.0, deadline - time.monotonic()))
            if any(worker.is_alive() for worker in workers):
                running.append(job.id)
        return running

    @property
    def active(self) -> int:
        with self._lock:
            return len(self._jobs)

    def _watch(self) -> None:
        while True:
            with self._lock:
                if not (self._jobs or self._ending):
                    self._watchdog = None
                    return
                self._lock.wait(_WATCH_SECONDS)
                jobs, ending = list(self._jobs.values()), list(self._ending.values())
            now = time.monotonic()
            checks = [(self._check_limits, job) for job in jobs]
            checks += [(self._cut_off_if_stuck, job) for job in ending]
            for check, job in checks:
                try:
                    check(job, now)
                except Exception:  # one job's failure must not end the limits of all the others
                    log.exception("the call limits of job %s failed", job.id)

    def _cut_off_if_stuck(self, job: Job, now: float) -> None:
        # The cancellation woke every wait of the server's own; only a send to a client that reads
        # nothing can still hold the call, and the thread gRPC runs it on.
        if job.finished or job.activity.idle_seconds(now) < _CUT_OFF_SECONDS:
            return
        with self._lock:
            self._ending.pop(job.id, None)
        if job.interrupt is not None:
            job.interrupt()

    def _check_limits(self, job: Job, now: float) -> None:
        # Its call has ended, or a limit (or a cancel) has already ended it: its slot waits for its
        # workers alone, and the limit is said once.
        if job.finished or job.cancelled.is_set():
            return
        if now - job.started >= self.max_call_seconds:
            limit = "total"
            reason = (
                f"it ran for longer than this server's limit of {self.max_call_seconds:g}s a call "
                f"(serve --max-call-time); send the shot in shorter ranges, or start the server with "
                f"a longer --max-call-time"
            )
        elif job.activity.idle_seconds(now) >= self.idle_seconds:
            limit = "idle"
            reason = (
                f"the client sent nothing (or under {Activity.PROGRESS_BYTES // 1024} KiB) and read "
                f"nothing for {self.idle_seconds:g}s (this server's idle limit, serve --idle-timeout), "
                f"as when a progress callback or a host's UI blocks the client; keep the stream moving "
                f"(return from callbacks quickly), or start the server with a longer --idle-timeout"
            )
        else:
            return
        job.cancel(reason, by_limit=True)
        # A job whose worker is inside a frame keeps its slot until the worker ends (its call's
        # finish waits for it): freed now, a job let in beside it ran over --max-jobs, and a drain
        # that looked at the table only exited under it.
        working = any(worker.is_alive() for worker in job._workers)
        with self._lock:
            if not working:
                self._release(job)
            if not job.finished:
                self._ending[job.id] = job
        event(
            "job.limit",
            level=logging.WARNING,
            job=job.id,
            method=job.method,
            client=job.label,
            identity=job.client,
            limit=limit,
            seconds=round(now - job.started, 1),
        )
