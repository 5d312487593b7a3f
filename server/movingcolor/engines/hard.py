"""The hard composite: the coarse matte as it is. What a user has without MovingColor."""

from __future__ import annotations

from .base import Engine, FusionFrames, FusionResult


class HardEngine(Engine):
    name = "hard"
    description = "plain composite through the coarse matte (the seam as it is)"
    inputs = frozenset({"matte"})
    decides_colours = False
    decides_band = False
    takes_frame_stacks = True

    def fuse(self, frames: FusionFrames) -> FusionResult:
        return FusionResult(alpha=frames.matte[frames.center].copy())


ENGINE = HardEngine
