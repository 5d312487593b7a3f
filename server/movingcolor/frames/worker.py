"""Background threads that run calls in the context of the code that submits them.

A thread pool's threads do not inherit context variables, and frames read and written for a
confined job (``frames.confine``) or under a pixel limit (``frames.limits``) must stay under
them whatever thread does the work: every call runs in a copy of its submitter's context.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any


class ContextWorker:
    """Runs submitted calls, each in its submitter's context: one at a time and in order, or on
    ``workers`` threads at once, started in order."""

    def __init__(self, name: str, workers: int = 1):
        self._executor = ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix=name)

    def submit(self, call: Callable[..., Any], *args: Any) -> Future:
        return self._executor.submit(contextvars.copy_context().run, call, *args)

    def close(self, drop_queued: bool = False) -> None:
        """Wait for the call running now (and, unless ``drop_queued``, every queued one)."""
        self._executor.shutdown(wait=True, cancel_futures=drop_queued)
