"""Every registered engine, run through the real shot runner on a generated shot."""

from __future__ import annotations

import numpy as np
import pytest
from movingcolor.color.config import ColorConfig, apply_processor
from movingcolor.color.grade import parse_grade
from movingcolor.engines import engine_names
from movingcolor.engines.registry import create_engine
from movingcolor.errors import UnknownEngineError
from movingcolor.frames.image_io import read_pixels, write_image
from movingcolor.frames.matte import matte_from_pixels
from movingcolor.jobs import ShotSpec, run_shot
from movingcolor.jobs.demo_shot import DEMO_GRADE
from movingcolor.masks.band import BandWidth, edge_band

BAND = "10"


@pytest.fixture(scope="module")
def fused(demo_inputs, tmp_path_factory) -> dict[str, list[np.ndarray]]:
    plate, matte = demo_inputs
    return _fuse_with(engine_names(), plate, matte, BAND, tmp_path_factory.mktemp("fused"))


def _fuse_with(names, plate: str, matte: str, band: str, folder) -> dict[str, list[np.ndarray]]:
    """Each engine's frames of the shot, fused with the demo grade as float EXRs and read back."""
    results = {}
    for name in names:
        report = run_shot(
            ShotSpec(
                plate=plate,
                matte=matte,
                grade=DEMO_GRADE,
                engine=name,
                band=band,
                out=str(folder / name / "f.####.exr"),
                exr_type="float",
            )
        )
        results[name] = [read_pixels(p) for p in report.written]
    return results


@pytest.fixture(scope="module")
def bands(demo_inputs) -> list[np.ndarray]:
    matte_pattern = demo_inputs[1]
    return [
        edge_band(
            matte_from_pixels(read_pixels(matte_pattern.replace("####", f"{n:04d}"))), BandWidth.parse(BAND)
        )
        for n in range(1001, 1009)
    ]


@pytest.mark.parametrize("name", ["hard", "feather", "guided"])
def test_outside_band_is_bit_exact_hard_composite(fused, bands, name):
    for frame, hard, band in zip(fused[name], fused["hard"], bands, strict=True):
        assert band.any()
        assert np.array_equal(frame[~band], hard[~band])


def _large_shot(folder, width: int, height: int, frames: int = 2) -> tuple[str, str]:
    """A plate with edges of every direction (smooth colour waves) and a moving ellipse matte, made
    directly at ``width`` x ``height``: the procedural shot generator takes minutes at 4K."""
    rows, cols = np.mgrid[0:height, 0:width].astype(np.float32)
    for index in range(frames):
        shift = 9.0 * index
        plate = np.stack(
            [
                0.4 + 0.3 * np.sin((cols + shift) / 37.0) * np.cos(rows / 53.0),
                0.3 + 0.2 * np.cos((cols - rows + shift) / 41.0),
                0.2 + 0.15 * np.sin(rows / 29.0 + cols / 71.0),
            ],
            axis=-1,
        )
        inside = ((cols - width * 0.45 - shift) / (width * 0.22)) ** 2 + (
            (rows - height * 0.5) / (height * 0.3)
        ) ** 2
        write_image(folder / f"plate.{1001 + index}.exr", plate.astype(np.float32))
        write_image(
            folder / f"matte.{1001 + index}.png",
            (inside < 1.0).astype(np.float32)[..., None],
            channels=("Y",),
        )
    return str(folder / "plate.####.exr"), str(folder / "matte.####.png")


@pytest.mark.parametrize("width, height", [(1920, 1080), (4096, 2160)], ids=["1080p", "4K"])
def test_outside_band_is_bit_exact_at_production_sizes(tmp_path, width, height):
    # At artists' sizes the work is split (colour conversions in chunks, band tiles in parts on
    # every core); what is split must still leave every pixel outside the band the hard
    # composite's, bit for bit.
    plate, matte = _large_shot(tmp_path, width, height)
    fused = _fuse_with(("hard", "feather", "guided"), plate, matte, "12px", tmp_path)
    for number, hard in enumerate(fused["hard"]):
        band = edge_band(
            matte_from_pixels(read_pixels(matte.replace("####", f"{1001 + number:04d}"))),
            BandWidth.parse("12px"),
        )
        assert band.any() and not band.all()
        for name in ("feather", "guided"):
            frame = fused[name][number]
            assert np.array_equal(frame[~band], hard[~band]), name
            assert not np.array_equal(frame[band], hard[band]), name  # the engine did work in the band


