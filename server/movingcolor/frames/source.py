"""Frame sources: one interface over image sequences, single stills and videos.

Frames are addressed by frame number. Sequences are numbered by their file
names; a video's frames are numbered from ``first_frame`` (by default the
plate's first frame, so a matte video lines up with a plate sequence).
"""

from __future__ import annotations

import bisect
import itertools
import logging
import os
from abc import ABC, abstractmethod
from pathlib import Path

import numpy as np

from ..errors import FrameSourceError, MissingFramesError, MovingColorError
from .frame_range import MAX_FRAME, FrameRange, describe_frames
from .image_io import HEADER_FACTS, ImageHeader, TypedAttribute, read_header, read_pixels
from .sequence import (
    IMAGE_EXTENSIONS,
    VIDEO_EXTENSIONS,
    SequencePattern,
    as_our_pattern,
    find_frames,
    input_sequence,
    say_if_a_frame_of_a_sequence,
)
from .timecode import is_drop_frame, smpte_packed, timecode_text
from .video_io import VideoReader

log = logging.getLogger("movingcolor")


class FrameSource(ABC):
    """Where the frames of one input (plate, matte, graded, edited) come from."""

    name: str
    width: int
    height: int
    channels: tuple[str, ...]
    #: Colourspace the file header declares, or "" when it declares none.
    declared_colorspace: str
    #: True for half/float data (scene-linear by default), False for integer data.
    is_float: bool
    #: The samples a file stores (OpenImageIO's name: ``half``, ``float``, ``uint8``, ``uint16``),
    #: where the source is files; "" otherwise.
    sample_type: str = ""
    #: Whether frames may be read on several threads at once, in any order (files of a sequence);
    #: a video decodes forwards from where it is.
    reads_in_any_order: bool = True

    @property
    @abstractmethod
    def frames(self) -> list[int]:
        """Frame numbers this source can deliver, sorted."""

    @abstractmethod
    def read(self, frame: int) -> np.ndarray:
        """Frame ``frame`` as float32 ``(H, W, C)``."""

    @abstractmethod
    def location(self, frame: int) -> str:
        """Where ``frame`` lives, for messages."""

    def named_location(self, frame: int) -> str:
        """The source's name and where ``frame`` lives ("graded /shots/a/graded.1001.exr"), for
        messages that begin with it."""
        return f"{self.name} {self.location(frame)}"

    def file_of(self, frame: int) -> Path | None:
        """The image file that holds ``frame``, where it is one (not a video's, nor a stream's)."""
        return None

    def stored_in(self, frame: int) -> str:
        """The file whose size and modification time say whether ``frame`` changed (its image file,
        or the video holding it); where no file holds it (a stream), where it lives."""
        path = self.file_of(frame)
        return str(path) if path is not None else self.location(frame)

    def origin(self) -> str:
        """What this source reads, resolved (a sequence's pattern, a video's or a still's file), as
        fused frames record their plate; empty where it is no file (a stream)."""
        return ""

    def carried_attributes(self, frame: int) -> dict:
        """The conform attributes (``image_io.CONFORM_ATTRIBUTES``, chromaticities) ``frame``'s file
        header holds, typed; none where the frame is no image file."""
        path = self.file_of(frame)
        return read_header(path).carried if path is not None else {}

    def header_facts(self) -> dict:
        """What the header of the source's first image file says of how the file stores the pictures
        (``image_io.HEADER_FACTS``: a DPX's transfer, an embedded ICC profile's description, the
        samples' type), by name; for a streamed source, of the first file sent; empty where no image
        file holds the frames (a video, raw samples)."""
        frames = self.frames or [0]  # a still has no frame numbers: any number is its file
        # A source of files here has them all: the first tells. A stream holds the files sent, which
        # need not begin at its clip's first frame (a host sends a window's frames).
        for frame in frames[:1] if self.files() else frames:
            try:
                carried = self.carried_attributes(frame)
            except MovingColorError:  # a header that cannot be read again: reading the frame says why
                return {}
            facts = {name: carried[name].value for name in HEADER_FACTS if name in carried}
            if facts:
                return facts
        return {}

    def available_range(self) -> FrameRange:
        frames = self.frames
        return FrameRange(frames[0], frames[-1])

    def require(self, frames: FrameRange) -> None:
        """Raise :class:`MissingFramesError` naming the missing frames of ``frames``.

        Counted arithmetically: a range of any length costs what the source holds, never
        what the range declares. The message says which frames do exist, as ranges."""
        have = self.frames
        inside = bisect.bisect_right(have, frames.last) - bisect.bisect_left(have, frames.first)
        missing_count = len(frames) - inside
        if missing_count:
            held = set(have)
            missing = list(itertools.islice((f for f in frames if f not in held), 8))
            shown = ", ".join(str(f) for f in missing) + (" ..." if missing_count > 8 else "")
            existing = f"frames {describe_frames(have)} exist" if have else "it holds no frames"
            raise MissingFramesError(
                f"{self.name} is missing {missing_count} of frames {frames}: {shown} "
                f"(first missing file: {self.location(missing[0])}; {existing}); render the "
                f"missing frames or choose a range with --frames"
            )

    def files(self) -> list[str]:
        """Every file this source reads (for the check that outputs never overwrite inputs)."""
        return []

    def check_frames(self, frames: FrameRange) -> None:
        """Cheap validation before any output is written: headers open, sizes agree."""
        self.require(frames)

    def close(self) -> None:  # noqa: B027 (optional hook)
        """Release open files."""


