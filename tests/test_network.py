"""The MovingColor network: shapes, gradients, heads, configurations and checkpoints."""

from __future__ import annotations

import json

import pytest

torch = pytest.importorskip("torch")

from conftest import live_heads  # noqa: E402
from movingcolor.errors import MovingColorError  # noqa: E402
from movingcolor.model.checkpoint import CheckpointError, load_checkpoint, save_checkpoint  # noqa: E402
from movingcolor.model.config import CONFIGS, NetworkConfig  # noqa: E402
from movingcolor.model.layers.ffc import FourierUnit  # noqa: E402
from movingcolor.model.layers.soft_split import SoftComposite, SoftSplit  # noqa: E402
from movingcolor.model.registry import create_network  # noqa: E402


def _input(frames=5, height=48, width=64, seed=0):
    generator = torch.Generator().manual_seed(seed)
    x = torch.rand(1, frames, 11, height, width, generator=generator)
    x[:, :, 10] = 0.2 + 0.6 * x[:, :, 10]  # a soft matte away from 0 and 1, so clamps stay open
    return x


@pytest.mark.parametrize("name", ["tiny", "lite"])
def test_output_shapes(name):
    network = create_network(name, seed=0).eval()
    with torch.no_grad():
        assert network(_input(), local=3, head="blend").shape == (1, 3, 1, 48, 64)
        assert network(_input(), local=3, head="color").shape == (1, 3, 3, 48, 64)
    with pytest.raises(ValueError, match="multiple of 4"):
        network(_input(height=30), local=3)


def test_the_input_channel_layout_is_what_the_weights_read():
    """Trained weights consume this order: a change to the layout must fail here."""
    import numpy as np
    from movingcolor.model import channels

    layout = [channels.PLATE, channels.EDITED_OUTSIDE_BAND, channels.BAND, channels.GRADED, channels.MATTE]
    assert layout == [slice(0, 3), slice(3, 6), slice(6, 7), slice(7, 10), slice(10, 11)]
    assert channels.INPUT_CHANNELS == 11 == CONFIGS["lite"].in_channels
    parts = [np.full((2, 2, part.stop - part.start), index, np.float32) for index, part in enumerate(layout)]
    stacked = channels.stack_inputs(*parts)
    assert all(np.array_equal(stacked[..., part], parts[index]) for index, part in enumerate(layout))


def test_untrained_network_is_the_hard_composite():
    network = create_network("tiny", seed=0).eval()
    x = _input()
    with torch.no_grad():
        alpha = network(x, local=3, head="blend")
        colour = network(x, local=3, head="color")
    assert torch.equal(alpha[0, :, 0], x[0, :3, 10])
    assert torch.equal(colour[0], x[0, :3, 0:3])


@pytest.mark.parametrize("head", ["blend", "color"])
def test_decoding_only_the_frames_asked_for_gives_those_frames_predictions(head):
    """A host's scrub asks for one local frame of five: the others still inform it through the
    transformer, only their decoding is skipped."""
    network = live_heads(create_network("tiny", seed=0)).eval()
    x = _input(frames=6)
    with torch.no_grad():
        every = network(x, local=4, head=head)
        chosen = network(x, local=4, head=head, outputs=[2, 0])
        alone = network(x[:, [2, 4, 5]], local=1, head=head)  # the frame without its neighbours
    assert chosen.shape == (1, 2, *every.shape[2:])
    torch.testing.assert_close(chosen[0], every[0, [2, 0]], rtol=0, atol=1e-5)
    assert not torch.equal(alone[0, 0], every[0, 2])  # the neighbours did count
    with pytest.raises(ValueError, match="local frames"):
        network(x, local=4, outputs=[4])


