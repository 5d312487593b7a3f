"""One thread per usable core for array work split into independent parts.

OpenColorIO, numpy and scipy.ndimage release the GIL while they compute, so a frame's pixels or
a batch of band tiles split into parts keep every core busy. A part that splits work of its own
runs those parts itself (the pool's threads would otherwise wait on themselves). Parts must not
read or write files: a pool thread does not run in its submitter's context (``frames.confine``).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

Part = TypeVar("Part")
Result = TypeVar("Result")

#: At most this many threads of array work, where :func:`limit_cores` set it (None: no limit).
_core_limit: int | None = None


def usable_cores() -> int:
    """The cores this process may run on (its affinity, which a farm's slot or a container sets),
    or fewer where :func:`limit_cores` asked for fewer."""
    if hasattr(os, "sched_getaffinity"):
        cores = max(1, len(os.sched_getaffinity(0)))
    else:
        cores = max(1, os.cpu_count() or 1)
    return cores if _core_limit is None else min(cores, _core_limit)


def limit_cores(cores: int) -> None:
    """Work on at most ``cores`` threads in this process, before its first :func:`map_parts`: for
    one of many worker processes, where each using every core would put several threads on each
    core and make them all wait on one another."""
    global _core_limit
    if cores < 1:
        raise ValueError(f"limit_cores needs at least one core, not {cores}")
    _core_limit = cores


#: ``thread`` is True on the pool's own threads.
_on_pool = threading.local()


def _mark_pool_thread() -> None:
    _on_pool.thread = True


_made: list[ThreadPoolExecutor] = []
_making = threading.Lock()


def _pool() -> ThreadPoolExecutor:
    # Under a lock: two threads asking first at once (two jobs of a server) would each make one,
    # and put twice the cores' threads on the cores.
    with _making:
        if not _made:
            _made.append(
                ThreadPoolExecutor(
                    max_workers=usable_cores(), thread_name_prefix="compute", initializer=_mark_pool_thread
                )
            )
        return _made[0]


def map_parts(function: Callable[[Part], Result], parts: Sequence[Part]) -> list[Result]:
    """``[function(part) for part in parts]``, the parts on the pool's threads (in this thread
    when there is one part or one core); the first part's error is raised."""
    if len(parts) <= 1 or usable_cores() == 1 or getattr(_on_pool, "thread", False):
        # A pool thread's own parts run in it: handed to the pool, they could wait for the
        # threads that wait for them.
        return [function(part) for part in parts]
    return list(_pool().map(function, parts))


def split_count(items: int, minimum: int = 1) -> int:
    """How many parts to cut ``items`` into: one per core, each of at least ``minimum`` items."""
    return max(1, min(usable_cores(), items // max(1, minimum)))
