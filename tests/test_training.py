"""Self-supervised training: random grades, random mattes, losses, the trainer and resume."""

from __future__ import annotations

import csv
import dataclasses
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from conftest import run_cli  # noqa: E402
from movingcolor.color.config import ColorConfig  # noqa: E402
from movingcolor.color.grade import parse_grade  # noqa: E402
from movingcolor.errors import MovingColorError  # noqa: E402
from movingcolor.model.channels import COARSE_MATTE  # noqa: E402
from movingcolor.model.checkpoint import load_checkpoint, save_checkpoint  # noqa: E402
from movingcolor.model.config import CONFIGS  # noqa: E402
from movingcolor.synthetic.shapes import smooth_path  # noqa: E402
from movingcolor.training.config import CONFIG_FOLDER, TrainConfig  # noqa: E402
from movingcolor.training.data import make_batch  # noqa: E402
from movingcolor.training.export import export_model  # noqa: E402
from movingcolor.training.random_grade import PAPER_RANGES, grade_function, random_grade, random_parametric  # noqa: E402
from movingcolor.training.trainer import LOSS_COLUMNS, RUN_MARKER, VALIDATION_SEED_OFFSET, Trainer  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
EXPERIMENTS = ROOT / "docs" / "training" / "experiments"


@pytest.mark.parametrize("path", sorted(CONFIG_FOLDER.glob("*.toml")), ids=lambda path: path.stem)
def test_every_shipped_training_config_is_valid(path):
    """Each shipped configuration is a recorded, rerunnable run: it must load as it stands."""
    config = TrainConfig.load(path.stem)
    assert config.network in CONFIGS
    assert config.steps > 0 and config.validate_every > 0


@pytest.mark.parametrize("path", sorted(EXPERIMENTS.glob("*.toml")), ids=lambda path: path.stem)
def test_every_recorded_experiment_still_loads_by_path(path):
    """Experiments that were not shipped are documentation, yet still rerunnable by their path."""
    config = TrainConfig.load(path)
    assert config.network in CONFIGS
    assert not (CONFIG_FOLDER / path.name).exists(), f"{path.name} is both shipped and an experiment"


@pytest.mark.parametrize(
    "settings, message",
    [
        ({"steps": "many"}, "steps must be a whole number, not 'many'"),
        ({"batch": 2.5}, "batch must be a whole number"),
        ({"steady_matte": 1}, "steady_matte must be true or false"),
        ({"learning_rate": "1e-4"}, "learning_rate must be a number"),
        ({"steps": -5}, "steps must be at least 1, not -5"),
        ({"checkpoint_every": 0}, "checkpoint_every must be at least 1"),
        ({"learning_rate": 0.0}, "learning_rate must be positive"),
        ({"gan_weight": -0.1}, "gan_weight must be 0 or more"),
    ],
)
def test_a_setting_of_the_wrong_type_or_sign_is_refused_before_training(settings, message):
    """A quoted number, a number for a switch or a negative count was taken (steps = -5 trained
    nothing and wrote a checkpoint): each is refused, naming the setting and what it takes."""
    with pytest.raises(MovingColorError, match=message):
        TrainConfig.from_dict(settings, "run.toml")
    assert TrainConfig.from_dict({"learning_rate": 1, "edge_contrast": 2}).learning_rate == 1


def test_the_shipped_model_was_trained_by_a_shipped_config():
    """The shipped weights record their last segment's settings: that segment ships with them."""
    import json

    recorded = json.loads((ROOT / "server/movingcolor/weights/default/config.json").read_text())
    assert TrainConfig.from_dict(recorded["training"]["config"]) == TrainConfig.load("lite-guided-real-cpu")


def test_random_grades_follow_the_papers_sampling():
    rng = np.random.default_rng(0)
    config = ColorConfig()
    counts = dict.fromkeys(PAPER_RANGES, 0)
    for _ in range(400):
        spec = random_parametric(rng)
        values = dict(part.split("=") for part in spec.split(";"))
        assert values, "every grade changes something"
        for name, value in values.items():
            low, high = PAPER_RANGES[name]
            assert low <= float(value) <= high
            counts[name] += 1
        parse_grade(spec, config)  # a valid --grade
    # Each adjustment is used about 20% of the time (one is forced when none was drawn).
    for count in counts.values():
        assert 60 < count < 130


def test_grade_function_moves_colours_as_documented():
    rgb = np.full((4, 3), [0.5, 0.4, 0.3], np.float32)
    warmer = grade_function("warmth=0.5")(rgb)
    assert warmer[0, 0] - warmer[0, 2] > 0.2  # warmer: more red than blue
    grey = grade_function("saturation=-1")(rgb)
    assert np.ptp(grey[0]) < 2e-3
    brighter = grade_function("slope=1.2;sat=1")(rgb)
    assert np.allclose(brighter, rgb * 1.2, atol=1e-4)
    assert random_grade(np.random.default_rng(3))


def test_random_lut_grades_are_lut_files_read_as_written(tmp_path, monkeypatch):
    """A share of training grades are random creative LUTs, as .cube files that OpenColorIO
    reads back exactly as written, visible and local (some colours move far more than others)."""
    from movingcolor.training import random_lut

    monkeypatch.setenv("MOVINGCOLOR_CACHE", str(tmp_path))
    rng = np.random.default_rng(7)
    specs = [random_grade(rng, lut_fraction=0.5) for _ in range(200)]
    luts = sorted({spec for spec in specs if spec.endswith(".cube")})
    assert 70 < sum(spec.endswith(".cube") for spec in specs) < 130 and len(luts) > 10
    for spec in luts[:4]:
        assert Path(spec).parent == tmp_path / "training-luts"
        assert parse_grade(spec, ColorConfig()).kind == "file"
        index = int(Path(spec).name.split("-")[1])
        apply = grade_function(spec)
        lattice = random_lut.lattice().astype(np.float32)
        assert np.abs(apply(lattice) - random_lut.look(lattice, index)).max() < 1e-5
        colours = rng.random((2000, 3)).astype(np.float32)
        graded = apply(colours)
        assert np.abs(graded - random_lut.look(colours, index)).max() < 0.03  # interpolation only
        change = np.abs(graded - colours).sum(-1)
        assert change.mean() > 0.05 and np.percentile(change, 95) > 2.5 * np.percentile(change, 5)
    with pytest.raises(MovingColorError, match="lut_fraction must be between 0 and 1"):
        TrainConfig.from_dict({"lut_fraction": 1.5})


def test_mask_motion_is_smooth_and_stays_in_frame():
    for seed in range(20):
        path = smooth_path(np.random.default_rng(seed), 48, 320, 180, margin=30)
        assert (
            (path.x >= 30).all() and (path.x <= 290).all() and (path.y >= 30).all() and (path.y <= 150).all()
        )
        speed = np.hypot(np.diff(path.x), np.diff(path.y))
        assert speed.max() < 0.2 * 320  # no jumps
        assert np.abs(np.diff(path.scale)).max() < 0.1


def _alpha_speed(batch) -> float:
    """Mean frame-to-frame travel of the true alpha's centroid, in pixels."""
    alpha = batch.target_alpha[:, :, 0]  # (B, T, H, W)
    yy, xx = np.mgrid[0 : alpha.shape[2], 0 : alpha.shape[3]]
    mass = alpha.sum((2, 3))
    centre = np.stack([(alpha * yy).sum((2, 3)) / mass, (alpha * xx).sum((2, 3)) / mass], -1)
    return float(np.linalg.norm(np.diff(centre, axis=1), axis=-1).mean())


def test_fast_clips_move_faster_and_leave_other_runs_unchanged():
    slow = [make_batch(7, step, "regional", 2, 5, 5, 112, 160) for step in range(6)]
    fast = [make_batch(7, step, "regional", 2, 5, 5, 112, 160, fast_fraction=1.0) for step in range(6)]
    slow_speed = np.mean([_alpha_speed(b) for b in slow])
    fast_speed = np.mean([_alpha_speed(b) for b in fast])
    assert fast_speed > 2.5 * slow_speed, (slow_speed, fast_speed)
    # No share of fast clips asked for: the random sequence is the one runs had before it existed.
    unchanged = make_batch(7, 0, "regional", 2, 5, 5, 112, 160, fast_fraction=0.0)
    assert np.array_equal(unchanged.inputs, slow[0].inputs)
    with pytest.raises(Exception, match="fast_fraction must be between 0 and 1"):
        TrainConfig.from_dict({"fast_fraction": 1.5})


