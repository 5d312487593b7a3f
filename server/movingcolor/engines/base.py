"""The engine contract shared by the classical engines and the network.

An engine sees one target frame with its temporal neighbours and decides the
band: either a refined matte ``alpha`` (blend between plate and graded plate,
used when the grade is known) or direct colours ``rgb`` (when it is not). The
shot runner composites; every pixel outside the band stays the hard composite,
whatever the engine returns.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np


@dataclass
class FusionFrames:
    """A window of frames around one target, all float32.

    Shapes: ``T`` frames of ``H×W``; ``center`` indexes the target in ``T``.
    """

    frame_numbers: list[int]
    center: int
    plate: np.ndarray  # (T, H, W, 3) scene-linear plate I
    graded: np.ndarray  # (T, H, W, 3) scene-linear graded plate G = T(I)
    edited: np.ndarray  # (T, H, W, 3) scene-linear hard composite E
    matte: np.ndarray  # (T, H, W) coarse matte A in 0..1
    band: np.ndarray  # (T, H, W) bool edge band M
    plate_display: np.ndarray  # (T, H, W, 3) plate in a bounded, perceptual encoding
    band_pixels: list[float]  # band width in pixels, per frame

    @property
    def target(self) -> int:
        return self.frame_numbers[self.center]


@dataclass
class FusionResult:
    """What an engine decided for the target frame's band (exactly one field set)."""

    alpha: np.ndarray | None = None  # (H, W) refined matte in 0..1
    rgb: np.ndarray | None = None  # (H, W, 3) scene-linear colours


class Engine(ABC):
    """A fusion engine. Subclasses set ``name`` and implement :meth:`fuse`."""

    name: str = ""
    description: str = ""
    #: Frames needed on each side of the target.
    temporal_radius: int = 0
    #: Recorded in output headers; classical engines have none.
    model: str = "none"

    @abstractmethod
    def fuse(self, frames: FusionFrames) -> FusionResult:
        """Decide the band of ``frames.target``."""

    def reset(self) -> None:  # noqa: B027 (optional hook)
        """Forget any per-shot state (caches) before a new shot."""
