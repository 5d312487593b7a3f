"""The network sees the band at a scale set by the band, on crops along it."""

from __future__ import annotations

import numpy as np
import pytest
from movingcolor.engines.band_crops import (
    CROP,
    FADE,
    FINEST_SCALE,
    MARGIN,
    NETWORK_BAND_PIXELS,
    band_crops,
    band_scale,
)
from movingcolor.masks.band import BandWidth, edge_band


def _ring_band(height: int, width: int, pixels: float = 12.0) -> np.ndarray:
    """A band around an ellipse that reaches every edge of the frame, plus the frame's corners."""
    yy, xx = np.mgrid[:height, :width]
    inside = ((yy - height / 2) / (height * 0.55)) ** 2 + ((xx - width / 2) / (width * 0.45)) ** 2 < 1
    inside[:6, :6] = inside[-6:, -6:] = True
    return edge_band(inside.astype(np.float32), BandWidth(pixels))


def test_the_band_sets_the_scale_not_the_frame():
    # A band thinner than the network's band is seen at the finest scale, whatever the frame's
    # size; a wider one at the scale that shows it NETWORK_BAND_PIXELS wide.
    for height, width in ((480, 854), (1080, 1920), (2160, 4096)):
        assert band_scale([8.0, 9.0, 10.0], height, width, 432) == FINEST_SCALE
    assert band_scale([NETWORK_BAND_PIXELS / 0.8] * 3, 1080, 1920, 432) == FINEST_SCALE
    # A frame the network takes whole at a finer scale keeps it: a 432x240 shot pixel for pixel.
    assert band_scale([8.0, 9.0, 10.0], 240, 432, 432) == 1.0
    assert band_scale([8.0, 9.0, 10.0], 360, 600, 432) == 432 / 600
    for height, width in ((1080, 1920), (2160, 4096)):
        assert band_scale([4 * NETWORK_BAND_PIXELS] * 3, height, width, 432) == 0.25
    # Never coarser than the frame's working scale: a band wider than the frame allows is seen
    # with the whole frame, as before.
    assert band_scale([200.0], 1080, 1920, 432) == 432 / 1920
    # No band (an empty or full matte): the frame's working scale.
    assert band_scale([0.0, 0.0], 1080, 1920, 432) == 432 / 1920
    # The median of the window's widths: one odd frame does not move it.
    assert band_scale([24.0, 24.0, 3.0], 1080, 1920, 432) == 0.5


@pytest.mark.parametrize(
    ("height", "width", "scale"),
    [
        (480, 854, 1.0),
        (1080, 1920, 1.0),
        (1080, 1920, 0.6),
        (2160, 4096, 0.3),
        (100, 3000, 0.77),
        # A side the network sees whole whose size is no multiple of 4 there: its one crop was
        # rounded down, and a strip of the band (or all of it) lay in no core.
        (16, 3000, FINEST_SCALE),
        (64, 2000, FINEST_SCALE),
        (2000, 64, FINEST_SCALE),
    ],
)
def test_cores_tile_the_band_once_and_crops_hold_their_cores(height, width, scale):
    band = _ring_band(height, width)
    crops = band_crops(band, scale)
    covered = np.zeros(band.shape, np.int32)
    for crop in crops:
        covered[crop.core_rows, crop.core_cols] += 1
        for outer, core in ((crop.rows, crop.core_rows), (crop.cols, crop.core_cols)):
            assert outer.start <= core.start < core.stop <= outer.stop
        # Every crop the network sees has the same size, a multiple of its encoder's stride.
        assert crop.size == crops[0].size and all(side % 4 == 0 for side in crop.size)
        assert max(crop.size) <= CROP
        # A core's context: the margin at the network's scale, where the frame has room for it.
        top_context = (crop.core_rows.start - crop.rows.start) * scale
        assert top_context >= MARGIN - 1 or crop.rows.start == 0
    # Every band pixel (frame edges and corners included) lies in exactly one kept core.
    assert covered.max() == 1 and (covered[band] == 1).all()
    # The network does not look where there is no band: far fewer pixels than the frame.
    if height * scale > CROP and width * scale > CROP:
        assert covered.sum() < 0.75 * band.size


