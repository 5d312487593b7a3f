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

from ..lru_cache import LruCache
from ..protocol.images import Image, role_name
from ..v1 import fusion_pb2
from ..v1 import image_pb2 as pb
from .errors import ImageEvictedError


def _identity(image: Image) -> bytes:
    """What decides how an image's bytes decode, beside the bytes themselves."""
    info = pb.ImageInfo()
    info.CopyFrom(image.info)
    info.ClearField("attributes")
    info.cached = False
    return b"%d|%d|" % (image.role, image.frame) + info.SerializeToString(deterministic=True)


class WindowCaches:
    def __init__(self, image_bytes: int, result_bytes: int, frame_bytes: int = 0):
        self.images: LruCache[bytes] = LruCache(image_bytes)
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
        data = self.images.get(part.info.sha256)
        if data is None:
            self.count("evicted_references")
            raise ImageEvictedError(
                f"{label}: this server no longer holds image sha256 {part.info.sha256[:16]}... (its cache "
                f"evicted it); send the window again with that image in full"
            )
        if part.info.byte_size != len(data):
            raise ImageEvictedError(
                f"{label}: byte_size {part.info.byte_size} differs from the {len(data)} bytes held under "
                f"sha256 {part.info.sha256[:16]}...; send the image in full"
            )
        self.count("references")
        info = pb.ImageInfo()
        info.CopyFrom(part.info)
        info.cached = False
        return Image(part.role, part.frame, info, data)

    def keep(self, image: Image) -> None:
        self.images.put(image.info.sha256, image.data, len(image.data))

    def result_key(self, setup: fusion_pb2.ShotSetup, images: Sequence[Image]) -> str | None:
        """The key of a window's fused frame; None unless every image carries its digest."""
        if not images or not all(image.info.sha256 for image in images):
            return None
        digest = hashlib.sha256(setup.SerializeToString(deterministic=True))
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
