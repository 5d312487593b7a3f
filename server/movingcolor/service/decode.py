"""Received images to pixels: file bytes through OpenImageIO, raw samples through numpy.

File bytes are decoded in memory by the same code that reads frames from disk
(``frames.image_io``), so a streamed EXR gives exactly the pixels, channels and
colourspace ``movingcolor fuse`` would read, and nothing received touches the disk.
Every image's size is known before its pixels are decoded (a raw image's info, a
file's header), so one over the pixel limit, or over what the call may hold,
costs no decoding.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

import numpy as np

from ..errors import FrameSourceError
from ..errors import ImageTooLargeError as FileTooLargeError
from ..frames.image_io import ImageHeader, decode_header, decode_image
from ..frames.limits import check_samples
from ..frames.stream import DecodedImage, DeferredImage
from ..protocol.images import (
    FILE_FORMATS,
    Image,
    ImageTooLargeError,
    WireFormatError,
    check_declared_pixels,
    decode_raw,
)
from ..v1 import image_pb2 as pb

#: Decoded pixels are float32.
_SAMPLE_BYTES = 4


class ImageDecoder:
    """Decodes the images of one job, in memory.

    ``reserve(nbytes, label)``, when given, is told the size of each image's decoded pixels
    before they are decoded (a raw image's, beyond its bytes, which its pixels replace), and
    raises to refuse them. ``decoded(image, pixels)``, when given, is
    handed each raw image's pixels once decoded, read-only (a cache may hold them in place of the
    bytes); an image that arrives with its pixels (:attr:`Image.pixels`) is not decoded again.
    """

    def __init__(
        self,
        reserve: Callable[[int, str], None] | None = None,
        decoded: Callable[[Image, np.ndarray], None] | None = None,
    ):
        self.reserve = reserve
        self.decoded = decoded

    def decode(self, image: Image) -> DecodedImage:
        info = image.info
        if info.encoding == pb.ENCODING_RAW:
            self._reserve_raw(image)
            return DecodedImage(self._raw_pixels(image), tuple(info.channels), info.colorspace, True)
        if info.encoding == pb.ENCODING_FILE:
            return self._decode_file(image)
        raise _no_encoding(image)

    def deferred(self, image: Image) -> DeferredImage:
        """The image described now (its size checked and its pixels reserved as by :meth:`decode`)
        and decoded when its pixels are first read."""
        info = image.info
        if info.encoding == pb.ENCODING_RAW:
            self._reserve_raw(image)
            return DeferredImage(
                (info.width, info.height),
                tuple(info.channels),
                info.colorspace,
                True,
                lambda: self._raw_pixels(image),
            )
        if info.encoding != pb.ENCODING_FILE:
            raise _no_encoding(image)
        fmt = self._file_format(image)
        with _file_errors():
            header = decode_header(image.data, f".{fmt}", f"{image.label} ({fmt} bytes)")
        self._reserve_header(header, image.label)
        # Reserved here: the decoding later must not count the same pixels twice.
        unreserved = ImageDecoder()
        return DeferredImage(
            (header.width, header.height),
            tuple(header.channels),
            header.colorspace,
            header.is_float,
            lambda: unreserved._decode_file(image).pixels,
            header.carried,
            tuple(header.stored_channels),
        )

    def _raw_pixels(self, image: Image) -> np.ndarray:
        if image.pixels is not None:
            return image.pixels
        pixels = decode_raw(image.info, image.data, image.label)
        if self.decoded is not None:
            pixels.flags.writeable = False
            self.decoded(image, pixels)
        # The image is its pixels from now on: its bytes go (a cache holding them was just handed
        # the pixels instead), so a window's raw images are held once, not as bytes beside pixels.
        image.pixels, image.data = pixels, b""
        return pixels

    def _reserve(self, samples: int, label: str) -> None:
        if self.reserve is not None:
            self.reserve(samples * _SAMPLE_BYTES, label)

    def _reserve_raw(self, image: Image) -> None:
        """Reserve what a raw image's pixels hold beyond its bytes, which a receiver counted as they
        arrived and which the pixels replace once decoded: float samples nothing more, half ones
        as much again."""
        info = image.info
        check_declared_pixels(info, image.label)
        with _file_errors():
            check_samples(info.width, info.height, len(info.channels), image.label)
        pixels = info.width * info.height * len(info.channels) * _SAMPLE_BYTES
        if self.reserve is not None:
            self.reserve(max(0, pixels - info.byte_size), image.label)

    def _reserve_header(self, header: ImageHeader, label: str) -> None:
        with _file_errors():
            check_samples(header.width, header.height, len(header.channels), label)
        self._reserve(header.width * header.height * len(header.channels), label)

    @staticmethod
    def _file_format(image: Image) -> str:
        fmt = image.info.format.lower().lstrip(".")
        if fmt not in FILE_FORMATS:
            raise WireFormatError(
                f"{image.label}: image format {image.info.format!r} unknown; send one of "
                f"{', '.join(FILE_FORMATS)}"
            )
        return fmt

    def _decode_file(self, image: Image) -> DecodedImage:
        fmt = self._file_format(image)
        with _file_errors():
            header, pixels = decode_image(
                image.data,
                f".{fmt}",
                f"{image.label} ({fmt} bytes)",
                lambda header: self._reserve_header(header, image.label),
            )
        stored = tuple(header.stored_channels)
        return DecodedImage(
            pixels, tuple(header.channels), header.colorspace, header.is_float, header.carried, stored
        )


def _no_encoding(image: Image) -> WireFormatError:
    return WireFormatError(f"{image.label}: set the image's encoding (ENCODING_FILE or ENCODING_RAW)")


@contextlib.contextmanager
def _file_errors() -> Iterator[None]:
    """A received file's errors as the wire's: too large, or not a whole image file."""
    try:
        yield
    except FileTooLargeError as error:
        raise ImageTooLargeError(str(error)) from None
    except FrameSourceError as error:
        raise WireFormatError(f"{error}; send the complete file") from error
