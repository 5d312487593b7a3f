"""Entry point: ``movingcolor fuse|serve|demo|info|bench|train|install``.

Exit status: 0 success, 2 bad input or configuration (the message says what to
fix), 130 interrupted (Ctrl-C), 143 stopped by SIGTERM (a farm's kill or pre-emption), 1 anything
unexpected (a bug: the traceback is shown).
"""

from __future__ import annotations

import argparse
import importlib
import logging
import signal
import sys
import threading

from .. import __version__
from ..errors import MovingColorError

#: Commands that answer SIGTERM themselves (a server drains, training stops at a step's end).
HANDLE_SIGTERM_THEMSELVES = frozenset({"serve", "train"})


class Terminated(KeyboardInterrupt):
    """SIGTERM, taken as an interrupt: the work stops the way Ctrl-C stops it (the frame being
    written is not left as a temporary, the output's claim is released)."""


def _terminated(signum, frame) -> None:
    raise Terminated


#: Each command and the module that defines it. A module is imported only when its command runs
#: (or to list every command): a render-farm task that runs ``fuse`` for a few frames should not
#: pay for importing the demo, install and info commands' dependencies first.
COMMANDS = {
    "fuse": "fuse",
    "serve": "serve",
    "demo": "demo",
    "info": "info",
    "bench": "bench",
    "train": "train",
    "submit-opencue": "submit_opencue",
    "install": "install",
}


def _command_in(argv: list[str]) -> str | None:
    """The command ``argv`` names: its first word that is not an option (the options before the
    command take no values)."""
    return next((word for word in argv if not word.startswith("-")), None)


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    """The command line's parser; with ``argv``, only the command it names is set up (every
    command when it names none that exists, so the usage lists them all)."""
    parser = argparse.ArgumentParser(
        prog="movingcolor",
        description="Seamless fusion of regional colour grades in video.",
    )
    parser.add_argument("--version", action="version", version=f"movingcolor {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug details")
    parser.add_argument("-q", "--quiet", action="store_true", help="log warnings and errors only")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    command = _command_in(argv) if argv is not None else None
    for name in [command] if command in COMMANDS else COMMANDS:
        importlib.import_module(f".{COMMANDS[name]}", __package__).add_parser(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser(argv).parse_args(argv)
    level = logging.DEBUG if args.verbose else logging.WARNING if args.quiet else logging.INFO
    logging.basicConfig(level=level, format="movingcolor: %(message)s", stream=sys.stderr)
    if (
        args.command not in HANDLE_SIGTERM_THEMSELVES
        and signal.getsignal(signal.SIGTERM) == signal.SIG_DFL
        and threading.current_thread() is threading.main_thread()
    ):
        signal.signal(signal.SIGTERM, _terminated)
    try:
        return args.run(args) or 0
    except MovingColorError as error:
        print(f"movingcolor: error: {error}", file=sys.stderr)
        return error.exit_code
    except Terminated:
        print("movingcolor: stopped (SIGTERM); what was already written is complete", file=sys.stderr)
        return 128 + signal.SIGTERM
    except KeyboardInterrupt:
        print("movingcolor: interrupted; what was already written is complete", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
