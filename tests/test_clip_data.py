"""Training clips of real footage (frames with a true object mask), and matte errors drawn over
the full range, from nearly right to beyond the band."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import numpy as np
import pytest
from scipy import ndimage

torch = pytest.importorskip("torch")

from conftest import CLIPS  # noqa: E402
from movingcolor.bench.real_clips import DAVIS_FOLDER, HELD_OUT_CLIPS  # noqa: E402
from movingcolor.errors import MovingColorError  # noqa: E402
from movingcolor.frames.image_io import write_image  # noqa: E402
from movingcolor.model.channels import GRADED, PLATE  # noqa: E402
from movingcolor.training import data  # noqa: E402
from movingcolor.training.clip_data import clip_folder, draw_footage, frame_pairs, frame_runs  # noqa: E402
from movingcolor.training.config import TrainConfig  # noqa: E402
from movingcolor.training.data import make_batch  # noqa: E402
from movingcolor.training.export import export_model  # noqa: E402
from movingcolor.training.trainer import Trainer  # noqa: E402

EXPERIMENT = "lite-guided-real-cpu"  # a built-in configuration


def _clip_folder(root: Path, frames: int = 6, height: int = 96, width: int = 128) -> Path:
    """A clip folder laid out like the DAVIS clips: frames/ (8-bit PNGs) and mask/, a disc with
    a hard edge moving across a textured background."""
    (root / "frames").mkdir(parents=True)
    (root / "mask").mkdir()
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:height, :width].astype(np.float32)
    for t in range(frames):
        mask = (yy - height / 2) ** 2 + (xx - width / 3 - 3 * t) ** 2 < (height / 4) ** 2
        background = np.stack([0.2 + 0.5 * xx / width, 0.3 + 0.4 * yy / height, 0.4 + 0 * xx], axis=-1)
        plate = np.where(mask[..., None], [0.8, 0.5, 0.2], background)
        plate = np.clip(plate + 0.03 * rng.standard_normal(plate.shape), 0, 1).astype(np.float32)
        write_image(root / "frames" / f"{t:05d}.png", plate)
        write_image(root / "mask" / f"{t:05d}.png", mask[..., None].astype(np.float32), channels=("Y",))
    return root


def _real_batch(folder: Path | str, step: int = 0, **settings) -> data.Batch:
    return make_batch(
        4, step, "regional", 2, 4, 3, 48, 64, clip_folders=(str(folder),), clip_fraction=1.0, **settings
    )


def test_a_batch_of_real_clips_is_shaped_and_composed_like_any_regional_batch(tmp_path):
    batch = _real_batch(_clip_folder(tmp_path / "clip"))
    assert batch.inputs.shape == (2, 4, 11, 48, 64)
    for name in ("target_alpha", "band", "matte"):
        assert getattr(batch, name).shape == (2, 4, 1, 48, 64)
    assert batch.target_rgb.shape == (2, 4, 3, 48, 64) and batch.band_pixels.shape == (2, 4)
    assert batch.band.sum() > 0, "every crop holds part of the object's edge"
    # The truth is the graded plate composited over the plate through the true alpha.
    plate, graded, alpha = batch.inputs[:, :, PLATE], batch.inputs[:, :, GRADED], batch.target_alpha
    assert np.allclose(batch.target_rgb, alpha * graded + (1 - alpha) * plate, atol=1e-5)


def test_the_true_alpha_is_soft_only_at_the_masks_edge(tmp_path):
    folder = _clip_folder(tmp_path / "clip")
    rng = np.random.default_rng(1)
    soft_clips = 0
    for _ in range(6):
        _, alpha = draw_footage(rng, (folder,), 3, 48, 64)
        inside = alpha >= 0.5
        across = np.where(
            inside, ndimage.distance_transform_edt(inside), ndimage.distance_transform_edt(~inside)
        )
        soft = (alpha > 0) & (alpha < 1)
        soft_clips += bool(soft.any())
        assert across[soft].max(initial=0) <= 1.5, "soft pixels sit next to the edge"
    assert soft_clips == 6, "a resized hard mask has a soft edge"


def test_real_clip_batches_are_a_function_of_seed_and_step(tmp_path):
    folder = _clip_folder(tmp_path / "clip")
    a, b, c = _real_batch(folder, 3), _real_batch(folder, 3), _real_batch(folder, 4)
    for name in ("inputs", "target_alpha", "target_rgb", "band", "matte"):
        assert np.array_equal(getattr(a, name), getattr(b, name))
    assert a.grades == b.grades
    assert not np.array_equal(a.inputs, c.inputs)


def test_a_wrong_clip_folder_is_named_with_the_layout_expected(tmp_path, monkeypatch):
    with pytest.raises(MovingColorError, match=r"nowhere does not exist; .*mask/"):
        _real_batch(tmp_path / "nowhere")
    frames_only = _clip_folder(tmp_path / "frames-only")
    for path in (frames_only / "mask").iterdir():
        path.unlink()
    with pytest.raises(MovingColorError, match=r"frames-only holds no frames with masks; .*mask/"):
        _real_batch(frames_only)
    monkeypatch.delenv("MOVINGCOLOR_TEST_CLIPS", raising=False)
    with pytest.raises(MovingColorError, match=r"\$MOVINGCOLOR_TEST_CLIPS is not set; set it to the folder"):
        _real_batch("${MOVINGCOLOR_TEST_CLIPS}/cows")
    # Set but empty, it made the folder /cows, and the error named that alone.
    monkeypatch.setenv("MOVINGCOLOR_TEST_CLIPS", "")
    with pytest.raises(MovingColorError, match=r"\$MOVINGCOLOR_TEST_CLIPS is empty; set it to the folder"):
        _real_batch("${MOVINGCOLOR_TEST_CLIPS}/cows")
    # A folder whose own name holds a "$" is taken as it is, not as a variable.
    literal = _clip_folder(tmp_path / "v$1")
    assert clip_folder(str(literal)) == literal
    monkeypatch.setenv("MOVINGCOLOR_TEST_CLIPS", str(tmp_path))
    _clip_folder(tmp_path / "cows")
    assert _real_batch("${MOVINGCOLOR_TEST_CLIPS}/cows").inputs.shape[0] == 2
    with pytest.raises(MovingColorError, match="holds 6 frames with masks; training clips take 9"):
        make_batch(0, 0, "regional", 1, 9, 3, 48, 64, clip_folders=(str(tmp_path / "cows"),), clip_fraction=1)


def test_real_footage_and_matte_error_settings_are_checked(tmp_path):
    base = TrainConfig().to_dict()
    with pytest.raises(MovingColorError, match="clip_fraction must be between 0 and 1"):
        TrainConfig.from_dict({**base, "clip_fraction": 1.5, "clip_folders": ["a"]})
    with pytest.raises(MovingColorError, match="needs clip_folders"):
        TrainConfig.from_dict({**base, "clip_fraction": 0.5})
    with pytest.raises(MovingColorError, match="clip_folders must be a list"):
        TrainConfig.from_dict({**base, "clip_folders": "clips/cows"})
    with pytest.raises(MovingColorError, match="matte_errors must be one of"):
        TrainConfig.from_dict({**base, "matte_errors": "some"})
    config = TrainConfig.from_dict({**base, "clip_folders": ["~/clips/cows"], "clip_fraction": 0.5})
    assert config.clip_folders == ("~/clips/cows",), "kept as written: expanded where read"


def _edge(mask: np.ndarray) -> np.ndarray:
    """Pixels of ``mask`` with a neighbour outside it; the frame's border is no edge."""
    return mask & ~ndimage.binary_erosion(mask, border_value=1)


