"""A frame's colour conversion made where it is read, tile by tile.

The engines that read the display encoding read it near the band only: the guided filter on the
band's tiles and their margins, the network on its crops along the band. A 4K frame's display
encoding is over 100 MB and three OpenColorIO passes (the plate's, the grade's and the graded
plate's), most of them for pixels no engine reads. :class:`ConvertedOnDemand` stands for the
converted frame: indexed like the ``(H, W, 3)`` array it stands for, it converts the tiles the index
covers (each once) and returns the converted pixels. OpenColorIO transforms each pixel on its own,
so a tile converted alone equals the same pixels of the whole frame converted, bit for bit. Only
the tiles converted are held (in blocks of a megabyte or two, which the heap reuses frame after
frame), so the memory follows the band too.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence

import numpy as np
import PyOpenColorIO as ocio

from ..compute_pool import map_parts
from .config import CHUNK_PIXELS

#: The side of the squares whose conversion is tracked: a crop converts the squares it touches.
TILE = 64

Rect = tuple[int, int, int, int]  # top, left, bottom, right in pixels


class ConvertedOnDemand:
    """``source`` (float32 ``(H, W, 3)``, read-only from here) through ``steps`` (OpenColorIO CPU
    processors in turn; None is the identity), then clipped to ``clip`` where given: an array
    that converts the pixels it is asked for.

    ``frame[rows, cols]`` (slices, integers or integer arrays; a channel index may follow)
    converts the tiles the index covers in the calling thread and returns what indexing the
    converted frame gives, as a new array; any other index, and ``np.asarray(frame)``, converts
    the whole frame first. :meth:`convert` converts given regions ahead, on every core. Safe
    from several threads: a tile is stored once, under the frame's lock, and never changed."""

    def __init__(
        self,
        source: np.ndarray,
        steps: Sequence[ocio.CPUProcessor | None],
        clip: tuple[float, float] | None = (0.0, 1.0),
    ):
        if source.ndim != 3 or source.shape[2] != 3:
            raise ValueError(f"a frame converted on demand is (H, W, 3), not {source.shape}")
        source.flags.writeable = False  # converted later: nobody may change it before then
        self.source = source
        self.steps = [step for step in steps if step is not None]
        self.clip = clip
        self.shape = source.shape
        self.dtype = np.dtype(np.float32)
        self.ndim = 3
        #: Each converted tile, by its row and column in the grid of ``TILE`` squares: the block it
        #: was converted in and the tile's top left corner there.
        self._tiles: dict[tuple[int, int], tuple[np.ndarray, int, int]] = {}
        self._done = np.zeros((-(-self.shape[0] // TILE), -(-self.shape[1] // TILE)), bool)
        self._lock = threading.Lock()

    @property
    def nbytes(self) -> int:
        """The converted frame's bytes, as if every tile were converted (the source not counted)."""
        return int(np.prod(self.shape)) * self.dtype.itemsize

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, key) -> np.ndarray:
        parts = key if isinstance(key, tuple) else (key,)
        bounds = self._bounds(parts)
        if bounds is None:
            return self._block((0, 0, *self.shape[:2]))[key]
        top, left = bounds[:2]
        local = (_shifted(parts[0], top, self.shape[0]),)
        if len(parts) > 1:
            local += (_shifted(parts[1], left, self.shape[1]), *parts[2:])
        return self._block(bounds)[local]

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        whole = self._block((0, 0, *self.shape[:2]))
        return whole if dtype is None else whole.astype(dtype, copy=False)

    def convert(self, regions: Iterable[tuple[slice, slice]]) -> None:
        """Convert the tiles ``regions`` (``(rows, cols)`` slices of the frame) cover, split among
        the compute pool's threads; from a thread not of that pool."""
        bounds = [self._bounds(region) for region in regions]
        with self._lock:
            rects = self._missing(bounds)
        if not rects:
            return
        # Cut into runs of rows the size OpenColorIO works fastest on, for every core; converted
        # outside the lock, so a pool thread that reads this frame meanwhile (another engine's
        # work) never waits on a thread that waits on the pool.
        rects = [part for rect in rects for part in _rows_of(rect, CHUNK_PIXELS)]
        converted = map_parts(self._converted, rects)
        with self._lock:
            for rect, pixels in zip(rects, converted, strict=True):
                self._store(rect, pixels)

    def _block(self, bounds: Rect) -> np.ndarray:
        """The converted pixels of ``bounds``, a new ``(h, w, 3)`` array, every tile of it converted
        (here, in this thread, where missing)."""
        top, left, bottom, right = bounds
        if bounds == (0, 0, *self.shape[:2]):
            self.convert([(slice(0, bottom), slice(0, right))])
        else:
            with self._lock:
                for rect in self._missing([bounds]):
                    self._store(rect, self._converted(rect))
        block = np.empty((bottom - top, right - left, 3), np.float32)
        first_col, end_col = left // TILE, -(-right // TILE)
        for r in range(top // TILE, -(-bottom // TILE)):
            rows = max(top, r * TILE), min(bottom, (r + 1) * TILE)
            c = first_col
            while c < end_col:
                # A run of tiles converted side by side in one block is copied at once.
                source, y, x = self._tiles[r, c]
                run = c + 1
                while run < end_col:
                    next_source, next_y, next_x = self._tiles[r, run]
                    if next_source is not source or next_y != y or next_x != x + (run - c) * TILE:
                        break
                    run += 1
                cols = max(left, c * TILE), min(right, run * TILE)
                y0, x0 = y + rows[0] - r * TILE, x + cols[0] - c * TILE
                block[rows[0] - top : rows[1] - top, cols[0] - left : cols[1] - left] = source[
                    y0 : y0 + rows[1] - rows[0], x0 : x0 + cols[1] - cols[0]
                ]
                c = run
        return block

    def converted(self, pixels: np.ndarray) -> np.ndarray:
        """Other ``pixels`` ``(h, w, 3)`` of the source's encoding (say, the source reduced)
        through this frame's conversion, as a new array."""
        pixels = np.array(pixels, np.float32, order="C", copy=True)
        flat = pixels.reshape(-1, 3)
        for step in self.steps:
            step.applyRGB(flat)
        if self.clip is not None:
            np.clip(pixels, *self.clip, out=pixels)
        return pixels

    def _converted(self, rect: Rect) -> np.ndarray:
        top, left, bottom, right = rect
        return self.converted(self.source[top:bottom, left:right])

    def _store(self, rect: Rect, pixels: np.ndarray) -> None:
        """Keep the tiles of ``rect`` (tile-aligned, converted into ``pixels``) not kept yet, in
        ``pixels`` (read-only from here); the lock held."""
        top, left, bottom, right = rect
        pixels.flags.writeable = False
        for r in range(top // TILE, -(-bottom // TILE)):
            for c in range(left // TILE, -(-right // TILE)):
                if not self._done[r, c]:
                    self._tiles[r, c] = (pixels, r * TILE - top, c * TILE - left)
                    self._done[r, c] = True

    def _missing(self, bounds: list[Rect]) -> list[Rect]:
        """The pixel rectangles of the tiles ``bounds`` cover that are not converted yet: each
        tile row's runs of missing tiles, a run repeated on the rows below merged into one."""
        wanted = np.zeros(self._done.shape, bool)
        for top, left, bottom, right in bounds:
            if bottom > top and right > left:
                wanted[top // TILE : -(-bottom // TILE), left // TILE : -(-right // TILE)] = True
        wanted &= ~self._done
        if not wanted.any():
            return []
        runs: dict[tuple[int, int], list[int]] = {}  # (first col, end col) -> rows
        merged: list[tuple[int, int, int, int]] = []  # tile rows first..end, cols first..end
        for r in np.flatnonzero(wanted.any(axis=1)):
            row = np.concatenate([[False], wanted[r], [False]])
            edges = np.flatnonzero(row[1:] != row[:-1])
            for first, end in zip(edges[::2], edges[1::2], strict=True):
                rows = runs.setdefault((int(first), int(end)), [])
                if rows and rows[-1] != r - 1:  # not the row below the run's last: a new block
                    merged.append((rows[0], rows[-1] + 1, int(first), int(end)))
                    rows.clear()
                rows.append(int(r))
        merged += [(rows[0], rows[-1] + 1, first, end) for (first, end), rows in runs.items() if rows]
        height, width = self.shape[:2]
        return [
            (r0 * TILE, c0 * TILE, min(r1 * TILE, height), min(c1 * TILE, width)) for r0, r1, c0, c1 in merged
        ]

    def _bounds(self, parts: tuple) -> Rect | None:
        """The rectangle of pixels an index of ``parts`` reads, or None where it is not an index of
        rows and columns by slices, integers or integer arrays (a boolean mask, an ellipsis)."""
        if not 1 <= len(parts) <= 3:
            return None
        spans = []
        for axis, part in enumerate(parts[:2]):
            span = _span(part, self.shape[axis])
            if span is None:
                return None
            spans.append(span)
        if len(spans) == 1:
            spans.append((0, self.shape[1]))
        (top, bottom), (left, right) = spans
        return top, left, bottom, right


def _rows_of(rect: Rect, pixels: int) -> list[Rect]:
    """``rect`` cut into runs of whole tile rows of about ``pixels`` pixels each (at least one
    tile row)."""
    top, left, bottom, right = rect
    step = max(1, pixels // (max(1, right - left) * TILE)) * TILE
    return [(row, left, min(row + step, bottom), right) for row in range(top, bottom, step)]


def _span(part, length: int) -> tuple[int, int] | None:
    """The first and past-the-last index that ``part`` (an index along an axis of ``length``) reads."""
    if isinstance(part, slice):
        start, stop, step = part.indices(length)
        if step != 1:
            return (0, length) if len(range(start, stop, step)) else (0, 0)
        return start, max(stop, start)
    if isinstance(part, (int, np.integer)):
        index = int(part) + length if part < 0 else int(part)
        return (index, index + 1) if 0 <= index < length else None
    if isinstance(part, np.ndarray) and part.dtype.kind in "iu":
        if part.size == 0:
            return 0, 0
        indices = np.where(part < 0, part + length, part)
        low, high = int(indices.min()), int(indices.max())
        return (low, high + 1) if low >= 0 and high < length else None
    return None


def _shifted(part, offset: int, length: int):
    """``part`` (an index along an axis of ``length`` that :func:`_span` took) as the same index
    into a block of that axis starting at ``offset``."""
    if isinstance(part, slice):
        start, stop, step = part.indices(length)
        # A stepped slice's block is the whole axis (offset 0): the slice itself.
        return slice(start - offset, max(stop, start) - offset) if step == 1 else part
    if isinstance(part, (int, np.integer)):
        return (int(part) + length if part < 0 else int(part)) - offset
    return np.where(part < 0, part + length, part) - offset


def convert_ahead(frames: Iterable[object], regions: Sequence[tuple[slice, slice]]) -> None:
    """Convert ``regions`` of each of ``frames`` that converts on demand, on every core, before
    work that reads them (on the pool's threads, or crop by crop) asks for them one at a time."""
    if not regions:
        return
    for frame in frames:
        if isinstance(frame, ConvertedOnDemand):
            frame.convert(regions)
