"""Contact sheets of the real-footage benchmark: one shot per clip and size, seen at its edge.

A sheet is a grid of cells, every cell the same square window of the frame, placed where the
scoring band is densest in the middle frame, and enlarged by whole pixels when small. Columns:
the truth, then each engine in the order run. The top block holds the pictures, one row per
frame (three consecutive frames from the middle of the clip); the bottom block, the same cells'
error maps: per-pixel CIEDE2000 of the engine against the truth, linear from 0 (black) to
``ERROR_SCALE`` or more (white). Under the truth, where an error map would be all black, the
bottom block shows the scoring band instead.

Only the crops are kept while a run goes on: whole frames of every shot would not fit at 1080p.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy import ndimage

from ..frames.image_io import write_image
from . import metrics

__all__ = [
    "ERROR_SCALE",
    "GAP",
    "SHEET_GRADE",
    "SHEET_MATTE",
    "ContactSheet",
    "densest_window",
    "middle_frames",
    "sheet_path",
]

#: The shot each sheet shows: the rough key (the product's common case) and the warm grade.
SHEET_MATTE = "rough"
SHEET_GRADE = "warm"
#: The window's side, in pixels of the footage at its size (smaller when the frame is).
WINDOW = 160
#: The smallest side a cell is shown at: a smaller window is enlarged by whole pixels up to it.
READABLE = 160
#: The ΔE00 an error map shows as white; 0 is black, in between linear.
ERROR_SCALE = 5.0
#: White between cells, in pixels of the sheet.
GAP = 4
#: The scoring band under the truth: a colour the grey error scale never takes.
BAND_COLOUR = (0.15, 0.35, 0.9)
#: Frames a sheet shows, one row each.
ROWS = 3


def sheet_path(size: str, clip: str) -> Path:
    """Where the sheet of ``clip`` at ``size`` goes, relative to the folder of the markdown file."""
    return Path("docs") / "benchmarks" / f"real_footage_{size}_{clip}.png"


def middle_frames(count: int, rows: int = ROWS) -> list[int]:
    """Indices of ``rows`` consecutive frames from the middle of ``count`` frames (all of them
    when there are fewer): for 12 frames, 5, 6 and 7."""
    rows = min(rows, count)
    start = min(max(0, count // 2 - 1), count - rows)
    return list(range(start, start + rows))


def densest_window(band: np.ndarray, side: int = WINDOW) -> tuple[int, int, int]:
    """(top, left, side) of the square window centred where ``band`` is densest, moved inside the
    frame; ``side`` shrinks to the frame's shorter side. A Gaussian weighting, not a box, so a
    window that could hold the whole band sits on its middle rather than at one end of it."""
    height, width = band.shape
    side = min(side, height, width)
    density = ndimage.gaussian_filter(band.astype(np.float32), side / 4, mode="constant")
    row, col = np.unravel_index(int(np.argmax(density)), density.shape)
    top = int(np.clip(row - side // 2, 0, height - side))
    left = int(np.clip(col - side // 2, 0, width - side))
    return top, left, side


def _error_picture(error: np.ndarray) -> np.ndarray:
    grey = np.clip(error / ERROR_SCALE, 0.0, 1.0).astype(np.float32)
    return np.repeat(grey[..., None], 3, axis=-1)


def _band_picture(band: np.ndarray) -> np.ndarray:
    picture = np.zeros((*band.shape, 3), np.float32)
    picture[band] = BAND_COLOUR
    return picture


def _crop(frames: np.ndarray, rows: list[int], window: tuple[int, int, int]) -> np.ndarray:
    """The window of each of the frames ``rows``, copied, so the frames themselves can go."""
    top, left, side = window
    return np.stack([frames[i, top : top + side, left : left + side] for i in rows])


@dataclass
class ContactSheet:
    """One shot of one clip at one size: the crops of the truth, the band and each engine."""

    size: str
    clip: str
    #: The frame's size, ``WxH``.
    frame: str
    #: The frame numbers of the rows, top to bottom.
    numbers: list[int]
    #: Which of the clip's frames the rows are (indices into its frames).
    rows: list[int]
    #: The window: top, left and side, in pixels of the frame.
    window: tuple[int, int, int]
    truth: np.ndarray
    band: np.ndarray
    engines: dict[str, np.ndarray] = field(default_factory=dict)
    matte: str = SHEET_MATTE
    grade: str = SHEET_GRADE

    @classmethod
    def start(
        cls, size: str, clip: str, numbers: list[int], truth: np.ndarray, bands: np.ndarray
    ) -> ContactSheet:
        """The sheet of a shot whose truth (``(T, H, W, 3)``, display space) and scoring bands
        (``(T, H, W)``) are given; the window follows the band of the middle row."""
        rows = middle_frames(len(numbers))
        window = densest_window(bands[rows[len(rows) // 2]])
        height, width = truth.shape[1:3]
        numbers = [numbers[i] for i in rows]
        return cls(
            size,
            clip,
            f"{width}x{height}",
            numbers,
            rows,
            window,
            _crop(truth, rows, window),
            _crop(bands, rows, window),
        )

    def add(self, engine: str, frames: np.ndarray) -> None:
        """Keep the crops of ``engine``'s output frames (``(T, H, W, 3)``, display space)."""
        self.engines[engine] = _crop(frames, self.rows, self.window)

    @property
    def zoom(self) -> int:
        """How many sheet pixels wide one frame pixel is shown."""
        return math.ceil(READABLE / self.window[2])

    @property
    def columns(self) -> list[str]:
        return ["truth", *self.engines]

    def cells(self) -> list[list[np.ndarray]]:
        """Rows of cells at the footage's scale: the pictures, then the error maps."""
        pictures = [
            [self.truth[r], *(crops[r] for crops in self.engines.values())] for r in range(len(self.rows))
        ]
        errors = [
            [
                _band_picture(self.band[r]),
                *(
                    _error_picture(metrics.delta_e2000_map(crops[r], self.truth[r]))
                    for crops in self.engines.values()
                ),
            ]
            for r in range(len(self.rows))
        ]
        return pictures + errors

    def image(self) -> np.ndarray:
        """The sheet, float32 ``(H, W, 3)`` on white: each cell enlarged ``zoom`` times."""
        rows = self.cells()
        cell = self.window[2] * self.zoom
        sheet = np.ones((len(rows) * (cell + GAP) - GAP, len(rows[0]) * (cell + GAP) - GAP, 3), np.float32)
        for r, row in enumerate(rows):
            for c, picture in enumerate(row):
                enlarged = np.repeat(np.repeat(picture, self.zoom, axis=0), self.zoom, axis=1)
                top, left = r * (cell + GAP), c * (cell + GAP)
                sheet[top : top + cell, left : left + cell] = enlarged
        return sheet

    def write(self, path: Path) -> None:
        """Write the sheet as an 8-bit PNG (atomically: ``write_image``), making its folder."""
        path.parent.mkdir(parents=True, exist_ok=True)
        write_image(path, self.image())

    def record(self, path: str) -> dict:
        """What the report and the JSON say of the sheet, written at ``path``."""
        top, left, side = self.window
        return {
            "path": path,
            "size": self.size,
            "clip": self.clip,
            "frame": self.frame,
            "matte": self.matte,
            "grade": self.grade,
            "frames": self.numbers,
            "window": {"top": top, "left": left, "side": side},
            "zoom": self.zoom,
            "columns": self.columns,
            "error_scale": ERROR_SCALE,
        }
