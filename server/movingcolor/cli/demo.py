"""``movingcolor demo``: the built-in example shot, fused, with a contact sheet."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

from ..errors import FrameRangeError
from .progress import FrameProgress


def add_parser(commands) -> None:
    parser = commands.add_parser(
        "demo",
        help="fuse a built-in procedural shot: contact sheet, temporal strip and before/after movie",
        description="Generate an example shot, fuse it, write EXRs, a labelled PNG contact sheet with "
        "zooms on the edge (plate | hard composite | feather | guided | fused), a temporal strip "
        "across the edge (flicker shows as ragged lines) and a before/after MP4.",
    )
    parser.add_argument("--out", default="movingcolor-demo", help="folder (default: %(default)s)")
    parser.add_argument(
        "--engine",
        help="engine for the fused column (default: movingcolor, the shipped network, where torch is "
        "installed; else guided)",
    )
    parser.add_argument("--frames", type=int, default=16, help="number of frames (default: %(default)s)")
    parser.add_argument("--json", action="store_true", help="print a JSON summary on stdout")
    parser.set_defaults(run=run)


def default_engine() -> str:
    """The network where the server extra (torch) is installed; the light install has guided."""
    return "movingcolor" if importlib.util.find_spec("torch") is not None else "guided"


def run(args) -> int:
    if args.frames < 1:
        raise FrameRangeError(f"--frames {args.frames}: the demo's shot needs at least 1 frame (default 16)")
    args.engine = args.engine or default_engine()
    # Imported here: every command's parser is built on each start, and only the demo needs its shot.
    from ..demo.run import BASELINE_ENGINES, run_demo

    progress = FrameProgress(f"demo ({args.engine})")
    try:
        result = run_demo(
            Path(args.out).expanduser(), engine=args.engine, frames=args.frames, progress=progress
        )
    finally:
        progress.close()
    summary = {
        "folder": str(result.folder.resolve()),
        "contact_sheet": str(result.contact_sheet.resolve()),
        "temporal_strip": str(result.temporal_strip.resolve()),
        "movie": str(result.movie.resolve()) if result.movie else None,
        "hard": str(Path(result.hard.written[0]).parent.resolve()),
        "fused": str(Path(result.fused.written[0]).parent.resolve()),
        "engine": result.fused.engine,
        "frames": result.fused.frames,
    }
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print(f"plate, matte and fused frames: {summary['folder']}")
        print(f"fused EXRs ({summary['engine']}): {summary['fused']}")
        columns = dict.fromkeys(("plate", *BASELINE_ENGINES, summary["engine"]))
        engines = " | ".join(columns)
        print(f"contact sheet ({engines}): {summary['contact_sheet']}")
        print(f"temporal strip (flicker shows as ragged lines): {summary['temporal_strip']}")
        if summary["movie"]:
            print(f"before/after movie (hard | {summary['engine']}): {summary['movie']}")
    return 0
