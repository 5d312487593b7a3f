"""A shot's claim on its output sequence while it writes, so that two shots of other settings
never fill one sequence with a mix of their frames.

The claim is a hidden marker beside the frames naming what is written (the shot's fingerprint)
and who writes it (host and process, as :mod:`.temporaries` names writers). A new shot of other
settings is refused while a claim's writer lives: on this host, its process; on another (shared
storage), a marker touched within :data:`LIVE_SECONDS`, as a writer touches its own at every
frame. Chunks of one shot (the same fingerprint) share the sequence, as a farm runs them.
"""

from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path

from ..errors import OutputBusyError
from .confine import open_folder
from .sequence import SequencePattern
from .temporaries import owner_name, writer_is_gone

#: A claim from another host untouched this long is a writer gone (one writes a frame far sooner).
LIVE_SECONDS = 600.0
SUFFIX = ".writing"


class OutputClaim:
    """This writer's claim on a sequence: made by :func:`claim_output`, touched at every frame
    written, released when the shot ends however it ends. Held through the folder's descriptor where
    the system allows it, not its path: a folder moved away mid-shot still loses its claim."""

    def __init__(self, folder: Path | None = None, name: str = "", folder_fd: int | None = None):
        self._path = folder / name if folder is not None else None
        self._name = name
        self._folder = folder_fd

    def touch(self) -> None:
        with contextlib.suppress(OSError):  # removed by hand: the frames still get written
            if self._folder is not None:
                os.utime(self._name, dir_fd=self._folder)
            elif self._path is not None:
                os.utime(self._path)

    def release(self) -> None:
        with contextlib.suppress(OSError):
            if self._folder is not None:
                os.unlink(self._name, dir_fd=self._folder)
            elif self._path is not None:
                self._path.unlink()
        if self._folder is not None:
            os.close(self._folder)
            self._folder = None
        self._path = None


def _prefix(pattern: SequencePattern) -> str:
    """What a claim on ``pattern``'s files begins with. Not its padding: ``f.#.exr`` and
    ``f.####.exr`` both write ``f.1001.exr``, so two shots writing them claim one sequence."""
    return f".{pattern.prefix}#{pattern.suffix}."


def claim_name(pattern: SequencePattern, fingerprint: str) -> str:
    """The name of this writer's claim on ``pattern`` for a shot of ``fingerprint``."""
    return f"{_prefix(pattern)}{fingerprint[:16]}.{owner_name()}{SUFFIX}"


def _claimed_by(name: str, pattern: SequencePattern) -> str | None:
    """What a claim ``name`` on ``pattern``'s files holds (``FINGERPRINT.OWNER``), else None; a claim
    made with the padding in its name (``.f.####.exr.``, by an earlier version still writing on a
    farm's other hosts) counts too."""
    head, tail = f".{pattern.prefix}", f"{pattern.suffix}."
    if not (name.startswith(head) and name.endswith(SUFFIX)):
        return None
    rest = name[len(head) : -len(SUFFIX)]
    hashes = len(rest) - len(rest.lstrip("#"))
    if not hashes or not rest[hashes:].startswith(tail):
        return None
    return rest[hashes + len(tail) :]


def claim_output(pattern: SequencePattern, fingerprint: str) -> OutputClaim:
    """Claim ``pattern`` for a shot of ``fingerprint``; OutputBusyError naming the other writer when a
    live shot of other settings writes it. Claims of writers gone are removed. The folder is listed,
    and claims removed and made, through its descriptor (checked inside a file job's roots): by name,
    a folder swapped for a link after the job's check had them made and removed elsewhere."""
    with_fds = os.unlink in os.supports_dir_fd and os.utime in os.supports_dir_fd
    folder = open_folder(pattern.directory) if with_fds else None
    try:
        claim = _claim(pattern, fingerprint, folder)
    except BaseException:
        if folder is not None:
            os.close(folder)
        raise
    if claim._folder is None and folder is not None:
        os.close(folder)
    return claim


def _claim(pattern: SequencePattern, fingerprint: str, folder: int | None) -> OutputClaim:
    # Made before the others are looked at, never after: two shots starting at one moment that each
    # looked first found no claim, and both wrote (81 of 100 tries). Made first, the later of two
    # sees the earlier's claim; where each sees the other's, both are refused (exit 75, retried).
    name = claim_name(pattern, fingerprint)
    try:
        if folder is None:
            (pattern.directory / name).touch()
        else:
            flags = os.O_WRONLY | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
            os.close(os.open(name, flags, 0o644, dir_fd=folder))
            os.utime(name, dir_fd=folder)
        claim = OutputClaim(pattern.directory, name, folder)
    except OSError:  # a folder that takes no file: writing the frames says why
        claim = OutputClaim()
    try:
        _refuse_other_writers(pattern, fingerprint, folder, name)
    except BaseException:
        _remove(name, pattern.directory, folder)  # the folder's descriptor is the caller's to close
        raise
    return claim


def _remove(name: str, directory: Path, folder: int | None) -> None:
    with contextlib.suppress(OSError):  # gone already, or not this user's: a later writer tries again
        if folder is None:
            (directory / name).unlink()
        else:
            os.unlink(name, dir_fd=folder)


def _refuse_other_writers(pattern: SequencePattern, fingerprint: str, folder: int | None, mine: str) -> None:
    """OutputBusyError where a live writer of other settings claims ``pattern`` beside this writer's
    claim ``mine``; claims of writers gone are removed."""
    now = time.time()
    try:
        with os.scandir(pattern.directory if folder is None else folder) as entries:
            claims = [
                (e, held)
                for e in entries
                if e.name != mine and (held := _claimed_by(e.name, pattern)) is not None
            ]
    except OSError:
        # A folder this user may write but not list (a drop box) shows no claims; one it may not
        # enter at all fails at the first frame, with the reason.
        claims = []
    for entry, held in claims:
        theirs, _, owner = held.partition(".")
        try:
            modified = entry.stat(follow_symlinks=False).st_mtime
        except OSError:
            continue
        if writer_is_gone(owner, modified, now, LIVE_SECONDS):
            _remove(entry.name, pattern.directory, folder)
        elif theirs != fingerprint[:16]:
            raise OutputBusyError(
                f"output {pattern} is being written now by another shot, or by this one from other inputs "
                f"or settings ({owner}: on a farm, a chunk started before a plate frame was added or "
                f"replaced); wait for it to finish, or write to another output (a writer on another "
                f"machine that stopped counts as gone {LIVE_SECONDS / 60:g} minutes after its last "
                f"frame). Nothing was written"
            )
