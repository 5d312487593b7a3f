"""The band decided by an engine, composited into the frame; outside the band the hard composite.

Every pixel outside the band stays bit-exact the hard composite in the output space,
whatever the engine returns; a fused frame is handed on only when every value is one
the output can hold.
"""

from __future__ import annotations

import functools

import numpy as np

from ..color.config import apply_processor
from ..errors import InvalidPixelsError
from ..frames.image_io import HALF_MAX
from .colorspaces import ShotColorspaces


def blend_exact(weight, fg_lin, bg_lin, fg_out, bg_out, lin_to_out) -> np.ndarray:
    """``weight·fg + (1-weight)·bg`` in linear light, returned in the output space.

    Where the weight is exactly 0 or 1 the output-space source pixel is copied,
    so untouched pixels stay bit-exact instead of taking a round trip through
    linear. Arrays are ``(N, 3)`` with ``weight`` ``(N,)``.
    """
    full = weight >= 1.0
    # The background copied whole, the foreground's pixels put in by flat index: a third of the
    # time of choosing each pixel's source with np.where, and a boolean-indexed copy per side
    # costs several times as much at 4K.
    result = np.array(bg_out, dtype=np.float32, copy=True)
    inside = np.flatnonzero(full)
    result[inside] = np.take(fg_out, inside, axis=0)
    # Only the pixels in between are blended: a matte is mostly 0 and 1, and each pixel's colour
    # conversion is independent of the others, so this gives what blending every pixel would.
    between = np.flatnonzero(~(full | (weight <= 0.0)))
    if between.size:
        w = weight[between][:, None]
        result[between] = apply_processor(lin_to_out, w * fg_lin[between] + (1.0 - w) * bg_lin[between])
    return result


def composite(spaces: ShotColorspaces, frame, kind: str, value: np.ndarray) -> np.ndarray:
    """Frame ``frame`` (a ``PreparedFrame``) with its band decided by ``value``: a blend weight
    (``kind`` "alpha") or display colours ("rgb"), in the output space. The engine's change to the
    hard composite fades out towards the band's outer edge (``frame.band_fade``), so it never
    stops in a line there. The band is written into the frame's own hard composite where it may be
    (a target's, made for this composite alone); a read-only one (kept for later windows) is
    copied first."""
    # A copy of a whole frame is 25 MB at 1080p and 106 MB at 4K, and fresh memory is what costs:
    # a 1080p scrub step on a server whose caches still grow spent 49 ms faulting in that copy.
    out = frame.edited_out if frame.edited_out.flags.writeable else frame.edited_out.copy()
    # The band's pixels by flat index, in ``array[band]``'s order (the fade's): several times
    # faster than a boolean mask over the whole frame for every array read.
    where = np.flatnonzero(frame.band)
    fade = frame.band_fade
    if where.size:
        if kind == "alpha":
            lin_to_out = spaces.config.converter(spaces.working, spaces.output)
            weight = np.clip(at_pixels(value, where), 0.0, 1.0)
            if fade is not None:
                matte = at_pixels(frame.matte, where)
                weight = matte + fade * (weight - matte)
            blended = blend_exact(
                weight,
                at_pixels(frame.graded, where),
                at_pixels(frame.plate, where),
                at_pixels(frame.graded_out, where),
                at_pixels(frame.plate_out, where),
                lin_to_out,
            )
        else:
            # A colour prediction lives in the network's display encoding, 0..1; the host's
            # composite may not (highlights over 1, colours outside the display's gamut). Its
            # change to that composite is carried into the output space instead of its
            # colours, so what the network cannot represent keeps the host's values.
            to_out = functools.partial(spaces.config.convert, src=spaces.display, dst=spaces.output)
            change = to_out(at_pixels(value, where)) - to_out(at_pixels(frame.edited_display, where))
            if fade is not None:
                change *= fade[:, None]
            blended = at_pixels(frame.edited_out, where) + change
        out.reshape(-1, out.shape[-1])[where] = blended
    return out


def at_pixels(image: np.ndarray, where: np.ndarray) -> np.ndarray:
    """``image``'s pixels at the flat indices ``where`` (``np.flatnonzero`` of an ``(H, W)``
    mask): ``(N,)`` or ``(N, C)``, as ``image[mask]`` gives them."""
    return np.take(image.reshape(-1, *image.shape[2:]), where, axis=0)


#: A frame is reported as missed where at least this many pixels of its band's faded outer part,
#: and this share of them, are put across the matte's edge by the engine.
MISSED_PIXELS = 16
MISSED_SHARE = 0.01


