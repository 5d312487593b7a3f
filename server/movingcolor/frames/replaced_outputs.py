"""What a shot's frames would replace, looked at before any is written.

An output pattern is written where it says, and a file already at one of its names is replaced
by the frame's rename. Only MovingColor's own frames of the same plate are replaced without being
asked: an image MovingColor did not write there (another shot's plates under a mistyped pattern, a
render of another tool) or frames it fused from another plate are refused unless forced, and frames
fused from this plate with other settings are said, since the sequence then mixes two settings.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass, field

from ..errors import MovingColorError, OutputError
from .frame_range import describe_frames
from .image_io import any_image_attributes, read_header
from .output_pattern import FINGERPRINT_KEY, PLATE_KEY, another_plate, has_movingcolor_header, written_for
from .sequence import SequencePattern, sequences_in_folder

log = logging.getLogger("movingcolor")

#: What MovingColor writes in the ``Software`` attribute, the one a TIFF keeps of its header.
SOFTWARE_PREFIX = "MovingColor "


@dataclass
class ExistingOutputs:
    """The files already at a shot's output names, by what they are."""

    #: Images MovingColor did not write.
    foreign: list[int] = field(default_factory=list)
    #: Files that cannot be read as images: most likely frames of an earlier run, damaged.
    unreadable: list[int] = field(default_factory=list)
    #: Frames fused from another plate, with the plate each records.
    other_plates: dict[int, str] = field(default_factory=dict)
    #: Frames fused from this plate with other inputs or settings.
    other_settings: list[int] = field(default_factory=list)


def existing_outputs(
    pattern: SequencePattern, render: Iterable[int], plate: str, fingerprint: str
) -> ExistingOutputs:
    """What is at ``pattern``'s names for the frames of ``render``; a frame already written for
    ``fingerprint`` (which a rerun keeps) and an empty file (nothing to lose) are not listed."""
    found = ExistingOutputs()
    if not os.path.isdir(pattern.directory):
        return found
    for number in render:
        path = pattern.path(number)
        try:
            if not os.path.lexists(path) or os.path.isdir(path) or os.path.getsize(path) == 0:
                continue  # a folder in the way is refused by name elsewhere
        except OSError:
            continue
        try:
            attributes = read_header(path).attributes
        except (MovingColorError, OSError):
            # An image this product does not read (a deep one, one over the pixel limit) is still
            # an image someone made; a file that opens as none is most likely a damaged frame.
            try:
                attributes = any_image_attributes(path)
            except (MovingColorError, OSError):
                attributes = None
            if attributes is None:
                found.unreadable.append(number)
                continue
        ours = has_movingcolor_header(attributes) or str(attributes.get("Software", "")).startswith(
            SOFTWARE_PREFIX
        )
        theirs = attributes.get(PLATE_KEY)
        if not ours:
            found.foreign.append(number)
        elif plate and theirs and another_plate(str(theirs), plate):
            found.other_plates[number] = str(theirs)
        elif FINGERPRINT_KEY in attributes and not written_for(attributes, fingerprint, number):
            found.other_settings.append(number)
    return found


def check_replaced_outputs(
    pattern: SequencePattern, render: Iterable[int], plate: str, fingerprint: str, force: bool
) -> None:
    """Before a shot writes ``render`` to ``pattern``: :class:`OutputError` where that would replace
    an image MovingColor did not write or a frame it fused from another plate than ``plate`` (unless
    ``force``); a warning naming what else is replaced (frames of other settings, files that cannot
    be read) and the frames of the sequence this run leaves as they were."""
    numbers = list(render)
    found = existing_outputs(pattern, numbers, plate, fingerprint)
    padding = pattern.padding
    if found.foreign and not force:
        first = pattern.path(found.foreign[0])
        raise OutputError(
            f"output {pattern}: {len(found.foreign)} of its frames' names hold files MovingColor did not "
            f"write (frames {describe_frames(found.foreign, padding)}; first: {first}), which the fused "
            f"frames would replace: check the output's name (another shot's plates?), give another "
            f"output, or --force to replace them. Nothing was written"
        )
    if found.other_plates and not force:
        theirs = next(iter(found.other_plates.values()))
        raise OutputError(
            f"output {pattern}: frames {describe_frames(found.other_plates, padding)} there were fused "
            f"from another plate ({theirs}), and this shot's frames would replace them: give an output "
            f"naming this shot, or --force to replace them. Nothing was written"
        )
    kinds = (
        (found.foreign, "images MovingColor did not write"),
        (found.other_plates, "frames fused from another plate"),
        (found.other_settings, "frames made from other inputs or settings"),
        (found.unreadable, "files that cannot be read as images"),
    )
    replaced = [f"{describe_frames(frames, padding)}: {what}" for frames, what in kinds if frames]
    if not replaced:
        _say_frames_of_other_settings_left(pattern, numbers, plate, fingerprint)
        return
    others = _left_as_they_were(pattern, numbers) if found.other_settings else []
    kept = (
        f"; the sequence's frames {describe_frames(others, padding)}, outside this run, are left as "
        f"they were made (a farm job's other chunks make theirs; otherwise run the whole range to make "
        f"them alike)"
        if others
        else ""
    )
    log.warning("replacing what is at %s (%s)%s", pattern, "; ".join(replaced), kept)


def _say_frames_of_other_settings_left(
    pattern: SequencePattern, render: list[int], plate: str, fingerprint: str
) -> None:
    """Frames of the sequence outside ``render`` made from this plate with other inputs or settings:
    a farm job's chunks after a grade file was published again wrote a sequence of two grades, each
    chunk exiting 0 without a word (nothing of theirs was replaced)."""
    others = _left_as_they_were(pattern, render)
    mixed = existing_outputs(pattern, others, plate, fingerprint).other_settings if others else []
    if mixed:
        log.warning(
            "the sequence at %s holds frames %s, outside this run, made from other inputs or settings "
            "(a grade file published again since they were fused?): with this run's frames it mixes "
            "the two; a farm job's other chunks make theirs, otherwise run the whole range to make them "
            "alike",
            pattern,
            describe_frames(mixed, pattern.padding),
        )


def _left_as_they_were(pattern: SequencePattern, render: list[int]) -> list[int]:
    """The frames of ``pattern``'s sequence on disk that ``render`` does not write."""
    wanted = set(render)
    try:
        sequences = sequences_in_folder(pattern.directory)
    except OSError:
        return []
    return sorted(
        number
        for sequence in sequences
        if (sequence.pattern.prefix, sequence.pattern.suffix) == (pattern.prefix, pattern.suffix)
        for number in sequence.frames
        if number not in wanted
    )