class SequenceSource(FrameSource):
    def __init__(self, name: str, pattern: SequencePattern):
        self.name = name
        self.pattern = pattern
        self._frames = find_frames(pattern, _option(name))
        header = read_header(pattern.path(self._frames[0]))
        self._adopt(header)

    def _adopt(self, header: ImageHeader) -> None:
        self.width, self.height = header.width, header.height
        self.channels = header.channels
        #: Every channel its first frame stores, of which ``channels`` are those read.
        self.stored_channels = header.stored_channels
        self.declared_colorspace = header.colorspace
        self.is_float = header.is_float
        self.sample_type = header.pixel_type
        _say_data_window(self.name, header)
        _say_parts(self.name, header)
        _say_channels_left(self.name, header)

    @property
    def frames(self) -> list[int]:
        return self._frames

    def location(self, frame: int) -> str:
        return str(self.pattern.path(frame))

    def origin(self) -> str:
        return self.pattern.resolved()

    def file_of(self, frame: int) -> Path | None:
        return Path(self.pattern.path(frame))

    def files(self) -> list[str]:
        return [str(self.pattern.path(frame)) for frame in self._frames]

    def read(self, frame: int) -> np.ndarray:
        if frame not in self._frames:
            self.require(FrameRange(frame, frame))
        pixels = read_pixels(self.pattern.path(frame))
        _check_size(self, pixels, frame)
        if pixels.shape[2] != len(self.channels):
            raise _channels_error(self, frame, pixels.shape[2])
        return pixels

    def check_frames(self, frames: FrameRange) -> None:
        self.require(frames)
        for frame in frames:
            header = read_header(self.pattern.path(frame))
            if (header.width, header.height) != (self.width, self.height):
                raise _size_error(self, frame, header.width, header.height)
            if header.channels != self.channels:
                raise _channels_error(self, frame, len(header.channels), header.channels)


class StillSource(FrameSource):
    """One image used for every frame (a static matte, a reference grade)."""

    def __init__(self, name: str, path: Path):
        self.name = name
        self.path = Path(path)
        header = read_header(self.path)
        _say_data_window(self.name, header)
        _say_parts(self.name, header)
        _say_channels_left(self.name, header)
        self.width, self.height = header.width, header.height
        self.channels = header.channels
        self.stored_channels = header.stored_channels
        self.declared_colorspace = header.colorspace
        self.is_float = header.is_float
        self.sample_type = header.pixel_type
        self._pixels: np.ndarray | None = None

    @property
    def frames(self) -> list[int]:
        return []

    def available_range(self) -> FrameRange:
        # A still covers any frame; the widest range keeps it out of range checks.
        return FrameRange(-MAX_FRAME, MAX_FRAME)

    def require(self, frames: FrameRange) -> None:
        return None

    def location(self, frame: int) -> str:
        return str(self.path)

    def origin(self) -> str:
        return os.path.realpath(self.path)

    def file_of(self, frame: int) -> Path | None:
        return self.path

    def files(self) -> list[str]:
        return [str(self.path)]

    def read(self, frame: int) -> np.ndarray:
        if self._pixels is None:
            self._pixels = read_pixels(self.path)
        return self._pixels


