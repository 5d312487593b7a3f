"""How far apart consecutive frames of one shot are, against frames of two different shots: the
margin a cut detector would have on the shared real clips.

The score of two frames is the total variation between their 16-bin R, G and B histograms (the mean
over the channels) plus their mean absolute difference, both on the frames reduced to about 64
pixels on their long side. The report gives the highest score between consecutive frames of each
clip and the lowest between the middle frames of two clips of one size.

Run: ``python -m movingcolor.bench.cut_scores`` (``--root``: the folder holding the clips, default
as the real-footage benchmark's; ``--frames``: frames per clip).
"""

from __future__ import annotations

import argparse
import itertools
import sys
from pathlib import Path

import numpy as np

from ..frames.image_io import read_pixels
from .real_clips import default_clips_root, missing_reason

#: Frames are reduced to about this many pixels on their long side before they are compared.
SIDE = 64
BINS = 16


def reduced(path: Path) -> np.ndarray:
    pixels = read_pixels(path)[..., :3]
    step = max(1, max(pixels.shape[:2]) // SIDE)
    return pixels[::step, ::step]


def score(a: np.ndarray, b: np.ndarray) -> float:
    """Histogram distance plus mean absolute difference of two reduced frames."""

    def histograms(image: np.ndarray) -> np.ndarray:
        counts = [np.histogram(image[..., c], bins=BINS, range=(0.0, 1.0))[0] for c in range(3)]
        return np.stack(counts) / image[..., 0].size

    distance = 0.5 * np.abs(histograms(a) - histograms(b)).sum(axis=1).mean()
    return float(distance + np.abs(a - b).mean())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m movingcolor.bench.cut_scores", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--root", type=Path, default=default_clips_root())
    parser.add_argument("--frames", type=int, default=40)
    args = parser.parse_args(argv)
    reason = missing_reason(args.root)
    if reason:
        print(f"cut scores: skipped: {reason}", file=sys.stderr)
        return 0
    folders = sorted(args.root.glob("davis480/*/frames")) + sorted(args.root.glob("*/frames"))
    middles = {}
    for folder in folders:
        frames = [reduced(path) for path in sorted(folder.iterdir())[: args.frames]]
        within = max(score(a, b) for a, b in itertools.pairwise(frames))
        print(f"{folder.parent.name}: highest between consecutive frames {within:.3f}")
        middles[folder.parent.name] = frames[len(frames) // 2]
    across = [
        (score(middles[a], middles[b]), a, b)
        for a, b in itertools.combinations(middles, 2)
        if middles[a].shape == middles[b].shape
    ]
    lowest, a, b = min(across)
    print(f"lowest between two clips' middle frames: {lowest:.3f} ({a}, {b})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
