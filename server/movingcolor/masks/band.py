"""The edge band: the strip around a matte's boundary whose colours are re-decided.

The band is every pixel within ``width`` pixels of the matte's 0.5 contour, on
either side, plus every pixel where the matte is soft (strictly between 0 and
1), because that is where a hard composite shows its seam. Outside the band the
output is the hard composite, bit for bit.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence

import numpy as np

from ..compute_pool import map_parts, split_count
from ..spec.band_width import BandWidth
from .distance import DIRECT_REACH, distance_to_false

__all__ = [
    "BandWidth",
    "edge_band",
    "edge_band_with_fade",
    "occupied_tiles",
    "tile_reach",
    "overlap_box",
    "cut_from_box",
    "transform_may_need_scipy",
]


#: Side of the square tiles the band is computed on: small enough that a band a few per cent of the
#: frame touches few of them, large enough that each tile's margin costs little.
TILE = 64


def edge_band(matte: np.ndarray, width: BandWidth) -> np.ndarray:
    """Boolean ``(H, W)`` band around the boundary of ``matte`` (float ``(H, W)``).

    Empty and full mattes have no boundary, hence an empty band. Distances are computed only on
    the tiles that hold a boundary pixel and their neighbours within the band's width, each with
    a margin of that width: a pixel whose nearest pixel across the contour is within the band is
    found inside its tile's margin at the same distance, so the band equals a whole-frame
    distance transform's, and its cost follows the band's length rather than the frame's area. A
    band so wide that its tiles' windows would cover more than their bounding box takes one
    transform over that box instead.
    """
    return _band(matte, width, keep_distance=False)[0]


def edge_band_with_fade(matte: np.ndarray, width: BandWidth) -> tuple[np.ndarray, np.ndarray]:
    """:func:`edge_band`, and for each band pixel (in C order, as ``array[band]`` lists them) the
    share of an engine's change that the composite keeps there: 1 near the contour, falling
    linearly to nothing over the band's outer quarter (at least a pixel), so a change never stops
    in a line where the band ends. A pixel in the band only because the matte is soft there, farther
    from the contour than the band reaches, keeps all of it."""
    band, reach, pixels = _band(matte, width, keep_distance=True)
    fade_width = max(pixels / 4.0, 1.0)
    if reach is None:
        return band, np.ones(int(band.sum()), np.float32)
    # A near pixel has a finite distance (at most the band's width, though float32 may round it
    # just past it); a soft pixel beyond the band's reach has none.
    fade = np.where(np.isfinite(reach), np.clip((pixels + 0.5 - reach) / fade_width, 0.0, 1.0), 1.0)
    return band, fade.astype(np.float32)


def has_edge(matte: np.ndarray) -> bool:
    """Whether ``matte`` has an edge in the frame: at or above 0.5 somewhere and below it elsewhere.
    Without one its band is its soft pixels, all of them (0.5 everywhere: the whole frame)."""
    inside = matte >= 0.5
    return bool(inside.any() and not inside.all())


def _band(
    matte: np.ndarray, width: BandWidth, keep_distance: bool
) -> tuple[np.ndarray, np.ndarray | None, float]:
    """The band, where ``keep_distance`` each band pixel's distance to the contour (in C order, as
    ``array[band]`` lists them; infinite for a soft pixel beyond the band's reach), and the band's
    width in pixels. Distances are kept for the band's pixels only, never as a frame."""
    soft = (matte > 0.0) & (matte < 1.0)
    if not has_edge(matte):
        return soft, None, 0.0
    inside = matte >= 0.5
    pixels = width.pixels(inside)
    near = np.zeros_like(inside)
    # Per tile: the flat indices of its near pixels and their distances.
    kept_at: list[np.ndarray] = []
    kept: list[np.ndarray] = []
    margin = int(math.floor(pixels)) + 1

    tiles = _boundary_tiles(inside, margin)
    for (top, left, bottom, right), tile in zip(
        tiles, _tile_distances(inside, tiles, margin, pixels), strict=True
    ):
        close = tile <= pixels
        near[top:bottom, left:right] = close
        if keep_distance:
            rows, cols = np.nonzero(close)
            kept_at.append((rows + top) * inside.shape[1] + cols + left)
            kept.append(tile[close].astype(np.float32))
    band = near | soft
    if not keep_distance:
        return band, None, pixels
    reach = np.full(int(band.sum()), np.inf, np.float32)
    if kept_at:
        at = np.concatenate(kept_at)
        # The band's pixels in C order, and where each near pixel falls among them.
        reach[np.searchsorted(np.flatnonzero(band), at)] = np.concatenate(kept)
    return band, reach, pixels


