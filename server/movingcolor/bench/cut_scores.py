"""How far apart consecutive frames of one shot are, against frames of two different shots: the
margin a cut detector would have on the shared real clips.

The score of two frames is the engine's (``engines.shot_cuts.cut_score``: the total variation
between their R, G and B histograms plus their mean absolute difference, on the frames reduced to
about 64 pixels on their long side). The report gives the highest score between consecutive frames of each
clip, the lowest between frames of two clips of one size, how many such pairs the engine does
not take for a cut (``engines.shot_cuts.is_cut``), and how many consecutive frames of one clip it
does.

Run: ``python -m movingcolor.bench.cut_scores`` (``--root``: the folder holding the clips, default
as the real-footage benchmark's; ``--frames``: frames per clip; ``--every``: the frames compared
across clips).
"""

from __future__ import annotations

import argparse
import itertools
import sys
from pathlib import Path

from ..engines.shot_cuts import CUT_SCORE, GAIN_FREE_CUT_SCORE, cut_score, is_cut, reduced
from ..frames.image_io import read_pixels
from .real_clips import default_clips_root, missing_reason


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m movingcolor.bench.cut_scores", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--root", type=Path, default=default_clips_root())
    parser.add_argument("--frames", type=int, default=40)
    parser.add_argument("--every", type=int, default=5, help="compare every Nth frame across clips")
    args = parser.parse_args(argv)
    reason = missing_reason(args.root)
    if reason:
        print(f"cut scores: skipped: {reason}", file=sys.stderr)
        return 0
    folders = sorted(args.root.glob("davis480/*/frames")) + sorted(args.root.glob("*/frames"))
    clips = {}
    for folder in folders:
        frames = [reduced(read_pixels(path)[..., :3]) for path in sorted(folder.iterdir())[: args.frames]]
        within = max(cut_score(a, b) for a, b in itertools.pairwise(frames))
        print(f"{folder.parent.name}: highest between consecutive frames {within:.3f}")
        clips[folder.parent.name] = frames
    across = [
        (cut_score(first, second), is_cut(first, second), a, b)
        for a, b in itertools.combinations(clips, 2)
        if clips[a][0].shape == clips[b][0].shape
        for first in clips[a][:: args.every]
        for second in clips[b][:: args.every]
    ]
    lowest, _, a, b = min(across)
    missed = sum(not cut for _, cut, _, _ in across)
    print(
        f"between frames of two clips (every {args.every}th frame, {len(across)} pairs): lowest score "
        f"{lowest:.3f} ({a}, {b}); {missed} ({missed / len(across):.2%}) not taken for a cut by the engine "
        f"(a score over {CUT_SCORE:g}, the values' order differing by over {GAIN_FREE_CUT_SCORE:g})"
    )
    cuts_within = sum(is_cut(x, y) for frames in clips.values() for x, y in itertools.pairwise(frames))
    print(f"consecutive frames of one clip taken for a cut: {cuts_within}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