def test_batches_are_a_function_of_seed_and_step():
    a = make_batch(1, 5, "mixed", 1, 4, 3, 48, 64)
    b = make_batch(1, 5, "mixed", 1, 4, 3, 48, 64)
    c = make_batch(1, 6, "mixed", 1, 4, 3, 48, 64)
    assert np.array_equal(a.inputs, b.inputs) and not np.array_equal(a.inputs, c.inputs)
    regional = make_batch(2, 0, "regional", 1, 4, 3, 48, 64)
    # The matte channel is coarse (binary) while the true alpha is soft.
    assert set(np.unique(regional.inputs[0, :, 10])) <= {0.0, 1.0}
    assert regional.band.any()


def test_a_guided_start_carries_the_guided_engines_matte():
    from movingcolor.engines.guided_filter import guided_mattes

    coarse = make_batch(2, 0, "regional", 1, 4, 3, 48, 64)
    guided = make_batch(2, 0, "regional", 1, 4, 3, 48, 64, matte_start="guided")
    # Same clip, same coarse matte; only channel A differs.
    assert np.array_equal(coarse.inputs[:, :, :10], guided.inputs[:, :, :10])
    assert np.array_equal(coarse.matte, guided.matte)
    assert np.array_equal(coarse.inputs[:, :, 10:], coarse.matte)
    plate = guided.inputs[0, :, 0:3].transpose(0, 2, 3, 1)
    matte = guided.matte[0, :, 0]
    start = guided.inputs[0, :, 10]
    assert np.array_equal(start, guided_mattes(plate, matte, list(guided.band_pixels[0])))
    assert len(np.unique(start)) > 2  # soft, unlike the coarse matte


def test_steadied_mattes_in_training_are_the_engines_and_keep_the_band():
    """``steady_matte``: a regional clip's mattes are the engine's steadied mattes of the same clip,
    the band stays the one drawn around the mattes as drawn, and the targets do not change."""
    pytest.importorskip("cv2")
    from movingcolor.engines.steady_matte import steadied_mattes

    drawn = make_batch(4, 0, "regional", 1, 6, 4, 96, 128)
    steady = make_batch(4, 0, "regional", 1, 6, 4, 96, 128, steady_matte=True)
    assert np.array_equal(drawn.band, steady.band) and np.array_equal(drawn.target_rgb, steady.target_rgb)
    plate = drawn.inputs[0, :, 0:3].transpose(0, 2, 3, 1)
    expected = steadied_mattes(drawn.matte[0, :, 0], plate, drawn.band[0, :, 0] > 0.5, drawn.band_pixels[0])
    assert np.array_equal(steady.matte[0, :, 0], np.stack(expected))
    assert not np.array_equal(steady.matte, drawn.matte)  # this clip's coarse matte chatters
    assert np.array_equal(steady.inputs[:, :, 10:], steady.matte)  # the network is given it


def test_fine_tuning_from_a_model_with_another_start_begins_at_the_new_start(tmp_path, test_model):
    """Initialised from a coarse-start model, a guided-start run's first prediction is the
    guided matte itself (the blend head restarts at zero), and validation reports it."""
    base = TrainConfig.load("tiny-test")
    config = dataclasses.replace(base, matte_start="guided", init="tiny-random")
    trainer = Trainer(config, tmp_path)
    donor = load_checkpoint(test_model).network.state_dict()
    for key, value in trainer.network.state_dict().items():
        if not key.startswith("blend_decoder.head"):
            assert torch.equal(value, donor[key]), key
    scores = trainer.validate()
    assert scores["band_l1"] == pytest.approx(scores["start_band_l1"], abs=1e-7)
    assert scores["start_band_l1"] != pytest.approx(scores["hard_band_l1"], abs=1e-6)
    with pytest.raises(Exception, match="same configuration"):
        Trainer(dataclasses.replace(base, network="lite", init="tiny-random"), tmp_path / "other")


def _guided_model(folder: Path) -> Path:
    """A tiny model with trained-looking heads that start from the guided matte and the composite,
    its edge curve slope 2: as the shipped model is, but tiny."""
    from conftest import live_heads
    from movingcolor.model.registry import create_network

    network = create_network("tiny", seed=0, matte_start="guided", color_start="composite", edge_contrast=2.0)
    return save_checkpoint(live_heads(network), folder, "tiny-guided", "# test\n")


def test_a_fine_tune_that_leaves_the_heads_settings_out_continues_its_models_heads(tmp_path, caplog):
    """With init set and matte_start/color_start left out, the config's defaults (coarse, plate) won:
    the model's trained blend head was zeroed and the run started from the coarse matte, while the
    model card said it was initialised from the model."""
    model = _guided_model(tmp_path / "tiny-guided")
    config = dataclasses.replace(TrainConfig.load("tiny-test"), init=str(model), gan_weight=0.0)
    with caplog.at_level("WARNING", logger="movingcolor"):
        trainer = Trainer(config, tmp_path / "run")
    started = trainer.network.config
    assert (started.matte_start, started.color_start, started.edge_contrast) == ("guided", "composite", 2.0)
    donor = load_checkpoint(model).network.state_dict()
    assert all(torch.equal(value, donor[key]) for key, value in trainer.network.state_dict().items())
    assert "restarts at zero" not in caplog.text
    trainer.train(steps=1)
    # A later segment keeps the heads it started with, though the model is gone.
    shutil.rmtree(model)
    resumed = Trainer(config, tmp_path / "run")
    assert resumed.resume() and resumed.network.config.matte_start == "guided"
    card = (export_model(resumed, tmp_path / "model", "ft", "a test machine") / "MODEL_CARD.md").read_text()
    assert "Starting matte of the blend head: guided" in card and "re-initialised" not in card


def test_a_fine_tune_that_sets_another_start_says_its_head_restarts(tmp_path, caplog):
    """A config that sets a start other than its init model's restarts that head at zero: the log
    and the exported model card say so (the card said only "Initialised from")."""
    model = _guided_model(tmp_path / "tiny-guided")
    config = dataclasses.replace(
        TrainConfig.load("tiny-test"), init=str(model), matte_start="coarse", gan_weight=0.0
    )
    with caplog.at_level("WARNING", logger="movingcolor"):
        trainer = Trainer(config, tmp_path / "run")
    assert "matte_start = 'coarse' where the model's is 'guided'" in caplog.text
    assert "restarts at zero" in caplog.text and "color_start" not in caplog.text
    assert not trainer.network.blend_decoder.head.weight.any()
    assert trainer.network.config.color_start == "composite"
    trainer.train(steps=1)
    resumed = Trainer(config, tmp_path / "run")  # the card of a later segment says it too
    assert resumed.resume()
    card = (export_model(resumed, tmp_path / "model", "ft", "a test machine") / "MODEL_CARD.md").read_text()
    assert f"Initialised from: {model}; its blend head re-initialised: matte_start 'coarse'" in card


def test_a_fine_tune_resumes_without_the_model_it_started_from(tmp_path, test_model):
    """Its checkpoint holds every weight: a later segment on a host where the starting model is not
    installed resumes (it failed, naming the model it did not need)."""
    config = dataclasses.replace(TrainConfig.load("tiny-test"), init=str(test_model))
    Trainer(config, tmp_path / "run").train(steps=2)
    moved = dataclasses.replace(config, init=str(tmp_path / "not-installed-here"))
    resumed = Trainer(moved, tmp_path / "run")
    assert resumed.resume() and resumed.step == 2
    with pytest.raises(MovingColorError, match="not-installed-here"):
        Trainer(moved, tmp_path / "fresh")


def test_a_coarse_matte_input_ends_the_inputs_with_the_coarse_matte():
    without = make_batch(2, 0, "regional", 1, 4, 3, 48, 64, matte_start="guided")
    with_it = make_batch(2, 0, "regional", 1, 4, 3, 48, 64, matte_start="guided", coarse_matte_input=True)
    assert with_it.inputs.shape[2] == 12
    assert np.array_equal(with_it.inputs[:, :, :11], without.inputs)
    assert np.array_equal(with_it.inputs[:, :, COARSE_MATTE], without.matte)


