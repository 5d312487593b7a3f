"""A procedural test shot: a textured background, a soft-edged object moving over
it, and a coarse, chattering matte of that object, as a quick roto would give.

Everything is generated from a seed; no third-party footage is involved. The true
soft alpha is returned too, so tests can tell a good fusion from a bad one.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage


@dataclass
class ProceduralShot:
    """Display-encoded (sRGB-like, 0..1) frames and mattes, all float32."""

    plate: np.ndarray  # (T, H, W, 3)
    alpha: np.ndarray  # (T, H, W) true soft alpha of the object
    matte: np.ndarray  # (T, H, W) coarse binary matte (what the user has)


def _smooth_noise(rng: np.random.Generator, shape: tuple[int, int], scale: float) -> np.ndarray:
    noise = ndimage.gaussian_filter(rng.standard_normal(shape), sigma=scale, mode="wrap")
    return (noise - noise.min()) / (np.ptp(noise) + 1e-8)


def _texture(rng: np.random.Generator, height: int, width: int, palette: np.ndarray) -> np.ndarray:
    """A colourful texture with structure at several scales, larger than the frame."""
    shape = (height, width)
    coarse = _smooth_noise(rng, shape, max(height, width) / 12)
    medium = _smooth_noise(rng, shape, max(height, width) / 50)
    fine = _smooth_noise(rng, shape, 1.2)
    level = 0.55 * coarse + 0.3 * medium + 0.15 * fine
    hue = _smooth_noise(rng, shape, max(height, width) / 20)
    colour = palette[0] * (1 - hue[..., None]) + palette[1] * hue[..., None]
    return np.clip(colour * (0.35 + 0.8 * level[..., None]), 0.0, 1.0)


def generate_shot(width: int = 320, height: int = 180, frames: int = 16, seed: int = 7) -> ProceduralShot:
    rng = np.random.default_rng(seed)
    pad = 64
    background = _texture(
        rng, height + 2 * pad, width + 2 * pad, np.array([[0.25, 0.45, 0.3], [0.55, 0.5, 0.4]])
    )
    object_texture = _texture(
        rng, height + 2 * pad, width + 2 * pad, np.array([[0.6, 0.35, 0.3], [0.8, 0.7, 0.55]])
    )
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    plates, alphas, mattes = [], [], []
    radius = 0.28 * height
    for t in range(frames):
        phase = t / max(frames - 1, 1)
        # Camera pan: the background slides; the object crosses the frame.
        pan = int(round(pad * 0.8 * phase))
        bg = background[pad : pad + height, pan : pan + width]
        cx = width * (0.3 + 0.4 * phase)
        cy = height * (0.5 + 0.08 * np.sin(2 * np.pi * phase))
        angle = np.arctan2(yy - cy, xx - cx)
        wobble = 1.0 + 0.12 * np.sin(5 * angle + 3 * phase) + 0.05 * np.sin(17 * angle)
        distance = np.hypot((xx - cx) / 1.3, yy - cy) / wobble
        # A 1.5 px anti-aliased edge plus a fringe of fine "hair" on the top side.
        alpha = np.clip((radius - distance) / 1.5 + 0.5, 0.0, 1.0)
        hair = (np.sin(40 * angle) > 0.6) & (angle < 0) & (distance < radius + 6) & (distance > radius)
        alpha = np.maximum(alpha, hair * 0.5 * np.clip((radius + 6 - distance) / 6, 0, 1))
        obj = object_texture[pad : pad + height, pad : pad + width]
        plate = alpha[..., None] * obj + (1 - alpha[..., None]) * bg
        # The coarse matte: binary, randomly grown or shrunk, shifted, detail lost.
        coarse = ndimage.gaussian_filter(alpha, sigma=3.0) > 0.5
        step = int(rng.integers(-3, 4))
        if step > 0:
            coarse = ndimage.binary_dilation(coarse, iterations=step)
        elif step < 0:
            coarse = ndimage.binary_erosion(coarse, iterations=-step)
        coarse = np.roll(coarse, shift=(int(rng.integers(-2, 3)), int(rng.integers(-2, 3))), axis=(0, 1))
        plates.append(plate)
        alphas.append(alpha)
        mattes.append(coarse.astype(np.float32))
    return ProceduralShot(
        plate=np.stack(plates).astype(np.float32),
        alpha=np.stack(alphas).astype(np.float32),
        matte=np.stack(mattes).astype(np.float32),
    )
