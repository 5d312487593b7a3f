"""The job table: admission (a bounded number of jobs), ids, cancellation."""

from __future__ import annotations

import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable

from .errors import JobCancelledError, ServerBusyError, UnknownJobError

# Finished job ids remembered, so cancelling one that just ended is "already finished", not "unknown".
_REMEMBERED = 256


class Job:
    """One FuseShot, FuseWindow or RunJob call while it runs."""

    def __init__(self, client: str, method: str):
        self.id = uuid.uuid4().hex[:12]
        self.client = client
        self.method = method
        self.started = time.monotonic()
        self.cancelled = threading.Event()
        self.reason = ""
        self.finished = False
        self._callbacks: list[Callable[[str], None]] = []
        self._lock = threading.Lock()

    def cancel(self, reason: str) -> bool:
        """Stop the job: waits and reads raise :class:`JobCancelledError`. False if it had ended."""
        with self._lock:
            if self.finished or self.cancelled.is_set():
                return False
            self.reason = reason
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

    def error(self) -> JobCancelledError:
        return JobCancelledError(f"job {self.id} was cancelled: {self.reason}")

    def check(self) -> None:
        """Raise :class:`JobCancelledError` if the job was cancelled."""
        if self.cancelled.is_set():
            raise self.error()


class JobTable:
    """At most ``max_jobs`` jobs at once; beyond that calls are refused, and clients retry later."""

    def __init__(self, max_jobs: int):
        self.max_jobs = max_jobs
        self._jobs: dict[str, Job] = {}
        self._ended: OrderedDict[str, None] = OrderedDict()
        self._lock = threading.Condition()

    def admit(self, client: str, method: str) -> Job:
        with self._lock:
            if len(self._jobs) >= self.max_jobs:
                raise ServerBusyError(
                    f"the server is busy with {len(self._jobs)} jobs (its limit, serve --max-jobs); "
                    f"retry later or start another server"
                )
            job = Job(client, method)
            self._jobs[job.id] = job
            return job

    def finish(self, job: Job) -> None:
        with job._lock:
            job.finished = True
        with self._lock:
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
                raise UnknownJobError(
                    f"no job {job_id!r} on this server; the id comes from ShotAccepted or JobAccepted"
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

    @property
    def active(self) -> int:
        with self._lock:
            return len(self._jobs)
