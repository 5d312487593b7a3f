"""``movingcolor submit-opencue``: a shot as an OpenCue job with one chunked layer."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from ..errors import FrameSourceError, OutputError
from ..frames.frame_range import FrameRange
from ..spec.schema import DEFAULT_BAND, DEFAULT_ENGINE, SETTINGS, default
from .fuse import SHOW_DEFAULT


def add_parser(commands) -> None:
    parser = commands.add_parser(
        "submit-opencue",
        help="submit a shot to an OpenCue farm (or write its job specification)",
        description="Build an OpenCue outline whose chunked layer runs `movingcolor fuse` per chunk.",
    )
    parser.add_argument("--name", required=True, help="OpenCue job name")
    # The shot's settings as `movingcolor fuse` describes them (the schema's help).
    parser.add_argument("--plate", required=True, help=_schema_help("plate"))
    parser.add_argument("--matte", default=default("matte"), help=_schema_help("matte") + SHOW_DEFAULT)
    parser.add_argument("--grade", required=True, help=_schema_help("grade"))
    parser.add_argument("--engine", default=DEFAULT_ENGINE, help=_schema_help("engine") + SHOW_DEFAULT)
    parser.add_argument("--band", default=DEFAULT_BAND, help=_schema_help("band") + SHOW_DEFAULT)
    parser.add_argument("--out", required=True, help=_schema_help("out"))
    parser.add_argument("--frames", required=True, help="frame range FIRST-LAST, e.g. 1001-1100")
    for name in COLOUR_SETTINGS:
        parser.add_argument(f"--{name.replace('_', '-')}", help=_schema_help(name))
    parser.add_argument("--chunk", type=int, default=10, help="frames per task" + SHOW_DEFAULT)
    parser.add_argument(
        "--server",
        default="",
        help="a shared GPU server every task fuses on (default: none, each task fuses itself)",
    )
    parser.add_argument("--show", default="movingcolor", help="OpenCue show" + SHOW_DEFAULT)
    parser.add_argument("--shot", default="shot", help="OpenCue shot" + SHOW_DEFAULT)
    parser.add_argument("--cores", type=float, default=2.0, help="cores per task" + SHOW_DEFAULT)
    parser.add_argument(
        "--executable",
        default="movingcolor",
        help="the movingcolor command the nodes run, e.g. a pipeline environment's "
        "/studio/envs/mc/bin/movingcolor where it is not on the nodes' PATH" + SHOW_DEFAULT,
    )
    parser.add_argument(
        "--spec", help="write the job specification XML here (- for stdout) instead of submitting"
    )
    parser.set_defaults(run=run)


def _check_settings(args) -> None:
    """Refuse here what every task of the job would refuse (exit 2 on each node): the engine, the
    band, an inline grade and the output pattern, by the checks ``movingcolor fuse`` makes. Where
    this machine sees the plate, the output is also checked against overwriting any of its files."""
    from ..color.config import BUILTIN_CONFIG, shared_config
    from ..color.grade import parse_grade
    from ..engines.registry import require_engine
    from ..frames.output_pattern import output_pattern
    from ..frames.overlap import check_outputs_spare_inputs, files_named
    from ..frames.sequence import input_sequence
    from ..masks.band import BandWidth
    from ..spec.schema import grade_file_parts

    require_engine(args.engine)
    BandWidth.parse(args.band)
    grade = args.grade.strip()
    # CDL values and adjustments, which need no file: checked against the built-in config, since a
    # look, a LUT and this machine's $OCIO may be the nodes' alone (a path holding "=" is a file).
    is_path = any(mark in grade for mark in ("/", "\\"))
    if "=" in grade and not grade.startswith("look:") and not is_path and grade_file_parts(grade) is None:
        parse_grade(grade, shared_config(BUILTIN_CONFIG))
    frames = FrameRange.parse(args.frames)
    try:
        # As the plate's source gives them on the nodes: its prefix names a folder's frames, and its
        # resolved pattern is what frames fused there record (a rerun into the folder is the same
        # plate's). A folder that exists is itself, though its name holds a # (take#3).
        sequence = input_sequence(args.plate, "plate")
    except FrameSourceError:  # a folder of no single sequence, a name that is no text: the nodes say so
        sequence = None
    if sequence is not None:
        plate_name, origin = sequence.prefix, sequence.resolved()
    else:  # a movie, a still, or a folder not seen from here
        plate_name, origin = Path(args.plate).stem, os.path.realpath(args.plate)
    pattern = output_pattern(args.out, plate_name, origin)
    inputs = [path for path in (args.plate, args.matte) if path != "alpha"]
    seen = [path for name in inputs for path in files_named(name, frames) if path.exists()]
    if seen:
        check_outputs_spare_inputs(pattern, frames, seen)


#: The colour settings every task is given as they are given here (the config made absolute where
#: it is a file: a task runs in a folder of the node's choosing).
COLOUR_SETTINGS = ("config", "plate_colorspace", "grade_colorspace", "out_colorspace")


def _colour_options(args) -> tuple[str, ...]:
    from ..farm.opencue import for_farm_nodes

    options: list[str] = []
    for name in COLOUR_SETTINGS:
        value = getattr(args, name)
        if not value:
            continue
        if name == "config" and not value.startswith("ocio://"):
            value = for_farm_nodes(value, "config")
        options += [f"--{name.replace('_', '-')}", value]
    return tuple(options)


def _schema_help(name: str) -> str:
    return SETTINGS[name].help.replace("%", "%%")


def run(args) -> int:
    from ..farm.opencue import FarmShot, for_farm_nodes, grade_for_farm_nodes, launch, specification
    from ..frames.temporaries import write_text_atomic

    _check_settings(args)
    shot = FarmShot(
        name=args.name,
        plate=for_farm_nodes(args.plate, "plate"),
        matte=args.matte if args.matte == "alpha" else for_farm_nodes(args.matte, "matte"),
        grade=grade_for_farm_nodes(args.grade),
        engine=args.engine,
        band=args.band,
        out=for_farm_nodes(args.out, "out"),
        frames=FrameRange.parse(args.frames),
        chunk=args.chunk,
        server=args.server,
        show=args.show,
        shot=args.shot,
        cores=args.cores,
        executable=args.executable,
        colour_options=_colour_options(args),
    )
    if args.spec == "-":
        sys.stdout.write(specification(shot))
    elif args.spec:
        try:
            write_text_atomic(args.spec, specification(shot))
        except OSError as error:
            raise OutputError(
                f"--spec {args.spec}: cannot write the job specification ({error.strerror}); give a "
                f"file in a folder you can write to, or - for stdout"
            ) from error
        print(f"wrote the OpenCue job specification to {args.spec}")
    else:
        jobs = launch(shot)
        print(f"submitted {args.name} to OpenCue: {jobs}")
    return 0
