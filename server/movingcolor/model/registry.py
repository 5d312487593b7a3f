"""Installed models and network construction: one ``create_network`` for trainer, server,
benchmarks and tests alike.

Models are folders (see ``checkpoint``) found in the package's ``weights`` folder
and in every folder listed in ``$MOVINGCOLOR_MODELS`` (``os.pathsep``-separated).

A model is known by its folder's name. A folder named ``default`` marks the model run when none
is named rather than naming it: its model is listed under the name it was exported with (its
``config.json`` name, which every frame it fuses records), and ``default`` finds it too. So the
shipped model (``weights/default``) has one name wherever it shows: in ``movingcolor info``, the
server's model list, ``--model`` and each fused frame's header.

An installed model holds trained weights; a network configuration (``lite``, ``paper``:
``model.config``) is an architecture only, what ``movingcolor train`` trains.
"""

from __future__ import annotations

import dataclasses
import difflib
import importlib.util
import json
import os
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import MovingColorError
from ..folder_swap import restore_folders_in, restore_for_reading
from .channels import INPUT_CHANNELS
from .checkpoint import CONFIG, WHOLE_MODEL, described_network, load_checkpoint, read_config, read_description
from .config import CONFIGS, NetworkConfig, get_config

if TYPE_CHECKING:
    from .network import MovingColorNet

# Installed models are for torch to run: without it (the light install) there are none, and this
# module does not import, as when it imported torch itself. Finding and listing models does not
# import torch (most of a second, which a fresh server's first GetInfo would wait for).
if importlib.util.find_spec("torch") is None:
    raise ModuleNotFoundError("installed models need torch: pip install 'movingcolor[server]'", name="torch")

PACKAGE_MODELS = Path(__file__).resolve().parent.parent / "weights"
#: The folder name that marks the default model; ``--model default`` keeps naming it.
DEFAULT_FOLDER = "default"


def create_network(
    config: str,
    seed: int | None = None,
    matte_start: str = "coarse",
    color_start: str = "plate",
    edge_contrast: float | None = None,
    coarse_matte_input: bool = False,
) -> MovingColorNet:
    """A network of a named configuration with seeded random weights (never a usable model),
    its blend head starting from ``matte_start`` and its colour head from ``color_start``, its
    matte's edge steepened by ``edge_contrast`` (``None``: the configuration's), reading the
    coarse matte as an input of its own when ``coarse_matte_input``."""
    # Here, not at the top: listing and finding models needs no torch (most of a second to import).
    import torch

    from .network import MovingColorNet

    if seed is not None:
        torch.manual_seed(seed)
    named = get_config(config)
    changes = {
        "matte_start": matte_start,
        "color_start": color_start,
        "coarse_matte_input": coarse_matte_input,
        "in_channels": INPUT_CHANNELS + coarse_matte_input,
    }
    if edge_contrast is not None:
        changes["edge_contrast"] = edge_contrast
    return MovingColorNet(dataclasses.replace(named, **changes))


def _description(folder: Path) -> dict:
    """A model folder's ``config.json``, or nothing where it cannot be read (listing goes on)."""
    try:
        # Bounded as a model's is when loaded: listing the models must not read a huge file whole.
        description = json.loads(read_config(folder / CONFIG))
    except (OSError, ValueError, MovingColorError):
        return {}
    return description if isinstance(description, dict) else {}


class InstalledModels(Mapping[str, Path]):
    """Installed models' folders by name: the default model first, then search-path order.

    ``default`` is found as well as the names listed: it stands for the default model (the
    first folder named ``default`` on the search path, else the first model installed).
    """

    def __init__(self, roots: Sequence[Path]):
        for root in roots:
            # Models an export killed between its renames set aside: until put back, a model was
            # missing from --model and its hidden folders were listed as models.
            restore_folders_in(root, WHOLE_MODEL)
        found = [
            folder
            for root in roots
            if root.is_dir()
            for folder in sorted(root.iterdir())
            # Dot names are an export's staging folder and its set-aside model, not models.
            if not folder.name.startswith(".") and (folder / CONFIG).is_file()
        ]
        folders: dict[str, Path] = {}
        # Folder names first: the first on the search path wins, as for any name.
        for folder in found:
            if folder.name != DEFAULT_FOLDER:
                folders.setdefault(folder.name, folder)
        defaults = [folder for folder in found if folder.name == DEFAULT_FOLDER]
        for folder in defaults:
            name = _description(folder).get("name")
            if not isinstance(name, str) or not name or name in folders:
                name = DEFAULT_FOLDER
            folders.setdefault(name, folder)
        self.default: Path | None = defaults[0] if defaults else next(iter(folders.values()), None)
        first = [name for name, folder in folders.items() if folder == self.default][:1]
        self._folders = {name: folders[name] for name in [*first, *folders]}

    @property
    def default_name(self) -> str | None:
        """The name the default model is listed under; None when no model is installed."""
        return next(iter(self._folders), None)

    def network(self, name: str) -> str:
        """The network configuration model ``name`` was built from (``lite``), "" when unreadable."""
        network = _description(self[name]).get("network", {})
        return network.get("name", "") if isinstance(network, dict) else ""

    def listing(self) -> str:
        """``movingcolor-lite-guided (the default; a lite network), sky-v2 (a paper network)``."""
        described = []
        for name in self:
            network = self.network(name)
            notes = ["the default"] * (name == self.default_name) + [f"a {network} network"] * bool(network)
            described.append(f"{name} ({'; '.join(notes)})" if notes else name)
        return ", ".join(described) or "none"

    def __getitem__(self, name: str) -> Path:
        if name == DEFAULT_FOLDER and self.default is not None:
            return self.default
        return self._folders[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._folders)

    def __len__(self) -> int:
        return len(self._folders)


def model_folders() -> InstalledModels:
    """Installed models by name; the first folder on the search path wins."""
    roots = [Path(p) for p in os.environ.get("MOVINGCOLOR_MODELS", "").split(os.pathsep) if p]
    roots.append(PACKAGE_MODELS)
    return InstalledModels(roots)


def find_model(name_or_path: str | None) -> Path:
    """The folder of an installed model name, or a model folder path."""
    installed = model_folders()
    if name_or_path is None:
        if installed.default is None:
            raise MovingColorError(
                "no trained MovingColor model is installed, so the movingcolor engine has nothing to run; "
                "pass --model PATH to a model folder, or use a classical engine (--engine guided)"
            )
        return installed.default
    if name_or_path in installed:
        return installed[name_or_path]
    path = Path(name_or_path).expanduser()
    restore_for_reading(path, WHOLE_MODEL)  # a model an export killed between its renames set aside
    if path.is_dir():
        return path
    installed_text = f"Installed models: {installed.listing()}"
    close = difflib.get_close_matches(name_or_path, [*installed, DEFAULT_FOLDER], n=1)
    if close:
        installed_text = f"Did you mean {close[0]!r}? " + installed_text
    if name_or_path in CONFIGS:
        raise MovingColorError(
            f"model {name_or_path!r} is a network configuration (an architecture without trained "
            f"weights, what `movingcolor train` trains), not an installed model. {installed_text}. "
            f"To run a {name_or_path} network, train one: `movingcolor train --config FILE.toml --out RUN "
            f'--export FOLDER` with network = "{name_or_path}" in the TOML, then --model FOLDER'
        )
    raise MovingColorError(
        f"model {name_or_path!r} is neither an installed model nor a model folder. {installed_text}. "
        f"For another model, train one (`movingcolor train --out RUN --export FOLDER`) and pass "
        f"--model FOLDER, or install its folder in $MOVINGCOLOR_MODELS"
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
