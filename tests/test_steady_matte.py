"""The matte steadied over time along the plate's optical flow (engines/steady_matte.py)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

pytest.importorskip("cv2")

from movingcolor.engines.steady_matte import steadied_mattes  # noqa: E402
from movingcolor.lru_cache import LruCache  # noqa: E402
from movingcolor.masks.band import BandWidth, edge_band  # noqa: E402
from movingcolor.masks.redrawn import RoughMatte  # noqa: E402


def _texture(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    noise = ndimage.gaussian_filter(rng.random((height, width, 3)), (2, 2, 0))
    return np.clip((noise - 0.5) * 5 + 0.5, 0, 1).astype(np.float32)


def _moving_disc(count: int = 6, height: int = 120, width: int = 200, speed: int = 2, seed: int = 1):
    """Plates of a textured disc moving ``speed`` px a frame over a textured background, and the
    disc's true masks ``(T, H, W)`` bool."""
    rng = np.random.default_rng(seed)
    background, disc = _texture(rng, height, width + count * speed), _texture(rng, height, width)
    yy, xx = np.mgrid[:height, :width]
    plates, masks = [], []
    for t in range(count):
        mask = (yy - height / 2) ** 2 + (xx - 70 - speed * t) ** 2 < 35**2
        moved = np.roll(disc, speed * t, axis=1)
        plates.append(np.where(mask[..., None], moved, background[:, :width]))
        masks.append(mask)
    return np.stack(plates), np.stack(masks)


#: The band's width in pixels, per frame.
BAND = 12
_WIDTHS = [float(BAND)] * 8


def _bands(mattes: np.ndarray) -> np.ndarray:
    return np.stack([edge_band(m.astype(np.float32), BandWidth(BAND)) for m in mattes])


def test_a_chattering_matte_comes_nearer_the_object():
    """A matte redrawn each frame a few pixels off (grown or shrunk, shifted) is pulled towards
    the object: its neighbours' errors, carried along the motion, cancel. Outside the band it is
    the matte given, bit for bit; a binary matte stays binary."""
    plates, masks = _moving_disc()
    rng = np.random.default_rng(7)
    mattes = np.stack([RoughMatte().draw(mask, rng) for mask in masks]).astype(np.float32)
    bands = _bands(mattes)
    steadied = np.stack(steadied_mattes(mattes, plates, bands, _WIDTHS))

    def error(candidate: np.ndarray) -> float:
        """The mean distance from the true mask in the band."""
        frames = zip(candidate, masks, bands, strict=True)
        return float(np.mean([np.abs(c - m)[b].mean() for c, m, b in frames]))

    assert error(steadied) < 0.75 * error(mattes)
    assert np.array_equal(steadied[~bands], mattes[~bands])
    assert set(np.unique(steadied)) <= {0.0, 1.0}


def test_a_matte_that_does_not_chatter_is_left_as_it_was():
    """The true mask of the moving object: its neighbours carried along the motion agree with it."""
    plates, masks = _moving_disc()
    mattes = masks.astype(np.float32)
    steadied = np.stack(steadied_mattes(mattes, plates, _bands(mattes), _WIDTHS))
    changed = np.mean(steadied != mattes, axis=(1, 2))
    assert changed.max() < 0.002  # a pixel or two of the edge, where the flow is a pixel off


def test_a_neighbour_across_a_cut_has_no_say():
    """After a cut the plate carried from the next shot matches nothing: those frames' mattes (here
    far from this shot's) do not move this shot's."""
    plates, masks = _moving_disc(count=3)
    other, _ = _moving_disc(count=3, seed=9)
    far = np.roll(masks, 9, axis=2)
    mattes = np.concatenate([masks, far]).astype(np.float32)
    both = np.concatenate([plates, other])
    bands = _bands(mattes)
    steadied = steadied_mattes(mattes, both, bands, _WIDTHS)
    alone = steadied_mattes(mattes[:3], plates, bands[:3], _WIDTHS)
    # Where its own shot's votes are split at half, a faint vote can tip a pixel or two.
    assert np.sum(steadied[2] != alone[2]) < 0.005 * bands[2].sum()
    # Had they a say, the edge would move by pixels all round.
    assert np.sum(far[0] != masks[2]) > 0.1 * bands[2].sum()


