"""Image digests: the SHA-256 of an image's bytes names it in the server's FuseWindow cache."""

from __future__ import annotations

import hashlib

#: Hex digits of a digest; anything else in ``ImageInfo.sha256`` is refused.
DIGEST_LENGTH = 64


def image_sha256(data: bytes | memoryview) -> str:
    """The digest ``ImageInfo.sha256`` carries: SHA-256 of all the image's bytes, lowercase hex."""
    return hashlib.sha256(data).hexdigest()


def is_digest(text: str) -> bool:
    return len(text) == DIGEST_LENGTH and all(c in "0123456789abcdef" for c in text)
