"""Benchmark-only baselines that must not ship in the product.

``color-matcher`` (PyPI, GPL-3.0) is a development dependency only: this module is
imported by the benchmark, never by the engines registry.
"""

from __future__ import annotations

import numpy as np

from ..engines.base import Engine, FusionFrames, FusionResult


class ColorMatcherEngine(Engine):
    """The band's plate colours transferred to the graded interior's colour statistics
    (Monge-Kantorovich linear transfer from the color-matcher package)."""

    name = "color-matcher"
    description = "colour-statistics transfer into the band (benchmark baseline)"

    def __init__(self, method: str = "mkl"):
        from color_matcher import ColorMatcher

        self.matcher = ColorMatcher()
        self.method = method

    def fuse(self, frames: FusionFrames) -> FusionResult:
        index = frames.center
        band = frames.band[index]
        interior = (frames.matte[index] >= 0.5) & ~band
        edited = frames.edited_display[index]
        rgb = edited.copy()
        if band.any() and interior.sum() > 16:
            source = frames.plate_display[index][band][None]  # (1, N, 3)
            reference = frames.graded_display[index][interior][None]
            matched = self.matcher.transfer(src=source, ref=reference, method=self.method)
            rgb[band] = np.clip(matched[0], 0.0, 1.0)
        return FusionResult(rgb=rgb.astype(np.float32))
