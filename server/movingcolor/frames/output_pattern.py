"""Where fused frames go: an output pattern, or a folder that gets one.

A folder of frames is also an input form (``--plate shot/frames``), and one that holds a single
sequence. So fused frames given a folder go into it only when it holds no image sequence but this
shot's own earlier frames; a folder of plates (or of anything else, another shot's fused frames
too) gets them in a ``fused``
subfolder instead, and the log says so. Renders written beside the plates would make the plate
folder ambiguous for every later run, and a typo in a pattern could mix them into the plates.
An explicit pattern is written where it says.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Mapping, Sequence
from contextlib import suppress
from pathlib import Path

from ..errors import FRAMES_WRITTEN, MovingColorError, OutputError
from .confine import make_folder
from .image_io import WRITABLE_FORMATS, read_header
from .output_claim import claim_name
from .sequence import (
    IMAGE_EXTENSIONS,
    VIDEO_EXTENSIONS,
    FolderSequence,
    SequencePattern,
    as_our_pattern,
    is_sequence_pattern,
    require_text_path,
    sequences_in_folder,
)
from .temporaries import temporary_path

log = logging.getLogger("movingcolor")

#: Where a folder's fused frames go when the folder holds other image sequences.
SUBFOLDER = "fused"
#: The padding of the frames a folder gets: four digits, as hosts write by default.
FOLDER_PADDING = 4
#: The header attribute naming the plate a fused frame was made from (``FrameSource.origin``).
PLATE_KEY = "movingcolor:plate"
#: The header attribute recording what a fused frame was made from (a shot's fingerprint).
FINGERPRINT_KEY = "movingcolor:fingerprint"
#: The header attribute naming the frame a fused file holds.
FRAME_KEY = "movingcolor:frame"


def written_for(attributes: Mapping, shot_fingerprint: str, number: int) -> bool:
    """Whether a fused file's header ``attributes`` say it is frame ``number`` of the shot of
    ``shot_fingerprint``: a file of the same shot but another frame (a neighbour copied over a
    failed frame to hold it, a sequence renumbered) is not that frame's result. A file that records
    no number (a PNG written before its number was kept as text) cannot say, and is taken at its
    fingerprint."""
    frame = attributes.get(FRAME_KEY)
    return attributes.get(FINGERPRINT_KEY) == shot_fingerprint and (
        frame is None or str(frame) == str(number)
    )


def output_extension(out: str) -> str:
    """The file type ``out`` writes, lower case: a pattern's extension; ``.exr`` for a folder."""
    return Path(out).suffix.lower() if _names_a_pattern(os.path.expanduser(out)) else ".exr"


def _names_a_pattern(out: str) -> bool:
    """Whether ``out`` is read as an output pattern: a frame-number field in its last name, unless
    it is a folder (one that exists, or a name ending in ``/``: ``take#3/`` is a folder to make)."""
    return is_sequence_pattern(out) and not _names_a_folder(out)


def _names_a_folder(out: str) -> bool:
    # os.path's tests: a folder this user may not enter is no error here (Path's raised for it).
    return out.endswith(("/", os.sep)) or os.path.isdir(out)


def output_pattern(out: str, plate_name: str, plate: str = "") -> SequencePattern:
    """``out`` as a sequence pattern; a folder gets ``<plate name>.####.exr`` inside it (or inside
    its ``fused`` subfolder when it holds other image sequences), never over frames fused there from
    another plate than ``plate`` (its ``FrameSource.origin``: shots whose plates share a name, fused
    into one folder, would replace each other's frames). ``~`` is the home folder, as in every input's
    path (a quoted ``--out=~/...`` wrote into a folder named ``~``)."""
    out = os.path.expanduser(out)
    require_text_path(out, "output", OutputError)
    ours = as_our_pattern(out)
    if ours is not None and not _names_a_folder(out):
        raise OutputError(
            f"output {out!r}: frame numbers are written #### or %04d here, not @@@@ or $F4; give {ours}"
        )
    if os.path.exists(out) and not os.path.isdir(out):
        raise OutputError(
            f"output {out!r} is a file, and fused frames are a sequence: give a pattern with the frame "
            f"number, e.g. {Path(out).with_suffix('')}_fused/shot.####.exr, or a folder"
        )
    if _names_a_pattern(out):
        pattern = SequencePattern.parse(out)
    elif Path(out).suffix.lower() in IMAGE_EXTENSIONS + VIDEO_EXTENSIONS and not _names_a_folder(out):
        # A folder named shot.png would take the frames: almost surely a pattern missing its #s.
        path = Path(out)
        suffix = path.suffix if path.suffix.lower() in WRITABLE_FORMATS else ".exr"
        example = path.with_name(f"{path.stem}.####{suffix}")
        if path.suffix.lower() in VIDEO_EXTENSIONS:
            raise OutputError(
                f"output {out!r} names a movie, but fused frames are written as an image sequence "
                f"({', '.join(WRITABLE_FORMATS)}): give a pattern with the frame number, e.g. {example}, "
                f"or a folder, and make the movie from those frames"
            )
        raise OutputError(
            f"output {out!r} names one file, but fused frames are a sequence: give a pattern with "
            f"the frame number, e.g. {example}, or a folder"
        )
    else:
        stem = plate_name.rstrip("._-") or "fused"
        pattern = _in_folder(SequencePattern(Path(out), f"{stem}.", ".exr", FOLDER_PADDING), out)
        _refuse_another_plates_frames(pattern, plate, out)
    ext = Path(pattern.suffix).suffix.lower() or pattern.suffix.lower()
    if ext not in WRITABLE_FORMATS:
        if not ext.startswith("."):
            # ``take#3``: a folder's name whose # was taken for the frame number.
            raise OutputError(
                f"output {out!r}: the # or %d in {Path(out).name!r} is read as the frame number, and "
                f"frames named so would have no image extension; end the pattern with one of "
                f"{', '.join(WRITABLE_FORMATS)} (e.g. {out}/shot.####.exr), or end a folder's name "
                f"with / ({out}/)"
            )
        raise OutputError(
            f"output {out!r}: cannot write {ext}; end the pattern with one of {', '.join(WRITABLE_FORMATS)}"
        )
    require_text_path(str(pattern), "output", OutputError)
    return pattern


