"""The feathered matte: a colorist's everyday fix, a Gaussian blur of the matte."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from .base import Engine, FusionFrames, FusionResult


class FeatherEngine(Engine):
    name = "feather"
    description = "matte blurred across the band (Gaussian, sigma = band/3)"
    inputs = frozenset({"matte", "band_pixels"})
    decides_colours = False
    takes_frame_stacks = True

    def fuse(self, frames: FusionFrames) -> FusionResult:
        matte = frames.matte[frames.center]
        # sigma = band/3 puts the blur's 3-sigma tails at the band's edge, so the
        # step where the band ends is below 0.2% of the grade.
        sigma = max(frames.band_pixels[frames.center] / 3.0, 0.5)
        alpha = ndimage.gaussian_filter(matte, sigma=sigma, mode="nearest")
        return FusionResult(alpha=np.clip(alpha, 0.0, 1.0).astype(np.float32))


ENGINE = FeatherEngine
