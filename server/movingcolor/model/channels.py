"""The network's input channels, in the order its trained weights consume them.

    channels  name                 what they carry (display-encoded, 0..1)
    0:3       PLATE                I, the plate
    3:6       EDITED_OUTSIDE_BAND  E·(1-M), the edited frame with the band removed
    6:7       BAND                 M, the edge band whose colours are decided
    7:10      GRADED               G, the graded plate; where the grade is not known, the visible
                                   composite (without the band, or whole for a colour head that
                                   refines it)
    10:11     MATTE                A, the blend head's starting matte: the coarse matte or its
                                   guided refinement
    11:12     COARSE_MATTE         the coarse matte as given, for a model that reads it
                                   (``coarse_matte_input`` in its configuration)

The first seven are the paper's input; every model reads the first eleven, and in this order:
changing it changes what the shipped weights see.
"""

from __future__ import annotations

import numpy as np

PLATE = slice(0, 3)
EDITED_OUTSIDE_BAND = slice(3, 6)
BAND = slice(6, 7)
GRADED = slice(7, 10)
MATTE = slice(10, 11)
INPUT_CHANNELS = 11
COARSE_MATTE = slice(11, 12)


def stack_inputs(
    plate: np.ndarray,
    edited_outside_band: np.ndarray,
    band: np.ndarray,
    graded: np.ndarray,
    matte: np.ndarray,
) -> np.ndarray:
    """The network's input, channels last, from its parts ``(..., C)`` (C = 3, 3, 1, 3, 1)."""
    return np.concatenate([plate, edited_outside_band, band, graded, matte], axis=-1)
