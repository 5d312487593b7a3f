"""Where each host looks for plugins on each platform, and whether this user can write there.

``system`` is :func:`platform.system`'s word (``Linux``, ``Darwin``, ``Windows``); ``env`` and ``home``
are passed in so the defaults of every platform can be read (and tested) on any one.
"""

from __future__ import annotations

import contextlib
import contextvars
import errno
import os
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path, PurePath, PurePosixPath, PureWindowsPath

from .errors import DestinationNotWritableError

_FUSION_UTILITY = "Fusion/Scripts/Utility"

#: Whether checks may write a probe file: not in a dry run, which promises to change nothing (a probe
#: made and removed changes the folder's time, which sync and watch tools act on).
_MAY_PROBE = contextvars.ContextVar("movingcolor_install_may_probe", default=True)


@contextlib.contextmanager
def without_probes() -> Iterator[None]:
    """:func:`check_writable` asks the system instead of writing a probe while the block runs (a dry
    run): a folder root may not write to, or one whose ACLs refuse, may then pass it, and the
    install itself checks it again."""
    token = _MAY_PROBE.set(False)
    try:
        yield
    finally:
        _MAY_PROBE.reset(token)


def _path(system: str, *parts: str) -> PurePath:
    return PureWindowsPath(*parts) if system == "Windows" else PurePosixPath(*parts)


def nuke_user_folder(system: str, env: Mapping[str, str], home: str) -> PurePath:
    """``~/.nuke`` (on Windows ``%HOME%\\.nuke`` where HOME is set, as studios often set it, else
    ``%USERPROFILE%\\.nuke``): Nuke runs its init.py and menu.py at start-up."""
    if system == "Windows":
        return _path(system, env.get("HOME") or env.get("USERPROFILE", home), ".nuke")
    return _path(system, home, ".nuke")


def resolve_utility_folder(system: str, env: Mapping[str, str], home: str) -> PurePath:
    """This user's ``Fusion/Scripts/Utility``: scripts there are in Workspace > Scripts on every page
    (the per-user folders of Resolve's scripting README)."""
    if system == "Windows":
        appdata = env.get("APPDATA") or str(_path(system, home, "AppData", "Roaming"))
        return _path(system, appdata, "Blackmagic Design/DaVinci Resolve/Support/Fusion/Scripts/Utility")
    if system == "Darwin":
        return _path(
            system, home, "Library/Application Support/Blackmagic Design/DaVinci Resolve", _FUSION_UTILITY
        )
    return _path(system, home, ".local/share/DaVinciResolve", _FUSION_UTILITY)


def movingcolor_data_folder(system: str, env: Mapping[str, str], home: str) -> PurePath:
    """This user's data folder for MovingColor (XDG on Linux, Application Support, LOCALAPPDATA)."""
    if system == "Windows":
        local = env.get("LOCALAPPDATA") or str(_path(system, home, "AppData", "Local"))
        return _path(system, local, "MovingColor")
    if system == "Darwin":
        return _path(system, home, "Library", "Application Support", "MovingColor")
    return _path(
        system, env.get("XDG_DATA_HOME") or str(_path(system, home, ".local", "share")), "movingcolor"
    )


def ofx_plugin_folder(system: str, env: Mapping[str, str]) -> PurePath:
    """The OpenFX standard's default plugin folder, which every OFX host scans."""
    if system == "Windows":
        common = env.get("CommonProgramFiles") or r"C:\Program Files\Common Files"
        return _path(system, common, "OFX", "Plugins")
    if system == "Darwin":
        return _path(system, "/Library", "OFX", "Plugins")
    return _path(system, "/usr", "OFX", "Plugins")


def check_writable(folder: Path, what: str, fix: str) -> None:
    """Raise unless ``folder`` exists as a folder this user can create files in, or can be created.

    A file is really created and removed in the nearest existing folder: ``os.access`` answers yes
    to root on read-only mounts and ignores ACLs."""
    existing = folder
    while not existing.exists():
        if existing.parent == existing:
            break
        existing = existing.parent
    if not existing.is_dir():
        raise DestinationNotWritableError(f"{what} {folder}: {existing} is a file, not a folder; {fix}")
    try:
        if not _MAY_PROBE.get():
            if not os.access(existing, os.W_OK | os.X_OK):
                raise PermissionError(errno.EACCES, os.strerror(errno.EACCES))
            if hasattr(os, "statvfs") and os.statvfs(existing).f_flag & os.ST_RDONLY:
                raise OSError(errno.EROFS, os.strerror(errno.EROFS))
            return
        handle, probe = tempfile.mkstemp(prefix=".movingcolor-probe-", dir=existing)
    except OSError as error:
        reason = error.strerror or str(error)
        raise DestinationNotWritableError(
            f"cannot write {what} {folder} ({existing}: {reason}); {fix}"
        ) from None
    os.close(handle)
    os.unlink(probe)


def check_site_writable(site: Path) -> None:
    """Raise unless the package folder ``site`` can be put in place: it is assembled beside itself
    and renamed in, so its parent must take new entries, not only the folder itself."""
    check_writable(
        site.parent, f"the package folder {site}: its parent folder", "give --site a folder you can write"
    )
