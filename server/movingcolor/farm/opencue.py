"""OpenCue submission: a MovingColor shot as an outline with one chunked layer.

Each chunk runs ``movingcolor fuse --frames=#FRAME_START#-#FRAME_END#`` (OpenCue
substitutes the chunk's first and last frame), which reads the context frames its
windows need and writes only its own, so chunks reassemble into the whole-shot result.
The specification can be built and written without a Cuebot (``--spec``); launching
needs the OpenCue environment (``CUEBOT_HOSTS``).
"""

from __future__ import annotations

import getpass
import logging
import os
import shlex
from dataclasses import dataclass

from ..errors import TRANSIENT_EXIT_CODE, MissingDependencyError, MovingColorError
from ..frames.frame_range import FrameRange
from ..spec.schema import DEFAULT_BAND, DEFAULT_ENGINE, grade_file_parts

log = logging.getLogger("movingcolor")


def executable_words(executable: str) -> list[str]:
    """The command the nodes run for ``movingcolor``, as shell words (``rez env movingcolor --
    movingcolor``, as the OpenJD template's Executable takes it); a program given by a path with a
    folder is made absolute (a task runs in a folder of the node's choosing), ``~`` expanded."""
    words = shlex.split(executable) or ["movingcolor"]
    program = os.path.expanduser(words[0])
    if os.sep in program or (os.altsep and os.altsep in program):
        program = os.path.abspath(program)
    return [program, *words[1:]]


@dataclass(frozen=True)
class FarmShot:
    name: str
    plate: str
    grade: str
    out: str
    frames: FrameRange
    matte: str = "alpha"
    engine: str = DEFAULT_ENGINE
    band: str = DEFAULT_BAND
    chunk: int = 10
    server: str = ""
    show: str = "movingcolor"
    shot: str = "shot"
    user: str = ""
    cores: float = 2.0
    executable: str = "movingcolor"
    #: ``movingcolor fuse``'s colour options for every task (``("--grade-colorspace", "ACEScct")``):
    #: a show LUT made on log, applied in the plate's scene-linear space on the nodes, was warned of
    #: in each node's log alone.
    colour_options: tuple[str, ...] = ()

    def command(self) -> list[str]:
        command = [
            *executable_words(self.executable),
            "fuse",
            "--plate",
            self.plate,
            "--matte",
            self.matte,
            "--grade",
            self.grade,
            "--engine",
            self.engine,
            "--band",
            self.band,
            "--out",
            self.out,
            # One word: a chunk of negative frames (-2--1) would read as an option.
            "--frames=#FRAME_START#-#FRAME_END#",
            *self.colour_options,
        ]
        if self.server:
            command += ["--server", self.server]
        return command


def for_farm_nodes(path: str, role: str) -> str:
    """``path`` as every farm node reads it: absolute. A task runs in a working folder of the
    node's choosing, so a path relative to where the job was submitted would name nothing there
    (or another shot's files); the log says when a path was made absolute. ``~`` is the
    submitter's home, as typed: a quoted command line would not expand it on the node."""
    expanded = os.path.expanduser(path)
    if os.path.isabs(expanded):
        return expanded
    absolute = os.path.abspath(path)
    if path.endswith(("/", os.sep)):
        # A folder to be made (``renders/take#3/``): without its slash every task read the name as a
        # pattern whose # is the frame number, and failed.
        absolute += os.sep
    log.info("--%s %s is relative: the job names it %s (farm nodes run elsewhere)", role, path, absolute)
    return absolute


def grade_for_farm_nodes(grade: str) -> str:
    """``--grade`` as every farm node reads it: a grade file (a LUT, a CDL, ``FILE.ccc#ID``) made
    absolute, its correction's id kept; CDL values, adjustments and looks as given."""
    named = grade_file_parts(grade)
    if named is None:
        return grade
    file_part, cccid = named
    return for_farm_nodes(file_part, "grade") + (f"#{cccid}" if cccid else "")


def _outline():
    try:
        import outline
        from outline.modules.shell import Shell
    except ImportError as error:
        raise MissingDependencyError(
            "OpenCue submission needs PyPI's opencue-pyoutline and opencue-pycue: "
            "pip install opencue-pyoutline opencue-pycue"
        ) from error
    return outline, Shell


def build_outline(shot: FarmShot):
    """The OpenCue outline of ``shot``: one Shell layer over its range, chunked."""
    if shot.chunk < 1:
        raise MovingColorError(f"chunk size must be at least 1 frame, not {shot.chunk}")
    outline, Shell = _outline()
    job = outline.Outline(shot.name, shot=shot.shot, show=shot.show, user=shot.user or getpass.getuser())
    layer = Shell(
        "fuse",
        # One shell-quoted string: grades hold ';' and patterns hold '#'.
        command=[command_line(shot)],
        chunk=shot.chunk,
        range=f"{shot.frames.first}-{shot.frames.last}",
        threads=shot.cores,
    )
    job.add_layer(layer)
    return job


def specification(shot: FarmShot) -> str:
    """The job specification XML that OpenCue's Cuebot accepts, built offline."""
    from outline.backend import cue
    from outline.cuerun import OutlineLauncher

    return cue.serialize_simple(OutlineLauncher(build_outline(shot)))


class CuebotUnavailableError(MovingColorError):
    """No Cuebot answered: a farm's scheduler down or not configured here (worth trying again)."""

    exit_code = TRANSIENT_EXIT_CODE


def launch(shot: FarmShot):
    """Submit to the Cuebot named by the OpenCue environment (``$CUEBOT_HOSTS``)."""
    outline = build_outline(shot)
    from opencue.exception import ConnectionException, DeadlineExceededException
    from outline import cuerun

    try:
        return cuerun.launch(outline, use_pycuerun=False)
    except (ConnectionException, DeadlineExceededException) as error:
        hosts = os.environ.get("CUEBOT_HOSTS") or "not set: OpenCue's default, localhost"
        raise CuebotUnavailableError(
            f"no Cuebot answered ({str(error).splitlines()[0][:200]}); $CUEBOT_HOSTS is {hosts}: set it "
            f"to the farm's Cuebot, or write the job with --spec to submit it elsewhere"
        ) from error


def command_line(shot: FarmShot) -> str:
    return shlex.join(shot.command())
