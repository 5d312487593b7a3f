"""Naming of frame sequences: ``shot.####.exr``, ``shot.%04d.exr`` or a folder of frames.

Padding follows Nuke and most hosts: each ``#`` is one digit of zero padding (``####`` and
``%04d`` write frame 7 as ``0007``), ``%d`` (or ``#``) is no padding, and a frame number wider
than the padding is written whole (frame 12345 of ``####`` is ``12345``); a negative frame's
sign takes one of the digits' places, as printf writes it (frame -3 of ``####`` is ``-003``). A
file belongs to a pattern only if the pattern writes exactly its name, so the frames a pattern
finds are the files it opens: ``####`` does not take ``00000.png``, whose five digits ``#####``
writes.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from ..errors import FrameSourceError, MovingColorError
from .frame_range import describe_frames

log = logging.getLogger("movingcolor")

IMAGE_EXTENSIONS = (".exr", ".dpx", ".tif", ".tiff", ".png", ".jpg", ".jpeg")
VIDEO_EXTENSIONS = (
    ".mp4",
    ".mov",
    ".mkv",
    ".avi",
    ".mxf",
    ".webm",
    ".m4v",
    ".mpg",
    ".mpeg",
    # MPEG transport streams: a camera's AVCHD (.mts, .m2ts) and broadcast captures (.ts).
    ".ts",
    ".mts",
    ".m2ts",
)

_HASHES = re.compile(r"#+")
_PRINTF = re.compile(r"%(0?)(\d*)d")
_NUMBER = re.compile(r"-?[0-9]+")
_TRAILING_DIGITS = re.compile(r"^(.*?)([0-9]+)$")
#: More digits than any frame number needs; a longer field is a typo (``%0300d``).
MAX_PADDING = 16


@dataclass(frozen=True)
class SequencePattern:
    """A sequence on disk: ``directory/prefix<number>suffix`` with ``padding`` digits."""

    directory: Path
    prefix: str
    suffix: str
    padding: int

    @classmethod
    def parse(cls, text: str | os.PathLike) -> SequencePattern:
        """Read ``shot.####.exr``, ``shot.%04d.exr`` or ``shot.%d.exr``; raises if ``text`` has none."""
        path = Path(text)
        name = path.name
        hashes = list(_HASHES.finditer(name))
        printf = list(_PRINTF.finditer(name))
        if len(hashes) + len(printf) != 1:
            raise FrameSourceError(
                f"{text}: a sequence needs exactly one frame-number field, as in shot.####.exr "
                f"or shot.%04d.exr"
            )
        if hashes:
            field = hashes[0]
            padding = len(field.group(0))
        else:
            field = printf[0]
            zero, digits = field.group(1), field.group(2)
            if digits and not zero:
                # printf pads %4d with spaces, which no frame file name holds.
                raise FrameSourceError(
                    f"{text}: {field.group(0)} pads with spaces; write %0{digits}d for "
                    f"{digits}-digit zero padding, or %d for none"
                )
            padding = int(digits or 1)
        if not 1 <= padding <= MAX_PADDING:
            raise FrameSourceError(
                f"{text}: a frame-number field of {padding} digits; frame numbers take 1 to "
                f"{MAX_PADDING} (e.g. shot.####.exr or shot.%04d.exr)"
            )
        return cls(path.parent, name[: field.start()], name[field.end() :], padding)

    def number_text(self, frame: int) -> str:
        """Frame ``frame`` as this sequence writes it in file names: ``0007``, ``12345``, ``-003``
        (as printf's ``%04d`` and Nuke's ``####`` write it: the sign takes one of the digits' places)."""
        return f"{frame:0{self.padding}d}"

    def path(self, frame: int) -> Path:
        return self.directory / f"{self.prefix}{self.number_text(frame)}{self.suffix}"

    def frame_of(self, name: str) -> int | None:
        """The frame number of file ``name`` if it is one of this sequence's files, else None."""
        text = _number_between(name, self.prefix, self.suffix)
        if text is None:
            return None
        frame = int(text)
        return frame if self.number_text(frame) == text else None

    def frames_on_disk(self) -> list[int]:
        """Frame numbers of the files that exist, sorted."""
        if not self.directory.is_dir():
            raise FrameSourceError(f"{self.directory}: folder does not exist; check the sequence path")
        try:
            with os.scandir(self.directory) as entries:
                found = [self.frame_of(entry.name) for entry in entries]
        except PermissionError:
            raise FrameSourceError(
                f"{self.directory}: this user may not list the folder's files (permission denied); give "
                f"this user read access to the folder, or run as one who has it"
            ) from None
        return sorted(frame for frame in found if frame is not None)

    def with_padding(self, padding: int) -> SequencePattern:
        return SequencePattern(self.directory, self.prefix, self.suffix, padding)

    def __str__(self) -> str:
        return str(self.directory / f"{self.prefix}{'#' * self.padding}{self.suffix}")

    def resolved(self) -> str:
        """The pattern in its folder's real place (links and relative spellings resolved): one
        sequence reads the same however it was named."""
        return str(Path(os.path.realpath(self.directory)) / f"{self.prefix}{'#' * self.padding}{self.suffix}")


