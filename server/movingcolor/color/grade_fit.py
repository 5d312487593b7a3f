"""Recover the graded plate when the host gives only its composite (``--edited``).

Inside the matte the composite *is* the graded plate; the band, though, also
needs graded colours just outside the matte, where the host left the plate. A
second-order polynomial colour mapping plate→composite is fitted on the matte's
confident interior and extrapolated to the rest of the frame. A grade that no
single colour mapping explains (one that changes across the object: a gradient
window, a vignette, a secondary that varies) gets a local fit instead: an affine
colour map per pixel, fitted on the interior pixels near it. Where the matte is
fully on, the host's own pixels are kept exactly.
"""

from __future__ import annotations

import numpy as np

from .symmetric3 import PAIRS, regularised, solve_symmetric3

# Fewer interior pixels than this and the fit is not trusted: the plate is used.
MIN_FIT_PIXELS = 64
_RIDGE = 1e-4
#: Where the matte is at least this (and under 1) the graded colour is solved from the composite, in
#: the space the host mixed it in (``E = m G + (1 - m) P``), not taken from a fit: the composite's
#: quantisation grows by at most 1/m there (four code values of an 8-bit composite; none of a float
#: one). On a grainy plate with a soft matte, 0.5 left pixels at mattes of 0.4 0.13 off; 0.25 none
#: over 0.1.
DIRECT_MATTE = 0.25


def _features(rgb: np.ndarray) -> np.ndarray:
    r, g, b = rgb[:, 0], rgb[:, 1], rgb[:, 2]
    ones = np.ones_like(r)
    return np.stack([r, g, b, r * r, g * g, b * b, r * g, r * b, g * b, ones], axis=1)


#: Pixels a colour mapping is applied to at a time: a 4K frame's ten features in double precision
#: at once were 700 MB, and making them cost seconds.
_MAPPED_PIXELS = 1 << 18


def _mapped(plate: np.ndarray, coefficients: np.ndarray) -> np.ndarray:
    """``plate (..., 3)`` through the polynomial colour mapping ``coefficients`` (``(10, 3)``, on
    :func:`_features`), float32: each channel's sum nested by colour, a block of pixels at a time,
    in double precision (as the fit)."""
    flat = plate.reshape(-1, 3)
    out = np.empty(flat.shape, np.float32)
    for start in range(0, len(flat), _MAPPED_PIXELS):
        block = flat[start : start + _MAPPED_PIXELS].astype(np.float64)
        r, g, b = block[:, 0], block[:, 1], block[:, 2]
        for c in range(3):
            a_r, a_g, a_b, a_rr, a_gg, a_bb, a_rg, a_rb, a_gb, a_1 = coefficients[:, c]
            out[start : start + _MAPPED_PIXELS, c] = (
                r * (a_r + a_rr * r + a_rg * g + a_rb * b)
                + g * (a_g + a_gg * g + a_gb * b)
                + b * (a_b + a_bb * b)
                + a_1
            )
    return out.reshape(plate.shape)


# Fits whose RMS residual on the interior exceeds this (in the 0..1 working
# encoding, about 5 code values of 8-bit) do not describe the host's grade.
GOOD_FIT_RMS = 0.02


def recover_graded(plate: np.ndarray, edited: np.ndarray, matte: np.ndarray) -> tuple[np.ndarray, float]:
    """Estimate the graded plate ``(H, W, 3)`` from plate, composite and matte.

    Returns the estimate and the fit's RMS residual on the matte's interior
    (infinite when there were too few interior pixels to fit). Fit and apply
    happen on whatever encoding the caller passes; a perceptual encoding keeps
    the polynomial well conditioned.
    """
    estimate, residual, _ = recover_graded_and_compare(plate, edited, matte)
    return estimate, residual


def recover_graded_and_compare(
    plate: np.ndarray, edited: np.ndarray, matte: np.ndarray, interior: np.ndarray | None = None
) -> tuple[np.ndarray, float, float]:
    """:func:`recover_graded`, and its fit's residual measured as :func:`recover_graded_locally`
    measures its own (:func:`residual_at_fit_scale`), for choosing between the two. ``interior``:
    the matte's :func:`fit_interior`, where the caller has it."""
    interior = fit_interior(matte) if interior is None else interior
    estimate = plate.copy()
    residual = at_fit_scale = float("inf")
    if interior.sum() >= MIN_FIT_PIXELS:
        x = _features(plate[interior].astype(np.float64))
        y = edited[interior].astype(np.float64)
        gram = x.T @ x + _RIDGE * len(x) * np.eye(x.shape[1])
        coefficients = np.linalg.solve(gram, x.T @ y)
        estimate = _mapped(plate, coefficients)
        residual = float(np.sqrt(np.mean((estimate[interior] - edited[interior]) ** 2)))
        at_fit_scale = residual_at_fit_scale(estimate, edited, matte, interior)
    full = matte >= 1.0
    estimate[full] = edited[full]
    return estimate, residual, at_fit_scale


