"""One background thread that runs calls in the context of the code that submits them.

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
    """Runs submitted calls one at a time, in order, each in its submitter's context."""

    def __init__(self, name: str):
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)

    def submit(self, call: Callable[..., Any], *args: Any) -> Future:
        return self._executor.submit(contextvars.copy_context().run, call, *args)

    def close(self, drop_queued: bool = False) -> None:
        """Wait for the call running now (and, unless ``drop_queued``, every queued one)."""
        self._executor.shutdown(wait=True, cancel_futures=drop_queued)
