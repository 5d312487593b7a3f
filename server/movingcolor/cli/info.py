"""``movingcolor info``: versions, device, colour config, engines and models."""

from __future__ import annotations

import json
import platform
from importlib import metadata

from .. import __version__
from ..color.config import ColorConfig
from ..engines.registry import engine_descriptions
from ..errors import MovingColorError
from ..model.config import CONFIGS


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def _device() -> str:
    try:
        import torch
    except ImportError:
        return "cpu (torch not installed: classical engines only)"
    if torch.cuda.is_available():
        return f"cuda: {torch.cuda.get_device_name(0)} (CUDA {torch.version.cuda})"
    if torch.version.cuda:
        # A CUDA build that sees no GPU: the driver, not the install, is what to look at.
        return f"cpu (this torch is built for CUDA {torch.version.cuda} but finds no GPU: check nvidia-smi)"
    return "cpu"


def _models() -> tuple[list[dict], str | None]:
    """The installed models (trained weights), and the name of the default one."""
    try:
        from ..model.registry import model_folders
    except ImportError:  # the base install: the shipped weights are there, torch to run them is not
        return [], None
    installed = model_folders()
    models = [
        {"name": name, "path": str(folder), "network": installed.network(name) or None}
        for name, folder in installed.items()
    ]
    return models, installed.default_name


def _ocio_config(config_path: str | None) -> dict:
    """The config's description, or ``{"error": why}`` where it does not load: the rest of what info
    reports is what a set-up problem is diagnosed with, and is shown all the same."""
    try:
        config = ColorConfig(config_path)
    except MovingColorError as error:
        return {"error": str(error)}
    return {
        "source": config.source,
        "name": config.name,
        "scene_linear": config.scene_linear,
        "colorspaces": config.colorspace_names(),
        "looks": [look.getName() for look in config.config.getLooks()],
    }


def collect(config_path: str | None = None) -> dict:
    models, default_model = _models()
    return {
        "movingcolor": __version__,
        "python": platform.python_version(),
        "packages": {
            name: _version(name) for name in ("numpy", "OpenImageIO", "opencolorio", "av", "torch", "grpcio")
        },
        "device": _device(),
        "ocio_config": _ocio_config(config_path),
        "engines": engine_descriptions(),
        "models": models,
        "default_model": default_model,
        # Architectures only: what `movingcolor train` trains, not models --model runs.
        "network_configurations": list(CONFIGS),
    }


def add_parser(commands) -> None:
    parser = commands.add_parser("info", help="show versions, device, colour config and engines")
    parser.add_argument("--config", help="OpenColorIO config to describe (default: $OCIO or built-in)")
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.set_defaults(run=run)


def run(args) -> int:
    """Exit status 2 when the colour config does not load (after reporting everything else)."""
    data = collect(args.config)
    status = 2 if "error" in data["ocio_config"] else 0
    if args.json:
        print(json.dumps(data, indent=2))
        return status
    print(f"MovingColor {data['movingcolor']} (Python {data['python']})")
    for name, version in data["packages"].items():
        print(f"  {name:12s} {version or 'not installed'}")
    print(f"device: {data['device']}")
    cfg = data["ocio_config"]
    if "error" in cfg:
        print(f"OpenColorIO config: does not load: {cfg['error']}")
    else:
        print(f"OpenColorIO config: {cfg['name']} ({cfg['source']}); scene_linear = {cfg['scene_linear']}")
        print("  colourspaces: " + ", ".join(cfg["colorspaces"]))
        print("  looks: " + (", ".join(cfg["looks"]) or "none"))
    print("engines:")
    for name, description in data["engines"].items():
        print(f"  {name:10s} {description}")
    print("models (trained weights; --model NAME):")
    for model in data["models"]:
        default = ", the default" if model["name"] == data["default_model"] else ""
        print(f"  {model['name']} ({model['network']} network{default}): {model['path']}")
    if not data["models"]:
        if data["packages"].get("torch"):
            print("  none installed")
        else:
            print("  the shipped model runs with torch: pip install 'movingcolor[server]'")
    print(
        "network configurations (architectures for movingcolor train, not models): "
        + ", ".join(data["network_configurations"])
    )
    return status
