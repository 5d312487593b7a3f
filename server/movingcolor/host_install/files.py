"""Replacing a file or a folder whole: whoever reads it sees the old one or the new one, never a mix."""

from __future__ import annotations

import errno
import os
import shutil
import stat
import sys
from pathlib import Path

from ..frames.temporaries import temporary_path
from .errors import DestinationNotWritableError


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
            _keep_owner(path, temporary)
            shutil.copymode(path, temporary)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def may_give_away() -> bool:
    """Whether this process may give a file to another user (CAP_CHOWN): root, unless its
    capabilities were dropped (a container's, ``setpriv``)."""
    if not hasattr(os, "geteuid"):
        return False
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("CapEff:"):
                    return bool(int(line.split()[1], 16) & 1)  # bit 0: CAP_CHOWN
    except (OSError, ValueError, IndexError):
        pass
    return os.geteuid() == 0


def groups() -> set[int]:
    """The groups this user acts with."""
    return {os.getegid(), *os.getgroups()} if hasattr(os, "getegid") else set()


def check_group_kept(path: Path) -> None:
    """Raise unless :func:`replace_text` can give its new ``path`` the existing file's group (which
    :func:`_keep_owner` does at the last moment): asked while planning, so an install refused for it
    has changed nothing, not failed after replacing the packages."""
    if not hasattr(os, "chown") or may_give_away():
        return
    was, folder = path.stat(), path.parent.stat()
    # A new file takes the folder's group where the folder passes it on (setgid), else this user's.
    new_gid = folder.st_gid if folder.st_mode & stat.S_ISGID else os.getegid()
    if was.st_gid == new_gid or was.st_gid in groups():
        return
    raise DestinationNotWritableError(
        f"{path} belongs to {user_name(was.st_uid)}, group {_group(was.st_gid)}, and rewritten by this user "
        f"it would lose that group and the users who read it through it: run the install as its owner "
        f"or as a member of that group, or give --dest a folder of your own"
    )


def user_name(uid: int) -> str:
    """``uid N (name)``, for messages."""
    try:
        import pwd

        return f"uid {uid} ({pwd.getpwuid(uid).pw_name})"
    except (ImportError, KeyError):
        return f"uid {uid}"


def _group(gid: int) -> str:
    try:
        import grp

        return f"{gid} ({grp.getgrgid(gid).gr_name})"
    except (ImportError, KeyError):
        return str(gid)


def _keep_owner(path: Path, temporary: Path) -> None:
    """``path``'s owner and group on ``temporary``, or its group where this user may not give the
    file away: a studio's shared init.py (group-readable, linked into each artist's folder) rewritten
    by a TD became the TD's, and its readers could no longer open it. A group this user cannot keep
    is refused, before anything is replaced."""
    if not hasattr(os, "chown"):  # Windows: a new file takes its folder's permissions
        return
    was, now = path.stat(), temporary.stat()
    if (was.st_uid, was.st_gid) == (now.st_uid, now.st_gid):
        return
    try:
        os.chown(temporary, was.st_uid, was.st_gid)
        return
    except PermissionError:
        pass
    try:
        os.chown(temporary, -1, was.st_gid)
    except PermissionError:
        raise PermissionError(
            errno.EPERM,
            f"rewritten by this user it would lose its group (gid {was.st_gid}) and the users who read "
            f"it through that group; run the install as its owner or as a member of that group",
            str(path),
        ) from None


def copy_folder(source: Path, target: Path, ignore=None) -> None:
    """Copy the folder ``source`` to ``target`` (which may exist), every copy writable by this
    user: copied with their modes, files of a read-only installed package (a studio's shared
    environment) made a folder the next install could not replace, nor anyone remove."""
    shutil.copytree(source, target, ignore=ignore, dirs_exist_ok=True)
    for folder, folders, files in os.walk(target):
        for name in (folder, *(os.path.join(folder, f) for f in folders + files)):
            mode = os.lstat(name).st_mode
            if not stat.S_ISLNK(mode) and not mode & stat.S_IWUSR:
                os.chmod(name, stat.S_IMODE(mode) | stat.S_IWUSR)


def read_text(path: Path) -> str:
    with open(path, encoding="utf-8", errors="surrogateescape", newline="") as file:
        return file.read()


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        if sys.version_info >= (3, 12):
            shutil.rmtree(path, onexc=_writable_then_again)  # novermin: guarded by the version
        else:
            shutil.rmtree(path, onerror=_writable_then_again)
    else:
        path.unlink()


def _writable_then_again(function, name: str, _error) -> None:
    """Remove ``name`` again once its folder is writable by this user: an earlier install copied a
    read-only package's folders as they were, which a plain removal cannot empty."""
    folder = os.path.dirname(name)
    os.chmod(folder, stat.S_IMODE(os.lstat(folder).st_mode) | stat.S_IWUSR | stat.S_IXUSR)
    if function is not os.rmdir and os.path.isdir(name) and not os.path.islink(name):
        os.chmod(name, stat.S_IMODE(os.lstat(name).st_mode) | stat.S_IWUSR | stat.S_IRUSR | stat.S_IXUSR)
    function(name)


def check_removable(folder: Path, fix: str) -> None:
    """Raise unless this user can remove ``folder`` and everything in it, as replacing it does.

    Checked before anything is written: an earlier install made by another user (with sudo) could be
    renamed aside, but not emptied, once the new folder had taken its place. A folder of this user's
    own passes whatever its mode (:func:`_remove` makes it writable); another user's must let this
    one list and change it. Asked of the system, not probed, so a dry run checks it too."""
    if not hasattr(os, "geteuid") or folder.is_symlink() or not folder.is_dir():
        return
    me, pending = os.geteuid(), [str(folder)]
    while pending:
        current = pending.pop()
        owner = os.lstat(current).st_uid
        if owner != me and not os.access(current, os.R_OK | os.W_OK | os.X_OK):
            raise DestinationNotWritableError(
                f"the folder {folder} holds files this user cannot remove ({current} is owned by "
                f"{user_name(owner)}, e.g. from an install made with sudo), and the install replaces that "
                f"folder whole: remove it as its owner (sudo rm -r {folder}), or {fix}"
            )
        try:
            with os.scandir(current) as entries:
                pending += [entry.path for entry in entries if entry.is_dir(follow_symlinks=False)]
        except OSError:
            pass  # this user's own folder, unreadable: _remove makes it readable first


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
    try:
        _remove(aside)
    except OSError as error:
        # The new folder is in place and the install goes on: failing here would say that nothing
        # changed, and hide the old folder under its temporary name.
        where = f" ({error.filename})" if error.filename else ""
        print(
            f"Note: the previous {folder} is left at {aside}: it could not be removed "
            f"({error.strerror or error}{where}); remove it as its owner",
            file=sys.stderr,
        )
