"""Naming of frame sequences: ``shot.####.exr``, ``shot.%04d.exr`` or a folder of frames."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from ..errors import FrameSourceError

IMAGE_EXTENSIONS = (".exr", ".dpx", ".tif", ".tiff", ".png", ".jpg", ".jpeg")
VIDEO_EXTENSIONS = (".mp4", ".mov", ".mkv", ".avi", ".mxf", ".webm")

_HASHES = re.compile(r"#+")
_PRINTF = re.compile(r"%(0?)(\d*)d")
_TRAILING_NUMBER = re.compile(r"^(.*?)(-?\d+)$")
#: More digits than any frame number needs; a longer field is a typo (``%0300d``).
MAX_PADDING = 16


@dataclass(frozen=True)
class SequencePattern:
    """A sequence on disk: ``directory/prefix<number>suffix`` with ``padding`` digits."""

    directory: Path
    prefix: str
    suffix: str
    padding: int

    @classmethod
    def parse(cls, text: str | os.PathLike) -> SequencePattern:
        """Read ``shot.####.exr`` or ``shot.%04d.exr``; raises if ``text`` has neither."""
        path = Path(text)
        name = path.name
        hashes = list(_HASHES.finditer(name))
        printf = list(_PRINTF.finditer(name))
        if len(hashes) + len(printf) != 1:
            raise FrameSourceError(
                f"{text}: a sequence needs exactly one frame-number field, as in shot.####.exr "
                f"or shot.%04d.exr"
            )
        if hashes:
            field = hashes[0]
            padding = len(field.group(0))
        else:
            field = printf[0]
            padding = int(field.group(2) or 1)
        if not 1 <= padding <= MAX_PADDING:
            raise FrameSourceError(
                f"{text}: a frame-number field of {padding} digits; frame numbers take 1 to "
                f"{MAX_PADDING} (e.g. shot.####.exr or shot.%04d.exr)"
            )
        return cls(path.parent, name[: field.start()], name[field.end() :], padding)

    def path(self, frame: int) -> Path:
        sign = "-" if frame < 0 else ""
        return self.directory / f"{self.prefix}{sign}{abs(frame):0{self.padding}d}{self.suffix}"

    def frames_on_disk(self) -> list[int]:
        """Frame numbers of the files that exist, sorted."""
        if not self.directory.is_dir():
            raise FrameSourceError(f"{self.directory}: folder does not exist; check the sequence path")
        found = []
        pattern = re.compile(
            re.escape(self.prefix) + rf"(-?\d{{{self.padding},}})" + re.escape(self.suffix) + "$"
        )
        for entry in os.scandir(self.directory):
            match = pattern.match(entry.name)
            if match:
                found.append(int(match.group(1)))
        return sorted(found)

    def __str__(self) -> str:
        return str(self.directory / f"{self.prefix}{'#' * self.padding}{self.suffix}")


def is_sequence_pattern(text: str | os.PathLike) -> bool:
    name = Path(text).name
    return bool(_HASHES.search(name) or _PRINTF.search(name))


def pattern_from_folder(folder: Path) -> SequencePattern:
    """The single image sequence inside ``folder`` (frames named ``<prefix><number>.<ext>``)."""
    groups: dict[tuple[str, str], list[str]] = {}
    for entry in sorted(os.listdir(folder)):
        stem, ext = os.path.splitext(entry)
        if ext.lower() not in IMAGE_EXTENSIONS:
            continue
        match = _TRAILING_NUMBER.match(stem)
        if match:
            groups.setdefault((match.group(1), ext), []).append(match.group(2).lstrip("-"))
    if not groups:
        raise FrameSourceError(
            f"{folder}: no numbered image frames found (expected names like 0001.exr or "
            f"shot.1001.exr with one of {', '.join(IMAGE_EXTENSIONS)})"
        )
    if len(groups) > 1:
        names = ", ".join(f"{p}#{e}" for p, e in groups)
        raise FrameSourceError(
            f"{folder}: holds several sequences ({names}); name one, e.g. {folder}/shot.####.exr"
        )
    (prefix, ext), digits = next(iter(groups.items()))
    padding = min(len(d) for d in digits)
    return SequencePattern(folder, prefix, ext, padding)
