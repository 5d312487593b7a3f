"""Following the object's true edge through a generated shot, so the temporal strip and
the movie's zoom can hold it still: whatever then moves at the edge is the seam's doing."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class EdgeTrack:
    """Where the object's left edge crosses ``row`` in each frame (sub-pixel ``x``)."""

    row: int
    x: np.ndarray  # (T,) float


def track_left_edge(alpha: np.ndarray) -> EdgeTrack:
    """The left edge of the object in ``alpha`` (``(T, H, W)`` true soft alpha, 0..1),
    on the row through the object's middle: the row its mean centroid lies on, moved
    to the nearest row the object covers in every frame."""
    covered = (alpha >= 0.5).any(axis=2)  # (T, H): rows the object reaches in each frame
    always = np.flatnonzero(covered.all(axis=0))
    if always.size == 0:
        raise ValueError("the object leaves every row in some frame: there is no edge to follow")
    rows = np.arange(alpha.shape[1], dtype=np.float64)
    weights = alpha.sum(axis=2)  # (T, H)
    centre = float((weights * rows).sum() / max(weights.sum(), 1e-8))
    row = int(always[np.argmin(np.abs(always - centre))])
    return EdgeTrack(row, np.array([first_crossing(line) for line in alpha[:, row]]))


def first_crossing(line: np.ndarray, level: float = 0.5) -> float:
    """The first ``x`` where ``line`` reaches ``level``, interpolated between pixels;
    NaN where it never does."""
    reached = line >= level
    if not reached.any():
        return float("nan")
    x = int(np.argmax(reached))
    if x == 0:
        return 0.0
    before, after = float(line[x - 1]), float(line[x])
    return x - 1 + (level - before) / (after - before)