def _matte_errors(batch: data.Batch) -> list[tuple[float, float]]:
    """Per clip, on its first frame: the mean distance from the true edge to the matte's edge, and
    the share of the true edge that lies inside the band."""
    errors = []
    for alpha, matte, band in zip(batch.target_alpha, batch.matte, batch.band, strict=True):
        truth_edge, matte_edge = _edge(alpha[0, 0] >= 0.5), _edge(matte[0, 0] >= 0.5)
        distance = (
            ndimage.distance_transform_edt(~matte_edge)[truth_edge].mean() if matte_edge.any() else np.inf
        )
        errors.append((float(distance), float(band[0, 0][truth_edge].mean())))
    return errors


@pytest.mark.parametrize("source", ["photos", "real"])
def test_full_matte_errors_range_from_nearly_right_to_beyond_the_band(tmp_path, source):
    real = {"clip_folders": (str(_clip_folder(tmp_path / "clip")),), "clip_fraction": 1.0}
    settings = real if source == "real" else {"matte_errors": "full"}
    errors = []
    for step in range(60):  # beyond-band mattes are one draw in twenty
        errors += _matte_errors(make_batch(9, step, "regional", 2, 2, 2, 48, 64, **settings))
    nearly_right = sum(distance <= 1.0 for distance, _ in errors)
    beyond_band = sum(in_band == 0.0 for _, in_band in errors)
    usual = sum(1.0 < distance <= 8.0 and in_band > 0.5 for distance, in_band in errors)
    assert nearly_right >= 10 and beyond_band >= 2, (nearly_right, beyond_band)
    assert usual > len(errors) / 3, "most mattes are off by the usual few pixels"


