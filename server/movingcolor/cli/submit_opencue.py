"""``movingcolor submit-opencue``: a shot as an OpenCue job with one chunked layer."""

from __future__ import annotations

from pathlib import Path

from ..frames.frame_range import FrameRange
from ..spec.schema import DEFAULT_BAND, DEFAULT_ENGINE, default


def add_parser(commands) -> None:
    parser = commands.add_parser(
        "submit-opencue",
        help="submit a shot to an OpenCue farm (or write its job specification)",
        description="Build an OpenCue outline whose chunked layer runs `movingcolor fuse` per chunk.",
    )
    parser.add_argument("--name", required=True, help="job name")
    parser.add_argument("--plate", required=True)
    parser.add_argument("--matte", default=default("matte"))
    parser.add_argument("--grade", required=True)
    parser.add_argument("--engine", default=DEFAULT_ENGINE)
    parser.add_argument("--band", default=DEFAULT_BAND)
    parser.add_argument("--out", required=True)
    parser.add_argument("--frames", required=True, help="frame range FIRST-LAST")
    parser.add_argument("--chunk", type=int, default=10, help="frames per task (default 10)")
    parser.add_argument("--server", default="", help="a shared GPU server for every task")
    parser.add_argument("--show", default="movingcolor")
    parser.add_argument("--shot", default="shot")
    parser.add_argument("--cores", type=float, default=2.0, help="cores per task")
    parser.add_argument("--spec", help="write the job specification XML here instead of submitting")
    parser.set_defaults(run=run)


def run(args) -> int:
    from ..farm.opencue import FarmShot, launch, specification

    shot = FarmShot(
        name=args.name,
        plate=args.plate,
        matte=args.matte,
        grade=args.grade,
        engine=args.engine,
        band=args.band,
        out=args.out,
        frames=FrameRange.parse(args.frames),
        chunk=args.chunk,
        server=args.server,
        show=args.show,
        shot=args.shot,
        cores=args.cores,
    )
    if args.spec:
        Path(args.spec).write_text(specification(shot))
        print(f"wrote the OpenCue job specification to {args.spec}")
    else:
        jobs = launch(shot)
        print(f"submitted {args.name} to OpenCue: {jobs}")
    return 0
