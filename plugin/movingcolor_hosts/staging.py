"""Folders a fusion works in, so that a failed or cancelled one leaves nothing half-done behind.

Renders of the host's inputs go to a scratch folder that is removed afterwards.
Fused frames arrive in a hidden staging folder beside the output and are renamed
into place only once every frame of the shot is there.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from movingcolor.frames.sequence import SequencePattern

from .errors import HostBridgeError

STAGING_PREFIX = ".movingcolor-partial-"


@contextmanager
def scratch_folder(parent: str | os.PathLike | None = None, prefix: str = "movingcolor-") -> Iterator[Path]:
    """A fresh folder (in ``parent``, else the system's temporary folder), removed on the way out."""
    if parent is not None:
        Path(parent).mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix=prefix, dir=parent))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


class StagedOutput:
    """An output sequence written first into a staging folder beside it.

    ``pattern`` is where the frames are written meanwhile; ``commit()`` renames each
    frame into the real output (a rename within one folder tree: never a partial file);
    ``discard()`` removes the staging folder and whatever it holds.
    """

    def __init__(self, out: str | os.PathLike):
        self.final = SequencePattern.parse(out)
        try:
            self.final.directory.mkdir(parents=True, exist_ok=True)
            self.folder = Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=self.final.directory))
        except OSError as error:
            raise HostBridgeError(
                f"cannot write to the output folder {self.final.directory}: {error.strerror}; "
                f"choose a folder you can write to"
            ) from error
        self.pattern = SequencePattern(self.folder, self.final.prefix, self.final.suffix, self.final.padding)

    def commit(self, frames: list[int]) -> list[Path]:
        """Move ``frames`` into the output; returns their final paths."""
        moved = []
        for frame in frames:
            target = self.final.path(frame)
            os.replace(self.pattern.path(frame), target)
            moved.append(target)
        self.discard()
        return moved

    def discard(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)
