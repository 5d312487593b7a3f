"""Mattes as the product meets them on real footage, re-drawn per frame from a true object mask.

Both kinds are re-drawn independently for every frame from a seeded generator, so they
chatter the way a per-frame key or a hurried roto does; the true mask never reaches an
engine.

* **rough**: the mask grown or shrunk by a random 1-4 px, shifted by up to 3 px in a random
  direction, blurred a little and thresholded again (a key or a rough paint-out).
* **polygon**: a roto shape through points taken along the mask's contour every 12-20 px,
  each moved by up to 1 px, filled (what an artist's spline roto is, between its points).

Distances are in pixels of the mask given; ``scaled`` gives the same matte for footage
resized by a factor (every distance times the factor). The benchmark scores engines on these
mattes over real clips, and training draws its real-footage mattes from them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from ..optional import server_extra

#: A pixel outside a set is above 0.5 after a Gaussian blur of sigma σ only within
#: σ·sqrt(2·ln 2) of the set: farther away, the set lies outside a disc holding half the kernel.
BLUR_REACH = math.sqrt(2.0 * math.log(2.0))
#: A bilinear sample takes its value from the four pixels around it, up to a cell's diagonal away.
INTERPOLATION_REACH = math.sqrt(2.0)


@dataclass(frozen=True)
class RoughMatte:
    """A key-like matte: grown or shrunk, shifted, blurred and thresholded, per frame."""

    #: Smallest and largest distance the edge is grown or shrunk by.
    grow: tuple[float, float] = (1.0, 4.0)
    #: Largest length of the shift.
    shift: float = 3.0
    #: Sigma of the blur before thresholding.
    blur: float = 1.0
    #: Share of frames whose mask is shrunk rather than grown (0: always grown).
    shrink_share: float = 0.5

    name = "rough"

    def scaled(self, factor: float) -> RoughMatte:
        return RoughMatte(
            (self.grow[0] * factor, self.grow[1] * factor),
            self.shift * factor,
            self.blur * factor,
            self.shrink_share,
        )

    @property
    def reach(self) -> float:
        """The farthest a drawn matte's edge can be from the true mask's edge, in pixels."""
        return self.grow[1] + self.shift + INTERPOLATION_REACH + BLUR_REACH * self.blur

    def draw(self, mask: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """A boolean matte for the boolean ``mask`` ``(H, W)``."""
        if not mask.any() or mask.all():
            return mask.copy()
        distance = rng.uniform(*self.grow)
        if rng.random() < 1.0 - self.shrink_share:
            grown = mask | (ndimage.distance_transform_edt(~mask) <= distance)
        else:
            grown = mask & (ndimage.distance_transform_edt(mask) > distance)
        angle, length = rng.uniform(0.0, 2.0 * math.pi), rng.uniform(0.0, self.shift)
        offset = (length * math.sin(angle), length * math.cos(angle))
        # "nearest" keeps an object that leaves the frame touching its edge.
        moved = ndimage.shift(grown.astype(np.float32), offset, order=1, mode="nearest")
        return ndimage.gaussian_filter(moved, self.blur) >= 0.5


@dataclass(frozen=True)
class PolygonRoto:
    """A roto shape: straight segments between points taken along the contour, filled."""

    #: Smallest and largest distance between consecutive points along the contour (per frame).
    spacing: tuple[float, float] = (12.0, 20.0)
    #: Largest distance each point is moved from the contour.
    jitter: float = 1.0

    name = "polygon"

    def scaled(self, factor: float) -> PolygonRoto:
        return PolygonRoto((self.spacing[0] * factor, self.spacing[1] * factor), self.jitter * factor)

    def draw(self, mask: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """A boolean matte for the boolean ``mask`` ``(H, W)``: outlines filled, holes cut,
        islands in holes filled again (in the order of their nesting)."""
        cv2 = _import_cv2()
        contours, hierarchy = cv2.findContours(mask.astype(np.uint8), cv2.RETR_TREE, cv2.CHAIN_APPROX_NONE)
        matte = np.zeros(mask.shape, np.uint8)
        if not contours:
            return matte.astype(bool)
        parents = hierarchy[0][:, 3]
        depths = [_depth(index, parents) for index in range(len(contours))]
        spacing = rng.uniform(*self.spacing)
        for index in sorted(range(len(contours)), key=depths.__getitem__):
            points = self._points(contours[index][:, 0, :].astype(np.float64), spacing, rng)
            # Sub-pixel vertices: cv2 takes fixed-point coordinates with 4 fractional bits.
            fixed = np.round(points * 16).astype(np.int32)
            cv2.fillPoly(matte, [fixed], 0 if depths[index] % 2 else 1, lineType=cv2.LINE_8, shift=4)
        return matte.astype(bool)

    def _points(self, contour: np.ndarray, spacing: float, rng: np.random.Generator) -> np.ndarray:
        """Points every ``spacing`` along the closed ``contour`` (``(N, 2)`` x, y), from a random
        start, each moved by up to ``jitter`` in a random direction."""
        closed = np.vstack([contour, contour[:1]])
        along = np.concatenate([[0.0], np.cumsum(np.hypot(*np.diff(closed, axis=0).T))])
        length = along[-1]
        count = max(3, round(length / spacing))
        at = (rng.uniform(0.0, length / count) + np.arange(count) * length / count) % max(length, 1e-9)
        points = np.column_stack([np.interp(at, along, closed[:, 0]), np.interp(at, along, closed[:, 1])])
        angle = rng.uniform(0.0, 2.0 * math.pi, count)
        radius = self.jitter * np.sqrt(rng.uniform(0.0, 1.0, count))
        return points + np.column_stack([radius * np.cos(angle), radius * np.sin(angle)])


MatteKind = RoughMatte | PolygonRoto
#: The matte kinds the benchmark draws, by name.
MATTE_KINDS: dict[str, MatteKind] = {kind.name: kind for kind in (RoughMatte(), PolygonRoto())}


def _import_cv2():
    return server_extra("cv2", "drawing polygon mattes", "OpenCV", "opencv-python-headless")


def _depth(index: int, parents: np.ndarray) -> int:
    depth = 0
    while parents[index] >= 0:
        index, depth = int(parents[index]), depth + 1
    return depth


def draw_mattes(kind: MatteKind, masks: np.ndarray, seed: int, factor: float = 1.0) -> np.ndarray:
    """One matte per frame of ``masks`` (``(T, H, W)`` bool), each drawn independently from a
    generator seeded with ``seed``; distances times ``factor`` for resized footage."""
    scaled = kind.scaled(factor) if factor != 1.0 else kind
    rng = np.random.default_rng(seed)
    return np.stack([scaled.draw(mask, rng) for mask in masks])
