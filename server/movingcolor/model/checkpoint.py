"""Checkpoints: ``model.safetensors`` + ``config.json`` + ``MODEL_CARD.md`` in one folder.

Loading checks the format version, the configuration and every tensor's name
and shape, and says exactly what does not match.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .. import __version__
from ..errors import MovingColorError
from ..folder_swap import replace_folder, restore_for_reading
from ..frames.confine import check_named_inside, readable
from ..frames.temporaries import owner_name, writer_is_gone
from .config import NetworkConfig

if TYPE_CHECKING:
    import torch

    from .network import MovingColorNet

FORMAT_VERSION = 1
WEIGHTS, CONFIG, CARD = "model.safetensors", "config.json", "MODEL_CARD.md"
#: The files a whole model folder holds at the least.
WHOLE_MODEL = (WEIGHTS, CONFIG)
#: What a model folder holds: an export replaces exactly these.
MODEL_FILES = frozenset({WEIGHTS, CONFIG, CARD})
#: The largest ``config.json`` read: a model's is a few kilobytes (its training settings included).
#: Read whole, a 600 MB sparse file named as a file job's model took that much of a server's memory.
MAX_CONFIG_BYTES = 1 << 20


class CheckpointError(MovingColorError):
    """A model folder is missing, incomplete, or does not match this network."""


@dataclass
class LoadedModel:
    name: str
    network: MovingColorNet
    metadata: dict


#: The models installed with the package: never replaced by an export.
SHIPPED_MODELS = Path(__file__).resolve().parents[1] / "weights"


def model_stamp(folder: str | os.PathLike) -> str:
    """The model folder's files as they are now (identity, size, modification time of the folder,
    its weights and its config): a model exported again in place (a folder swapped in, a file
    rewritten) stamps otherwise, where its path stays the same."""
    parts = []
    for path in (Path(folder), Path(folder) / WEIGHTS, Path(folder) / CONFIG):
        try:
            status = os.stat(path)
        except OSError:
            parts.append("-")
            continue
        parts.append(f"{status.st_dev}.{status.st_ino}.{status.st_size}.{status.st_mtime_ns}")
    return "/".join(parts)


def check_model_folder_target(folder: str | os.PathLike) -> None:
    """Refuse to write a model folder where it would replace anything but a model folder: a folder
    holding other files (a run, a clip folder, a user's work), a file, or the models installed with
    the package."""
    folder = Path(folder).expanduser()
    resolved = folder.resolve()
    if resolved == SHIPPED_MODELS or SHIPPED_MODELS in resolved.parents:
        raise CheckpointError(
            f"{folder}: the models installed with MovingColor are not replaced; export into a folder "
            f"of your own and list it in $MOVINGCOLOR_MODELS"
        )
    if folder.exists() and not folder.is_dir():
        raise CheckpointError(f"{folder} is a file; give a folder for the model")
    if folder.is_dir() and any(folder.iterdir()) and not (folder / CONFIG).is_file():
        raise CheckpointError(
            f"{folder} holds files that are not a MovingColor model folder; a model is written only "
            f"into a new or empty folder, or over another model: choose another folder"
        )
    # Replacing a model replaces its whole folder: anything else kept in it (a training run's
    # folder, notes) would go with it.
    others = (
        sorted(item.name for item in folder.iterdir() if item.name not in MODEL_FILES)
        if folder.is_dir()
        else []
    )
    if others and (folder / CONFIG).is_file():
        raise CheckpointError(
            f"{folder} holds a model and also {', '.join(others[:5])}, which replacing the model would "
            f"delete: move them out, or export into another folder"
        )


def save_checkpoint(
    network: MovingColorNet, folder: Path, name: str, card: str, metadata: dict | None = None
) -> Path:
    """Write a model folder atomically (a temporary folder swapped into place: a kill at any moment
    leaves the old model or the new one); only where :func:`check_model_folder_target` allows."""
    from safetensors import SafetensorError

    folder = Path(folder).expanduser()
    check_model_folder_target(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    _clear_ended_stagings(folder)
    staging = Path(tempfile.mkdtemp(prefix=f"{_staging_prefix(folder)}{owner_name()}.", dir=folder.parent))
    try:
        _write_model(network, staging, name, card, metadata)
        replace_folder(staging, folder)
    except (OSError, SafetensorError) as error:
        # A full disk: the model folder is as it was, and the message says what to free.
        raise CheckpointError(
            f"{folder}: the model could not be written ({error}); the folder is as it was: free "
            f"space there (or export elsewhere) and export again"
        ) from error
    finally:
        if staging.exists():
            shutil.rmtree(staging)
    return folder


def _staging_prefix(folder: Path) -> str:
    """The start of the name of ``folder``'s staging folders, before the name of the export writing
    (``temporaries.owner_name``: host, pid, the process's start and pid namespace)."""
    return f".{folder.name}.export-"


def _clear_ended_stagings(folder: Path) -> None:
    """Remove the staging folders beside ``folder`` that a killed export left (each a model's size,
    hidden): those whose writer is gone, as temporaries judge it. A running export's stays, also one in
    a container of its own whose pids say nothing here (a models folder may be shared)."""
    prefix, now = _staging_prefix(folder), time.time()
    with contextlib.suppress(OSError):
        for entry in os.scandir(folder.parent):
            if not entry.name.startswith(prefix):
                continue
            owner = entry.name[len(prefix) :].split(".", 1)[0]
            with contextlib.suppress(OSError):
                if writer_is_gone(owner, entry.stat(follow_symlinks=False).st_mtime, now):
                    shutil.rmtree(entry.path, ignore_errors=True)


def _write_model(network: MovingColorNet, staging: Path, name: str, card: str, metadata: dict | None) -> None:
    """The model's three files into ``staging``."""
    from safetensors.torch import save_file

    state = {k: v.detach().cpu().contiguous() for k, v in network.state_dict().items()}
    save_file(state, staging / WEIGHTS, metadata={"format_version": str(FORMAT_VERSION)})
    description = {
        "name": name,
        "format_version": FORMAT_VERSION,
        "movingcolor_version": __version__,
        "network": network.config.to_dict(),
        **(metadata or {}),
    }
    (staging / CONFIG).write_text(json.dumps(description, indent=2) + "\n")
    (staging / CARD).write_text(card)
    # mkdtemp makes a private folder; an installed model must be readable by every user.
    os.chmod(staging, 0o755)
    for item in staging.iterdir():
        os.chmod(item, 0o644)


@contextmanager
def model_file(path: Path, what: str) -> Iterator[str]:
    """The name to read one of a model folder's files by. Within a confinement (a server's file job
    naming a model folder inside its roots) the file is refused where its name leads outside the
    roots, present or not, and read through the descriptor checked to be a regular file inside them:
    opened by its name, a link in the folder had the server read (and its errors tell of) any file."""
    check_named_inside(path, what)
    with readable(path, what, form=f"the {path.name} of a model folder") as name:
        yield name


def read_config(path: Path) -> bytes:
    """A model folder's ``config.json`` bytes (:func:`model_file`), refused over
    :data:`MAX_CONFIG_BYTES` before it is read."""
    with model_file(path, "model config") as name, open(name, "rb") as file:
        size = os.fstat(file.fileno()).st_size
        content = file.read(MAX_CONFIG_BYTES + 1) if size <= MAX_CONFIG_BYTES else b""
    if size > MAX_CONFIG_BYTES or len(content) > MAX_CONFIG_BYTES:  # one growing as it is read too
        raise CheckpointError(
            f"{path} is {max(size, len(content)) / (1 << 20):,.1f} MB, more than the "
            f"{MAX_CONFIG_BYTES >> 20} MB a model's {CONFIG} may be (a model's is a few KB); check the "
            f"folder is a MovingColor model folder and restore the file"
        )
    return content


def read_description(folder: Path) -> dict:
    """A model folder's ``config.json``, its format version checked (its network:
    :func:`described_network`). Needs no weights library, so cost benchmarks can build a
    model's network on a bare machine."""
    folder = Path(folder)
    restore_for_reading(folder, WHOLE_MODEL)  # an export killed between its renames set the model aside
    for required in (WEIGHTS, CONFIG):
        # Where the name leads first: "no such file" for a link to a missing file outside the roots
        # told a client that nothing is there.
        check_named_inside(folder / required, f"model file {required}")
        if not (folder / required).is_file():
            raise CheckpointError(
                f"{folder}: not a MovingColor model folder (no {required}); a model folder holds "
                f"{WEIGHTS}, {CONFIG} and {CARD}"
            )
    try:
        description = json.loads(read_config(folder / CONFIG))
    except ValueError as error:  # not JSON, or not UTF-8
        raise CheckpointError(f"{folder / CONFIG}: not valid JSON ({error}); restore the file") from error
    if not isinstance(description, dict) or not isinstance(description.get("network", {}), dict):
        raise CheckpointError(
            f"{folder / CONFIG}: not a model description (a JSON object with a network object); "
            f"restore the file"
        )
    version = description.get("format_version")
    if version != FORMAT_VERSION:
        raise CheckpointError(
            f"{folder}: checkpoint format {version} is not the format {FORMAT_VERSION} this MovingColor "
            f"{__version__} reads; use a matching MovingColor release"
        )
    return description


def described_network(description: dict) -> NetworkConfig:
    """The network configuration a model folder's description holds."""
    return NetworkConfig.from_dict(description.get("network", {}))


def _weight_shapes(name: str, path: Path) -> dict[str, tuple[int, ...]]:
    """Each tensor's shape in weights file ``name`` (``path`` in messages), from its header alone."""
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(name, framework="pt") as handle:
            return {key: tuple(handle.get_slice(key).get_shape()) for key in handle.keys()}  # noqa: SIM118 (not iterable)
    except (SafetensorError, OSError) as error:
        raise CheckpointError(f"{path}: cannot read weights ({error}); the file may be truncated") from error


def load_checkpoint(folder: Path, device: str | torch.device = "cpu") -> LoadedModel:
    """A model folder's network with its weights on ``device``: the configuration checked (its
    bounds included) before the network is built, and the weights' names and shapes (their file's
    header) before any weight is read."""
    # Imported here so that reading a description needs neither torch nor the weights library.
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    from .network import MovingColorNet

    folder = Path(folder)
    description = read_description(folder)
    config = described_network(description)
    network = MovingColorNet(config)
    with model_file(folder / WEIGHTS, "model weights") as name:
        shapes = _weight_shapes(name, folder / WEIGHTS)
        expected = {key: tuple(tensor.shape) for key, tensor in network.state_dict().items()}
        missing = sorted(set(expected) - set(shapes))
        unexpected = sorted(set(shapes) - set(expected))
        wrong = [
            f"{key} {shapes[key]} != {shape}"
            for key, shape in expected.items()
            if key in shapes and shapes[key] != shape
        ]
        if missing or unexpected or wrong:
            details = "; ".join(
                part
                for part in (
                    f"missing {', '.join(missing[:5])}" if missing else "",
                    f"unexpected {', '.join(unexpected[:5])}" if unexpected else "",
                    f"shape {', '.join(wrong[:5])}" if wrong else "",
                )
                if part
            )
            raise CheckpointError(
                f"{folder / WEIGHTS} does not match the {config.name!r} network in {CONFIG}: {details}"
            )
        try:
            state = load_file(name)
        except (SafetensorError, OSError) as error:
            raise CheckpointError(
                f"{folder / WEIGHTS}: cannot read weights ({error}); the file may be truncated"
            ) from error
    network.load_state_dict(state)
    network.to(device).eval()
    return LoadedModel(name=description.get("name", folder.name), network=network, metadata=description)
