"""Mattes in any form (alpha, single channel, RGB, palette, binary or soft) to one channel."""

from __future__ import annotations

import numpy as np


def matte_from_pixels(
    pixels: np.ndarray, channels: tuple[str, ...] = (), is_float: bool = False
) -> np.ndarray:
    """A matte as float32 ``(H, W)`` in 0..1.

    * an ``A`` channel wins (an RGBA matte render);
    * one channel is used as is;
    * otherwise the brightest channel, so a coloured label (a DAVIS palette index
      read as dark red) counts as matte.

    A label image becomes 0/1: a matte with exactly two levels, zero and one other
    value that an 8- or 16-bit image holds (1/255, 128/255, ...), read from an
    integer file (``is_float`` False) or from colour channels (a palette's colour,
    also where a host rendered the label image as float RGB: it fuses as the file
    does). A float matte of one channel or an alpha keeps its values: zero and 0.4
    grades the shape at 40%, and a hard-edged roto faded in frame by frame keeps its
    fade. Soft mattes are clipped to 0..1.
    """
    if pixels.ndim == 2:
        pixels = pixels[:, :, None]
    colours = False
    if "A" in channels and pixels.shape[2] == len(channels):
        matte = pixels[:, :, channels.index("A")]
    elif pixels.shape[2] == 1:
        matte = pixels[:, :, 0]
    else:
        matte = pixels[:, :, :3].max(axis=2)
        colours = True
    if matte.dtype != np.float32 or matte.flags.writeable or matte.min() < 0.0 or matte.max() > 1.0:
        matte = np.clip(matte, 0.0, 1.0, dtype=np.float32)
    # else read-only and in range (a received matte a server holds): shared, not copied.
    top = float(matte.max())
    if (colours or not is_float) and 0.0 < top < 1.0 and _is_two_level(matte, top):
        matte = (matte > 0).astype(np.float32)
    return matte


def _is_two_level(matte: np.ndarray, top: float) -> bool:
    """Zero and one other value, an integer image's code: a label image (a DAVIS palette index, an
    8- or 16-bit mask of 128/255). A frame of that one value alone is a label's too (an object
    filling a label sequence's frame: every frame of the sequence is decided alike). A value no
    integer image holds (0.5 or 0.3 in a float EXR: a partial grade, of a shape or of everything)
    is no label, and stays as it is: it was graded in full."""
    if not any(abs(top * levels - round(top * levels)) < 1e-3 for levels in (255, 65535)):
        return False
    return bool(np.all((matte == 0.0) | (matte == top)))