def test_a_run_that_adds_the_coarse_matte_input_starts_as_its_model(tmp_path, test_model):
    """Started from a model without the input, the new input's weights are zero and the rest are
    the model's: the first prediction is the model's own."""
    base = TrainConfig.load("tiny-test")
    trainer = Trainer(dataclasses.replace(base, init="tiny-random", coarse_matte_input=True), tmp_path)
    donor = load_checkpoint(test_model).network.eval()
    stem = "encoder.layers.0.0.weight"
    weights, donor_weights = trainer.network.state_dict(), donor.state_dict()
    assert trainer.network.config.in_channels == 12 and weights[stem].shape[1] == 12
    assert torch.equal(weights[stem][:, :11], donor_weights[stem])
    assert not weights[stem][:, 11:].any()
    for key, value in weights.items():
        if key != stem:
            assert torch.equal(value, donor_weights[key]), key
    batch = trainer._batch(base.seed, 0, "regional", 1)
    x = torch.from_numpy(batch.inputs)
    with torch.inference_mode():
        widened, own = trainer.network.eval()(x, batch.local), donor(x[:, :, :11], batch.local)
    # Zero weights add nothing, though a convolution over twelve channels may sum in another order.
    assert torch.allclose(widened, own, atol=1e-6)
    # The input is learned from the first step: its weights get a gradient.
    trainer.network.train()
    trainer.train_step()
    assert trainer.network.state_dict()[stem][:, 11:].any()
    # A model that reads the coarse matte cannot start a run whose network does not.
    widened = save_checkpoint(trainer.network, tmp_path / "widened", "tiny-widened", "# test weights\n")
    with pytest.raises(MovingColorError, match="set coarse_matte_input = true"):
        Trainer(dataclasses.replace(base, init=str(widened)), tmp_path / "narrow")


def test_the_temporal_loss_penalises_flicker_not_motion():
    from movingcolor.training.losses import temporal_l1

    rng = np.random.default_rng(0)
    truth = torch.from_numpy(rng.random((1, 5, 3, 16, 16), dtype=np.float32))  # content that moves
    band = torch.ones(1, 5, 1, 16, 16)
    steady_error = truth + 0.05  # wrong, but wrong the same way every frame: no flicker
    flicker = truth + torch.tensor([0.0, 0.05, 0.0, 0.05, 0.0]).reshape(1, 5, 1, 1, 1)
    assert float(temporal_l1(truth, truth, band)) == 0.0
    assert float(temporal_l1(steady_error, truth, band)) < 1e-6
    assert float(temporal_l1(flicker, truth, band)) == pytest.approx(0.05, rel=1e-4)
    outside = torch.zeros_like(band)
    assert float(temporal_l1(flicker, truth, outside)) == 0.0


def test_training_scores_the_matte_through_the_products_edge_curve():
    """The blend head is trained on the matte the product shows (engines/crisp_edge.py): the same
    values, and a gradient even where the curve clamps, so a matte on the wrong side of it still
    learns which way to move."""
    from movingcolor.engines.crisp_edge import crisp_edge
    from movingcolor.training.edge_curve import steepened

    values = np.linspace(0, 1, 41, dtype=np.float32).reshape(1, 41)
    alpha = torch.from_numpy(values).requires_grad_()
    curved = steepened(alpha, 4.0)
    assert np.abs(curved.detach().numpy() - crisp_edge(values, np.ones_like(values, bool), 4.0)).max() < 1e-6
    # 0.2 becomes 0 where the truth is 0.6: the loss's gradient still raises it.
    (curved - 0.6).abs().sum().backward()
    assert alpha.grad[0, 8] < 0 and values[0, 8] == pytest.approx(0.2)
    assert steepened(alpha, 1.0) is alpha


def test_a_run_records_the_edge_curve_it_trained_through_in_the_model(tmp_path):
    """A run's edge_contrast reaches its network and the exported model; a slope under 1 (which
    would soften the edge the filter found) is refused with what to write."""
    from movingcolor.training.export import export_model

    config = dataclasses.replace(TrainConfig.load("tiny-test"), mode="regional", edge_contrast=2.5, steps=1)
    trainer = Trainer(config, tmp_path / "run")
    assert trainer.network.config.edge_contrast == 2.5
    export_model(trainer, tmp_path / "model", "tiny-curved", "test")
    assert load_checkpoint(tmp_path / "model").network.config.edge_contrast == 2.5
    with pytest.raises(MovingColorError, match="edge_contrast must be at least 1"):
        TrainConfig.from_dict({**TrainConfig.load("tiny-test").to_dict(), "edge_contrast": 0.5})


def test_a_run_can_train_without_the_edge_curve_and_export_with_it(tmp_path):
    """As the shipped weights were made: trained with no curve (slope 1), run with the product's.
    The exported model records the slope it runs with, the run's own network keeps training's, and
    the model card says both."""
    from movingcolor.training.export import export_model

    base = TrainConfig.load("tiny-test")
    config = dataclasses.replace(base, mode="regional", edge_contrast=1.0, export_edge_contrast=4.0, steps=1)
    trainer = Trainer(config, tmp_path / "run")
    export_model(trainer, tmp_path / "model", "tiny-exported-curve", "test")
    exported = load_checkpoint(tmp_path / "model")
    assert exported.network.config.edge_contrast == 4.0 and trainer.network.config.edge_contrast == 1.0
    for key, value in trainer.network.state_dict().items():
        assert torch.equal(value, exported.network.state_dict()[key]), key
    assert "trained through slope 1, runs with slope 4" in (tmp_path / "model" / "MODEL_CARD.md").read_text()
    with pytest.raises(MovingColorError, match="export_edge_contrast must be at least 1"):
        TrainConfig.from_dict({**config.to_dict(), "export_edge_contrast": 0.5})


def test_a_few_steps_lower_the_loss_on_a_fixed_batch(tmp_path):
    """Optimisation steps on one batch take its loss well below where it started.

    The step size keeps the descent smooth, so where it ends does not hang on the CPU's
    float rounding: the loss ends at 0.57 to 0.60 of its start on every SIMD path and
    thread count tried, and with its gradients perturbed by up to one part in 10⁴. With a
    step ten times larger this small network's loss bounces around its start and ends
    anywhere from 0.8 to 2.4 times it, as the rounding falls. Training that does not work
    (no gradient reaching the weights, a zero step, descent the wrong way) leaves the loss
    at or above its start."""
    config = TrainConfig.load("tiny-test")
    trainer = Trainer(config, tmp_path)
    batch = make_batch(0, 0, "regional", 2, config.frames, config.local, config.height, config.width)
    tensors = trainer._tensors(batch)
    optimiser = torch.optim.Adam(trainer.network.parameters(), lr=1e-3)

    def loss() -> torch.Tensor:
        _, losses = trainer._forward(batch, tensors)
        return sum(losses.values())

    first = float(loss().detach())
    for _ in range(30):
        optimiser.zero_grad()
        value = loss()
        value.backward()
        optimiser.step()
    last = float(loss().detach())
    assert last < 0.8 * first, (first, last)


def test_training_one_head_leaves_the_other_exactly_as_it_was(tmp_path):
    """A colour head trained onto a model: every other block, batch-norm statistics included,
    keeps its values, so the blend head's output is unchanged; validation scores the colour
    head against the plate's own colours in the band (its output before training)."""
    config = dataclasses.replace(TrainConfig.load("tiny-test"), mode="paper", train_only=("color_decoder",))
    trainer = Trainer(config, tmp_path)
    before = {k: v.clone() for k, v in trainer.network.state_dict().items()}
    scores = trainer.validate()
    assert {"band_l1", "plate_band_l1", "band_delta_e", "plate_band_delta_e"} <= set(scores)
    assert "hard_band_l1" not in scores
    trainer.train(steps=3)
    after = trainer.network.state_dict()
    changed = {k.split(".")[0] for k in before if not torch.equal(before[k], after[k])}
    assert changed == {"color_decoder"}
    with pytest.raises(Exception, match=r"train_only names \['colour_head'\].*color_decoder"):
        Trainer(dataclasses.replace(config, train_only=("colour_head",)), tmp_path / "other")


