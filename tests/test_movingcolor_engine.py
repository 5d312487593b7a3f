"""The learned engine end to end through the shot runner, with seeded random weights.

These weights are for testing the machinery only; they are not a model.
"""

from __future__ import annotations

import json
from dataclasses import replace as dataclasses_replace
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from conftest import live_heads, output_files, run_cli  # noqa: E402
from movingcolor.color.config import ColorConfig  # noqa: E402
from movingcolor.engines import FusionFrames  # noqa: E402
from movingcolor.engines.band_crops import CROP, FINEST_SCALE, MARGIN  # noqa: E402
from movingcolor.engines.movingcolor import MovingColorEngine, working_shape  # noqa: E402
from movingcolor.frames.image_io import read_pixels, write_image  # noqa: E402
from movingcolor.jobs.demo_shot import DEMO_GRADE  # noqa: E402
from movingcolor.masks.band import BandWidth, edge_band  # noqa: E402
from movingcolor.model.channels import MATTE  # noqa: E402
from movingcolor.model.checkpoint import save_checkpoint  # noqa: E402
from movingcolor.model.registry import create_network  # noqa: E402
from scipy import ndimage  # noqa: E402


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    folder = tmp_path_factory.mktemp("models") / "tiny-random"
    # Heads that change the matte by more than the edge's contrast curve takes back (crisp_edge).
    return save_checkpoint(
        live_heads(create_network("tiny", seed=0), scale=1.0), folder, "tiny-random", "# test weights\n"
    )


def _fuse(plate, matte, out, model, frames=None, *extra):
    args = [
        "fuse",
        "--plate",
        plate,
        "--matte",
        matte,
        "--grade",
        DEMO_GRADE,
        "--engine",
        "movingcolor",
        "--model",
        model,
        "--device",
        "cpu",
        "--exr-type",
        "float",
        "--out",
        out,
        *extra,
    ]
    if frames:
        args += ["--frames", frames]
    assert run_cli(*args) == 0


def test_same_frames_whatever_the_chunking(demo_inputs, tiny_model, tmp_path):
    plate, matte = demo_inputs
    _fuse(plate, matte, tmp_path / "whole" / "f.####.exr", tiny_model)
    for chunk in ("1001-1003", "1004-1006", "1007-1008"):
        _fuse(plate, matte, tmp_path / "chunks" / "f.####.exr", tiny_model, chunk)
    whole, chunks = output_files(tmp_path / "whole"), output_files(tmp_path / "chunks")
    assert [p.name for p in whole] == [p.name for p in chunks] and len(whole) == 8
    for a, b in zip(whole, chunks, strict=True):
        assert np.array_equal(read_pixels(a), read_pixels(b)), a.name
    # And the random network did change the band (the test is not vacuous).
    run_cli(
        "fuse",
        "--plate",
        plate,
        "--matte",
        matte,
        "--grade",
        DEMO_GRADE,
        "--engine",
        "hard",
        "--exr-type",
        "float",
        "--out",
        tmp_path / "hard" / "f.####.exr",
    )
    hard = read_pixels(tmp_path / "hard" / "f.1004.exr")
    assert not np.array_equal(hard, read_pixels(tmp_path / "whole" / "f.1004.exr"))


def test_a_frame_whose_matte_is_empty_fuses_as_the_plate(demo_inputs, tiny_model, tmp_path):
    """The object leaves the shot (or the roto is off) for one frame of a window: that frame has no
    edge to steady or fuse and comes back as the hard composite, the plate; its neighbours are
    still fused. The steadied matte once failed the whole shot on it."""
    import shutil

    plate, matte = demo_inputs
    mattes = tmp_path / "mattes"
    shutil.copytree(Path(matte).parent, mattes)
    empty = mattes / Path(matte.replace("####", "1004")).name
    write_image(empty, np.zeros_like(read_pixels(empty)), channels=("Y",))
    pattern = str(mattes / Path(matte).name)
    _fuse(plate, pattern, tmp_path / "net" / "f.####.exr", tiny_model)
    hard = tmp_path / "hard" / "f.####.exr"
    args = ("fuse", "--plate", plate, "--matte", pattern, "--grade", DEMO_GRADE, "--engine", "hard")
    assert run_cli(*args, "--exr-type", "float", "--out", hard) == 0
    fused = {path.name: read_pixels(path) for path in output_files(tmp_path / "net")}
    composites = {path.name: read_pixels(path) for path in output_files(tmp_path / "hard")}
    assert sorted(fused) == sorted(composites) and len(fused) == 8
    assert np.array_equal(fused["f.1004.exr"], composites["f.1004.exr"])
    assert not np.array_equal(fused["f.1003.exr"], composites["f.1003.exr"])


def test_a_model_that_reads_the_coarse_matte_is_given_it(demo_inputs, tmp_path):
    """A model with the coarse matte as an input of its own fuses as the same model without it
    while that input's weights are zero, and differently in the band once they are not."""
    narrow = live_heads(create_network("tiny", seed=0, matte_start="guided"), scale=1.0)
    wide = create_network("tiny", seed=0, matte_start="guided", coarse_matte_input=True)
    weights = narrow.state_dict()
    stem = "encoder.layers.0.0.weight"
    weights[stem] = torch.cat([weights[stem], torch.zeros_like(weights[stem][:, :1])], dim=1)
    wide.load_state_dict(weights)
    models = {"narrow": narrow, "wide": wide}
    live = create_network("tiny", seed=0, matte_start="guided", coarse_matte_input=True)
    live.load_state_dict(weights)
    with torch.no_grad():
        live.encoder.layers[0][0].weight[:, 11:] = torch.randn(weights[stem][:, :1].shape) * 2.0
    models["live"] = live
    plate, matte = demo_inputs
    fused = {}
    for name, network in models.items():
        folder = save_checkpoint(network, tmp_path / "models" / name, name, "# test weights\n")
        _fuse(plate, matte, tmp_path / name / "f.####.exr", folder, "1001-1004")
        fused[name] = [read_pixels(path) for path in output_files(tmp_path / name)]
    assert len(fused["wide"]) == 4
    for narrow_frame, wide_frame in zip(fused["narrow"], fused["wide"], strict=True):
        np.testing.assert_allclose(wide_frame, narrow_frame, atol=1e-4)
    assert max(np.abs(a - b).max() for a, b in zip(fused["live"], fused["wide"], strict=True)) > 1e-2


