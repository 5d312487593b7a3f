"""Guided-filter matte refinement with temporal smoothing.

Spatially, the guided filter (He, Sun and Tang, "Guided Image Filtering",
TPAMI 2013) makes the matte follow the plate's own edges inside the band.
Temporally, each refined matte is averaged with its neighbours' using weights
that fall off where the plate changed between the frames, so a chattering
matte settles on static edges without dragging over moving ones.
"""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
from scipy import ndimage

from .base import Engine, FusionFrames, FusionResult

# Rec.709 luma weights applied to the display-encoded plate: the guide image.
_LUMA = np.array([0.2126, 0.7152, 0.0722], dtype=np.float32)


def guided_filter(guide: np.ndarray, source: np.ndarray, radius: int, eps: float) -> np.ndarray:
    """Edge-preserving smoothing of ``source`` (H, W) steered by ``guide`` (H, W)."""
    size = 2 * radius + 1

    def box(image: np.ndarray) -> np.ndarray:
        return ndimage.uniform_filter(image, size=size, mode="reflect")

    mean_guide = box(guide)
    mean_source = box(source)
    covariance = box(guide * source) - mean_guide * mean_source
    variance = box(guide * guide) - mean_guide * mean_guide
    slope = covariance / (variance + eps)
    offset = mean_source - slope * mean_guide
    return box(slope) * guide + box(offset)


class GuidedEngine(Engine):
    name = "guided"
    description = "edge-aware matte refinement guided by the plate, smoothed over time"
    temporal_radius = 2

    def __init__(self, eps: float = 1e-3, temporal_sigma: float = 1.0, change_sigma: float = 0.04):
        self.eps = eps
        self.temporal_sigma = temporal_sigma
        self.change_sigma = change_sigma
        self._refined: OrderedDict[int, np.ndarray] = OrderedDict()

    def reset(self) -> None:
        self._refined.clear()

    def _refine(self, frames: FusionFrames, index: int, guide: np.ndarray) -> np.ndarray:
        number = frames.frame_numbers[index]
        if number not in self._refined:
            radius = max(2, int(round(frames.band_pixels[index] / 2)))
            refined = guided_filter(guide, frames.matte[index], radius, self.eps)
            self._refined[number] = np.clip(refined, 0.0, 1.0).astype(np.float32)
            while len(self._refined) > 4 * self.temporal_radius + 2:
                self._refined.popitem(last=False)
        return self._refined[number]

    def fuse(self, frames: FusionFrames) -> FusionResult:
        guides = frames.plate_display @ _LUMA  # (T, H, W)
        center_guide = guides[frames.center]
        total = np.zeros_like(center_guide)
        weight_sum = np.zeros_like(center_guide)
        for index in range(len(frames.frame_numbers)):
            offset = index - frames.center
            refined = self._refine(frames, index, guides[index])
            change = guides[index] - center_guide
            weight = np.exp(
                -0.5 * (offset / self.temporal_sigma) ** 2 - 0.5 * (change / self.change_sigma) ** 2
            ).astype(np.float32)
            total += weight * refined
            weight_sum += weight
        return FusionResult(alpha=total / weight_sum)


ENGINE = GuidedEngine