def test_composite_clips_show_the_colour_head_only_the_hosts_composite():
    regional = make_batch(4, 0, "regional", 1, 4, 3, 48, 64)
    composite = make_batch(4, 0, "composite", 1, 4, 3, 48, 64)
    matte = regional.matte[:, :, 0][:, :, None]
    plate, graded = regional.inputs[:, :, 0:3], regional.inputs[:, :, 7:10]
    # The same clip; where the graded plate was, the whole hard composite through the coarse matte.
    assert np.array_equal(composite.inputs[:, :, :7], regional.inputs[:, :, :7])
    assert np.allclose(composite.inputs[:, :, 7:10], matte * graded + (1 - matte) * plate, atol=1e-6)
    assert np.array_equal(composite.target_rgb, regional.target_rgb)
    mixed = {
        make_batch(4, step, "mixed", 1, 4, 3, 48, 64, color_start="composite").mode for step in range(12)
    }
    assert mixed == {"regional", "composite"}


def test_a_colour_head_that_starts_from_the_composite_begins_as_the_hard_composite(tmp_path):
    base = TrainConfig.load("tiny-test")
    config = dataclasses.replace(base, color_start="composite", mode="composite", init="tiny-random")
    trainer = Trainer(config, tmp_path)
    scores = trainer.validate()
    assert scores["band_l1"] == pytest.approx(scores["hard_band_l1"], abs=1e-7) and scores["band_l1"] > 0
    bad = tmp_path / "paper-composite.toml"
    bad.write_text('network = "tiny"\nmode = "paper"\ncolor_start = "composite"\n')
    with pytest.raises(Exception, match="learns nothing from paper clips"):
        TrainConfig.load(bad)


def test_the_learning_rate_decays_as_configured():
    constant = TrainConfig(learning_rate=1e-3, steps=10)
    assert {constant.learning_rate_at(s) for s in range(10)} == {1e-3}
    cosine = TrainConfig(learning_rate=1e-3, final_learning_rate=1e-4, steps=11)
    rates = [cosine.learning_rate_at(s) for s in range(11)]
    assert rates[0] == pytest.approx(1e-3) and rates[-1] == pytest.approx(1e-4)
    assert rates[5] == pytest.approx(5.5e-4)  # halfway down the cosine
    assert all(a > b for a, b in zip(rates, rates[1:], strict=False))


def test_resume_is_bit_for_bit(tmp_path):
    # With a decaying learning rate: the schedule is a function of the step, not of the process.
    config = dataclasses.replace(TrainConfig.load("tiny-test"), final_learning_rate=1e-5)
    straight = Trainer(config, tmp_path / "straight")
    straight.train(steps=4)
    first = Trainer(config, tmp_path / "split")
    first.train(steps=2)
    second = Trainer(config, tmp_path / "split")
    assert second.resume() and second.step == 2
    second.train(steps=4)
    for key, value in straight.network.state_dict().items():
        assert torch.equal(value, second.network.state_dict()[key]), key
    assert (tmp_path / "split" / "validation.csv").exists()
    for key, value in straight.discriminator.state_dict().items():
        assert torch.equal(value, second.discriminator.state_dict()[key]), key
    # The discriminator follows the generator's schedule.
    for optimiser in (second.optimiser, second.d_optimiser):
        assert optimiser.param_groups[0]["lr"] == pytest.approx(config.learning_rate_at(3))


def test_a_save_killed_between_its_renames_keeps_the_checkpoint(tmp_path):
    """A kill between setting the old checkpoint aside and putting the new one in place left no
    checkpoint/: the next run started again from step 0 and its first save removed the one good
    checkpoint. A kill while removing the old one jammed every later save. The rows a killed run
    logged past its checkpoint are not logged twice."""
    config = TrainConfig.load("tiny-test")
    first = Trainer(config, tmp_path / "run")
    first.train(steps=2)
    os.replace(first.checkpoint, tmp_path / "run" / ".checkpoint.old")  # killed between the renames
    (tmp_path / "run" / ".checkpoint-staging.abc").mkdir()  # and the staging folder it was writing
    with (tmp_path / "run" / "losses.csv").open("a") as log:
        log.write("3,0.1,0.1,0.1,0.1,0.1,0.5,0.1,9.0\n")  # a step the checkpoint never saw
    second = Trainer(config, tmp_path / "run")
    assert second.resume() and second.step == 2
    assert [row.split(",")[0] for row in (tmp_path / "run" / "losses.csv").read_text().split()[1:]] == [
        "1",
        "2",
    ]
    (tmp_path / "run" / ".checkpoint.old").mkdir()  # killed while removing the old checkpoint
    (tmp_path / "run" / ".checkpoint.old" / "generator.part000").write_bytes(b"half")
    second.train(steps=3)
    assert second.step == 3 and Trainer(config, tmp_path / "run").resume()
    hidden = sorted(p.name for p in (tmp_path / "run").iterdir() if p.name.startswith("."))
    assert hidden == [RUN_MARKER]  # no staging folder left, only the run's own marker


def test_a_damaged_run_a_full_disk_and_wrong_settings_are_errors_in_a_line(tmp_path, capsys, monkeypatch):
    """What a run's folder, its disk or its command line can get wrong is said in a sentence that
    names the fix (each was a Python traceback, or passed without a word)."""
    run = tmp_path / "run"

    def refused(*args) -> str:
        capsys.readouterr()
        assert run_cli("train", "--config", "tiny-test", *args) == 2
        return capsys.readouterr().err

    assert "past the config's 4 steps" in refused("--out", run, "--steps", "6")
    (tmp_path / "file").write_text("")
    assert "is a file; give a folder for the run" in refused("--out", tmp_path / "file")
    assert run_cli("train", "--config", "tiny-test", "--out", run, "--steps", "2") == 0
    (run / "checkpoint" / "generator.part000").write_bytes(b"half a part")
    assert f"{run / 'checkpoint'} is damaged: its generator cannot be read" in refused("--out", run)
    (run / "checkpoint" / "trainer.json").write_text("{not json")
    assert "trainer.json is damaged" in refused("--out", run)

    def full(*args, **options):
        raise OSError(28, "No space left on device")

    trainer = Trainer(TrainConfig.load("tiny-test"), tmp_path / "other")
    monkeypatch.setattr("movingcolor.training.trainer._save_split", full)
    with pytest.raises(MovingColorError, match="cannot write the checkpoint of step 0 .*No space left"):
        trainer.save()
    assert not list((tmp_path / "other").glob(".checkpoint*"))


def test_a_loss_that_is_not_finite_stops_the_run_before_the_step(tmp_path):
    """A learning rate far too high gives NaN losses: the run stops at the first one, naming it,
    with the weights of the last finite step in its checkpoint (they were trained on and saved as
    NaN, and a NaN validation always took the best weights' place)."""
    config = dataclasses.replace(TrainConfig.load("tiny-test"), learning_rate=1e12, checkpoint_every=1)
    trainer = Trainer(config, tmp_path / "run")
    with pytest.raises(MovingColorError, match=r"the loss is not finite at step \d+.*lower learning_rate"):
        trainer.train(steps=4)
    assert not (tmp_path / "run" / "best").exists()
    saved = Trainer(config, tmp_path / "run")  # the checkpoint of the last finite step, not after it
    assert saved.resume() and saved.step == trainer.step
    assert all(torch.isfinite(value).all() for value in saved.network.state_dict().values())
    trainer._keep_best({"band_delta_e": 1.0})
    trainer._keep_best({"band_delta_e": float("nan")})
    assert json.loads((tmp_path / "run" / "best" / "best.json").read_text())["score"] == 1.0


def test_sigterm_stops_a_run_with_its_checkpoint_written(tmp_path):
    """A farm's stop (SIGTERM) ends the run as Ctrl-C does: the checkpoint is written on the way out
    (nothing was), and the command says it was stopped, with SIGTERM's exit status 143 (it exited
    130, Ctrl-C's, which a farm's wrapper takes for a user's interrupt)."""
    long = tmp_path / "long.toml"  # tiny-test, long enough to be stopped, never saving on its own
    text = (CONFIG_FOLDER / "tiny-test.toml").read_text()
    for setting in ("steps = 4", "checkpoint_every = 2", "validate_every = 2"):
        text = text.replace(setting, setting.split("=")[0] + "= 100000")
    long.write_text(text)
    command = [sys.executable, "-m", "movingcolor.cli.main", "train", "--config", str(long), "--out",
               str(tmp_path / "run")]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    losses = tmp_path / "run" / "losses.csv"
    deadline = time.monotonic() + 120
    while not (losses.exists() and len(losses.read_text().split()) > 2) and time.monotonic() < deadline:
        time.sleep(0.2)
    process.send_signal(signal.SIGTERM)
    _, error = process.communicate(timeout=120)
    assert process.returncode == 143 and "stopped (SIGTERM)" in error, error
    state = json.loads((tmp_path / "run" / "checkpoint" / "trainer.json").read_text())
    assert state["step"] >= 2


