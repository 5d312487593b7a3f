"""A shot's sources: opened from the spec's paths or given by the caller, and checked together.

Checks read only what a source says about itself (size, channels, frame numbers),
so a streamed source answers them once its first image has arrived.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Hashable
from dataclasses import dataclass, replace

import numpy as np

from ..errors import FrameRangeError, FrameSizeMismatchError, FrameSourceError
from ..frames.frame_range import FrameRange
from ..frames.source import (
    ChannelSource,
    FrameSource,
    SequenceSource,
    VideoSource,
    layer_alphas,
    layer_extraction,
    open_source,
)
from ..spec import ShotSpec
from .frame_plan import check_length, held_around, render_range

log = logging.getLogger("movingcolor")


@dataclass
class ShotSources:
    """Sources the caller has already opened, used instead of the spec's paths.

    The service passes frames streamed over the network this way (``frames.stream``).
    ``matte`` None means the plate's alpha; ``other`` is the graded or edited source
    the spec's mode asks for. ``release(frame)`` is called once the runner no longer
    needs a frame's raw pixels, so a source that buffers frames can drop them.
    ``frame_key(frame)``, where given, names a frame's content with these settings across calls
    (e.g. the digests of its images), so an engine's work on it is found again by a later call
    that sends the same frame; None for a frame it cannot name. ``arrived(frame)``, where given
    (a stream's), whether a frame's images have all arrived: its frames are then prepared ahead,
    several at once, as files' are, but a frame the runner does not need yet only once it has
    arrived, so only the runner ever waits for an image (the stream's buffer is sized for a reader
    that takes frames as it needs them, and refuses a sender that starves it).
    """

    plate: FrameSource
    matte: FrameSource | None = None
    other: FrameSource | None = None
    release: Callable[[int], None] | None = None
    frame_key: Callable[[int], Hashable | None] | None = None
    arrived: Callable[[int], bool] | None = None

    @property
    def present(self) -> list[FrameSource]:
        return [s for s in (self.plate, self.matte, self.other) if s is not None]


def open_sources(spec: ShotSpec, mode: str, opened: list[FrameSource]) -> ShotSources:
    """The spec's files as sources; each is appended to ``opened`` as it opens, so a caller can
    close those already open when a later one fails."""

    def open_one(text: str, name: str, first: int) -> FrameSource:
        source = open_source(text, name, first)
        opened.append(source)
        return source

    plate = open_one(spec.plate, "plate", 0)
    first = plate.frames[0] if plate.frames else 0
    matte = ChannelSource(plate, "A") if spec.matte == "alpha" else open_one(spec.matte, "matte", first)
    other = open_one(getattr(spec, mode), mode, first) if mode != "grade" else None
    sources = ShotSources(plate, matte, other)
    _number_videos_as_sequences(sources)
    _place_videos_by_timecode(sources)
    # Once numbered and placed: its picture is read where its frames are.
    sources.matte = _matte_picture_behind_opaque_alpha(matte)
    return sources


def say_a_matte_whose_alpha_is_a_layers(matte: FrameSource) -> None:
    """A matte file without an alpha of its own but with a layer's is read from its picture (the
    brightest of R, G and B), which is most often not the matte it was given for: said, with the
    command that gives the layer as a matte (once a shot, as its first frame is prepared: a
    streamed matte's channels are known once it arrives)."""
    layers = layer_alphas(matte)
    if "A" in matte.channels or not layers:
        return
    log.warning(
        "%s: the matte has no alpha of its own (A) but its layers have (%s), which are not read: it is "
        "read from its picture (the brightest of its colour channels); where a layer's alpha is the "
        "matte, write it as files of their own and give those, e.g. %s",
        matte.origin() or matte.name,
        ", ".join(layers),
        layer_extraction(matte, layers[0]),
    )


#: How far apart a grey picture's channels may be (a video's YCbCr decoded back to RGB), and how
#: far its darkest and brightest pixels at least (a shape on a background, not a flat colour).
_GREY_TOLERANCE = 2 / 255
_SHAPE_CONTRAST = 0.5


def _matte_picture_behind_opaque_alpha(matte: FrameSource) -> FrameSource:
    """A matte file whose alpha is opaque and whose picture is a grey shape (a roto exported as RGB
    with alpha, as Resolve's and After Effects' RGBA exports do) is read from its picture: its alpha
    graded the whole of every frame, with a warning only. Decided once for the shot, on the matte's
    first frame (a picture shows no shape where the object is absent, which must not make that
    frame's alpha the matte); a render whose alpha is its matte has an alpha that is not opaque, or
    a picture in colour."""
    if isinstance(matte, ChannelSource) or "A" not in matte.channels or len(matte.channels) < 4:
        return matte
    if not matte.frames:
        return matte
    first = matte.frames[0]
    pixels = matte.read(first)
    alpha = pixels[:, :, matte.channels.index("A")]
    rgb = pixels[:, :, [matte.channels.index(c) for c in ("R", "G", "B") if c in matte.channels]]
    if rgb.shape[2] != 3 or float(alpha.min()) < 1.0:
        return matte
    grey = float(np.ptp(rgb, axis=2).max()) <= _GREY_TOLERANCE
    if not grey or float(rgb.max() - rgb.min()) < _SHAPE_CONTRAST:
        return matte
    log.warning(
        "%s: its alpha is opaque and its picture a grey shape (frame %d), as a roto exported as RGB with "
        "an alpha channel: the matte is read from its picture; export it without alpha to say so",
        matte.origin(),
        first,
    )
    return ChannelSource(matte, "R")


def _number_videos_as_sequences(sources: ShotSources) -> None:
    """A video has no frame numbers of its own: its frames are numbered from the first frame of
    the first image sequence among the sources (a video plate with a matte rendered as
    matte.1001.png onwards starts at 1001), else from 0."""
    sequences = [s for s in sources.present if isinstance(s, SequenceSource)]
    if not sequences:
        return
    first = sequences[0].frames[0]
    for source in sources.present:
        if isinstance(source, VideoSource) and source.first_frame != first:
            source.first_frame = first
            log.info(
                "%s %s: a video's frames are numbered from %d, as the %s's sequence",
                source.name,
                source.path.name,
                first,
                sequences[0].name,
            )


#: MPEG transport streams (broadcast, AVCHD): their first frame's time is wherever the clock stood.
_TRANSPORT_STREAMS = frozenset({".ts", ".mts", ".m2ts"})


def _place_videos_by_timecode(sources: ShotSources) -> None:
    """A matte or graded video that carries a timecode, as a video plate does, is numbered where
    its timecode places it among the plate's frames (a roto of plate frames 10-29 starts at frame
    10, not 0), unless that would place it wholly outside them (a timecode of another clock).
    Without timecodes, videos whose first frames are shown at different times are paired in order,
    and the log says so (not for transport streams, whose clocks start anywhere)."""
    plate = sources.plate
    if not isinstance(plate, VideoSource):
        return
    for video in (s for s in (sources.matte, sources.other) if isinstance(s, VideoSource)):
        same_rate = plate.rate and video.rate and _same_rate(video.rate, plate.rate)
        if plate.timecode_frame is not None and video.timecode_frame is not None and same_rate:
            offset = video.timecode_frame - plate.timecode_frame
            count = len(video.frames)
            if offset and not (-count < offset < len(plate.frames)):
                # Not on the plate's clock (an application's default 00:00:00:00 on a roto of a
                # camera plate): placed by it, the video would share no frame with the plate.
                log.warning(
                    "%s %s starts at timecode %s, which places it wholly outside the plate's frames "
                    "(the plate starts at %s): its timecode is taken as another clock's, and its "
                    "frames are paired with the plate's in order",
                    video.name,
                    video.path.name,
                    video.timecode,
                    plate.timecode,
                )
            elif offset:
                video.first_frame = plate.first_frame + offset
                log.info(
                    "%s %s starts at timecode %s, %d frames %s the plate's %s: its frames are numbered "
                    "from %d",
                    video.name,
                    video.path.name,
                    video.timecode,
                    abs(offset),
                    "after" if offset > 0 else "before",
                    plate.timecode,
                    video.first_frame,
                )
            continue
        if (plate.timecode_frame is None) != (video.timecode_frame is None):
            # One side's timecode alone places nothing: an editor's export of the plate without one
            # and a roto of part of it with one paired the roto's first frame with the plate's.
            has, lacks = (video, plate) if video.timecode_frame is not None else (plate, video)
            log.warning(
                "%s %s carries a timecode (%s) and %s %s none: their frames are paired in order (the "
                "first with the first); where the %s covers only part of the plate, give the plate's "
                "same part (or export both with timecode)",
                has.name,
                has.path.name,
                has.timecode,
                lacks.name,
                lacks.path.name,
                video.name,
            )
            continue
        if plate.start_seconds is None or video.start_seconds is None or not plate.rate:
            continue
        if {plate.path.suffix.lower(), video.path.suffix.lower()} & _TRANSPORT_STREAMS:
            continue
        late = round((video.start_seconds - plate.start_seconds) * float(plate.rate))
        placed_by_timecode = plate.timecode_frame is not None and video.timecode_frame is not None
        if late and not placed_by_timecode:
            log.warning(
                "%s %s starts %g s %s the plate %s, and the two do not both carry a timecode to place "
                "it by: their frames are paired in order (the first with the first); where the %s "
                "covers only part of the plate, give the plate's same part (or export both with "
                "timecode)",
                video.name,
                video.path.name,
                abs(video.start_seconds - plate.start_seconds),
                "after" if late > 0 else "before",
                plate.path.name,
                video.name,
            )


def with_matte(sources: ShotSources) -> ShotSources:
    """``sources`` with the matte always set: the plate's alpha where none is given."""
    return replace(sources, matte=sources.matte or ChannelSource(sources.plate, "A"))


def check_sources(sources: ShotSources) -> None:
    """Sizes agree and colour sources carry RGB (the band is checked against the frame by
    :meth:`BandWidth.check_frame`)."""
    _check_sizes(sources)
    _check_channels(sources)
    _check_rates(sources)


def _same_rate(rate, other) -> bool:
    """Whether two videos' frame rates are one (within a thousandth: 23.976 and 24000/1001)."""
    return abs(rate - other) <= other / 1000


def _check_rates(sources: ShotSources) -> None:
    """Videos are paired frame by frame by their order: two at other rates (a 24 fps plate and a
    30 fps matte of the same seconds) drift apart over the shot. Two that last as long, frame for
    frame, do not (a phone's variable-rate clip, about 29.6 frames per second on average, and its
    roto rendered one frame per frame at 30); nor does a variable-rate clip beside a video of as
    many frames, whatever their rates: its rate is an average of uneven steps, which says nothing of
    how its roto was rendered."""
    # A matte read from its picture is a channel of its video.
    present = [getattr(s, "inner", s) if isinstance(s, ChannelSource) else s for s in sources.present]
    videos = [s for s in present if isinstance(s, VideoSource) and s.rate]
    first = videos[0] if videos else None
    for video in videos[1:]:
        if _same_rate(video.rate, first.rate):
            continue
        as_many = len(video.frames) == len(first.frames)
        # As many frames at nearly the same rate: a variable-rate clip's average and its roto's.
        if as_many and (
            abs(video.rate - first.rate) <= first.rate / 20 or first.variable_rate or video.variable_rate
        ):
            continue
        variable = next((v for v in (first, video) if v.variable_rate), None)
        fix = (
            f"the {variable.name} video is of variable rate (its frames at uneven times): give the other as "
            f"many frames, one per frame of it, or conform it to a constant rate first"
            if variable is not None
            else "render both at the same rate"
        )
        raise FrameSourceError(
            f"the {first.name} video {first.path} runs at {float(first.rate):g} frames per second and "
            f"the {video.name} video {video.path} at {float(video.rate):g}: their frames are paired "
            f"one for one, so they would drift apart; {fix}"
        )


def _check_sizes(sources: ShotSources) -> None:
    plate = sources.plate
    for source in sources.present[1:]:
        if (source.width, source.height) != (plate.width, plate.height):
            raise FrameSizeMismatchError(
                f"{source.named_location(plate.frames[0] if plate.frames else 0)}"
                f" is {source.width}x{source.height} but the plate is "
                f"{plate.width}x{plate.height}{_turned(plate)}{_turned(source)}; "
                f"render both at the same resolution"
            )


def _turned(source: FrameSource) -> str:
    """What a video's display rotation does to its size, where it turns it a quarter: the size the
    product reads is the one it plays at, which its file's stored size is not."""
    if getattr(source, "rotation", 0) % 180 == 0:
        return ""
    return (
        f" (the {source.name} video is turned {source.rotation} degrees by its rotation metadata and is "
        f"read as it plays, {source.width}x{source.height}, not as stored, {source.height}x{source.width}: "
        f"re-export it without rotation, or render the other inputs as it plays)"
    )


def _check_channels(sources: ShotSources) -> None:
    """Colour sources carry R, G and B: a two-channel image (luminance and alpha, a UV pass) is
    not a plate, and reading it as grey would fuse the wrong picture without a word."""
    for source in (sources.plate, sources.other):
        if source is None:
            continue
        where = source.named_location(source.frames[0] if source.frames else 0)
        if len(source.channels) < 3:
            raise FrameSourceError(
                f"{where} has {len(source.channels)} channel(s) ({', '.join(source.channels) or 'none'}); "
                f"a {source.name} needs R, G and B: render it as RGB or RGBA"
            )
        if where.lower().endswith(".exr") and not source.is_float:
            # An EXR stores pictures as half or float; whole numbers (UINT) are IDs (object IDs,
            # Cryptomatte's): read as codes of a picture, they were graded without a word.
            raise FrameSourceError(
                f"{where} stores whole numbers (UINT channels), which an EXR holds for IDs, not a "
                f"picture: give the {source.name}'s picture (half or float channels)"
            )
        first = tuple(name.upper() for name in source.channels[:3])
        if first != ("R", "G", "B"):
            # A layered EXR (beauty.R, albedo.R, ...) lists its layers in any order: the first
            # three channels would be some pass, fused without a word.
            stored = getattr(source, "stored_channels", ()) or source.channels
            layers = sorted({name.rsplit(".", 1)[0] for name in stored if "." in name})
            held = f" (layers {', '.join(layers)})" if layers else ""
            raise FrameSourceError(
                f"{where} begins with channels {', '.join(source.channels[:3])}, not R, G, B{held}: "
                f"write the picture to fuse as R, G, B, e.g. oiiotool in.exr --ch R=beauty.R,"
                f"G=beauty.G,B=beauty.B -o plate.exr"
            )


def shot_clip(sources: ShotSources, render: FrameRange) -> list[int]:
    """The frames windows may read: those every source holds (stills cover any frame, so with no
    sequence among the sources the clip is the render range)."""
    sets = [set(s.frames) for s in sources.present if s.frames]
    return sorted(set.intersection(*sets)) if sets else list(render)


def sources_range(sources: ShotSources, frames: str | None, handles: int) -> FrameRange:
    """The render range of file sources: ``--frames`` (else every frame of the plate, or of the
    first source with frames for a still plate), grown by ``--handles`` within what every source
    holds. Every source must hold the frames asked for: a matte that ends early is an error to fix,
    not a shorter shot."""
    present = sources.present
    available = present[0].available_range()
    for source in present[1:]:
        try:
            available = available.clamp(source.available_range())
        except FrameRangeError:  # clamp's words are for a range asked for: none was, here
            ranges = ", ".join(f"{s.name} {s.available_range()}" for s in present if s.frames)
            raise FrameRangeError(
                f"the sources share no frame ({ranges}); number them alike: render each over "
                f"the plate's frames"
            ) from None
    if frames:
        asked = FrameRange.parse(frames)
    elif any(s.frames for s in present):
        asked = next(s for s in present if s.frames).available_range()
    else:
        raise FrameRangeError(
            "every source is a single image, so the shot has no frame range of its own; "
            "give the frames to fuse with --frames (e.g. --frames 1)"
        )

    def check(wanted: FrameRange, grown: bool) -> None:
        check_length(wanted)
        if not grown:
            for source in present:
                source.require(wanted)

    held = [set(source.frames) for source in present if source.frames]
    if handles and held:
        # Handles reach as far as every source holds each frame: a gap in the numbering ends them
        # as the clip's ends do (they ran into it, and the shot stopped on the missing frames).
        available = held_around(set.intersection(*held), asked, available)
    return render_range(asked, handles, asked, available, check)
