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
and the colours' spread, between one pair of frames; motion within a shot moves the first more
than the second, and a fade or a change of exposure changes both a little for every pair of
frames, so a cut's score must also stand out from the pairs' beside it (``STANDS_OUT``).
``python -m movingcolor.bench.cut_scores`` gives the margin on the shared real clips.
"""

from __future__ import annotations

import itertools
from collections.abc import Hashable, Sequence

import numpy as np

from ..lru_cache import LruCache
from .steady_matte import display_reduced

#: Frames are compared reduced to about this many pixels on their long side.
SIDE = 64
BINS = 16
#: Consecutive frames that score above this (and ``STANDS_OUT`` times the pairs beside them) are
#: taken to be two shots. On the shared real clips
#: (``python -m movingcolor.bench.cut_scores``: 40 frames of each of 15 clips) the highest score
#: between consecutive frames of a clip is 0.335 (motocross-jump, a fast pan; the others 0.04-0.15),
#: and of 6720 pairs of frames of two clips 0.36% score no higher than this (the lowest 0.318). A
#: split where there is no cut takes context from the frames beside it in a shot, the common case;
#: a cut missed is what was done before.
CUT_SCORE = 0.36

#: A cut's score stands out from the scores of the pairs beside it by at least this factor: a fade
#: or a slow change of exposure changes every pair of frames alike, a cut one pair alone.
STANDS_OUT = 2.0
#: What an engine keeps of frames reduced for the score: a 64x36 frame is 27 KB.
REDUCED_BYTES = 4 << 20


def reduced(plate) -> np.ndarray:
    """``plate`` ``(H, W, 3)`` (display-encoded, or converted on demand) as the cut score reads it:
    about ``SIDE`` pixels on its long side, each the mean of its area (every pixel counts: fine
    texture sampled every few pixels flickers as it moves, and a pan of stripes scored as a cut)."""
    height, width = plate.shape[:2]
    scale = min(1.0, SIDE / max(height, width))
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return np.clip(np.nan_to_num(display_reduced(plate, size), nan=0.0, posinf=1.0), 0.0, 1.0)


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

    frames = [kept_reduction(plates[t], None if keys is None else keys[t], cache) for t in range(len(plates))]
    # scores[t]: frame t against frame t + 1.
    scores = [cut_score(a, b) for a, b in itertools.pairwise(frames)]

    def is_cut(t: int) -> bool:
        beside = scores[max(0, t - 1) : t] + scores[t + 1 : t + 2]
        return scores[t] > CUT_SCORE and all(scores[t] >= STANDS_OUT * other for other in beside)

    starts = [0] + [t + 1 for t in range(len(scores)) if is_cut(t)]
    return [range(start, stop) for start, stop in zip(starts, starts[1:] + [len(frames)], strict=True)]


def kept_reduction(plate, key: Hashable | None, cache: LruCache | None) -> np.ndarray:
    """:func:`reduced` ``plate``, kept in ``cache`` under its frame's ``key`` (None: not kept)."""
    value = None if key is None or cache is None else cache.get(("cut score", key))
    if value is None:
        value = reduced(plate)
        if key is not None and cache is not None:
            cache.put(("cut score", key), value, value.nbytes)
    return value


def same_shot(first: np.ndarray, second: np.ndarray) -> bool:
    """Whether two :func:`reduced` frames far apart in time (a window's global frame against its
    nearest local one) may be of one shot: no score a cut has between them."""
    return cut_score(first, second) <= CUT_SCORE


def shot_holding(index: int, plates: Sequence, keys=None, cache: LruCache | None = None) -> range:
    """The run of :func:`shots` that holds frame ``index``."""
    return next(run for run in shots(plates, keys, cache) if index in run)
