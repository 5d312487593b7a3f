"""An output sequence must never overwrite an input: every output frame of a range is checked
against every input file of every source, as the file system resolves them.

Light on purpose (no OpenImageIO): the client library checks a shot's outputs before it
writes what a server sends back, exactly as an in-process run does.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from ..errors import FrameSourceError, OutputError
from .sequence import SequencePattern


def real_path(path: str | os.PathLike) -> Path:
    """``path`` with ``~``, ``..`` and every symbolic link resolved (also where it does not exist yet)."""
    return Path(os.path.realpath(Path(path).expanduser()))


def absolute_spelling(path: str | os.PathLike) -> str:
    """``path`` absolute, with ``~``, ``.`` and ``..`` taken out but no link followed: how a shot's
    fingerprint names its inputs, so a rerun that spells them relative or absolute is the same shot,
    and farm hosts that reach one shared folder through a link on one and a mount on another give
    one shot one fingerprint (its chunks share the output's claim by it)."""
    return os.path.normpath(os.path.abspath(os.path.expanduser(path)))


def files_named(name: str | os.PathLike, frames: Iterable[int] | None = None) -> list[Path]:
    """The files a host's file setting (a Read's file knob, a clip's file path) reads: a sequence's
    files over ``frames`` (those on disk where not given), else the one file it names."""
    try:
        pattern = SequencePattern.parse(name)
        return [pattern.path(frame) for frame in (pattern.frames_on_disk() if frames is None else frames)]
    except FrameSourceError:  # a single file (a still, a movie), or a sequence's folder gone
        return [Path(name)]


def check_outputs_spare_inputs(
    pattern: SequencePattern, frames: Iterable[int], inputs: Iterable[str | os.PathLike]
) -> None:
    """Raise :class:`OutputError` when any output frame of ``frames`` is one of ``inputs``.

    Paths are compared as resolved, so another padding (``###`` against ``####``), pattern
    style (``%d``, ``%04d``), a relative spelling or a symbolic link to the same folder or file
    cannot hide an overlap. A file already at the output's place counts by what it resolves to.
    """
    taken = {real_path(path) for path in inputs}
    if not taken:
        return
    folder = real_path(pattern.directory)
    clashes = []
    for frame in frames:
        target = pattern.path(frame)
        resolved = folder / target.name
        if resolved in taken or (os.path.islink(target) and real_path(target) in taken):
            clashes.append((frame, resolved))
    if clashes:
        shown = ", ".join(str(frame) for frame, _ in clashes[:8]) + (" ..." if len(clashes) > 8 else "")
        raise OutputError(
            f"output {pattern} would overwrite an input: {len(clashes)} of its frames are input files "
            f"(frames {shown}; first: {clashes[0][1]}); write to another folder or name. Nothing was "
            f"written"
        )