class VideoSource(FrameSource):
    reads_in_any_order = False

    def __init__(self, name: str, path: Path, first_frame: int = 0):
        self.name = name
        self.path = Path(path)
        self.first_frame = first_frame
        self._reader = VideoReader(self.path)
        self.width, self.height = self._reader.width, self._reader.height
        self.channels = ("R", "G", "B", "A") if self._reader.has_alpha else ("R", "G", "B")
        self.rate = self._reader.rate
        self.variable_rate = self._reader.variable_rate
        self.timecode, self.timecode_frame = self._reader.timecode, self._reader.timecode_frame
        self.start_seconds = self._reader.start_seconds
        #: Degrees its display rotation turns the pictures (their size here is as they play).
        self.rotation = self._reader.rotation
        self.declared_colorspace = ""
        #: Its samples named as a file's are (a 32-bit plate written as half EXR, a 10-bit one as 8-bit
        #: PNG, is warned of); half or single float pictures (FFV1's) are scene-linear by default.
        self.sample_type = self._reader.sample_type
        self.sample_bits = self._reader.sample_bits
        self.is_float = self.sample_type in ("half", "float")
        #: Tagged with Rec.709's transfer, which is read with the sRGB curve where no colourspace is
        #: named (said where the colourspace is chosen).
        self.rec709_transfer = self._reader.rec709_transfer
        #: Colour tags the reader does not read (BT.2020, PQ, HLG): said where the colourspace is chosen.
        self.unread_colour_tags = self._reader.unread_colour_tags

    @property
    def frames(self) -> list[int]:
        return list(range(self.first_frame, self.first_frame + self._reader.frame_count))

    def location(self, frame: int) -> str:
        return f"{self.path} (video frame index {frame - self.first_frame})"

    def stored_in(self, frame: int) -> str:
        return str(self.path)

    def origin(self) -> str:
        return os.path.realpath(self.path)

    def files(self) -> list[str]:
        return [str(self.path)]

    def carried_attributes(self, frame: int) -> dict:
        """What a file's header would carry of frame ``frame``: the video's rate, its pixels' aspect
        where they are not square, and the frame's own timecode where the video has one (its first
        frame's, counted on) at 30 frames a second or fewer."""
        carried = {}
        rate = self.rate
        if rate:
            carried["FramesPerSecond"] = TypedAttribute("rational2i", (rate.numerator, rate.denominator))
        if self._reader.pixel_aspect is not None:
            carried["PixelAspectRatio"] = TypedAttribute("float", float(self._reader.pixel_aspect))
        # An EXR's timecode counts frames 0-29 (SMPTE 12's frame pairs above 30 per second are not
        # written here): a faster video's frames would read back as others.
        if rate and self.timecode_frame is not None and round(float(rate)) <= 30:
            count = self.timecode_frame + frame - self.first_frame
            text = timecode_text(count, rate, is_drop_frame(self.timecode, rate))
            carried["smpte:TimeCode"] = TypedAttribute("timecode", smpte_packed(text))
        return carried

    def read(self, frame: int) -> np.ndarray:
        self.require(FrameRange(frame, frame))
        return self._reader.read(frame - self.first_frame)

    def close(self) -> None:
        self._reader.close()


class ChannelSource(FrameSource):
    """One channel of another source, e.g. the plate's alpha used as the matte."""

    def __init__(self, inner: FrameSource, channel: str):
        layers = layer_alphas(inner) if channel == "A" and channel not in inner.channels else []
        if layers:
            # A Nuke render's mask.A: the plain refusal listed R, G, B alone.
            raise FrameSourceError(
                f"{inner.origin() or inner.name}: the {inner.name} has no alpha of its own (A), only its "
                f"layers' ({', '.join(layers)}), which are not read; write the one that is the matte as "
                f"files of their own and give them with --matte, e.g. {layer_extraction(inner, layers[0])}"
            )
        if channel not in inner.channels:
            raise FrameSourceError(
                f"{inner.name} has no {channel} channel (it has {', '.join(inner.channels)}); "
                f"give the matte as its own sequence with --matte"
            )
        self.name = f"{inner.name} {channel} channel"
        self.inner = inner
        self.index = inner.channels.index(channel)
        self.width, self.height = inner.width, inner.height
        self.channels = (channel,)
        self.declared_colorspace = ""
        self.is_float = inner.is_float

    @property
    def frames(self) -> list[int]:
        return self.inner.frames

    def location(self, frame: int) -> str:
        return self.inner.location(frame)

    def file_of(self, frame: int) -> Path | None:
        return self.inner.file_of(frame)

    def stored_in(self, frame: int) -> str:
        return self.inner.stored_in(frame)

    def origin(self) -> str:
        return self.inner.origin()

    def files(self) -> list[str]:
        return self.inner.files()

    @property
    def reads_in_any_order(self) -> bool:
        return self.inner.reads_in_any_order

    def read(self, frame: int) -> np.ndarray:
        return self.inner.read(frame)[:, :, self.index : self.index + 1]

    def check_frames(self, frames: FrameRange) -> None:
        self.inner.check_frames(frames)