def test_outside_band_exact_on_a_1080p_plate_with_lite(tmp_path):
    """A 1080p plate through the lite network at its working size, guided-upsampled back."""
    config = ColorConfig()
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:1080, 0:1920].astype(np.float32)
    folder = tmp_path / "hd"
    folder.mkdir()
    for index, number in enumerate((1, 2, 3)):
        texture = ndimage.gaussian_filter(rng.random((1080, 1920, 3)).astype(np.float32), (2, 2, 0))
        plate = 0.3 + 0.5 * texture + 0.1 * np.sin(xx / 90.0)[..., None]
        write_image(
            folder / f"p.{number}.exr",
            config.convert(plate, config.srgb_encoded, "ACEScg"),
            attributes={"oiio:ColorSpace": "ACEScg"},
        )
        disc = (np.hypot(yy - 540, xx - 900 - 20 * index) < 300).astype(np.float32)
        write_image(folder / f"m.{number}.png", disc[..., None], channels=("Y",))
    model = save_checkpoint(live_heads(create_network("lite", seed=0)), tmp_path / "lite", "lite-random", "")
    _fuse(folder / "p.#.exr", folder / "m.#.png", tmp_path / "net" / "f.#.exr", model, None, "--band", "24")
    assert (
        run_cli(
            "fuse",
            "--plate",
            folder / "p.#.exr",
            "--matte",
            folder / "m.#.png",
            "--grade",
            DEMO_GRADE,
            "--engine",
            "hard",
            "--exr-type",
            "float",
            "--band",
            "24",
            "--out",
            tmp_path / "hard" / "f.#.exr",
        )
        == 0
    )
    for number in (1, 2, 3):
        fused = read_pixels(tmp_path / "net" / f"f.{number}.exr")
        hard = read_pixels(tmp_path / "hard" / f"f.{number}.exr")
        band = edge_band(read_pixels(folder / f"m.{number}.png")[..., 0], BandWidth.parse("24"))
        assert fused.shape == (1080, 1920, 3)
        assert np.array_equal(fused[~band], hard[~band])
        assert not np.array_equal(fused[band], hard[band])


def _high_pass_luma(rgb):
    luma = rgb @ np.array([0.2126, 0.7152, 0.0722], np.float32)
    return luma - ndimage.gaussian_filter(luma, 2.0)


def test_colour_head_keeps_full_resolution_texture():
    """Texture difference (L1 of high-pass luminance against the plate, in the band):
    the low-frequency correction keeps the plate's detail that a plain upsampling of
    the network's output loses."""
    network = live_heads(create_network("tiny", seed=0))
    engine = MovingColorEngine(network=network, device="cpu", head="color")
    rng = np.random.default_rng(2)
    height, width, count = 192, 256, 3
    plate = np.clip(0.5 + 0.25 * rng.standard_normal((count, height, width, 3)), 0, 1).astype(np.float32)
    matte = np.zeros((count, height, width), np.float32)
    matte[:, 60:140, 80:180] = 1.0
    band = np.stack([edge_band(m, BandWidth.parse("8")) for m in matte])
    frames = FusionFrames(
        frame_numbers=[0, 1, 2],
        outputs=[0, 1, 2],
        plate=plate,
        graded=plate,
        edited=plate,
        matte=matte,
        band=band,
        plate_display=plate,
        graded_display=plate,
        edited_display=plate,
        band_pixels=[8.0] * 3,
        num_local=3,
        grade_known=False,
    )
    assert working_shape(height, width, network.config.working_size) == (72, 96)
    result = engine.fuse_window(frames)[1].rgb
    texture_loss = np.abs(_high_pass_luma(result) - _high_pass_luma(plate[1]))[band[1]].mean()
    low = torch.nn.functional.interpolate(
        torch.from_numpy(plate[1]).permute(2, 0, 1)[None], size=(72, 96), mode="bilinear", antialias=True
    )
    naive = (
        torch.nn.functional.interpolate(low, size=(height, width), mode="bilinear")[0]
        .permute(1, 2, 0)
        .numpy()
    )
    naive_loss = np.abs(_high_pass_luma(naive) - _high_pass_luma(plate[1]))[band[1]].mean()
    assert texture_loss < 0.2 * naive_loss, (texture_loss, naive_loss)


def test_no_installed_model_is_a_clear_error(demo_inputs, tmp_path, capsys, monkeypatch):
    from movingcolor.model import registry

    monkeypatch.setenv("MOVINGCOLOR_MODELS", str(tmp_path / "none"))
    monkeypatch.setattr(registry, "PACKAGE_MODELS", tmp_path / "none")
    plate, matte = demo_inputs
    status = run_cli(
        "fuse",
        "--plate",
        plate,
        "--matte",
        matte,
        "--grade",
        DEMO_GRADE,
        "--engine",
        "movingcolor",
        "--out",
        tmp_path / "o",
    )
    assert status == 2 and "no trained MovingColor model is installed" in capsys.readouterr().err
    assert output_files(tmp_path / "o") == []


def test_info_lists_installed_models(tiny_model, monkeypatch, capsys):
    monkeypatch.setenv("MOVINGCOLOR_MODELS", str(tiny_model.parent))
    assert run_cli("info", "--json") == 0
    models = json.loads(capsys.readouterr().out)["models"]
    assert {"name": "tiny-random", "path": str(tiny_model), "network": "tiny"} in models


def test_edited_input_picks_the_head_by_whether_the_grade_is_recovered(demo_inputs, tmp_path):
    """A host composite a colour map explains gets the blend head; one it does not, the colour head."""
    plate, matte = demo_inputs
    assert (
        run_cli(
            "fuse",
            "--plate",
            plate,
            "--matte",
            matte,
            "--grade",
            DEMO_GRADE,
            "--engine",
            "hard",
            "--exr-type",
            "float",
            "--out",
            tmp_path / "graded" / "e.####.exr",
        )
        == 0
    )
    rng = np.random.default_rng(4)
    (tmp_path / "noise").mkdir()
    for number in range(1001, 1009):
        image = read_pixels(plate.replace("####", str(number)))
        inside = read_pixels(matte.replace("####", str(number)))[..., 0] > 0.5
        image[inside] = rng.random((int(inside.sum()), 3)).astype(np.float32)
        write_image(
            tmp_path / "noise" / f"e.{number}.exr",
            image,
            pixel_type="float",
            attributes={"oiio:ColorSpace": "ACEScg"},
        )
    from movingcolor.frames.image_io import read_header

    for source, head in (("graded", "blend"), ("noise", "color")):
        out = tmp_path / f"out-{source}" / "f.####.exr"
        assert (
            run_cli(
                "fuse",
                "--plate",
                plate,
                "--matte",
                matte,
                "--edited",
                tmp_path / source / "e.####.exr",
                "--engine",
                "movingcolor",
                "--device",
                "cpu",
                "--frames",
                "1001-1004",
                "--out",
                out,
            )
            == 0
        )
        assert read_header(tmp_path / f"out-{source}" / "f.1002.exr").attributes["movingcolor:head"] == head
    # One frame no colour map explains among recoverable ones: the windows around it take the
    # colour head, the others the blend head, and frames both predict are still averaged.
    import shutil

    (tmp_path / "mixed").mkdir()
    for number in range(1001, 1009):
        source = "noise" if number == 1005 else "graded"
        shutil.copy(tmp_path / source / f"e.{number}.exr", tmp_path / "mixed" / f"e.{number}.exr")
    mixed = tmp_path / "out-mixed" / "f.####.exr"
    assert run_cli("fuse", "--plate", plate, "--matte", matte, "--edited", tmp_path / "mixed" / "e.####.exr",
                   "--engine", "movingcolor", "--device", "cpu", "--out", mixed) == 0  # fmt: skip
    heads = [
        read_header(mixed.parent / f"f.{n}.exr").attributes["movingcolor:head"] for n in range(1001, 1009)
    ]
    assert heads[0] == "blend" and heads[4] == "color", heads
    # The shipped model's colour head starts from the host's composite and is untrained: an
    # edit no colour map explains comes back as the host made it, not with the plate in the band.
    from movingcolor.model.registry import PACKAGE_MODELS

    config = ColorConfig()
    out = tmp_path / "shipped" / "f.####.exr"
    status = run_cli(
        "fuse",
        "--plate",
        plate,
        "--matte",
        matte,
        "--edited",
        tmp_path / "noise" / "e.####.exr",
        "--engine",
        "movingcolor",
        "--model",
        PACKAGE_MODELS / "default",
        "--device",
        "cpu",
        "--frames",
        "1001-1002",
        "--exr-type",
        "float",
        "--out",
        out,
    )
    assert status == 0
    for number in (1001, 1002):
        fused, edited = (
            read_pixels(out.parent / f"f.{number}.exr"),
            read_pixels(tmp_path / "noise" / f"e.{number}.exr"),
        )
        # The random colours of this edit reach outside the network's display range (0..1);
        # they come back as the host's values all the same, not clipped.
        encoded = config.convert(edited[..., :3], "ACEScg", config.srgb_encoded)
        assert ((encoded < 0) | (encoded > 1)).any()
        assert np.abs(fused[..., :3] - edited[..., :3]).max() < 1e-4


