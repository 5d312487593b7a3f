"""``movingcolor info``: versions, device, colour config, engines and models."""

from __future__ import annotations

import json
import platform
from importlib import metadata

from .. import __version__
from ..color.config import ColorConfig
from ..engines.registry import engine_descriptions


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
        return f"cuda: {torch.cuda.get_device_name(0)}"
    return "cpu"


def _models() -> list[dict]:
    try:
        from ..model.registry import model_folders
    except ImportError:
        return []
    import json as _json

    models = []
    for name, folder in model_folders().items():
        description = _json.loads((folder / "config.json").read_text())
        models.append(
            {"name": name, "path": str(folder), "network": description.get("network", {}).get("name")}
        )
    return models


def collect(config_path: str | None = None) -> dict:
    config = ColorConfig(config_path)
    return {
        "movingcolor": __version__,
        "python": platform.python_version(),
        "packages": {
            name: _version(name) for name in ("numpy", "OpenImageIO", "opencolorio", "av", "torch", "grpcio")
        },
        "device": _device(),
        "ocio_config": {
            "source": config.source,
            "name": config.name,
            "scene_linear": config.scene_linear,
            "colorspaces": config.colorspace_names(),
            "looks": [look.getName() for look in config.config.getLooks()],
        },
        "engines": engine_descriptions(),
        "models": _models(),
    }


def add_parser(commands) -> None:
    parser = commands.add_parser("info", help="show versions, device, colour config and engines")
    parser.add_argument("--config", help="OpenColorIO config to describe (default: $OCIO or built-in)")
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.set_defaults(run=run)


def run(args) -> int:
    data = collect(args.config)
    if args.json:
        print(json.dumps(data, indent=2))
        return 0
    print(f"MovingColor {data['movingcolor']} (Python {data['python']})")
    for name, version in data["packages"].items():
        print(f"  {name:12s} {version or 'not installed'}")
    print(f"device: {data['device']}")
    cfg = data["ocio_config"]
    print(f"OpenColorIO config: {cfg['name']} ({cfg['source']}); scene_linear = {cfg['scene_linear']}")
    print("  colourspaces: " + ", ".join(cfg["colorspaces"]))
    print("  looks: " + (", ".join(cfg["looks"]) or "none"))
    print("engines:")
    for name, description in data["engines"].items():
        print(f"  {name:10s} {description}")
    print(
        "models: "
        + (
            ", ".join(f"{m['name']} ({m['network']}, {m['path']})" for m in data["models"])
            or "none installed"
        )
    )
    return 0
