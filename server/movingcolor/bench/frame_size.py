"""Frame sizes as a benchmark's command line takes them: ``1920x1080``, or a comma-separated list."""

from __future__ import annotations

from ..errors import MovingColorError


def parse_frame_size(text: str) -> tuple[int, int]:
    """``"1920x1080"`` as ``(1920, 1080)``; anything else is refused, naming the form to write."""
    try:
        width, height = (int(value) for value in text.strip().lower().split("x"))
    except ValueError:
        width = height = 0
    if width <= 0 or height <= 0:
        raise MovingColorError(f"size {text.strip()!r}: write WIDTHxHEIGHT, e.g. 1920x1080")
    return width, height


def parse_frame_sizes(text: str) -> list[tuple[int, int]]:
    """``"1920x1080,4096x2160"`` as ``[(1920, 1080), (4096, 2160)]``."""
    sizes = [parse_frame_size(size) for size in text.split(",") if size.strip()]
    if not sizes:
        raise MovingColorError(
            f"sizes {text!r}: write WIDTHxHEIGHT, comma-separated, e.g. 1920x1080,4096x2160"
        )
    return sizes
