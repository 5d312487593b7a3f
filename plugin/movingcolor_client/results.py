"""Fused frames as they arrive, and writing them: file bytes as they are, raw pixels as EXR.

Every write goes to a temporary name in the destination folder and is renamed
into place, so a client that is interrupted (or whose server dies) leaves only
whole frames.
"""

from __future__ import annotations

import os
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from movingcolor.protocol.images import decode_raw
from movingcolor.v1 import image_pb2 as pb

# Header attributes that are numbers in a file written by movingcolor fuse.
_INTEGER_ATTRIBUTES = ("movingcolor:frame",)


def write_bytes_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` under a temporary name, then rename it into place."""
    path = Path(path)
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.partial")
    try:
        temporary.write_bytes(data)
        os.replace(temporary, path)
    finally:
        if temporary.exists():
            temporary.unlink()


@dataclass
class FusedFrame:
    """One fused frame from the server: file bytes (``ENCODING_FILE``) or raw samples."""

    frame: int
    info: pb.ImageInfo
    data: bytes

    @property
    def attributes(self) -> dict:
        """The header ``movingcolor fuse`` records: engine, model, band, grade, colourspace, frame."""
        values: dict = dict(self.info.attributes)
        for key in _INTEGER_ATTRIBUTES:
            if key in values:
                values[key] = int(values[key])
        return values

    @property
    def colorspace(self) -> str:
        return self.info.colorspace

    def pixels(self) -> np.ndarray:
        """Float32 ``(H, W, 3)`` in the output colourspace (file bytes are decoded with OpenImageIO)."""
        if self.info.encoding == pb.ENCODING_RAW:
            return decode_raw(self.info, self.data, f"fused frame {self.frame}")
        from movingcolor.frames.image_io import read_pixels

        with tempfile.TemporaryDirectory(prefix="movingcolor-client-") as folder:
            path = Path(folder) / f"frame.{self.info.format}"
            path.write_bytes(self.data)
            return read_pixels(path)

    def write(self, path: str | os.PathLike, pixel_type: str = "half", compression: str = "zip") -> Path:
        """Write the frame to ``path`` atomically: file bytes as they are when the format matches,
        else the pixels as an EXR (or PNG/TIFF) with the frame's header."""
        path = Path(path)
        if self.info.encoding == pb.ENCODING_FILE and path.suffix.lower().lstrip(".") == self.info.format:
            write_bytes_atomic(path, self.data)
            return path
        from movingcolor.frames.image_io import write_image

        write_image(
            path, self.pixels(), pixel_type=pixel_type, compression=compression, attributes=self.attributes
        )
        return path
