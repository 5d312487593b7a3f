"""Images to ``ImagePart`` messages and back.

An image is either an image file's bytes (``ENCODING_FILE``, decoded by the
server with OpenImageIO) or raw planar half/float samples (``ENCODING_RAW``).
Either way it travels as consecutive parts no larger than ``part_bytes``, so no
message comes near gRPC's receive limit.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
from google.protobuf.message import Message

from ..errors import ImageTooLargeError as _ImageTooLarge
from ..errors import MovingColorError
from ..frames.limits import check_pixels
from ..v1 import image_pb2 as pb

ROLE_NAMES = {
    pb.ROLE_PLATE: "plate",
    pb.ROLE_MATTE: "matte",
    pb.ROLE_GRADED: "graded",
    pb.ROLE_EDITED: "edited",
    pb.ROLE_FUSED: "fused",
}
ROLES = {name: role for role, name in ROLE_NAMES.items()}
SAMPLE_DTYPES = {pb.SAMPLE_TYPE_HALF: np.dtype("<f2"), pb.SAMPLE_TYPE_FLOAT: np.dtype("<f4")}
SAMPLE_TYPES = {"half": pb.SAMPLE_TYPE_HALF, "float": pb.SAMPLE_TYPE_FLOAT}
FILE_FORMATS = ("exr", "png", "tif", "tiff", "dpx", "jpg", "jpeg")


class WireFormatError(MovingColorError):
    """A message breaks the wire contract (a malformed image, parts out of order)."""


class StreamEndedError(WireFormatError):
    """The request stream ended inside an image: the client half-closed it too soon, or cancelled
    the call (gRPC ends a cancelled call's stream as a half-close, and says it was cancelled only
    after)."""


class ImageTooLargeError(WireFormatError, _ImageTooLarge):
    """An image is larger than the server accepts."""


def role_name(role: int) -> str:
    return ROLE_NAMES.get(role, f"role {role}")


def raw_image(
    pixels: np.ndarray,
    channels: tuple[str, ...],
    sample_type: int = pb.SAMPLE_TYPE_FLOAT,
    colorspace: str = "",
    view: bool = False,
) -> tuple[pb.ImageInfo, bytes | memoryview]:
    """``(H, W, C)`` or ``(H, W)`` pixels as planar samples: the info and the bytes, or, ``view``,
    a read-only byte view of the planar samples (one copy of the image fewer, for a caller that
    only hashes it and cuts it into parts)."""
    array = np.asarray(pixels)
    if array.ndim == 2:
        array = array[:, :, None]
    info = raw_info(array.shape, channels, sample_type, colorspace)
    planar = np.ascontiguousarray(array.transpose(2, 0, 1), dtype=SAMPLE_DTYPES[sample_type])  # (C, H, W)
    if view:
        planar.flags.writeable = False
        data: bytes | memoryview = memoryview(planar).cast("B")
    else:
        data = planar.tobytes()
    return info, data


def raw_info(
    shape: tuple[int, ...],
    channels: tuple[str, ...],
    sample_type: int = pb.SAMPLE_TYPE_FLOAT,
    colorspace: str = "",
) -> pb.ImageInfo:
    """The info :func:`raw_image` gives pixels of ``shape`` ``(H, W, C)``, without making their
    samples."""
    if len(shape) != 3 or shape[2] != len(channels):
        raise WireFormatError(
            f"pixels of shape {tuple(shape)} do not match channels {list(channels)}: give (H, W, C) "
            f"with one name per channel"
        )
    return pb.ImageInfo(
        encoding=pb.ENCODING_RAW,
        width=shape[1],
        height=shape[0],
        channels=list(channels),
        sample_type=sample_type,
        colorspace=colorspace,
        byte_size=shape[0] * shape[1] * shape[2] * SAMPLE_DTYPES[sample_type].itemsize,
    )


def file_image(data: bytes, file_format: str) -> tuple[pb.ImageInfo, bytes]:
    """An image file's bytes as they are: the info and the bytes."""
    name = file_format.lower().lstrip(".")
    if name not in FILE_FORMATS:
        raise WireFormatError(
            f"image format {file_format!r} cannot travel: use one of {', '.join(FILE_FORMATS)}"
        )
    return pb.ImageInfo(encoding=pb.ENCODING_FILE, format=name, byte_size=len(data)), data


def check_declared_pixels(info: pb.ImageInfo, label: str) -> None:
    """Refuse a raw image whose declared width x height is over the pixel limit, before its samples
    are received or allocated (an image file's size is checked from its header when it is decoded)."""
    if info.encoding != pb.ENCODING_RAW:
        return
    try:
        check_pixels(info.width, info.height, label)
    except _ImageTooLarge as error:
        raise ImageTooLargeError(str(error)) from None


def decode_raw(info: pb.ImageInfo, data: bytes, label: str) -> np.ndarray:
    """Raw planar samples as float32 ``(H, W, C)``; ``label`` names the image in messages."""
    if info.sample_type not in SAMPLE_DTYPES:
        raise WireFormatError(f"{label}: raw sample type {info.sample_type} unknown; use HALF or FLOAT")
    if info.width == 0 or info.height == 0 or not info.channels:
        raise WireFormatError(
            f"{label}: a raw image needs width, height and channel names (got {info.width}x{info.height}, "
            f"channels {list(info.channels)})"
        )
    dtype = SAMPLE_DTYPES[info.sample_type]
    expected = info.width * info.height * len(info.channels) * dtype.itemsize
    if len(data) != expected:
        raise WireFormatError(
            f"{label}: {len(data)} bytes of raw samples, but {info.width}x{info.height} with channels "
            f"{','.join(info.channels)} in {dtype.itemsize}-byte samples is {expected}; check the shape, "
            f"channel list and sample type"
        )
    planar = np.frombuffer(data, dtype=dtype).reshape(len(info.channels), info.height, info.width)
    pixels = np.ascontiguousarray(planar.transpose(1, 2, 0), dtype=np.float32)  # (C, H, W) -> (H, W, C)
    if not np.isfinite(pixels).all():
        bad = int((~np.isfinite(pixels)).any(axis=-1).sum())
        raise WireFormatError(f"{label}: {bad} pixels are NaN or infinite; fix them upstream")
    return pixels


