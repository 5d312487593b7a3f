"""Procedural shots: a textured background, a soft-edged object moving over it, and
a coarse, chattering matte of that object, as a quick roto or a tracker would give.

Everything is generated from a seed; no third-party footage is involved. The true
soft alpha is returned too, so the right answer of a fusion is known: the
alpha-composite of the graded and the original plate by the true alpha.

The object's edge can carry the hard cases of real mattes: anti-aliasing (always),
a fringe of hair-like strands, holes, and motion blur. The coarse matte loses
exactly that detail, grows and shrinks and shifts from frame to frame.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.fft

from ..compute_pool import usable_cores
from .shapes import coarse_matte, soft_blob


@dataclass(frozen=True)
class SceneSpec:
    """What a generated shot contains. Defaults are the demo shot."""

    width: int = 320
    height: int = 180
    frames: int = 16
    seed: int = 7
    hair: bool = True  # thin strands on the object's top edge
    holes: int = 0  # transparent holes through the object
    motion_blur: int = 1  # sub-frame samples averaged for the object's alpha (1: none)
    speed: float = 0.4  # fraction of the frame width the object crosses in the shot
    matte_error: int = 3  # the coarse matte grows or shrinks by up to this many pixels per frame
    matte_shift: int = 2  # and shifts by up to this many pixels


@dataclass
class ProceduralShot:
    """Display-encoded (sRGB-like, 0..1) frames and mattes, all float32."""

    plate: np.ndarray  # (T, H, W, 3)
    alpha: np.ndarray  # (T, H, W) true soft alpha of the object
    matte: np.ndarray  # (T, H, W) coarse binary matte (what the user has)


def _smooth_noise(rng: np.random.Generator, shape: tuple[int, int], scale: float) -> np.ndarray:
    noise = periodic_gaussian(rng.standard_normal(shape), scale)
    return (noise - noise.min()) / (np.ptp(noise) + 1e-8)


def periodic_gaussian(values: np.ndarray, sigma: float, truncate: float = 4.0) -> np.ndarray:
    """``values`` (float64) blurred by a Gaussian of ``sigma`` reaching ``truncate`` sigmas, wrapping
    around every axis: scipy's ``ndimage.gaussian_filter(mode="wrap")`` to within float64's rounding
    (the float32 shots made from it were the same to the bit on every size compared), made by the
    FFT. The textures' coarse scales are a twelfth of the frame: at 4096x2160 scipy's direct sums
    took minutes a shot, longer than any benchmark that generates one measures."""
    if not sigma > 0:
        raise ValueError(f"a Gaussian's sigma must be more than 0, not {sigma}")
    radius = int(truncate * sigma + 0.5)
    taps = np.arange(-radius, radius + 1)
    weights = np.exp(-0.5 / (sigma * sigma) * taps.astype(np.float64) ** 2)
    weights /= weights.sum()
    # The cores this process may use (a training worker is limited to one), not every core there is.
    workers = usable_cores()
    for axis, length in enumerate(values.shape):
        # The kernel wrapped onto the axis's circle: taps beyond its length fold back onto it.
        kernel = np.zeros(length)
        np.add.at(kernel, taps % length, weights)
        shape = [1] * values.ndim
        shape[axis] = length // 2 + 1
        product = scipy.fft.rfft(values, axis=axis, workers=workers)
        product *= scipy.fft.rfft(kernel).reshape(shape)
        values = scipy.fft.irfft(product, n=length, axis=axis, workers=workers)
    return values


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


def _object_alpha(spec: SceneSpec, xx, yy, phase: float, holes: list) -> np.ndarray:
    """The true soft alpha at ``phase`` (0..1 through the shot)."""
    cx = spec.width * (0.3 + spec.speed * phase)
    cy = spec.height * (0.5 + 0.08 * np.sin(2 * np.pi * phase))
    return soft_blob(xx, yy, cx, cy, 0.28 * spec.height, phase, hair=spec.hair, holes=tuple(holes))


def generate_scene(spec: SceneSpec) -> ProceduralShot:
    """The shot ``spec`` describes, deterministic for its seed."""
    width, height, frames = spec.width, spec.height, spec.frames
    rng = np.random.default_rng(spec.seed)
    pad = max(64, width // 5)
    background = _texture(
        rng, height + 2 * pad, width + 2 * pad, np.array([[0.25, 0.45, 0.3], [0.55, 0.5, 0.4]])
    )
    object_texture = _texture(
        rng, height + 2 * pad, width + 2 * pad, np.array([[0.6, 0.35, 0.3], [0.8, 0.7, 0.55]])
    )
    holes = [
        (float(rng.uniform(-0.5, 0.5)), float(rng.uniform(-0.4, 0.4)), float(rng.uniform(0.08, 0.18)))
        for _ in range(spec.holes)
    ]
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    plates, alphas, mattes = [], [], []
    for t in range(frames):
        phase = t / max(frames - 1, 1)
        # Camera pan: the background slides; the object crosses the frame.
        pan = int(round(pad * 0.8 * phase))
        bg = background[pad : pad + height, pan : pan + width]
        # Motion blur: the alpha averaged over sub-frame positions within the shutter.
        step = 0.5 / max(frames - 1, 1)
        samples = [phase + step * (k / max(spec.motion_blur - 1, 1) - 0.5) for k in range(spec.motion_blur)]
        if spec.motion_blur == 1:
            samples = [phase]
        alpha = np.mean([_object_alpha(spec, xx, yy, p, holes) for p in samples], axis=0)
        obj = object_texture[pad : pad + height, pad : pad + width]
        plate = alpha[..., None] * obj + (1 - alpha[..., None]) * bg
        plates.append(plate)
        alphas.append(alpha)
        mattes.append(coarse_matte(alpha, rng, spec.matte_error, spec.matte_shift))
    return ProceduralShot(
        plate=np.stack(plates).astype(np.float32),
        alpha=np.stack(alphas).astype(np.float32),
        matte=np.stack(mattes).astype(np.float32),
    )


def generate_shot(width: int = 320, height: int = 180, frames: int = 16, seed: int = 7) -> ProceduralShot:
    """The demo shot at a size: ``generate_scene`` with the default scene."""
    return generate_scene(SceneSpec(width=width, height=height, frames=frames, seed=seed))
