"""What FuseWindow keeps between calls, so a host scrubbing back and forth resends nothing.

Three bounded caches: received images by the SHA-256 of their bytes (a later window
names them instead of sending them), fused frames by the window that made them
(the setup and every image's role, frame, description and digest), so rendering
the same frame again runs no engine, and the neighbours a window prepared for its engine
(by the digests of their images and the shot's settings), so the next frame of a scrub
prepares only what is new to it. Counters say what they saved (GetInfo).
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..lru_cache import LruCache
from ..protocol.images import Image, WireFormatError, role_name
from ..v1 import fusion_pb2
from ..v1 import image_pb2 as pb
from .errors import ImageEvictedError

#: What one kept image costs the process beside its bytes (its key, the entry, the bytes object and
#: the digest string), counted in the image cache's size: counted as its bytes alone, 100,000 images
#: of 8 bytes took 130 MB past a cache of a few megabytes, and stayed.
IMAGE_ENTRY_BYTES = 2048


def decoding(info: pb.ImageInfo) -> bytes:
    """What decides how an image's bytes decode, beside the bytes themselves (its format,
    colourspace, channels, sample type...): its info without what does not (attributes, and whether
    the bytes were sent or named)."""
    described = pb.ImageInfo()
    described.CopyFrom(info)
    described.ClearField("attributes")
    described.cached = False
    return described.SerializeToString(deterministic=True)


def _identity(image: Image) -> bytes:
    """An image as a window's result depends on it: its role, frame and :func:`decoding`."""
    return b"%d|%d|" % (image.role, image.frame) + decoding(image.info)


def _raw_layout(info: pb.ImageInfo) -> tuple[int, int, int, int, int]:
    """What decides the pixels raw samples decode to, beside the bytes themselves."""
    return (info.encoding, info.width, info.height, len(info.channels), info.sample_type)


@dataclass(frozen=True)
class HeldPixels:
    """A kept raw image, decoded: its pixels, the layout its bytes were decoded with (only a
    reference describing them the same way is given these pixels) and the size of its bytes."""

    pixels: np.ndarray
    layout: tuple[int, int, int, int, int]
    byte_size: int


class WindowCaches:
    def __init__(self, image_bytes: int, result_bytes: int, frame_bytes: int = 0):
        #: Received images by digest: the bytes as they arrived, or, once a window decoded a raw
        #: image, its pixels (float samples are the same size either way).
        self.images: LruCache[bytes | HeldPixels] = LruCache(image_bytes)
        self.results: LruCache[list[bytes]] = LruCache(result_bytes)
        #: Neighbours a window prepared (its engine's inputs), by content: the next window's.
        self.frames: LruCache = LruCache(frame_bytes)
        self._lock = threading.Lock()
        self._counts = {"received_bytes": 0, "references": 0, "evicted_references": 0}
        self._results = {"result_hits": 0, "result_misses": 0}

    def count(self, name: str, amount: int = 1) -> None:
        with self._lock:
            if name in self._counts:
                self._counts[name] += amount
            else:
                self._results[name] += amount

    def resolve(self, part: pb.ImagePart) -> Image:
        """The image a reference part names, from the image cache."""
        label = f"{role_name(part.role)} frame {part.frame}"
        if not part.info.sha256:
            # Told it was evicted, a client resends the window, whose reference has no digest again.
            raise WireFormatError(
                f"{label}: an image named as cached carries no sha256 to name it by; give the digest of "
                f"the image sent before, or send the image in full"
            )
        held = self.images.get(part.info.sha256)
        if held is None:
            self.count("evicted_references")
            raise ImageEvictedError(
                f"{label}: this server no longer holds image sha256 {part.info.sha256[:16]}... (its cache "
                f"evicted it); send the window again with that image in full"
            )
        size = held.byte_size if isinstance(held, HeldPixels) else len(held)
        if part.info.byte_size != size:
            raise ImageEvictedError(
                f"{label}: byte_size {part.info.byte_size} differs from the {size} bytes held under "
                f"sha256 {part.info.sha256[:16]}...; send the image in full"
            )
        if isinstance(held, HeldPixels) and _raw_layout(part.info) != held.layout:
            raise ImageEvictedError(
                f"{label}: this server holds image sha256 {part.info.sha256[:16]}... decoded as another "
                f"encoding, size, channel count or sample type; send the image in full"
            )
        self.count("references")
        info = pb.ImageInfo()
        info.CopyFrom(part.info)
        info.cached = False
        if isinstance(held, HeldPixels):
            return Image(part.role, part.frame, info, b"", held.pixels)
        return Image(part.role, part.frame, info, held)

    def keep(self, image: Image) -> None:
        self.images.put(image.info.sha256, image.data, len(image.data) + IMAGE_ENTRY_BYTES)

    def keep_decoded(self, image: Image, pixels: np.ndarray) -> None:
        """Hold kept raw ``image`` as its decoded ``pixels`` (read-only) from now on, instead of its
        bytes: the frame a window prepares from it holds those pixels too, so the server keeps one
        copy of the image rather than two. Nothing changes when the cache no longer holds it."""
        digest = image.info.sha256
        if image.info.encoding != pb.ENCODING_RAW or self.images.get(digest) is not image.data:
            return
        held = HeldPixels(pixels, _raw_layout(image.info), len(image.data))
        self.images.put(digest, held, pixels.nbytes + IMAGE_ENTRY_BYTES)

    def result_key(
        self, setup: fusion_pb2.ShotSetup, images: Sequence[Image], generation: str = ""
    ) -> str | None:
        """The key of a window's fused frame; None unless every image carries its digest.
        ``generation`` names what the setup names without its content: the colour config as loaded
        (its LUTs) and the model's files."""
        if not images or not all(image.info.sha256 for image in images):
            return None
        digest = hashlib.sha256(setup.SerializeToString(deterministic=True))
        digest.update(len(generation).to_bytes(8, "little") + generation.encode())
        for identity in sorted(_identity(image) for image in images):
            digest.update(len(identity).to_bytes(8, "little") + identity)
        return digest.hexdigest()

    def stats(self) -> fusion_pb2.CacheStats:
        with self._lock:
            counts = {**self._counts, **self._results}
        return fusion_pb2.CacheStats(
            images=len(self.images),
            image_bytes=self.images.bytes,
            image_capacity_bytes=self.images.capacity,
            results=len(self.results),
            **counts,
        )
