"""Checks that a rendered matte is a matte, before a server spends time on it.

A host asked to render "with alpha" writes an opaque alpha when the clip has
none, and a matte input rendered from the wrong channel, or a roto not yet drawn,
is opaque or empty everywhere: fused through that, the whole frame, or nothing,
would count as graded, and the result would look plausible and be wrong. Better to
say so.
"""

from __future__ import annotations

import numpy as np
from movingcolor.frames.image_io import read_header, read_pixels, write_image
from movingcolor.frames.matte import matte_from_pixels
from movingcolor.frames.sequence import SequencePattern

from .errors import MissingInputError


def require_matte_in_alpha(plate: str, what: str, fix: str) -> None:
    """Raise MissingInputError unless the ``plate`` sequence's alpha is a matte: it has an alpha,
    below 1 somewhere and above 0 somewhere in the frames. ``what`` names the source in the message
    and ``fix`` says how to give a matte."""
    _require_matte(plate, f"{what} has no matte in its alpha", fix, alpha=True)


def require_matte(matte: str, what: str, fix: str) -> None:
    """Raise MissingInputError unless the rendered ``matte`` sequence, read as the server reads it
    (its alpha, else its one channel, else its brightest colour channel), is below 1 somewhere and
    above 0 somewhere in the frames."""
    _require_matte(matte, what, fix, alpha=False)


def drop_opaque_alpha(sequence: str) -> bool:
    """A matte clip rendered with its alpha, where that alpha is opaque on every frame (a host's
    default for a clip without one: a white-on-black roto): its frames written again without it, so
    the matte is read from the picture, as the clip holds it. True where the alpha was dropped; a
    clip whose alpha holds its matte (an RGBA cutout, black where its alpha is) keeps it."""
    pattern = SequencePattern.parse(sequence)
    frames = pattern.frames_on_disk()
    for frame in frames:
        channels = read_header(pattern.path(frame)).channels
        if "A" not in channels:
            return False
        if float(np.min(read_pixels(pattern.path(frame))[:, :, channels.index("A")])) < 1.0:
            return False
    for frame in frames:
        path = pattern.path(frame)
        header = read_header(path)
        pixels = read_pixels(path)
        kept = [c for c in header.channels if c != "A"]
        picture = pixels[:, :, [header.channels.index(c) for c in kept]]
        write_image(path, picture, channels=tuple(kept), pixel_type="float")
    return bool(frames)


def _require_matte(sequence: str, what: str, fix: str, alpha: bool) -> None:
    pattern = SequencePattern.parse(sequence)
    empty = opaque = True
    for frame in pattern.frames_on_disk():
        path = pattern.path(frame)
        channels = read_header(path).channels
        if alpha and "A" not in channels:
            empty = False  # no alpha at all: what a host's opaque default means
            break
        pixels = read_pixels(path)
        values = pixels[:, :, channels.index("A")] if alpha else matte_from_pixels(pixels, channels)
        empty = empty and float(np.max(values)) <= 0.0
        opaque = opaque and float(np.min(values)) >= 1.0
        if not (empty or opaque):
            return
    if empty:
        raise MissingInputError(f"{what}: it is empty (0) in every frame, so nothing would be graded; {fix}")
    raise MissingInputError(f"{what}: it is opaque in every frame, so the whole frame would be graded; {fix}")
