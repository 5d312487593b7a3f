"""Folders a fusion works in, so that a failed or cancelled one leaves nothing half-done behind.

Renders of the host's inputs go to a scratch folder that is removed afterwards.
Fused frames arrive in a hidden staging folder beside the output and are renamed
into place only once every frame of the shot is there.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from movingcolor.frames.frame_range import describe_frames
from movingcolor.frames.replaced_outputs import existing_outputs
from movingcolor.frames.sequence import SequencePattern
from movingcolor.frames.temporaries import owner_name, writer_is_gone

from .errors import HostBridgeError

STAGING_PREFIX = ".movingcolor-partial-"


#: Another host's folder untouched this long is abandoned: a fusion on a shared folder can wait on
#: its server for hours without writing a file.
ABANDONED_SECONDS = 24 * 3600.0

#: The hidden folder beside the output that a bridge renders the host's inputs into.
INPUTS_PREFIX = ".movingcolor-inputs-"


def new_folder_in(parent: str | os.PathLike, prefix: str) -> Path:
    """A fresh folder in ``parent`` (made if missing), named after its writer; HostBridgeError naming
    the folder when it cannot be written to. Folders of ``prefix`` whose writer is gone (a host
    that crashed or was killed mid-fusion) are removed first: they hold whole shots of float EXRs."""
    try:
        Path(parent).mkdir(parents=True, exist_ok=True)
        remove_abandoned_folders(parent, prefix)
        folder = Path(parent) / f"{prefix}{owner_name()}"
        folder.mkdir()
        return folder
    except OSError as error:
        raise HostBridgeError(
            f"cannot write to the output folder {parent}: {error.strerror}; choose a folder you can write to"
        ) from None


def remove_abandoned_folders(parent: str | os.PathLike, prefix: str) -> list[Path]:
    """Remove the folders of ``prefix`` in ``parent`` that a writer now gone left; returns them."""
    removed = []
    now = time.time()
    with os.scandir(parent) as entries:
        for entry in entries:
            if not entry.name.startswith(prefix) or not entry.is_dir(follow_symlinks=False):
                continue
            owner = entry.name[len(prefix) :]
            try:
                modified = entry.stat(follow_symlinks=False).st_mtime
            except OSError:  # removed meanwhile, by its writer or another fuse's clean-up
                continue
            if writer_is_gone(owner, modified, now, ABANDONED_SECONDS):
                shutil.rmtree(entry.path, ignore_errors=True)
                removed.append(Path(entry.path))
    return removed


@contextmanager
def scratch_folder(parent: str | os.PathLike, prefix: str = INPUTS_PREFIX) -> Iterator[Path]:
    """A fresh folder in ``parent``, removed on the way out, with the folders above it that were
    made for it and are still empty then (a fuse that failed leaves no empty output folders)."""
    made = missing_folders(parent)
    folder = new_folder_in(parent, prefix)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)
        remove_if_empty(made)


def missing_folders(folder: str | os.PathLike) -> list[Path]:
    """The folders of ``folder``'s path that do not exist yet, deepest first: those a writer makes."""
    made = []
    missing = Path(folder).absolute()
    while not missing.exists() and missing.parent != missing:
        made.append(missing)
        missing = missing.parent
    return made


def remove_if_empty(folders: list[Path]) -> None:
    """Remove ``folders`` (deepest first, as :func:`missing_folders` gives them) while they are
    empty: a fuse that failed leaves no empty output folders."""
    for empty in folders:
        try:
            empty.rmdir()
        except OSError:  # holds the fused frames, or another writer's: kept
            break


class StagedOutput:
    """An output sequence written first into a staging folder beside it.

    ``pattern`` is where the frames are written meanwhile; ``commit()`` renames each
    frame into the real output (a rename within one folder tree: never a partial file),
    all of them or none; ``discard()`` removes the staging folder and whatever it holds.
    """

    def __init__(self, out: str | os.PathLike):
        self.final = SequencePattern.parse(out)
        self.folder = new_folder_in(self.final.directory, STAGING_PREFIX)
        self.pattern = SequencePattern(self.folder, self.final.prefix, self.final.suffix, self.final.padding)

    def commit(self, frames: list[int]) -> list[Path]:
        """Move ``frames`` into the output; returns their final paths. A frame that cannot be
        replaced (on Windows: a file another program holds open, such as a Read of the previous
        take) puts every frame back as it was and raises HostBridgeError, as does an image
        MovingColor did not write at a frame's name (nothing is replaced then)."""
        foreign = existing_outputs(self.final, frames, plate="", fingerprint="").foreign
        if foreign:
            # A take replaces the node's earlier takes, never what another program wrote there (a
            # plate folder named as the output by a slip).
            raise HostBridgeError(
                f"output {self.final}: frames {describe_frames(foreign, self.final.padding)} there are "
                f"images MovingColor did not write (first: {self.final.path(foreign[0])}), which this "
                f"take would replace: give another output (the node's, the out template). Nothing was written"
            )
        previous = self.folder / "previous"
        previous.mkdir()
        set_aside: list[tuple[Path, Path]] = []  # (output frame, where its previous take waits)
        placed: list[Path] = []
        try:
            for frame in frames:
                target = self.final.path(frame)
                if target.exists():
                    os.replace(target, previous / target.name)
                    set_aside.append((target, previous / target.name))
            for frame in frames:
                target = self.final.path(frame)
                os.replace(self.pattern.path(frame), target)
                placed.append(target)
        except BaseException as error:
            # Any interruption (a failed rename, Ctrl-C in `nuke -t`) puts the previous take back
            # before the staging folder, which holds it meanwhile, can be discarded.
            for target in placed:
                target.unlink(missing_ok=True)
            for target, kept in set_aside:
                os.replace(kept, target)
            if not isinstance(error, OSError):
                raise
            raise HostBridgeError(
                f"cannot replace {error.filename}: {error.strerror}; the output is as it was: close what "
                f"holds its frames open (a Read of the previous take, a viewer) and fuse again"
            ) from None
        self.discard()
        return placed

    def discard(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)
