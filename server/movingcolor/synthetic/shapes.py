"""Soft object alphas and their motion: the true mattes generated shots are built on."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage


def soft_blob(
    xx: np.ndarray,
    yy: np.ndarray,
    cx: float,
    cy: float,
    radius: float,
    phase: float = 0.0,
    aspect: float = 1.3,
    rotation: float = 0.0,
    hair: bool = False,
    holes: tuple = (),
) -> np.ndarray:
    """A wobbly blob's alpha with a 1.5 px anti-aliased edge, optional hair-like strands
    on its upper edge and soft holes ``(dx, dy, size)`` in units of its radius."""
    angle = np.arctan2(yy - cy, xx - cx)
    wobble = 1.0 + 0.12 * np.sin(5 * angle + 3 * phase) + 0.05 * np.sin(17 * angle)
    if rotation:
        dx, dy = xx - cx, yy - cy
        cos, sin = np.cos(rotation), np.sin(rotation)
        distance = np.hypot((dx * cos + dy * sin) / aspect, -dx * sin + dy * cos) / wobble
    else:
        distance = np.hypot((xx - cx) / aspect, yy - cy) / wobble
    alpha = np.clip((radius - distance) / 1.5 + 0.5, 0.0, 1.0)
    if hair:
        strands = (np.sin(40 * angle) > 0.6) & (angle < 0) & (distance < radius + 6) & (distance > radius)
        alpha = np.maximum(alpha, strands * 0.5 * np.clip((radius + 6 - distance) / 6, 0, 1))
    for dx, dy, size in holes:
        hole = np.hypot(xx - (cx + dx * radius), yy - (cy + dy * radius)) / (size * radius)
        alpha = alpha * np.clip((hole - 1.0) * size * radius / 1.5 + 0.5, 0.0, 1.0)
    return alpha


@dataclass(frozen=True)
class Path:
    """Per-frame centre, scale and rotation of a moving object."""

    x: np.ndarray
    y: np.ndarray
    scale: np.ndarray
    rotation: np.ndarray


# The spread of a path's starting velocity per axis, in long sides of the frame per frame.
PATH_SPEED = 0.012


def smooth_path(
    rng: np.random.Generator, frames: int, width: int, height: int, margin: float, speed: float = PATH_SPEED
) -> Path:
    """A smooth random motion (velocity, acceleration, zoom, rotation) that keeps the
    centre at least ``margin`` pixels inside the frame, bouncing off the edges. ``speed``:
    the spread of the starting velocity per axis, as a fraction of the frame's long side
    per frame."""
    position = np.array([rng.uniform(margin, width - margin), rng.uniform(margin, height - margin)])
    velocity = rng.normal(0.0, speed * max(width, height), 2)
    acceleration = rng.normal(0.0, 0.001 * max(width, height), 2)
    zoom, spin = rng.normal(0.0, 0.01), rng.normal(0.0, 0.02)
    low, high = np.array([margin, margin]), np.array([width - margin, height - margin])
    xs, ys, scales, rotations = [], [], [], []
    for t in range(frames):
        xs.append(position[0])
        ys.append(position[1])
        scales.append(float(np.exp(zoom * t)))
        rotations.append(spin * t)
        velocity = velocity + acceleration
        position = position + velocity
        for axis in range(2):
            if not low[axis] <= position[axis] <= high[axis]:
                position[axis] = np.clip(position[axis], low[axis], high[axis])
                velocity[axis] = -velocity[axis]
                acceleration[axis] = -acceleration[axis]
    return Path(np.array(xs), np.array(ys), np.array(scales), np.array(rotations))


def coarse_matte(alpha: np.ndarray, rng: np.random.Generator, error: int, shift: int) -> np.ndarray:
    """What a quick roto or tracker gives for ``alpha``: binary, detail lost (blurred
    before thresholding), grown or shrunk by up to ``error`` px, shifted by up to ``shift``."""
    coarse = ndimage.gaussian_filter(alpha, sigma=3.0) > 0.5
    step = int(rng.integers(-error, error + 1))
    if step > 0:
        coarse = ndimage.binary_dilation(coarse, iterations=step)
    elif step < 0:
        coarse = ndimage.binary_erosion(coarse, iterations=-step)
    offset = (int(rng.integers(-shift, shift + 1)), int(rng.integers(-shift, shift + 1)))
    return np.roll(coarse, shift=offset, axis=(0, 1)).astype(np.float32)
