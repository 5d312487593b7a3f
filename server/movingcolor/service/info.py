"""GetInfo: versions, devices, engines, models and limits."""

from __future__ import annotations

import functools
import os
import platform
from importlib import metadata

from .. import __version__
from ..color.config import BUILTIN_CONFIG, ColorConfig, shared_config
from ..engines import create_engine
from ..engines.registry import engine_descriptions
from ..errors import ColorConfigError
from ..model.device import no_gpu_to_ask_torch_for
from ..protocol import PROTOCOL
from ..protocol.digest import ocio_config_digest
from ..v1 import fusion_pb2
from .engines import installed_models, is_shared
from .errors import ServerConfigError
from .state import ServerState

PACKAGES = ("numpy", "OpenImageIO", "opencolorio", "torch", "grpcio", "protobuf")


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return ""


#: What this server does that earlier servers of the protocol did not (Info.features, whose
#: comment in fusion.proto says what each means): a name is added with each change a client relies on.
FEATURES = ("exr_out_scene_linear", "setup_plate", "device_memory", "ocio_context", "exr_out_linear_plate")


@functools.cache
def _devices(default: str) -> tuple[tuple[str, str], ...]:
    """``(name, description)`` per device, the default first. Imports torch once, if installed and
    the machine has a GPU driver: elsewhere the CPU is all there is, and a fresh server's first
    GetInfo (every client's first call) would wait most of a second for the import."""
    devices = [("cpu", platform.processor() or platform.machine())]
    if no_gpu_to_ask_torch_for():
        return tuple(devices)
    try:
        import torch
    except ImportError:
        return tuple(devices)
    if torch.cuda.is_available():
        # The GPU the server was started on (``cuda:1``), first; ``cuda`` for the current one.
        gpu = default if default.startswith("cuda") else "cuda"
        cuda = (gpu, torch.cuda.get_device_name(torch.device(gpu)))
        devices = [cuda, *devices] if default == "auto" or default.startswith("cuda") else [*devices, cuda]
    return tuple(devices)


@functools.cache
def _engine_traits() -> dict[str, tuple[str, int, bool]]:
    """Description, temporal radius and sharing of each engine (the network without loading it)."""
    traits = {}
    for name, description in engine_descriptions().items():
        if name == "movingcolor":
            traits[name] = (description, 0, True)
            continue
        try:
            engine = create_engine(name)
        except Exception:  # a plugin engine that needs options: describe it without them
            traits[name] = (description, 0, False)
            continue
        traits[name] = (description, engine.temporal_radius, is_shared(engine))
    return traits


def _models() -> list[fusion_pb2.ModelInfo]:
    import json

    models = []
    for name, folder in installed_models().items():
        try:
            network = json.loads((folder / "config.json").read_text()).get("network", {}).get("name", "")
        except (OSError, ValueError):
            network = ""
        models.append(fusion_pb2.ModelInfo(name=name, network=network))
    return models


def build_info(state: ServerState) -> fusion_pb2.Info:
    settings = state.settings
    loaded: dict[str, list[str]] = {}
    for name, _model, device in state.engines.loaded():
        loaded.setdefault(name, []).append(device)
    engines = [
        fusion_pb2.EngineInfo(
            name=name,
            description=description,
            temporal_radius=radius,
            shared=shared,
            loaded_on=sorted(set(loaded.get(name, []))),
        )
        for name, (description, radius, shared) in _engine_traits().items()
    ]
    # The config shot jobs are graded in, as they load it (its context as the server has it).
    config = server_config()
    return fusion_pb2.Info(
        version=__version__,
        protocol=PROTOCOL,
        packages={"python": platform.python_version(), **{p: _version(p) for p in PACKAGES}},
        devices=[fusion_pb2.Device(name=n, description=d) for n, d in _devices(settings.device)],
        engines=engines,
        models=_models(),
        limits=fusion_pb2.Limits(
            max_message_bytes=settings.max_message_bytes,
            part_bytes=settings.part_bytes,
            max_image_bytes=settings.max_image_bytes,
            max_jobs=settings.max_jobs,
            max_window_frames=settings.max_window_frames,
            device_slots=settings.device_slots,
        ),
        roots=[str(root) for root in settings.roots],
        ocio_config=config.source,
        ocio_config_digest=_config_digest(config.source),
        features=list(FEATURES),
        ocio_context=config.context_variables(),
        active_jobs=state.jobs.active,
        cache=state.windows.stats(),
    )


def server_config() -> ColorConfig:
    """The server's own OpenColorIO config ($OCIO, else the built-in), as shot jobs load it.

    :class:`ServerConfigError` where it cannot be loaded, naming $OCIO: the config's own error
    advises ``--config``, an option of ``fuse`` that neither ``serve`` nor its clients have, and
    reached clients as an exception with a traceback in the server's log."""
    try:
        return shared_config()
    except ColorConfigError as error:
        raise ServerConfigError(_config_problem(error)) from error


def _config_problem(error: ColorConfigError) -> str:
    named = os.environ.get("OCIO")
    cause = error.__cause__
    if cause is None:
        reason = str(error)
    else:
        reason = (cause.strerror if isinstance(cause, OSError) else str(cause)) or type(cause).__name__
    reason = reason.rstrip(". ")
    if not named:
        return (
            f"the server's OpenColorIO config, the built-in {BUILTIN_CONFIG}, cannot be loaded "
            f"({reason}): set $OCIO to a config.ocio in the server's environment, or reinstall "
            f"OpenColorIO, and start the server again"
        )
    return (
        f"the server's OpenColorIO config $OCIO={named} cannot be loaded ({reason}): set $OCIO in the "
        f"server's environment to a valid config.ocio (or unset it for the built-in {BUILTIN_CONFIG}) "
        f"and start the server again"
    )


def _config_digest(source: str) -> str:
    try:
        return ocio_config_digest(source)
    except OSError:  # loaded, then gone: no digest rather than no answer
        return ""
