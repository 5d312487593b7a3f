"""Checks that a rendered matte is a matte, before a server spends time on it.

A host asked to render "with alpha" writes an opaque alpha when the clip has
none; fused through that, the whole frame would count as graded and the result
would look plausible and be wrong. Better to say so.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from movingcolor.frames.image_io import read_header, read_pixels
from movingcolor.frames.sequence import SequencePattern

from .errors import MissingInputError


def require_matte_in_alpha(plate: str, what: str, fix: str) -> None:
    """Raise MissingInputError unless some frame of the ``plate`` sequence has an alpha below 1.
    ``what`` names the source in the message and ``fix`` says how to give a matte."""
    pattern = SequencePattern.parse(plate)
    frames = pattern.frames_on_disk()
    for frame in frames:
        path = Path(pattern.path(frame))
        channels = read_header(path).channels
        if "A" not in channels:
            break
        alpha = read_pixels(path)[:, :, channels.index("A")]
        if float(np.min(alpha)) < 1.0:
            return
    raise MissingInputError(f"{what} has no matte in its alpha (it is opaque in every frame); {fix}")