# What make_batch returned with its settings at their defaults before real footage and the full
# range of matte errors were added, on a fixed set of photos: the generator's state after the
# batch (the random numbers drawn, exactly) and the arrays' sums (to a tolerance that absorbs
# the arithmetic of another CPU).
DEFAULT_BATCHES = [
    (
        (3, 0, "regional", {}),
        84350425731604092167831941806204217753,
        {"inputs": 110328.993, "target_alpha": 4742.65, "target_rgb": 36274.021, "matte": 5601.0},
    ),
    (
        (3, 1, "regional", {"matte_start": "guided"}),
        79783187173832689334323206055626091124,
        {"inputs": 84235.384, "target_alpha": 3445.335, "target_rgb": 33083.161, "matte": 4166.0},
    ),
    (
        (5, 2, "mixed", {"color_start": "composite", "fast_fraction": 0.5}),
        147592209689812268944673808533474633143,
        {"inputs": 115514.68, "target_alpha": 6020.93, "target_rgb": 36997.872, "matte": 5820.0},
    ),
    (
        (6, 0, "paper", {}),
        318995265673886910705693778795265971716,
        {"inputs": 90990.767, "target_alpha": 0.0, "target_rgb": 28045.796, "matte": 3381.0},
    ),
]


@pytest.mark.parametrize("case, state, sums", DEFAULT_BATCHES, ids=lambda v: str(v)[:30])
def test_default_settings_keep_the_batches_they_made_before(monkeypatch, case, state, sums):
    photos = tuple(
        np.random.default_rng(k).random((120 + 20 * k, 150 + 10 * k, 3), dtype=np.float32) for k in range(3)
    )
    monkeypatch.setattr(data, "photo_library", lambda: photos)
    generators = []
    default_rng = np.random.default_rng

    def recording(*args, **kwargs):
        generator = default_rng(*args, **kwargs)
        generators.append((args, generator))
        return generator

    monkeypatch.setattr(np.random, "default_rng", recording)
    seed, step, mode, settings = case
    defaults = {"clip_folders": (), "clip_fraction": 0.0, "matte_errors": "coarse"}
    batch = make_batch(seed, step, mode, 2, 4, 3, 48, 64, **settings, **defaults)
    generator = next(g for args, g in generators if args and list(args[0]) == [seed, step])
    assert generator.bit_generator.state["state"]["state"] == state, "the same random numbers were drawn"
    for name, expected in sums.items():
        total = float(np.asarray(getattr(batch, name), np.float64).sum())
        assert total == pytest.approx(expected, rel=2e-3, abs=1e-6), name