# The local fit leans toward leaving colours' differences as they are (slope 1): flat
# interiors then only shift colour, they do not flatten the plate's texture.
_LOCAL_EPS = 1e-4


def fit_interior(matte: np.ndarray) -> np.ndarray:
    """The matte's confident interior, where the fits learn the grade: fully on, two pixels in from
    its edge. A frame's fits and bound take it from the caller where it has it: at 4K it costs a
    quarter of a second a frame."""
    from scipy import ndimage  # not at the top: a hard-engine run never loads scipy

    return ndimage.binary_erosion(matte >= 0.999, iterations=2)


# The per-pixel fit's window reaches at least this far (pixels), and past the band's width.
LOCAL_FIT_MIN_RADIUS = 8
# Frames larger than this on the long side are fitted at a reduced size: the maps are
# smooth over the fit's radius, so they are upsampled and applied to the full plate.
_LOCAL_FIT_SIZE = 1024


def _block_mean(image: np.ndarray, factor: int) -> np.ndarray:
    height, width = image.shape[:2]
    pad = ((0, -height % factor), (0, -width % factor)) + ((0, 0),) * (image.ndim - 2)
    padded = np.pad(image, pad, mode="edge")
    shape = (padded.shape[0] // factor, factor, padded.shape[1] // factor, factor, *image.shape[2:])
    return padded.reshape(shape).mean(axis=(1, 3))


def _fit_factor(shape: tuple[int, ...]) -> int:
    """The per-pixel fit's scale for a frame of ``shape``: 1, or the factor a frame over
    ``_LOCAL_FIT_SIZE`` is reduced by."""
    return max(1, -(-max(shape[:2]) // _LOCAL_FIT_SIZE))


def _fit_window(masks: list[np.ndarray], factor: int, reach: int) -> tuple[slice, slice]:
    """The rows and columns holding every pixel of ``masks`` grown by ``reach``, cut to the frame,
    starting and (unless at the frame's end) ending on multiples of ``factor``: block means over it
    are the frame's own blocks. A fit reads nothing outside it, where a 4K frame's whole-frame
    copies in double precision cost seconds."""
    height, width = masks[0].shape
    rows = np.zeros(height, bool)
    cols = np.zeros(width, bool)
    for mask in masks:
        rows |= mask.any(axis=1)
        cols |= mask.any(axis=0)
    if not rows.any():
        return slice(0, 0), slice(0, 0)

    def span(used: np.ndarray, size: int) -> slice:
        first, last = np.flatnonzero(used)[[0, -1]]
        start = max(0, int(first) - reach) // factor * factor
        stop = min(size, -(-(int(last) + 1 + reach) // factor) * factor)
        return slice(start, stop)

    return span(rows, height), span(cols, width)


def _at_fit_scale(
    colours: np.ndarray, edited: np.ndarray, interior: np.ndarray, factor: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``colours``, the composite and the interior's weight at the fit's scale (block means of
    ``factor``), in double precision."""
    x, y, weight = colours.astype(np.float64), edited.astype(np.float64), interior.astype(np.float64)
    if factor > 1:
        x, y, weight = _block_mean(x, factor), _block_mean(y, factor), _block_mean(weight, factor)
    return x, y, weight


def _local_colour_maps(plate: np.ndarray, edited: np.ndarray, weight: np.ndarray, radius: int) -> np.ndarray:
    """``(H, W, 13)``: per pixel, the affine map ``edited ≈ slope·plate + offset`` fitted on the
    ``weight``-ed pixels within ``radius`` (9 slopes row by row, 3 offsets), and whether any
    weighted pixel was near enough to fit it (the last channel, 0 or 1)."""
    from scipy import ndimage  # not at the top: a hard-engine run never loads scipy

    size = 2 * radius + 1
    support = ndimage.uniform_filter(weight, size, mode="constant")

    def mean(values: np.ndarray) -> np.ndarray:
        return ndimage.uniform_filter(weight * values, size, mode="constant") / np.maximum(support, 1e-12)

    mean_x = [mean(plate[..., i]) for i in range(3)]
    mean_y = [mean(edited[..., c]) for c in range(3)]
    entries = regularised(
        [mean(plate[..., i] * plate[..., j]) - mean_x[i] * mean_x[j] for i, j in PAIRS], _LOCAL_EPS
    )
    slopes, offsets = [], []
    for c in range(3):
        cross = [
            mean(plate[..., i] * edited[..., c]) - mean_x[i] * mean_y[c] + (_LOCAL_EPS if i == c else 0.0)
            for i in range(3)
        ]
        slope = solve_symmetric3(entries, tuple(cross))
        slopes += slope
        offsets.append(mean_y[c] - sum(s * m for s, m in zip(slope, mean_x, strict=True)))
    defined = (support > 0.25 / size**2).astype(np.float64)
    return np.stack([*slopes, *offsets, defined], axis=-1)


def _apply_maps(maps: np.ndarray, plate: np.ndarray) -> np.ndarray:
    """``(..., 3)`` colours of ``plate (..., 3)`` through ``maps (..., 13)``."""
    slope = maps[..., :9].reshape(*maps.shape[:-1], 3, 3)
    return np.einsum("...ci,...i->...c", slope, plate) + maps[..., 9:12]


def _sample(maps: np.ndarray, factor: int, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """``maps (h, w, C)`` at full-resolution pixels ``(rows, cols)``, bilinear, pixel centres aligned."""
    if factor == 1:
        return maps[rows, cols]
    y = np.clip((rows + 0.5) / factor - 0.5, 0, maps.shape[0] - 1)
    x = np.clip((cols + 0.5) / factor - 0.5, 0, maps.shape[1] - 1)
    y0, x0 = np.floor(y).astype(np.intp), np.floor(x).astype(np.intp)
    y1, x1 = np.minimum(y0 + 1, maps.shape[0] - 1), np.minimum(x0 + 1, maps.shape[1] - 1)
    wy, wx = (y - y0)[:, None], (x - x0)[:, None]
    top = maps[y0, x0] * (1 - wx) + maps[y0, x1] * wx
    bottom = maps[y1, x0] * (1 - wx) + maps[y1, x1] * wx
    return top * (1 - wy) + bottom * wy


def residual_at_fit_scale(
    estimate: np.ndarray, edited: np.ndarray, matte: np.ndarray, interior: np.ndarray | None = None
) -> float:
    """The RMS of ``estimate`` against the composite on the matte's interior, measured as
    :func:`recover_graded_locally` measures its own (on block means where it fits a large frame at a
    reduced size), so the two fits are compared alike: block means average grain away, and on full
    pixels the per-pixel fit lost to nothing but that."""
    interior = fit_interior(matte) if interior is None else interior
    if interior.sum() < MIN_FIT_PIXELS:
        return float("inf")
    factor = _fit_factor(matte.shape)
    window = _fit_window([interior], factor, 0)
    x, y, weight = _at_fit_scale(estimate[window], edited[window], interior[window], factor)
    inside = weight >= 0.999
    return float(np.sqrt(np.mean((x[inside] - y[inside]) ** 2)))


def recover_graded_locally(
    plate: np.ndarray,
    edited: np.ndarray,
    matte: np.ndarray,
    radius: int,
    region: np.ndarray | None = None,
    fallback: np.ndarray | None = None,
    interior: np.ndarray | None = None,
) -> tuple[np.ndarray, float]:
    """Estimate the graded plate ``(H, W, 3)`` with an affine colour map per pixel, fitted on
    the matte's interior within ``radius`` pixels (a weighted local linear regression, as in
    the guided filter, leaning toward slope 1), so a grade that changes across the object is
    followed. ``radius`` must reach from the band to the interior.

    Only the pixels of ``region`` (default: all) that have interior near them are fitted;
    the others take ``fallback`` (default: the plate). Returns the estimate and the fit's RMS
    residual on the interior (infinite with too few interior pixels). Large frames are
    fitted at a reduced size; the maps are smooth, so they are sampled back up. ``interior``: the
    matte's :func:`fit_interior`, where the caller has it.
    """
    interior = fit_interior(matte) if interior is None else interior
    estimate = (plate if fallback is None else fallback).astype(np.float32).copy()
    if interior.sum() < MIN_FIT_PIXELS:
        return estimate, float("inf")
    factor = _fit_factor(matte.shape)
    reduced_radius = max(2, radius // factor)
    fitted = np.ones(matte.shape, bool) if region is None else region
    # The maps are needed on the interior (its residual) and the region, and each reads the
    # interior within its radius; a sample reads its neighbour too.
    window = _fit_window([interior, fitted], factor, (reduced_radius + 2) * factor)
    x, y, weight = _at_fit_scale(plate[window], edited[window], interior[window], factor)
    maps = _local_colour_maps(x, y, weight, reduced_radius)
    inside = weight >= 0.999
    residual = float(np.sqrt(np.mean((_apply_maps(maps[inside], x[inside]) - y[inside]) ** 2)))
    rows, cols = np.nonzero(fitted)
    sampled = _sample(maps, factor, rows - window[0].start, cols - window[1].start)
    defined = sampled[:, 12] > 0.5
    rows, cols = rows[defined], cols[defined]
    estimate[rows, cols] = _apply_maps(sampled[defined], plate[rows, cols].astype(np.float64))
    full = matte >= 1.0
    estimate[full] = edited[full]
    return estimate, residual


#: A colour of the band is allowed the change the grade made to interior colours up to this many
#: times as bright as it.
LIKE_BRIGHTNESS = 2.0
#: Interior pixels the bound's statistics are taken from, at most.
INTERIOR_SAMPLE = 1 << 16


def bounded_by_interior_grade(
    graded: np.ndarray,
    plate: np.ndarray,
    edited: np.ndarray,
    matte: np.ndarray,
    region: np.ndarray | None = None,
    interior: np.ndarray | None = None,
) -> np.ndarray:
    """``graded`` (scene-linear) kept, per channel, over ``region`` (default: everywhere) where the
    matte is under 1,
    within what the host's grade did to the matte's interior: the plate times the least and the
    greatest ratio of composite to plate among the interior's brighter half (a gain, as the grade
    carries it to colours brighter than any inside), widened by the largest change the grade made
    to an interior colour at most :data:`LIKE_BRIGHTNESS` times as bright (an offset, a saturation,
    a mix of channels, at the brightness they were seen at).

    A fit made on the interior's colours alone, in a display encoding, extrapolates far off for
    colours outside them (a bright sky beside a dark graded object, or highlights of 10 and more,
    encode far past 1): there it gave colours many times the plate's and the composite's, which the
    band then blended in. ``graded`` is changed in place and returned; with too few interior pixels
    it is left. ``interior``: the matte's :func:`fit_interior`, where the caller has it."""
    interior = fit_interior(matte) if interior is None else interior
    if interior.sum() < MIN_FIT_PIXELS:
        return graded
    rows, cols = np.nonzero(matte < 1.0 if region is None else region & (matte < 1.0))
    if not len(rows):
        return graded
    # The interior's statistics from an even sample of it: a large object's millions of pixels
    # sorted per channel cost seconds a 4K frame.
    inside = np.flatnonzero(interior)
    if len(inside) > INTERIOR_SAMPLE:
        inside = inside[np.linspace(0, len(inside) - 1, INTERIOR_SAMPLE).astype(np.intp)]
    inside_plate = plate.reshape(-1, 3)[inside].astype(np.float64)
    inside_edited = edited.reshape(-1, 3)[inside].astype(np.float64)
    change = np.abs(inside_edited - inside_plate)
    base = plate[rows, cols].astype(np.float64)
    bounded = graded[rows, cols].astype(np.float64)
    for c in range(3):
        p, e = inside_plate[:, c], inside_edited[:, c]
        # The channel's largest change up to each of its values, the darkest first.
        order = np.argsort(np.abs(p))
        values = np.abs(p)[order]
        largest = np.maximum.accumulate(change[order, c])
        like = np.maximum(LIKE_BRIGHTNESS * np.abs(base[:, c]), values[0])
        allowance = largest[np.searchsorted(values, like, side="right") - 1]
        # Ratios, and a change that grows with the channel's value (a gain, a mix of channels) per
        # unit of it, where the channel is bright enough that an offset or rounding does not rule
        # them: its brighter half.
        bright = np.abs(p) >= max(float(np.median(np.abs(p))), 1e-6)
        ratios = e[bright] / p[bright] if bright.any() else np.ones(1)
        relative = float((change[bright, c] / np.abs(p[bright])).max()) if bright.any() else 0.0
        allowance = np.maximum(allowance, relative * np.abs(base[:, c]))
        ends = np.stack([base[:, c] * ratios.min(), base[:, c] * ratios.max(), base[:, c]])
        bounded[:, c] = np.clip(bounded[:, c], ends.min(axis=0) - allowance, ends.max(axis=0) + allowance)
    graded[rows, cols] = bounded
    return graded
