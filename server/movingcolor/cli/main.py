"""Entry point: ``movingcolor fuse|serve|demo|info|bench|train|install``.

Exit status: 0 success, 2 bad input or configuration (the message says what to
fix), 130 interrupted, 1 anything unexpected (a bug: the traceback is shown).
"""

from __future__ import annotations

import argparse
import logging
import sys

from .. import __version__
from ..errors import MovingColorError
from . import bench, demo, fuse, info, install, serve, submit_opencue, train

COMMANDS = (fuse, serve, demo, info, bench, train, submit_opencue, install)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="movingcolor",
        description="Seamless fusion of regional colour grades in video.",
    )
    parser.add_argument("--version", action="version", version=f"movingcolor {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug details")
    parser.add_argument("-q", "--quiet", action="store_true", help="log warnings and errors only")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        command.add_parser(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    level = logging.DEBUG if args.verbose else logging.WARNING if args.quiet else logging.INFO
    logging.basicConfig(level=level, format="movingcolor: %(message)s", stream=sys.stderr)
    try:
        return args.run(args) or 0
    except MovingColorError as error:
        print(f"movingcolor: error: {error}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        print("movingcolor: interrupted; frames already written are complete", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
