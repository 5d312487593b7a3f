"""The blend head's matte through the edge curve the product applies (engines/crisp_edge.py), so
training scores the matte an artist will see.

The curve is a clamped line: where it clamps, its gradient is zero, and a matte pushed past the
clamp on the wrong side (0.2 where the truth is 0.6, which the curve makes 0) would learn nothing.
The gradient therefore passes as through the unclamped line (a straight-through estimator); the
forward values are exactly the product's.
"""

from __future__ import annotations

import torch


def steepened(alpha: torch.Tensor, contrast: float) -> torch.Tensor:
    """``alpha`` (any shape, 0..1) steepened about 0.5 by ``contrast`` and clamped to 0..1, with
    the gradient of the unclamped line; ``alpha`` itself where ``contrast`` is 1."""
    if contrast == 1.0:
        return alpha
    line = (alpha - 0.5) * contrast + 0.5
    return line + (line.clamp(0.0, 1.0) - line).detach()
