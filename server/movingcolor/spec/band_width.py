"""A band width as artists write it (``12`` pixels, ``10%`` of the object's size).

Light on purpose (numpy only): the host bridges check a band setting without loading the
band's image processing (``masks.band``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from ..errors import BandSpecError

_SPEC = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(%?)\s*$")


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
        if not match or float(match.group(1)) <= 0:
            raise BandSpecError(
                f"band width {text!r} must be a positive number of pixels (12) or a percentage "
                f"of the object's size (10%)"
            )
        value, relative = float(match.group(1)), bool(match.group(2))
        if relative and value > 100:
            raise BandSpecError(f"band width {text!r}: a percentage must be at most 100%")
        return cls(value, relative)

    def pixels(self, inside: np.ndarray) -> float:
        """The width in pixels for a frame whose binary object is ``inside``."""
        if not self.relative:
            return self.value
        diameter = np.sqrt(4.0 * float(inside.sum()) / np.pi)
        return max(1.0, self.value / 100.0 * diameter)

    def __str__(self) -> str:
        number = f"{self.value:g}"
        return f"{number}%" if self.relative else f"{number}px"
