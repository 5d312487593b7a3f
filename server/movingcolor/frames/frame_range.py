"""Frame ranges as artists write them: ``1001-1100``, ``1001``, with handles."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from ..errors import FrameRangeError

_RANGE = re.compile(r"^\s*(-?\d+)\s*(?:-\s*(-?\d+))?\s*$")
#: Frame numbers lie within ±2³¹ (what every host and file naming uses); a range's length then
#: always fits the machine's sizes, whatever a caller declares.
MAX_FRAME = 2**31


@dataclass(frozen=True)
class FrameRange:
    """An inclusive range of frame numbers, ``first <= last``."""

    first: int
    last: int

    def __post_init__(self) -> None:
        for number in (self.first, self.last):
            if not -MAX_FRAME <= number <= MAX_FRAME:
                raise FrameRangeError(
                    f"frame number {number} is out of range: frames are numbered within "
                    f"-{MAX_FRAME}..{MAX_FRAME}"
                )
        if self.last < self.first:
            raise FrameRangeError(
                f"frame range {self.first}-{self.last} is inverted: write the first frame first, "
                f"e.g. {self.last}-{self.first}"
            )

    @classmethod
    def parse(cls, text: str) -> FrameRange:
        """Parse ``A-B`` or a single frame ``A``; negative frames are allowed (``-5--1``)."""
        match = _RANGE.match(text)
        if not match:
            raise FrameRangeError(f"cannot read frame range {text!r}: write it as FIRST-LAST, e.g. 1001-1100")
        first = int(match.group(1))
        last = int(match.group(2)) if match.group(2) is not None else first
        return cls(first, last)

    def __iter__(self):
        return iter(range(self.first, self.last + 1))

    def __len__(self) -> int:
        return self.last - self.first + 1

    def __contains__(self, frame: object) -> bool:
        return isinstance(frame, int) and self.first <= frame <= self.last

    def with_handles(self, handles: int) -> FrameRange:
        """The range grown by ``handles`` frames at each end."""
        if handles < 0:
            raise FrameRangeError(f"handles must be zero or more frames, not {handles}")
        return FrameRange(max(self.first - handles, -MAX_FRAME), min(self.last + handles, MAX_FRAME))

    def clamp(self, available: FrameRange) -> FrameRange:
        """The part of this range inside ``available``; raises if they do not overlap."""
        first, last = max(self.first, available.first), min(self.last, available.last)
        if last < first:
            raise FrameRangeError(
                f"frame range {self} lies outside the frames the sources have ({available}): "
                f"pick frames within {available}"
            )
        return FrameRange(first, last)

    def __str__(self) -> str:
        return f"{self.first}-{self.last}" if self.last != self.first else str(self.first)


def frame_runs(frames: Iterable[int]) -> list[FrameRange]:
    """``frames`` as the fewest ranges of consecutive numbers, in order (duplicates ignored)."""
    runs: list[FrameRange] = []
    for number in sorted(set(frames)):
        if runs and number == runs[-1].last + 1:
            runs[-1] = FrameRange(runs[-1].first, number)
        else:
            runs.append(FrameRange(number, number))
    return runs


def describe_frames(frames: Iterable[int], padding: int = 1, most: int = 6) -> str:
    """``frames`` as an artist reads them: ``1001-1040, 1043-1080``; numbers zero-padded to
    ``padding`` digits as a sequence's file names write them; past ``most`` runs the middle is cut
    (``1-3, 5-7, ... 41-45 (12 runs)``) so a sequence full of holes stays one line."""
    runs = frame_runs(frames)
    if not runs:
        return "none"

    def number(value: int) -> str:
        return f"{value:0{padding}d}"  # as a sequence's file names write it (SequencePattern)

    def run(frames: FrameRange) -> str:
        if frames.first == frames.last:
            return number(frames.first)
        return f"{number(frames.first)}-{number(frames.last)}"

    if len(runs) <= most:
        return ", ".join(run(r) for r in runs)
    head = ", ".join(run(r) for r in runs[: most - 1])
    return f"{head}, ... {run(runs[-1])} ({len(runs)} runs)"
