"""Structured logs: one event per line, as ``key=value`` text or JSON, on stderr.

``movingcolor: job.done job=3f2a client=nuke@ws12 method=FuseShot frames=8 seconds=1.9``
"""

from __future__ import annotations

import json
import logging
import time

log = logging.getLogger("movingcolor.service")


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
    """``json``: one object per line; ``text``: ``movingcolor: event key=value ...``."""

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
            if record.exc_info:
                body["traceback"] = self.formatException(record.exc_info)
            return json.dumps(body, default=str)
        parts = [record.getMessage()]
        parts += [f"{key}={_text_value(value)}" for key, value in fields.items() if value is not None]
        line = "movingcolor: " + " ".join(parts)
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


def configure(style: str) -> None:
    """Use the event format on every handler of the root logger (the command line set them up)."""
    formatter = EventFormatter(style)
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig()
    for handler in root.handlers:
        handler.setFormatter(formatter)