def test_a_soft_matte_stays_soft():
    """A feathered matte is averaged, not cut: its soft edge stays soft."""
    plates, masks = _moving_disc()
    mattes = np.stack([ndimage.gaussian_filter(m.astype(np.float32), 2.0) for m in masks])
    bands = _bands((mattes >= 0.5).astype(np.float32))
    steadied = np.stack(steadied_mattes(mattes, plates, bands, _WIDTHS))
    soft = (steadied > 0.05) & (steadied < 0.95)
    assert soft.sum() > 0.5 * ((mattes > 0.05) & (mattes < 0.95)).sum()
    assert np.array_equal(steadied[~bands], mattes[~bands])


def test_one_frame_or_no_band_is_the_matte_given():
    plates, masks = _moving_disc(count=2)
    mattes = masks.astype(np.float32)
    [single] = steadied_mattes(mattes[:1], plates[:1], _bands(mattes[:1]), _WIDTHS)
    assert np.array_equal(single, mattes[0])
    empty = np.zeros_like(masks)
    unbanded = steadied_mattes(mattes, plates, empty, _WIDTHS)
    assert all(np.array_equal(a, b) for a, b in zip(unbanded, mattes, strict=True))


def test_a_frame_without_a_band_keeps_its_matte_and_its_neighbours_are_steadied():
    """The object is gone for one frame (its matte empty, so no band): that frame is left as given,
    it has no say in the others, and the chattering mattes around it are still pulled towards the
    object."""
    plates, masks = _moving_disc()
    rng = np.random.default_rng(7)
    mattes = np.stack([RoughMatte().draw(mask, rng) for mask in masks]).astype(np.float32)
    mattes[2] = 0.0
    bands = _bands(mattes)
    assert not bands[2].any()
    steadied = np.stack(steadied_mattes(mattes, plates, bands, _WIDTHS))
    assert np.array_equal(steadied[2], mattes[2])
    others = [0, 1, 3, 4, 5]

    def error(candidate: np.ndarray) -> float:
        return float(np.mean([np.abs(candidate[t] - masks[t])[bands[t]].mean() for t in others]))

    assert error(steadied) < 0.85 * error(mattes)
    # And it has no say in theirs: a roto that is off for a frame is no evidence of the edge.
    mattes[2] = 1.0
    full = np.stack(steadied_mattes(mattes, plates, _bands(mattes), _WIDTHS))
    assert all(np.array_equal(full[t], steadied[t]) for t in others)


def _still(count: int = 5, height: int = 120, width: int = 200):
    """A still textured plate, ``count`` times: the flow is nil and every neighbour's vote counts."""
    plate = _texture(np.random.default_rng(3), height, width)
    return np.stack([plate] * count)


def _disc(radius: float, height: int = 120, width: int = 200) -> np.ndarray:
    yy, xx = np.mgrid[:height, :width]
    return ((yy - 60) ** 2 + (xx - 100) ** 2 < radius**2).astype(np.float32)


def test_the_matte_moves_no_farther_than_a_quarter_of_the_band():
    """Neighbours that all put the edge 8 px out move the middle frame's edge out, but no farther
    than a quarter of the band's 12 px from where its own matte has it: a matte is a few pixels
    off, and votes that move it farther are a wrong flow's."""
    own, grown = _disc(30), _disc(38)
    mattes = np.stack([grown, grown, own, grown, grown])
    bands = _bands(mattes)
    steadied = steadied_mattes(mattes, _still(), bands, _WIDTHS)[2]
    changed = steadied != own
    outside = ndimage.distance_transform_edt(own == 0)
    assert outside[changed].max() <= 0.25 * BAND
    assert outside[changed].max() >= 2  # it did move, towards the neighbours
    assert np.all(steadied[changed] == 1.0)