def test_a_training_step_reads_the_clip_folders_of_its_config(tmp_path):
    folder = _clip_folder(tmp_path / "clip")
    config = dataclasses.replace(
        TrainConfig.load("tiny-test"),
        mode="regional",
        clip_folders=(str(folder),),
        clip_fraction=1.0,
        matte_errors="full",
        gan_weight=0.0,
    )
    trainer = Trainer(config, tmp_path / "run")
    assert np.array_equal(
        trainer._batch(0, 0, "regional", 1).inputs,
        make_batch(0, 0, "regional", 1, 4, 3, 48, 64, clip_folders=(str(folder),), clip_fraction=1.0).inputs,
    )
    losses = trainer.train_step()
    assert all(np.isfinite(value) for value in losses.values())
    # The model card says what the model learned from.
    card = (
        export_model(trainer, tmp_path / "model", "real-test", "a test machine") / "MODEL_CARD.md"
    ).read_text()
    assert "Real footage: 100% of the regional clips" in card and "(clip):" in card
    assert "Matte errors: over the full range" in card


def test_the_real_footage_experiment_keeps_the_held_out_clips_out():
    config = TrainConfig.load(EXPERIMENT)
    names = {Path(folder).name for folder in config.clip_folders}
    assert names and not names & set(HELD_OUT_CLIPS)
    assert config.clip_fraction > 0 and config.matte_errors == "full"


@pytest.mark.clips
def test_a_batch_from_a_davis_clip(tmp_path):
    cows = CLIPS / DAVIS_FOLDER / "cows"
    if not (cows / "mask").is_dir():
        pytest.skip(
            f"DAVIS clips not found at {CLIPS / DAVIS_FOLDER}: they live outside the repository "
            f"(set MOVINGCOLOR_CLIPS to a copy of the clips folder to run this test)"
        )
    batch = make_batch(
        0,
        0,
        "regional",
        1,
        5,
        3,
        144,
        256,
        matte_start="guided",
        clip_folders=(str(cows),),
        clip_fraction=1.0,
    )
    assert batch.inputs.shape == (1, 5, 11, 144, 256) and np.isfinite(batch.inputs).all()
    alpha = batch.target_alpha
    assert 0 < (alpha >= 0.5).mean() < 1 and ((alpha > 0) & (alpha < 1)).any()
    assert batch.band.sum() > 0


def test_a_clip_folder_whose_masks_mark_no_edge_is_refused_naming_why(tmp_path):
    """0/1 label images (objects at 1/255), empty and full masks trained nothing, without a word."""
    from movingcolor.frames.image_io import read_pixels

    labels = _clip_folder(tmp_path / "labels")
    for path in sorted((labels / "mask").iterdir()):
        write_image(path, (read_pixels(path) > 0.5).astype(np.float32) / 255.0, channels=("Y",))
    with pytest.raises(MovingColorError, match=r"no mask reaches half .* 0 and 1 \(objects at 1/255\)"):
        _real_batch(labels)
    full = _clip_folder(tmp_path / "full")
    for path in sorted((full / "mask").iterdir()):
        write_image(path, np.ones((96, 128, 1), np.float32), channels=("Y",))
    with pytest.raises(MovingColorError, match="every pixel of every mask is the object"):
        _real_batch(full)


def test_a_clip_frame_named_in_another_encoding_is_named_to_rename(tmp_path):
    """A Latin-1 name (a frame of an old share) failed inside OpenImageIO with a TypeError."""
    folder = _clip_folder(tmp_path / "latin")
    for kind in ("frames", "mask"):
        os.rename(folder / kind / "00002.png", os.fsencode(folder / kind) + b"/caf\xe9.png")
    with pytest.raises(MovingColorError, match="is not UTF-8 text"):
        _real_batch(folder)