def open_source(spec: str | os.PathLike, name: str, first_frame: int = 0) -> FrameSource:
    """Open a sequence pattern, a folder of frames, a still image or a video."""
    text = os.fspath(spec)
    path = Path(text).expanduser()
    sequence = input_sequence(text, name)
    if sequence is not None:
        return SequenceSource(name, sequence)
    if not path.exists():
        ours = as_our_pattern(text)
        if ours is not None:
            raise FrameSourceError(
                f"{name} {text!r}: frame numbers are written #### or %04d here, not @@@@ or $F4; give {ours}"
            )
        raise FrameSourceError(
            f"{name} {text!r} does not exist; give a sequence (shot.####.exr, shot.%04d.exr), "
            f"a folder of frames, an image or a video"
        )
    suffix = path.suffix.lower()
    if suffix in VIDEO_EXTENSIONS:
        return VideoSource(name, path, first_frame)
    if suffix in IMAGE_EXTENSIONS:
        say_if_a_frame_of_a_sequence(name, path)
        return StillSource(name, path)
    raise FrameSourceError(
        f"{name} {text!r}: unknown file type {suffix!r}; images: {', '.join(IMAGE_EXTENSIONS)}; "
        f"videos: {', '.join(VIDEO_EXTENSIONS)}"
    )


def _option(name: str) -> str:
    """The command-line option a source named ``name`` (plate, matte, graded) is given by."""
    return f"--{name}"


def _size_error(source: FrameSource, frame: int, width: int, height: int) -> FrameSourceError:
    from ..errors import FrameSizeMismatchError

    return FrameSizeMismatchError(
        f"{source.location(frame)} is {width}x{height} but {source.name} is "
        f"{source.width}x{source.height}; every frame of a source must share one size"
    )


def layer_alphas(source: FrameSource) -> list[str]:
    """The alphas of a layered EXR's other layers (``mask.A``, ``roto.alpha``), which are not read."""
    stored = getattr(source, "stored_channels", ())
    return [name for name in stored if "." in name and name.rsplit(".", 1)[1].lower() in ("a", "alpha")]


def layer_extraction(source: FrameSource, channel: str) -> str:
    """The oiiotool command that writes ``channel`` of ``source``'s frames as files of their own (the
    matte's alpha), for a message; in general terms where its files are not here (streamed)."""
    pattern = getattr(source, "pattern", None)
    if pattern is None or not source.frames:
        return f"oiiotool FRAME.exr --ch A={channel} -o MATTE.exr, for each frame"
    folder, padding = pattern.directory, pattern.padding
    frames = f"{source.frames[0]}-{source.frames[-1]}"
    named = f"{pattern.prefix}%0{padding}d{pattern.suffix}"
    out = f"{pattern.prefix.rstrip('._-') or 'frames'}_matte.%0{padding}d.exr"
    return f"oiiotool --frames {frames} {folder / named} --ch A={channel} -o {folder / out}"


def _channels_error(
    source: FrameSource, frame: int, count: int, names: tuple[str, ...] = ()
) -> FrameSourceError:
    shown = ", ".join(names) if names else f"{count} channels"
    return FrameSourceError(
        f"{source.location(frame)} has {shown} but {source.name}'s first frame has "
        f"{', '.join(source.channels)}; render every frame of a source with the same channels"
    )


def _check_size(source: FrameSource, pixels: np.ndarray, frame: int) -> None:
    height, width = pixels.shape[:2]
    if (width, height) != (source.width, source.height):
        raise _size_error(source, frame, width, height)


def _say_parts(name: str, header: ImageHeader) -> None:
    """Warn, once, that a source's frames hold several parts (a multipart EXR): only the first is
    read, and it may not be the picture meant."""
    parts = header.attributes.get("oiio:subimages", 1)
    if isinstance(parts, int) and parts > 1:
        first = header.attributes.get("name", "")
        log.warning(
            "%s: %s holds %d parts; only the first%s is read: write the part to fuse as a file of its own "
            "if it is not that one",
            name,
            header.path.name,
            parts,
            f" ({first})" if first else "",
        )


def _say_channels_left(name: str, header: ImageHeader) -> None:
    """Log, once, the channels of a source's frames that are not read (a render's other layers)."""
    # By name, whichever places the channels read hold among those stored.
    left = [name for name in header.stored_channels if name not in header.channels]
    if left:
        shown = ", ".join(left[:8]) + (f" and {len(left) - 8} more" if len(left) > 8 else "")
        log.info(
            "%s: %s's channels %s are not read (only %s)",
            name,
            header.path.name,
            shown,
            ", ".join(header.channels),
        )


def _say_data_window(name: str, header: ImageHeader) -> None:
    """Log that a source's frames store less or more than their format (an EXR's bounding box, or
    overscan), once, from its first frame: they are read as the display window."""
    if header.data_window is None:
        return
    x, y, width, height = header.data_window
    log.info(
        "%s: %s stores %dx%d pixels at (%d, %d) of its %dx%d display window: frames are read as the "
        "display window, zero where nothing is stored%s",
        name,
        header.path.name,
        width,
        height,
        x,
        y,
        header.width,
        header.height,
        ""
        if x >= 0 and y >= 0 and x + width <= header.width and y + height <= header.height
        else ", and the pixels beyond it (overscan) are left out",
    )