def test_the_last_block_computing_only_the_frames_asked_for_changes_nothing_for_them():
    """Features of some frames (the last transformer block attends from their tokens alone, and
    only they return to a feature map) equal every frame's features picked afterwards."""
    network = create_network("tiny", seed=0).eval()
    x = _input(frames=6)
    with torch.no_grad():
        every = network.features(x).reshape(1, 6, *network.features(x).shape[1:])
        for outputs in ([3], [5, 0, 2], list(range(6))):
            chosen = network.features(x, outputs)
            assert chosen.shape == (len(outputs), *every.shape[2:])
            torch.testing.assert_close(chosen, every[0, outputs], rtol=0, atol=1e-5)


def test_gradients_reach_every_block():
    network = create_network("tiny", seed=0).train()
    live_heads(network, scale=0.1)
    x = _input()
    loss = (
        network(x, local=3, head="blend").square().mean() + network(x, local=3, head="color").square().mean()
    )
    loss.backward()
    dead = [name for name, p in network.named_parameters() if p.grad is None or p.grad.abs().sum() == 0]
    assert not dead, dead


def test_fft_runs_in_float32_under_autocast():
    unit = FourierUnit(4)
    x = torch.rand(1, 4, 10, 14)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = unit(x.to(torch.bfloat16))
    assert out.dtype == torch.bfloat16 and out.shape == x.shape


def test_soft_composite_averages_overlaps():
    split, composite = SoftSplit(2, 8, 7, 3, 3), SoftComposite(2, 8, 7, 3, 3)
    tokens = split(torch.rand(1, 2, 12, 15))
    composite.project.weight.data.zero_()
    composite.project.bias.data.fill_(0.5)
    assert torch.allclose(composite(tokens, (12, 15)), torch.full((1, 2, 12, 15), 0.5))


def test_configs_are_data():
    assert set(CONFIGS) >= {"paper", "lite", "tiny"}
    assert CONFIGS["paper"].ffc_blocks == 8
    assert (CONFIGS["paper"].patch_kernel, CONFIGS["paper"].patch_stride, CONFIGS["paper"].patch_padding) == (
        7,
        3,
        3,
    )
    for config in CONFIGS.values():
        assert type(config).from_dict(json.loads(json.dumps(config.to_dict()))) == config


def test_checkpoint_round_trip(tmp_path):
    network = create_network("tiny", seed=3)
    live_heads(network, scale=0.1)
    folder = save_checkpoint(network, tmp_path / "m", "tiny-test", "# card\n")
    loaded = load_checkpoint(folder)
    assert loaded.name == "tiny-test"
    for key, value in network.state_dict().items():
        assert torch.equal(value, loaded.network.state_dict()[key])
    assert (folder / "MODEL_CARD.md").read_text() == "# card\n"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_loader_errors(tmp_path):
    with pytest.raises(CheckpointError, match="no model.safetensors"):
        load_checkpoint(tmp_path)
    folder = save_checkpoint(create_network("tiny", seed=0), tmp_path / "m", "m", "")
    config = json.loads((folder / "config.json").read_text())

    def write(data):
        (folder / "config.json").write_text(json.dumps(data))

    write({**config, "format_version": 99})
    with pytest.raises(CheckpointError, match="format 99"):
        load_checkpoint(folder)
    write({**config, "network": {**config["network"], "hidden": 64}})
    with pytest.raises(CheckpointError, match="shape"):
        load_checkpoint(folder)
    write({**config, "network": {**config["network"], "wings": 2}})
    with pytest.raises(Exception, match="unknown fields"):
        load_checkpoint(folder)
    write({**config, "network": {**config["network"], "color_start": "edit"}})
    with pytest.raises(Exception, match="color_start 'edit' is not known"):
        load_checkpoint(folder)
    # Written before the colour head had a choice of start: the paper's, the plate.
    write({**config, "network": {k: v for k, v in config["network"].items() if k != "color_start"}})
    assert load_checkpoint(folder).network.config.color_start == "plate"
    write(config)
    weights = folder / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])
    with pytest.raises(CheckpointError, match="cannot read weights"):
        load_checkpoint(folder)
    (folder / "config.json").write_text("{")
    with pytest.raises(CheckpointError, match="not valid JSON"):
        load_checkpoint(folder)


