"""The guided engine: the matte refined against the plate's edges with the guided filter, inside the
band only, smoothed over time (:mod:`.guided_filter`), and its edge made as crisp as the plate's
(:mod:`.crisp_edge`)."""

from __future__ import annotations

from ..lru_cache import LruCache
from ..masks.band import occupied_tiles
from .band_refinement import NUMPY_REFINER, TileRefinements, content_key, smoothed_band_alpha
from .base import Engine, FusionFrames, FusionResult
from .crisp_edge import EDGE_CONTRAST, crisp_edge
from .guided_filter import CHANGE_SIGMA, EPS, TEMPORAL_RADIUS, TEMPORAL_SIGMA, neighbours_with_band
from .shot_cuts import REDUCED_BYTES, shot_holding
from .torch_filters import refiner_on


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
        self._refiner = refiner_on(device)
        self.filters_with_scipy = self._refiner is NUMPY_REFINER
        #: The frames reduced for the cut score, by frame: each frame is in several windows.
        self._reduced: LruCache = LruCache(REDUCED_BYTES)
        #: Refined tiles by frame: windows that share frames share their refinement.
        self._refined = TileRefinements(capacity=4 * self.temporal_radius + 2, eps=eps, refiner=self._refiner)

    def fuse(self, frames: FusionFrames) -> FusionResult:
        center = frames.center
        tiles = occupied_tiles(frames.band[center])
        # Without the runner's keys, a frame is named by its content.
        keys = frames.frame_keys or [None] * len(frames.frame_numbers)
        # The temporal average never reaches across a cut (:mod:`.shot_cuts`).
        plates = [frames.plate_display[t] for t in range(len(frames.frame_numbers))]
        shot = shot_holding(center, plates, keys, self._reduced) if len(plates) > 1 else range(1)
        near = neighbours_with_band(center, shot, frames.has_band)
        refined = []
        for t in near:
            guide, matte, band_pixels = frames.plate_display[t], frames.matte[t], frames.band_pixels[t]
            key = keys[t] if keys[t] is not None else content_key(guide, matte, band_pixels)
            refined.append(self._refined.tiles(key, guide, matte, band_pixels, tiles))
        alpha = smoothed_band_alpha(
            frames.matte[center],
            frames.band[center],
            [frames.plate_display[t] for t in near],
            refined,
            near.index(center),
            self.temporal_sigma,
            self.change_sigma,
            self._refiner.average,
            # By frame number: across a gap in the sequence a neighbour two frames away is weighed
            # as two frames away, not as the next place in the window.
            [frames.frame_numbers[t] - frames.frame_numbers[center] for t in near],
        )
        return FusionResult(alpha=crisp_edge(alpha, frames.band[center], self.edge_contrast))


ENGINE = GuidedEngine