def test_sigterm_while_a_run_is_resumed_exits_143(tmp_path):
    """A SIGTERM while the command set a run up (the model loaded, the checkpoint read) killed it
    without a word or an exit status of its own; it is answered as everywhere else, and the
    checkpoint is kept."""
    run = tmp_path / "run"
    first = [
        sys.executable,
        "-m",
        "movingcolor.cli.main",
        "train",
        "--config",
        "tiny-test",
        "--out",
        str(run),
    ]
    subprocess.run([*first, "--steps", "2"], check=True, capture_output=True)
    process = subprocess.Popen(first, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert process.stdout.readline().startswith("resuming")
    process.send_signal(signal.SIGTERM)
    _, error = process.communicate(timeout=120)
    assert process.returncode == 143 and "stopped (SIGTERM)" in error, (process.returncode, error)
    assert json.loads((run / "checkpoint" / "trainer.json").read_text())["step"] >= 2


def test_a_run_that_fails_before_its_first_step_leaves_no_checkpoint(tmp_path, monkeypatch):
    """A configuration naming a clip folder that is not there failed at its first batch, but a
    checkpoint of step 0 was written with it, and the corrected configuration was then refused as
    another run's in that folder."""
    broken = tmp_path / "broken.toml"
    text = (CONFIG_FOLDER / "tiny-test.toml").read_text()
    broken.write_text(text + '\nclip_folders = ["${MOVINGCOLOR_CLIPS}/cows"]\nclip_fraction = 0.5\n')
    monkeypatch.setenv("MOVINGCOLOR_CLIPS", str(tmp_path / "no-clips"))
    run = tmp_path / "run"
    with pytest.raises(MovingColorError, match="does not exist"):
        Trainer(TrainConfig.load(str(broken)), run, workers=0).train(steps=1)
    assert not (run / "checkpoint" / "trainer.json").exists()
    fixed = Trainer(TrainConfig.load("tiny-test"), run, workers=0)
    fixed.clear_unfinished_start()
    assert not fixed.resume() and fixed.train(steps=1) == 1


def test_batches_made_by_workers_train_the_same_weights(tmp_path):
    """Batches made ahead in worker processes are the batches the run would make itself, so a run
    with workers ends on the same weights, bit for bit, as one without: a segment may be resumed on
    another machine with another number of cores."""
    config = TrainConfig.load("tiny-test")
    alone = Trainer(config, tmp_path / "alone", workers=0)
    alone.train(steps=3)
    helped = Trainer(config, tmp_path / "helped", workers=2)
    helped.train(steps=3)
    assert helped.step == 3 and helped._prefetcher is None  # the workers end with the segment
    for key, value in alone.network.state_dict().items():
        assert torch.equal(value, helped.network.state_dict()[key]), key
    with pytest.raises(MovingColorError, match="workers must be 0 or more"):
        Trainer(config, tmp_path / "wrong", workers=-1)


def test_validation_scores_the_configured_number_of_fixed_clips(tmp_path):
    config = dataclasses.replace(TrainConfig.load("tiny-test"), mode="regional", validation_batches=3)
    trainer = Trainer(config, tmp_path)
    first = trainer.validate()
    assert len(trainer._validation) == 3
    arguments = trainer._batch_arguments(config.seed + VALIDATION_SEED_OFFSET, "regional", 1)
    expected = [make_batch(step=i, config=ColorConfig(), **arguments) for i in range(3)]
    for kept, made in zip(trainer._validation, expected, strict=True):
        assert np.array_equal(kept.inputs, made.inputs)
    # The same clips each time: the baseline, which no training moves, scores the same.
    assert trainer.validate()["hard_band_l1"] == first["hard_band_l1"]
    with pytest.raises(MovingColorError, match="validation_batches must be at least 1"):
        TrainConfig.from_dict({**config.to_dict(), "validation_batches": 0})


def test_prefetched_batches_are_the_steps_own_in_any_order():
    from movingcolor.training.batch_prefetch import BatchPrefetcher

    arguments = {"seed": 4, "mode": "mixed", "batch": 1, "frames": 4, "local": 3, "height": 48, "width": 64}
    with BatchPrefetcher(arguments, workers=2) as prefetcher:
        # Forward as training asks, then a jump back (a resumed run's first step) and ahead.
        for step in (0, 1, 2, 1, 7):
            made = prefetcher.get(step)
            expected = make_batch(step=step, config=ColorConfig(), **arguments)
            assert made.mode == expected.mode and made.grades == expected.grades, step
            assert np.array_equal(made.inputs, expected.inputs), step
            assert np.array_equal(made.target_rgb, expected.target_rgb), step
        handed_over = prefetcher._folder
    # Batches made ahead and never used go with the prefetcher.
    assert not handed_over.exists()


def test_batch_workers_work_on_one_thread_each():
    """Workers share the cores between them: each on one thread, or a 16-core machine runs BLAS,
    OpenCV and OpenImageIO pools of 16 in each of 14 workers and every batch waits on the others."""
    from batch_worker_probe import worker_threads
    from movingcolor.training.batch_prefetch import BatchPrefetcher

    arguments = {"seed": 4, "mode": "mixed", "batch": 1, "frames": 4, "local": 3, "height": 48, "width": 64}
    with BatchPrefetcher(arguments, workers=1) as prefetcher:
        prefetcher.get(0)  # the worker has loaded what making a batch loads
        threads = prefetcher._pool.submit(worker_threads).result()
    assert set(threads["blas"].values()) == {1}, threads
    threads.pop("blas")
    assert threads == {"arrays": 1, "opencv": 1, "openimageio": 1}


def test_batch_workers_without_threadpoolctl_is_a_clear_error(monkeypatch):
    import importlib.util

    from movingcolor.errors import MissingDependencyError
    from movingcolor.training.batch_prefetch import BatchPrefetcher

    find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "threadpoolctl" else find_spec(name, *a)
    )
    arguments = {"seed": 4, "mode": "mixed", "batch": 1, "frames": 4, "local": 3, "height": 48, "width": 64}
    with pytest.raises(
        MissingDependencyError, match=r"pip install 'movingcolor\[server\]', or train with --workers 0"
    ):
        BatchPrefetcher(arguments, workers=1)