def _numbered_clip(root: Path, names: list[str], masked: list[str] | None = None, ext: str = ".png") -> Path:
    """A clip folder whose frame ``names[k]`` is grey ``20 k / 255`` all over (so a drawn frame says
    which it was), each with a disc mask (``masked``: only those names have one)."""
    (root / "frames").mkdir(parents=True)
    (root / "mask").mkdir()
    yy, xx = np.mgrid[:48, :64]
    disc = ((yy - 24) ** 2 + (xx - 32) ** 2 < 15**2)[..., None].astype(np.float32)
    for index, name in enumerate(names):
        write_image(root / "frames" / f"{name}{ext}", np.full((48, 64, 3), 20 * index / 255, np.float32))
        if masked is None or name in masked:
            write_image(root / "mask" / f"{name}.png", disc, channels=("Y",))
    return root


@pytest.mark.parametrize(
    "names",
    [[f"shot.{n}" for n in range(7, 13)], [f"sh010.{n:04d}" for n in range(9997, 10002)]],
    ids=["unpadded", "past-9999"],
)
def test_clip_frames_are_in_the_order_of_their_frame_numbers(tmp_path, names):
    """Names were compared as text unless all digits: shot.10 came before shot.7, and a shot padded to
    four digits that ran past 9999 was scrambled in time."""
    folder = _numbered_clip(tmp_path / "clip", names)
    assert [frame.stem for frame, _ in frame_pairs(clip_folder(folder, 4))] == names


def test_a_frame_without_a_mask_is_named_and_no_window_joins_its_neighbours(tmp_path, caplog):
    """A frame without a mask was dropped in silence, and its neighbours became adjacent frames in
    training windows: a jump in time the network was taught as motion."""
    names = [f"{n:05d}" for n in range(10)]
    folder = _numbered_clip(tmp_path / "clip", names, [name for name in names if name != "00005"])
    rng = np.random.default_rng(0)
    with caplog.at_level("WARNING", logger="movingcolor"):
        drawn = [
            np.rint(draw_footage(rng, (folder,), 4, 32, 48)[0][:, 0, 0, 0] * 255 / 20) for _ in range(40)
        ]
    assert "00005.png" in caplog.text and "without a mask" in caplog.text
    steps = {abs(int(b - a)) for frames in drawn for a, b in zip(frames, frames[1:], strict=False)}
    assert steps == {1}, "every window is of consecutive frames"
    assert {int(min(frames)) for frames in drawn} == {0, 1, 6}, "windows on both sides of the gap"
    with pytest.raises(MovingColorError, match="holds 9 frames with masks, at most 5 of them consecutive"):
        clip_folder(folder, 6)


def test_a_gap_in_a_clips_frame_numbers_is_said(tmp_path, caplog):
    """A clip with frame numbers missing (frames deleted, a render stopped) was split into runs without
    a word: a clip found to train on fewer windows than its frames suggest gave no reason."""
    names = [f"shot.{n:04d}" for n in [*range(1, 5), *range(9, 13), 20]]
    folder = _numbered_clip(tmp_path / "clip", names)
    with caplog.at_level("WARNING", logger="movingcolor"):
        runs = frame_runs(folder)
    assert [len(run) for run in runs] == [4, 4, 1]
    assert "frame numbers are missing (after shot.0004, after shot.0012)" in caplog.text
    assert "drawn only within runs of consecutive frames" in caplog.text
    caplog.clear()
    with caplog.at_level("WARNING", logger="movingcolor"):
        frame_runs(_numbered_clip(tmp_path / "whole", names[:4]))
    assert "missing" not in caplog.text


@pytest.mark.parametrize("kind", ["exr", "mov"])
def test_a_clip_folder_of_frames_training_does_not_read_says_so(tmp_path, kind):
    """A folder of EXR frames (or a movie) with masks was said to hold no frames with masks."""
    names = ["plate.1001", "plate.1002", "plate.1003"]
    if kind == "exr":
        folder = _numbered_clip(tmp_path / "clip", names, ext=".exr")
        found = "3 .exr files"
    else:
        folder = _numbered_clip(tmp_path / "clip", names)
        for frame in (folder / "frames").iterdir():
            frame.unlink()
        (folder / "frames" / "shot.mov").write_bytes(b"")
        found = "1 .mov file"
    with pytest.raises(MovingColorError, match=rf"holds {found}, which training does not read: .*\.png"):
        clip_folder(folder)
