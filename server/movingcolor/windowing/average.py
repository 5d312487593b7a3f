"""The true average of overlapping predictions, and when each frame is final."""

from __future__ import annotations

import numpy as np

from .plan import Window


class OverlapAverage:
    """Sums predictions per frame and releases each frame after its last window.

    Every prediction of a frame carries the same weight, so a frame seen by
    three windows is the mean of three predictions (not a running 0.5/0.5 blend
    that would favour the latest window).
    """

    def __init__(self, windows: list[Window]):
        self.last_window: dict[int, int] = {}
        self.uses: dict[int, int] = {}
        for index, window in enumerate(windows):
            for frame in window.outputs:
                self.last_window[frame] = index
                self.uses[frame] = self.uses.get(frame, 0) + 1
        self.sums: dict[int, np.ndarray] = {}
        self.counts: dict[int, int] = {}
        self.kinds: dict[int, str] = {}

    def add(self, frame: int, kind: str, value: np.ndarray) -> None:
        if frame in self.kinds and self.kinds[frame] != kind:
            raise ValueError(
                f"frame {frame}: cannot average an {kind} prediction with an {self.kinds[frame]} one"
            )
        self.kinds[frame] = kind
        if frame in self.sums:
            self.sums[frame] += value
        else:
            self.sums[frame] = value.astype(np.float64)
        self.counts[frame] = self.counts.get(frame, 0) + 1

    def finished(self, window_index: int) -> list[tuple[int, str, np.ndarray]]:
        """Frames whose last window was ``window_index``, averaged, in frame order."""
        done = sorted(f for f, last in self.last_window.items() if last == window_index)
        results = []
        for frame in done:
            if self.counts.get(frame) != self.uses[frame]:
                raise RuntimeError(
                    f"frame {frame}: {self.counts.get(frame)} of {self.uses[frame]} predictions"
                )
            mean = (self.sums.pop(frame) / self.counts.pop(frame)).astype(np.float32)
            results.append((frame, self.kinds.pop(frame), mean))
        return results