def _tile_distances(
    inside: np.ndarray, tiles: list[tuple[int, int, int, int]], margin: int, reach: float
) -> list[np.ndarray]:
    """Each tile's pixels' distances to the nearest pixel on the other side of the contour
    (:func:`~.distance.distance_to_false`, infinite beyond ``reach``), each found in its window: the
    tile widened by ``margin``, cut to the frame. For the direct search the windows of one shape are
    stacked and cut into a part per core: each array operation then covers many windows (one
    window's held Python's lock for too little work for two threads to share the cores). scipy's
    transform takes one window at a time: a wide band's windows are large."""
    windows = [tile_reach(tile, margin, inside.shape) for tile in tiles]
    if reach > DIRECT_REACH:
        box = overlap_box(windows)
        if box is not None:
            # A wide band's windows overlap more than they save (a 10% band at 1080p: 5.8 frames'
            # pixels in 211 windows, 6x one transform's time): one transform over their box.
            return _box_distances(inside, tiles, box, reach)
        parts = [[index] for index in range(len(tiles))]
    else:
        by_shape: dict[tuple[int, int], list[int]] = {}
        for index, (rows, cols) in enumerate(windows):
            by_shape.setdefault((rows.stop - rows.start, cols.stop - cols.start), []).append(index)
        parts = [
            [int(index) for index in part]
            for indices in by_shape.values()
            for part in np.array_split(indices, split_count(len(indices)))
        ]
    found = map_parts(functools.partial(_part_distances, inside, tiles, windows, reach), parts)
    distances: list[np.ndarray] = [np.empty(0)] * len(tiles)
    for part, part_distances in zip(parts, found, strict=True):
        for index, tile_distances in zip(part, part_distances, strict=True):
            distances[index] = tile_distances
    return distances


def _part_distances(
    inside: np.ndarray,
    tiles: list[tuple[int, int, int, int]],
    windows: list[tuple[slice, slice]],
    reach: float,
    part: list[int],
) -> list[np.ndarray]:
    """The distances of the tiles ``part`` (their windows all of one shape), each cut to its tile
    and copied, so that no window's distances outlive the part."""
    mask = np.stack([inside[windows[index]] for index in part])
    both = np.where(mask, distance_to_false(mask, reach), distance_to_false(~mask, reach))
    cut = []
    for index, window_distances in zip(part, both, strict=True):
        top, left, bottom, right = tiles[index]
        row, col = top - windows[index][0].start, left - windows[index][1].start
        cut.append(window_distances[row : row + bottom - top, col : col + right - left].copy())
    return cut


def _box_distances(
    inside: np.ndarray, tiles: list[tuple[int, int, int, int]], box: tuple[slice, slice], reach: float
) -> list[np.ndarray]:
    """The tiles' distances (as :func:`_tile_distances` gives them) found in one window, ``box``,
    which holds every tile's window: a pixel's nearest pixel across within the reach lies in its
    tile's window, so in the box too, at the same distance."""
    mask = inside[box]
    return cut_from_box(
        np.where(mask, distance_to_false(mask, reach), distance_to_false(~mask, reach)), box, tiles
    )


def cut_from_box(
    values: np.ndarray, box: tuple[slice, slice], tiles: Sequence[tuple[int, int, int, int]]
) -> list[np.ndarray]:
    """Each of ``tiles`` cut from ``values``, an image of the frame's ``box`` that holds them, as a
    copy of its own: no tile keeps the box's array."""
    row, col = box[0].start, box[1].start
    return [
        values[top - row : bottom - row, left - col : right - col].copy()
        for top, left, bottom, right in tiles
    ]


def overlap_box(windows: Sequence[tuple[slice, slice]], times: float = 1) -> tuple[slice, slice] | None:
    """The smallest window holding every one of ``windows`` where ``times`` its pixels are fewer
    than theirs together (a wide band's tiles, each widened by the band's width, overlap many times
    over: working once on the box then costs less than on each window), else None (and None for no
    windows). ``times``: what a pixel of the box costs against one of a window."""
    if not windows:
        return None
    box = (
        slice(min(rows.start for rows, _ in windows), max(rows.stop for rows, _ in windows)),
        slice(min(cols.start for _, cols in windows), max(cols.stop for _, cols in windows)),
    )
    return box if times * _window_area(box) < sum(map(_window_area, windows)) else None


def _window_area(window: tuple[slice, slice]) -> int:
    """Pixels in ``window`` (rows, columns)."""
    rows, cols = window
    return (rows.stop - rows.start) * (cols.stop - cols.start)


