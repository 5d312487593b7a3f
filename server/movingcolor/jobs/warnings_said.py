"""What a shot warned of: the warnings logged while it is fused, for its report.

In process, ``movingcolor fuse`` prints its warnings (a full matte, a multi-matte, a colourspace
doubt, channels left unread) as they come; on a server they reached the server's log alone, and a
client (Nuke, ``fuse --server``) never saw them. A run collects them in a context variable, which
the threads that prepare its frames inherit (``ContextWorker``), and its report (a server's summary)
carries them.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
from collections.abc import Iterator
from contextlib import contextmanager

#: The warnings of the job running in this context; None outside a job.
_WARNINGS: contextvars.ContextVar[list[str] | None] = contextvars.ContextVar("job_warnings", default=None)
#: At most this many are kept a job: a warning per frame would otherwise grow without bound.
MOST = 32
#: The server's own events (a refused call, a cancelled job) are the operator's, not the shot's.
_SERVER_EVENTS = "movingcolor.service"


#: Said in place of the warnings past ``MOST``.
MORE = "more warnings than these: the server's log has every one"


class _Collector(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        if not _other_handlers(record):
            # Alone on the way up, this handler would keep Python's last resort (stderr) from
            # printing a warning of a process that set no logging up (a server made in process).
            last = logging.lastResort
            if last is not None and record.levelno >= last.level:
                last.handle(record)
        held = _WARNINGS.get()
        if held is None or record.levelno < logging.WARNING or record.name.startswith(_SERVER_EVENTS):
            return
        try:
            message = record.getMessage()
        except Exception:  # a malformed record is the log's problem, not the job's
            return
        if message in held:
            return
        if len(held) < MOST:
            held.append(message)
        elif held[-1] != MORE:
            held.append(MORE)


def _other_handlers(record: logging.LogRecord) -> bool:
    """Whether a handler other than the collector takes ``record`` on its logger's way up."""
    logger: logging.Logger | None = logging.getLogger(record.name)
    while logger is not None:
        if any(handler is not _COLLECTOR for handler in logger.handlers):
            return True
        logger = logger.parent if logger.propagate else None
    return False


_COLLECTOR = _Collector()


def install() -> None:
    """Collect jobs' warnings from the package's loggers (once per process)."""
    logger = logging.getLogger("movingcolor")
    if _COLLECTOR not in logger.handlers:
        logger.addHandler(_COLLECTOR)


@contextmanager
def collected(held: list[str] | None = None) -> Iterator[list[str]]:
    """The warnings logged in this context (and the threads that inherit it) until the block ends,
    into ``held``; unless given, into the list already collecting them here (a shot planned and run
    within one collection), else a new one."""
    install()
    active = _WARNINGS.get()
    if held is None and active is not None:
        yield active
        return
    held = [] if held is None else held
    token = _WARNINGS.set(held)
    try:
        yield held
    finally:
        # Ended from another context (a generator closed by another thread), there is nothing of
        # this job's to reset there: that context may be another job's.
        with contextlib.suppress(ValueError):
            _WARNINGS.reset(token)
