"""The before/after movie: two versions side by side, full frame above and the edge
zoomed below, played in a loop: flicker is seen in motion or not at all."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import numpy as np

from ..optional import server_extra
from .edge_crop import Box, outlined, zoom
from .edge_track import EdgeTrack
from .labels import BACKGROUND, text_cell

FULL_SCALE = 2  # a 320 x 180 shot shows at 640 x 360 per side: 1280 wide in all
ZOOM = 4
HEADER_HEIGHT = 36
ZOOM_LABEL_HEIGHT = 28
DIVIDER = 4  # dark columns between the two sides
FPS = 12  # slow enough to follow the seam frame by frame, fast enough to see it flicker
SECONDS = 5


def _import_av():
    return server_extra("av", "writing the demo movie", "PyAV", "av")


def follow_box(track: EdgeTrack, index: int, width: int, height: int, frame_size: tuple[int, int]) -> Box:
    """A ``width`` x ``height`` window centred on the edge point of frame ``index``, kept
    inside the frame (``frame_size``: height, width)."""
    frame_height, frame_width = frame_size
    x = int(round(track.x[index])) - width // 2
    y = track.row - height // 2
    return Box(min(max(x, 0), frame_width - width), min(max(y, 0), frame_height - height), width, height)


def side(label: str, frame: np.ndarray, box: Box, frame_number: int) -> np.ndarray:
    """One side of a movie frame (uint8): its label, the full view enlarged with ``box``
    framed, and ``box`` zoomed beneath it."""
    # Made 8-bit before enlarging: the enlarged pictures are most of the movie's pixel work.
    full = zoom(_bytes(outlined(frame, box)), Box(0, 0, frame.shape[1], frame.shape[0]), FULL_SCALE)
    header = _bytes(text_cell(f"{label}    {frame_number}", full.shape[1], HEADER_HEIGHT, size=22))
    return np.concatenate([header, full, _zoom_caption(full.shape[1]), zoom(_bytes(frame), box, ZOOM)])


@cache
def _zoom_caption(width: int) -> np.ndarray:
    caption = f"the box, {ZOOM}\u00d7, held on the object's edge"
    return _bytes(text_cell(caption, width, ZOOM_LABEL_HEIGHT, size=15))


def _bytes(picture: np.ndarray) -> np.ndarray:
    return (np.clip(picture, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def movie_frames(
    left: tuple[str, np.ndarray], right: tuple[str, np.ndarray], track: EdgeTrack, first_frame: int
) -> list[np.ndarray]:
    """One ``(H, W, 3)`` uint8 picture per shot frame: ``left`` and ``right`` are
    ``(label, (T, H, W, 3) display-encoded frames)``."""
    height, width = left[1].shape[1:3]
    # The zoom fills as much picture as the full view: a 1/2 x 1/2 crop at 4x beneath a 2x view.
    crop = (width * FULL_SCALE // ZOOM, height * FULL_SCALE // ZOOM)
    pictures = []
    for t in range(left[1].shape[0]):
        box = follow_box(track, t, crop[0], crop[1], (height, width))
        halves = [side(label, frames[t], box, first_frame + t) for label, frames in (left, right)]
        picture = np.concatenate(halves, axis=1)
        middle = picture.shape[1] // 2
        picture[:, middle - DIVIDER // 2 : middle + DIVIDER // 2] = _bytes(np.array(BACKGROUND))
        pictures.append(picture)
    return pictures


def write_movie(path: Path, pictures: list[np.ndarray], fps: int = FPS, seconds: float = SECONDS) -> str:
    """Write ``pictures`` (sRGB-encoded uint8) as an MP4 playing them over and over for
    about ``seconds``; H.264 where PyAV has libx264, else MPEG-4 Part 2. Returns the codec."""
    av = _import_av()
    codec = "libx264" if "libx264" in av.codecs_available else "mpeg4"
    height, width = pictures[0].shape[:2]
    loops = max(1, round(seconds * fps / len(pictures)))
    with av.open(str(path), "w") as container:
        stream = _video_stream(av, container, codec, fps, width, height)
        # Encoded once: the pictures make a closed run starting on a key frame, so the run's
        # packets are written again for each loop with shifted times; encoding is most of
        # the demo movie's cost, and this spares it all but once.
        colour = av.video.reformatter
        packets = []
        for index, picture in enumerate(pictures):
            frame = av.VideoFrame.from_ndarray(picture, format="rgb24").reformat(
                format="yuv420p",
                dst_colorspace=colour.Colorspace.ITU709,
                dst_color_range=colour.ColorRange.MPEG,
            )
            frame.pts = index
            packets += stream.encode(frame)
        packets += stream.encode(None)
        for loop in range(loops):
            for packet in packets:
                copy = av.Packet(bytes(packet))
                copy.pts = packet.pts + loop * len(pictures)
                copy.dts = packet.dts + loop * len(pictures)
                copy.time_base, copy.is_keyframe, copy.stream = packet.time_base, packet.is_keyframe, stream
                container.mux(copy)
    return codec


def _video_stream(av, container, codec: str, fps: int, width: int, height: int):
    stream = container.add_stream(codec, rate=fps)
    stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
    if codec == "libx264":
        stream.options = {"crf": "18", "preset": "veryfast"}
    else:
        stream.bit_rate = 6_000_000
    # Tagged as what the pixels are: sRGB-encoded, BT.709 primaries and matrix, video range.
    colour = av.video.reformatter
    stream.codec_context.colorspace = colour.Colorspace.ITU709
    stream.codec_context.color_range = colour.ColorRange.MPEG
    stream.codec_context.color_primaries = colour.ColorPrimaries.BT709
    stream.codec_context.color_trc = colour.ColorTrc.IEC61966_2_1
    return stream