def test_loss_curves_reach_tensorboard_as_in_the_csv(tmp_path):
    pytest.importorskip("tensorboard")
    import csv

    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    config = TrainConfig.load("tiny-test")
    Trainer(config, tmp_path).train(steps=2)
    resumed = Trainer(config, tmp_path)  # a second segment adds to the same curves
    assert resumed.resume()
    resumed.train(steps=3)
    events = EventAccumulator(str(tmp_path / "tensorboard"))
    events.Reload()
    with (tmp_path / "losses.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    # By step: two segments' event files written in one second of one process sort by a counter
    # that runs as text (".10" before ".9"); TensorBoard draws the points by step.
    curve = sorted(events.Scalars("loss/total"), key=lambda point: point.step)
    assert [point.step for point in curve] == [1, 2, 3] == [int(row["step"]) for row in rows]
    for point, row in zip(curve, rows, strict=True):
        assert point.value == pytest.approx(float(row["total"]), abs=1e-6)
    assert [point.step for point in events.Scalars("validation/band_l1")] == [2]


def test_a_model_an_export_killed_between_its_renames_is_found_and_its_hidden_folders_are_not(
    tmp_path, monkeypatch
):
    """A kill between an export's two renames left only .NAME.<staging> and .NAME.old: the model was
    gone from --model and `movingcolor info` listed the hidden folders as installed models."""
    from movingcolor.model.registry import create_network, find_model, model_folders

    root = tmp_path / "models"
    network = create_network("tiny", seed=0)
    folder = save_checkpoint(network, root / "studio-ft", "studio-ft", "# test\n")
    shutil.copytree(folder, root / ".studio-ft.k3j9x")  # the staging folder it was swapping in
    os.replace(folder, root / ".studio-ft.old")  # killed between the renames
    monkeypatch.setenv("MOVINGCOLOR_MODELS", str(root))
    listed = {name: path for name, path in model_folders().items() if path.parent == root}
    assert listed == {"studio-ft": folder}
    assert find_model("studio-ft") == folder and load_checkpoint(folder).name == "studio-ft"
    # A model named by its folder, and loaded from it, is put back too.
    os.replace(folder, root / ".studio-ft.old")
    assert find_model(str(folder)) == folder
    os.replace(folder, root / ".studio-ft.old")
    assert load_checkpoint(folder).name == "studio-ft"


def test_an_export_clears_what_a_killed_export_of_this_machine_left_and_nothing_else(tmp_path):
    """An export killed while it wrote left its staging folder (a model's size, hidden) beside the
    model for good. The next export of that model clears those whose writer is gone (as temporaries
    judge it: a pid alone says nothing of a container's export on a host of the same name); one of a
    running export, or of another machine on shared storage, stays."""
    import subprocess

    from movingcolor.frames.temporaries import owner_name
    from movingcolor.model.registry import create_network

    root = tmp_path / "models"
    ended = subprocess.Popen([sys.executable, "-c", "pass"])
    ended.wait()
    running = owner_name()
    host, pid, tail = running.split("-")
    left = {
        "killed": root / f".studio-ft.export-{host}-{ended.pid}-{tail}.k3j9x",
        "running": root / f".studio-ft.export-{running}.a8f2q",
        "elsewhere": root / f".studio-ft.export-render07-{ended.pid}-{tail}.p0d1e",
        "other model": root / f".comp.export-{host}-{ended.pid}-{tail}.x1y2z",
    }
    for folder in left.values():
        folder.mkdir(parents=True)
        (folder / "model.safetensors").write_bytes(b"\0" * 1024)
    save_checkpoint(create_network("tiny", seed=0), root / "studio-ft", "studio-ft", "# test\n")
    kept = {what for what, folder in left.items() if folder.exists()}
    assert kept == {"running", "elsewhere", "other model"}
    assert not [p for p in root.glob(f".studio-ft.export-{host}-{os.getpid()}-*.*") if p != left["running"]]


def test_a_reader_of_models_never_removes_a_folder_beside_one(tmp_path, monkeypatch):
    """A reader put back what a killed export set aside by the swap's own rule, which removes a
    .NAME.old beside an existing NAME: listing the models removed a user's .studio-ft.old, and
    `--model work/comp` removed .comp.old (a Nuke script's backup). A reader between an export's
    two renames put the old model back, and the export failed with a traceback."""
    from movingcolor.folder_swap import aside, replace_folder, restore_for_reading
    from movingcolor.model.checkpoint import WHOLE_MODEL
    from movingcolor.model.registry import create_network, find_model, model_folders

    root = tmp_path / "models"
    folder = save_checkpoint(create_network("tiny", seed=0), root / "studio-ft", "studio-ft", "# test\n")
    shutil.copytree(folder, root / ".studio-ft.old")  # the user's own copy
    (tmp_path / "work" / "comp").mkdir(parents=True)
    (tmp_path / "work" / ".comp.old").mkdir()
    (tmp_path / "work" / ".comp.old" / "comp.nk").write_text("Root {}\n")
    monkeypatch.setenv("MOVINGCOLOR_MODELS", str(root))
    assert "studio-ft" in model_folders()
    find_model(str(tmp_path / "work" / "comp"))  # a folder, named as a model
    assert (root / ".studio-ft.old").is_dir() and (tmp_path / "work" / ".comp.old" / "comp.nk").is_file()
    # A reader between an export's renames: the export sets the old model aside again and goes on.
    staging = root / ".studio-ft.new"
    shutil.copytree(folder, staging)
    (staging / "MODEL_CARD.md").write_text("# the new one\n")
    shutil.rmtree(root / ".studio-ft.old")
    os.replace(folder, aside(folder))
    restore_for_reading(folder, WHOLE_MODEL)  # the reader
    assert (folder / "model.safetensors").is_file()
    replace_folder(staging, folder)
    assert (folder / "MODEL_CARD.md").read_text() == "# the new one\n" and not aside(folder).exists()


def test_train_command_exports_a_usable_model(tmp_path, demo_inputs, capsys):
    run = tmp_path / "run"
    assert (
        run_cli(
            "train",
            "--config",
            "tiny-test",
            "--out",
            run,
            "--steps",
            "2",
            "--export",
            tmp_path / "model",
            "--name",
            "tiny-trained",
        )
        == 0
    )
    loaded = load_checkpoint(tmp_path / "model")
    assert loaded.name == "tiny-trained" and "Steps: 2" in (tmp_path / "model" / "MODEL_CARD.md").read_text()
    names = {p.name for p in (run / "checkpoint").iterdir()}
    assert {"generator.part000", "optimiser.part000", "discriminator.part000", "trainer.json"} <= names
    assert all(p.stat().st_size <= 16 * 2**20 for p in (run / "checkpoint").iterdir())
    # An export never replaces what is not a model: the run folder, a folder of other files, or
    # the models installed with the package.
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "notes.txt").write_text("mine")
    from movingcolor.model.checkpoint import SHIPPED_MODELS

    # A model folder holding the run (--out model/run --export model) was replaced whole, run and
    # all; one holding anything but the model's files would lose them too.
    (tmp_path / "model" / "run").mkdir()
    (tmp_path / "model" / "run" / "losses.csv").write_text("step\n")
    refusals = {
        run: "holds the run folder",
        run.parent: "holds the run folder",
        precious: "holds files that are not a MovingColor model",
        SHIPPED_MODELS / "default": "models installed with MovingColor are not replaced",
        tmp_path / "model": "holds a model and also run, which replacing the model would delete",
    }
    for folder, refused in refusals.items():
        capsys.readouterr()
        code = run_cli("train", "--config", "tiny-test", "--out", run, "--steps", "2", "--export", folder)
        assert code == 2 and refused in capsys.readouterr().err
    assert (precious / "notes.txt").read_text() == "mine" and (run / "checkpoint").is_dir()
    assert (tmp_path / "model" / "run" / "losses.csv").is_file()
    shutil.rmtree(tmp_path / "model" / "run")
    assert load_checkpoint(SHIPPED_MODELS / "default").name != "tiny-test"
    # Resuming with another configuration is refused.
    other = tmp_path / "other.toml"
    other.write_text(
        'network = "tiny"\nsteps = 3\n'
        'height = 48\nwidth = 64\nframes = 4\nlocal = 3\nbatch = 1\ndevice = "cpu"\n'
    )
    capsys.readouterr()
    assert run_cli("train", "--config", other, "--out", run, "--steps", "3") == 2
    assert "a different configuration (" in capsys.readouterr().err
    plate, matte = demo_inputs
    assert (
        run_cli(
            "fuse",
            "--plate",
            plate,
            "--matte",
            matte,
            "--grade",
            "warmth=0.3",
            "--engine",
            "movingcolor",
            "--model",
            tmp_path / "model",
            "--frames",
            "1001-1002",
            "--out",
            tmp_path / "out",
        )
        == 0
    )


def test_a_fine_tune_exported_without_a_name_never_takes_an_installed_models_name(tmp_path, capsys):
    """The documented fine-tune config keeps the shipped model's name: exported without --name, the
    fine-tune recorded the shipped model's name in every frame it fused."""
    config = tmp_path / "ft.toml"
    tiny = (CONFIG_FOLDER / "tiny-test.toml").read_text().replace("movingcolor-tiny-test", "tiny-random")
    config.write_text(tiny.replace("steps = 4", "steps = 1").replace("gan_weight = 0.01", "gan_weight = 0.0"))
    train = ("train", "--config", config, "--out", tmp_path / "run", "--export")
    assert run_cli(*train, tmp_path / "studio-ft") == 0
    assert load_checkpoint(tmp_path / "studio-ft").name == "studio-ft"
    assert "exported model is named studio-ft, after its folder" in capsys.readouterr().err
    # Named on purpose, the name is kept, with a warning; a folder named as an installed model too
    # leaves no name to take.
    assert run_cli(*train, tmp_path / "ft2", "--name", "tiny-random") == 0
    assert load_checkpoint(tmp_path / "ft2").name == "tiny-random"
    assert "--name tiny-random is the name of the installed model" in capsys.readouterr().err
    assert run_cli(*train, tmp_path / "more" / "tiny-random") == 2
    assert "give --name NAME" in capsys.readouterr().err