def test_a_models_network_configuration_is_read_without_its_weights():
    from movingcolor.model.config import get_config
    from movingcolor.model.registry import load_model, network_config

    assert network_config("lite") == get_config("lite")
    assert network_config("default") == load_model("default").network.config
    with pytest.raises(MovingColorError, match="neither an installed model"):
        network_config("no-such-model")


def test_the_network_benchmark_times_the_shipped_models_configuration():
    from movingcolor.bench.network import run_case
    from movingcolor.engines.movingcolor import working_shape
    from movingcolor.model.registry import model_folders, network_config

    shipped = network_config("default")
    result = run_case("default", 96, 64, "cpu", repeats=1)
    assert result["config"] == f"{model_folders().default_name} ({shipped.name})"
    assert result["working"] == list(working_shape(64, 96, shipped.working_size))[::-1]
    assert result["frames_per_window"] == shipped.local_frames + shipped.max_global_frames
    assert result["ms_per_output_frame"] > 0
    # At a size the network sees whole, a window's FLOPs are its frames' at the working size (the
    # guided start and upsampling add little); the achieved rate is a share of the matmul peak.
    frames = result["frames_per_window"]
    assert result["window_gflops"] == pytest.approx(result["gflops_per_frame"] * frames, rel=0.05)
    assert 0 < result["gflops_per_second"] < result["matmul_gflops_per_second"]


@pytest.mark.parametrize("size", [(16, 16), (15, 22), (13, 9)])
def test_soft_split_and_composite_as_convolutions_equal_patches_through_linear_layers(size):
    """The soft split, soft composite and F3N run as (transposed) convolutions; they must give what
    their definition gives: unfold, each patch through the linear layer, fold with overlaps averaged."""
    import torch
    from movingcolor.model.layers.f3n import FusionFeedForward
    from torch.nn import functional as F

    torch.manual_seed(1)
    kernel, stride, padding = 7, 3, 3

    def fold_average(patches):
        folded = F.fold(patches, size, kernel, stride=stride, padding=padding)
        ones = F.unfold(torch.ones(1, 1, *size), kernel, stride=stride, padding=padding)
        return folded / F.fold(ones, size, kernel, stride=stride, padding=padding)

    def unfold(x):
        return F.unfold(x, kernel, stride=stride, padding=padding)

    split, composite = (
        SoftSplit(8, 32, kernel, stride, padding),
        SoftComposite(8, 32, kernel, stride, padding),
    )
    ffn = FusionFeedForward(32, kernel, stride, padding)
    with torch.no_grad():
        x = torch.randn(3, 8, *size)
        tokens = split(x)
        expected = split.embed(unfold(x).transpose(1, 2))
        assert torch.allclose(tokens, expected, atol=1e-5, rtol=1e-4)
        folded = composite(tokens, size)
        assert folded.shape == x.shape
        assert torch.allclose(
            folded, fold_average(composite.project(tokens).transpose(1, 2)), atol=1e-5, rtol=1e-4
        )
        mixed = fold_average(ffn.expand(tokens).transpose(1, 2))
        expected = ffn.shrink(ffn.act(unfold(mixed).transpose(1, 2)))
        assert torch.allclose(ffn(tokens, size), expected, atol=1e-5, rtol=1e-4)
    # Gradients reach the linear layers' weights, as training needs.
    composite(split(x), size).square().mean().backward()
    assert split.embed.weight.grad.abs().sum() > 0 and composite.project.bias.grad.abs().sum() > 0


def test_a_model_config_whose_channels_do_not_match_its_inputs_is_refused():
    data = CONFIGS["lite"].to_dict() | {"coarse_matte_input": True}
    with pytest.raises(MovingColorError, match="in_channels 11 does not match coarse_matte_input"):
        NetworkConfig.from_dict(data)
    assert NetworkConfig.from_dict(data | {"in_channels": 12}).in_channels == 12
    assert create_network("tiny", coarse_matte_input=True).encoder.layers[0][0].in_channels == 12