def test_a_display_referred_plate_fuses_without_warnings(demo_inputs, tiny_model, tmp_path):
    """An sRGB PNG plate needs no conversion for the network, so the engine reads the plate's own
    read-only arrays; the run prints no warning about them (a fresh process: torch warns once)."""
    import subprocess
    import sys

    plate, matte = demo_inputs
    for number in (1001, 1002, 1003):
        pixels = read_pixels(Path(plate.replace("####", str(number))))[..., :3]
        write_image(tmp_path / f"plate.{number}.png", np.clip(pixels, 0.0, 1.0) ** (1 / 2.2))
    command = [sys.executable, "-W", "error::UserWarning", "-m", "movingcolor.cli.main", "fuse"]
    command += ["--plate", str(tmp_path / "plate.####.png"), "--matte", matte, "--frames", "1001-1003"]
    command += ["--grade", DEMO_GRADE, "--engine", "movingcolor", "--model", str(tiny_model)]
    command += ["--device", "cpu", "--out", str(tmp_path / "out" / "f.####.exr")]
    run = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "Warning" not in run.stderr
    assert len(output_files(tmp_path / "out")) == 3


def test_cuda_without_a_gpu_is_a_clear_error(demo_inputs, tmp_path, capsys):
    if torch.cuda.is_available():
        pytest.skip("a CUDA GPU is present")
    plate, matte = demo_inputs
    status = run_cli(
        "fuse",
        "--plate",
        plate,
        "--matte",
        matte,
        "--grade",
        DEMO_GRADE,
        "--engine",
        "movingcolor",
        "--device",
        "cuda",
        "--out",
        tmp_path / "o",
    )
    assert status == 2 and "no CUDA GPU" in capsys.readouterr().err


def test_the_shipped_model_beats_the_classical_engines(demo_inputs, demo_truth, tmp_path):
    """The default weights inside the package, on the generated demo shot whose true
    soft alpha is known: band error against the truth below the hard composite's and the
    guided filter's (which the shipped model starts from)."""
    from movingcolor.model.checkpoint import load_checkpoint
    from movingcolor.model.registry import PACKAGE_MODELS

    shipped = PACKAGE_MODELS / "default"
    loaded = load_checkpoint(shipped)
    assert loaded.network.config.name == "lite"
    assert "## Training" in (shipped / "MODEL_CARD.md").read_text()
    assert (shipped / "model.safetensors").stat().st_size < 25 * 2**20
    plate, matte = demo_inputs
    engines = (("hard", []), ("guided", []), ("movingcolor", ["--model", str(shipped), "--device", "cpu"]))
    for engine, extra in engines:
        assert (
            run_cli(
                "fuse",
                "--plate",
                plate,
                "--matte",
                matte,
                "--grade",
                DEMO_GRADE,
                "--engine",
                engine,
                "--band",
                "10",
                "--exr-type",
                "float",
                "--out",
                tmp_path / engine / "f.####.exr",
                *extra,
            )
            == 0
        )
    errors = {"hard": [], "guided": [], "movingcolor": []}
    for index, number in enumerate(range(1001, 1009)):
        band = edge_band(read_pixels(matte.replace("####", str(number)))[..., 0], BandWidth.parse("10"))
        truth = demo_truth[index]
        for engine in errors:
            fused = read_pixels(tmp_path / engine / f"f.{number}.exr")
            errors[engine].append(np.abs(fused[band] - truth[band]).mean())
    means = {engine: np.mean(values) for engine, values in errors.items()}
    assert means["movingcolor"] < means["guided"] < means["hard"], means


def _guided_start_network(seed: int = 0):
    return create_network("tiny", seed=seed, matte_start="guided")


