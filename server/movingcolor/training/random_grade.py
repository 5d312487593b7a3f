"""Random grades for training, as ``--grade`` specifications applied by the colour
layer's own code (``parse_grade`` → OpenColorIO), so training grades exactly the way
``movingcolor fuse`` does."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..color.config import ColorConfig, apply_processor
from ..color.grade import parse_grade
from .random_lut import random_lut

# The paper's sampling (its official training): per clip, each adjustment is used with
# probability 0.2, its value drawn uniformly from these ranges.
PAPER_RANGES = {
    "brightness": (-0.5, 0.5),
    "exposure": (-2.5, 2.5),
    "contrast": (-0.5, 2.5),
    "warmth": (-0.5, 0.5),
    "saturation": (-0.5, 2.5),
    "vibrance": (-0.5, 2.5),
    "hue": (0.0, 1.0),
    "gamma": (0.5, 5.0),
}
PROBABILITY = 0.2


def random_parametric(rng: np.random.Generator) -> str:
    """A random eight-adjustment grade; at least one adjustment is always used, so no
    training clip has an invisible grade."""
    values = {name: rng.uniform(*span) for name, span in PAPER_RANGES.items() if rng.random() < PROBABILITY}
    if not values:
        name = list(PAPER_RANGES)[int(rng.integers(len(PAPER_RANGES)))]
        values[name] = rng.uniform(*PAPER_RANGES[name])
    return ";".join(f"{name}={value:.4f}" for name, value in values.items())


def random_cdl(rng: np.random.Generator) -> str:
    """A random ASC CDL of colorist-like strength."""
    triple = lambda low, high: ",".join(f"{v:.4f}" for v in rng.uniform(low, high, 3))  # noqa: E731
    return (
        f"slope={triple(0.7, 1.4)};offset={triple(-0.05, 0.05)};power={triple(0.75, 1.3)};"
        f"sat={rng.uniform(0.4, 1.6):.4f}"
    )


def random_grade(rng: np.random.Generator, lut_fraction: float = 0.0) -> str:
    """A random LUT file for a share ``lut_fraction`` of clips (``random_lut``); otherwise
    parametric three times in four (the paper's generator), else a CDL."""
    # Drawn only when asked for, so runs without LUT grades keep their random sequence.
    if lut_fraction and rng.random() < lut_fraction:
        return random_lut(rng)
    return random_parametric(rng) if rng.random() < 0.75 else random_cdl(rng)


def grade_function(spec: str, config: ColorConfig | None = None) -> Callable[[np.ndarray], np.ndarray]:
    """Apply ``spec`` to display-encoded values directly (the training data's encoding)."""
    config = config or ColorConfig()
    processor = parse_grade(spec, config).processor(config, "Raw", "Raw", "Raw")
    return lambda rgb: np.clip(apply_processor(processor, rgb), 0.0, 1.0)
