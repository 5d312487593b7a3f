"""Engines for jobs, loaded lazily and shared where that is safe.

An engine with no per-shot state (it does not override ``Engine.reset``: the
network, hard, feather) is loaded once per (engine, model, device) and serves
every client; the network is expensive to load and its weights are read-only.
An engine that keeps per-shot caches (guided keeps refined mattes by frame
number) gets a fresh instance per job, which is cheap for the classical ones.
"""

from __future__ import annotations

import threading
from pathlib import Path

from ..engines import Engine, create_engine, engine_names
from ..engines.base import Engine as BaseEngine
from ..errors import MissingDependencyError, MovingColorError, UnknownEngineError
from .errors import ModelNotFoundError

NETWORK = "movingcolor"


def is_shared(engine: Engine) -> bool:
    """True when one instance may serve concurrent shots (no per-shot state to reset)."""
    return type(engine).reset is BaseEngine.reset


def installed_models() -> dict[str, Path]:
    """Installed models by name; none when torch is not installed (the light install)."""
    try:
        from ..model.registry import model_folders
    except ImportError:
        return {}
    return model_folders()


def resolve_device(device: str, default: str) -> str:
    """``auto`` (or empty) takes the server's default; ``auto`` there means the GPU when present."""
    from ..engines.movingcolor import resolve_device as resolve

    return resolve(default if device in ("", "auto") else device)


class EnginePool:
    """Hands out engines; ``loaded`` lists the shared ones by (engine, model, device)."""

    def __init__(self, default_device: str = "auto"):
        self.default_device = default_device
        self._shared: dict[tuple[str, str, str], Engine] = {}
        self._loading: dict[tuple[str, str, str], threading.Lock] = {}
        self._lock = threading.Lock()

    def model_folder(self, model: str, allow_paths: bool = False) -> Path:
        """The folder of an installed model (default: the server's default model)."""
        installed = installed_models()
        if not model:
            if not installed:
                raise ModelNotFoundError(
                    "no trained MovingColor model is installed on this server; install one in "
                    "$MOVINGCOLOR_MODELS on the server or use a classical engine (guided)"
                )
            return installed["default"] if "default" in installed else next(iter(installed.values()))
        if model in installed:
            return installed[model]
        if allow_paths and Path(model).is_dir():
            return Path(model)
        raise ModelNotFoundError(
            f"model {model!r} is not installed on this server (installed: "
            f"{', '.join(installed) or 'none'}); pick one GetInfo lists, or install it in "
            f"$MOVINGCOLOR_MODELS on the server"
        )

    def engine_for(self, name: str, model: str = "", device: str = "", allow_paths: bool = False):
        """``(engine, device)`` for a job: the device its windows take turns on."""
        if name not in engine_names():
            raise UnknownEngineError(
                f"engine {name!r} is not known on this server; available engines: {', '.join(engine_names())}"
            )
        if name == NETWORK:
            try:
                resolved = resolve_device(device, self.default_device)
            except MissingDependencyError as error:
                raise UnknownEngineError(
                    f"the movingcolor engine is not available on this server ({error})"
                ) from error
            folder = self.model_folder(model, allow_paths)
            key, options = (name, str(folder), resolved), {"model": str(folder), "device": resolved}
        else:
            if model:
                raise MovingColorError(f"a model applies to the movingcolor engine, not to {name!r}")
            key, options, resolved = (name, "", "cpu"), {}, "cpu"
        with self._lock:
            if key in self._shared:
                return self._shared[key], resolved
            loading = self._loading.setdefault(key, threading.Lock())
        with loading:  # one load per key even when many clients ask at once
            with self._lock:
                if key in self._shared:
                    return self._shared[key], resolved
            engine = create_engine(name, **options)
            if is_shared(engine):
                with self._lock:
                    self._shared[key] = engine
        return engine, resolved

    def loaded(self) -> list[tuple[str, str, str]]:
        with self._lock:
            return list(self._shared)
