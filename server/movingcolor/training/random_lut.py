"""Random creative LUTs, written as ``.cube`` files, for training grades.

The paper's eight adjustments and a CDL are global, smooth functions of each channel;
creative LUTs are not: they tint shadows and highlights apart and push chosen hues
(orange skin one way, teal shadows another). Each LUT here is a smooth random deformation
of the colour cube of that kind, sampled on a lattice and written as a ``.cube`` file, so
training applies it through OpenColorIO's file path exactly as ``--grade look.cube`` does.

A fixed pool of LUTs (``POOL``), each a pure function of its index, keeps batches a
function of ``(seed, step)`` and OpenColorIO's per-file cache bounded.
"""

from __future__ import annotations

import functools
import hashlib
import os
import tempfile
from pathlib import Path

import numpy as np

from ..cache_folder import cache_folder
from ..color.parametric import LUMA

POOL = 64
SIZE = 17  # lattice points per axis, the common size of creative LUTs
_SEED = 20240601  # the pool's own seed: the same LUTs for every run and machine


def look(rgb: np.ndarray, index: int) -> np.ndarray:
    """LUT ``index``'s deformation of ``rgb (..., 3)`` in 0..1: shadow and highlight tints,
    one to three hue-selective pushes (Gaussian in RGB), and an S-curve; clipped to 0..1."""
    rng = np.random.default_rng([_SEED, index])
    shadows, highlights = rng.uniform(-0.12, 0.12, 3), rng.uniform(-0.12, 0.12, 3)
    pushes = [
        (rng.uniform(0, 1, 3), rng.uniform(0.15, 0.35), rng.uniform(-0.25, 0.25, 3))
        for _ in range(int(rng.integers(1, 4)))
    ]
    contrast = rng.uniform(0.0, 0.8)
    rgb = np.asarray(rgb, np.float64)
    luma = (rgb @ LUMA)[..., None]
    out = rgb + (1 - luma) ** 2 * shadows + luma**2 * highlights
    for centre, width, shift in pushes:
        weight = np.exp(-np.sum((rgb - centre) ** 2, axis=-1, keepdims=True) / (2 * width**2))
        out = out + weight * shift
    out = np.clip(out, 0.0, 1.0)
    s_curve = out * out * (3 - 2 * out)
    return np.clip(out + contrast * (s_curve - out), 0.0, 1.0)


def lattice(size: int = SIZE) -> np.ndarray:
    """The ``.cube`` lattice's input colours ``(size³, 3)``, red varying fastest."""
    axis = np.linspace(0.0, 1.0, size)
    blue, green, red = np.meshgrid(axis, axis, axis, indexing="ij")
    return np.stack([red, green, blue], axis=-1).reshape(-1, 3)


@functools.cache  # asked for by every clip a LUT grades; a pure function of its arguments
def cube_text(index: int, size: int = SIZE) -> str:
    rows = "\n".join(f"{r:.6f} {g:.6f} {b:.6f}" for r, g, b in look(lattice(size), index))
    return f'TITLE "movingcolor random look {index}"\nLUT_3D_SIZE {size}\n{rows}\n'


def lut_file(index: int, folder: Path | None = None) -> Path:
    """LUT ``index`` as a ``.cube`` file, written once (atomically; named by its content, so a
    file from another version of this module is never taken for it)."""
    text = cube_text(index)
    folder = folder or cache_folder("training-luts")
    path = folder / f"random-{index:02d}-{hashlib.sha256(text.encode()).hexdigest()[:12]}.cube"
    if not path.exists():
        folder.mkdir(parents=True, exist_ok=True)
        handle, staging = tempfile.mkstemp(dir=folder, suffix=".partial")
        with os.fdopen(handle, "w") as out:
            out.write(text)
        os.replace(staging, path)
    return path


def random_lut(rng: np.random.Generator) -> str:
    """A ``--grade`` specification: the path of one of the pool's LUT files."""
    return str(lut_file(int(rng.integers(POOL))))