def test_every_registered_engine_keeps_the_contract(fused, bands):
    for name, frames in fused.items():
        for frame, hard, band in zip(frames, fused["hard"], bands, strict=True):
            assert np.array_equal(frame[~band], hard[~band]), name


def test_hard_engine_is_the_plain_composite(demo_inputs, fused):
    config = ColorConfig()
    plate, matte = demo_inputs
    grade = parse_grade(DEMO_GRADE, config).processor(config, "ACEScg", "ACEScg", "ACEScg")
    image = read_pixels(plate.replace("####", "1003"))
    alpha = matte_from_pixels(read_pixels(matte.replace("####", "1003")))[..., None]
    expected = alpha * apply_processor(grade, image) + (1 - alpha) * image
    assert np.allclose(fused["hard"][2], expected, atol=1e-5)


def test_refining_engines_beat_the_hard_composite_against_ground_truth(fused, bands, demo_truth):
    """The generator knows the true soft alpha: the truth is its composite."""
    errors = {name: [] for name in fused}
    for index, band in enumerate(bands):
        truth = demo_truth[index]
        for name, frames in fused.items():
            errors[name].append(np.abs(frames[index][band] - truth[band]).mean())
    error = {name: float(np.mean(e)) for name, e in errors.items()}
    # Guided refinement snaps the coarse matte to the object's edges.
    assert error["guided"] < 0.85 * error["hard"], error
    # Feathering hides the step but smears a misplaced matte: no better than hard here.
    assert error["feather"] > error["guided"], error


def test_unknown_engine_lists_the_known_ones():
    with pytest.raises(UnknownEngineError, match="guided"):
        create_engine("nope")


def test_guided_on_band_tiles_is_the_whole_frame_guided_filter():
    """The guided engine filters only the tiles holding band pixels, each with the filter's reach as
    margin: in the band its matte is what filtering whole frames gives, at the frame's edges too."""
    from movingcolor.engines import FusionFrames
    from movingcolor.engines.guided import GuidedEngine
    from movingcolor.engines.guided_filter import guided_mattes
    from movingcolor.synthetic import generate_shot

    shot = generate_shot(width=300, height=170, frames=5, seed=11)
    width = BandWidth.parse("9")
    bands = np.stack([edge_band(m, width) for m in shot.matte])
    band_pixels = [width.pixels(m >= 0.5) for m in shot.matte]
    whole = guided_mattes(shot.plate, shot.matte, band_pixels)
    frames = FusionFrames(
        frame_numbers=list(range(5)),
        outputs=[2],
        plate=None,
        graded=None,
        edited=None,
        matte=shot.matte,
        band=bands,
        plate_display=shot.plate,
        graded_display=None,
        edited_display=None,
        band_pixels=band_pixels,
    )
    alpha = GuidedEngine(edge_contrast=1.0).fuse(frames).alpha
    assert bands[2].any()
    np.testing.assert_allclose(alpha[bands[2]], whole[2][bands[2]], rtol=0, atol=1e-6)
    # The engine's edge: the same refinement, its ramp steepened about 0.5 in the band.
    crisp = GuidedEngine().fuse(frames).alpha
    expected = np.clip((whole[2] - 0.5) * 4.0 + 0.5, 0.0, 1.0)
    np.testing.assert_allclose(crisp[bands[2]], expected[bands[2]], rtol=0, atol=4e-6)
    ramp = (whole[2] > 0.05) & (whole[2] < 0.95) & bands[2]
    steep = (crisp > 0.05) & (crisp < 0.95) & bands[2]
    assert ramp.sum() > 2 * steep.sum() > 0


