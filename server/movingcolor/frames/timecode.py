"""SMPTE timecodes of video files: where in a shot's time a movie's first frame sits.

A roto or a graded render exported for part of a plate carries the timecode of its first frame
(a QuickTime ``tmcd`` track, an MXF's start timecode); pairing its frames with the plate's by their
order would grade each plate frame through another frame's matte.
"""

from __future__ import annotations

import re
from fractions import Fraction

_TIMECODE = re.compile(r"(\d{1,2})[:;.](\d{2})[:;.](\d{2})([:;.])(\d{2,3})")


def timecode_frame(text: str, rate: Fraction | float) -> int | None:
    """The frame count from 00:00:00:00 of timecode ``text`` (``HH:MM:SS:FF``, drop-frame
    ``HH:MM:SS;FF``) at ``rate`` frames per second; None where it is no timecode at that rate."""
    match = _TIMECODE.fullmatch(text.strip())
    if match is None or not rate:
        return None
    hours, minutes, seconds, separator, frames = match.groups()
    nominal = round(float(rate))
    if int(minutes) > 59 or int(seconds) > 59 or int(frames) >= nominal:
        return None
    total_minutes = int(hours) * 60 + int(minutes)
    count = (total_minutes * 60 + int(seconds)) * nominal + int(frames)
    drop_frame = separator in ";." and nominal in (30, 60) and abs(float(rate) - nominal * 1000 / 1001) < 0.01
    if drop_frame:
        # Two frame numbers (four at 60) skipped each minute but every tenth.
        count -= (nominal // 15) * (total_minutes - total_minutes // 10)
    return count
