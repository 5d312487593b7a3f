"""The guided filter (He, Sun and Tang, "Guided Image Filtering", TPAMI 2013) and its temporal
smoothing, as the guided engine and the network's guided start use them.

Spatially, the filter makes the matte follow the plate's own edges inside the band.
Temporally, each refined matte is averaged with its neighbours' using weights
that fall off where the plate changed between the frames, so a chattering
matte settles on static edges without dragging over moving ones.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from ..color.symmetric3 import PAIRS, regularised, solve_symmetric3
from ..compute_pool import map_parts, split_count


def _box(image: np.ndarray, radius: int, lead: int = 0) -> np.ndarray:
    """Mean over ``(2r+1)²`` windows of the two axes after ``lead`` batch axes, edges reflected."""
    from scipy import ndimage  # not at the top: a hard-engine run never loads scipy

    size = [1] * lead + [2 * radius + 1] * 2 + [1] * (image.ndim - lead - 2)
    return ndimage.uniform_filter(image, size=size, mode="reflect")


def dot3(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``(a * b).sum(-1)`` over a last axis of three, added in the same order: numpy's reduction
    over so short an axis is several times slower than two additions."""
    return a[..., 0] * b[..., 0] + a[..., 1] * b[..., 1] + a[..., 2] * b[..., 2]


def guided_coefficients(
    guide: np.ndarray, source: np.ndarray, radius: int, eps: float
) -> tuple[np.ndarray, np.ndarray]:
    """The guided filter's smoothed linear model: ``q = sum(slope·guide) + offset``.

    ``guide (..., H, W, 3)`` and ``source (..., H, W)`` give ``slope (..., H, W, 3)`` and
    ``offset (..., H, W)``; leading axes are a batch of images filtered independently. The colour
    form of the filter uses a 3×3 covariance per window, so edges between regions of equal
    brightness but different colour (a red jacket on green grass) still steer the matte. The
    coefficients are smooth, so they can be computed at low resolution and upsampled (fast guided
    filter).
    """
    lead = source.ndim - 2
    mean_guide = _box(guide, radius, lead)  # (..., H, W, 3)
    mean_source = _box(source, radius, lead)  # (..., H, W)
    cross = _box(guide * source[..., None], radius, lead) - mean_guide * mean_source[..., None]
    products = np.stack([guide[..., i] * guide[..., j] for i, j in PAIRS], axis=-1)  # (..., H, W, 6)
    covariance = _box(products, radius, lead)
    entries = [covariance[..., k] - mean_guide[..., i] * mean_guide[..., j] for k, (i, j) in enumerate(PAIRS)]
    rhs = tuple(cross[..., i] for i in range(3))
    slope = np.stack(solve_symmetric3(regularised(entries, eps), rhs), axis=-1)
    offset = mean_source - dot3(slope, mean_guide)
    return _box(slope, radius, lead), _box(offset, radius, lead)


def guided_filter(guide: np.ndarray, source: np.ndarray, radius: int, eps: float) -> np.ndarray:
    """Edge-preserving smoothing of ``source`` (..., H, W) steered by a colour ``guide`` (..., H, W, 3)."""
    slope, offset = guided_coefficients(guide, source, radius, eps)
    return dot3(slope, guide) + offset


# The guided engine's settings, shared with the network's guided start.
EPS = 1e-4
TEMPORAL_RADIUS = 2
TEMPORAL_SIGMA = 1.0
CHANGE_SIGMA = 0.04


def refine_matte(guide: np.ndarray, matte: np.ndarray, band_pixels: float, eps: float = EPS) -> np.ndarray:
    """One frame's matte ``(..., H, W)`` refined against its plate ``guide (..., H, W, 3)`` (leading
    axes: a batch).

    The filter's window grows with the band: half its width, so the matte can move
    anywhere inside the band but no further.
    """
    return np.clip(guided_filter(guide, matte, refine_radius(band_pixels), eps), 0.0, 1.0).astype(np.float32)


def temporal_weight(
    offset: int, guide: np.ndarray, center_guide: np.ndarray, sigma: float, change_sigma: float
) -> np.ndarray:
    """``(H, W)`` weight of a neighbour ``offset`` frames away: falls off with time and
    wherever the plate changed, so static edges settle and moving ones do not drag."""
    difference = guide - center_guide
    change = dot3(difference, difference)
    return np.exp(-0.5 * (offset / sigma) ** 2 - 0.5 * change / change_sigma**2).astype(np.float32)


