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
    if _counts_drop_frame(separator, rate):
        # Two frame numbers (four at 60) skipped each minute but every tenth.
        count -= (nominal // 15) * (total_minutes - total_minutes // 10)
    return count


def is_drop_frame(text: str, rate: Fraction | float) -> bool:
    """Whether timecode ``text`` counts drop-frame (``;`` before its frames, at 29.97 or 59.94)."""
    match = _TIMECODE.fullmatch(text.strip())
    return bool(match and rate and _counts_drop_frame(match.group(4), rate))


def _counts_drop_frame(separator: str, rate: Fraction | float) -> bool:
    """Whether a timecode whose frames follow ``separator`` counts drop-frame at ``rate``."""
    nominal = round(float(rate))
    return separator in ";." and nominal in (30, 60) and abs(float(rate) - nominal * 1000 / 1001) < 0.01


def timecode_text(count: int, rate: Fraction | float, drop_frame: bool = False) -> str:
    """The timecode ``HH:MM:SS:FF`` (``;FF`` drop-frame) of frame ``count`` from 00:00:00:00 at
    ``rate``: :func:`timecode_frame`'s inverse. Hours wrap at 24."""
    nominal = round(float(rate))
    if drop_frame:
        dropped = nominal // 15
        per_minute = nominal * 60 - dropped
        per_ten_minutes = per_minute * 10 + dropped
        tens, rest = divmod(count, per_ten_minutes)
        count += dropped * 9 * tens + (dropped * ((rest - dropped) // per_minute) if rest > dropped else 0)
    frames, seconds = count % nominal, count // nominal
    hours, minutes = seconds // 3600 % 24, seconds // 60 % 60
    return f"{hours:02d}:{minutes:02d}:{seconds % 60:02d}{';' if drop_frame else ':'}{frames:02d}"


def smpte_packed(text: str) -> tuple[int, int]:
    """Timecode ``text`` as an OpenEXR ``TimeCode`` holds it (OpenImageIO's ``smpte:TimeCode``): its
    digits in binary-coded decimal, the drop-frame flag, and no user data."""
    match = _TIMECODE.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"{text!r} is no timecode")
    hours, minutes, seconds, separator, frames = match.groups()
    value = 0
    for number, shift in ((int(frames), 0), (int(seconds), 8), (int(minutes), 16), (int(hours), 24)):
        value |= (number % 10) << shift | (number // 10) << (shift + 4)
    if separator in ";.":
        value |= 1 << 6
    return value, 0
