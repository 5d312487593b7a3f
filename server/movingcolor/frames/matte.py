"""Mattes in any form (alpha, single channel, RGB, palette, binary or soft) to one channel."""

from __future__ import annotations

import numpy as np


def matte_from_pixels(pixels: np.ndarray, channels: tuple[str, ...] = ()) -> np.ndarray:
    """A matte as float32 ``(H, W)`` in 0..1.

    * an ``A`` channel wins (an RGBA matte render);
    * one channel is used as is;
    * otherwise the brightest channel, so a coloured label (a DAVIS palette index
      read as dark red) counts as matte.

    A matte with exactly two levels, zero and one other value, is a binary label
    image whatever that value is (1/255, 128/255, ...), and becomes 0/1. Soft
    mattes are clipped to 0..1.
    """
    if pixels.ndim == 2:
        pixels = pixels[:, :, None]
    if "A" in channels and pixels.shape[2] == len(channels):
        matte = pixels[:, :, channels.index("A")]
    elif pixels.shape[2] == 1:
        matte = pixels[:, :, 0]
    else:
        matte = pixels[:, :, :3].max(axis=2)
    if matte.dtype != np.float32 or matte.flags.writeable or matte.min() < 0.0 or matte.max() > 1.0:
        matte = np.clip(matte, 0.0, 1.0, dtype=np.float32)
    # else read-only and in range (a received matte a server holds): shared, not copied.
    top = float(matte.max())
    if 0.0 < top < 1.0 and _is_two_level(matte, top):
        matte = (matte > 0).astype(np.float32)
    return matte


def _is_two_level(matte: np.ndarray, top: float) -> bool:
    """Zero and one other value, each somewhere: a label image. A matte of one value everywhere (a
    0.3 grade over the whole frame) is no label: it stays as it is."""
    return bool(np.all((matte == 0.0) | (matte == top))) and bool((matte == 0.0).any())
