"""The true average of overlapping predictions, and when each frame is final."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .plan import Window

AlphaToRgb = Callable[[int, np.ndarray, int], np.ndarray]


class OverlapAverage:
    """Sums predictions per frame and releases each frame after its last window.

    Every prediction of a frame carries the same weight, so a frame seen by
    three windows is the mean of three predictions (not a running 0.5/0.5 blend
    that would favour the latest window).
    """

    def __init__(self, windows: list[Window], alpha_to_rgb: AlphaToRgb | None = None):
        """``alpha_to_rgb(frame, alpha_sum, count)`` turns the sum of ``count`` blend weights of a
        frame into the sum of the colours they give, so a frame that some windows predict as
        blend weights and others as colours (their heads differ) is still one true average."""
        self.alpha_to_rgb = alpha_to_rgb
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
            if self.alpha_to_rgb is None:
                raise ValueError(
                    f"frame {frame}: cannot average an {kind} prediction with an {self.kinds[frame]} one"
                )
            if kind == "alpha":
                kind, value = "rgb", self.alpha_to_rgb(frame, value, 1)
            else:
                alpha_sum = self.sums[frame].astype(np.float64)
                self.sums[frame] = self.alpha_to_rgb(frame, alpha_sum, self.counts[frame])
        self.kinds[frame] = kind
        if frame not in self.sums:
            # Kept as it is until a second prediction comes: most frames of a centred plan have
            # one, and a full-frame float64 copy and division each cost more than the blend.
            self.sums[frame] = value if value.dtype != np.float64 else value.copy()
        elif self.sums[frame].dtype != np.float64:
            self.sums[frame] = self.sums[frame].astype(np.float64) + value
        else:
            self.sums[frame] += value
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
            total, count = self.sums.pop(frame), self.counts.pop(frame)
            # One prediction is its own mean: float32 to float64 and back is exact.
            mean = total.astype(np.float32, copy=False) if count == 1 else (total / count).astype(np.float32)
            results.append((frame, self.kinds.pop(frame), mean))
        return results
