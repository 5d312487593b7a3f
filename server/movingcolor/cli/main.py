"""Entry point: ``movingcolor fuse|serve|demo|info|bench|train|install``.

Exit status: 0 success, 2 bad input or configuration (the message says what to
fix), 75 a condition that may pass (a server busy or unreachable, an output another shot holds, a
full disk),
130 interrupted (Ctrl-C), 141 stdout's reader went away, 143 stopped by SIGTERM (a farm's kill or
pre-emption), 1 anything unexpected (a bug: the traceback is shown).
"""

from __future__ import annotations

import argparse
import errno
import importlib
import json
import logging
import os
import re
import signal
import sys
import threading

from .. import __version__
from ..errors import FRAMES_WRITTEN, MovingColorError, Terminated

#: Commands that answer SIGTERM themselves throughout (a server drains). Training answers it at a
#: step's end while its loop runs, and as every other command before and after (exit 143): a
#: SIGTERM while a run was being set up or resumed killed it without a word.
HANDLE_SIGTERM_THEMSELVES = frozenset({"serve"})
#: Commands whose process keeps what it frees for its next arrays, one heap for every thread
#: (``process_heap.keep_freed_memory``), taken before any thread starts: ``fuse`` fuses one shot
#: and exits (or, with ``--server``, sends and receives its frames as bytes of tens of megabytes:
#: 8 4K frames, the client's page faults 120 -> 45-56 thousand), ``demo`` fuses its shots and
#: exits, a server's trimmer gives memory back after its jobs.
KEEP_FREED_MEMORY = frozenset({"fuse", "demo", "serve"})


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


#: Options whose value is a frame range, which may start with a negative frame (``-2-1``).
_RANGE_OPTIONS = ("--frames",)
_NEGATIVE_START = re.compile(r"-\d")


