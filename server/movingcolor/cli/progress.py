"""Progress on stderr (``--json`` keeps stdout clean).

On a terminal: a tqdm bar. Elsewhere (farm logs, pipes): one line per frame with
the frame number and a percentage, which log parsers and farm monitors can read.
"""

from __future__ import annotations

import logging
import sys

from tqdm import tqdm

log = logging.getLogger("movingcolor")


class FrameProgress:
    """A callable ``(done, total, frame)`` that reports each finished frame."""

    def __init__(self, label: str, interactive: bool | None = None):
        self.label = label
        self.interactive = sys.stderr.isatty() if interactive is None else interactive
        self.bar: tqdm | None = None

    def __call__(self, done: int, total: int, frame: int) -> None:
        if not self.interactive:
            log.info("%s: frame %d done (%d/%d, %d%%)", self.label, frame, done, total, 100 * done // total)
            return
        if self.bar is None:
            self.bar = tqdm(total=total, desc=self.label, unit="frame", file=sys.stderr)
        self.bar.set_postfix_str(f"frame {frame}")
        self.bar.update(1)
        if done == total:
            self.close()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
