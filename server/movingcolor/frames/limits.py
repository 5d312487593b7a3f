"""How large an image may be: checked from a file's header, or an image's declared size on the
wire, before a single pixel is decoded, so a small file that declares a huge image costs nothing.

One limit per process (``movingcolor fuse --max-pixels``, ``movingcolor serve --max-pixels``):
every reader (sequences, stills, videos, streamed and windowed images) asks :func:`check_pixels`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from ..errors import ImageTooLargeError

#: 8K DCI (8192x4320, 35.4 megapixels) passes, with room for overscan; 8000x8000 does not.
DEFAULT_MAX_PIXELS = 40_000_000
#: Channels per pixel of the largest image a received one may decode to (:func:`check_samples`):
#: R, G, B and A at the pixel limit.
SAMPLES_PER_PIXEL = 4

_max_pixels = DEFAULT_MAX_PIXELS


def set_max_pixels(pixels: int) -> None:
    """Set this process's limit (width x height); 1 or more."""
    global _max_pixels
    if int(pixels) < 1:
        raise ValueError(f"the pixel limit must be 1 or more, not {pixels}")
    _max_pixels = int(pixels)


@contextmanager
def pixel_limit(pixels: int) -> Iterator[None]:
    """The limit set to ``pixels`` for a block (one command run in a longer-lived process)."""
    previous = _max_pixels
    set_max_pixels(pixels)
    try:
        yield
    finally:
        set_max_pixels(previous)


def max_pixels() -> int:
    return _max_pixels


def check_pixels(width: int, height: int, where: str) -> None:
    """Raise :class:`ImageTooLargeError` when a ``width`` x ``height`` image is over the limit (or
    its size is not a real one)."""
    if width < 1 or height < 1:
        raise ImageTooLargeError(f"{where}: declares a {width}x{height} image; an image needs pixels")
    if width * height > _max_pixels:
        raise ImageTooLargeError(
            f"{where}: is {width}x{height} ({_pixels(width * height)}), over this process's limit of "
            f"{_pixels(_max_pixels)}; give a smaller image, or raise the limit with --max-pixels"
        )


def _pixels(count: int) -> str:
    """A count of pixels, exactly (a limit of 100 read "0.0 megapixels", and 1922x1080 was "2.1
    megapixels" over a limit of "2.1 megapixels"), and in megapixels where there are a million."""
    return f"{count:,} pixels" + (f", {count / 1e6:.1f} megapixels" if count >= 1_000_000 else "")


def check_samples(width: int, height: int, channels: int, where: str) -> None:
    """Raise :class:`ImageTooLargeError` when a received image's decoded samples (``width`` x
    ``height`` x ``channels``) are more than R, G, B and A at the pixel limit: a small compressed
    file of a few hundred channels decodes to gigabytes, though its width and height pass."""
    samples = width * height * channels
    if samples > _max_pixels * SAMPLES_PER_PIXEL:
        raise ImageTooLargeError(
            f"{where}: holds {channels} channels of {width}x{height}, {samples * 4 / 2**20:.0f} MiB "
            f"decoded, over the {_max_pixels * SAMPLES_PER_PIXEL * 4 / 2**20:.0f} MiB a received image "
            f"may decode to; send only the channels the fusion reads (R, G, B, and A for a matte)"
        )
