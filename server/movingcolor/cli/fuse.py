"""``movingcolor fuse``: fuse one shot in-process, or through a server with ``--server``.

Through a server the frames travel to it and back; the files written are the
same (names, pixels, headers) as an in-process run's, and a rerun keeps finished
frames by the same rules (only the fingerprint in each header differs: the client
records what it can know of the server).
"""

from __future__ import annotations

import dataclasses
import json
import logging

from ..engines.registry import engine_names
from ..errors import MovingColorError
from ..frames.image_io import EXR_COMPRESSIONS, EXR_PIXEL_TYPES
from ..frames.limits import DEFAULT_MAX_PIXELS, pixel_limit
from ..jobs import ShotSpec, run_shot
from .progress import FrameProgress

log = logging.getLogger("movingcolor")


def add_parser(commands) -> None:
    parser = commands.add_parser(
        "fuse",
        help="fuse a graded region into a shot",
        description="Remove the seam a coarse matte leaves around a regional grade.",
    )
    parser.add_argument(
        "--plate", required=True, help="plate: shot.####.exr, shot.%%04d.exr, a folder or a video"
    )
    parser.add_argument(
        "--matte",
        default="alpha",
        help="matte: a sequence, folder, still or video; 'alpha' (default) uses the plate's alpha",
    )
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument(
        "--grade",
        help="grade to apply: CDL 'slope=..;offset=..;power=..;sat=..', a .cc/.ccc/.cdl, a LUT "
        "file (.cube, .clf, .ctf, .3dl, ...), look:NAME, or 'exposure=..;saturation=..' "
        "(brightness, contrast, exposure, gamma, hue, saturation, vibrance, warmth)",
    )
    mode.add_argument("--graded", help="the whole plate already graded (composited through the matte here)")
    mode.add_argument("--edited", help="the host's composite through the matte (e.g. a Resolve qualifier)")
    parser.add_argument(
        "--engine", default="guided", help=f"fusion engine (default guided): {', '.join(engine_names())}"
    )
    parser.add_argument("--model", help="movingcolor engine: installed model name or a model folder")
    parser.add_argument("--device", default="auto", help="movingcolor engine: auto (default), cpu or cuda")
    parser.add_argument("--out", required=True, help="output: out/shot.####.exr (or .png/.tif), or a folder")
    parser.add_argument("--frames", help="frame range FIRST-LAST, e.g. 1001-1100 (default: all)")
    parser.add_argument("--handles", type=int, default=0, help="extra frames each side of --frames")
    parser.add_argument(
        "--band", default="12", help="edge band width: pixels (12) or %% of object size (10%%)"
    )
    parser.add_argument("--config", help="OpenColorIO config (default: $OCIO, else ocio://default)")
    parser.add_argument("--plate-colorspace", help="plate colourspace (default: file header, else by type)")
    parser.add_argument("--graded-colorspace", help="colourspace of --graded/--edited (default as plate)")
    parser.add_argument(
        "--grade-colorspace", help="colourspace CDLs and LUTs apply in (default: the plate's)"
    )
    parser.add_argument("--out-colorspace", help="output colourspace (default: the plate's)")
    parser.add_argument("--exr-type", default="half", choices=sorted(EXR_PIXEL_TYPES), help="EXR pixel type")
    parser.add_argument("--compression", default="zip", choices=EXR_COMPRESSIONS, help="EXR compression")
    parser.add_argument(
        "--force", action="store_true", help="redo frames already written for the same inputs and settings"
    )
    parser.add_argument(
        "--max-pixels",
        type=int,
        default=DEFAULT_MAX_PIXELS,
        help=f"largest image read, width x height, checked from its header before decoding "
        f"(default {DEFAULT_MAX_PIXELS}: 8K passes)",
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


def _spec(args) -> ShotSpec:
    """The shot the arguments describe: every ShotSpec field has an option of the same name."""
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
    progress = FrameProgress(f"fuse ({args.engine})")
    try:
        report = run_shot(spec, progress)
    finally:
        progress.close()
    return _report(args, report.to_dict())


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
            "wrote %d frames (%s) with %s to %s in %.1fs (%.2f fps)",
            len(written),
            summary["frames"],
            summary["engine"],
            written[0].rsplit("/", 1)[0] if written else args.out,
            summary["seconds"],
            summary["fps"],
        )
    return 0
