"""Structured logs: one event per line, as ``key=value`` text or JSON, on stderr.

``movingcolor: job.done job=3f2a client=nuke@ws12 method=FuseShot frames=8 seconds=1.9``
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator

log = logging.getLogger("movingcolor.service")

#: The id of the job whose work runs in this context: its call's (:func:`job_context`), the threads
#: it starts in a context of its own (:func:`job_thread_context`) and those that copy their
#: submitter's (``frames.worker.ContextWorker``). A JSON log names it on every record made there:
#: the shot's own lines (a colourspace, a band too wide) came without it, and with jobs running at
#: once an admin could not tell whose they were.
current_job: contextvars.ContextVar[str | None] = contextvars.ContextVar("movingcolor_job", default=None)


#: How long a warning logged for a client's window stays out of the log (at debug level) when the
#: client's next windows repeat it: a host scrubbing a shot warned of the same band on every frame,
#: 292 lines for 200 windows, about 8 MB a day of scrubbing.
REPEAT_SECONDS = 600.0
#: Distinct (client, warning) pairs remembered: beyond it the oldest is forgotten (and logged again).
REPEATS_REMEMBERED = 4096
#: The client whose window runs in this context (:func:`quiet_repeats`); None where every warning is
#: logged (a shot's: one shot is one set of warnings).
_quiet_for: contextvars.ContextVar[str | None] = contextvars.ContextVar("movingcolor_quiet_for", default=None)


def job_context(job_id: str) -> contextvars.Context:
    """A copy of this context in which the work of ``job_id`` runs (``context.run``)."""
    context = contextvars.copy_context()
    context.run(current_job.set, job_id)
    return context


def job_thread_context(job_id: str) -> contextvars.Context:
    """The context a thread started for ``job_id`` runs in (``target=context.run``): empty as a new
    thread's own is, but for the job's id."""
    context = contextvars.Context()
    context.run(current_job.set, job_id)
    return context


def event(name: str, level: int = logging.INFO, **fields) -> None:
    """Log the event ``name`` with ``fields``."""
    log.log(level, name, extra={"fields": fields})


class RepeatedWarnings:
    """The warnings logged lately for each client: one seen again within ``period`` seconds of when
    it was logged is a repeat. At most ``most`` pairs are held, the oldest forgotten first."""

    def __init__(self, period: float = REPEAT_SECONDS, most: int = REPEATS_REMEMBERED):
        self.period = period
        self.most = most
        self._logged: OrderedDict[tuple[str, str], float] = OrderedDict()  # oldest first
        self._lock = threading.Lock()

    def seen(self, client: str, text: str, now: float | None = None) -> bool:
        """Whether ``text`` was logged for ``client`` within the period; if not, it is being now."""
        now = time.monotonic() if now is None else now
        key = (client, text)
        with self._lock:
            logged = self._logged.get(key)
            if logged is not None and now - logged < self.period:
                return True
            self._logged[key] = now
            self._logged.move_to_end(key)
            while self._logged and (
                len(self._logged) > self.most or now - next(iter(self._logged.values())) >= self.period
            ):
                self._logged.popitem(last=False)
            return False


_REPEATS = RepeatedWarnings()


class _RepeatsToDebug(logging.Filter):
    """On a handler: a warning a client's windows repeat within :data:`REPEAT_SECONDS` becomes a
    debug record, written where the handler and its logger take debug records (``serve -v``).

    The decision is made once a record, by the first handler to see it, and kept on the record:
    the handlers after it see the record already demoted."""

    def __init__(self, handler: logging.Handler):
        super().__init__()
        self.handler = handler

    def filter(self, record: logging.LogRecord) -> bool:
        repeat = getattr(record, "movingcolor_repeat", None)
        if repeat is None:
            repeat = _is_repeat(record)
            record.movingcolor_repeat = repeat
            if repeat:
                record.levelno, record.levelname = logging.DEBUG, logging.getLevelName(logging.DEBUG)
        if not repeat:
            return True
        # The level checks were made for a warning; made again for what it now is.
        return self.handler.level <= logging.DEBUG and logging.getLogger(record.name).isEnabledFor(
            logging.DEBUG
        )


def _is_repeat(record: logging.LogRecord) -> bool:
    client = _quiet_for.get()
    # The server's own events (a limit, a refusal) are the operator's, each one a distinct event.
    if client is None or record.levelno != logging.WARNING or record.name.startswith(log.name):
        return False
    if record.name != "movingcolor" and not record.name.startswith("movingcolor."):
        return False
    try:
        text = record.getMessage()
    except Exception:  # a malformed record is the log's problem: written as it would be
        return False
    return _REPEATS.seen(client, text)


def _demote_repeats_on_handlers() -> None:
    """Put the filter on the handlers the package's warnings reach: the root logger's, set up by the
    command line or by whoever runs a server in process (looked at each time: they may change), and
    Python's last resort, which writes them where no logging was set up."""
    handlers = list(logging.getLogger().handlers)
    if logging.lastResort is not None:
        handlers.append(logging.lastResort)
    for handler in handlers:
        if not any(isinstance(f, _RepeatsToDebug) for f in handler.filters):
            handler.addFilter(_RepeatsToDebug(handler))


