"""Installed models and network construction: one ``create_network`` for trainer, server,
benchmarks and tests alike.

Models are folders (see ``checkpoint``) found in the package's ``weights`` folder
and in every folder listed in ``$MOVINGCOLOR_MODELS`` (``os.pathsep``-separated).
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import torch

from ..errors import MovingColorError
from .checkpoint import CONFIG, described_network, load_checkpoint, read_description
from .config import CONFIGS, NetworkConfig, get_config
from .network import MovingColorNet

PACKAGE_MODELS = Path(__file__).resolve().parent.parent / "weights"


def create_network(
    config: str, seed: int | None = None, matte_start: str = "coarse", color_start: str = "plate"
) -> MovingColorNet:
    """A network of a named configuration with seeded random weights (never a usable model),
    its blend head starting from ``matte_start`` and its colour head from ``color_start``."""
    if seed is not None:
        torch.manual_seed(seed)
    named = get_config(config)
    return MovingColorNet(dataclasses.replace(named, matte_start=matte_start, color_start=color_start))


def model_folders() -> dict[str, Path]:
    """Installed models by name; the first folder on the search path wins."""
    roots = [Path(p) for p in os.environ.get("MOVINGCOLOR_MODELS", "").split(os.pathsep) if p]
    roots.append(PACKAGE_MODELS)
    found: dict[str, Path] = {}
    for root in roots:
        if root.is_dir():
            for folder in sorted(root.iterdir()):
                if (folder / CONFIG).is_file():
                    found.setdefault(folder.name, folder)
    return found


def find_model(name_or_path: str | None) -> Path:
    """The folder of an installed model name, or a model folder path."""
    installed = model_folders()
    if name_or_path is None:
        if not installed:
            raise MovingColorError(
                "no trained MovingColor model is installed, so the movingcolor engine has nothing to run; "
                "pass --model PATH to a model folder, or use a classical engine (--engine guided)"
            )
        return installed["default"] if "default" in installed else next(iter(installed.values()))
    if name_or_path in installed:
        return installed[name_or_path]
    path = Path(name_or_path).expanduser()
    if path.is_dir():
        return path
    raise MovingColorError(
        f"model {name_or_path!r} is neither an installed model ({', '.join(installed) or 'none installed'}) "
        f"nor a model folder"
    )


def load_model(name_or_path: str | None, device: str = "cpu"):
    """The installed model ``name_or_path`` (or the default one) loaded onto ``device``."""
    return load_checkpoint(find_model(name_or_path), device)


def network_config(name_or_model: str) -> NetworkConfig:
    """The network configuration of a named configuration (``lite``, ``paper``) or of an
    installed model or model folder, read without loading its weights."""
    if name_or_model in CONFIGS:
        return get_config(name_or_model)
    return described_network(read_description(find_model(name_or_model)))
