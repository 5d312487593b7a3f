"""The classical engines in torch (the path a GPU takes) agree with the numpy path, edges included.

The torch path runs here on the CPU: the same code runs on a CUDA device, where only the device of
its tensors differs.
"""

from __future__ import annotations

from functools import partial

import numpy as np
import pytest
from movingcolor.engines import FusionFrames
from movingcolor.engines.band_refinement import NUMPY_REFINER, refine_tiles, smoothed_band_alpha
from movingcolor.engines.feather import FeatherEngine
from movingcolor.engines.gaussian import gaussian_blur, gaussian_reach
from movingcolor.engines.guided import GuidedEngine
from movingcolor.engines.guided_filter import refine_matte
from movingcolor.errors import MovingColorError
from movingcolor.frames.image_io import read_pixels
from movingcolor.frames.matte import matte_from_pixels
from movingcolor.jobs import ShotSpec, run_shot
from movingcolor.jobs.demo_shot import DEMO_GRADE
from movingcolor.masks.band import TILE, BandWidth, edge_band, occupied_tiles
from movingcolor.synthetic import generate_shot

torch = pytest.importorskip("torch")
from movingcolor.engines.torch_filters import (  # noqa: E402 (needs torch)
    box_mean,
    compute_device,
    gaussian_blur_on,
    torch_refiner,
)

#: float32 rounding of running sums and of exp in two libraries: far below a half-float step.
TOLERANCE = 1e-5


