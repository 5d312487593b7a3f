"""Engine registry: built-in engines plus any installed through entry points.

Third-party engines register under the ``movingcolor.engines`` entry-point
group; one that fails to load is reported and skipped, never fatal.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from importlib.metadata import entry_points

from ..errors import UnknownEngineError
from .base import Engine

log = logging.getLogger(__name__)

_FACTORIES: dict[str, Callable[..., Engine]] = {}
_DESCRIPTIONS: dict[str, str] = {}
_plugins_loaded = False


def register_engine(name: str, factory: Callable[..., Engine], description: str = "") -> None:
    _FACTORIES[name] = factory
    _DESCRIPTIONS[name] = description


def _load_builtin() -> None:
    from . import feather, guided, hard, movingcolor

    for module in (hard, feather, guided, movingcolor):
        cls = module.ENGINE
        if cls.name not in _FACTORIES:
            register_engine(cls.name, cls, cls.description)


def _load_plugins() -> None:
    global _plugins_loaded
    if _plugins_loaded:
        return
    _plugins_loaded = True
    for point in entry_points(group="movingcolor.engines"):
        try:
            cls = point.load()
            register_engine(point.name, cls, getattr(cls, "description", ""))
        except Exception as error:  # a broken plugin must not break the tool
            log.warning("skipping engine plugin %s: %s", point.name, error)


def engine_names() -> list[str]:
    _load_builtin()
    _load_plugins()
    return sorted(_FACTORIES)


def engine_descriptions() -> dict[str, str]:
    engine_names()
    return dict(sorted(_DESCRIPTIONS.items()))


def takes_device(name: str) -> bool:
    """Whether engine ``name`` takes a ``device`` option (:attr:`Engine.takes_device`)."""
    engine_names()
    return bool(getattr(_FACTORIES.get(name), "takes_device", False))


def require_engine(name: str) -> None:
    """UnknownEngineError naming the engines there are, unless engine ``name`` is one."""
    names = engine_names()
    if name not in _FACTORIES:
        raise UnknownEngineError(f"engine {name!r} is not known; available engines: {', '.join(names)}")


def create_engine(name: str, **options) -> Engine:
    require_engine(name)
    return _FACTORIES[name](**options)