@contextlib.contextmanager
def quiet_repeats(client: str) -> Iterator[None]:
    """While the block runs (in this context and the threads that copy it), a warning logged for
    ``client`` that was logged for it within :data:`REPEAT_SECONDS` is written at debug level: a
    window's warnings travel to the client in its summary every window, and the log keeps one."""
    _demote_repeats_on_handlers()
    token = _quiet_for.set(client)
    try:
        yield
    finally:
        # Ended from another context (a generator closed by another thread): nothing of this
        # call's to reset there.
        with contextlib.suppress(ValueError):
            _quiet_for.reset(token)


def _text_value(value) -> str:
    """A value as it stands in a text line: quoted (JSON's escapes) where it is empty or holds a
    space, a quote, ``=`` or anything unprintable: a client's path holding a newline wrote a line
    of its own, an event the server never logged."""
    text = str(value)
    plain = text and text.isprintable() and not any(c in text for c in ' "=')
    return text if plain else json.dumps(text)


class EventFormatter(logging.Formatter):
    """``json``: one object per line, with the ``job`` of the context the record was made in where
    there is one; ``text``: ``movingcolor: event key=value ...``."""

    def __init__(self, style: str = "text"):
        super().__init__()
        self.style = style

    def format(self, record: logging.LogRecord) -> str:
        fields = dict(getattr(record, "fields", {}) or {})
        if self.style == "json":
            body = {
                "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(record.created))
                + f".{int(record.msecs):03d}",
                "level": record.levelname.lower(),
                "event": record.getMessage() if "fields" in record.__dict__ else "log",
            }
            if "fields" not in record.__dict__:
                body["message"] = record.getMessage()
            body.update({k: v for k, v in fields.items() if v is not None})
            # Read as the record is formatted, on the thread that logged it (a stream handler's way).
            job = current_job.get()
            if job is not None and "job" not in body:
                body["job"] = job
            if record.exc_info:
                body["traceback"] = self.formatException(record.exc_info)
            return json.dumps(body, default=str)
        parts = [record.getMessage()]
        parts += [f"{key}={_text_value(value)}" for key, value in fields.items() if value is not None]
        line = "movingcolor: " + " ".join(parts)
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


def json_event(name: str, level: int = logging.INFO, **fields) -> str:
    """The JSON line of the event ``name`` with ``fields``, as a JSON log writes it, for a line
    written without the logging set up (the command line's own failures)."""
    record = logging.LogRecord(log.name, level, __file__, 0, name, None, None)
    record.fields = fields
    return EventFormatter("json").format(record)


def configure(style: str) -> None:
    """Use the event format on every handler of the root logger (the command line set them up)."""
    formatter = EventFormatter(style)
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig()
    for handler in root.handlers:
        handler.setFormatter(formatter)
