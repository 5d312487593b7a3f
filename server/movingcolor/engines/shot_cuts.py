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
and the colours' spread; motion within a shot moves the first more than the second. A fade, a
flash or a change of exposure changes the picture's values but not their order, so a cut must also
change the order (``GAIN_FREE_CUT_SCORE``).
``python -m movingcolor.bench.cut_scores`` gives the margin on the shared real clips.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence

import numpy as np

from ..lru_cache import LruCache
from .steady_matte import display_reduced

#: Frames are compared reduced to about this many pixels on their long side.
SIDE = 64
BINS = 16
#: Consecutive frames that score above this (and differ by ``GAIN_FREE_CUT_SCORE`` in their values'
#: order) are taken to be two shots. On the shared real clips
#: (``python -m movingcolor.bench.cut_scores``: 40 frames of each of 15 clips) the highest score
#: between consecutive frames of a clip is 0.335 (motocross-jump, a fast pan; the others 0.04-0.15),
#: and of 6720 pairs of frames of two clips 0.36% score no higher than this (the lowest 0.318). A
#: split where there is no cut takes context from the frames beside it in a shot, the common case;
#: a cut missed is what was done before.
CUT_SCORE = 0.36

#: A cut's frames also differ by at least this in the order of their pixels' values: each channel's
#: values replaced by their rank in the frame (0..1), the mean absolute difference of the ranks. A
#: fade, a flash or a change of exposure, burnt-out highlights too, changes values but keeps their
#: order. On the shared clips every pair of frames of two clips that scores over ``CUT_SCORE``
#: differs by 0.209 or more here, and a frame raised by 1 to 2 stops (clipped as a display frame
#: is) against the next frame of its clip by 0.189 at most.
GAIN_FREE_CUT_SCORE = 0.2
#: A frame darker than this on average is no evidence of a cut (a fade to black, a black slug).
DARKEST_MEAN = 0.02
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
    return runs_between_cuts(
        [kept_reduction(plates[t], None if keys is None else keys[t], cache) for t in range(len(plates))]
    )


def runs_between_cuts(frames: Sequence[np.ndarray]) -> list[range]:
    """:func:`shots` of consecutive frames already :func:`reduced`."""
    starts = [0] + [t + 1 for t in range(len(frames) - 1) if is_cut(frames[t], frames[t + 1])]
    return [range(start, stop) for start, stop in zip(starts, starts[1:] + [len(frames)], strict=True)]


def is_cut(first: np.ndarray, second: np.ndarray) -> bool:
    """Whether two :func:`reduced` frames are of two shots: a score over ``CUT_SCORE``, their values'
    order differing by over ``GAIN_FREE_CUT_SCORE``, neither all but black. Each pair is judged on
    its own, so every window that holds a pair of frames decides it alike."""
    if min(float(first.mean()), float(second.mean())) < DARKEST_MEAN:
        return False  # a frame that is all but black (a fade's last) holds no picture to compare
    return cut_score(first, second) > CUT_SCORE and (
        float(np.abs(_ranks(first) - _ranks(second)).mean()) > GAIN_FREE_CUT_SCORE
    )


def _ranks(low: np.ndarray) -> np.ndarray:
    """Each channel of ``low`` ``(h, w, 3)`` as its values' ranks in it, 0..1 (tied values share the
    middle of their ranks)."""
    flat = low.reshape(-1, low.shape[-1])
    ranks = np.empty(flat.shape, np.float32)
    for channel in range(flat.shape[1]):
        values, where, counts = np.unique(flat[:, channel], return_inverse=True, return_counts=True)
        middles = np.cumsum(counts) - counts / 2.0
        ranks[:, channel] = middles[where.reshape(-1)] / len(flat)
    return ranks.reshape(low.shape)


def kept_reduction(plate, key: Hashable | None, cache: LruCache | None) -> np.ndarray:
    """:func:`reduced` ``plate``, kept in ``cache`` under its frame's ``key`` (None: not kept)."""
    value = None if key is None or cache is None else cache.get(("cut score", key))
    if value is None:
        value = reduced(plate)
        if key is not None and cache is not None:
            cache.put(("cut score", key), value, value.nbytes)
    return value


def shot_holding(index: int, plates: Sequence, keys=None, cache: LruCache | None = None) -> range:
    """The run of :func:`shots` that holds frame ``index``."""
    return next(run for run in shots(plates, keys, cache) if index in run)
