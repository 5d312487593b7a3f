"""Received images to pixels: file bytes through OpenImageIO, raw samples through numpy.

File bytes are written to the job's private folder and read back by the same
code that reads frames from disk (``frames.image_io``), so a streamed EXR gives
exactly the pixels, channels and colourspace ``movingcolor fuse`` would read.
"""

from __future__ import annotations

import uuid
from pathlib import Path

from ..errors import FrameSourceError
from ..frames.image_io import read_header, read_pixels
from ..frames.stream import DecodedImage
from ..protocol.images import FILE_FORMATS, Image, WireFormatError, decode_raw
from ..v1 import image_pb2 as pb


class ImageDecoder:
    """Decodes the images of one job inside ``folder`` (its private temporary folder)."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)

    def decode(self, image: Image) -> DecodedImage:
        info = image.info
        if info.encoding == pb.ENCODING_RAW:
            pixels = decode_raw(info, image.data, image.label)
            return DecodedImage(pixels, tuple(info.channels), info.colorspace, True)
        if info.encoding == pb.ENCODING_FILE:
            return self._decode_file(image)
        raise WireFormatError(f"{image.label}: set the image's encoding (ENCODING_FILE or ENCODING_RAW)")

    def _decode_file(self, image: Image) -> DecodedImage:
        fmt = image.info.format.lower().lstrip(".")
        if fmt not in FILE_FORMATS:
            raise WireFormatError(
                f"{image.label}: image format {image.info.format!r} unknown; send one of "
                f"{', '.join(FILE_FORMATS)}"
            )
        path = self.folder / f"{image.role}.{image.frame}.{uuid.uuid4().hex[:8]}.{fmt}"
        try:
            path.write_bytes(image.data)
            header = read_header(path)
            pixels = read_pixels(path)
        except FrameSourceError as error:
            detail = str(error).replace(str(path), f"{image.label} ({fmt} bytes)")
            raise WireFormatError(f"{detail}; send the complete file") from error
        finally:
            path.unlink(missing_ok=True)
        return DecodedImage(pixels, tuple(header.channels), header.colorspace, header.is_float)