#: A matte's values strictly between these are soft (a ramp, a feathered edge), not decided.
SOFT_MATTE = (0.02, 0.98)
#: The share of a frame a soft matte covers from which it is a graduated window's ramp rather than
#: a roto's feathered edge: an engine that decides the band from the picture re-decides all of it.
SOFT_SHARE = 0.2


def soft_share(matte: np.ndarray) -> float:
    """The share of ``matte``'s pixels that are soft (:data:`SOFT_MATTE`)."""
    return float(np.mean((matte > SOFT_MATTE[0]) & (matte < SOFT_MATTE[1])))


def edge_beyond_band(frame, kind: str, value: np.ndarray) -> int:
    """How many pixels of the band's outer part (where its change is faded out) the engine puts on
    the other side of the matte's edge (a blend weight more than half away from the matte's): the
    matte misses the object there by about the band's width or more, and a seam stays, faded.
    0 when the count is too small to tell (``MISSED_PIXELS``, ``MISSED_SHARE``) or ``kind`` is
    not a blend weight."""
    fade = frame.band_fade
    if kind != "alpha" or fade is None or not fade.size:
        return 0
    outer = fade <= 0.5
    if not outer.any():
        return 0
    where = np.flatnonzero(frame.band)[outer]
    matte = at_pixels(frame.matte, where)
    flipped = np.abs(np.clip(at_pixels(value, where), 0.0, 1.0) - matte) > 0.5
    least = max(MISSED_PIXELS, MISSED_SHARE * outer.sum())
    if int(flipped.sum()) >= least and soft_share(frame.matte) >= SOFT_SHARE:
        # A graduated window's ramp re-decided is no matte missing an object, and no wider band
        # reaches it: counted where the matte is decided only (a roto's feathered edge is counted
        # whole: its feather may be wider than the band).
        flipped &= (matte <= SOFT_MATTE[0]) | (matte >= SOFT_MATTE[1])
    count = int(flipped.sum())
    return count if count >= least else 0


def alpha_as_colour(frame, alpha_sum: np.ndarray, count: int) -> np.ndarray:
    """The sum of the display colours that ``count`` blend weights summing to ``alpha_sum``
    give ``frame`` (the blend is affine in the weight). Needed where windows differ in head:
    with only the host's composite, a window takes the colour head when the grade of any
    frame it predicts could not be recovered, so a frame can get both kinds of prediction."""
    plate, graded = np.asarray(frame.plate_display), np.asarray(frame.graded_display)
    return count * plate + np.clip(alpha_sum, 0.0, count)[..., None] * (graded - plate)


def check_finite(
    number: int,
    fused: np.ndarray,
    half: bool,
    grade_label: str,
    matte: np.ndarray | None = None,
    band: np.ndarray | None = None,
    plate: np.ndarray | None = None,
) -> None:
    """A fused frame is handed on only when every value is a number the output can hold: a NaN or
    an infinity (or, in a half-float EXR, a value past half's range, which becomes one) would
    spread through every comp that reads the frame. Where every such pixel lies off the ``matte``
    and the ``band`` (the plate as it is there), or the ``plate`` in the output's colourspace is
    itself past the limit there, the plate, not the grade, is named."""
    limit = HALF_MAX if half else np.inf
    # Two reductions over the frame and no temporary: a NaN makes both comparisons false.
    if fused.size == 0 or (fused.max() <= limit and fused.min() >= -limit):
        return
    bad = ~(np.abs(fused) <= limit)
    if bad.any():
        pixels = bad.any(axis=-1)
        count = int(pixels.sum())
        what = "NaN or infinite" if limit == np.inf else f"NaN, infinite or beyond half float's {limit:g}"
        if limit != np.inf and (matte is not None or plate is not None):
            graded = np.asarray(matte)[pixels] > 0 if matte is not None else np.ones(count, bool)
            if band is not None:
                graded |= np.asarray(band)[pixels]
            if plate is not None:  # where the plate itself is past the limit, the grade is not to blame
                graded &= (np.abs(np.asarray(plate)[pixels]) <= limit).all(axis=-1)
            if not graded.any():
                raise InvalidPixelsError(
                    f"frame {number}: {count} pixels are {what}, where the plate is kept as it is: the "
                    f"plate's own values are past what a half-float EXR holds; write --exr-type float"
                )
        raise InvalidPixelsError(
            f"frame {number}: {count} fused pixels are {what}; the grade ({grade_label}) "
            f"pushes colours out of range: soften it"
            + (", or write --exr-type float" if limit != np.inf else "")
        )
