"""Progress bars for long work (on stderr, so ``--json`` stdout stays clean)."""

from __future__ import annotations

import sys

from tqdm import tqdm


class FrameProgress:
    """A callable ``(done, total, frame)`` that drives a tqdm bar."""

    def __init__(self, label: str, enabled: bool = True):
        self.label = label
        self.enabled = enabled
        self.bar: tqdm | None = None

    def __call__(self, done: int, total: int, frame: int) -> None:
        if not self.enabled:
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