def test_a_frame_stack_indexes_as_the_stacked_array_does():
    """A window's frames without the copy: every indexing an engine uses gives what indexing the
    stacked array gives, and a single frame is the frame itself."""
    from movingcolor.engines.frame_stack import FrameStack

    frames = [np.random.default_rng(seed).random((7, 9, 3), dtype=np.float32) for seed in range(5)]
    stack, stacked = FrameStack(frames), np.stack(frames)
    assert stack.shape == stacked.shape and stack.ndim == 4 and len(stack) == 5
    assert stack[2] is frames[2]
    for key in [
        (slice(None), slice(1, 4), slice(2, 8)),
        (slice(1, 3), 2),
        (3, slice(0, 2)),
        (slice(None), 0, 0, 1),
    ]:
        np.testing.assert_array_equal(stack[key], stacked[key])
    for key in [slice(1, 4), slice(None, None, 2), [0, 3]]:
        np.testing.assert_array_equal(np.asarray(stack[key]), stacked[key])
    np.testing.assert_array_equal(np.asarray(stack), stacked)
    assert [frame is original for frame, original in zip(stack, frames, strict=True)] == [True] * 5


def _record_filtered_tiles(monkeypatch) -> list:
    """The tiles the band refinement filters from now on (the filter still runs)."""
    import movingcolor.engines.band_refinement as band_refinement

    filtered = []
    real_filter = band_refinement.filter_tiles

    def recording_filter(function, images, chosen, margin, **options):
        filtered.extend(chosen)
        return real_filter(function, images, chosen, margin, **options)

    monkeypatch.setattr(band_refinement, "filter_tiles", recording_filter)
    return filtered


def test_tiles_where_the_matte_is_flat_over_the_filters_reach_are_not_filtered(monkeypatch):
    """A neighbour's tiles that the temporal average reads far from its own edge, where its matte is
    0 or 1 over the filter's whole reach, are that value bit for bit as filtering the whole frame
    gives, without running the filter on them."""
    import movingcolor.engines.band_refinement as band_refinement
    from movingcolor.engines.guided_filter import refine_matte
    from movingcolor.masks.band import TILE

    rng = np.random.default_rng(5)
    guide = rng.random((4 * TILE, 5 * TILE, 3), dtype=np.float32)
    matte = np.zeros((4 * TILE, 5 * TILE), np.float32)
    matte[TILE + 20 :, 2 * TILE + 10 :] = 1.0  # an edge through tiles (1..3, 2..4)
    tiles = [(r * TILE, c * TILE, (r + 1) * TILE, (c + 1) * TILE) for r in range(4) for c in range(5)]
    filtered = _record_filtered_tiles(monkeypatch)
    refined = band_refinement.refine_tiles(guide, matte, 12.0, tiles)
    whole = refine_matte(guide, matte, 12.0)
    for top, left, bottom, right in tiles:
        np.testing.assert_array_equal(refined[(top, left, bottom, right)], whole[top:bottom, left:right])
    flat = {(0, 0, TILE, TILE), (3 * TILE, 4 * TILE, 4 * TILE, 5 * TILE), (0, 4 * TILE, TILE, 5 * TILE)}
    assert filtered and not flat & set(filtered)
    assert {tile for tile in tiles if tile not in filtered} >= flat
    assert (0, 0, TILE, TILE) in refined and refined[(0, 0, TILE, TILE)].max() == 0.0
    assert refined[(3 * TILE, 4 * TILE, 4 * TILE, 5 * TILE)].min() == 1.0


