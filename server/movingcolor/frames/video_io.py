"""Video files (MP4, MOV, ...) through PyAV, decoded in order with cheap restarts."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import UnreadableFrameError
from ..optional import server_extra
from .confine import readable
from .limits import check_pixels


def _import_av():
    return server_extra("av", "reading video", "PyAV", "av")


class VideoReader:
    """Frame ``i`` (0-based) of a video as float32 ``(H, W, 3)`` in 0..1.

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
                self.width = stream.codec_context.width
                self.height = stream.codec_context.height
                check_pixels(self.width, self.height, str(self.path))
                self.frame_count = stream.frames or sum(1 for _ in container.decode(stream))
        except av.error.FFmpegError as error:
            raise UnreadableFrameError(
                f"{self.path}: cannot decode video ({error}); check the file is complete"
            ) from error
        self._container = None
        self._frames = None
        self._next_index = 0

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
        try:
            while True:
                frame = next(self._frames)
                current = self._next_index
                self._next_index += 1
                if current == index:
                    rgb = frame.to_ndarray(format="rgb24")
                    return rgb.astype(np.float32) / 255.0
        except StopIteration as error:
            raise UnreadableFrameError(
                f"{self.path}: video ended before frame index {index}; the file may be truncated"
            ) from error

    def close(self) -> None:
        if self._container is not None:
            self._container.close()
        self._container = None
        self._frames = None
