"""A marked block of MovingColor lines in a host's start-up file (Nuke's init.py and menu.py).

The block sits between a start line and an end line. Installing again replaces the block where it
is; the user's own lines, before and after it, are kept byte for byte; a file without a block
gets it at the end. So running the install twice leaves the file as once.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

from .errors import StartupFileError
from .files import check_group_kept, groups, may_give_away, read_text, replace_text, user_name
from .folders import check_writable

BEGIN = "# >>> MovingColor >>>"
END = "# <<< MovingColor <<<"


def marked_block(body: str, note: str) -> str:
    """``body`` (lines ending in newlines) between the start and end lines."""
    return f"{BEGIN} {note}\n{body}{END}\n"


@dataclass(frozen=True)
class BlockEdit:
    """The new text of one start-up file and what changes in it."""

    path: Path
    text: str
    action: str  # "create", "replace", "append" or "keep"

    def describe(self) -> str:
        return {
            "create": f"write {self.path} with the MovingColor lines",
            "replace": f"replace the MovingColor lines in {self.path} (the other lines are kept)",
            "append": f"add the MovingColor lines at the end of {self.path} (the other lines are kept)",
            "keep": f"keep {self.path}: its MovingColor lines are already these",
        }[self.action]

    def apply(self) -> None:
        if self.action != "keep":
            replace_text(self.path, self.text)


def _marker_lines(lines: list[str], marker: str) -> list[int]:
    return [number for number, line in enumerate(lines) if line.startswith(marker)]


def _check_link_leads_somewhere(link: Path, path: Path) -> None:
    """Refuse a link on the way to the start-up file whose target is missing (a share that is not
    mounted): the install would make the share's folders on the local disk, and a file there."""
    if path.parent.is_dir():
        return
    dangling = next((p for p in (link, *link.parents) if p.is_symlink() and not p.exists()), None)
    if dangling is None:
        return  # no link: the folders are new, and made
    target = Path(os.path.realpath(dangling))
    if dangling == link:
        raise StartupFileError(
            f"{link} is a link to {target}, whose folder {target.parent} does not exist (a share that "
            f"is not mounted?): mount it, or replace the link with a file of your own, then run the "
            f"install again"
        )
    raise StartupFileError(
        f"{dangling} is a link to {target}, which does not exist (a share that is not mounted?): mount "
        f"it, or replace the link with a folder of your own, then run the install again"
    )


def _check_writable_file(path: Path) -> None:
    """Refuse a start-up file without the write permission that applies to this user: made read-only
    on purpose, it would still be replaced (renamed over), since its folder is writable."""
    was = path.stat()
    mine = not hasattr(os, "geteuid") or was.st_uid == os.geteuid()  # Windows: the read-only attribute
    if mine or may_give_away():
        bit = stat.S_IWUSR  # root, which may write anything, goes by the owner's wish
    else:
        bit = stat.S_IWGRP if was.st_gid in groups() else stat.S_IWOTH
    if was.st_mode & bit:
        return
    by = (
        f"make it writable (chmod u+w {path})"
        if mine
        else f"ask its owner ({user_name(was.st_uid)}) to let you write it"
    )
    raise StartupFileError(
        f"{path} is read-only for this user (mode {stat.S_IMODE(was.st_mode):04o}), and the install does "
        f"not replace a file kept as it is: {by} and run the install again, or add the MovingColor lines "
        f"by hand (install with --dest into a new folder and copy the lines of its {path.name} into this one)"
    )


def plan_block(path: Path, block: str) -> BlockEdit:
    """How ``path`` changes to hold ``block``; a link is followed, so a shared start-up file that
    the user links to is edited in place rather than replaced by a copy."""
    link, path = path, Path(os.path.realpath(path))
    _check_link_leads_somewhere(link, path)
    # The new text is written beside the file and renamed over it: where a link leads to (a studio's
    # shared menu.py) is written, not the folder of the link.
    check_writable(
        path.parent, f"the start-up file {path}: its folder", "make it writable, or remove the link"
    )
    if not path.exists():
        return BlockEdit(path, block, "create")
    if not path.is_file():
        raise StartupFileError(f"{path} is not a file: move it aside, then run the install again")
    # Asked before anything is written: replace_text would refuse it only after the packages.
    check_group_kept(path)
    _check_writable_file(path)
    text = read_text(path)
    newline = "\r\n" if "\r\n" in text else "\n"
    block = block.replace("\n", newline)
    lines = text.splitlines(keepends=True)
    begins, ends = _marker_lines(lines, BEGIN), _marker_lines(lines, END)
    if not begins and not ends:
        separator = "" if not text else (newline if text.endswith(("\n", "\r")) else newline * 2)
        return BlockEdit(path, text + separator + block, "append")
    if len(begins) != 1 or len(ends) != 1 or ends[0] < begins[0]:
        raise StartupFileError(
            f"{path}: the MovingColor lines are damaged (start lines {[n + 1 for n in begins]}, end lines "
            f"{[n + 1 for n in ends]}): delete everything from '{BEGIN}' to '{END}' and run the install again"
        )
    new = "".join(lines[: begins[0]]) + block + "".join(lines[ends[0] + 1 :])
    return BlockEdit(path, new, "keep" if new == text else "replace")
