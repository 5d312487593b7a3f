"""What a streamed shot's setup says about frames and outputs, checked as the wire states it.

The render range follows ``movingcolor fuse`` (one policy, ``jobs.render_range``):
every frame of the clip by default, ``render`` if given, grown by ``handles`` within
the clip. The frames asked for and the buffer come from the shot's frame plan
(``jobs.FramePlan``): those the engine's windows read, ascending, and the most frames
the runner can need held at once when they arrive in that order.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass

from ..errors import FrameRangeError, MissingFramesError, MovingColorError, OutputError
from ..frames.frame_range import FrameRange
from ..frames.image_io import EXR_COMPRESSIONS, WRITABLE_FORMATS
from ..jobs import render_range as plan_render_range
from ..jobs.frame_plan import held_around
from ..protocol.images import ROLES, SAMPLE_DTYPES
from ..v1 import fusion_pb2
from ..v1 import image_pb2 as pb

#: The longest clip a setup may declare. Shots are rarely more than a few thousand frames; the
#: bound keeps what a few bytes of setup make the server hold and plan small.
MAX_CLIP_FRAMES = 100_000


@dataclass(frozen=True)
class OutputSettings:
    """How fused frames go back: file bytes of ``format`` or raw samples."""

    encoding: int
    format: str
    sample_type: int
    compression: str


def output_settings(setup: fusion_pb2.ShotSetup) -> OutputSettings:
    out = setup.output
    encoding = out.encoding or pb.ENCODING_FILE
    if encoding not in (pb.ENCODING_FILE, pb.ENCODING_RAW):
        raise OutputError(f"output encoding {encoding} unknown: use ENCODING_FILE or ENCODING_RAW")
    if out.sample_type and out.sample_type not in SAMPLE_DTYPES:
        raise OutputError(
            f"output sample type {out.sample_type} unknown: use SAMPLE_TYPE_HALF or SAMPLE_TYPE_FLOAT"
        )
    if encoding == pb.ENCODING_RAW:
        return OutputSettings(encoding, "", out.sample_type or pb.SAMPLE_TYPE_FLOAT, "")
    fmt = (out.format or "exr").lower().lstrip(".")
    if f".{fmt}" not in WRITABLE_FORMATS:
        raise OutputError(
            f"output format {out.format!r} cannot be written; use one of "
            f"{', '.join(ext.lstrip('.') for ext in WRITABLE_FORMATS)}"
        )
    compression = out.compression or "zip"
    if compression not in EXR_COMPRESSIONS:
        raise OutputError(
            f"EXR compression {compression!r} unknown: use one of {', '.join(EXR_COMPRESSIONS)}"
        )
    return OutputSettings(encoding, fmt, out.sample_type or pb.SAMPLE_TYPE_HALF, compression)


def clip_frames(setup: fusion_pb2.ShotSetup) -> list[int]:
    """The setup's clip, checked: ascending, each frame once, at most ``MAX_CLIP_FRAMES`` frames."""
    if len(setup.clip) > MAX_CLIP_FRAMES:
        raise FrameRangeError(
            f"the setup's clip lists {len(setup.clip)} frames; a shot here has at most {MAX_CLIP_FRAMES} "
            f"(over an hour at 24 fps): split longer material into shots"
        )
    clip = list(setup.clip)
    if not clip:
        raise MissingFramesError("the setup's clip is empty: list every frame number the client can send")
    if any(b <= a for a, b in zip(clip, clip[1:], strict=False)):
        raise MovingColorError("the setup's clip must list frame numbers in ascending order, each once")
    return clip


def missing_frames(clip: list[int], wanted: FrameRange, shown: int = 8) -> tuple[int, list[int]]:
    """How many frames of ``wanted`` the ascending ``clip`` lacks, and the first ``shown`` of them.

    Counted from the clip, never by walking ``wanted``: a client declares both, and a range of
    10**12 frames must cost no more than a short one.
    """
    low, high = bisect.bisect_left(clip, wanted.first), bisect.bisect_right(clip, wanted.last)
    count = len(wanted) - (high - low)
    first: list[int] = []
    frame, index = wanted.first, low
    while len(first) < min(shown, count):  # each step passes a clip frame or finds a missing one
        if index < high and clip[index] == frame:
            index += 1
        else:
            first.append(frame)
        frame += 1
    return count, first


def _require(clip: list[int], wanted: FrameRange, what: str) -> None:
    count, first = missing_frames(clip, wanted)
    if count:
        shown = ", ".join(str(f) for f in first) + (" ..." if count > len(first) else "")
        raise MissingFramesError(
            f"the clip lacks {count} of {what} {wanted}: {shown}; add them to the clip or "
            f"render a range within it"
        )


def render_range(clip: list[int], setup: fusion_pb2.ShotSetup) -> FrameRange:
    """The frames to fuse: as ``movingcolor fuse`` picks them from ``--frames`` and ``--handles``.

    Each frame of the result is in ``clip``, so it is no longer than the clip: the ranges a
    client declares are counted against the clip, never enumerated.
    """
    available = FrameRange(clip[0], clip[-1])
    asked = FrameRange(setup.render.first, setup.render.last) if setup.HasField("render") else None

    def check(wanted: FrameRange, grown: bool) -> None:
        _require(clip, wanted, "render frames with handles" if grown else "render frames")

    reach = available
    if setup.handles:
        # A gap in the clip ends the handles as its ends do.
        reach = held_around(set(clip), asked or available, available)
    return plan_render_range(asked, setup.handles, available, reach, check)


def wire_roles(roles: tuple[str, ...]) -> list[int]:
    return [ROLES[r] for r in roles]


__all__ = [
    "OutputSettings",
    "clip_frames",
    "missing_frames",
    "output_settings",
    "render_range",
    "wire_roles",
]