@dataclass(frozen=True)
class FolderSequence:
    """One image sequence found in a folder, and the frames it holds (sorted)."""

    pattern: SequencePattern
    frames: tuple[int, ...]

    def __str__(self) -> str:
        return f"{self.pattern} ({describe_frames(self.frames, self.pattern.padding)})"


def _number_between(name: str, prefix: str, suffix: str) -> str | None:
    """The frame number text of file ``name`` between ``prefix`` and ``suffix``, or None."""
    end = len(name) - len(suffix)
    if end <= len(prefix) or not (name.startswith(prefix) and name.endswith(suffix)):
        return None
    text = name[len(prefix) : end]
    return text if _NUMBER.fullmatch(text) else None


def is_sequence_pattern(text: str | os.PathLike) -> bool:
    name = Path(text).name
    return bool(_HASHES.search(name) or _PRINTF.search(name))


def names_a_sequence(text: str | os.PathLike) -> bool:
    """Whether an input's ``text`` is read as a sequence pattern: a frame-number field in its last
    name, unless a folder or file of that name exists (``take#3`` and ``roto#final.png`` are names as
    often as patterns, and one that exists is what was meant)."""
    return is_sequence_pattern(text) and not os.path.exists(os.path.expanduser(text))


def require_text_path(path: str | os.PathLike, what: str, error: type[MovingColorError]) -> None:
    """``error`` naming ``what`` (``plate``, ``output``) when ``path`` holds bytes that are not UTF-8
    (a folder named in Latin-1 on an old share): OpenImageIO, OpenColorIO and PyAV take paths as
    text and failed on it with a TypeError. The message shows the bytes, as ``ls`` would."""
    text = os.fspath(path)
    if _is_utf8(text):
        return
    bad = next(part for part in Path(text).parts if not _is_utf8(part))
    raise error(
        f"{what} {_as_ls_shows(text)}: the name '{_as_ls_shows(bad)}' is not UTF-8 text, and images are "
        f"opened by UTF-8 names; rename it in UTF-8 (e.g. convmv -f latin1 -t utf8 --notest) or link "
        f"to it from a UTF-8 name (ln -s)"
    )


def _is_utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # bytes the file system gave that are not UTF-8 (surrogate escapes)
        return False
    return True


def _as_ls_shows(text: str) -> str:
    return os.fsencode(text).decode("utf-8", "backslashreplace")


#: Frame-number tokens of other tools (RV's and Shake's ``@@@@``, Houdini's ``$F4``), not read here.
#: A run of ``@`` (one alone only between separators: ``logo@2x.png`` is a name), ``$F`` with its
#: padding or before a separator (``$FINAL`` is a word).
_OTHER_TOKENS = re.compile(r"@@+|(?<=[._-])@(?=[._-])|\$F(\d+)|\$F(?=[._-])")


