"""A band width as artists write it (``12`` pixels, ``10%`` of the object's size).

Light on purpose (numpy only): the host bridges check a band setting without loading the
band's image processing (``masks.band``).

What the tool records (``str(width)``: ``12px``, ``10%``, in EXR headers and ``--json``) parses
back to the same width, so a value copied from a header or a report is accepted as it stands.
"""

from __future__ import annotations

import logging
import math
import re
from dataclasses import dataclass

import numpy as np

from ..errors import BandSpecError

log = logging.getLogger("movingcolor")

# A plain or exponent number (what Python writes for very small or large floats), then an optional
# unit: ``px`` (any case) for pixels, ``%`` for a percentage of the object's size.
_SPEC = re.compile(r"^\s*((?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)\s*(px|%)?\s*$", re.IGNORECASE)

#: A band's total width (it reaches ``width`` pixels each side of the matte's edge) above this share
#: of the frame's short side draws a warning. The paper's widest band, 25 % of the object's size
#: each side, around an object half the frame's short side across is a quarter of that side in
#: all; a wider band is no longer a seam: it reaches into the interior of the graded region, where
#: the fusion fades the grade towards the plate.
PLAUSIBLE_SHARE = 0.25
#: Frames this small (thumbnails, test frames) still take bands up to this many pixels, with the
#: warning: the band set for the shot they were cut from keeps working on them.
SMALL_FRAME_BAND = 100


@dataclass(frozen=True)
class BandWidth:
    """A band width in pixels, or in percent of the object's size.

    The object's size is the diameter of a disc of the matte's area,
    ``sqrt(4·area/π)``, measured per frame; the paper evaluates edge ratios of
    5–25 % of that size.
    """

    value: float
    relative: bool = False

    @classmethod
    def parse(cls, text: str | float | int) -> BandWidth:
        match = _SPEC.match(str(text))
        value = float(match.group(1)) if match else math.nan
        if not (math.isfinite(value) and value > 0):
            raise BandSpecError(
                f"band width {text!r} must be a positive number of pixels (12 or 12px) or a "
                f"percentage of the object's size (10%)"
            )
        relative = match.group(2) == "%"
        if relative and value > 100:
            raise BandSpecError(f"band width {text!r}: a percentage must be at most 100%")
        return cls(value, relative)

    def pixels(self, inside: np.ndarray) -> float:
        """The width in pixels for a frame whose binary object is ``inside``."""
        if not self.relative:
            # Under a pixel no pixel lies within the band: the engines would return the hard
            # composite without a word. One pixel at least, as a percentage gets.
            return max(1.0, self.value)
        diameter = math.sqrt(4.0 * float(inside.sum()) / math.pi)
        return max(1.0, self.value / 100.0 * diameter)

    def check_frame(self, width: int, height: int) -> None:
        """Refuse a pixel band wider than a ``width`` x ``height`` frame; warn when it is
        implausibly wide for it. A percentage depends on each frame's object, so it passes here.

        Wider than the frame means its total width (``2·value``) exceeds the frame's short side:
        the band then spans the frame from edge to edge across the matte, and its filters grow
        as wide as the band (a typo's 39144595 px ran for hours).
        """
        if self.relative:
            return
        short = min(width, height)
        across = 2.0 * self.value
        plausible = _plausible_widths(short)
        if across > short and self.value > SMALL_FRAME_BAND:
            raise BandSpecError(
                f"band width {self} is wider than the {width}x{height} frame: it reaches "
                f"{self.value:g} px each side of the matte's edge, {across:g} px in all, more than "
                f"the frame's short side ({short} px); give {plausible} for this frame, or a "
                f"percentage of the object's size (10%)"
            )
        # On a frame a few pixels across even the narrowest band is wide: no narrower one to suggest.
        if across > PLAUSIBLE_SHARE * short and self.value > 1:
            log.warning(
                "band width %s spans %d%% of the %dx%d frame's short side (%g px across the matte's "
                "edge): it re-decides much of the graded region and washes the grade out; %s suits "
                "this frame",
                self,
                round(100 * across / short),
                width,
                height,
                across,
                plausible,
            )

    def says_if_wide(self, pixels: float, width: int, height: int, frame: int) -> bool:
        """For a percentage resolved to ``pixels`` on ``frame`` (a ``width`` x ``height`` frame): warn
        where it spans as much of the frame as :meth:`check_frame` warns of for a width in pixels
        (it cannot check a percentage before the frame's object is known); True where it warned.
        A percentage of a large object reaches hundreds of pixels: 100% at 4K, 1388 px a side."""
        short = min(width, height)
        if not self.relative or 2.0 * pixels <= PLAUSIBLE_SHARE * short or pixels <= 1:
            return False
        log.warning(
            "band width %s is %g px on frame %d, spanning %d%% of the %dx%d frame's short side: it "
            "re-decides much of the graded region, washes the grade out and costs far more than a "
            "band along the edge; a smaller percentage or %s suits this frame",
            self,
            round(pixels),
            frame,
            round(100 * 2.0 * pixels / short),
            width,
            height,
            _plausible_widths(short),
        )
        return True

    def __str__(self) -> str:
        # repr is the shortest text that reads back as the same float; "12.0" is written "12".
        number = repr(float(self.value)).removesuffix(".0")
        return f"{number}%" if self.relative else f"{number}px"


def _plausible_widths(short: int) -> str:
    """The band widths in pixels that suit a frame whose short side is ``short`` pixels."""
    widest = math.floor(PLAUSIBLE_SHARE * short / 2)
    return f"1 to {widest} px" if widest > 1 else "1 px"
