"""Root folders: RunJob reads and writes only inside the folders the server was started with."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from ..errors import MovingColorError
from ..frames.confine import lies_within
from .errors import FilesJobsDisabledError, PathOutsideRootsError


def check_roots(roots: Sequence[Path]) -> tuple[Path, ...]:
    """The roots as real, existing folders."""
    real = []
    for root in roots:
        path = Path(root).expanduser()
        if path.exists() and not path.is_dir():
            raise MovingColorError(f"root folder {root} is a file, not a folder; give its folder (--root)")
        if not path.is_dir():
            raise MovingColorError(f"root folder {root} does not exist; create it or fix --root")
        real.append(Path(os.path.realpath(path)))
    return tuple(real)


def inside_roots(text: str, what: str, roots: Sequence[Path]) -> str:
    """``text`` when it is an absolute path inside one of ``roots`` (symbolic links and ``..`` resolved)."""
    if not roots:
        raise FilesJobsDisabledError(
            "this server takes no file jobs: it was started without root folders; start it with "
            "--root /shows (the shared storage it may read and write), or stream frames with FuseShot"
        )
    if "\0" in text:
        raise MovingColorError(f"{what} {text!r} holds a NUL character, which no path can; give the real one")
    path = Path(text)
    if not path.is_absolute():
        raise MovingColorError(
            f"{what} {text!r} is a relative path; give absolute paths on the shared storage, as the "
            f"server sees them"
        )
    real = Path(os.path.realpath(path))
    if not lies_within(real, roots):
        raise PathOutsideRootsError(
            f"{what} {text} lies outside this server's root folders ({', '.join(map(str, roots))}); "
            f"put the shot under one of them, or start the server with another --root"
        )
    return text


def config_inside_roots(text: str, roots: Sequence[Path]) -> None:
    """A job's OpenColorIO config file reads its LUTs inside ``roots`` alone: its search folders and
    the LUTs it names (an absolute path, or a search path pointing elsewhere, would have the server
    read, and name in its errors, files outside them)."""
    from ..color.config import shared_config
    from ..color.config_files import files_outside
    from ..frames.confine import confined

    # Loaded as the job will load it, reading inside the roots (and the same config, cached).
    with confined(roots):
        config = shared_config(text)
    with config.reading_files():
        outside = files_outside(config.config, roots)
    if outside:
        shown = ", ".join(outside[:3]) + (f" and {len(outside) - 3} more" if len(outside) > 3 else "")
        raise PathOutsideRootsError(
            f"config {text} reads LUTs outside this server's root folders ({shown}); keep its search "
            f"path and LUTs under {', '.join(map(str, roots))}, or name a built-in config (ocio://...)"
        )
