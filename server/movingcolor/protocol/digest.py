"""Image digests: the SHA-256 of an image's bytes names it in the server's FuseWindow cache."""

from __future__ import annotations

import hashlib
import os

#: Hex digits of a digest; anything else in ``ImageInfo.sha256`` is refused.
DIGEST_LENGTH = 64


def image_sha256(data: bytes | memoryview) -> str:
    """The digest ``ImageInfo.sha256`` carries: SHA-256 of all the image's bytes, lowercase hex."""
    return hashlib.sha256(data).hexdigest()


def is_digest(text: str) -> bool:
    return len(text) == DIGEST_LENGTH and all(c in "0123456789abcdef" for c in text)


def file_sha256(path: str | os.PathLike) -> str:
    """SHA-256 of a file's bytes, lowercase hex, read a block at a time. OSError where it cannot be
    read."""
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def ocio_config_digest(source: str) -> str:
    """The digest ``Info.ocio_config_digest`` carries for an OpenColorIO config named by ``source``
    (a file, or a built-in ``ocio://`` URI): SHA-256 of the file's bytes (of the URI's text for a
    built-in), lowercase hex; one config file gives one digest on whatever mount it is read.
    OSError where the file cannot be read."""
    if source.startswith("ocio://"):
        return hashlib.sha256(source.encode()).hexdigest()
    return file_sha256(source)
