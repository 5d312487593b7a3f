"""Structured logs: one event per line, as ``key=value`` text or JSON, on stderr.

``movingcolor: job.done job=3f2a client=nuke@ws12 method=FuseShot frames=8 seconds=1.9``
"""

from __future__ import annotations

import contextvars
import json
import logging
import time

log = logging.getLogger("movingcolor.service")

#: The id of the job whose work runs in this context: its call's (:func:`job_context`), the threads
#: it starts in a context of its own (:func:`job_thread_context`) and those that copy their
#: submitter's (``frames.worker.ContextWorker``). A JSON log names it on every record made there:
#: the shot's own lines (a colourspace, a band too wide) came without it, and with jobs running at
#: once an admin could not tell whose they were.
current_job: contextvars.ContextVar[str | None] = contextvars.ContextVar("movingcolor_job", default=None)


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
