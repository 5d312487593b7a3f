"""``movingcolor fuse``: fuse one shot in-process, or through a server with ``--server``.

Through a server the frames travel to it and back; the files written are the
same (names, pixels, headers) as an in-process run's, and a rerun keeps finished
frames by the same rules (only the fingerprint in each header differs: the client
records what it can know of the server).
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import json
import logging

from ..errors import MovingColorError
from ..frames.frame_range import describe_frames
from ..frames.limits import DEFAULT_MAX_PIXELS, pixel_limit
from ..spec import ShotSpec
from ..spec.schema import CLI, carried_by
from .progress import FrameProgress

log = logging.getLogger("movingcolor")

#: Appended to the help of an option that has a default; argparse fills in the value.
SHOW_DEFAULT = " (default: %(default)s)"


def add_parser(commands) -> None:
    parser = commands.add_parser(
        "fuse",
        help="fuse a graded region into a shot",
        description="Remove the seam a coarse matte leaves around a regional grade.",
        formatter_class=_FuseHelp,
    )
    _add_shot_options(parser)
    parser.add_argument(
        "--max-pixels",
        type=int,
        default=DEFAULT_MAX_PIXELS,
        help="largest image read, width x height, checked from its header before decoding; 8K passes"
        + SHOW_DEFAULT,
    )
    parser.add_argument("--json", action="store_true", help="print a JSON summary on stdout")
    remote = parser.add_argument_group("through a server (movingcolor serve)")
    remote.add_argument(
        "--server", metavar="ADDR", help="fuse on the server at unix:///path/to.sock or host:port"
    )
    remote.add_argument("--token", help="the server's token (default: $MOVINGCOLOR_TOKEN)")
    remote.add_argument("--tls-ca", help="PEM CA to verify the server's TLS certificate (turns TLS on)")
    remote.add_argument("--tls-cert", help="PEM client certificate, for a server that wants one (mutual TLS)")
    remote.add_argument("--tls-key", help="PEM private key of --tls-cert")
    parser.set_defaults(run=run)


def _add_shot_options(parser: argparse.ArgumentParser) -> None:
    """An option per shot setting the command line carries, as the schema describes it."""
    groups: dict = {}  # exclusive group name -> its argparse group
    for setting in carried_by(CLI):
        options: dict = {"help": setting.help.replace("%", "%%")}
        if setting.name == "engine":
            # The engines installed here, plug-ins included; the schema knows only the built-in ones.
            options["help"] += f": {INSTALLED_ENGINES}"
        if setting.type is bool:
            options["action"] = "store_true"
        else:
            if setting.type is not str:
                options["type"] = setting.type
            if setting.default is not None:
                options["default"] = setting.default
                options["help"] += SHOW_DEFAULT
            if setting.choices and setting.strict:
                options["choices"] = setting.choices
        target = parser
        if setting.exclusive:
            if setting.exclusive not in groups:
                groups[setting.exclusive] = parser.add_mutually_exclusive_group(required=True)
            target = groups[setting.exclusive]
        elif setting.required:
            options["required"] = True
        target.add_argument(setting.option, **options)


#: Where ``--engine``'s help lists the installed engines (:class:`_FuseHelp`).
INSTALLED_ENGINES = "<the installed engines>"


class _FuseHelp(argparse.HelpFormatter):
    """Lists the installed engines in ``--engine``'s help when the help is shown: finding them
    imports every engine's module (OpenColorIO's bindings among them), 50 ms of each start that a
    client of a server never needs. Not a ``%(...)s`` field of the help: Python 3.14's argparse
    fills those in as each option is added."""

    def _format_action(self, action: argparse.Action) -> str:
        if action.help and INSTALLED_ENGINES in action.help:
            from ..engines.registry import engine_names

            names = ", ".join(engine_names()).replace("%", "%%")
            action = copy.copy(action)
            action.help = action.help.replace(INSTALLED_ENGINES, names)
        return super()._format_action(action)


#: Options whose empty value (an unset variable in a script: ``--out "$OUT"``) is a mistake, not a
#: choice: an empty path was the current folder, an empty range the whole shot.
_NOT_EMPTY = {
    "plate": "a sequence pattern, a folder of frames or a video",
    "out": "an output pattern such as out/shot.####.exr, or a folder",
    "matte": "a sequence pattern, an image, a video, or alpha",
    "graded": "a sequence pattern, a folder of frames or a video",
    "edited": "a sequence pattern, a folder of frames or a video",
    "frames": "a range such as 1001-1100, or leave the option out for the whole shot",
    "grade": "a CDL, a LUT file, look:NAME or adjustments",
}


def _spec(args) -> ShotSpec:
    """The shot the arguments describe: every ShotSpec field has an option of the same name."""
    for name, what in _NOT_EMPTY.items():
        value = getattr(args, name)
        if isinstance(value, str) and not value.strip():
            raise MovingColorError(f"--{name} is empty (an unset variable?): give {what}")
    return ShotSpec(**{field.name: getattr(args, field.name) for field in dataclasses.fields(ShotSpec)})


def _run_remote(args, spec: ShotSpec, progress: FrameProgress) -> dict:
    """The shot through ``args.server`` with the client library; the same summary as in-process."""
    from movingcolor_client import connect

    options = dataclasses.asdict(spec)
    plate, out, matte = options.pop("plate"), options.pop("out"), options.pop("matte")
    with connect(
        args.server, args.token, ca=args.tls_ca, cert=args.tls_cert, key=args.tls_key, tls=bool(args.tls_ca)
    ) as client:
        result = client.fuse_files(plate, out, matte, progress=progress, **options)
    return result.to_dict()


def run(args) -> int:
    if args.max_pixels < 1:
        raise MovingColorError(f"--max-pixels must be 1 or more, not {args.max_pixels}")
    with pixel_limit(args.max_pixels):
        return _run(args)


def _run(args) -> int:
    spec = _spec(args)
    if args.server:
        progress = FrameProgress(f"fuse ({args.engine} on {args.server})")
        try:
            summary = _run_remote(args, spec, progress)
        finally:
            progress.close()
        return _report(args, summary)
    # Imported here: through a server the client needs none of the fusion code.
    from ..jobs import run_shot

    progress = FrameProgress(f"fuse ({args.engine})")
    try:
        report = run_shot(spec, progress)
    finally:
        progress.close()
    return _report(args, report.to_dict())


def _frames_written(paths: list[str], out: str) -> str:
    """The frames of the files ``paths``, written to ``--out`` ``out``, as an artist reads them:
    numbered as the output pattern names them (``f.1003_v1.exr`` is frame 1003), or for a folder
    output as its sequence on disk does."""
    import os
    from pathlib import Path

    from ..frames.output_pattern import output_extension
    from ..frames.sequence import SequencePattern, is_sequence_pattern, sequences_in_folder

    out = os.path.expanduser(out)
    first = Path(paths[0])
    if is_sequence_pattern(out) and not os.path.isdir(out) and output_extension(out) == first.suffix.lower():
        pattern = SequencePattern.parse(out)
    else:
        try:
            held = sequences_in_folder(first.parent)
        except OSError:
            held = []
        pattern = next((s.pattern for s in held if s.pattern.frame_of(first.name) is not None), None)
    numbers = [pattern.frame_of(Path(path).name) for path in paths] if pattern is not None else []
    if not numbers or None in numbers:
        return f"{len(paths)} files"
    return describe_frames(numbers, pattern.padding)


def _report(args, summary: dict) -> int:
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        written = summary["written"]
        if summary.get("skipped"):
            log.info(
                "kept %d frames already written for the same inputs and settings", len(summary["skipped"])
            )
        log.info(
            "wrote %d frame%s (%s) with %s to %s in %.1fs (%.2f fps)",
            len(written),
            "" if len(written) == 1 else "s",
            # The frames written, which a rerun that kept some is not the whole range.
            _frames_written(written, args.out) if summary.get("skipped") and written else summary["frames"],
            summary["engine"],
            written[0].rsplit("/", 1)[0] if written else args.out,
            summary["seconds"],
            summary["fps"],
        )
    return 0
