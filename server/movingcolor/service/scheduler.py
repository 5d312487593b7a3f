"""Fair turns on the devices: the engines of all jobs run one window at a time per device slot.

Turns go round-robin between clients and first-come within a client, so a client
that streams four shots does not starve one that streams a single frame; each
job's own decoding, colour work and encoding run outside turns, in parallel. A
client is the identity ``auth.client_identity`` gives: its certificate, the
server's token, else the name it reports.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager

from ..engines import Engine, FusionFrames, FusionResult
from ..windowing import Window
from .jobs import Job

_POLL_SECONDS = 0.2


class DeviceScheduler:
    """``slots`` concurrent turns per device; waiting turns are granted round-robin by client."""

    def __init__(self, slots: int = 1):
        self.slots = max(1, int(slots))
        self._condition = threading.Condition()
        self._busy: dict[str, int] = {}
        # Per device: clients in turn order, and each client's waiting tickets in arrival order.
        self._rotation: dict[str, deque[str]] = {}
        self._tickets: dict[str, dict[str, deque[object]]] = {}

    def _next(self, device: str) -> object | None:
        rotation = self._rotation.get(device)
        if not rotation:
            return None
        return self._tickets[device][rotation[0]][0]

    def _withdraw(self, device: str, client: str, ticket: object) -> None:
        queue = self._tickets[device][client]
        queue.remove(ticket)
        if not queue:
            del self._tickets[device][client]
            self._rotation[device].remove(client)

    @contextmanager
    def turn(self, device: str, client: str, job: Job) -> Iterator[None]:
        """Hold one of ``device``'s slots; raises if ``job`` is cancelled while waiting."""
        ticket = object()
        with self._condition:
            tickets = self._tickets.setdefault(device, {})
            rotation = self._rotation.setdefault(device, deque())
            if client not in tickets:
                tickets[client] = deque()
                rotation.append(client)
            tickets[client].append(ticket)
            while not (self._busy.get(device, 0) < self.slots and self._next(device) is ticket):
                if job.cancelled.is_set():
                    self._withdraw(device, client, ticket)
                    self._condition.notify_all()
                    raise job.error()
                self._condition.wait(_POLL_SECONDS)
            # Granted: this client goes to the back of the rotation.
            self._withdraw(device, client, ticket)
            if client in self._tickets[device]:
                rotation.remove(client)
                rotation.append(client)
            self._busy[device] = self._busy.get(device, 0) + 1
        try:
            yield
        finally:
            with self._condition:
                self._busy[device] -= 1
                self._condition.notify_all()

    def waiting(self, device: str) -> int:
        with self._condition:
            return sum(len(q) for q in self._tickets.get(device, {}).values())


class ScheduledEngine(Engine):
    """An engine whose windows run in the job's turns on its device; everything else passes through."""

    def __init__(self, inner: Engine, scheduler: DeviceScheduler, device: str, job: Job):
        self.inner = inner
        self.scheduler = scheduler
        self.device = device
        self.job = job
        # Every trait the engine declares (what it reads and returns decides what each frame is
        # prepared with; whether it takes frame stacks, whether a window is copied for it).
        for trait in Engine.__annotations__:
            setattr(self, trait, getattr(inner, trait))

    def plan(self, clip: list[int], targets: list[int]) -> list[Window]:
        return self.inner.plan(clip, targets)

    def inputs_for(self, grade_known: bool) -> frozenset[str]:
        return self.inner.inputs_for(grade_known)

    def decides_colours_for(self, grade_known: bool) -> bool:
        return self.inner.decides_colours_for(grade_known)

    def fuse_window(self, frames: FusionFrames) -> list[FusionResult]:
        self.job.check()
        # Waiting for the turn and running the window are the server's work: the idle limit must not
        # count them against the client.
        with self.job.activity.busy(), self.scheduler.turn(self.device, self.job.client, self.job):
            return self.inner.fuse_window(frames)

    def fuse(self, frames: FusionFrames) -> FusionResult:
        with self.job.activity.busy(), self.scheduler.turn(self.device, self.job.client, self.job):
            return self.inner.fuse(frames)

    def reset(self) -> None:
        self.inner.reset()
