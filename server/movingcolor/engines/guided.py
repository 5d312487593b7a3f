"""The guided engine: the matte refined against the plate's edges with the guided filter, inside the
band only, smoothed over time (:mod:`.guided_filter`), and its edge made as crisp as the plate's.

The guided filter finds where the plate's edge is, but its window blends: on real footage the
refined matte ramps over several pixels and leaks a faint glow of the grade into a background of
similar colour, where the object's true edge is a step a pixel or two wide. A contrast curve about
the matte's middle (:data:`EDGE_CONTRAST`) keeps the edge where the filter put it and narrows its
ramp: on real clips with true masks the band's colour error goes from worse than the hard
composite to better, and the seam's flicker stays well under the hard composite's (BENCHMARKS.md,
real footage).
"""

from __future__ import annotations

import numpy as np

from ..masks.band import occupied_tiles
from .band_refinement import NUMPY_REFINER, TileRefinements, content_key, smoothed_band_alpha
from .base import Engine, FusionFrames, FusionResult
from .guided_filter import CHANGE_SIGMA, EPS, TEMPORAL_RADIUS, TEMPORAL_SIGMA

#: The slope of the contrast curve about 0.5 applied to the refined matte in the band: the ramp the
#: filter leaves, a fourth as wide. Chosen on real clips outside the held-out set (band colour error
#: against true masks falls with the slope, the seam's temporal error rises; 4 keeps most of both
#: gains: README, "The guided engine's edge").
EDGE_CONTRAST = 4.0


class GuidedEngine(Engine):
    """Refines the matte only on the tiles that hold band pixels (:mod:`.band_refinement`), with
    numpy on the CPU's cores or, given a torch ``device``, by torch there (:mod:`.torch_filters`;
    :func:`~.torch_filters.compute_device` turns the ``device`` setting into one)."""

    name = "guided"
    description = "edge-aware matte refinement guided by the plate, smoothed over time"
    temporal_radius = TEMPORAL_RADIUS
    inputs = frozenset({"plate_display", "matte", "band", "band_pixels"})
    decides_colours = False
    takes_frame_stacks = True
    takes_device = True

    def __init__(
        self,
        eps: float = EPS,
        temporal_sigma: float = TEMPORAL_SIGMA,
        change_sigma: float = CHANGE_SIGMA,
        device: str | None = None,
        edge_contrast: float = EDGE_CONTRAST,
    ):
        self.eps = eps
        self.edge_contrast = edge_contrast
        self.temporal_sigma = temporal_sigma
        self.change_sigma = change_sigma
        self.device = device
        if device is None:
            self._refiner = NUMPY_REFINER
        else:
            from .torch_filters import torch_refiner

            self._refiner = torch_refiner(device)
        #: Refined tiles by frame: windows that share frames share their refinement.
        self._refined = TileRefinements(capacity=4 * self.temporal_radius + 2, eps=eps, refiner=self._refiner)

    def fuse(self, frames: FusionFrames) -> FusionResult:
        center = frames.center
        tiles = occupied_tiles(frames.band[center])
        # Without the runner's keys, a frame is named by its content.
        keys = frames.frame_keys or [
            content_key(guide, matte, band_pixels)
            for guide, matte, band_pixels in zip(
                frames.plate_display, frames.matte, frames.band_pixels, strict=True
            )
        ]
        refined = [
            self._refined.tiles(key, guide, matte, band_pixels, tiles)
            for key, guide, matte, band_pixels in zip(
                keys, frames.plate_display, frames.matte, frames.band_pixels, strict=True
            )
        ]
        alpha = smoothed_band_alpha(
            frames.matte[center],
            frames.band[center],
            frames.plate_display,
            refined,
            center,
            self.temporal_sigma,
            self.change_sigma,
            self._refiner.average,
        )
        return FusionResult(alpha=self._crisp(alpha, frames.band[center]))

    def _crisp(self, alpha: np.ndarray, band: np.ndarray) -> np.ndarray:
        """``alpha`` with its band's values steepened about 0.5 by :attr:`edge_contrast`."""
        if self.edge_contrast == 1.0:
            return alpha
        where = np.flatnonzero(band)
        values = alpha.reshape(-1)[where]
        alpha.reshape(-1)[where] = np.clip((values - 0.5) * self.edge_contrast + 0.5, 0.0, 1.0)
        return alpha


ENGINE = GuidedEngine