def test_the_model_card_says_how_a_colour_head_run_was_trained(tmp_path):
    from movingcolor.training.export import export_model

    config = dataclasses.replace(
        TrainConfig.load("tiny-test"),
        mode="composite",
        color_start="composite",
        fast_fraction=0.5,
        final_learning_rate=1e-5,
    )
    trainer = Trainer(config, tmp_path / "run")
    trainer.train(steps=1)
    export_model(trainer, tmp_path / "model", "tiny-colour", "a test machine")
    card = (tmp_path / "model" / "MODEL_CARD.md").read_text()
    assert "Mode: composite (the colour head" in card
    assert "Fast motion: 50% of the clips" in card
    assert f"learning rate {config.learning_rate:g}, cosine decay to 1e-05" in card
    assert load_checkpoint(tmp_path / "model").network.config.color_start == "composite"


def test_a_run_stopped_while_validating_validates_on_resume_and_a_fresh_start_begins_clean(tmp_path):
    """A stop during a validation saved the checkpoint of that step, and the resumed run went past
    it: the step was never validated (nor its weights kept as the best). A run killed before its
    first checkpoint left logs and best weights that a new run in the folder appended to and then
    exported as its own."""
    from movingcolor.training.export import export_model

    config = TrainConfig.load("tiny-test")  # validates every 2 steps
    first = Trainer(config, tmp_path / "run", workers=0)
    first.train(steps=2)
    (tmp_path / "run" / "validation.csv").unlink()  # as if stopped while validating step 2
    resumed = Trainer(config, tmp_path / "run", workers=0)
    assert resumed.resume() and resumed.step == 2
    resumed.train(steps=3)
    steps = [row["step"] for row in csv.DictReader((tmp_path / "run" / "validation.csv").open())]
    assert steps == ["2"]

    # The best validated weights' card gives their own validation, not the last one's.
    resumed.train(steps=4)
    resumed.exported_step = 2
    card = (export_model(resumed, tmp_path / "model", "tiny", "cpu") / "MODEL_CARD.md").read_text()
    validated = {row["step"]: row for row in csv.DictReader((tmp_path / "run" / "validation.csv").open())}
    assert "- step: 2\n" in card and "- step: 4\n" not in card and set(validated) == {"2", "4"}

    # A folder whose checkpoint was removed after the run went past it is refused, not cleared.
    shutil.rmtree(tmp_path / "run" / "checkpoint")
    fresh = Trainer(config, tmp_path / "run", workers=0)
    with pytest.raises(MovingColorError, match="reached step 4 but no checkpoint"):
        fresh.clear_unfinished_start()
    assert (tmp_path / "run" / "best").is_dir()
    # A run killed before its first checkpoint (its log stops short of it) is cleared.
    losses = tmp_path / "run" / "losses.csv"
    losses.write_text("".join(losses.read_text().splitlines(keepends=True)[:2]))
    assert {"best", "losses.csv", "validation.csv"} <= set(fresh.clear_unfinished_start())
    assert not (tmp_path / "run" / "best").exists()


def test_a_folder_of_another_tools_files_is_not_cleared_as_a_runs(tmp_path):
    """--out given as another tool's folder (its best weights, its curves, a losses.csv of its own)
    lost them: with no checkpoint, they were taken for a run that died before its first one. Only a
    folder a run marked is cleared; a divergence at the first step says there is no checkpoint,
    and is not reported as a stop in the middle of the step's update."""
    foreign = tmp_path / "experiment"
    (foreign / "best").mkdir(parents=True)
    (foreign / "best" / "model.pt").write_bytes(b"weights")
    (foreign / "tensorboard").mkdir()
    (foreign / "tensorboard" / "events.out.tfevents.1").write_bytes(b"curves")
    (foreign / "losses.csv").write_text("epoch,loss\n1,0.3\n")
    config = TrainConfig.load("tiny-test")
    with pytest.raises(MovingColorError, match="holds losses.csv, best, tensorboard but no MovingColor run"):
        Trainer(config, foreign, workers=0).clear_unfinished_start()
    assert (foreign / "best" / "model.pt").read_bytes() == b"weights"
    assert (foreign / "tensorboard" / "events.out.tfevents.1").exists()
    diverging = dataclasses.replace(config, learning_rate=1e30)
    run = tmp_path / "run"
    with pytest.raises(
        MovingColorError, match="the run has no checkpoint yet: lower learning_rate"
    ) as stopped:
        Trainer(diverging, run, workers=0).train(steps=3)
    assert stopped.value.__traceback__ is not None
    started_afresh = Trainer(config, run, workers=0)
    assert set(started_afresh.clear_unfinished_start()) <= {
        "losses.csv",
        "validation.csv",
        "best",
        "tensorboard",
    }
    # A run of a version before the marker, stopped before its first checkpoint: its log's columns.
    earlier = tmp_path / "earlier"
    (earlier / "best").mkdir(parents=True)
    (earlier / "losses.csv").write_text(
        ",".join(LOSS_COLUMNS) + "\n1" + ",0" * (len(LOSS_COLUMNS) - 1) + "\n"
    )
    assert set(Trainer(config, earlier, workers=0).clear_unfinished_start()) == {"losses.csv", "best"}


def test_a_killed_write_of_the_best_weights_leaves_nothing_behind(tmp_path):
    """A kill while the best weights were written left their staging folder, as large as the
    weights, for good: the next best weights' write removes it."""
    trainer = Trainer(TrainConfig.load("tiny-test"), tmp_path / "run", workers=0)
    (tmp_path / "run").mkdir()
    stale = tmp_path / "run" / ".best-staging.k1ll3d"
    stale.mkdir()
    (stale / "generator.part000").write_bytes(b"half the weights")
    trainer._keep_best({"band_delta_e": 1.0})
    assert not stale.exists() and (tmp_path / "run" / "best" / "best.json").exists()
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == ["best"]


def test_a_divergence_is_not_reported_as_a_stop_mid_update(tmp_path, caplog):
    config = dataclasses.replace(TrainConfig.load("tiny-test"), learning_rate=1e30)
    with pytest.raises(MovingColorError, match="not finite"):
        Trainer(config, tmp_path / "run", workers=0).train(steps=3)
    assert "stopped in the middle" not in caplog.text


@pytest.mark.parametrize(
    ("settings", "named"),
    [
        ({"height": "4", "width": "4"}, "the crop 4x4 must be multiples of 4, at least 8 each way"),
        ({"edge_contrast": "inf"}, "edge_contrast must be at least 1 .* and finite, not inf"),
        ({"gan_weight": "inf"}, "gan_weight must be 0 or more"),
    ],
)
def test_settings_the_network_cannot_train_with_are_refused(tmp_path, settings, named):
    """A 4x4 crop failed with a traceback inside torch; an infinite curve or weight diverged at the
    first step with the advice to lower the learning rate."""
    lines = [
        line for line in (CONFIG_FOLDER / "tiny-test.toml").read_text().splitlines()
        if line.split("=")[0].strip() not in settings
    ]  # fmt: skip
    path = tmp_path / "config.toml"
    path.write_text("\n".join([*(f"{key} = {value}" for key, value in settings.items()), *lines]) + "\n")
    with pytest.raises(MovingColorError, match=named):
        TrainConfig.load(str(path))


