"""The guided refinement computed only on the tiles of the frame that hold band pixels.

Outside the band the composite is the hard one whatever an engine says, so the rest of the frame
is never filtered. Each tile is filtered with a margin of twice the filter's radius (the reach of
its two box filters), so its pixels get what filtering the whole frame gives; tiles of one shape
are filtered together as one batch, so a frame's hundreds of tiles cost a few calls, not hundreds.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass

import numpy as np

from ..color.converted_on_demand import convert_ahead
from ..compute_pool import map_parts, split_count, usable_cores
from ..masks.band import cut_from_box, neighbouring_tiles, occupied_tiles, overlap_box, tile_reach
from .guided_filter import EPS, refine_matte, refine_radius, temporal_average

Tile = tuple[int, int, int, int]

#: Fewer tiles than this in a part cost more to hand to a thread than they save.
MIN_PART_TILES = 4
#: The squares a whole frame at the network's scale is refined on (:func:`refine_by_tiles`).
FRAME_TILE = 32
#: How many times over the widened tiles must cover their box before summed-area tables of it are
#: quicker than each tile's minimum and maximum (every tile of a 4K frame: 0.3 s of tables against
#: 0.02 s of minima for a 12-pixel band's reach, twice over; 0.33 s against 6.2 s for a 100% band's).
SUMMED_AREA_OVERLAP = 8
#: How many times over the missing tiles' widened windows must cover their box before the tiles
#: around them are refined with them (:meth:`TileRefinements.tiles`): a wide band's.
RING_OVERLAP = 2


@dataclass(frozen=True)
class Refiner:
    """How band tiles are refined and averaged over time: ``refine`` and ``average`` take and give
    what :func:`~.guided_filter.refine_matte` and :func:`~.guided_filter.temporal_average` do;
    ``split``: a batch is cut into parts for the compute pool's threads (numpy's filters use one
    core each; torch parallelises a batch itself)."""

    refine: Callable[[np.ndarray, np.ndarray, float, float], np.ndarray]
    average: Callable[..., np.ndarray]
    split: bool


#: The numpy path: scipy's filters on every core (:mod:`.torch_filters` has torch's).
NUMPY_REFINER = Refiner(refine_matte, temporal_average, split=True)


def _by_shape(crops: dict[Tile, tuple[slice, slice]]) -> dict[tuple[int, int], list[Tile]]:
    groups: dict[tuple[int, int], list[Tile]] = {}
    for tile, (rows, cols) in crops.items():
        groups.setdefault((rows.stop - rows.start, cols.stop - cols.start), []).append(tile)
    return groups


def filter_tiles(
    function: Callable[..., np.ndarray],
    images: Sequence[np.ndarray],
    tiles: Sequence[Tile],
    margin: int,
    split: bool = True,
) -> dict[Tile, np.ndarray]:
    """A filter of whole frames evaluated on ``tiles`` only: ``function`` takes a batch of crops of
    each of ``images`` (``(N, h, w, ...)`` each, all ``(H, W, ...)`` frames of one size) and returns
    the filtered batch ``(N, h, w)``; each crop is its tile widened by ``margin`` (the filter's
    reach), cut to the frame, and the tiles of one crop shape form one batch. Returns ``{tile:
    (tile's height, width)}``, each equal to the same pixels of filtering the whole frame, for a
    filter that reaches no farther than ``margin`` and treats the frame's edges as the crops' own
    (a crop is cut only there). ``split``: each batch is cut into parts for the compute pool's
    threads (for a ``function`` that runs on one core).

    A wide band's crops overlap many times over (each tile widened by the band's width: at 4K a
    25% band's came to gigabytes); where their bounding box costs less than they do (on one core
    where ``split``), the box is filtered once, as one crop, and the tiles are cut from it: it holds
    every tile with its margin, and is cut only at the frame's edges."""
    shape = images[0].shape
    crops = {tile: tile_reach(tile, margin, shape) for tile in tiles}
    filtered: dict[Tile, np.ndarray] = {}
    # On one core where ``split``: the crops would share every core.
    box = overlap_box(list(crops.values()), usable_cores() if split else 1)
    if box is not None:
        rows, cols = box
        convert_ahead(images, [box])
        (values,) = function(*[image[rows, cols][None] for image in images])
        return dict(zip(crops, cut_from_box(values, box, list(crops)), strict=True))
    convert_ahead(images, list(crops.values()))
    for group in _by_shape(crops).values():
        # A batch's crops are filtered independently: its parts run on every core.
        count = split_count(len(group), MIN_PART_TILES) if split else 1
        parts = np.array_split(np.arange(len(group)), count)

        def filter_part(part: np.ndarray, group: list[Tile] = group) -> np.ndarray:
            batches = [np.stack([image[crops[group[k]]] for k in part]) for image in images]
            return function(*batches)

        values_by_tile = np.concatenate(map_parts(filter_part, parts))
        for tile, values in zip(group, values_by_tile, strict=True):
            top, left, bottom, right = tile
            rows, cols = crops[tile]
            filtered[tile] = values[top - rows.start :, left - cols.start :][: bottom - top, : right - left]
    return filtered


def refine_tiles(
    guide: np.ndarray,
    matte: np.ndarray,
    band_pixels: float,
    tiles: Sequence[Tile],
    eps: float = EPS,
    refiner: Refiner = NUMPY_REFINER,
) -> dict[Tile, np.ndarray]:
    """:func:`~.guided_filter.refine_matte` of one frame (``guide (H, W, 3)``, ``matte (H, W)``),
    on ``tiles`` only, the tiles of one shape as one batch: ``{tile: refined (tile's height,
    width)}``, each equal to the same pixels of the whole frame's refinement (by ``refiner``)."""
    margin = 2 * refine_radius(band_pixels) + 1
    refined: dict[Tile, np.ndarray] = {}
    varying = []
    for tile, value in zip(tiles, _constant_over(matte, tiles, margin), strict=True):
        if value is None:
            varying.append(tile)
        else:
            # Where the matte is all 0 or all 1 over the filter's reach the filter gives that value
            # exactly (no covariance with the guide, an exact mean): a neighbour's tiles far from its
            # own edge, which the temporal average reads, cost nothing.
            refined[tile] = np.full((tile[2] - tile[0], tile[3] - tile[1]), value, np.float32)
    if varying:
        refined.update(
            filter_tiles(
                lambda guides, sources: refiner.refine(guides, sources, band_pixels, eps),
                (guide, matte),
                varying,
                margin=margin,
                split=refiner.split,
            )
        )
    return {tile: refined[tile] for tile in tiles}


def refine_by_tiles(
    guide: np.ndarray,
    matte: np.ndarray,
    band_pixels: float,
    eps: float = EPS,
    refiner: Refiner = NUMPY_REFINER,
    tile: int = FRAME_TILE,
) -> np.ndarray:
    """:func:`~.guided_filter.refine_matte` of the whole frame (``guide (H, W, 3)``, ``matte (H, W)``)
    as ``(H, W)``, filtered only on the ``tile``-pixel squares where the matte varies within the
    filter's reach (:func:`refine_tiles`): a crop along the band is mostly squares far from the
    matte's edge, where the filter gives the matte's 0 or 1 exactly."""
    height, width = matte.shape
    tiles = [
        (top, left, min(top + tile, height), min(left + tile, width))
        for top in range(0, height, tile)
        for left in range(0, width, tile)
    ]
    refined = np.empty((height, width), np.float32)
    for (top, left, bottom, right), values in refine_tiles(
        guide, matte, band_pixels, tiles, eps, refiner
    ).items():
        refined[top:bottom, left:right] = values
    return refined


def refine_frames_by_tiles(
    guides: np.ndarray, mattes: np.ndarray, band_pixels: Sequence[float], eps: float = EPS
) -> list[np.ndarray]:
    """:func:`refine_by_tiles` of each frame (``guides (T, H, W, 3)``, ``mattes (T, H, W)``): what
    :func:`~.guided_filter.refine_mattes` gives, bit for bit."""
    return [
        refine_by_tiles(guide, matte, width, eps)
        for guide, matte, width in zip(guides, mattes, band_pixels, strict=True)
    ]


def _constant_over(matte: np.ndarray, tiles: Sequence[Tile], margin: int) -> list[float | None]:
    """For each of ``tiles``, 0.0 or 1.0 where ``matte`` is that value all over the tile widened by
    ``margin``, else None. A wide band's widened tiles overlap many times over (at 4K a 100% band's
    came to 5.8 s a frame of minima and maxima): where they cover their box ``SUMMED_AREA_OVERLAP``
    times over, each tile's count of pixels that are not 0, and not 1, is read from summed-area
    tables of the box."""
    windows = [tile_reach(tile, margin, matte.shape) for tile in tiles]
    box = overlap_box(windows, SUMMED_AREA_OVERLAP)
    if box is None:
        return [_constant_in(matte[window]) for window in windows]
    crop = matte[box]
    top, left = box[0].start, box[1].start
    rows = np.array([(r.start - top, r.stop - top) for r, _ in windows])
    cols = np.array([(c.start - left, c.stop - left) for _, c in windows])
    counts = []
    for other in (crop != 0.0, crop != 1.0):  # NaN is neither: never constant
        table = np.zeros((crop.shape[0] + 1, crop.shape[1] + 1), np.int32)
        np.cumsum(np.cumsum(other, axis=0, dtype=np.int32), axis=1, out=table[1:, 1:])
        counts.append(
            table[rows[:, 1], cols[:, 1]]
            - table[rows[:, 0], cols[:, 1]]
            - table[rows[:, 1], cols[:, 0]]
            + table[rows[:, 0], cols[:, 0]]
        )
    not_zeros, not_ones = counts
    return [
        0.0 if not_zero == 0 else 1.0 if not_one == 0 else None
        for not_zero, not_one in zip(not_zeros, not_ones, strict=True)
    ]


def _constant_in(crop: np.ndarray) -> float | None:
    """0.0 or 1.0 where ``crop`` is that value all over, else None."""
    low, high = crop.min(), crop.max()
    return float(low) if low == high and low in (0.0, 1.0) else None


def smoothed_band_alpha(
    matte: np.ndarray,
    band: np.ndarray,
    guides: Sequence[np.ndarray],
    refined: Sequence[dict[Tile, np.ndarray]],
    center: int,
    sigma: float,
    change_sigma: float,
    average: Callable[..., np.ndarray] = temporal_average,
    offsets: Sequence[int] | None = None,
) -> np.ndarray:
    """Frame ``center``'s matte ``(H, W)`` with the tiles of its ``band`` replaced by its refinement
    averaged over time with its neighbours' (``average``: :func:`~.guided_filter.temporal_average`
    or a :class:`Refiner`'s); ``offsets``: each frame's distance from the centre in frames, where
    they are not consecutive.

    ``guides`` are the consecutive frames' plates ``(H, W, 3)`` and ``refined`` their refinements
    by tile, holding at least the centre's band tiles. Tiles of one shape are averaged together.
    """
    alpha = matte.astype(np.float32, copy=True)
    tiles = occupied_tiles(band)
    crops = {tile: (slice(tile[0], tile[2]), slice(tile[1], tile[3])) for tile in tiles}
    for group in _by_shape(crops).values():
        mattes = [np.stack([frame[tile] for tile in group]) for frame in refined]  # T × (N, h, w)
        plates = [np.stack([guide[crops[tile]] for tile in group]) for guide in guides]  # T × (N, h, w, 3)
        averaged = average(mattes, plates, center, sigma, change_sigma, offsets)
        for tile, values in zip(group, averaged, strict=True):
            alpha[crops[tile]] = values
    return alpha


class TileRefinements:
    """Frames' refined band tiles, kept for the windows that share a frame.

    Consecutive windows overlap, so a frame's tiles are asked for by several windows and, for the
    temporal average, by its neighbours'; a frame's spatial refinement depends on that frame alone,
    so reusing it changes nothing. Entries are keyed by the caller with keys that name a frame's
    content across shots (:attr:`~.base.FusionFrames.frame_keys`, or :func:`content_key`): one
    engine serves every job on a server, and two shots' frame 1001 must never meet.
    """

    def __init__(self, capacity: int, eps: float = EPS, refiner: Refiner = NUMPY_REFINER):
        self.capacity = capacity
        self.eps = eps
        self.refiner = refiner
        self._entries: OrderedDict[Hashable, dict[Tile, np.ndarray]] = OrderedDict()
        self._lock = threading.Lock()

    def tiles(
        self, key: Hashable, guide: np.ndarray, matte: np.ndarray, band_pixels: float, tiles: Sequence[Tile]
    ) -> dict[Tile, np.ndarray]:
        """The refinement of ``tiles`` of the frame ``key`` names (read-only arrays); the tiles not
        yet kept are computed in one batch."""
        with self._lock:
            kept = self._entries.setdefault(key, {})
            self._entries.move_to_end(key)
            while len(self._entries) > self.capacity:
                self._entries.popitem(last=False)
            missing = [tile for tile in tiles if tile not in kept]
        if missing:
            asked = missing + self._neighbours_on_its_box(matte.shape, band_pixels, missing, kept)
            computed = refine_tiles(guide, matte, band_pixels, asked, self.eps, self.refiner)
            for values in computed.values():
                values.flags.writeable = False  # shared between windows: nobody may change it
            with self._lock:
                kept.update(computed)
        return {tile: kept[tile] for tile in tiles}

    def _neighbours_on_its_box(
        self, shape: tuple[int, ...], band_pixels: float, missing: list[Tile], kept: dict[Tile, np.ndarray]
    ) -> list[Tile]:
        """The tiles beside ``missing`` that the frame does not hold yet, where ``missing`` are
        refined as their box (a wide band: :func:`filter_tiles`), else none. A frame's tiles are
        asked for by each window that reads it, each for its own target's band, which moves a few
        pixels a frame: those new tiles lie at the box's edge, beyond its reach, and each window
        filtered nearly a frame's box again for them (at 4K with a 50% band, eight boxes for three
        frames). A ring of tiles widens the box by a tile each side and holds the next windows'."""
        margin = 2 * refine_radius(band_pixels) + 1
        windows = [tile_reach(tile, margin, shape) for tile in missing]
        # Where the box is filtered (on one core where split), and the band wide: a narrow band's
        # few neighbouring tiles that overlap a little (on a GPU) are not worth a ring.
        times = max(RING_OVERLAP, usable_cores() if self.refiner.split else 1)
        if overlap_box(windows, times) is None:
            return []
        return [tile for tile in neighbouring_tiles(missing, shape) if tile not in kept]


def content_key(guide: np.ndarray, matte: np.ndarray, band_pixels: float) -> bytes:
    """A digest of what a frame's refinement is computed from."""
    digest = hashlib.sha256(repr((guide.shape, guide.dtype.str, matte.dtype.str, band_pixels)).encode())
    digest.update(memoryview(np.ascontiguousarray(guide)).cast("B"))
    digest.update(memoryview(np.ascontiguousarray(matte)).cast("B"))
    return digest.digest()
