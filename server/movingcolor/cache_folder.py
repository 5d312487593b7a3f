"""Where generated data is kept between runs (benchmark clips, training LUTs)."""

from __future__ import annotations

import os
from pathlib import Path


def cache_folder(name: str) -> Path:
    """``$MOVINGCOLOR_CACHE/name``, by default ``~/.cache/movingcolor/name``."""
    return Path(os.environ.get("MOVINGCOLOR_CACHE", Path.home() / ".cache" / "movingcolor")) / name
