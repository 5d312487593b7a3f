"""Engines for jobs, loaded lazily and shared where that is safe.

An engine with no per-shot state (it does not override ``Engine.reset``: the
network, hard, feather) is loaded once per (engine, model folder, device) and serves
every client; the network is expensive to load and its weights are read-only.
An engine that keeps per-shot caches (guided keeps refined mattes by frame
number) gets a fresh instance per job, which is cheap for the classical ones.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Sequence
from contextlib import nullcontext
from pathlib import Path

from ..engines import Engine, create_engine, engine_names
from ..engines.base import Engine as BaseEngine
from ..engines.registry import takes_device
from ..engines.torch_filters import compute_device
from ..errors import MissingDependencyError, MovingColorError, UnknownEngineError
from ..frames.confine import confined
from ..model.checkpoint import model_stamp
from .errors import ModelNotFoundError
from .roots import inside_roots

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
    from ..model.device import resolve_device as resolve

    return resolve(default if device in ("", "auto") else device)


class EnginePool:
    """Hands out engines; ``loaded`` lists the shared ones by (engine, model folder, device).

    A model is known by its real folder, however it was spelt (installed name, path, ``..``,
    symbolic link), so one folder loads once. At most ``max_engines`` shared engines stay
    loaded; the least recently used is dropped from the pool, and a job still running on it
    keeps its own reference until it ends.
    """

    def __init__(self, default_device: str = "auto", max_engines: int = 4):
        self.default_device = default_device
        self.max_engines = max(1, int(max_engines))
        self._shared: OrderedDict[tuple[str, str, str], Engine] = OrderedDict()
        self._loading: dict[tuple[str, str, str], threading.Lock] = {}
        self._lock = threading.Lock()

    def model_folder(self, model: str, roots: Sequence[Path] | None = None) -> Path:
        """The real folder of an installed model (default: the server's default model), or with
        ``roots`` (RunJob) of a model folder given as an absolute path inside them."""
        return self._model_folder(model, roots)[0]

    def _model_folder(self, model: str, roots: Sequence[Path] | None) -> tuple[Path, Sequence[Path] | None]:
        """:meth:`model_folder`, and the roots its files must be read inside: ``roots`` for a folder
        a file job named inside them, None for an installed model (the server's own)."""
        installed = installed_models()
        if not model:
            if not installed:
                raise ModelNotFoundError(
                    "no trained MovingColor model is installed on this server; install one in "
                    "$MOVINGCOLOR_MODELS on the server or use a classical engine (guided)"
                )
            folder = installed["default"] if "default" in installed else next(iter(installed.values()))
            return Path(os.path.realpath(folder)), None
        if model in installed:
            return Path(os.path.realpath(installed[model])), None
        # Never a path relative to the server's working folder: a name is an installed model.
        if roots is not None and Path(model).is_absolute():
            folder = Path(os.path.realpath(inside_roots(model, "model", roots)))
            if not folder.is_dir():
                raise ModelNotFoundError(f"model folder {model} does not exist; give a model folder's path")
            return folder, roots
        paths = "; a file job may give the absolute path of a model folder inside the roots" if roots else ""
        raise ModelNotFoundError(
            f"model {model!r} is not installed on this server (installed: "
            f"{', '.join(installed) or 'none'}); pick one GetInfo lists, or install it in "
            f"$MOVINGCOLOR_MODELS on the server{paths}"
        )

    def engine_for(
        self, name: str, model: str = "", device: str = "", roots: Sequence[Path] | None = None
    ) -> tuple[Engine, str]:
        """``(engine, device)`` for a job: the device its windows take turns on. ``roots`` (RunJob
        only) lets ``model`` be a model folder inside them."""
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
            folder, inside = self._model_folder(model, roots)
            key, options = (name, str(folder), resolved), {"model": str(folder), "device": resolved}
            stamp = model_stamp(folder)
        else:
            inside = None
            if model:
                raise MovingColorError(f"a model applies to the movingcolor engine, not to {name!r}")
            options = {}
            if takes_device(name):
                # The GPU's windows take turns with the network's there; numpy's use the CPU.
                options["device"] = compute_device(self.default_device if device in ("", "auto") else device)
            resolved = options.get("device") or "cpu"
            key, stamp = (name, "", resolved), ""
        with self._lock:
            engine = self._take(key, stamp)
            if engine is not None:
                return engine, resolved
            loading = self._loading.setdefault(key, threading.Lock())
        with loading:  # one load per key even when many clients ask at once
            with self._lock:
                engine = self._take(key, stamp)
                if engine is not None:
                    return engine, resolved
            # A model folder a file job named is read as its frames are: every file inside the roots
            # (a link in the folder to a file outside them was read, and its errors told of it).
            with confined(inside) if inside is not None else nullcontext():
                engine = create_engine(name, **options)
            if is_shared(engine):
                with self._lock:
                    self._shared[key] = engine
                    while len(self._shared) > self.max_engines:
                        dropped, _ = self._shared.popitem(last=False)
                        self._loading.pop(dropped, None)  # so the locks stay as few as the engines
        return engine, resolved

    def _take(self, key: tuple[str, str, str], stamp: str) -> Engine | None:
        """The loaded engine for ``key``, now the most recently used; None where there is none, or
        where its model's files are no longer as it loaded them (``stamp``: a model exported again in
        place kept being fused with its old weights until the server restarted). The caller holds
        the lock."""
        engine = self._shared.get(key)
        if engine is not None and engine.model_stamp != stamp:
            del self._shared[key]
            return None
        if engine is not None:
            self._shared.move_to_end(key)
        return engine

    def loaded(self) -> list[tuple[str, str, str]]:
        with self._lock:
            return list(self._shared)