def test_a_whole_frame_refined_by_tiles_equals_it_refined_whole(monkeypatch):
    """The network's guided start on a crop along the band: the frame (not a multiple of the tile)
    refined only on the squares where its matte varies within the filter's reach, bit for bit the
    whole frame's refinement."""
    import movingcolor.engines.band_refinement as band_refinement
    from movingcolor.engines.guided_filter import refine_matte

    rng = np.random.default_rng(9)
    height, width = 150, 217
    rows, cols = np.mgrid[0:height, 0:width]
    guide = (rng.random((height, width, 3)) * 0.2).astype(np.float32)
    guide += 0.5 * (cols + 0.3 * rows > 120)[..., None]
    matte = (cols + 0.3 * rows + 3 * np.sin(rows / 9) > 118).astype(np.float32)
    filtered = _record_filtered_tiles(monkeypatch)
    refined = band_refinement.refine_by_tiles(guide, matte, 8.0)
    np.testing.assert_array_equal(refined, refine_matte(guide, matte, 8.0))
    tiles = -(-height // band_refinement.FRAME_TILE) * -(-width // band_refinement.FRAME_TILE)
    assert 0 < len(filtered) < tiles / 2


def test_a_frame_left_out_of_the_temporal_average_keeps_the_others_distances():
    """A frame without a band is left out of the average over time; the frame beyond it is still
    two frames away, not weighed as the next one (a first version weighed it so)."""
    from movingcolor.engines.guided_filter import (
        CHANGE_SIGMA,
        TEMPORAL_SIGMA,
        smooth_over_time,
        temporal_average,
    )

    guides = np.full((5, 4, 4, 3), 0.5, np.float32)
    refined = [np.full((4, 4), value, np.float32) for value in (0.0, 0.0, 0.0, 0.7, 1.0)]
    smoothed = smooth_over_time(refined, guides, has_band=[True, True, True, False, True])
    kept = [refined[t] for t in (0, 1, 2, 4)]
    expected = temporal_average(kept, guides[[0, 1, 2, 4]], 2, TEMPORAL_SIGMA, CHANGE_SIGMA, [-2, -1, 0, 2])
    assert np.array_equal(smoothed[2], expected)
    as_next = temporal_average(kept, guides[[0, 1, 2, 4]], 2, TEMPORAL_SIGMA, CHANGE_SIGMA)
    assert not np.allclose(smoothed[2], as_next)


@pytest.mark.parametrize("sigma", [0.5, 1.7, 4.0, 21.0])
def test_the_feathers_blur_is_scipys_gaussian_with_edges_repeated(sigma, monkeypatch):
    """The feather blurs by products with matrices of the Gaussian's weights: scipy's kernel, the
    edge pixel repeated, on crops wider and narrower than the kernel, a plateau kept exactly, and
    the same a few crops at a time as all at once."""
    from movingcolor.engines import gaussian
    from movingcolor.engines.feather import TRUNCATE
    from scipy import ndimage

    rng = np.random.default_rng(5)
    for shape in [(3, 96, 96), (2, 7, 130), (1, 200, 5)]:
        crops = (rng.random(shape) < 0.5).astype(np.float32)
        expected = ndimage.gaussian_filter(crops, sigma=(0, sigma, sigma), mode="nearest", truncate=TRUNCATE)
        blurred = gaussian.gaussian_blur(crops, sigma, TRUNCATE)
        assert blurred.shape == crops.shape and blurred.dtype == np.float32
        np.testing.assert_allclose(blurred, expected, rtol=0, atol=1e-5)
    # A plateau keeps its value to the bit, as scipy's does: the composite copies the graded plate
    # where the blurred matte is 1 and blends where it is below.
    plateau = np.ones((2, 40, 50), np.float32)
    assert np.array_equal(gaussian.gaussian_blur(plateau, sigma, TRUNCATE), plateau)
    many = (rng.random((7, 30, 40)) < 0.5).astype(np.float32)
    whole = gaussian.gaussian_blur(many, sigma, TRUNCATE)
    monkeypatch.setattr(gaussian, "BATCH_BYTES", 2 * 30 * 40 * 8)  # two crops at a time
    # Within rounding, not to the bit: the BLAS may sum a smaller product in another order.
    np.testing.assert_allclose(gaussian.gaussian_blur(many, sigma, TRUNCATE), whole, rtol=0, atol=1e-7)


def test_a_wide_bands_filters_run_once_over_the_box_of_its_tiles(monkeypatch):
    """A band wide enough that its tiles' crops (each widened by the filter's reach) overlap many
    times over is filtered once, over the box holding them all, for the guided refinement and the
    feather's blur alike: the same pixels as the whole frame's filter (the refinement to the bit),
    at about the box's cost instead of gigabytes of crops at 4K."""
    import movingcolor.engines.band_refinement as band_refinement
    from movingcolor.engines.feather import TRUNCATE
    from movingcolor.engines.gaussian import gaussian_blur, gaussian_reach
    from movingcolor.engines.guided_filter import refine_matte
    from movingcolor.masks.band import BandWidth, edge_band, occupied_tiles
    from scipy import ndimage

    height, width = 270, 480
    rows, cols = np.mgrid[0:height, 0:width]
    matte = (np.hypot(rows - 135, cols - 240) < 100).astype(np.float32)
    rng = np.random.default_rng(3)
    guide = np.clip(rng.random((height, width, 3), dtype=np.float32) * 0.2 + 0.6 * matte[..., None], 0, 1)
    pixels = 60.0
    tiles = occupied_tiles(edge_band(matte, BandWidth(pixels)))
    crops = []
    # As on two cores (CI's): with many more, this band's crops are filtered a core each.
    monkeypatch.setattr(band_refinement, "usable_cores", lambda: 2)

    def counted(function):
        def run(*batches):
            crops.append(batches[0].shape)
            return function(*batches)

        return run

    refiner = band_refinement.Refiner(counted(band_refinement.NUMPY_REFINER.refine), None, split=True)
    refined = band_refinement.refine_tiles(guide, matte, pixels, tiles, refiner=refiner)
    whole = refine_matte(guide, matte, pixels)
    for top, left, bottom, right in tiles:
        np.testing.assert_array_equal(refined[(top, left, bottom, right)], whole[top:bottom, left:right])
    assert len(crops) == 1 and crops[0][0] == 1 and crops[0][1] * crops[0][2] <= height * width
    crops.clear()
    sigma = pixels / 3
    blurred = band_refinement.filter_tiles(
        counted(lambda batch: gaussian_blur(batch, sigma, TRUNCATE)),
        (matte,),
        tiles,
        margin=gaussian_reach(sigma, TRUNCATE),
        split=False,
    )
    expected = ndimage.gaussian_filter(matte, sigma, mode="nearest", truncate=TRUNCATE)
    for (top, left, bottom, right), values in blurred.items():
        np.testing.assert_allclose(values, expected[top:bottom, left:right], rtol=0, atol=1e-6)
        assert values.base is None or values.base.size == values.size  # its own copy, not the box's
    assert len(crops) == 1 and crops[0][0] == 1


def test_a_wide_moving_bands_next_windows_find_its_tiles_refined_with_the_box(monkeypatch):
    """Each window asks a frame for its own target's band tiles; a wide band's are refined as their
    box, and the next target's band, a few pixels on, lay its new tiles at that box's edge, out of
    its reach: each window filtered nearly a frame's box again. The tiles around a box's are kept
    with it, so the next windows' targets find theirs, the same pixels as the whole frame's."""
    import movingcolor.engines.band_refinement as band_refinement
    from movingcolor.engines.guided_filter import refine_matte
    from movingcolor.masks.band import BandWidth, edge_band, occupied_tiles

    height, width = 270, 480
    rows, cols = np.mgrid[0:height, 0:width]
    rng = np.random.default_rng(3)
    calls = []

    def counted(*batches):
        calls.append(batches[0].shape)
        return band_refinement.NUMPY_REFINER.refine(*batches)

    pixels = 60.0
    # As on two cores (CI's): with more, this band's windows are filtered as crops, a core each.
    monkeypatch.setattr(band_refinement, "usable_cores", lambda: 2)
    refinements = band_refinement.TileRefinements(
        capacity=4, refiner=band_refinement.Refiner(counted, None, split=True)
    )
    matte = (np.hypot(rows - 135, cols - 200) < 90).astype(np.float32)
    guide = np.clip(rng.random((height, width, 3), dtype=np.float32) * 0.2 + 0.6 * matte[..., None], 0, 1)
    whole = refine_matte(guide, matte, pixels)
    # The targets' bands of the windows that read this frame, its object moving 6 px a frame.
    for step in range(-2, 3):
        target = (np.hypot(rows - 135, cols - 200 - 6 * step) < 90).astype(np.float32)
        tiles = occupied_tiles(edge_band(target, BandWidth(pixels)))
        for tile, values in refinements.tiles("frame", guide, matte, pixels, tiles).items():
            top, left, bottom, right = tile
            np.testing.assert_array_equal(values, whole[top:bottom, left:right])
    assert len(calls) == 1  # before, a second box for the later windows' new tiles


@pytest.mark.parametrize("split", [True, False], ids=["numpy on every core", "a whole batch (torch)"])
def test_only_a_wide_bands_tiles_are_refined_with_the_tiles_around_them(split, monkeypatch):
    """The ring of tiles is for a wide band, whose tiles are filtered as one box: a narrow band's
    neighbouring tiles overlap a little, and where batches are filtered whole (torch) that made
    the box cheaper than the crops, but not worth refining three times the tiles."""
    import movingcolor.engines.band_refinement as band_refinement
    from movingcolor.masks.band import BandWidth, edge_band, occupied_tiles

    rows, cols = np.mgrid[0:270, 0:480]
    matte = (np.hypot(rows - 135, cols - 240) < 100).astype(np.float32)
    monkeypatch.setattr(band_refinement, "usable_cores", lambda: 2)  # as on CI's two cores
    refiner = band_refinement.Refiner(band_refinement.NUMPY_REFINER.refine, None, split=split)
    refinements = band_refinement.TileRefinements(capacity=4, refiner=refiner)
    for pixels, ringed in ((12.0, False), (60.0, True)):
        tiles = occupied_tiles(edge_band(matte, BandWidth(pixels)))
        assert bool(refinements._neighbours_on_its_box(matte.shape, pixels, tiles, {})) == ringed, pixels


def test_the_tiles_beside_a_set_of_tiles_are_those_of_the_grid_around_them():
    from movingcolor.masks.band import TILE, neighbouring_tiles, occupied_tiles

    mask = np.zeros((200, 300), bool)
    mask[70, 140] = True  # one tile, row 1, column 2
    mask[199, 299] = True  # the frame's corner tile, cut to the frame
    tiles = occupied_tiles(mask)
    ring = neighbouring_tiles(tiles, mask.shape)
    grid = {(top // TILE, left // TILE) for top, left, _, _ in ring}
    assert grid == {(r, c) for r in (0, 1, 2) for c in (1, 2, 3)} - {(1, 2)} | {(2, 4), (3, 3)} - {(3, 4)}
    assert (192, 256, 200, 300) not in ring and (128, 256, 192, 300) in ring  # cut to the frame
    assert neighbouring_tiles([], mask.shape) == []


def test_which_tiles_the_matte_is_constant_around_is_found_alike_for_any_reach():
    """A tile whose widened window holds only 0 (or only 1) is that value; any other (soft, mixed,
    NaN) is filtered. Counted from summed-area tables where the windows overlap many times over,
    from each window's minimum and maximum otherwise: the same answer."""
    from movingcolor.engines import band_refinement

    rows, cols = np.mgrid[0:300, 0:520]
    matte = (np.hypot(rows - 150, cols - 260) < 90).astype(np.float32)
    matte[10:14, 20:90] = 0.5
    matte[290, 510] = np.nan
    tiles = [(r, c, min(r + 64, 300), min(c + 64, 520)) for r in range(0, 300, 64) for c in range(0, 520, 64)]
    for margin in (3, 25, 90, 400):
        expected = [band_refinement._constant_in(matte[tile_window]) for tile_window in
                    (band_refinement.tile_reach(tile, margin, matte.shape) for tile in tiles)]  # fmt: skip
        assert band_refinement._constant_over(matte, tiles, margin) == expected, margin
    assert None in expected and 0.0 in band_refinement._constant_over(matte, tiles, 3)


def test_a_gaussian_of_no_width_leaves_the_image_and_a_large_matrix_is_not_kept():
    """Sigma 0 blurs nothing, as scipy's filter; a matrix for a side past the cached size (a wide
    band's box) is made for its call and not kept between frames."""
    from movingcolor.engines import gaussian

    crops = np.random.default_rng(1).random((2, 9, 11)).astype(np.float32)
    assert np.array_equal(gaussian.gaussian_blur(crops, 0.0, 4.0), crops)
    gaussian._kept_gaussian_matrix.cache_clear()
    gaussian.gaussian_blur(np.zeros((1, 8, gaussian.CACHED_SIZE + 1), np.float32), 2.0, 4.0)
    assert gaussian._kept_gaussian_matrix.cache_info().currsize == 1  # the 8-pixel side only


FUSES_WITHOUT_SCIPY = """
import sys
from movingcolor.jobs import ShotSpec, run_shot

plate, matte, out = sys.argv[1:4]
run_shot(ShotSpec(plate=plate, matte=matte, out=out, grade="slope=1.1,1.0,0.9", engine="feather", band="12"))
print(sorted(name for name in sys.modules if name.split(".")[0] == "scipy"))
"""


def test_a_feathered_shot_with_a_narrow_band_never_imports_scipy(demo_inputs, tmp_path):
    """A quarter second of a short shot's start: the band's distances and the blur are numpy's."""
    import subprocess
    import sys

    plate, matte = demo_inputs
    done = subprocess.run(
        [sys.executable, "-c", FUSES_WITHOUT_SCIPY, plate, matte, str(tmp_path / "f.####.exr")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "[]"
    assert len(list(tmp_path.glob("f.*.exr"))) > 1