def _in_folder(pattern: SequencePattern, out: str) -> SequencePattern:
    """``pattern``, or the same names in the ``fused`` subfolder when its folder holds other image
    sequences than ``pattern``'s own frames from an earlier run (another name's, though MovingColor
    wrote them: two shots' frames in one folder are no longer one sequence to read back)."""
    moved = SequencePattern(pattern.directory / SUBFOLDER, pattern.prefix, pattern.suffix, pattern.padding)
    try:
        here = sequences_in_folder(pattern.directory)
    except OSError:  # no such folder yet, or one that cannot be listed: the write says which
        return pattern
    # Where this shot's earlier frames are, its next ones go, whatever came beside them since: each
    # chunk of a farm decides as it starts, and a shot was split between the folder and fused/ when
    # another shot's chunks wrote there after its first ones.
    with suppress(OSError):
        if any(_earlier_frames_of(s, moved) for s in sequences_in_folder(moved.directory)):
            return moved
    if any(_earlier_frames_of(s, pattern) for s in here):
        return pattern
    others = [s for s in here if not _earlier_frames_of(s, pattern)]
    if not others:
        return pattern
    log.warning(
        "--out %s holds other image sequences (%s): fused frames go to %s so that the folder stays one "
        "sequence; give an output pattern to write elsewhere",
        out,
        ", ".join(str(s) for s in others),
        moved,
    )
    return moved


def _earlier_frames_of(sequence: FolderSequence, pattern: SequencePattern) -> bool:
    """Whether ``sequence`` is frames MovingColor wrote under ``pattern``'s names (any padding)."""
    same_names = (sequence.pattern.prefix, sequence.pattern.suffix) == (pattern.prefix, pattern.suffix)
    return same_names and _written_by_movingcolor(sequence)


def _refuse_another_plates_frames(pattern: SequencePattern, plate: str, out: str) -> None:
    """OutputError when the frames already at ``pattern`` record another plate than ``plate``
    (frames of a rerun of the same plate are resumed or redone in place)."""
    if not plate:
        return
    try:
        found = [s for s in sequences_in_folder(pattern.directory) if s.pattern == pattern]
    except OSError:
        return
    for sequence in found:
        try:
            theirs = read_header(sequence.pattern.path(sequence.frames[0])).attributes.get(PLATE_KEY)
        except MovingColorError:
            continue
        if theirs and another_plate(str(theirs), plate):
            other = pattern.directory / f"{_shot_name(plate, pattern)}.{'#' * pattern.padding}.exr"
            raise OutputError(
                f"--out {out}: {pattern} holds frames fused from another plate ({theirs}), and this "
                f"shot's frames would replace them: give an output pattern naming this shot, e.g. "
                f"{other}, or another folder. Nothing was written"
            )


def another_plate(recorded: str, plate: str) -> bool:
    """Whether the plate a fused frame records (its resolved pattern or file) is another than
    ``plate``: another folder, seen from here, or another sequence in it. One whose folder is not
    seen from here is not judged: most likely the same storage mounted elsewhere (a workstation's
    /Volumes/shows is a farm node's /mnt/shows), whose frames a rerun resumes."""
    if recorded == plate:
        return False
    try:
        same_folder = os.path.samefile(os.path.dirname(recorded) or ".", os.path.dirname(plate) or ".")
    except OSError:
        return False
    return not same_folder or os.path.basename(recorded) != os.path.basename(plate)


