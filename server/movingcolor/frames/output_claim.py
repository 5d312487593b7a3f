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
from .sequence import SequencePattern
from .temporaries import owner_name, writer_is_gone

#: A claim from another host untouched this long is a writer gone (one writes a frame far sooner).
LIVE_SECONDS = 600.0
SUFFIX = ".writing"


class OutputClaim:
    """This writer's claim on a sequence: made by :func:`claim_output`, touched at every frame
    written, released when the shot ends however it ends. Held through the folder where the system
    allows it, not its path: a folder moved away mid-shot still loses its claim."""

    def __init__(self, folder: Path | None = None, name: str = ""):
        self._path = folder / name if folder is not None else None
        self._name = name
        self._folder = None
        if folder is not None and os.unlink in os.supports_dir_fd and os.utime in os.supports_dir_fd:
            with contextlib.suppress(OSError):
                self._folder = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))

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
    live shot of other settings writes it. Claims of writers gone are removed."""
    now = time.time()
    mine = fingerprint[:16]
    try:
        with os.scandir(pattern.directory) as entries:
            claims = [(e, held) for e in entries if (held := _claimed_by(e.name, pattern)) is not None]
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
            Path(entry.path).unlink(missing_ok=True)
        elif theirs != mine:
            raise OutputBusyError(
                f"output {pattern} is being written now by another shot with other settings ({owner}); "
                f"wait for it to finish, or write to another output (a writer on another machine that "
                f"stopped counts as gone {LIVE_SECONDS / 60:g} minutes after its last frame). Nothing "
                f"was written"
            )
    name = claim_name(pattern, fingerprint)
    try:
        (pattern.directory / name).touch()
    except OSError:  # a folder that takes no file: writing the frames says why
        return OutputClaim()
    return OutputClaim(pattern.directory, name)
