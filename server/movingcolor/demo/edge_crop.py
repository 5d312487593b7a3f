"""Where to look: the crop of the frame where two versions differ most, zoomed, and a
frame drawn on the full view showing where it is."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

# A white outline reads on any grade; its dark surround keeps it from blending into highlights.
OUTLINE = (1.0, 1.0, 1.0)
OUTLINE_SURROUND = (0.0, 0.0, 0.0)


@dataclass(frozen=True)
class Box:
    x: int
    y: int
    width: int
    height: int


def most_different_box(a: np.ndarray, b: np.ndarray, width: int, height: int) -> Box:
    """The ``width`` x ``height`` window, inside the frame, where ``a`` and ``b``
    (``(H, W, 3)``) differ most in total: outside the edge band the engines agree bit
    for bit, so this is the stretch of band where the choice of engine shows."""
    frame_height, frame_width = a.shape[:2]
    if width > frame_width or height > frame_height:
        raise ValueError(f"a {width} x {height} crop does not fit a {frame_width} x {frame_height} frame")
    difference = np.abs(a - b).sum(axis=-1)
    # The mean over each window, centred on each pixel; windows reaching outside the frame excluded.
    window_sum = ndimage.uniform_filter(difference, size=(height, width), mode="constant")
    top, left = height // 2, width // 2
    inside = window_sum[top : frame_height - (height - top) + 1, left : frame_width - (width - left) + 1]
    y, x = np.unravel_index(int(np.argmax(inside)), inside.shape)
    return Box(int(x), int(y), width, height)


def zoom(image: np.ndarray, box: Box, factor: int) -> np.ndarray:
    """The crop ``box`` enlarged ``factor`` times, nearest neighbour: each pixel a block,
    so the fringe is seen as the pixels it is, not smoothed away."""
    crop = image[box.y : box.y + box.height, box.x : box.x + box.width]
    return np.repeat(np.repeat(crop, factor, axis=0), factor, axis=1)


def outlined(image: np.ndarray, box: Box) -> np.ndarray:
    """A copy of ``image`` with ``box`` framed: a white line just outside it, with a dark
    line outside that; the pixels inside the box are left as they are."""
    result = image.copy()
    height, width = image.shape[:2]
    for inset, colour in ((1, OUTLINE), (2, OUTLINE_SURROUND)):
        top, bottom = box.y - inset, box.y + box.height - 1 + inset
        left, right = box.x - inset, box.x + box.width - 1 + inset
        rows = slice(max(top, 0), min(bottom, height - 1) + 1)
        columns = slice(max(left, 0), min(right, width - 1) + 1)
        for y in (top, bottom):
            if 0 <= y < height:
                result[y, columns] = colour
        for x in (left, right):
            if 0 <= x < width:
                result[rows, x] = colour
    return result