def as_our_pattern(text: str | os.PathLike) -> str | None:
    """``text`` with another tool's frame-number token (``@@@@``, ``$F4``) written as ``####``, where
    its file name (of an image or video) holds one and no token of ours; else None."""
    path = Path(text)
    if is_sequence_pattern(path) or path.suffix.lower() not in IMAGE_EXTENSIONS + VIDEO_EXTENSIONS:
        return None
    match = _OTHER_TOKENS.search(path.name)
    if match is None:
        return None
    width = len(match.group(0)) if match.group(0).startswith("@") else int(match.group(1) or 1)
    return str(path.with_name(path.name[: match.start()] + "#" * width + path.name[match.end() :]))


def _by_padding(numbers: Iterable[str]) -> dict[int, list[int]]:
    """Frame numbers as written in file names (``00042``, ``1001``, ``-003``), grouped by the
    padding that writes each one exactly.

    A number with a leading zero has exactly its own width of padding; one without fits any
    padding up to its width, and joins the widest such padding that zero-led numbers show
    (``1000`` beside ``0998`` and ``0999`` is frame 1000 of ``####``). Numbers narrower than all
    of those make one more sequence, padded as narrow as its narrowest number."""
    # The sign takes one of the padding's places (``-003`` is frame -3 of ``####``, as printf and Nuke
    # write it): a number's width is its whole text.
    widths = {text: len(text) for text in numbers}
    zero_led = {text for text in widths if text.lstrip("-").startswith("0")}
    fixed = sorted({widths[text] for text in zero_led})
    groups: dict[int, list[int]] = {}
    loose: list[str] = []
    for text, width in widths.items():
        fits = [padding for padding in fixed if padding <= width]
        if text in zero_led:
            groups.setdefault(width, []).append(int(text))
        elif fits:
            groups.setdefault(fits[-1], []).append(int(text))
        else:
            loose.append(text)
    if loose:
        groups.setdefault(min(widths[text] for text in loose), []).extend(int(text) for text in loose)
    return {padding: sorted(frames) for padding, frames in sorted(groups.items())}


def _split_number(stem: str) -> tuple[str, str] | None:
    """``stem`` as (prefix, frame number text); a ``-`` before the digits is a minus sign unless
    it follows a letter or digit (``shot-0001`` is frame 1 of ``shot-####``)."""
    match = _TRAILING_DIGITS.match(stem)
    if not match:
        return None
    prefix, digits = match.groups()
    if prefix.endswith("-") and (len(prefix) == 1 or not prefix[-2].isalnum()):
        return prefix[:-1], "-" + digits
    return prefix, digits


def sequences_in_folder(folder: Path) -> list[FolderSequence]:
    """Every image sequence in ``folder`` (frames named ``<prefix><number>.<ext>``), by name.
    Raises OSError when the folder cannot be listed."""
    numbers: dict[tuple[str, str], list[str]] = {}
    with os.scandir(folder) as entries:
        for entry in entries:
            stem, ext = os.path.splitext(entry.name)
            if ext.lower() not in IMAGE_EXTENSIONS or not entry.is_file():
                continue
            split = _split_number(stem)
            if split:
                numbers.setdefault((split[0], ext), []).append(split[1])
    found = []
    for (prefix, ext), texts in sorted(numbers.items()):
        for padding, frames in _by_padding(texts).items():
            found.append(FolderSequence(SequencePattern(Path(folder), prefix, ext, padding), tuple(frames)))
    return found


def pattern_from_folder(folder: Path, option: str = "") -> SequencePattern:
    """The single image sequence inside ``folder``; ``option`` (``--plate``) names where the folder
    was given, for the message when it holds none or several."""
    given = f"{option} {folder}" if option else str(folder)
    sequences = sequences_in_folder(folder)
    if not sequences:
        raise FrameSourceError(
            f"{given}: no numbered image frames found (expected names like 0001.exr or "
            f"shot.1001.exr with one of {', '.join(IMAGE_EXTENSIONS)})"
        )
    if len(sequences) > 1:
        listed = ", ".join(str(s) for s in sequences)
        raise FrameSourceError(
            f"{given} holds {len(sequences)} image sequences: {listed}; pass one of them"
            + (f" as {option}" if option else "")
        )
    return sequences[0].pattern


