"""Packages of the ``server`` extra that the light client install lacks, imported where first
needed, so that the light install fails only at the operation that needs one, with the fix."""

from __future__ import annotations

import importlib
from types import ModuleType

from .errors import MissingDependencyError


def server_extra(module: str, purpose: str, library: str, package: str | None = None) -> ModuleType:
    """The module named ``module``; MissingDependencyError naming ``purpose`` (what needs it, e.g.
    "reading video"), the ``library`` and the install command when it is absent. ``package``: its
    name on PyPI, given as the narrower install when it is not the whole extra."""
    try:
        return importlib.import_module(module)
    except ImportError as error:
        alone = f" (or pip install {package})" if package else ""
        raise MissingDependencyError(
            f"{purpose} needs {library}: pip install 'movingcolor[server]'{alone}"
        ) from error
