"""Text for the demo's pictures, drawn by OpenImageIO (its wheels ship the Droid fonts)."""

from __future__ import annotations

import logging

import numpy as np
import OpenImageIO as oiio

log = logging.getLogger("movingcolor")

# Neutral greys, as a grading suite's interface: the pictures are judged against them.
BACKGROUND = (0.12, 0.12, 0.12)
TEXT = (0.85, 0.85, 0.85)
FONT = "DroidSans"

_warned: list[str] = []


def text_cell(
    text: str,
    width: int,
    height: int,
    size: int = 18,
    align: str = "center",
    colour: tuple[float, float, float] = TEXT,
    background: tuple[float, float, float] = BACKGROUND,
) -> np.ndarray:
    """``text`` drawn on a ``(height, width, 3)`` float32 cell, centred vertically;
    ``align`` is ``left``, ``center`` or ``right``. Lines split at ``\\n``."""
    buf = oiio.ImageBuf(oiio.ImageSpec(width, height, 3, oiio.FLOAT))
    oiio.ImageBufAlgo.fill(buf, background)
    x = {"left": 6, "center": width // 2, "right": width - 6}[align]
    lines = text.split("\n")
    step = int(size * 1.25)
    top = height // 2 - step * (len(lines) - 1) // 2
    for index, line in enumerate(lines):
        # Set on a baseline, not centred on its own ink: labels with and without descenders
        # (guided, feather) then line up across a row.
        baseline = top + index * step + int(size * 0.35)
        drawn = oiio.ImageBufAlgo.render_text(
            buf, x, baseline, line, size, FONT, colour, alignx=align, aligny="baseline"
        )
        if not drawn and FONT not in _warned:
            # A build of OpenImageIO without fonts: the picture is still worth having unlabelled.
            _warned.append(FONT)
            log.warning("demo pictures are unlabelled: OpenImageIO has no font %s (%s)", FONT, buf.geterror())
    return buf.get_pixels(oiio.FLOAT).reshape(height, width, 3)