def _window(width: int, height: int, frames: int = 5, band: str = "9", seed: int = 11) -> FusionFrames:
    shot = generate_shot(width=width, height=height, frames=frames, seed=seed)
    band_width = BandWidth.parse(band)
    return FusionFrames(
        frame_numbers=list(range(frames)),
        outputs=[frames // 2],
        plate=None,
        graded=None,
        edited=None,
        matte=shot.matte,
        band=np.stack([edge_band(m, band_width) for m in shot.matte]),
        plate_display=shot.plate,
        graded_display=None,
        edited_display=None,
        band_pixels=[band_width.pixels(m >= 0.5) for m in shot.matte],
    )


@pytest.mark.parametrize("radius", [1, 6, 25])
def test_box_mean_reflects_edges_as_scipy_does(radius):
    """Radius 25 on a 20x33 image reaches past the image: scipy reflects again, and so does torch."""
    from scipy import ndimage

    image = np.random.default_rng(radius).random((2, 3, 20, 33), dtype=np.float32)
    expected = ndimage.uniform_filter(image, size=(1, 1, 2 * radius + 1, 2 * radius + 1), mode="reflect")
    np.testing.assert_allclose(box_mean(torch.from_numpy(image), radius).numpy(), expected, atol=1e-6)


def test_box_mean_and_the_refinement_agree_with_numpy_on_a_frame_4000_pixels_wide():
    """The box summed a float32 running total along the whole row: its error grew with the row's
    length, 1e-5 at 4,000 pixels, and the refined matte of a wide band's box differed from numpy's
    by 2e-4 there (the small frames above did not show it)."""
    from scipy import ndimage

    rng = np.random.default_rng(11)
    rows = (0.5 + rng.normal(0, 1e-3, (1, 1, 16, 4000))).astype(np.float32)
    exact = ndimage.uniform_filter(rows.astype(np.float64), size=(1, 1, 13, 13), mode="reflect")
    np.testing.assert_allclose(box_mean(torch.from_numpy(rows), 6).numpy(), exact, rtol=0, atol=1e-6)

    height, width = 64, 4000
    yy, xx = np.mgrid[:height, :width].astype(np.float32)
    guide = np.stack(
        [
            0.4 + 0.3 * np.sin(xx / 7) * np.cos(yy / 9),
            0.3 + 0.2 * np.cos((xx - yy) / 11),
            0.2 + 0.1 * np.sin(yy / 5),
        ],
        -1,
    )
    guide = (guide + rng.normal(0, 0.002, guide.shape)).astype(np.float32)
    matte = (yy < height / 2 + 10 * np.sin(xx / 40)).astype(np.float32)
    tiles = occupied_tiles(edge_band(matte, BandWidth(12.0)))
    numpy_tiles = refine_tiles(guide, matte, 12.0, tiles)
    torch_tiles = refine_tiles(guide, matte, 12.0, tiles, refiner=torch_refiner("cpu"))
    assert len(tiles) > 10 and any(0.05 < values.mean() < 0.95 for values in torch_tiles.values())
    for tile in tiles:
        np.testing.assert_allclose(torch_tiles[tile], numpy_tiles[tile], rtol=0, atol=TOLERANCE)


def test_torch_refinement_agrees_with_numpy_on_tiles_at_edges_corners_and_seams():
    """Every tile of a frame whose size is no multiple of the tile, matte edges through its corners,
    its borders and the tiles' seams: each tile's crop is cut at the frame's edges, where both
    paths reflect."""
    rng = np.random.default_rng(3)
    height, width = 2 * TILE + 37, 3 * TILE + 21
    guide = rng.random((height, width, 3), dtype=np.float32)
    rows, cols = np.mgrid[:height, :width]
    matte = ((rows - 5) ** 2 + (cols - width + 9) ** 2 < 60**2).astype(np.float32)  # a corner
    matte[:, TILE - 3 : TILE + 4] = 1.0  # across a seam, to both frame edges
    matte[height - 20 :, : TILE // 2] = 0.4  # soft, at the bottom left corner
    tiles = occupied_tiles(np.ones((height, width), bool))
    for band_pixels in (6.0, 40.0):
        numpy_tiles = refine_tiles(guide, matte, band_pixels, tiles)
        torch_tiles = refine_tiles(guide, matte, band_pixels, tiles, refiner=torch_refiner("cpu"))
        whole = refine_matte(guide, matte, band_pixels)
        for top, left, bottom, right in tiles:
            tile = (top, left, bottom, right)
            np.testing.assert_allclose(torch_tiles[tile], numpy_tiles[tile], rtol=0, atol=TOLERANCE)
            np.testing.assert_allclose(
                torch_tiles[tile], whole[top:bottom, left:right], rtol=0, atol=TOLERANCE
            )
    assert any(0.05 < values.mean() < 0.95 for values in torch_tiles.values())


def test_torch_temporal_average_agrees_with_numpy():
    frames = _window(200, 120)
    tiles = occupied_tiles(frames.band[2])
    refined = [
        refine_tiles(g, m, frames.band_pixels[2], tiles)
        for g, m in zip(frames.plate_display, frames.matte, strict=True)
    ]
    numpy_alpha, torch_alpha = (
        smoothed_band_alpha(
            frames.matte[2], frames.band[2], frames.plate_display, refined, 2, 1.0, 0.04, average
        )
        for average in (NUMPY_REFINER.average, torch_refiner("cpu").average)
    )
    band = frames.band[2]
    assert band.any() and np.abs(numpy_alpha[band] - frames.matte[2][band]).max() > 0.05
    np.testing.assert_allclose(torch_alpha, numpy_alpha, rtol=0, atol=TOLERANCE)
    # Across a gap in the sequence (frames 1000, 1001, 1003, 1004, 1005) a neighbour is weighed by
    # its distance in frames (it was weighed by its place in the window), on both paths alike.
    offsets = [-3, -2, 0, 1, 2]
    numpy_gap, torch_gap = (
        smoothed_band_alpha(
            frames.matte[2], frames.band[2], frames.plate_display, refined, 2, 1.0, 0.04, average, offsets
        )
        for average in (NUMPY_REFINER.average, torch_refiner("cpu").average)
    )
    np.testing.assert_allclose(torch_gap, numpy_gap, rtol=0, atol=TOLERANCE)
    assert np.abs(numpy_gap - numpy_alpha)[band].max() > 1e-3
    consecutive = smoothed_band_alpha(
        frames.matte[2], frames.band[2], frames.plate_display, refined, 2, 1.0, 0.04,
        NUMPY_REFINER.average, [-2, -1, 0, 1, 2],
    )  # fmt: skip
    np.testing.assert_array_equal(consecutive, numpy_alpha)


@pytest.mark.parametrize(
    "engine",
    # The guided engine's edge contrast (the same numpy code on both paths) would only scale the
    # float32 rounding it is given.
    [partial(GuidedEngine, edge_contrast=1.0), GuidedEngine, FeatherEngine],
    ids=["guided-filter", "guided", "feather"],
)
def test_engines_on_a_torch_device_decide_what_numpy_decides(engine):
    frames = _window(300, 170, band="12")
    on_numpy, on_torch = engine().fuse(frames).alpha, engine(device="cpu").fuse(frames).alpha
    contrast = getattr(engine(), "edge_contrast", 1.0)
    band = frames.band[frames.center]
    assert np.abs(on_numpy[band] - frames.matte[frames.center][band]).max() > 0.05
    np.testing.assert_allclose(on_torch, on_numpy, rtol=0, atol=contrast * TOLERANCE)


def test_gaussian_blur_is_scipys_with_edges_repeated():
    from scipy import ndimage

    crops = np.random.default_rng(2).random((3, 30, 41), dtype=np.float32)
    for sigma in (0.5, 4.0, 9.0):  # the widest reaches past the crop
        expected = ndimage.gaussian_filter(crops, sigma=(0, sigma, sigma), mode="nearest", truncate=4.0)
        np.testing.assert_allclose(gaussian_blur_on(crops, sigma, 4.0, "cpu"), expected, rtol=0, atol=1e-6)


def test_a_shot_fused_by_torch_is_the_numpy_shot_and_the_hard_composite_outside_the_band(
    demo_inputs, tmp_path
):
    plate, matte = demo_inputs
    written = {}
    for label, engine in (("numpy", GuidedEngine()), ("torch", GuidedEngine(device="cpu")), ("hard", None)):
        spec = ShotSpec(
            plate=plate,
            matte=matte,
            grade=DEMO_GRADE,
            engine="hard" if engine is None else "guided",
            band="10",
            out=str(tmp_path / label / "f.####.exr"),
            exr_type="float",
        )
        written[label] = [read_pixels(path) for path in run_shot(spec, engine=engine).written]
    for number, (numpy_frame, torch_frame, hard) in enumerate(
        zip(written["numpy"], written["torch"], written["hard"], strict=True)
    ):
        pixels = read_pixels(matte.replace("####", f"{1001 + number:04d}"))
        band = edge_band(matte_from_pixels(pixels), BandWidth.parse("10"))
        assert band.any() and not np.array_equal(torch_frame[band], hard[band])
        np.testing.assert_array_equal(torch_frame[~band], hard[~band])
        np.testing.assert_allclose(torch_frame, numpy_frame, rtol=0, atol=1e-4)


def test_the_device_setting_chooses_numpy_on_a_cpu_and_refuses_a_missing_gpu():
    assert compute_device("cpu") is None
    assert compute_device(None) is None
    if torch.cuda.is_available():
        assert compute_device("auto") == f"cuda:{torch.cuda.current_device()}"
        return
    assert compute_device("auto") is None  # no GPU: numpy, without importing torch for it
    with pytest.raises(MovingColorError, match="no CUDA GPU"):
        compute_device("cuda")
    with pytest.raises(MovingColorError, match="use auto, cpu or cuda"):
        compute_device("tpu")


def test_one_gpu_has_one_name(monkeypatch):
    """``cuda`` and ``cuda:0`` were two device queues of a server for one GPU (its --slots doubled,
    the network loaded twice); ``cuda:00`` passed the check and failed later inside torch. Shown
    with a stand-in of one CUDA GPU, so it runs on any machine."""
    from movingcolor.model.device import resolve_device

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "current_device", lambda: 0)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    assert {resolve_device(d) for d in ("auto", "cuda", "cuda:0")} == {"cuda:0"}
    assert compute_device("cuda") == compute_device("auto") == "cuda:0"
    assert resolve_device("cpu") == "cpu"
    with pytest.raises(MovingColorError, match="this machine has 1 CUDA GPU"):
        resolve_device("cuda:1")
    with pytest.raises(MovingColorError, match="is not a GPU's name"):
        resolve_device("cuda:00")


def test_fuse_with_a_classical_engine_on_a_missing_gpu_says_so(demo_inputs, tmp_path):
    if torch.cuda.is_available():
        pytest.skip("this machine has a CUDA GPU")
    from movingcolor.cli.main import main

    plate, matte = demo_inputs
    out = tmp_path / "f.####.exr"
    argv = ["fuse", "--plate", plate, "--matte", matte, "--grade", DEMO_GRADE, "--engine", "guided"]
    assert main([*argv, "--device", "cuda", "--out", str(out)]) != 0
    assert not list(tmp_path.iterdir())


def test_a_server_runs_classical_engines_with_numpy_on_a_cpu_and_refuses_a_missing_gpu():
    from movingcolor.service.engines import EnginePool

    pool = EnginePool("auto")
    guided, device = pool.engine_for("guided")
    feather, _ = pool.engine_for("feather", device="cpu")
    assert device == "cpu" and guided.device is None and feather.device is None
    if not torch.cuda.is_available():
        with pytest.raises(MovingColorError, match="no CUDA GPU"):
            pool.engine_for("guided", device="cuda")


def test_the_torch_gaussian_keeps_a_plateau_to_the_bit_and_never_convolves(monkeypatch):
    """A matte of 1 blurred in float32 came out 0.99999994, where the composite then blends instead
    of copying; and cuDNN convolves float32 in TF32 on recent GPUs (2e-4 off numpy's blur), so the
    blur is summed in double precision without a convolution."""
    import torch.nn.functional as F

    def no_convolution(*args, **kwargs):
        raise AssertionError("a convolution: TF32 on a GPU")

    monkeypatch.setattr(F, "conv2d", no_convolution)
    crops = np.zeros((2, 60, 70), np.float32)
    crops[:, :, 35:] = 1.0
    for sigma in (1.5, 4.0, 7.3):
        blurred = gaussian_blur_on(crops, sigma, 4.0, "cpu")
        assert (blurred[:, :, 35 + gaussian_reach(sigma, 4.0) :] == 1.0).all()
        assert (blurred[:, :, : 35 - gaussian_reach(sigma, 4.0)] == 0.0).all()
        np.testing.assert_allclose(blurred, gaussian_blur(crops, sigma, 4.0), rtol=0, atol=1e-7)