@pytest.mark.parametrize("scale", [1.0, FINEST_SCALE, 0.5])
def test_a_crop_is_the_networks_side_at_its_scale(scale):
    crops = band_crops(_ring_band(1080, 1920), scale)
    assert crops and all(crop.size == (CROP, CROP) for crop in crops)
    for crop in crops:
        for span in (crop.rows, crop.cols):
            assert abs((span.stop - span.start) * scale - CROP) <= 1


def test_no_band_no_crops():
    assert band_crops(np.zeros((1080, 1920), bool), 1.0) == []


@pytest.mark.parametrize("offset", [0, 37, 101])
@pytest.mark.parametrize("transpose", [False, True], ids=["across", "down"])
def test_a_band_takes_the_crops_its_length_needs_wherever_it_lies(offset, transpose):
    # A straight band three cores long takes three crops wherever it starts, along either axis;
    # cores fixed on the frame's grid took four unless the band began on a core's edge.
    core = CROP - 2 * MARGIN
    band = np.zeros((400, 1200), bool)
    band[200:212, 300 + offset : 300 + offset + 3 * core] = True
    band = band.T if transpose else band
    crops = band_crops(band, 1.0)
    assert len(crops) == 3
    covered = np.zeros(band.shape, np.int32)
    for crop in crops:
        covered[crop.core_rows, crop.core_cols] += 1
    assert covered.max() == 1 and (covered[band] == 1).all()


@pytest.mark.parametrize(
    ("height", "width", "scale"), [(1080, 1920, FINEST_SCALE), (2160, 4096, 0.5), (480, 854, 1.0)]
)
def test_neighbouring_crops_cross_fade_where_their_cores_meet(height, width, scale):
    """Each crop's output is used on its core and a fade each side of it: the weights of the crops
    over a band pixel are never all zero, sum to one wherever two neighbours' fades overlap
    symmetrically, and change across a core's edge by no more than a fade's step (the outputs of two
    crops kept to their cores met in a straight step). Cores at the frame's edge are not faded."""
    band = _ring_band(height, width)
    total = np.zeros(band.shape, np.float64)
    for crop in band_crops(band, scale):
        (rows, cols), weights = crop.blend_weights()
        assert rows.start >= crop.rows.start and rows.stop <= crop.rows.stop
        assert cols.start >= crop.cols.start and cols.stop <= crop.cols.stop
        assert weights.shape == (rows.stop - rows.start, cols.stop - cols.start)
        core = weights[crop.core_rows.start - rows.start : crop.core_rows.stop - rows.start,
                       crop.core_cols.start - cols.start : crop.core_cols.stop - cols.start]  # fmt: skip
        # Half or more across each edge of the core (a narrow core, faded both sides, never reaches 1).
        assert core.min() >= 0.25 - 1e-6
        for span, used, edge in ((crop.core_rows, rows, height), (crop.core_cols, cols, width)):
            # At the frame's edge the core reaches it, and nothing is faded there.
            assert (span.start == 0) == (used.start == 0) and (span.stop == edge) == (used.stop == edge)
        total[rows, cols] += weights
    assert (total[band] > 0.25 - 1e-6).all()
    # A fade spans 2 * FADE of the network's pixels: its weights step by about 1 / (2 * FADE * scale).
    step = 1.0 / (2 * FADE / scale) + 1e-6
    for axis in (0, 1):
        jumps = np.abs(np.diff(total, axis=axis))
        both = band[1:] & band[:-1] if axis == 0 else band[:, 1:] & band[:, :-1]
        assert jumps[both].max() <= 2 * step + 1e-6
