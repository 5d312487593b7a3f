"""Where and at what scale the network looks at the band.

The scale is set by the band, not by the frame: a band is shown to the network at
``NETWORK_BAND_PIXELS`` wide, or at ``FINEST_SCALE`` of the plate's resolution when it is thinner
than that, so a 12-pixel band and the matte's few pixels of error look the same to the network
at 854×480, 1080p and 4K. When the frame at that scale is larger than the network's working size,
the network runs on square crops along the band (``band_crops``), each with a margin of context
whose output is dropped, and the cost follows the band's length instead of the frame's area.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np

#: How wide the network sees the band, in its own pixels. The trained models saw bands of
#: about 5-25 % of an object's size in 256×144 crops; a band this wide shows the matte's few
#: pixels of error at a size the network resolves.
NETWORK_BAND_PIXELS = 12.0
#: The finest scale the network sees a plate at (unless the whole frame fits it finer): camera
#: footage seen pixel for pixel is softer and noisier than anything the network was trained on
#: (still photographs and video frames reduced by area averaging), and there it moved a nearly
#: right matte too far. With a 12-pixel band on real 854×480 clips the band's colour error was the
#: same at 0.5, 0.67 and 0.83 of the plate's resolution and 14-17% higher at 1.0 (docs/model.md,
#: "The band's scale"); the coarsest of those that was checked on the held-out clips is kept, and
#: the network's cost on a thin band falls with the area, by more than half.
FINEST_SCALE = 2 / 3
#: Side of a crop at the network's scale, a little under the training crops' long side (256).
#: With ``MARGIN`` it sets the cost of a thin band: a core's share of the crop's pixels. On real
#: clips with a 12-pixel band, crops of 224 with 24 pixels of context scored as 256 with 32 did
#: (band ΔE00 and temporal error within 1%) at about four fifths of the time; 192 with 16 lost
#: 1-3% (docs/model.md, "The band's scale").
CROP = 224
#: Context on each side of a crop whose output is dropped: the crop's kept core is the rest.
MARGIN = 24
#: Half the width, in the network's pixels, over which two neighbouring crops' outputs are
#: cross-faded where their cores meet (``blend_weights``). Crops run apart and decide a matte's
#: edge apart: kept to their cores, two neighbours left a straight step in the edge where their
#: cores met (up to 68 codes of 255 on real clips at 1080p). Half the margin keeps every output
#: used at least as far from its crop's border.
FADE = MARGIN // 2
#: The network's encoder works at a quarter of its input: sides are multiples of this.
SIDE_MULTIPLE = 4
#: The shortest side the network takes: its encoder works at a quarter of the frame's size and
#: pads by reflection, which needs at least two features each way.
MIN_WORKING_SIDE = 8


def band_scale(band_pixels: Sequence[float], height: int, width: int, working_size: int) -> float:
    """The scale from the plate to the network's view of it: the frame's working scale (long side
    at ``working_size``) unless the band (the median of ``band_pixels``, the local frames' widths)
    would look thinner than ``NETWORK_BAND_PIXELS`` there; then the scale that shows it that wide,
    never finer than ``FINEST_SCALE`` (a frame small enough to fit the network whole at a finer
    scale keeps its working scale)."""
    frame_scale = min(1.0, working_size / max(height, width))
    widths = [float(b) for b in band_pixels if b > 0]
    if not widths:
        return frame_scale
    finest = max(frame_scale, FINEST_SCALE)
    return float(np.clip(NETWORK_BAND_PIXELS / statistics.median(widths), frame_scale, finest))


@dataclass(frozen=True)
class BandCrop:
    """One crop of the plate that the network sees: ``rows`` x ``cols`` of the plate resized to
    ``size`` (the network's ``(h, w)``), of which only ``core_rows`` x ``core_cols`` (plate
    coordinates, inside the crop) are kept."""

    rows: slice
    cols: slice
    core_rows: slice
    core_cols: slice
    size: tuple[int, int]

    def blend_weights(self) -> tuple[tuple[slice, slice], np.ndarray]:
        """Where the crop's output is used, in plate coordinates, and its weight there ``(h, w)``
        float32: 1 inside its core, falling linearly across each edge of the core that has context
        beyond it, over ``FADE`` of the network's pixels each side (half at the edge, 0 at the far
        end), so neighbouring crops' outputs, weighed and summed, cross-fade where their cores meet.
        An edge at the frame's border, with no context beyond, is not faded."""
        rows, row_weights = _fade(self.rows, self.core_rows, self.size[0])
        cols, col_weights = _fade(self.cols, self.core_cols, self.size[1])
        return (rows, cols), np.outer(row_weights, col_weights)

    def in_crop(self, region: tuple[slice, slice]) -> tuple[slice, slice]:
        """``region`` (plate coordinates, inside the crop) in the crop's own coordinates."""
        return tuple(
            slice(part.start - whole.start, part.stop - whole.start)
            for part, whole in zip(region, (self.rows, self.cols), strict=True)
        )