def test_a_one_pixel_change_is_dropped_and_a_thin_part_kept():
    """A speck that the votes alone would add beside the edge is left out (a wrong flow's votes
    make such specks), while a strand one pixel wide that the matte and its neighbours share stays:
    the edge is smoothed where it changes, not everywhere."""
    strand = _disc(30)
    strand[60, 125:136] = 1.0  # one pixel wide, 6 px out from the disc's edge at x = 130
    speckled = strand.copy()
    speckled[40, 125] = 1.0  # two pixels outside the disc, beside no other change
    mattes = np.stack([speckled, speckled, strand, speckled, speckled])
    steadied = steadied_mattes(mattes, _still(), _bands(mattes), _WIDTHS)[2]
    assert np.array_equal(steadied, strand)


def test_a_scrubs_next_window_takes_the_flows_it_shares_from_the_cache():
    """A host's next window shares all but one frame with the one before: with the frames named,
    their reduced plates and the flows between them come from the cache (a plate changed under its
    old name is not looked at again), and the next window's mattes are the same, bit for bit, as
    computed afresh."""
    plates, masks = _moving_disc(count=7)
    rng = np.random.default_rng(3)
    mattes = np.stack([RoughMatte().draw(mask, rng) for mask in masks]).astype(np.float32)
    bands = _bands(mattes)
    names = [("frame", t) for t in range(7)]
    flows = LruCache(64 << 20)
    steadied_mattes(mattes[:6], plates[:6], bands[:6], _WIDTHS, keys=names[:6], flows=flows)

    window = slice(1, 7)
    afresh = steadied_mattes(mattes[window], plates[window], bands[window], _WIDTHS)
    cached = steadied_mattes(
        mattes[window], plates[window], bands[window], _WIDTHS, keys=names[window], flows=flows
    )
    assert all(np.array_equal(a, c) for a, c in zip(afresh, cached, strict=True))

    swapped = plates.copy()
    swapped[2] = np.roll(swapped[2], 5, axis=1)  # a new picture under frame 2's old name
    reused = steadied_mattes(
        mattes[window], swapped[window], bands[window], _WIDTHS, keys=names[window], flows=flows
    )
    moved = steadied_mattes(mattes[window], swapped[window], bands[window], _WIDTHS)
    assert all(np.array_equal(a, r) for a, r in zip(afresh, reused, strict=True))
    assert not all(np.array_equal(a, m) for a, m in zip(afresh, moved, strict=True))


def test_a_wide_bands_pixels_near_the_contour_are_measured_once_over_its_box(monkeypatch):
    """Which band pixels lie within the steadying's reach of the contour: for a band so wide that
    its tiles' windows (each widened by the reach) overlap many times over, the distances are taken
    once over their box, as many pixels as the frame at most; the answer is the whole frame's."""
    import types

    from movingcolor.engines import steady_matte

    rows, cols = np.mgrid[0:270, 0:480]
    matte = (np.hypot(rows - 135, cols - 240) < 90).astype(np.float32)
    cv2 = steady_matte._cv2()
    measured = []

    def counted(image, *args):
        measured.append(image.size)
        return cv2.distanceTransform(image, *args)

    counting = types.SimpleNamespace(
        distanceTransform=counted, DIST_L2=cv2.DIST_L2, DIST_MASK_PRECISE=cv2.DIST_MASK_PRECISE
    )
    monkeypatch.setattr(steady_matte, "_cv2", lambda: counting)
    inside = matte >= 0.5
    exact = np.where(inside, ndimage.distance_transform_edt(inside), ndimage.distance_transform_edt(~inside))
    for pixels in (60.0, 150.0):
        measured.clear()
        band = edge_band(matte, BandWidth(pixels))
        reach = 0.25 * pixels
        near = steady_matte._near_contour(matte, band, reach)
        assert np.array_equal(near, exact[band] <= reach)
        assert sum(measured) <= 2 * matte.size, (pixels, sum(measured) / matte.size)
