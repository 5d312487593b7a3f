"""Frames written behind the work that makes the next ones: one writer thread, in frame order.

A frame is encoded and written while the next is fused: OpenEXR compresses on threads of its
own, and the fusion's heavy parts (distance transforms, OpenColorIO, numpy) release Python's
lock, so the two overlap on a machine's cores. At most ``depth`` frames
are being written at once, which bounds the memory they hold. Finished writes are reported in the
order they were submitted, on the caller's thread; a failed write is raised there too, and
every frame submitted before a failure is finished (whole, renamed into place) or not there.
"""

from __future__ import annotations

import contextlib
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from types import TracebackType

from .worker import ContextWorker


class WriteBehind:
    """Runs ``write()`` calls on a writer thread; ``on_written(number, path)`` for each, in order,
    on the caller's thread."""

    def __init__(self, on_written: Callable[[int, Path], None], depth: int = 1):
        self.on_written = on_written
        self.depth = depth
        self._pending: deque[tuple[int, Path, Future]] = deque()
        self._writer = ContextWorker("movingcolor-write")

    def submit(self, number: int, path: Path, write: Callable[[], None]) -> None:
        """Queue frame ``number``'s write to ``path``. Waits first for the earlier writes beyond
        ``depth - 1`` and raises the error of one that failed: no frame is queued after a failed
        one, so a run that stops leaves the frames before the failure and none after it."""
        self._report(lambda: len(self._pending) >= self.depth or self._pending[0][2].done())
        self._pending.append((number, path, self._writer.submit(write)))

    def finish(self) -> None:
        """Wait for every queued write; raises the first that failed."""
        self._report(lambda: bool(self._pending))

    def _report(self, more: Callable[[], bool]) -> None:
        while self._pending and more():
            number, path, future = self._pending[0]
            # Taken off the queue once written: an interrupt while it is awaited leaves it for
            # __exit__ to report when it is whole (it was written, and left out of the list).
            future.result()
            self._pending.popleft()
            self.on_written(number, path)

    def __enter__(self) -> WriteBehind:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        try:
            if kind is not None:
                # The work failed: the frames already queued are still written and reported (they
                # are whole), and a write that also failed does not hide the first error.
                while self._pending:
                    number, path, future = self._pending.popleft()
                    if future.exception() is None:
                        with contextlib.suppress(Exception):  # e.g. a progress call that cancels
                            self.on_written(number, path)
        finally:
            self._writer.close()
