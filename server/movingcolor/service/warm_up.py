"""A fresh server's one-time set-up, done as soon as it listens instead of inside its first job.

A fresh server's first shot took longer than its next: what the job path sets up once per process
(scipy's filters on a CPU, OpenImageIO's file plugins, the colour processors, the worker threads)
was set up inside that job, while the artist waited. So once the server listens it fuses a tiny generated shot
through the same code, on a thread of its own, with ``guided`` (the band, the guided filter, the
grade, EXR in and out). 8 frames at 1080p through a fresh server, once it has warmed up: ``guided``
and ``feather`` 4-7% faster, ``hard`` the same (what its first job pays more is likely the heap
growing to a 1080p frame's arrays, which a tiny shot does not do; not measured). A job that arrives
meanwhile runs beside it, sharing the cores. The shot's log lines are kept out of the server's log;
the ``warmed`` event says how long it took. A warm-up that fails stops nothing: a job would meet
the same fault and report it to its client, and the ``warm_up.failed`` event names it for whoever
reads the log.
"""

from __future__ import annotations

import contextvars
import logging
import shutil
import tempfile
import threading
import time
from pathlib import Path

from .logs import event

#: The warm-up shot: enough frames for a window with neighbours, small enough to cost nothing.
FRAMES = 3
WIDTH, HEIGHT = 96, 64
ENGINE = "guided"

_warming: contextvars.ContextVar[bool] = contextvars.ContextVar("movingcolor_warming", default=False)


class _NotWarmUp(logging.Filter):
    """Drops the records the warm-up shot logs (its read-ahead threads run in its context)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not _warming.get()


_FILTER = _NotWarmUp()


def warm_up(folder: Path, device: str = "auto") -> bool:
    """Fuse a tiny generated shot with :data:`ENGINE` on ``device`` in a folder made in ``folder``
    and removed after; True when it was fused."""
    started = time.perf_counter()
    work = Path(tempfile.mkdtemp(prefix="warm-up-", dir=folder))
    # Left in place: it passes every record logged outside a warm-up, and two servers in one
    # process (tests) each warm up.
    shot_log = logging.getLogger("movingcolor")
    if _FILTER not in shot_log.filters:
        shot_log.addFilter(_FILTER)
    token = _warming.set(True)
    failure = None
    try:
        from ..jobs import run_shot
        from ..jobs.demo_shot import DEMO_BAND, DEMO_GRADE, write_demo_inputs
        from ..spec import ShotSpec

        plate, matte = write_demo_inputs(work, frames=FRAMES, width=WIDTH, height=HEIGHT)
        out = str(work / "fused" / "fused.####.exr")
        run_shot(
            ShotSpec(
                plate=plate,
                matte=matte,
                out=out,
                grade=DEMO_GRADE,
                band=DEMO_BAND,
                engine=ENGINE,
                device=device,
            )
        )
    except Exception as error:  # noqa: BLE001 - reported below; the server serves on
        failure = f"{type(error).__name__}: {error}"
    finally:
        _warming.reset(token)
        shutil.rmtree(work, ignore_errors=True)
    if failure is not None:
        event("warm_up.failed", logging.WARNING, engine=ENGINE, error=failure)
        return False
    event("warmed", engine=ENGINE, seconds=round(time.perf_counter() - started, 3))
    return True


def warm_up_in_background(folder: Path, device: str = "auto") -> threading.Thread:
    """:func:`warm_up` on a daemon thread (a server stopped meanwhile does not wait for it)."""
    thread = threading.Thread(target=warm_up, args=(folder, device), name="movingcolor-warm-up", daemon=True)
    thread.start()
    return thread