def split(
    role: int,
    frame: int,
    info: pb.ImageInfo,
    data: bytes | memoryview,
    part_bytes: int,
    message: Callable[[], Message] | None = None,
) -> Iterator:
    """The parts of one image, each carrying at most ``part_bytes`` of data: ``ImagePart`` s, or,
    with ``message`` (a request or response type with a ``part`` field), each part built inside a
    new one of those. Passing a part to a message's constructor copies it: for a 1080p frame in
    float, 25 MB more to copy (and, on a busy server, to fault in)."""
    view = memoryview(data)
    size = max(1, int(part_bytes))
    for start in range(0, max(len(view), 1), size):
        outer = message() if message is not None else None
        part = outer.part if outer is not None else pb.ImagePart()
        part.role, part.frame = role, frame
        if start == 0:
            part.info.CopyFrom(info)
        part.data = bytes(view[start : start + size])
        yield part if outer is None else outer


@dataclass
class Image:
    """One complete image off the wire, or one a receiver already holds decoded: ``pixels``
    (float32 ``(H, W, C)``, read-only), where ``data`` is then empty."""

    role: int
    frame: int
    info: pb.ImageInfo
    data: bytes
    pixels: np.ndarray | None = None
    #: The SHA-256 of ``data`` (lowercase hex), computed as its parts arrived where the info
    #: declared one and the receiver checks it (``PartAssembler``'s ``hash_declared``); else empty.
    received_sha256: str = ""

    @property
    def label(self) -> str:
        return f"{role_name(self.role)} frame {self.frame}"


class PartAssembler:
    """Joins consecutive parts into images; refuses images over ``max_bytes`` before receiving them.

    ``admit``, when given, sees the first part of each image (its info) before any of its bytes
    are taken, and raises to refuse it: the receiver's own limits (pixels, duplicates, a window's
    frames and bytes) then cost nothing however large the image says it is.

    ``hash_declared``: an image whose info declares a SHA-256 is hashed part by part as its parts
    arrive (:attr:`Image.received_sha256`), for a receiver that checks it: the hashing overlaps the
    transfer of the next part instead of following the whole image (a 1080p float plate: 19 ms of
    a scrub step's wait).
    """

    def __init__(
        self,
        max_bytes: int,
        admit: Callable[[pb.ImagePart], None] | None = None,
        hash_declared: bool = False,
    ):
        self.max_bytes = max_bytes
        self._admit = admit
        self._hash_declared = hash_declared
        self._current: pb.ImagePart | None = None
        self._chunks: list[bytes] = []
        self._received = 0
        self._digest = None

    @property
    def pending(self) -> str | None:
        """The image still incomplete, for messages; None between images."""
        return f"{role_name(self._current.role)} frame {self._current.frame}" if self._current else None

    def finish(self) -> None:
        """The stream has ended: refuse it if it ended inside an image (:class:`StreamEndedError`)."""
        if self._current is not None:
            raise StreamEndedError(f"the stream ended inside {self.pending}; send all of its parts")

    def add(self, part: pb.ImagePart) -> Image | None:
        """Take one part; returns the image it completes, else None."""
        if self._current is None:
            if not part.HasField("info"):
                raise WireFormatError(
                    f"{role_name(part.role)} frame {part.frame}: the first part of an image must carry its "
                    f"info (encoding, byte_size, ...)"
                )
            label = f"{role_name(part.role)} frame {part.frame}"
            if part.info.byte_size > self.max_bytes:
                raise ImageTooLargeError(
                    f"{label} is {part.info.byte_size} bytes; this server takes images up to "
                    f"{self.max_bytes} bytes (serve --max-image-mb); send EXR bytes (compressed) or "
                    f"a smaller image"
                )
            if self._admit is not None:
                self._admit(part)
            self._current, self._chunks, self._received = part, [], 0
            self._digest = hashlib.sha256() if self._hash_declared and part.info.sha256 else None
        elif part.HasField("info") or part.role != self._current.role or part.frame != self._current.frame:
            raise WireFormatError(
                f"{role_name(part.role)} frame {part.frame} began before {self.pending} was complete "
                f"({self._received} of {self._current.info.byte_size} bytes); send each image's parts "
                f"one after another"
            )
        data = part.data  # each read of a bytes field makes a new copy of it
        self._chunks.append(data)
        if self._digest is not None:
            self._digest.update(data)
        self._received += len(data)
        info = self._current.info
        if self._received > info.byte_size:
            raise WireFormatError(
                f"{self.pending}: {self._received} bytes received but its info says byte_size "
                f"{info.byte_size}; set byte_size to the image's whole size"
            )
        if self._received < info.byte_size:
            return None
        digest = self._digest.hexdigest() if self._digest is not None else ""
        image = Image(
            self._current.role, self._current.frame, info, b"".join(self._chunks), received_sha256=digest
        )
        self._current, self._chunks, self._digest = None, [], None
        return image
