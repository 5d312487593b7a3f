"""Progress and errors go to Resolve's console (standard output) and to a log file."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

LOGGER = "movingcolor.resolve"


class _Console(logging.StreamHandler):
    """Whatever ``sys.stdout`` is when a record comes: Resolve's Console replaces it per script run."""

    movingcolor_console = True

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stdout  # not setStream: it would flush the stream of a finished run
        super().emit(record)


def bridge_logger(log_file: str | None) -> logging.Logger:
    """The bridge's logger, writing to the console and (when given) ``log_file``; set up once per file."""
    logger = logging.getLogger(LOGGER)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    formatter = logging.Formatter("%(asctime)s MovingColor %(levelname)s %(message)s", "%Y-%m-%d %H:%M:%S")
    if not any(getattr(h, "movingcolor_console", False) for h in logger.handlers):
        console = _Console(sys.stdout)
        console.setFormatter(formatter)
        logger.addHandler(console)
    if log_file:
        path = Path(log_file).expanduser().absolute()
        for handler in [h for h in logger.handlers if isinstance(h, logging.FileHandler)]:
            if handler.baseFilename != str(path):  # one log file at a time: the settings' one
                logger.removeHandler(handler)
                handler.close()
        if not any(isinstance(h, logging.FileHandler) for h in logger.handlers):
            path.parent.mkdir(parents=True, exist_ok=True)
            handler = logging.FileHandler(path)
            handler.setFormatter(formatter)
            logger.addHandler(handler)
    return logger
