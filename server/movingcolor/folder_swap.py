"""Replacing a folder by one written beside it, so that a kill at any moment leaves one whole.

A checkpoint, a run's best weights or an exported model is written into a staging folder, then
swapped in: the folder it replaces is first renamed aside (``.<name>.old``) and removed only once
the new one is in place. A process killed between the two renames leaves the old folder whole
beside its place, and :func:`restore_folder` (called before every swap) puts it back, as
:func:`restore_for_reading` does for a reader where the folder is missing; one killed while
removing the old folder leaves litter that the next swap clears.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
from pathlib import Path


def aside(folder: Path) -> Path:
    """Where ``folder`` waits while a new one takes its place."""
    return folder.with_name(f".{folder.name}.old")


def restore_folder(folder: str | os.PathLike) -> None:
    """Put back a folder a swap killed between its renames set aside; clear what one killed after
    them left."""
    folder = Path(folder)
    waiting = aside(folder)
    if not waiting.exists():
        return
    if folder.exists():
        shutil.rmtree(waiting, ignore_errors=True)
    else:
        os.replace(waiting, folder)


def restore_for_reading(folder: str | os.PathLike, holds: tuple[str, ...]) -> None:
    """A reader's :func:`restore_folder`: where ``folder`` is missing and a swap killed between its
    renames left it aside whole (holding each of ``holds``), it is put back; nothing else is touched.
    A reader never removes: a ``.NAME.old`` beside a folder may be a user's own, or a swap's that is
    under way. Where this user may not write beside ``folder`` (a shared install) it is left."""
    folder = Path(folder)
    waiting = aside(folder)
    with contextlib.suppress(OSError):
        if not folder.exists() and waiting.is_dir() and all((waiting / name).is_file() for name in holds):
            # A rename fails where a folder of files has appeared there meanwhile: never over it.
            os.rename(waiting, folder)


def restore_folders_in(root: str | os.PathLike, holds: tuple[str, ...]) -> None:
    """:func:`restore_for_reading` for every folder of ``root`` that a swap set aside (a listing of
    model folders looks at them all)."""
    with contextlib.suppress(OSError):
        names = [entry.name for entry in os.scandir(root)]
        for name in names:
            if name.startswith(".") and name.endswith(".old") and len(name) > len("..old"):
                restore_for_reading(Path(root) / name[1 : -len(".old")], holds)


def replace_folder(staging: str | os.PathLike, folder: str | os.PathLike) -> None:
    """Put the finished folder ``staging`` (beside ``folder``, on the same file system) in
    ``folder``'s place."""
    folder = Path(folder)
    restore_folder(folder)
    for attempt in range(2):
        if folder.exists():
            os.replace(folder, aside(folder))
        try:
            os.replace(staging, folder)
            break
        except OSError as error:
            # A reader put the folder set aside back between the renames (restore_for_reading): set
            # it aside again, once.
            if attempt or error.errno not in (errno.ENOTEMPTY, errno.EEXIST) or not folder.exists():
                raise
    shutil.rmtree(aside(folder), ignore_errors=True)