def _shot_name(plate: str, pattern: SequencePattern) -> str:
    """A name for this shot's frames other than ``pattern``'s: the nearest folder above the plate
    named otherwise (``sh020`` for ``sh020/plate/plate.####.exr``)."""
    taken = pattern.prefix.rstrip("._-")
    # Not a folder named with a # or %d (take#3): a pattern made of it would have two frame fields.
    named = (
        p.name for p in Path(plate).parents if p.name and p.name != taken and not is_sequence_pattern(p.name)
    )
    return next(named, "shot")


def _written_by_movingcolor(sequence: FolderSequence) -> bool:
    """True when ``sequence``'s first frame carries MovingColor's header (an earlier run's output,
    which a rerun resumes in place)."""
    try:
        header = read_header(sequence.pattern.path(sequence.frames[0]))
    except MovingColorError:
        return False
    return has_movingcolor_header(header.attributes)


def has_movingcolor_header(attributes: Mapping) -> bool:
    """Whether a file's header ``attributes`` hold MovingColor's own (``movingcolor:...``)."""
    return any(key.startswith("movingcolor:") for key in attributes)


def prepare_folder(pattern: SequencePattern, frames: Iterable[int] = ()) -> None:
    """Make the folder ``pattern`` writes into; OutputError says which folder could not be made, or
    which of ``frames``' names (or the temporary name each is written under) the folder cannot hold."""
    numbers = list(frames)
    _check_names_fit(pattern, numbers)
    _check_no_folder_in_the_way(pattern, numbers)
    try:
        make_folder(pattern.directory)
    except OSError as error:
        raise OutputError(f"cannot create output folder {pattern.directory}: {error}") from error
    try:
        # A folder this user may not enter: every frame's path in it is refused (a drop box that
        # may be written but not listed is fine).
        os.stat(pattern.directory / ".movingcolor-entry-check")
    except FileNotFoundError:
        pass
    except PermissionError as error:
        raise OutputError(
            f"cannot write into output folder {pattern.directory}: {error.strerror} (it may not be "
            f"entered); give this user write and search (x) permission on it, or choose another output"
        ) from error
    except OSError:
        pass  # a frame's file that cannot be looked at: its own read or write says why


def _check_no_folder_in_the_way(pattern: SequencePattern, frames: Iterable[int]) -> None:
    """Refuse, before any frame is fused, a frame whose name a folder holds: it failed at that frame's
    write, after the frames before it, told to check the disk's room."""
    if not os.path.isdir(pattern.directory):
        return
    for number in frames:
        path = pattern.path(number)
        if os.path.isdir(path):
            raise OutputError(
                f"output frame {path} is a folder, which a frame cannot replace: move or rename it, or "
                f"give another output. Nothing was written"
            )


def _check_names_fit(pattern: SequencePattern, frames: Iterable[int]) -> None:
    """Refuse, before any frame is fused, a name the folder cannot hold: a frame's, or the longer
    temporary name it is written under (which names the host and process). One that fit while its
    temporary did not failed at the first frame's write, told to check the disk's room."""
    numbers = list(frames)
    if not numbers:
        return
    longest = pattern.path(max(numbers, key=lambda number: len(str(number))))
    # The folder's file system, or its nearest existing parent's: nothing is made before this check.
    existing = next(
        (folder for folder in (pattern.directory, *pattern.directory.parents) if folder.is_dir()), None
    )
    try:
        limit = os.pathconf(existing or ".", "PC_NAME_MAX")
    except (OSError, ValueError):
        limit = 255
    name, temporary = len(longest.name.encode()), len(temporary_path(longest).name.encode())
    # The shot's claim on the sequence is a name of its own beside the frames (longer than a frame's
    # temporary for a short frame number): one too long left the output unclaimed.
    claim = len(claim_name(pattern, "0" * 16).encode())
    longer = max(temporary, claim)
    if longer <= limit:
        return
    room = max(limit - (longer - name), 1)
    if name > limit:
        why = f"over the {limit} bytes"
    elif temporary >= claim:
        why = f"and the temporary name it is written under until it is whole is over the {limit} bytes"
    else:
        why = f"and the name of the shot's claim on the sequence, beside them, is over the {limit} bytes"
    raise OutputError(
        f"output {longest.name}: the frame's name is {name} bytes, {why} a name may have in "
        f"{pattern.directory}: give frame names of at most {room} bytes (their number and extension included)"
    )


#: The attribute of an error :func:`note_frames_written` added to: its message without the note, for
#: a caller that removes those frames after all (a host's staged output) and says so instead.
UNNOTED = "message_before_frames_written"


def note_frames_written(error: Exception, written: Sequence[str], pattern: SequencePattern) -> None:
    """Add to ``error``'s message that the ``written`` frames (their paths) before it are whole and
    valid, and give it their paths (``errors.FRAMES_WRITTEN``): a run that stops part way says what it
    leaves rather than hide it."""
    setattr(error, FRAMES_WRITTEN, [str(path) for path in written])
    if written:
        setattr(error, UNNOTED, str(error))
        error.args = (
            f"{error} (the {len(written)} frames before it were written completely to {pattern.directory})",
        )