def _window(count: int, height: int, width: int, seed: int = 3, band_width: float = 10.0) -> FusionFrames:
    """A shot of a textured plate whose square matte chatters by a few pixels per frame, with a
    ``band_width``-pixel band."""
    rng = np.random.default_rng(seed)
    plate = ndimage.gaussian_filter(rng.random((count, height, width, 3)), (0, 3, 3, 0)).astype(np.float32)
    plate = np.clip((plate - 0.5) * 4 + 0.5, 0, 1)
    graded = np.clip(plate * np.float32([1.3, 1.0, 0.7]), 0, 1)
    matte = np.zeros((count, height, width), np.float32)
    for t in range(count):
        jitter = rng.integers(-3, 4, 2)
        matte[t, height // 4 + jitter[0] : 3 * height // 4, width // 4 + jitter[1] : 3 * width // 4] = 1.0
    band = np.stack([edge_band(m, BandWidth(band_width)) for m in matte])
    return _shot_frames(plate, graded, matte, band, band_width)


def _shot_frames(plate, graded, matte, band, band_width: float) -> FusionFrames:
    """A window of every frame of a shot whose hard composite is its plate (the graded plate is
    the grade's input only), all of them local and predicted."""
    count = len(plate)
    return FusionFrames(
        frame_numbers=list(range(count)),
        outputs=list(range(count)),
        plate=plate,
        graded=graded,
        edited=plate,
        matte=matte,
        band=band,
        plate_display=plate,
        graded_display=graded,
        edited_display=plate,
        band_pixels=[band_width] * count,
        num_local=count,
    )


#: Plate sizes and band widths that take each of the network's paths with the tiny network
#: (working size 96): the whole frame at its size; the whole frame downsized (a band wide enough
#: to be seen at the frame's working scale); crops along a thin band seen at the finest scale;
#: crops along a band seen at a scale between the frame's and the finest.
NETWORK_PATHS = {
    "working size": ((64, 96), 10.0),
    "upsampled": ((192, 288), 40.0),
    "band crops": ((192, 288), 10.0),
    "resampled band crops": ((300, 640), 20.0),
}


@pytest.mark.parametrize(("size", "band_width"), NETWORK_PATHS.values(), ids=NETWORK_PATHS.keys())
def test_an_unchanged_guided_start_is_exactly_the_guided_engine(size, band_width):
    """A network that starts from the guided matte and changes nothing gives the guided
    engine's mattes of the matte steadied over the window in the band at the plate's full
    resolution, on whichever path it runs."""
    from movingcolor.engines.guided import GuidedEngine
    from movingcolor.engines.steady_matte import steadied_mattes

    frames = _window(4, *size, band_width=band_width)
    engine = MovingColorEngine(network=_guided_start_network(), device="cpu")
    guided = GuidedEngine()
    steadied = np.stack(steadied_mattes(frames.matte, frames.plate_display, frames.band, frames.band_pixels))
    assert not np.array_equal(steadied, frames.matte)  # the window's matte chatters
    for index, result in enumerate(engine.fuse_window(frames)):
        # The guided engine's own window: the target and up to two frames each side.
        near = slice(max(0, index - 2), index + 3)
        window = dataclasses_replace(
            frames,
            frame_numbers=frames.frame_numbers[near],
            outputs=[index - near.start],
            plate_display=frames.plate_display[near],
            matte=steadied[near],
            band=frames.band[near],
            band_pixels=frames.band_pixels[near],
        )
        # In the band, all the composite takes from an engine (the guided engine refines nothing else).
        band = frames.band[index]
        assert band.any() and np.abs(result.alpha[band] - guided.fuse(window).alpha[band]).max() < 1e-5


#: The network's paths past the working size, on frames wide enough that an object crossing them
#: puts each frame's band in cores of its own.
SCRUB_PATHS = {
    "upsampled": ((192, 288), 40.0),
    "band crops": ((192, 864), 10.0),
    "resampled band crops": ((300, 1280), 20.0),
}


@pytest.mark.parametrize(("size", "band_width"), SCRUB_PATHS.values(), ids=SCRUB_PATHS.keys())
def test_a_window_asked_for_one_frame_works_only_where_that_frame_needs(size, band_width, monkeypatch):
    """A host's scrub sends five frames and asks for the middle one: the network's crops cover that
    frame's band alone and its guided start is smoothed for it alone, and its matte is bit for bit
    the one the window gives when every frame is asked for."""
    from movingcolor.engines import movingcolor as engine_module

    height, width = size
    rng = np.random.default_rng(5)
    plate = ndimage.gaussian_filter(rng.random((5, height, width, 3)), (0, 3, 3, 0)).astype(np.float32)
    plate = np.clip((plate - 0.5) * 4 + 0.5, 0, 1)
    graded = np.clip(plate * np.float32([1.3, 1.0, 0.7]), 0, 1)
    matte = np.zeros((5, height, width), np.float32)
    for t in range(5):  # an object that crosses the frame: each frame's band in other places
        left = width // 8 + t * width // 7
        matte[t, height // 4 : 3 * height // 4, left : left + width // 5] = 1.0
    band = np.stack([edge_band(m, BandWidth(band_width)) for m in matte])
    every = _shot_frames(plate, graded, matte, band, band_width)
    network = live_heads(_guided_start_network())
    counts = {"network": 0, "smoothed": 0}
    decoded: list[list[int]] = []
    run_network, smoothed = MovingColorEngine._run_network, engine_module.smoothed_band_alpha

    def counted_network(self, x, local, head, outputs):
        counts["network"] += 1
        decoded.append(list(outputs))
        return run_network(self, x, local, head, outputs)

    def counted_smoothing(*args, **kwargs):
        counts["smoothed"] += 1
        return smoothed(*args, **kwargs)

    monkeypatch.setattr(MovingColorEngine, "_run_network", counted_network)
    monkeypatch.setattr(engine_module, "smoothed_band_alpha", counted_smoothing)
    whole = MovingColorEngine(network=network, device="cpu").fuse_window(every)[2].alpha
    work_for_every = dict(counts)
    if work_for_every["network"] > 1:  # on crops: each decodes the frames whose band crosses it
        assert all(calls for calls in decoded) and sum(map(len, decoded)) < 5 * len(decoded)
    else:
        assert decoded == [[0, 1, 2, 3, 4]]
    counts.update(network=0, smoothed=0)
    decoded.clear()
    one = MovingColorEngine(network=network, device="cpu").fuse_window(
        dataclasses_replace(every, outputs=[2])
    )
    assert np.array_equal(one[0].alpha[band[2]], whole[band[2]])
    assert all(calls == [2] for calls in decoded)  # the other four frames are context alone
    assert counts["smoothed"] == (1 if work_for_every["smoothed"] else 0)
    if work_for_every["network"] > 1:  # on crops: fewer of them
        assert counts["network"] < work_for_every["network"]


def test_a_hosts_window_lays_its_crops_along_its_targets_band_alone(monkeypatch):
    """A host's window for one frame (``outputs_alone``: no chunking regroups it) runs the network
    on the crops laid along its target's band, not along every frame's: on an object that crosses
    the frame, fewer crops, each decoding the target alone, and every pixel of its band covered."""
    from movingcolor.engines.band_crops import band_crops, band_scale

    height, width, band_width = 192, 864, 10.0
    rng = np.random.default_rng(5)
    plate = ndimage.gaussian_filter(rng.random((5, height, width, 3)), (0, 3, 3, 0)).astype(np.float32)
    plate = np.clip((plate - 0.5) * 4 + 0.5, 0, 1)
    graded = np.clip(plate * np.float32([1.3, 1.0, 0.7]), 0, 1)
    matte = np.zeros((5, height, width), np.float32)
    for t in range(5):
        left = width // 8 + t * width // 7
        matte[t, height // 4 : 3 * height // 4, left : left + width // 5] = 1.0
    band = np.stack([edge_band(m, BandWidth(band_width)) for m in matte])
    target = dataclasses_replace(_shot_frames(plate, graded, matte, band, band_width), outputs=[2])
    network = live_heads(_guided_start_network())
    regions: list[tuple[int, int, int, int]] = []
    inputs = MovingColorEngine._inputs

    def recorded(self, frames, grade_known, size, region=(slice(None), slice(None))):
        regions.append((region[0].start, region[0].stop, region[1].start, region[1].stop))
        return inputs(self, frames, grade_known, size, region)

    monkeypatch.setattr(MovingColorEngine, "_inputs", recorded)
    engine = MovingColorEngine(network=network, device="cpu", steady_matte=False)
    engine.fuse_window(target)
    along_every_band = len(regions)
    regions.clear()
    alone = engine.fuse_window(dataclasses_replace(target, outputs_alone=True))[0].alpha
    scale = band_scale([band_width] * 5, height, width, network.config.working_size)
    own = [c for c in band_crops(band[2], scale) if band[2][c.core_rows, c.core_cols].any()]
    assert regions == [(c.rows.start, c.rows.stop, c.cols.start, c.cols.stop) for c in own]
    assert 0 < len(regions) < along_every_band
    covered = np.zeros((height, width), bool)
    for crop in own:
        covered[crop.core_rows, crop.core_cols] = True
    assert covered[band[2]].all()
    # The network changed the target's band (live heads).
    assert not np.array_equal(alone[band[2]], matte[2][band[2]])


@pytest.mark.parametrize(
    ("size", "band_width"),
    # many crops: more of them, each with five frames, than a whole frame's windows would keep
    [((64, 96), 10.0), ((192, 576), 10.0), ((480, 1280), 10.0)],
    ids=["whole", "crops", "many crops"],
)
def test_a_scrubs_next_window_refines_only_its_new_frame_at_the_networks_scale(size, band_width, monkeypatch):
    """Frames named by content (a host's window): the guided start's spatial refinement at the
    network's scale is kept per frame, so the next window of a scrub refines its new frame alone,
    and its mattes are bit for bit a fresh engine's."""
    from movingcolor.engines import movingcolor as engine_module

    refined_frames = []
    refine = engine_module.refine_frames_by_tiles

    def counted(plates, *args, **kwargs):
        refined_frames.append(len(plates))
        return refine(plates, *args, **kwargs)

    monkeypatch.setattr(engine_module, "refine_frames_by_tiles", counted)
    shot = _window(6, *size, band_width=band_width)

    def window(start: int) -> FusionFrames:
        part = slice(start, start + 5)
        frames = _shot_frames(
            shot.plate[part], shot.graded[part], shot.matte[part], shot.band[part], band_width
        )
        return dataclasses_replace(
            frames, outputs=[2], frame_keys=[("frame", n) for n in range(start, start + 5)]
        )

    network = live_heads(_guided_start_network())
    # The matte as given: a steadied one depends on every frame of its window.
    engine = MovingColorEngine(network=network, device="cpu", steady_matte=False)
    engine.fuse_window(window(0))
    crops = len(refined_frames)  # one call per crop (or one for the whole frame)
    assert refined_frames == [5] * crops
    refined_frames.clear()
    scrubbed = engine.fuse_window(window(1))
    assert refined_frames and set(refined_frames) <= {1}  # the new frame only, on every crop it is on
    fresh = MovingColorEngine(network=network, device="cpu", steady_matte=False).fuse_window(window(1))
    assert np.array_equal(scrubbed[0].alpha, fresh[0].alpha)


def test_neighbouring_crops_that_disagree_meet_in_a_fade_not_a_step(monkeypatch):
    """Crops run apart and may change the same edge differently: two neighbours' changes are
    cross-faded where their cores meet. Kept to their cores, they met in a straight step as large
    as their difference (up to 68 codes of 255 on real clips at 1080p)."""
    frames = _window(3, 192, 864, band_width=10.0)
    # Without the edge's steepening after the network, the matte's change is the network's.
    engine = MovingColorEngine(network=_guided_start_network(), device="cpu", edge_contrast=1.0)
    calls = []

    def each_crop_its_own_change(x, local, head, outputs, change=None):
        # The network's start (its change is zero) moved by +-0.05, alternately from crop to crop.
        start = x[0, list(outputs), MATTE].float()  # channel A: the guided start
        calls.append(len(calls))
        return start + (0.0 if change == 0 else (0.05 if len(calls) % 2 else -0.05))

    monkeypatch.setattr(engine, "_run_network", lambda *a: each_crop_its_own_change(*a, change=0))
    unchanged = [r.alpha for r in engine.fuse_window(frames)]
    calls.clear()
    monkeypatch.setattr(engine, "_run_network", each_crop_its_own_change)
    changed = [r.alpha for r in engine.fuse_window(frames)]
    assert len(calls) >= 2  # crops along the band, neighbours with opposite changes
    for index, (before, after) in enumerate(zip(unchanged, changed, strict=True)):
        band = frames.band[index] & (before > 0.1) & (before < 0.9)  # not clipped either way
        change = np.where(band, after - before, np.nan)
        assert np.nanmax(np.abs(change)) > 0.04  # each crop's change is there
        across = np.abs(np.diff(change, axis=1))
        # Between neighbouring pixels the change moves by a fade's step, never the crops' 0.1.
        assert np.nanmax(across) < 0.02


@pytest.mark.parametrize("engine_name", ["movingcolor", "guided"])
def test_a_matte_off_for_one_frame_leaves_its_neighbours_alone(engine_name):
    """A matte missing from one frame (empty, or the whole frame: a roto off for a frame) is no
    evidence of the edge. The network was shown it among the window's frames and the temporal
    average took it in: on a real clip a full matte at one frame took the grade's halo outside the
    object from 0.02-0.03 to 0.11-0.14 in the five frames after it. The other frames now come out
    the same whichever way the matte is off."""
    from movingcolor.engines.guided import GuidedEngine

    frames = _window(6, 64, 96, band_width=10.0)
    if engine_name == "movingcolor":
        engine = MovingColorEngine(network=_guided_start_network(seed=1), device="cpu")
    else:
        engine = GuidedEngine()

    def with_frame_3(value: float) -> list[np.ndarray]:
        matte, band = np.array(frames.matte), np.array(frames.band)
        matte[3], band[3] = value, False
        window = dataclasses_replace(frames, matte=matte, band=band)
        if engine_name == "movingcolor":
            return [result.alpha for result in engine.fuse_window(window)]
        return [engine.fuse(dataclasses_replace(window, outputs=[t])).alpha for t in range(6)]

    full, empty = with_frame_3(1.0), with_frame_3(0.0)
    for t in (0, 1, 2, 4, 5):
        assert frames.band[t].any() and np.array_equal(full[t][frames.band[t]], empty[t][frames.band[t]]), t


def _another_scene(pictures: np.ndarray) -> np.ndarray:
    """``pictures`` ``(T, H, W, 3)`` made another scene to a cut detector: darker, bluer, and lit from
    one side (the test plates are textures that differ frame to frame only in their fine detail)."""
    width = pictures.shape[2]
    light = np.linspace(0.05, 0.6, width, dtype=np.float32)[None, None, :, None]
    return pictures[..., ::-1] * light


def _across_a_cut(count: int, cut: int, height: int = 64, width: int = 96) -> FusionFrames:
    """A window of ``count`` frames whose frames from ``cut`` on are another scene."""
    frames = _window(count, height, width, band_width=10.0)
    plate, graded = np.array(frames.plate), np.array(frames.graded)
    plate[cut:], graded[cut:] = _another_scene(plate[cut:]), _another_scene(graded[cut:])
    return _shot_frames(plate, graded, np.array(frames.matte), np.array(frames.band), 10.0)


def _frames_of(frames: FusionFrames, start: int, stop: int) -> FusionFrames:
    """The window of frames ``start``-``stop`` alone, built from their arrays."""
    part = slice(start, stop)
    return _shot_frames(
        frames.plate[part], frames.graded[part], frames.matte[part], frames.band[part], frames.band_pixels[0]
    )


@pytest.mark.parametrize("cut", [3, 1])
def test_a_window_across_a_cut_decides_each_frame_among_its_own_shots_frames(cut):
    """A plate that holds an edit: the network saw the other shot's frames as each frame's context
    (on real clips joined at a cut, the band's colour error of the frames after it doubled). Each
    frame of a window across a cut now comes out as that shot's frames alone make it."""
    frames = _across_a_cut(6, cut)
    network = live_heads(_guided_start_network(seed=1))
    joined = MovingColorEngine(network=network, device="cpu").fuse_window(frames)
    for start, stop in ((0, cut), (cut, 6)):
        alone = MovingColorEngine(network=network, device="cpu").fuse_window(_frames_of(frames, start, stop))
        for t in range(start, stop):
            assert np.array_equal(joined[t].alpha, alone[t - start].alpha), t
    # Outputs asked for from one shot alone leave the other shot's frames out too.
    asked = MovingColorEngine(network=network, device="cpu").fuse_window(
        dataclasses_replace(frames, outputs=[4])
    )
    assert np.array_equal(asked[0].alpha, joined[4].alpha)


def test_each_shot_of_a_window_across_a_cut_keeps_its_own_global_frames():
    """A model with global frames (sampled across the clip): each shot of a window across a cut
    keeps the global frames of its own shot and leaves the other's out; a window without a cut
    keeps them all."""
    frames = _window(6, 64, 96, band_width=10.0)
    plate, graded = np.array(frames.plate), np.array(frames.graded)
    shot_b = [2, 3, 5]
    plate[shot_b], graded[shot_b] = _another_scene(plate[shot_b]), _another_scene(graded[shot_b])
    numbers = [0, 1, 2, 3, 20, 40]

    def window(indices: list[int], local: int) -> FusionFrames:
        picked = _shot_frames(plate[indices], graded[indices], np.array(frames.matte)[indices],
                              np.array(frames.band)[indices], 10.0)  # fmt: skip
        return dataclasses_replace(
            picked, frame_numbers=[numbers[t] for t in indices], outputs=list(range(local)), num_local=local
        )

    network = live_heads(_guided_start_network(seed=1))
    decided = MovingColorEngine(network=network, device="cpu").fuse_window(window([0, 1, 2, 3, 4, 5], 4))
    for outputs, indices in (([0, 1], [0, 1, 4]), ([2, 3], [2, 3, 5])):
        alone = MovingColorEngine(network=network, device="cpu").fuse_window(window(indices, 2))
        for position, t in enumerate(outputs):
            assert np.array_equal(decided[t].alpha, alone[position].alpha), t
    # A window whose own frames are one shot keeps every global frame: frames far apart in one shot
    # (a pan's) may score as a cut.
    whole = MovingColorEngine(network=network, device="cpu").fuse_window(window([0, 1, 4, 5], 2))
    without = MovingColorEngine(network=network, device="cpu").fuse_window(window([0, 1, 4], 2))
    assert not np.array_equal(whole[0].alpha, without[0].alpha)


def test_the_guided_engine_averages_over_time_within_a_shot():
    """The guided engine's temporal average takes no frame of another shot."""
    from movingcolor.engines.guided import GuidedEngine

    frames = _across_a_cut(5, 3)
    for center, (start, stop) in ((2, (0, 3)), (3, (3, 5))):
        joined = GuidedEngine().fuse(dataclasses_replace(frames, outputs=[center])).alpha
        part = dataclasses_replace(_frames_of(frames, start, stop), outputs=[center - start])
        assert np.array_equal(joined, GuidedEngine().fuse(part).alpha), center


def test_the_network_runs_with_the_edge_curve_its_model_was_trained_through():
    """A model's configuration carries the slope of its matte's edge curve: a network trained with
    another slope runs with that one (and so, unchanged, equals the guided engine at that slope),
    unless the caller asks for one."""
    from movingcolor.engines.guided import GuidedEngine

    frames = _window(3, 64, 96)
    network = create_network("tiny", seed=0, matte_start="guided", edge_contrast=2.0)
    engine = MovingColorEngine(network=network, device="cpu", steady_matte=False)
    band = frames.band[1]
    middle = dataclasses_replace(frames, outputs=[1])
    alpha = engine.fuse_window(frames)[1].alpha[band]
    assert np.abs(alpha - GuidedEngine(edge_contrast=2.0).fuse(middle).alpha[band]).max() < 1e-5
    assert np.abs(alpha - GuidedEngine().fuse(middle).alpha[band]).max() > 0.05
    assert MovingColorEngine(network=network, device="cpu", edge_contrast=1.0).edge_contrast == 1.0
    assert create_network("tiny").config.edge_contrast == 4.0  # models that do not say: the guided engine's


def test_a_trained_change_to_the_guided_start_reaches_full_resolution():
    """The network's change is upsampled and added to the full-resolution guided matte."""
    from movingcolor.engines.guided_filter import guided_mattes

    frames = _window(4, 192, 288, band_width=40.0)
    network = live_heads(_guided_start_network())
    result = MovingColorEngine(network=network, device="cpu").fuse_window(frames)[1].alpha
    start = guided_mattes(frames.plate_display, frames.matte, frames.band_pixels)[1]
    change = np.abs(result - start)[frames.band[1]]
    assert result.shape == (192, 288) and change.mean() > 1e-3


def test_windows_that_share_a_frame_refine_it_once(monkeypatch):
    """The full-resolution guided start's refinement of each band tile of a frame is computed once
    for the windows that share the frame, with results bit for bit those of a fresh engine; another
    shot's frames with the same numbers are not mistaken for them."""
    import movingcolor.engines.band_refinement as band_refinement

    calls = []  # (frame's plate bytes, tile) for every tile refined at full resolution
    real_refine = band_refinement.refine_tiles

    def counting_refine(guide, matte, band_pixels, tiles, *rest):
        if guide.shape[:2] == (192, 288):  # not the start at the network's scale
            calls.extend((guide.tobytes(), tile) for tile in tiles)
        return real_refine(guide, matte, band_pixels, tiles, *rest)

    monkeypatch.setattr(band_refinement, "refine_tiles", counting_refine)

    def window(frames: FusionFrames, start: int, count: int) -> FusionFrames:
        part = slice(start, start + count)
        return dataclasses_replace(
            frames,
            frame_numbers=frames.frame_numbers[part],
            outputs=list(range(count)),
            plate=frames.plate[part],
            graded=frames.graded[part],
            edited=frames.edited[part],
            matte=frames.matte[part],
            band=frames.band[part],
            plate_display=frames.plate_display[part],
            graded_display=frames.graded_display[part],
            edited_display=frames.edited_display[part],
            band_pixels=frames.band_pixels[part],
            num_local=count,
        )

    network = live_heads(_guided_start_network())
    # The matte as given: a steadied one depends on every frame of its window.
    engine = MovingColorEngine(network=network, device="cpu", steady_matte=False)
    local, stride = engine.config.local_frames, engine.config.local_stride
    shot = _window(local + stride, 192, 288, band_width=40.0)
    first, second = window(shot, 0, local), window(shot, stride, local)
    engine.fuse_window(first)
    reused = engine.fuse_window(second)
    assert len(calls) == len(set(calls))  # no tile of a frame twice
    assert len({plate for plate, _ in calls}) == local + stride  # every frame of the shot
    fresh = MovingColorEngine(network=network, device="cpu", steady_matte=False).fuse_window(second)
    for a, b in zip(reused, fresh, strict=True):
        assert np.array_equal(a.alpha, b.alpha)

    other_shot = window(_window(local + stride, 192, 288, seed=4, band_width=40.0), 0, local)
    calls.clear()
    result = engine.fuse_window(other_shot)
    assert len({plate for plate, _ in calls}) == local
    fresh = MovingColorEngine(network=network, device="cpu", steady_matte=False).fuse_window(other_shot)
    assert all(np.array_equal(a.alpha, b.alpha) for a, b in zip(result, fresh, strict=True))


@pytest.mark.parametrize("size", [(64, 96), (192, 288)], ids=["working size", "upsampled"])
def test_a_colour_head_starting_from_the_composite_returns_it_until_trained(size):
    """Only the host's composite known and no grade recovered: an untrained colour head that
    refines the composite returns it in the band (the hard composite, what the user had);
    a trained one changes it there by a smooth correction, keeping the composite's texture."""
    frames = _window(4, *size)
    matte = frames.matte[..., None]
    composite = matte * frames.graded_display + (1 - matte) * frames.plate_display
    frames = dataclasses_replace(
        frames,
        edited=composite,
        edited_display=composite,
        graded=None,
        graded_display=None,
        grade_known=False,
    )
    untrained = create_network("tiny", seed=0, color_start="composite")
    for result, expected in zip(
        MovingColorEngine(network=untrained, device="cpu").fuse_window(frames), composite, strict=True
    ):
        assert result.alpha is None and np.abs(result.rgb - expected)[frames.band[0]].max() < 1e-5
    trained = MovingColorEngine(network=live_heads(untrained), device="cpu").fuse_window(frames)[1].rgb
    change = (trained - composite[1])[frames.band[1]]
    assert np.abs(change).mean() > 1e-3
    if size == (192, 288):
        # The correction is upsampled from the working size: the plate's fine texture is not in it.
        texture = lambda image: image - ndimage.gaussian_filter(image, (2, 2, 0))  # noqa: E731
        assert (
            np.abs(texture(trained) - texture(composite[1]))[frames.band[1]].mean()
            < 0.2 * np.abs(texture(composite[1]))[frames.band[1]].mean()
        )


def test_the_upsampled_change_on_band_tiles_is_the_whole_frame_one():
    """The network's change upsampled on the band's tiles only equals the same pixels of the
    whole-frame fast guided filter, on tiles cut by the frame's edges and corners too (a frame
    size that is no multiple of the tile or of the working size)."""
    import torch
    from movingcolor.engines.guided_upsample import (
        UPSAMPLE_EPS,
        UPSAMPLE_RADIUS,
        guided_upsample,
        guided_upsample_tiles,
    )
    from movingcolor.masks.band import occupied_tiles

    generator = np.random.default_rng(5)
    height, width = 203, 317
    plate = generator.random((height, width, 3), dtype=np.float32)
    low_plate = torch.nn.functional.interpolate(
        torch.from_numpy(plate).permute(2, 0, 1)[None], size=(52, 80), mode="bilinear", antialias=True
    )
    change = torch.from_numpy(generator.normal(0, 0.1, (1, 1, 52, 80)).astype(np.float32))
    whole = guided_upsample(
        low_plate, change, torch.from_numpy(plate).permute(2, 0, 1)[None], UPSAMPLE_RADIUS, UPSAMPLE_EPS
    )[0, 0].numpy()
    every_tile = occupied_tiles(np.ones((height, width), bool))
    tiled = guided_upsample_tiles(low_plate, change, plate, every_tile)
    assert set(tiled) == set(every_tile)
    for (top, left, bottom, right), values in tiled.items():
        np.testing.assert_allclose(values, whole[top:bottom, left:right], rtol=0, atol=1e-5)


def test_the_upsampling_box_mean_is_the_mean_over_reflected_windows():
    """The guided upsampling's box filter is the mean over each pixel's (2r+1)² window, edges
    reflected without repeating the edge pixel, on crops as small as the network takes."""
    import torch
    from movingcolor.engines.guided_upsample import _box

    generator = np.random.default_rng(11)
    for height, width, radius in ((8, 8, 2), (9, 23, 2), (52, 80, 3), (6, 7, 1)):
        image = generator.random((2, 3, height, width), dtype=np.float32)
        padded = np.pad(image, ((0, 0), (0, 0), (radius, radius), (radius, radius)), mode="reflect")
        size = 2 * radius + 1
        expected = np.zeros_like(image, dtype=np.float64)
        for dy in range(size):
            for dx in range(size):
                expected += padded[:, :, dy : dy + height, dx : dx + width]
        expected /= size * size
        np.testing.assert_allclose(_box(torch.from_numpy(image), radius).numpy(), expected, rtol=0, atol=1e-6)


def test_the_full_resolution_guided_start_on_band_tiles_is_the_whole_frame_one():
    """The guided start computed on the band's tiles equals, in the band, the guided engine's
    whole-frame refinement smoothed over the window's local frames."""
    from movingcolor.engines.guided_filter import guided_mattes
    from movingcolor.masks.band import occupied_tiles

    frames = _window(4, 150, 230)
    engine = MovingColorEngine(network=live_heads(_guided_start_network()), device="cpu")
    tiles = [occupied_tiles(frames.band[t]) for t in range(frames.num_local)]
    starts = engine._full_resolution_start(frames, tiles)
    local = frames.num_local
    whole = guided_mattes(frames.plate_display[:local], frames.matte[:local], frames.band_pixels[:local])
    for index in range(local):
        band = frames.band[index]
        assert band.any()
        np.testing.assert_allclose(starts[index][band], whole[index][band], rtol=0, atol=1e-6)


def _on_larger_canvas(frames: FusionFrames, top: int, left: int, height: int, width: int) -> FusionFrames:
    """``frames`` placed at ``top``, ``left`` of a ``height`` x ``width`` plate whose texture runs
    on around them (reflected) with the matte empty there: the same band in a larger frame."""
    rows = (top, height - top - frames.matte.shape[1])
    cols = (left, width - left - frames.matte.shape[2])

    def pad(images: np.ndarray, mode: str) -> np.ndarray:
        widths = [(0, 0), rows, cols] + [(0, 0)] * (images.ndim - 3)
        return np.pad(images, widths, mode=mode)

    plate, graded = pad(frames.plate_display, "symmetric"), pad(frames.graded_display, "symmetric")
    matte, band = pad(frames.matte, "constant"), pad(frames.band, "constant")
    return _shot_frames(plate, graded, matte, band, frames.band_pixels[0])


def _band_from(frames: FusionFrames, offset: int) -> FusionFrames:
    """``frames`` rolled so that the first row and column any frame's band holds are ``offset``
    (what rolls round the far edges holds no band)."""
    rows, cols = np.nonzero(np.any(frames.band, axis=0))
    shift = (offset - int(rows.min()), offset - int(cols.min()))

    def roll(images: np.ndarray) -> np.ndarray:
        return np.roll(images, shift, axis=(1, 2))

    plate, graded = roll(frames.plate_display), roll(frames.graded_display)
    return _shot_frames(plate, graded, roll(frames.matte), roll(frames.band), frames.band_pixels[0])


@pytest.mark.parametrize("finest", [FINEST_SCALE, 1.0], ids=["finest scale", "plate resolution"])
def test_the_same_band_in_a_larger_frame_gives_the_same_matte(finest, monkeypatch):
    """The network sees a band at a scale set by the band, not by the frame: the same 12-pixel band
    in a frame ten times the area (the shot at a production size) is seen at the finest scale in
    both (the shipped one, or the plate's own resolution), and where the larger frame's crop holds
    the same pixels as the smaller frame, the mattes are the same. Seen at the frame's working
    scale instead, the band looks half as wide in the larger frame, and the mattes part."""
    import movingcolor.engines.band_crops as band_crops

    monkeypatch.setattr(band_crops, "FINEST_SCALE", finest)
    side = round(CROP / finest)  # a crop's side in plate pixels: the smaller frame, one crop
    # The band starts a margin (at the network's scale) into the smaller frame, so that the larger
    # frame's crop, which starts a margin before the band, holds exactly the smaller frame.
    frames = _band_from(_window(4, side, side, band_width=12.0), round(MARGIN / finest))
    start = round((CROP - 3 * MARGIN) / finest)
    canvas = round(4 * (CROP - 2 * MARGIN) / finest)
    larger = _on_larger_canvas(frames, start, start, canvas, canvas)
    inner = (slice(start, start + side), slice(start, start + side))
    [crop] = band_crops.band_crops(np.any(larger.band, axis=0), finest)
    assert (crop.rows, crop.cols) == inner
    band = frames.band[1]
    assert np.array_equal(larger.band[1][inner], band)

    def difference() -> float:
        # The matte as given: the flow that steadies it is computed at a size set by the frame.
        engine = MovingColorEngine(
            network=live_heads(_guided_start_network(), scale=1.0), device="cpu", steady_matte=False
        )
        small = engine.fuse_window(frames)[1].alpha
        large = engine.fuse_window(larger)[1].alpha[inner]
        return float(np.abs(small - large)[band].max())

    assert difference() < 1e-5
    # A network band so thin that every frame is seen whole at its working scale.
    monkeypatch.setattr(band_crops, "NETWORK_BAND_PIXELS", 1e-3)
    assert difference() > 1e-2


def test_with_the_grade_known_the_network_needs_no_composite_array():
    """With every grade known, a frame carries no host's composite in the display encoding (over
    100 MB at 4K): the network makes it from the plate and the graded plate outside the band,
    where the matte is 0 or 1, and its decision is bit for bit what the composite gave."""
    network = live_heads(create_network("tiny", seed=0))
    engine = MovingColorEngine(network=network, device="cpu", head="auto")
    assert "edited_display" not in engine.inputs_for(True) and not engine.decides_colours_for(True)
    assert "edited_display" in engine.inputs_for(False) and engine.decides_colours_for(False)
    forced = MovingColorEngine(network=network, device="cpu", head="color")
    assert forced.inputs_for(True) == forced.inputs and forced.decides_colours_for(True)
    rng = np.random.default_rng(4)
    height, width, count = 96, 128, 3
    plate = rng.uniform(0, 1, (count, height, width, 3)).astype(np.float32)
    graded = np.clip(plate * np.float32(1.3) + np.float32(0.05), 0, 1)
    matte = np.zeros((count, height, width), np.float32)
    matte[:, 30:70, 40:90] = 1.0
    matte[:, 30:70, 38:40] = 0.5  # a soft edge: the band holds it
    band = np.stack([edge_band(m, BandWidth.parse("6")) for m in matte])
    a = matte[..., None]
    composite = a * graded + (1 - a) * plate

    def frames(edited_display):
        return FusionFrames(
            frame_numbers=[0, 1, 2],
            outputs=[0, 1, 2],
            plate=None,
            graded=None,
            edited=None,
            matte=matte,
            band=band,
            plate_display=plate,
            graded_display=graded,
            edited_display=edited_display,
            band_pixels=[6.0] * 3,
            num_local=3,
            grade_known=True,
        )

    with_composite = engine.fuse_window(frames(composite))
    without = engine.fuse_window(frames(None))
    for given, made in zip(with_composite, without, strict=True):
        assert np.array_equal(given.alpha, made.alpha)


@pytest.mark.parametrize(("height", "width"), [(3, 700), (1, 700), (700, 3), (3, 4097)])
def test_a_very_thin_frame_is_seen_at_the_shortest_side_the_network_takes(height, width):
    """A 3x700 frame's band crops were 4 pixels high: one feature after the encoder's quarter, which
    its reflection padding cannot pad (a traceback, exit 1)."""
    rng = np.random.default_rng(4)
    plate = rng.random((3, height, width, 3), dtype=np.float32)
    graded = np.clip(plate * np.float32(1.3), 0, 1)
    matte = np.zeros((3, height, width), np.float32)
    if height > width:
        matte[:, height // 3 : 2 * height // 3] = 1.0
    else:
        matte[:, :, width // 3 : 2 * width // 3] = 1.0
    band = np.stack([edge_band(m, BandWidth(4.0)) for m in matte])
    engine = MovingColorEngine(network=live_heads(_guided_start_network()), device="cpu")
    results = engine.fuse_window(_shot_frames(plate, graded, matte, band, 4.0))
    for result, frame_band in zip(results, band, strict=True):
        assert result.alpha.shape == (height, width) and np.isfinite(result.alpha[frame_band]).all()


_FIRST_CALL_SCRIPT = """
import sys

import torch

from movingcolor.engines.movingcolor import MovingColorEngine
network = MovingColorEngine(model=sys.argv[1], device="cpu").network
x = torch.rand(1, 2, network.config.in_channels, 224, 224, generator=torch.Generator().manual_seed(7))
with torch.inference_mode():
    first, second = (network(x, 2, "blend")[0] for _ in range(2))
print(float((first - second).abs().max()))
"""


def test_a_fresh_process_first_window_equals_the_same_window_again():
    """A process's first network call on a CPU with several threads could differ from every later
    call with the same input (MKL's threads settle then): a host's first frame and the same frame
    asked again did not match to the bit. The shipped model, in several fresh processes: the fault
    came in most (5 of 8 on two cores), not all; with one thread it cannot show."""
    import subprocess
    import sys

    if torch.get_num_threads() < 2:
        pytest.skip("torch runs on one thread here: the first call cannot differ")
    from movingcolor.model.checkpoint import SHIPPED_MODELS

    shipped = SHIPPED_MODELS / "default"
    for _ in range(4):
        run = subprocess.run(
            [sys.executable, "-c", _FIRST_CALL_SCRIPT, str(shipped)],
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert run.returncode == 0, run.stderr[-2000:]
        assert float(run.stdout.split()[-1]) == 0.0


def test_a_soft_matte_without_an_edge_keeps_its_grade(tmp_path):
    """A float matte of 0.5 over the whole frame (half a grade of everything): the band is the whole
    frame, the network saw no context and returned nothing graded. With no edge to fuse, the
    matte stands, as in every other engine: the output is the hard composite."""
    from conftest import run_cli
    from movingcolor.frames.image_io import read_pixels, write_image

    (tmp_path / "shot").mkdir()
    rng = np.random.default_rng(3)
    for number in (1, 2, 3):
        write_image(tmp_path / "shot" / f"p.{number}.exr", rng.random((24, 32, 3), np.float32) * 0.8)
        write_image(
            tmp_path / "shot" / f"m.{number}.exr", np.full((24, 32, 1), 0.5, np.float32), pixel_type="float"
        )
    common = ["--plate", tmp_path / "shot" / "p.#.exr", "--matte", tmp_path / "shot" / "m.#.exr"]
    common += ["--grade", "slope=1.4,1,0.7", "--exr-type", "float"]
    for engine in ("hard", "movingcolor"):
        assert run_cli("fuse", *common, "--engine", engine, "--out", tmp_path / engine / "f.#.exr") == 0
    for number in (1, 2, 3):
        hard = read_pixels(tmp_path / "hard" / f"f.{number}.exr")
        assert np.array_equal(read_pixels(tmp_path / "movingcolor" / f"f.{number}.exr"), hard), number
