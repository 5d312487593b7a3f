"""Video files (MP4, MOV, ...) through PyAV, decoded in order with cheap restarts.

Frames come as they play: turned by the file's display rotation (a phone's portrait clip), at the
full depth of their samples (10 and 12-bit video is not cut to 8 bits), with the alpha of a codec
that carries one (ProRes 4444). What the product does not do with a file's tags is said in the log:
non-square pixels are used as stored, and colour tags other than Rec.709/sRGB (HDR's BT.2020, PQ,
HLG) are not read, so such a plate needs its colourspace named.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from ..errors import UnreadableFrameError
from ..optional import server_extra
from .confine import readable
from .limits import check_pixels

log = logging.getLogger(__name__)

#: FFmpeg's colour primaries and transfer characteristics (AVColorPrimaries, AVColorTransferCharacteristic)
#: that are not the Rec.709/sRGB a video plate is read as, by name.
_OTHER_PRIMARIES = {4: "BT.470M", 8: "film", 9: "BT.2020", 10: "XYZ", 11: "DCI-P3", 12: "Display P3"}
_OTHER_TRANSFERS = {
    5: "gamma 2.8",
    8: "linear",
    9: "log",
    10: "log",
    16: "PQ (SMPTE ST 2084)",
    17: "SMPTE ST 428",
    18: "HLG (ARIB STD-B67)",
}


def _import_av():
    return server_extra("av", "reading video", "PyAV", "av")


class VideoReader:
    """Frame ``i`` (0-based) of a video as float32 ``(H, W, 3 or 4)`` in 0..1, as it plays.

    Decoding is sequential: reading frames in increasing order costs one decode
    each; going backwards reopens the file. The shot runner reads in order.
    """

    def __init__(self, path: Path):
        self.path = Path(path)
        av = _import_av()
        try:
            with readable(self.path, "video") as name, av.open(name) as container:
                if not container.streams.video:
                    raise UnreadableFrameError(f"{self.path}: has no video stream")
                stream = container.streams.video[0]
                first = next(container.decode(stream), None)
                if first is None:
                    raise UnreadableFrameError(f"{self.path}: has no frame that decodes")
                components = first.format.components
                self.has_alpha = len(components) == 4
                deep = max(component.bits for component in components) > 8
                self._format = (
                    ("rgba64le" if deep else "rgba") if self.has_alpha else ("rgb48le" if deep else "rgb24")
                )
                self._largest = np.float32(65535.0 if deep else 255.0)
                self._turns = round((first.rotation or 0) / 90) % 4  # counterclockwise quarter turns
                #: Frames per second (a Fraction), where the file says; None where it does not.
                self.rate = stream.average_rate or stream.guessed_rate or None
                width, height = stream.codec_context.width, stream.codec_context.height
                self.width, self.height = (height, width) if self._turns % 2 else (width, height)
                check_pixels(self.width, self.height, str(self.path))
                self._describe(stream.codec_context)
            # Counted from the packets the file holds (no decoding): a header's count can be wrong,
            # and an edit list (a trim in an editor or a phone) leaves fewer frames than it says.
            with readable(self.path, "video") as name, av.open(name) as container:
                stream = container.streams.video[0]
                self.frame_count = sum(
                    1 for packet in container.demux(stream) if packet.size and not packet.is_discard
                )
        except av.error.FFmpegError as error:
            raise UnreadableFrameError(
                f"{self.path}: cannot decode video ({error}); check the file is complete"
            ) from error
        self._container = None
        self._frames = None
        self._next_index = 0

    def _describe(self, codec) -> None:
        """Say what about the file's tags is not honoured, once, when it is opened."""
        aspect = codec.sample_aspect_ratio
        if aspect is not None and aspect not in (0, 1):
            log.warning(
                "%s has non-square pixels (%s:%s); its frames are used as stored, %dx%d: render the "
                "matte at that size",
                self.path,
                aspect.numerator,
                aspect.denominator,
                self.width,
                self.height,
            )
        tags = [
            name
            for name in (_OTHER_PRIMARIES.get(codec.color_primaries), _OTHER_TRANSFERS.get(codec.color_trc))
            if name
        ]
        if tags:
            log.warning(
                "%s is tagged %s, which is not read: it is decoded as Rec.709 with the sRGB curve "
                "unless its colourspace is named (--plate-colorspace, --graded-colorspace); convert it "
                "to Rec.709 first where the config has no such space",
                self.path,
                " and ".join(tags),
            )

    def _restart(self) -> None:
        self.close()
        av = _import_av()
        with readable(self.path, "video") as name:
            self._container = av.open(name)
        self._frames = self._container.decode(self._container.streams.video[0])
        self._next_index = 0

    def read(self, index: int) -> np.ndarray:
        if not 0 <= index < self.frame_count:
            raise UnreadableFrameError(
                f"{self.path}: frame index {index} is outside the video's {self.frame_count} frames"
            )
        if self._frames is None or index < self._next_index:
            self._restart()
        av = _import_av()
        try:
            while True:
                frame = next(self._frames)
                current = self._next_index
                self._next_index += 1
                if current == index:
                    pixels = frame.to_ndarray(format=self._format).astype(np.float32) / self._largest
                    return np.ascontiguousarray(np.rot90(pixels, self._turns)) if self._turns else pixels
        except StopIteration as error:
            raise UnreadableFrameError(
                f"{self.path}: video ended before frame index {index}; the file may be truncated"
            ) from error
        except av.error.FFmpegError as error:
            self.close()
            raise UnreadableFrameError(
                f"{self.path}: frame index {index} cannot be decoded ({error}); the file is damaged "
                f"there: re-export it, or fuse the frames before it with --frames"
            ) from error

    def close(self) -> None:
        if self._container is not None:
            self._container.close()
        self._container = None
        self._frames = None
