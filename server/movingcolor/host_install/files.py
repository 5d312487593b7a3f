"""Replacing a file or a folder whole: whoever reads it sees the old one or the new one, never a mix."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from ..frames.temporaries import temporary_path


def replace_text(path: Path, text: str) -> None:
    """Write ``text`` to a temporary file beside ``path`` and rename it over ``path``.

    Bytes that are not UTF-8 round-trip (surrogateescape), so a user's file in another encoding
    keeps its own lines byte for byte; an existing file's permissions are kept."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = temporary_path(path)
    try:
        with open(temporary, "w", encoding="utf-8", errors="surrogateescape", newline="") as file:
            file.write(text)
        if path.exists():
            shutil.copymode(path, temporary)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def read_text(path: Path) -> str:
    with open(path, encoding="utf-8", errors="surrogateescape", newline="") as file:
        return file.read()


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink()


def replace_folder(staged: Path, folder: Path) -> None:
    """Put the complete folder ``staged`` (in ``folder``'s parent) at ``folder``.

    What was there is renamed aside first and removed only once the new folder is in place, so a
    failure at any point leaves one whole folder at ``folder``: the old one or the new one."""
    if not (folder.exists() or folder.is_symlink()):
        os.replace(staged, folder)
        return
    aside = temporary_path(folder)
    os.replace(folder, aside)
    try:
        os.replace(staged, folder)
    except BaseException:
        os.replace(aside, folder)
        raise
    _remove(aside)
