"""Shared fixtures: a generated shot on disk, the real clips when present, the CLI, a server process."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from movingcolor.cli.main import main
from movingcolor.jobs.demo_shot import write_demo_inputs
from movingcolor.service.process import ServerProcess

CLIPS = Path(
    os.environ.get("MOVINGCOLOR_CLIPS", Path(__file__).resolve().parents[2] / "shared" / "data" / "clips")
)


#: An ASC CDL collection of two corrections, ``warm`` and ``cool`` (slopes 1.3,1,0.7 and 0.7,1,1.3).
WARM_COOL_CCC = (
    '<ColorCorrectionCollection xmlns="urn:ASC:CDL:v1.01">'
    '<ColorCorrection id="warm"><SOPNode><Slope>1.3 1.0 0.7</Slope><Offset>0 0 0</Offset>'
    "<Power>1 1 1</Power></SOPNode><SatNode><Saturation>1</Saturation></SatNode></ColorCorrection>"
    '<ColorCorrection id="cool"><SOPNode><Slope>0.7 1.0 1.3</Slope><Offset>0 0 0</Offset>'
    "<Power>1 1 1</Power></SOPNode><SatNode><Saturation>1</Saturation></SatNode></ColorCorrection>"
    "</ColorCorrectionCollection>"
)


def live_heads(network, seed: int = 1, scale: float = 0.2):
    """Randomise the heads' last layers: they start at zero (an untrained network is the
    hard composite), and tests need a network whose output depends on its input."""
    import torch

    generator = torch.Generator().manual_seed(seed)
    for decoder in (network.blend_decoder, network.color_decoder):
        for parameter in decoder.head.parameters():
            parameter.data = torch.randn(parameter.shape, generator=generator) * scale
    return network


@pytest.fixture(scope="session", autouse=True)
def test_model(tmp_path_factory):
    """A tiny network with seeded random weights, installed for the tests only.

    It exercises the movingcolor engine wherever engines are parametrised, fast. It is
    installed both as ``tiny-random`` and as ``default``, so it stands in for the
    shipped default model (the first folder on the search path wins); the shipped
    weights are tested on their own. It is not a model and never leaves the session.
    """
    try:
        import torch  # noqa: F401
    except ImportError:  # the light install: classical engines only
        yield None
        return
    from movingcolor.model.checkpoint import save_checkpoint
    from movingcolor.model.registry import create_network

    network = live_heads(create_network("tiny", seed=0))
    root = tmp_path_factory.mktemp("installed-models")
    folder = save_checkpoint(network, root / "tiny-random", "tiny-random", "# seeded random test weights\n")
    save_checkpoint(network, root / "default", "tiny-random", "# seeded random test weights\n")
    previous = os.environ.get("MOVINGCOLOR_MODELS")
    os.environ["MOVINGCOLOR_MODELS"] = str(root)
    yield folder
    if previous is None:
        del os.environ["MOVINGCOLOR_MODELS"]
    else:
        os.environ["MOVINGCOLOR_MODELS"] = previous


def short_folder(prefix: str = "mc-") -> Path:
    """A folder with a short path: Unix socket paths are limited to 105 bytes (gRPC)."""
    return Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))


@pytest.fixture(scope="module")
def served(test_model) -> Iterator[ServerProcess]:
    """A real server process on a Unix socket, with the server's default settings, per test module."""
    folder = short_folder()
    with ServerProcess(f"unix://{folder}/mc.sock") as server:
        yield server
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def demo_inputs(tmp_path_factory) -> tuple[str, str]:
    """A procedural shot: EXR plate (ACEScg) and PNG matte, frames 1001-1008."""
    folder = tmp_path_factory.mktemp("shot")
    return write_demo_inputs(folder, frames=8)


@pytest.fixture
def clips() -> Path:
    if not (CLIPS / "bear" / "frames").is_dir():
        pytest.skip(
            f"real clips not found at {CLIPS}: they live outside the repository "
            f"(set MOVINGCOLOR_CLIPS to a copy of the clips folder to run these tests)"
        )
    return CLIPS


@pytest.fixture
def clips_or_none() -> Path | None:
    """The real clips folder when present (tests then cover them too), else None."""
    return CLIPS if (CLIPS / "bear" / "frames").is_dir() else None


@pytest.fixture(scope="session")
def demo_truth() -> list[np.ndarray]:
    """The right answer for ``demo_inputs`` (its 8 frames, ACEScg): the generator knows the
    true soft alpha, and the truth is the composite of graded and plate through it."""
    from movingcolor.color.config import ColorConfig, apply_processor
    from movingcolor.color.grade import parse_grade
    from movingcolor.jobs.demo_shot import DEMO_GRADE
    from movingcolor.synthetic import generate_shot

    config = ColorConfig()
    shot = generate_shot(frames=8)
    grade = parse_grade(DEMO_GRADE, config).processor(config, "ACEScg", "ACEScg", "ACEScg")
    truths = []
    for plate, alpha in zip(shot.plate, shot.alpha, strict=True):
        linear = config.convert(plate, config.srgb_encoded, "ACEScg")
        truths.append(alpha[..., None] * apply_processor(grade, linear) + (1 - alpha[..., None]) * linear)
    return truths


def run_cli(*args: str) -> int:
    """Run the command line in-process; returns the exit status."""
    return main([str(a) for a in args])


def output_files(folder: Path) -> list[Path]:
    return sorted(p for p in Path(folder).rglob("*") if p.is_file()) if Path(folder).exists() else []


def needs_oiiotool() -> str:
    """Debian's oiiotool (an OpenImageIO build independent of the Python wheel's), else PATH's."""
    tool = "/usr/bin/oiiotool" if Path("/usr/bin/oiiotool").exists() else shutil.which("oiiotool")
    if tool is None:
        pytest.skip("oiiotool not installed (Debian package openimageio-tools; .ci/run installs it)")
    return tool


def max_abs(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64)).max())