def input_sequence(text: str | os.PathLike, name: str) -> SequencePattern | None:
    """The sequence an input given as ``name`` (``plate``, read as ``--plate``) names: its pattern, or
    the one sequence of a folder that exists (though its name holds a #); None where it names a file
    or nothing. Names that are not UTF-8 are refused, the input's and its folder's frames' alike."""
    value = os.fspath(text)
    path = Path(value).expanduser()
    require_text_path(path, name, FrameSourceError)
    if names_a_sequence(value):
        return SequencePattern.parse(path)
    if not path.is_dir():
        return None
    pattern = pattern_from_folder(path, f"--{name}")
    require_text_path(str(pattern), name, FrameSourceError)
    return pattern


def find_frames(pattern: SequencePattern, option: str = "") -> list[int]:
    """The frames ``pattern`` holds on disk, sorted. When it holds none the error says so, naming
    ``option`` (``--plate``), and names the sequences of the same name but another padding that the
    folder holds, with the pattern that reads them; when it holds some beside such sequences, the log
    says so (a renderer that wrote ``shot.1.exr`` beside ``shot.0002.exr`` shortened the shot unseen)."""
    frames = pattern.frames_on_disk()
    if frames:
        for other in _other_paddings(pattern):
            wider = other.pattern.frames_on_disk()
            if set(frames) < set(wider):
                # shot.#.exr on frames padded to four digits reads 1000 on, not 0995-0999: the other
                # padding is the sequence's own.
                log.warning(
                    "%s%s reads frames %s alone: the folder's frames are padded to %d digits, and %s reads "
                    "them all (%s); give %s%s",
                    f"{option} " if option else "",
                    pattern,
                    describe_frames(frames, pattern.padding),
                    other.pattern.padding,
                    other.pattern,
                    describe_frames(wider, other.pattern.padding),
                    f"{option} " if option else "",
                    other.pattern,
                )
                continue
            log.warning(
                "%s%s: the folder also holds %s, named alike but padded otherwise, which this pattern "
                "does not read; if those frames belong to the shot, rename them to one padding",
                f"{option} " if option else "",
                pattern,
                other,
            )
        return frames
    given = f"{option}: " if option else ""
    alternatives = _other_paddings(pattern)
    if not alternatives:
        raise FrameSourceError(
            f"{given}no frames match {pattern}; check the path and the number of # (one per digit "
            f"of the file names' frame numbers: shot.####.exr reads shot.1001.exr)"
        )
    listed = ", ".join(
        f"{s.pattern} ({s.pattern.padding}-digit padding, frames "
        f"{describe_frames(s.frames, s.pattern.padding)})"
        for s in alternatives
    )
    use = f"use {option} {alternatives[0].pattern}" if option else f"name it {alternatives[0].pattern}"
    raise FrameSourceError(f"{given}no frames match {pattern}; the folder holds {listed}: {use}")


def say_if_a_frame_of_a_sequence(name: str, path: Path) -> None:
    """Warn when the still image ``path`` given as ``name`` (``matte``) is one frame of a sequence
    beside it: held for every frame, a matte typed as ``matte.1001.png`` for ``matte.####.png`` looks
    plausible and is wrong from the second frame on."""
    try:
        sequences = sequences_in_folder(path.parent)
    except OSError:
        return
    for sequence in sequences:
        if len(sequence.frames) > 1 and sequence.pattern.frame_of(path.name) is not None:
            log.warning(
                "%s %s is frame %d of %s and is held for every frame, as a still; give %s to use the "
                "sequence",
                name,
                path,
                sequence.pattern.frame_of(path.name),
                sequence,
                sequence.pattern,
            )
            return


def _other_paddings(pattern: SequencePattern) -> list[FolderSequence]:
    """The sequences named as ``pattern`` but padded otherwise, most frames first: of the files it
    does not read (``plate.###.exr`` reads ``plate.1001.exr``, its number wider than the padding)."""
    with os.scandir(pattern.directory) as entries:
        found = [
            _number_between(entry.name, pattern.prefix, pattern.suffix)
            for entry in entries
            if pattern.frame_of(entry.name) is None
        ]
    texts = [text for text in found if text is not None]
    found = [
        FolderSequence(pattern.with_padding(padding), tuple(frames))
        for padding, frames in _by_padding(texts).items()
        if padding != pattern.padding
    ]
    return sorted(found, key=lambda s: -len(s.frames))
