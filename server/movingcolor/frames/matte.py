"""Mattes in any form (alpha, single channel, RGB, palette, binary or soft) to one channel."""

from __future__ import annotations

import numpy as np


def matte_from_pixels(pixels: np.ndarray, channels: tuple[str, ...] = ()) -> np.ndarray:
    """A matte as float32 ``(H, W)`` in 0..1.

    * an ``A`` channel wins (an RGBA matte render);
    * one channel is used as is;
    * otherwise the brightest channel, so a coloured label (a DAVIS palette index
      read as dark red) counts as matte.

    A palette label becomes 0/1: a matte of exactly two levels, zero and a colour
    (its channels differ: DAVIS's dark red, 128/255, 0, 0) whose value is a code of an
    8- or 16-bit image. It is told by its values alone, whatever the file's sample
    type, so a host's float or half rendering of a label image fuses as the file
    does. Any grey level is a strength and stays as it is: zero and 0.5 grades the
    shape at half strength, and a hard-edged roto faded in keeps every step of its
    fade (a grey index image, objects at 1/255, 2/255, must be made 0/1 first: its
    first levels are a fade's too). Soft mattes are clipped to 0..1.
    """
    if pixels.ndim == 2:
        pixels = pixels[:, :, None]
    coloured = False
    if "A" in channels and pixels.shape[2] == len(channels):
        matte = pixels[:, :, channels.index("A")]
    elif pixels.shape[2] == 1:
        matte = pixels[:, :, 0]
    else:
        colours = pixels[:, :, :3]
        matte = colours.max(axis=2)
        coloured = bool(np.any(colours.min(axis=2) != matte))
    if matte.dtype != np.float32 or matte.flags.writeable or matte.min() < 0.0 or matte.max() > 1.0:
        matte = np.clip(matte, 0.0, 1.0, dtype=np.float32)
    # else read-only and in range (a received matte a server holds): shared, not copied.
    top = float(matte.max())
    if coloured and 0.0 < top < 1.0 and _is_two_level(matte, top):
        matte = (matte > 0).astype(np.float32)
    return matte


def _is_two_level(matte: np.ndarray, top: float) -> bool:
    """Zero and one other value, a code an 8- or 16-bit image holds (within half-float rounding: a
    host may render the label image as half floats). A frame of that one value alone is a label's
    too where the value is such a code (an object filling a label sequence's frame: every frame of
    the sequence is decided alike)."""
    eighths = top * 255  # an 8-bit code, within half's relative step (2**-11) of it
    sixteenths = top * 65535  # a 16-bit code: half cannot hold one apart from its neighbours
    if (
        abs(eighths - round(eighths)) > max(1e-3, eighths * 2.0**-11)
        and abs(sixteenths - round(sixteenths)) > 1e-3
    ):
        return False
    return bool(np.all((matte == 0.0) | (matte == top)))


#: Two channels of an RGB matte hold different shapes where what either covers is shared by less than
#: this much: a multi-matte (an object per channel), not one shape in a colour.
SAME_SHAPE = 0.9


def channels_of_other_shapes(pixels: np.ndarray, channels: tuple[str, ...] = ()) -> list[str]:
    """The channels of a colour matte (no alpha) that hold shapes of their own, where its channels
    hold more than one shape (a multi-matte: one object in R, another in G), which
    :func:`matte_from_pixels` unites; empty where they hold one shape (a roto in a colour)."""
    if pixels.ndim != 3 or pixels.shape[2] < 3 or ("A" in channels and pixels.shape[2] == len(channels)):
        return []
    names = list(channels[:3]) if len(channels) >= 3 else ["R", "G", "B"]
    shapes = [pixels[:, :, c] > 0.5 * float(pixels[:, :, c].max()) for c in range(3)]
    held = [
        (name, shape)
        for name, shape, c in zip(names, shapes, range(3), strict=True)
        if pixels[:, :, c].max() > 0
    ]
    for i, (_, a) in enumerate(held):
        for _, b in held[i + 1 :]:
            if (a & b).sum() < SAME_SHAPE * (a | b).sum():
                return [name for name, _ in held]
    return []
