"""The edge band: the strip around a matte's boundary whose colours are re-decided.

The band is every pixel within ``width`` pixels of the matte's 0.5 contour, on
either side, plus every pixel where the matte is soft (strictly between 0 and
1), because that is where a hard composite shows its seam. Outside the band the
output is the hard composite, bit for bit.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from ..spec.band_width import BandWidth

__all__ = ["BandWidth", "edge_band"]


def edge_band(matte: np.ndarray, width: BandWidth) -> np.ndarray:
    """Boolean ``(H, W)`` band around the boundary of ``matte`` (float ``(H, W)``).

    Empty and full mattes have no boundary, hence an empty band.
    """
    inside = matte >= 0.5
    soft = (matte > 0.0) & (matte < 1.0)
    if inside.all() or not inside.any():
        return soft
    pixels = width.pixels(inside)
    # Distance of each pixel to the nearest pixel on the other side of the contour.
    to_outside = ndimage.distance_transform_edt(inside)
    to_inside = ndimage.distance_transform_edt(~inside)
    near = np.where(inside, to_outside, to_inside) <= pixels
    return near | soft