def _negative_ranges_joined(argv: list[str]) -> list[str]:
    """``argv`` with a range that starts with a negative frame joined to its option (``--frames -2-1``
    as ``--frames=-2-1``): argparse takes ``-2-1`` for an option of its own and refused the range."""
    joined: list[str] = []
    words = iter(argv)
    for word in words:
        if word in _RANGE_OPTIONS:
            value = next(words, None)
            if value is not None and _NEGATIVE_START.match(value):
                joined.append(f"{word}={value}")
                continue
            joined.append(word)
            if value is not None:
                joined.append(value)
            continue
        joined.append(word)
    return joined


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
    # Also after the command (``movingcolor fuse ... -q``), where users put them as often as before
    # it; not given there, they leave the values given before it.
    for subparser in commands.choices.values():
        subparser.add_argument(
            "-v", "--verbose", action="store_true", default=argparse.SUPPRESS, help="log debug details"
        )
        subparser.add_argument(
            "-q",
            "--quiet",
            action="store_true",
            default=argparse.SUPPRESS,
            help="log warnings and errors only",
        )
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command ``argv`` names (the process's own arguments when None: the process's entry
    point, which alone answers SIGTERM as an interrupt and sets how the process's heap keeps memory;
    a caller that runs a command in its own process keeps its SIGTERM and its heap's settings)."""
    entry_point = argv is None
    argv = _negative_ranges_joined(sys.argv[1:] if argv is None else argv)
    parser = build_parser(argv)
    if "--json" in argv:
        _answer_usage_errors_in_json(parser)
    if _json_log(argv):
        _answer_usage_errors_as_log_events(parser)
    args = parser.parse_args(argv)
    if entry_point and args.command in KEEP_FREED_MEMORY:
        # A process's own choice: a pipeline script or a benchmark that runs a command in its own
        # process keeps its allocator as it was.
        from ..process_heap import keep_freed_memory

        keep_freed_memory(one_heap=True)
    level = logging.DEBUG if args.verbose else logging.WARNING if args.quiet else logging.INFO
    logging.basicConfig(level=level, format="movingcolor: %(message)s", stream=sys.stderr)
    terminates = (
        entry_point
        and args.command not in HANDLE_SIGTERM_THEMSELVES
        and signal.getsignal(signal.SIGTERM) == signal.SIG_DFL
        and threading.current_thread() is threading.main_thread()
    )
    if terminates:
        signal.signal(signal.SIGTERM, _terminated)
    try:
        code = args.run(args) or 0
        sys.stdout.flush()  # here, not at exit, where a reader gone away could not be answered
        return code
    except BrokenPipeError:
        # The reader of stdout went away (``| head -1``): nothing more can reach it, and Python's
        # own flush at exit would raise again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 128 + signal.SIGPIPE
    except MovingColorError as error:
        return _failed(args, f"error: {error}", error.exit_code, getattr(error, FRAMES_WRITTEN, None))
    except OSError as error:
        # Met wherever a path is first looked at (an input, the output, a grade): bad input, not a bug.
        name = error.filename or "a path given"
        if error.errno == errno.ENAMETOOLONG:
            message = (
                f"error: {name}: a name in this path is too long for the file system (most take 255 "
                f"bytes a name, fewer characters outside ASCII); give a shorter one"
            )
        elif error.errno in (errno.EACCES, errno.EPERM):
            # A show's folders readable by its group alone, a farm node's user outside it.
            message = (
                f"error: {name}: permission denied to this user; give this user access to it (read for "
                f"an input, write for an output's folder), or run as one who has it"
            )
        else:
            raise
        return _failed(args, message, 2, getattr(error, FRAMES_WRITTEN, None))
    except Exception as error:
        from ..model.device import device_memory_error

        out_of_memory = device_memory_error(error)
        if out_of_memory is None:
            raise
        message = f"error: {out_of_memory}"
        return _failed(args, message, out_of_memory.exit_code, getattr(error, FRAMES_WRITTEN, None))
    except Terminated as stop:
        message = "stopped (SIGTERM); what was already written is complete"
        return _failed(args, message, 128 + signal.SIGTERM, getattr(stop, FRAMES_WRITTEN, None))
    except KeyboardInterrupt as stop:
        message = "interrupted; what was already written is complete"
        return _failed(args, message, 130, getattr(stop, FRAMES_WRITTEN, None))
    finally:
        if terminates:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _answer_usage_errors_in_json(parser: argparse.ArgumentParser) -> None:
    """With --json, a usage error (an unknown option, a value of the wrong kind) is answered on
    stdout too, as any other failure is: a pipeline found an empty file."""
    _answer_usage_errors_with(parser, _json_usage_error)


def _answer_usage_errors_with(parser: argparse.ArgumentParser, answer) -> None:
    """Have ``parser`` and each of its subcommands' parsers answer a usage error with ``answer(it)``."""
    parsers = [parser]
    while parsers:
        each = parsers.pop()
        each.error = answer(each)
        for action in each._actions:
            if isinstance(action, argparse._SubParsersAction):
                parsers += list(action.choices.values())


def _json_usage_error(parser: argparse.ArgumentParser):
    def error(message: str):
        parser.print_usage(sys.stderr)
        text = f"{parser.prog}: error: {message}"
        print(text, file=sys.stderr)
        print(json.dumps({"error": text, "exit_code": 2}))
        sys.exit(2)

    return error


def _json_log(argv: list[str]) -> bool:
    """Whether ``argv`` asks for a JSON log (``serve --log-format json``)."""
    if "--log-format=json" in argv:
        return True
    pairs = zip(argv, argv[1:], strict=False)
    return any(word == "--log-format" and value == "json" for word, value in pairs)


def _log_failure(message: str, exit_code: int) -> None:
    """Say why a command with a JSON log stopped, as an event of that log: a collector reading it
    line by line as JSON met a line of plain text, and the one saying why the server did not start."""
    from ..service.logs import json_event

    print(json_event("failed", logging.ERROR, error=message, exit_code=exit_code), file=sys.stderr)


def _answer_usage_errors_as_log_events(parser: argparse.ArgumentParser) -> None:
    """With a JSON log, a usage error (an unknown option, a value of the wrong kind) is an event of
    that log too, not argparse's usage and message."""
    _answer_usage_errors_with(parser, _usage_error_event)


def _usage_error_event(parser: argparse.ArgumentParser):
    def error(message: str):
        _log_failure(f"{message}; {parser.prog} --help lists the options", 2)
        sys.exit(2)

    return error


def _failed(args: argparse.Namespace, message: str, exit_code: int, written: list[str] | None = None) -> int:
    """Say why the command stopped, on stderr (an event of its log, where that is JSON); with
    --json, on stdout too as the summary it did not get to print (a pipeline reading ``fuse ...
    --json > fuse.json`` finds why, not an empty file), with the frames ``written`` whole before
    it where the command wrote frames."""
    if getattr(args, "log_format", None) == "json":
        _log_failure(message.removeprefix("error: "), exit_code)
    else:
        print(f"movingcolor: {message}", file=sys.stderr)
    if getattr(args, "json", False):
        failure = {"error": message.removeprefix("error: "), "exit_code": exit_code}
        print(json.dumps(failure if written is None else {**failure, "written": written}))
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
