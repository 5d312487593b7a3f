"""``python -m movingcolor_resolve``: fuse the clip under the playhead, or a whole track, from a shell.

Needs Resolve running with external scripting allowed, and Resolve's scripting
module on the path (RESOLVE_SCRIPT_API, RESOLVE_SCRIPT_LIB, PYTHONPATH: see
plugin/resolve/README.md). Exit status: 0 when every item was fused, else the first
failure's: 2 bad settings or input, 75 server unavailable or busy, or its GPU out of memory (try again later),
130 cancelled, 70 an unexpected error (its traceback is in the log); the log says why.
"""

from __future__ import annotations

import argparse

from movingcolor.errors import MovingColorError

from .bridge import fuse_items
from .logs import bridge_logger
from .settings import load_settings
from .timeline import current_items, track_items

#: Exit status of an error the bridge did not foresee (sysexits' EX_SOFTWARE).
UNEXPECTED_ERROR = 70


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m movingcolor_resolve",
        description="Fuse DaVinci Resolve timeline items on a MovingColor server; the result goes on a new "
        "video track above each item.",
    )
    parser.add_argument("--track", type=int, help="fuse every clip on this video track (default: the clip "
                        "under the playhead)")  # fmt: skip
    parser.add_argument(
        "--settings",
        help="settings file (JSON; default $MOVINGCOLOR_RESOLVE_SETTINGS, "
        "else ~/.config/movingcolor/resolve.json)",
    )
    options = parser.add_argument_group("settings (override the file and the environment)")
    for name, text in (
        ("server", "address of movingcolor serve: host:port or unix:///path/to.sock"),
        ("grade", "CDL 'slope=..;offset=..;power=..;sat=..', a grade or LUT file, or look:NAME"),
        ("engine", "fusion engine: guided (default), movingcolor, feather, hard"),
        ("model", "the movingcolor engine's model (default: the server's)"),
        ("band", "edge band width: pixels (12) or %% of the object (10%%)"),
        (
            "colorspace",
            "OCIO name, in the server's config, of the colour space Resolve renders in "
            "(default: the project's output colour space, where MovingColor can name it)",
        ),
        ("out", "output template, with {timeline} {item} {track} {start}, e.g. /shots/{item}/f.####.exr"),
        ("matte", "alpha (the clip's alpha, ExportAlpha) or track:N (a matte clip on video track N)"),
        ("graded-track", "video track holding the graded version (instead of --grade)"),
        ("render-codec", "Resolve's EXR codec for the renders (default RGBFloatZIP)"),
        ("log-file", "log file (default ~/MovingColor/movingcolor-resolve.log)"),
    ):
        options.add_argument(f"--{name}", help=text)
    return parser.parse_args(argv)


def connect_resolve():
    """The running Resolve, through its scripting module (imported here: hosts load it lazily)."""
    try:
        import DaVinciResolveScript
    except ImportError:
        raise MovingColorError(
            "DaVinciResolveScript is not importable: set RESOLVE_SCRIPT_API, RESOLVE_SCRIPT_LIB and "
            "PYTHONPATH as plugin/resolve/README.md shows"
        ) from None
    return DaVinciResolveScript.scriptapp("Resolve")


def main(argv: list[str] | None = None, resolve=None) -> int:
    args = parse_args(argv)
    overrides = {
        key: value
        for key, value in vars(args).items()
        if key not in ("track", "settings") and value is not None
    }
    log = bridge_logger(None)
    try:
        settings = load_settings(args.settings, overrides=overrides).validate()
        log = bridge_logger(settings.log_file)
        resolve = resolve or connect_resolve()
        items = track_items(resolve, args.track) if args.track else current_items(resolve, settings)
        reports = fuse_items(resolve, items, settings)
    except MovingColorError as error:
        log.error("%s", error)
        return error.exit_code
    except KeyboardInterrupt:
        log.error("cancelled: nothing more was written or imported")
        return 130
    except Exception:  # e.g. a Resolve call answering what its documentation does not say
        log.exception("unexpected error, nothing more was fused; please report it with this log")
        return UNEXPECTED_ERROR
    failed = [r for r in reports if not r.ok]
    return failed[0].exit_code if failed else 0
