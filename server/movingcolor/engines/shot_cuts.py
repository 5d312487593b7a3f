"""Cuts between a window's frames: where consecutive plates belong to different shots.

A plate that is an edit (a conformed flat file, a timeline rendered whole) holds several shots,
and a window of the network's that spans a cut showed each frame the other shot's frames as its
context: on the shared real clips joined at a cut (parkour then breakdance, a rough matte, the
warm grade), the band's colour error of the three frames after the cut doubled (band ΔE00 0.27
-> 0.50 against each shot fused alone). The network's windows are split at each cut
(``MovingColorEngine.fuse_window``), and the matte steadied over time and the temporal averages
never reach across one.

Two frames are compared reduced to about ``SIDE`` pixels on their long side (an area average, in
the display encoding): the total variation between their ``BINS``-bin R, G and B histograms (the
mean over the channels) plus their mean absolute difference. A cut changes both what is where
and the colours' spread; motion within a shot moves the first more than the second, and a fade
changes both a little each frame. ``python -m movingcolor.bench.cut_scores`` gives the margin on
the shared real clips.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence

import numpy as np

from ..lru_cache import LruCache
from .steady_matte import display_reduced

#: Frames are compared reduced to about this many pixels on their long side.
SIDE = 64
BINS = 16
#: Consecutive frames that score above this are taken to be two shots. On the shared real clips
#: (``python -m movingcolor.bench.cut_scores``: 40 frames of each of 15 clips) the highest score
#: between consecutive frames of a clip is 0.335 (motocross-jump, a fast pan; the others 0.04-0.15),
#: and of 6720 pairs of frames of two clips 0.36% score no higher than this (the lowest 0.318). A
#: split where there is no cut takes context from the frames beside it in a shot, the common case;
#: a cut missed is what was done before.
CUT_SCORE = 0.36

#: What an engine keeps of frames reduced for the score: a 64x36 frame is 27 KB.
REDUCED_BYTES = 4 << 20


def reduced(plate) -> np.ndarray:
    """``plate`` ``(H, W, 3)`` (display-encoded, or converted on demand) as the cut score reads it:
    about ``SIDE`` pixels on its long side, averaged from every few rows and columns (a 4K frame
    read whole costs 30 ms, most of a frame's memory read for a 64-pixel picture)."""
    height, width = plate.shape[:2]
    step = max(1, min(height, width) // (2 * SIDE))
    scale = min(1.0, SIDE / max(height, width))
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return display_reduced(plate, size, step)


def cut_score(first: np.ndarray, second: np.ndarray) -> float:
    """How unlike each other two :func:`reduced` frames are: 0 for the same picture."""

    def histograms(image: np.ndarray) -> np.ndarray:
        counts = [np.histogram(image[..., c], bins=BINS, range=(0.0, 1.0))[0] for c in range(3)]
        return np.stack(counts) / image[..., 0].size

    spread = 0.5 * np.abs(histograms(first) - histograms(second)).sum(axis=1).mean()
    return float(spread + np.abs(first - second).mean())


def shots(
    plates: Sequence, keys: Sequence[Hashable | None] | None = None, cache: LruCache | None = None
) -> list[range]:
    """The runs of consecutive frames of ``plates`` (each ``(H, W, 3)``) between cuts, in order:
    one run of them all where there is no cut. With ``keys`` (one per plate, None for none) and a
    ``cache``, each named frame is reduced once for the windows that share it."""

    def low(t: int) -> np.ndarray:
        key = None if keys is None or cache is None else keys[t]
        value = None if key is None else cache.get(("cut score", key))
        if value is None:
            value = reduced(plates[t])
            if key is not None:
                cache.put(("cut score", key), value, value.nbytes)
        return value

    frames = [low(t) for t in range(len(plates))]
    starts = [0] + [t for t in range(1, len(frames)) if cut_score(frames[t - 1], frames[t]) > CUT_SCORE]
    return [range(start, stop) for start, stop in zip(starts, starts[1:] + [len(frames)], strict=True)]


def shot_holding(index: int, plates: Sequence, keys=None, cache: LruCache | None = None) -> range:
    """The run of :func:`shots` that holds frame ``index``."""
    return next(run for run in shots(plates, keys, cache) if index in run)
