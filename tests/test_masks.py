"""Mattes in any form, and the edge band."""

from __future__ import annotations

import numpy as np
import pytest
from movingcolor.errors import BandSpecError
from movingcolor.frames.matte import matte_from_pixels
from movingcolor.masks.band import BandWidth, edge_band


def _disc(size=101, radius=20.0):
    yy, xx = np.mgrid[0:size, 0:size]
    return (np.hypot(yy - size // 2, xx - size // 2) <= radius).astype(np.float32)


def test_a_matte_of_one_soft_value_everywhere_stays_soft():
    """A float matte of 0.3 over the whole frame (a partial grade of everything) was taken for a
    two-level label image and graded in full; a palette label beside zeros is a label, and so is a
    label image's frame that its object fills, as its neighbours."""
    assert np.array_equal(
        matte_from_pixels(np.full((4, 6), 0.3, np.float32)), np.full((4, 6), 0.3, np.float32)
    )
    label = np.zeros((4, 6, 3), np.float32)
    label[1:3, 2:5, 0] = 128 / 255
    assert np.array_equal(matte_from_pixels(label), (label[..., 0] > 0).astype(np.float32))
    filled = np.zeros((4, 6, 3), np.float32)
    filled[..., 0] = 128 / 255
    assert np.array_equal(matte_from_pixels(filled), np.ones((4, 6), np.float32))


@pytest.mark.parametrize(
    "strength", [0.5, 0.25, np.float16(0.3), 0.4, 0.2, 1 / 3, 2 / 15, 128 / 255, 1 / 255, 11 / 255, 16 / 255]
)
def test_a_roto_at_partial_strength_keeps_its_strength_however_it_is_stored(strength):
    """A float EXR roto of zero and 0.5 (a shape graded at half strength) was taken for a label
    image and graded in full, bit for bit as a matte of 1.0, without a word; so were 0.4, 1/3 and
    every k/15 (8- and 16-bit codes), and the first steps of an 8-bit fade (1/255 to 16/255), so a
    hard-edged roto faded in flashed to full on those frames. A grey level is a strength whatever
    the storage (an 8-bit file, float, half, a host's alpha or RGB rendering); a palette's colour is
    a label's on every path."""
    roto = np.zeros((4, 6), np.float32)
    roto[1:3, 2:5] = strength
    grey = np.repeat(roto[:, :, None], 3, axis=2)
    assert np.array_equal(matte_from_pixels(roto), roto)
    assert np.array_equal(matte_from_pixels(roto[:, :, None], ("Y",)), roto)
    assert np.array_equal(matte_from_pixels(grey, ("R", "G", "B")), roto)
    rgba = np.concatenate([np.zeros_like(grey), roto[:, :, None]], axis=2)
    assert np.array_equal(matte_from_pixels(rgba, ("R", "G", "B", "A")), roto)
    if abs(strength * 255 - round(strength * 255)) < 1e-3:  # a palette colour's code
        palette = np.zeros((4, 6, 3), np.float32)
        palette[..., 0] = roto
        label = (roto > 0).astype(np.float32)
        assert np.array_equal(matte_from_pixels(palette, ("R", "G", "B")), label)
        # As a host renders it in half floats (Resolve's half EXR codecs): 128/255 is 0.50195 there.
        assert np.array_equal(matte_from_pixels(palette.astype(np.float16), ("R", "G", "B")), label)


def test_band_in_pixels_straddles_the_boundary():
    matte = _disc()
    band = edge_band(matte, BandWidth.parse("5"))
    yy, xx = np.mgrid[0:101, 0:101]
    distance = np.hypot(yy - 50, xx - 50)
    assert band[np.abs(distance - 20) < 3].all()
    assert not band[distance < 13].any() and not band[distance > 27].any()


def test_band_in_percent_scales_with_object():
    small, large = _disc(radius=10), _disc(radius=40, size=201)
    width = BandWidth.parse("10%")
    assert width.pixels(small >= 0.5) == pytest.approx(2.0, rel=0.05)
    assert width.pixels(large >= 0.5) == pytest.approx(8.0, rel=0.05)
    assert edge_band(large, width).sum() > 3 * edge_band(small, width).sum()


def test_a_band_under_a_pixel_is_a_pixel_wide():
    """No pixel lies within 0.9 px of the edge: the band was empty, and every engine returned the hard
    composite without a word. A pixel band is one pixel at least, as a percentage's is."""
    matte = _disc()
    assert BandWidth.parse("0.9").pixels(matte >= 0.5) == 1.0
    assert np.array_equal(edge_band(matte, BandWidth.parse("0.9")), edge_band(matte, BandWidth.parse("1")))
    assert edge_band(matte, BandWidth.parse("0.9")).any()


def test_empty_and_full_mattes_have_no_band():
    width = BandWidth.parse("8")
    assert not edge_band(np.zeros((20, 20), np.float32), width).any()
    assert not edge_band(np.ones((20, 20), np.float32), width).any()


def test_soft_pixels_are_always_in_the_band():
    matte = np.zeros((40, 40), np.float32)
    matte[:, 20:] = 1.0
    matte[5, 2] = 0.3  # a stray soft pixel far from the edge
    band = edge_band(matte, BandWidth.parse("2"))
    assert band[5, 2] and band[:, 18:22].all() and not band[:, 10].all()


@pytest.mark.parametrize("text", ["0", "-3", "abc", "120%", ""])
def test_bad_band_widths(text):
    with pytest.raises(BandSpecError):
        BandWidth.parse(text)


def test_matte_forms():
    rgb_palette = np.zeros((4, 4, 3), np.float32)
    rgb_palette[1:3, 1:3, 0] = 128 / 255  # a DAVIS palette index read as dark red
    assert set(np.unique(matte_from_pixels(rgb_palette))) == {0.0, 1.0}
    soft = np.linspace(0, 1, 16, dtype=np.float32).reshape(4, 4, 1)
    assert np.array_equal(matte_from_pixels(soft), soft[:, :, 0])
    rgba = np.zeros((4, 4, 4), np.float32)
    rgba[..., 3] = 0.25
    rgba[0, 0, 3] = 1.0
    assert matte_from_pixels(rgba, ("R", "G", "B", "A"))[1, 1] == 0.25


def test_a_held_matte_is_shared_and_any_other_is_a_clipped_copy():
    """A read-only float matte within 0..1 (a received one a server holds) is used as it is; one
    that may change, or needs clipping, is copied and the pixels given are left as they were."""
    soft = np.linspace(0, 1, 16, dtype=np.float32).reshape(4, 4, 1)
    soft.flags.writeable = False
    assert np.shares_memory(matte_from_pixels(soft), soft)
    writable = soft.copy()
    copied = matte_from_pixels(writable)
    assert np.array_equal(copied, writable[:, :, 0]) and not np.shares_memory(copied, writable)
    over = np.linspace(-1, 2, 16, dtype=np.float32).reshape(4, 4, 1)
    over.flags.writeable = False
    clipped = matte_from_pixels(over)
    assert clipped.min() == 0.0 and clipped.max() == 1.0 and over.min() == -1.0
    assert matte_from_pixels(np.linspace(0, 1, 16).reshape(4, 4)).dtype == np.float32


def _band_by_whole_frame_distances(matte: np.ndarray, width: BandWidth) -> np.ndarray:
    """The band's definition, computed over the whole frame: the reference the tiled band must equal."""
    from scipy import ndimage

    inside = matte >= 0.5
    soft = (matte > 0.0) & (matte < 1.0)
    if inside.all() or not inside.any():
        return soft
    distance = np.where(
        inside, ndimage.distance_transform_edt(inside), ndimage.distance_transform_edt(~inside)
    )
    return (distance <= width.pixels(inside)) | soft


@pytest.mark.parametrize("width", ["0.5", "1", "3", "12", "12.5", "63", "64", "65", "300", "10%"])
def test_the_band_on_tiles_equals_the_whole_frame_band(width):
    """Mattes larger than a tile, objects at the frame's edges and corners, speckle, soft edges and
    bands narrower and wider than a tile: the band from the tiles near the contour is the band."""
    rng = np.random.default_rng(7)
    yy, xx = np.mgrid[0:301, 0:517]
    mattes = [
        (((yy - 150) ** 2 + (xx - 250) ** 2) < 120**2).astype(np.float32),  # one large disc
        (((yy - 0) ** 2 + (xx - 516) ** 2) < 40**2).astype(np.float32),  # in a corner
        (rng.random(yy.shape) < 0.002).astype(np.float32),  # isolated pixels
        np.clip((xx - 200) / 30.0, 0.0, 1.0).astype(np.float32),  # a soft ramp
        ((xx // 37 + yy // 23) % 2).astype(np.float32),  # a checkerboard of thin blocks
    ]
    band_width = BandWidth.parse(width)
    for matte in mattes:
        assert np.array_equal(edge_band(matte, band_width), _band_by_whole_frame_distances(matte, band_width))


@pytest.mark.parametrize("reach", [0.5, 1.0, 1.5, 2.9, 7.0, 12.0, 15.5, 16.0, 24.0])
def test_distances_within_the_reach_are_scipys_exact_ones(reach):
    """The direct search (up to 16 pixels) and scipy's transform beyond it give the exact
    Euclidean distance to the nearest False pixel wherever it is within the reach, bit for bit, and
    infinity beyond it: on blobs, speckle, thin lines, masks at the array's edges and corners, rows
    and columns without a False pixel, arrays shorter than the reach, and a batch of images."""
    from movingcolor.masks.distance import distance_to_false
    from scipy import ndimage

    rng = np.random.default_rng(11)
    yy, xx = np.mgrid[0:97, 0:131]
    masks = [
        np.hypot(yy - 40, xx - 60) > 25,  # outside a disc: distances grow outwards from it
        np.hypot(yy - 40, xx - 60) <= 35,  # a disc
        rng.random(yy.shape) < 0.97,  # a few scattered False pixels
        (xx % 40 != 7) & (yy != 90),  # thin False lines, one near the bottom edge
        (xx < 120) | (yy > 5),  # False only in the top right corner
        np.ones((3, 200), bool) & (np.arange(200) != 150),  # a short array, one False pixel
        np.ones((200, 2), bool) & (np.arange(200)[:, None] != 3),
        np.zeros((5, 5), bool),
    ]
    for mask in masks:
        exact = ndimage.distance_transform_edt(mask)
        expected = np.where(exact <= reach, exact, np.inf)
        assert np.array_equal(distance_to_false(mask, reach), expected), (mask.shape, reach)
    assert np.array_equal(distance_to_false(np.ones((4, 9), bool), reach), np.full((4, 9), np.inf))
    # A batch of images (the band's windows of one shape) gives each image's own distances.
    batch = np.stack(masks[:5] + [np.ones_like(masks[0])])
    alone = np.stack([distance_to_false(mask, reach) for mask in batch])
    assert np.array_equal(distance_to_false(batch, reach), alone)


def test_a_wide_bands_distances_take_one_transform_over_its_tiles_box(monkeypatch):
    """A band so wide that its tiles' windows overlap many times over (each tile widened by the
    band's width) is found by one transform over the windows' bounding box: the distances are
    computed on about the frame's pixels once, inside and outside, not on five to forty frames'
    worth of overlapping windows; the band is still the whole-frame band."""
    from movingcolor.masks import band as band_module

    yy, xx = np.mgrid[0:270, 0:480]
    matte = (np.hypot(yy - 135, xx - 240) < 110).astype(np.float32)
    given = []
    real = band_module.distance_to_false

    def counted(mask, reach):
        given.append(mask.size)
        return real(mask, reach)

    monkeypatch.setattr(band_module, "distance_to_false", counted)
    for width in ("10%", "25%", "40"):
        given.clear()
        band_width = BandWidth.parse(width)
        assert np.array_equal(edge_band(matte, band_width), _band_by_whole_frame_distances(matte, band_width))
        assert sum(given) <= 2 * matte.size, (width, sum(given) / matte.size)


def test_distances_of_nothing_and_a_reach_that_is_not_one():
    """No pixels give no distances whichever way they are found; a negative or NaN reach is refused,
    naming it."""
    from movingcolor.masks.distance import distance_to_false

    for reach in (10.0, 20.0):
        assert distance_to_false(np.ones((0, 5, 5), bool), reach).shape == (0, 5, 5)
        assert distance_to_false(np.ones((0, 5), bool), reach).shape == (0, 5)
    for reach in (-1.0, float("nan")):
        with pytest.raises(ValueError, match="reach"):
            distance_to_false(np.ones((3, 3), bool), reach)


LOADS_ON_PREPARING = """
import json, sys, threading
from movingcolor.jobs import ShotPlan
from movingcolor.jobs.prepare import FramePreparer
from movingcolor.spec import ShotSpec

plate, matte, out, engine, band, mode = sys.argv[1:7]
given = {"grade": "slope=1.1,1.0,0.9"} if mode == "grade" else {"edited": plate}
# On the CPU: on a GPU the guided filter runs in torch and needs no scipy.
spec = ShotSpec(plate=plate, matte=matte, out=out, engine=engine, band=band, device="cpu", **given)
plan = ShotPlan.files(spec)
before = "scipy.ndimage" in sys.modules
FramePreparer(plan)
for thread in threading.enumerate():
    if thread.name == "movingcolor-import":
        thread.join()
print(json.dumps([before, "scipy.ndimage" in sys.modules]))
"""


@pytest.mark.parametrize(
    "engine, band, mode, loaded",
    [
        ("hard", "12", "grade", False),
        ("feather", "12", "grade", False),
        ("feather", "16", "grade", False),
        ("feather", "17", "grade", True),
        ("feather", "10%", "grade", True),
        ("guided", "12", "grade", True),
        ("feather", "12", "edited", True),
        ("hard", "12", "edited", True),
    ],
)
def test_preparing_a_shot_loads_scipy_before_any_frame_where_it_is_needed(
    demo_inputs, tmp_path, engine, band, mode, loaded
):
    """scipy's ``ndimage`` is imported on a thread of its own once the shot is planned, not on the
    first frame's path, for an engine that filters with it (guided on the CPU), a band that may
    reach beyond the distances found without it (wider than 16 pixels, or a percentage), or a shot
    whose grade is recovered from the host's composite; a hard composite of a grade, and its feather
    over a narrower band, never load it."""
    import json
    import subprocess
    import sys

    plate, matte = demo_inputs
    arguments = [plate, matte, str(tmp_path / "f.####.exr"), engine, band, mode]
    done = subprocess.run(
        [sys.executable, "-c", LOADS_ON_PREPARING, *arguments], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.splitlines()[-1]) == [False, loaded]


def test_a_multi_matte_s_channels_of_other_shapes_are_named_and_a_coloured_roto_s_are_not():
    """A multi-matte (an object per channel) is united into one matte: said, so a compositor who
    meant one object gives its channel; one shape in a colour, or a palette label, is one matte."""
    from movingcolor.frames.matte import channels_of_other_shapes

    rows, columns = np.mgrid[0:40, 0:60]
    circle = np.hypot(rows - 20, columns - 20) < 10
    square = (rows > 5) & (rows < 30) & (columns > 35) & (columns < 55)
    multi = np.zeros((40, 60, 3), np.float32)
    multi[..., 0], multi[..., 1] = circle, square
    assert channels_of_other_shapes(multi, ("R", "G", "B")) == ["R", "G"]
    orange = np.zeros((40, 60, 3), np.float32)
    orange[circle] = (1.0, 0.5, 0.0)
    assert channels_of_other_shapes(orange, ("R", "G", "B")) == []
    grey = np.repeat(circle[..., None], 3, axis=2).astype(np.float32)
    assert channels_of_other_shapes(grey, ("R", "G", "B")) == []
    with_alpha = np.concatenate([multi, circle[..., None].astype(np.float32)], axis=2)
    assert channels_of_other_shapes(with_alpha, ("R", "G", "B", "A")) == []
    assert matte_from_pixels(multi, ("R", "G", "B")).sum() == (circle | square).sum()
