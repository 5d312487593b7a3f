"""Progress on stderr (``--json`` keeps stdout clean).

On a terminal: a tqdm bar. Elsewhere (farm logs, pipes, a terminal that says it draws nothing:
``TERM=dumb`` or unset): one line per frame with the frame number and a percentage, which log
parsers and farm monitors can read. ``-q`` shows neither.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tqdm import tqdm

log = logging.getLogger("movingcolor")


class FrameProgress:
    """A callable ``(done, total, frame)`` that reports each finished frame."""

    def __init__(self, label: str, interactive: bool | None = None):
        self.label = label
        self.interactive = _draws_a_bar() if interactive is None else interactive
        self.bar: tqdm | None = None

    def __call__(self, done: int, total: int, frame: int) -> None:
        if not log.isEnabledFor(logging.INFO):
            return  # -q: warnings and errors only (a bar drew 10 KB of carriage returns into a pty's log)
        if not self.interactive:
            log.info("%s: frame %d done (%d/%d, %d%%)", self.label, frame, done, total, 100 * done // total)
            return
        if self.bar is None:
            # Imported for a bar alone: tqdm's import reads package metadata (20-25 ms), paid by
            # every farm task and benchmark run that logs lines instead.
            from tqdm import tqdm

            self.bar = tqdm(total=total, desc=self.label, unit="frame", file=sys.stderr)
        self.bar.set_postfix_str(f"frame {frame}")
        self.bar.update(1)
        if done == total:
            self.close()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def _draws_a_bar() -> bool:
    """Whether stderr is a terminal that draws: a farm that runs tasks on a pseudo-terminal often
    leaves TERM unset or ``dumb``, and its log would fill with a bar's carriage returns."""
    return sys.stderr.isatty() and os.environ.get("TERM", "dumb") not in ("", "dumb")