def tile_reach(tile: tuple[int, int, int, int], margin: int, shape: tuple[int, ...]) -> tuple[slice, slice]:
    """The rows and columns of ``tile`` (``(top, left, bottom, right)``) widened by ``margin``, cut
    to a frame of ``shape``."""
    top, left, bottom, right = tile
    return (
        slice(max(top - margin, 0), min(bottom + margin, shape[0])),
        slice(max(left - margin, 0), min(right + margin, shape[1])),
    )


def transform_may_need_scipy(width: BandWidth) -> bool:
    """Whether a band of ``width`` may reach beyond the distances found without scipy
    (:data:`~.distance.DIRECT_REACH`): a percentage may, on a large enough object."""
    return width.relative or width.value > DIRECT_REACH


def _boundary_tiles(inside: np.ndarray, margin: int, tile: int = TILE) -> list[tuple[int, int, int, int]]:
    """``(top, left, bottom, right)`` of every tile holding a pixel within ``margin`` pixels (in
    each axis) of a boundary pixel: one whose 4-neighbour lies across the contour. Found from the
    boundary pixels' positions (a tile is reached when its rectangle widened by ``margin`` holds
    one), not by dilating a frame: the cost follows the contour's length."""
    height, width = inside.shape
    boundary = np.zeros(inside.shape, bool)
    across_rows = inside[1:] != inside[:-1]
    across_cols = inside[:, 1:] != inside[:, :-1]
    boundary[1:] |= across_rows
    boundary[:-1] |= across_rows
    boundary[:, 1:] |= across_cols
    boundary[:, :-1] |= across_cols
    ys, xs = np.nonzero(boundary)
    rows, cols = -(-height // tile), -(-width // tile)
    reached = np.zeros((rows, cols), bool)
    # Tile row r is reached from row y when r*tile - margin <= y < (r+1)*tile + margin.
    first_row, last_row = np.maximum((ys - margin) // tile, 0), np.minimum((ys + margin) // tile, rows - 1)
    first_col, last_col = np.maximum((xs - margin) // tile, 0), np.minimum((xs + margin) // tile, cols - 1)
    for dr in range(int((last_row - first_row).max(initial=0)) + 1):
        for dc in range(int((last_col - first_col).max(initial=0)) + 1):
            ok = (first_row + dr <= last_row) & (first_col + dc <= last_col)
            reached[first_row[ok] + dr, first_col[ok] + dc] = True
    return _tile_bounds(reached, tile, height, width)


def occupied_tiles(mask: np.ndarray, tile: int = TILE) -> list[tuple[int, int, int, int]]:
    """``(top, left, bottom, right)`` of every ``tile``-pixel square of the frame holding a True pixel
    of ``mask`` (``(H, W)`` bool), row by row; edge tiles are cut to the frame."""
    height, width = mask.shape
    rows, cols = -(-height // tile), -(-width // tile)
    padded = np.zeros((rows * tile, cols * tile), bool)
    padded[:height, :width] = mask
    touched = padded.reshape(rows, tile, cols, tile).any(axis=(1, 3))
    return _tile_bounds(touched, tile, height, width)


def neighbouring_tiles(
    tiles: Sequence[tuple[int, int, int, int]], shape: tuple[int, ...], tile: int = TILE
) -> list[tuple[int, int, int, int]]:
    """The squares of :func:`occupied_tiles`' grid on a frame of ``shape`` that touch one of
    ``tiles`` (theirs, on that grid), at a side or a corner, and are not among them; row by row."""
    height, width = shape[:2]
    rows, cols = -(-height // tile), -(-width // tile)
    chosen = np.zeros((rows + 2, cols + 2), bool)
    for top, left, _, _ in tiles:
        chosen[top // tile + 1, left // tile + 1] = True
    near = np.zeros_like(chosen)
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            near[1:-1, 1:-1] |= chosen[1 + dy : rows + 1 + dy, 1 + dx : cols + 1 + dx]
    return _tile_bounds(near[1:-1, 1:-1] & ~chosen[1:-1, 1:-1], tile, height, width)


def _tile_bounds(chosen: np.ndarray, tile: int, height: int, width: int) -> list[tuple[int, int, int, int]]:
    """``(top, left, bottom, right)`` of the tiles ``chosen`` (``(rows, cols)`` bool) marks, row
    by row; edge tiles are cut to the ``height`` x ``width`` frame."""
    return [
        (r * tile, c * tile, min((r + 1) * tile, height), min((c + 1) * tile, width))
        for r, c in zip(*np.nonzero(chosen), strict=True)
    ]
