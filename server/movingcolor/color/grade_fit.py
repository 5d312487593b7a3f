"""Recover the graded plate when the host gives only its composite (``--edited``).

Inside the matte the composite *is* the graded plate; the band, though, also
needs graded colours just outside the matte, where the host left the plate. A
second-order polynomial colour mapping plate→composite is fitted on the matte's
confident interior and extrapolated to the rest of the frame. Where the matte
is fully on, the host's own pixels are kept exactly.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

# Fewer interior pixels than this and the fit is not trusted: the plate is used.
MIN_FIT_PIXELS = 64
_RIDGE = 1e-4


def _features(rgb: np.ndarray) -> np.ndarray:
    r, g, b = rgb[:, 0], rgb[:, 1], rgb[:, 2]
    ones = np.ones_like(r)
    return np.stack([r, g, b, r * r, g * g, b * b, r * g, r * b, g * b, ones], axis=1)


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
    interior = ndimage.binary_erosion(matte >= 0.999, iterations=2)
    estimate = plate.copy()
    residual = float("inf")
    if interior.sum() >= MIN_FIT_PIXELS:
        x = _features(plate[interior].astype(np.float64))
        y = edited[interior].astype(np.float64)
        gram = x.T @ x + _RIDGE * len(x) * np.eye(x.shape[1])
        coefficients = np.linalg.solve(gram, x.T @ y)
        flat = plate.reshape(-1, 3).astype(np.float64)
        estimate = (_features(flat) @ coefficients).reshape(plate.shape).astype(np.float32)
        residual = float(np.sqrt(np.mean((estimate[interior] - edited[interior]) ** 2)))
    full = matte >= 1.0
    estimate[full] = edited[full]
    return estimate, residual