def temporal_average(
    refined: list[np.ndarray],
    guides: np.ndarray,
    center: int,
    sigma: float,
    change_sigma: float,
    offsets: Sequence[int] | None = None,
) -> np.ndarray:
    """Frame ``center``'s refined matte averaged with its neighbours' ``refined`` (plates ``guides``)
    under :func:`temporal_weight`; ``offsets``: each one's distance in frames from the centre, where
    the frames are not consecutive (a sequence with a gap), else their places in the list."""
    total = np.zeros(refined[center].shape, np.float32)
    weight_sum = np.zeros_like(total)
    for index, matte in enumerate(refined):
        offset = offsets[index] if offsets is not None else index - center
        weight = temporal_weight(offset, guides[index], guides[center], sigma, change_sigma)
        total += weight * matte
        weight_sum += weight
    return total / weight_sum


def guided_mattes(
    guides: np.ndarray,
    mattes: np.ndarray,
    band_pixels: list[float],
    eps: float = EPS,
    temporal_radius: int = TEMPORAL_RADIUS,
    temporal_sigma: float = TEMPORAL_SIGMA,
    change_sigma: float = CHANGE_SIGMA,
) -> np.ndarray:
    """The guided engine's refined mattes ``(T, H, W)`` for consecutive frames
    ``guides (T, H, W, 3)``, ``mattes (T, H, W)``; neighbours beyond the ends are absent."""
    refined = refine_mattes(guides, mattes, band_pixels, eps)
    return smooth_over_time(refined, guides, temporal_radius, temporal_sigma, change_sigma)


def refine_mattes(
    guides: np.ndarray, mattes: np.ndarray, band_pixels: Sequence[float], eps: float = EPS
) -> list[np.ndarray]:
    """:func:`refine_matte` of each frame (``guides (T, H, W, 3)``, ``mattes (T, H, W)``), the
    frames of one filter radius as one batch split over the cores: the same as one frame at a
    time, since a batch's frames are filtered independently."""
    by_radius: dict[int, list[int]] = {}
    for index, width in enumerate(band_pixels):
        by_radius.setdefault(refine_radius(width), []).append(index)
    refined: list[np.ndarray] = [np.empty(0, np.float32)] * len(band_pixels)
    for indices in by_radius.values():
        parts = np.array_split(np.asarray(indices), split_count(len(indices)))

        def refine_part(part: np.ndarray) -> np.ndarray:
            # All of a part's frames share one radius: the first's band gives it.
            return refine_matte(guides[part], mattes[part], band_pixels[part[0]], eps)

        for part, values in zip(parts, map_parts(refine_part, parts), strict=True):
            for index, frame in zip(part, values, strict=True):
                refined[index] = frame
    return refined


def smooth_over_time(
    refined: list[np.ndarray],
    guides: np.ndarray,
    temporal_radius: int = TEMPORAL_RADIUS,
    temporal_sigma: float = TEMPORAL_SIGMA,
    change_sigma: float = CHANGE_SIGMA,
    has_band: Sequence[bool] | None = None,
) -> np.ndarray:
    """Each of the consecutive frames' ``refined`` mattes ``(H, W)`` averaged with its
    neighbours' (:func:`temporal_average`) that have a band (``has_band``, each frame's; all where
    not given), as ``(T, H, W)``. The spatial refinement of a frame depends on that frame alone, so
    a caller may reuse it; this part depends on which neighbours are present."""
    present = list(has_band) if has_band is not None else [True] * len(refined)
    out = np.empty((len(refined), *refined[0].shape), np.float32)
    for center in range(len(refined)):
        around = range(max(0, center - temporal_radius), center + temporal_radius + 1)
        near = neighbours_with_band(center, around, present)
        # Each by its own distance: beside a frame left out, the next one is two frames away.
        out[center] = temporal_average(
            [refined[t] for t in near],
            guides[near],
            near.index(center),
            temporal_sigma,
            change_sigma,
            [t - center for t in near],
        )
    return out


def neighbours_with_band(center: int, near: Iterable[int], has_band: Sequence[bool]) -> list[int]:
    """The frames of ``near`` (indices within ``has_band``'s) whose matte has a band, and ``center``.
    A frame whose matte is off (empty, or the whole frame: a roto missed for a frame) is no evidence
    of the edge: averaged in, a full matte drew its neighbours' refined mattes towards 1 (the
    grade's halo outside the object four times as wide two frames away)."""
    return [t for t in near if t < len(has_band) and (t == center or has_band[t])]


def refine_radius(band_pixels: float) -> int:
    """The guided filter's window radius for a band: half its width, so the matte can move
    anywhere inside the band but no further."""
    return max(2, int(round(band_pixels / 2)))