def test_train_refuses_steps_under_one_and_exports_nothing_untrained(tmp_path, capsys):
    """--steps 0 printed a checkpoint that was never written and exported random weights (exit 0)."""
    from movingcolor.cli.main import main

    out, model = tmp_path / "run", tmp_path / "model"
    for steps in ("0", "-3"):
        assert main(["train", "--config", "tiny-test", "--out", str(out), "--steps", steps,
                     "--export", str(model)]) == 2  # fmt: skip
        assert "give the step to stop at, 1 or more" in capsys.readouterr().err
    assert not model.exists() and not (out / "checkpoint").exists()


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("clip_folders = 5\n", "clip_folders must be a list of names in quotes"),
        ('train_only = [["color_decoder"]]\n', "train_only must be a list of names in quotes"),
    ],
)
def test_a_config_of_the_wrong_shape_is_named(tmp_path, text, named):
    """These were TypeErrors with tracebacks (exit 1, "a bug"); so were a folder given as the config
    and a file that is not UTF-8."""
    path = tmp_path / "config.toml"
    path.write_text(text)
    with pytest.raises(MovingColorError, match=named):
        TrainConfig.load(path)
    with pytest.raises(MovingColorError, match="cannot be read"):
        TrainConfig.load(tmp_path)
    path.write_bytes('name = "caf\xe9"\n'.encode("latin-1"))
    with pytest.raises(MovingColorError, match="not valid TOML"):
        TrainConfig.load(path)


def test_a_stop_in_the_middle_of_a_steps_update_keeps_the_checkpoint_before_it(tmp_path):
    """A second Ctrl-C (or an error) between the discriminator's update and the generator's saved a
    checkpoint whose discriminator was a step ahead: a resume made that update twice."""
    config = TrainConfig.load("tiny-test")
    trainer = Trainer(config, tmp_path / "run", workers=0)
    trainer.train(steps=2)
    step = trainer.optimiser.step

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt("a second Ctrl-C")

    trainer.optimiser.step = interrupted
    with pytest.raises(KeyboardInterrupt):
        trainer.train(steps=4)
    trainer.optimiser.step = step
    saved = json.loads((tmp_path / "run" / "checkpoint" / "trainer.json").read_text())
    assert saved["step"] == 2
    resumed = Trainer(config, tmp_path / "run", workers=0)
    assert resumed.resume() and resumed.step == 2
    if resumed.discriminator is not None:
        steps = [state["step"] for state in resumed.d_optimiser.state_dict()["state"].values()]
        assert {int(s) for s in steps} == {2}


def test_batch_folders_of_this_hosts_dead_runs_are_removed_and_no_others(tmp_path):
    """A killed run's batch folder stayed in shared memory; removing every folder whose process is
    not running here would take those of runs in other containers sharing /dev/shm."""
    import socket

    from movingcolor.training.batch_prefetch import _remove_stale_folders

    host = socket.gethostname()
    dead = tmp_path / f"movingcolor-batches.{host}.{2**22 + 1}.abc"
    elsewhere = tmp_path / f"movingcolor-batches.another-host.{2**22 + 1}.abc"
    alive = tmp_path / f"movingcolor-batches.{host}.{os.getpid()}.abc"
    for folder in (dead, elsewhere, alive):
        folder.mkdir()
    _remove_stale_folders(tmp_path)
    assert sorted(tmp_path.iterdir()) == sorted([elsewhere, alive])


def test_the_best_weights_compare_like_with_like_across_installs(tmp_path):
    """Validation scores ΔE where scikit-image is installed and band L1 where not: a run resumed on
    the other kind of install compared 3.0 (ΔE) with 0.03 (L1), so the best never moved again."""
    trainer = Trainer(TrainConfig.load("tiny-test"), tmp_path / "run", workers=0)
    (tmp_path / "run").mkdir()
    record = tmp_path / "run" / "best" / "best.json"
    trainer.step = 2
    trainer._keep_best({"band_l1": 0.03})  # no scikit-image
    trainer.step = 4
    trainer._keep_best({"band_l1": 0.02, "band_delta_e": 3.0})  # L1 with L1: better
    assert json.loads(record.read_text())["step"] == 4
    trainer.step = 6
    trainer._keep_best({"band_l1": 0.025, "band_delta_e": 2.0})  # ΔE with ΔE: better
    assert json.loads(record.read_text())["step"] == 6
    trainer.step = 8
    trainer._keep_best({"band_l1": 0.01})  # L1 with L1: better though its ΔE is unknown
    assert json.loads(record.read_text())["step"] == 8
    # A damaged record is replaced by the next validation, and --best says it cannot be read.
    record.write_text('{"step": 8, "sco')
    with pytest.raises(MovingColorError, match="best.json cannot be read: export without --best"):
        trainer.load_best()
    trainer.step = 10
    trainer._keep_best({"band_l1": 0.5})
    assert json.loads(record.read_text())["step"] == 10 and trainer.load_best() == 10


def test_a_resumed_run_that_makes_no_step_leaves_its_checkpoint_as_it_was(tmp_path, capsys, monkeypatch):
    """An export-only run (--steps at the run's step) rewrote the checkpoint, and on a full disk was
    refused, and exported nothing."""
    import movingcolor.training.trainer as trainer_module

    out = tmp_path / "run"
    assert run_cli("train", "--config", "tiny-test", "--out", out, "--steps", "3") == 0
    checkpoint = out / "checkpoint" / "trainer.json"
    assert json.loads(checkpoint.read_text())["step"] == 3
    stamp = checkpoint.stat().st_mtime_ns

    def full_disk(self):
        raise MovingColorError("cannot write the checkpoint: No space left on device")

    monkeypatch.setattr(trainer_module.Trainer, "save", full_disk)
    capsys.readouterr()
    assert (
        run_cli("train", "--config", "tiny-test", "--out", out, "--steps", "2", "--export", tmp_path / "m")
        == 0
    )
    said = capsys.readouterr().out
    assert "the run is at step 3 already, past --steps 2: no step to make" in said
    assert checkpoint.stat().st_mtime_ns == stamp and (tmp_path / "m" / "model.safetensors").exists()


def test_train_options_that_do_nothing_and_an_out_that_cannot_be_made_are_refused(tmp_path, capsys):
    for extra in (["--best"], ["--name", "mine"]):
        assert (
            run_cli("train", "--config", "tiny-test", "--out", tmp_path / "run", "--steps", "1", *extra) == 2
        )
        assert "choose what --export writes: give --export FOLDER too" in capsys.readouterr().err
    (tmp_path / "a-file").write_text("")
    assert (
        run_cli("train", "--config", "tiny-test", "--out", tmp_path / "a-file" / "run", "--steps", "1") == 2
    )
    assert f"cannot make the run folder {tmp_path / 'a-file' / 'run'}" in capsys.readouterr().err


def test_a_run_resumed_on_an_install_with_other_training_photos_says_so(tmp_path, monkeypatch, caplog):
    import movingcolor.training.trainer as trainer_module

    config = TrainConfig.load("tiny-test")
    monkeypatch.setattr(trainer_module, "_has_scikit_image", lambda: False)
    Trainer(config, tmp_path / "run", workers=0).train(steps=2)
    monkeypatch.setattr(trainer_module, "_has_scikit_image", lambda: True)
    with caplog.at_level("WARNING"):
        Trainer(config, tmp_path / "run", workers=0).resume()
    assert "trained without scikit-image and this install has it" in caplog.text


def test_tensorboard_drops_the_steps_a_killed_run_logged_past_its_checkpoint(tmp_path, monkeypatch):
    """A resume logged steps 21-34 again beside the killed run's 21-34 (the CSV files lose them)."""
    import types

    from movingcolor.training.tensorboard_log import TensorBoardLog

    made = []
    module = types.ModuleType("torch.utils.tensorboard")
    module.SummaryWriter = lambda **options: made.append(options)
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", module)
    TensorBoardLog(tmp_path, resumed_at=20)
    TensorBoardLog(tmp_path)
    assert [options.get("purge_step") for options in made] == [21, None]


def test_a_run_stopped_at_a_checkpoint_step_before_its_save_still_saves_it(tmp_path, monkeypatch):
    """The exit save was skipped at every checkpoint step, taken as saved in the loop: a full disk
    logging the step (or a second Ctrl-C) before the loop's save lost up to a checkpoint's steps."""
    trainer = Trainer(TrainConfig.load("tiny-test"), tmp_path / "run", workers=0)
    append = trainer._append_csv

    def log_fails_at_step_two(name, row, columns=None):
        if name == "losses.csv" and row["step"] == 2:
            raise OSError(28, "No space left on device")
        append(name, row, columns)

    monkeypatch.setattr(trainer, "_append_csv", log_fails_at_step_two)
    with pytest.raises(OSError):
        trainer.train(steps=4)
    assert json.loads((tmp_path / "run" / "checkpoint" / "trainer.json").read_text())["step"] == 2