def _fade(span: slice, core: slice, network_side: int) -> tuple[slice, np.ndarray]:
    """One axis of :meth:`BandCrop.blend_weights`: the used span and its weights."""
    fade = FADE * (span.stop - span.start) / network_side  # in plate pixels
    before = min(fade, core.start - span.start)
    after = min(fade, span.stop - core.stop)
    start, stop = core.start - int(before), core.stop + int(after)
    centres = np.arange(start, stop) + 0.5
    weights = np.ones(stop - start, np.float64)
    if before > 0:
        weights = np.minimum(weights, (centres - (core.start - before)) / (2 * before))
    if after > 0:
        weights = np.minimum(weights, ((core.stop + after) - centres) / (2 * after))
    return slice(start, stop), np.clip(weights, 0.0, 1.0).astype(np.float32)


@dataclass(frozen=True)
class _Axis:
    """One axis of the frame at the network's scale: where crops may sit, and the cores that cover
    a set of plate positions with as few crops as a row of intervals allows."""

    full: int  # plate pixels
    working: int  # pixels at the network's scale
    crop: int  # a crop's side at the network's scale

    @classmethod
    def at_scale(cls, full: int, scale: float) -> _Axis:
        # A very thin frame (3x700) is seen at the shortest side the network takes, not at 4 pixels
        # (one feature, which its reflection padding cannot pad).
        working = max(MIN_WORKING_SIDE, round(full * scale))
        if working <= CROP:
            # One crop takes the whole axis: no margin is needed where there is no neighbour. Its
            # side is the axis's rounded up to the encoder's multiple (CROP is one), and the axis is
            # seen at that side: rounded down, the axis was wider than its one crop and the crops
            # laid along it left a strip of the band, or all of it, out of every core.
            side = -(-working // SIDE_MULTIPLE) * SIDE_MULTIPLE
            return cls(full, side, side)
        return cls(full, working, CROP)

    def to_full(self, position: int) -> int:
        return self.full if position >= self.working else round(position * self.full / self.working)

    @cached_property
    def bounds(self) -> np.ndarray:
        """Where each of the network's pixels but the first starts in the plate (``to_full``'s
        rounding, half to even): the network's pixel a plate position falls in is the count of
        starts up to it."""
        return np.round(np.arange(1, self.working) * self.full / self.working).astype(np.int64)

    def covering_spans(self, plate_positions: np.ndarray) -> list[tuple[slice, slice]]:
        """The crops' and their cores' plate spans that cover ``plate_positions``, cores apart.

        Greedy from the first uncovered position, which is the fewest intervals for points on a
        line: each core starts at that position (on the network's pixel grid) and ends a margin
        before its crop does, or at the frame's edge where the crop reaches it (no context is
        missing there)."""
        if self.working <= self.crop:
            return [(slice(0, self.full), slice(0, self.full))]
        spans = []
        covered = 0  # plate positions below this are covered
        for position in np.unique(plate_positions):
            if position < covered:
                continue
            core_start = int(np.searchsorted(self.bounds, position, side="right"))
            start = min(max(core_start - MARGIN, 0), self.working - self.crop)
            stop = start + self.crop
            core_stop = self.working if stop >= self.working else stop - MARGIN
            covered = self.to_full(core_stop)
            spans.append(
                (slice(self.to_full(start), self.to_full(stop)), slice(self.to_full(core_start), covered))
            )
        return spans


def band_crops(band: np.ndarray, scale: float) -> list[BandCrop]:
    """The crops that cover every pixel of ``band`` (``(H, W)`` bool) with their kept cores, cores
    apart, listed row by row.

    The band is cut into strips of cores along one axis and each strip into cores along the
    other, both greedily from the band's first pixel, and of the two axes the one that needs
    fewer crops is taken: a band is a thin curve, and cores fixed on the frame's grid cost a crop
    for every corner it clips (on real clips at 1080p, 10-35% more crops)."""
    band_rows, band_cols = np.nonzero(band)
    if band_rows.size == 0:
        return []
    rows, cols = _Axis.at_scale(band.shape[0], scale), _Axis.at_scale(band.shape[1], scale)
    size = (rows.crop, cols.crop)
    by_rows = [
        BandCrop(row_crop, col_crop, row_core, col_core, size)
        for (row_crop, row_core), (col_crop, col_core) in _strip_cover(rows, band_rows, cols, band_cols)
    ]
    by_cols = [
        BandCrop(row_crop, col_crop, row_core, col_core, size)
        for (col_crop, col_core), (row_crop, row_core) in _strip_cover(cols, band_cols, rows, band_rows)
    ]
    if len(by_cols) < len(by_rows):
        return sorted(by_cols, key=lambda crop: (crop.core_rows.start, crop.core_cols.start))
    return by_rows


def _strip_cover(
    strips: _Axis, along: np.ndarray, cores: _Axis, across: np.ndarray
) -> Iterator[tuple[tuple[slice, slice], tuple[slice, slice]]]:
    """The points ``(along, across)`` covered by strips of ``strips``, each cut into cores along
    ``cores``: each core's ``(strip's crop, strip's core)`` and ``(crop, core)`` spans."""
    for strip_crop, strip_core in strips.covering_spans(along):
        inside = (along >= strip_core.start) & (along < strip_core.stop)
        for span in cores.covering_spans(across[inside]):
            yield (strip_crop, strip_core), span
