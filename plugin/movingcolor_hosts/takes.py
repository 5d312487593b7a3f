"""What else an output sequence holds beside the frames a fusion just wrote.

Fusing part of a range again after a change (a grade fixed on two frames) leaves the sequence's
other frames as they were, made with the settings before: a folder of mixed takes that a publish
would pick up whole. Each fused frame's header records what made it (engine, model, band, grade,
colourspaces, version), so frames of other settings are known, and a host can show the sequence
whole and say which frames differ. (A host's fingerprint cannot tell: its inputs are rendered
afresh for every fusion.) A host's render outside its UI (a farm's) reads one frame's header to
refuse a take of other settings than the node's (:func:`take_settings`).
"""

from __future__ import annotations

from pathlib import Path

from movingcolor.errors import MovingColorError
from movingcolor.frames.frame_range import describe_frames
from movingcolor.frames.image_io import read_header
from movingcolor.frames.sequence import SequencePattern

#: Header attributes of a fused frame that differ between takes of other settings, not between
#: frames of one take (its frame number, its head, the rendered inputs' folder and fingerprint); the
#: grade file's content digest among them, as the grade's label names the file alone.
_SETTINGS = ("band", "colorspace", "engine", "grade", "grade_digest", "model", "ocio_config", "version")


def _settings(pattern: SequencePattern, frame: int) -> tuple | None:
    try:
        attributes = read_header(pattern.path(frame)).attributes
    except (MovingColorError, OSError):  # unreadable: another take, whatever it is
        return None
    return tuple(str(attributes.get(f"movingcolor:{name}", "")) for name in _SETTINGS)


def take_settings(path: str | Path) -> dict[str, str]:
    """What made fused frame ``path``, as its header records it (``_SETTINGS``: engine, model, band,
    grade, ...), each as text; {} for a frame MovingColor did not write. Raises OSError or
    MovingColorError where the file cannot be read."""
    attributes = read_header(path).attributes
    return {
        name: str(attributes[f"movingcolor:{name}"])
        for name in _SETTINGS
        if f"movingcolor:{name}" in attributes
    }


def sequence_around(out: str, frames: list[int]) -> tuple[int, int]:
    """The run of consecutive frames on disk of sequence ``out`` that holds ``frames`` (ascending,
    all written): what a Read of the output shows without holding a frame."""
    pattern = SequencePattern.parse(out)
    on_disk = set(pattern.frames_on_disk()) | set(frames)
    first, last = frames[0], frames[-1]
    while first - 1 in on_disk:
        first -= 1
    while last + 1 in on_disk:
        last += 1
    return first, last


def other_takes(out: str, frames: list[int], around: tuple[int, int]) -> str:
    """The frames of ``around`` (a run of sequence ``out``) outside ``frames`` that a fusion of other
    settings made (or that are unreadable), described (``1001, 1004-1006``); "" for none."""
    pattern = SequencePattern.parse(out)
    ours = _settings(pattern, frames[0])
    written = set(frames)
    others = [
        frame
        for frame in range(around[0], around[1] + 1)
        if frame not in written and (ours is None or _settings(pattern, frame) != ours)
    ]
    return describe_frames(others) if others else ""


def output_takes(out: str, frames: list[int]) -> tuple[tuple[int, int], str]:
    """:func:`sequence_around` and :func:`other_takes` together: the run a host shows and the frames
    there of other settings. Reads a header per frame of the run: call it off a host's UI thread."""
    around = sequence_around(out, frames)
    return around, other_takes(out, frames, around)
