"""How far apart two images' colours are, as a viewer sees it: CIEDE2000.

Images are display-encoded (sRGB-encoded, 0..1) float arrays ``(H, W, 3)``; ``region`` is a
boolean ``(H, W)`` mask. The benchmark scores engines with it and the trainer its validation
batches, so both read the same number.
"""

from __future__ import annotations

import numpy as np


def delta_e2000(result: np.ndarray, reference: np.ndarray, region: np.ndarray | None = None) -> float:
    """Mean ΔE2000 (Sharma et al. 2005, scikit-image) over ``region`` (the whole image when None)
    on CIELAB (D65) of the sRGB-encoded values; NaN for an empty region."""
    from skimage.color import deltaE_ciede2000, rgb2lab

    mask = np.ones(result.shape[:2], bool) if region is None else region
    if not mask.any():
        return float("nan")
    a = rgb2lab(np.clip(result[mask][None], 0, 1))
    b = rgb2lab(np.clip(reference[mask][None], 0, 1))
    return float(deltaE_ciede2000(a, b).mean())
