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
from .sequence import SequencePattern, names_a_sequence


def real_path(path: str | os.PathLike) -> Path:
    """``path`` with ``~``, ``..`` and every symbolic link resolved (also where it does not exist yet)."""
    try:
        return Path(os.path.realpath(Path(path).expanduser()))
    except OSError:
        # A link removed while it was being resolved (a file swapped as a job is checked): a server
        # answered INTERNAL for it. Spelled absolute instead; reading the file says what it is now.
        return Path(absolute_spelling(path))


def absolute_spelling(path: str | os.PathLike) -> str:
    """``path`` absolute, with ``~``, ``.`` and ``..`` taken out but no link followed: how a shot's
    fingerprint names its inputs, so a rerun that spells them relative or absolute is the same shot,
    and farm hosts that reach one shared folder through a link on one and a mount on another give
    one shot one fingerprint (its chunks share the output's claim by it)."""
    return os.path.normpath(os.path.abspath(os.path.expanduser(path)))


def files_named(name: str | os.PathLike, frames: Iterable[int] | None = None) -> list[Path]:
    """The files a host's file setting (a Read's file knob, a clip's file path) reads: a sequence's
    files over ``frames`` (those on disk where not given), else the one file it names."""
    if not names_a_sequence(name):  # a still, a movie, or a file or folder named with a # (take#3)
        return [Path(name)]
    try:
        pattern = SequencePattern.parse(name)
        return [pattern.path(frame) for frame in (pattern.frames_on_disk() if frames is None else frames)]
    except FrameSourceError:  # a sequence's folder gone
        return [Path(name)]


def check_outputs_spare_inputs(
    pattern: SequencePattern, frames: Iterable[int], inputs: Iterable[str | os.PathLike]
) -> None:
    """Raise :class:`OutputError` when any output frame of ``frames`` is one of ``inputs``.

    Paths are compared as resolved, so another padding (``###`` against ``####``), pattern
    style (``%d``, ``%04d``), a relative spelling or a symbolic link to the same folder or file
    cannot hide an overlap. A file already at the output's place counts by what it resolves to,
    and by what it is: the input folder reached through another mount (a bind mount, one share
    mounted at two paths on a farm host) or spelt in another case on a case-insensitive volume
    resolves to another path but is the same file, which a frame's rename would replace.
    """
    taken = {real_path(path) for path in inputs}
    if not taken:
        return
    folder = real_path(pattern.directory)
    clashes = []
    present = []
    for frame in frames:
        target = pattern.path(frame)
        resolved = folder / target.name
        if resolved in taken or (os.path.islink(target) and real_path(target) in taken):
            clashes.append((frame, resolved))
        elif os.path.lexists(target):
            present.append((frame, resolved))
    clashes += _same_files(present, taken)
    if clashes:
        shown = ", ".join(str(frame) for frame, _ in clashes[:8]) + (" ..." if len(clashes) > 8 else "")
        raise OutputError(
            f"output {pattern} would overwrite an input: {len(clashes)} of its frames are input files "
            f"(frames {shown}; first: {clashes[0][1]}); write to another folder or name. Nothing was "
            f"written"
        )


def _same_files(present: list[tuple[int, Path]], inputs: set[Path]) -> list[tuple[int, Path]]:
    """The frames of ``present`` (output files already on disk) whose directory entry is an input's:
    the same folder by the file system's identity (device and inode) and the same name, whatever
    its case (a case-insensitive volume), and the same file. A frame's rename replaces that entry
    alone: a hard link of the input in another folder (a publish tree) keeps the input whole."""
    by_name: dict[str, list[Path]] = {}
    for path in inputs:
        by_name.setdefault(path.name.casefold(), []).append(path)
    clashes = []
    for frame, target in present:
        candidates = by_name.get(target.name.casefold())
        if not candidates:
            continue
        try:
            written, folder = os.stat(target), os.stat(target.parent)
        except OSError:
            continue
        for path in candidates:
            try:
                same = os.path.samestat(folder, os.stat(path.parent)) and os.path.samestat(
                    written, os.stat(path)
                )
            except OSError:
                continue
            if same:
                clashes.append((frame, target))
                break
    return clashes
