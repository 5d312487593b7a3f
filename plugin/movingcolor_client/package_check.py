"""The ``movingcolor`` package the client stands on: the installed one, or a folder in its way.

A script run from the folder above a clone named ``movingcolor`` meets the clone first: the
script's folder (or the current one) leads ``sys.path``, and an editable install is found by an
import hook that Python asks only after ``sys.path``. Python then imports the clone's folder as an
empty namespace package, and the first name taken from it fails with "cannot import name
'__version__' from 'movingcolor' (unknown location)". :func:`installed_movingcolor` names the
folder and the way out instead.
"""

from __future__ import annotations

import importlib
from types import ModuleType


class ShadowedPackageError(ImportError):
    """A folder named ``movingcolor`` is imported instead of the installed package."""


def installed_movingcolor() -> ModuleType:
    """The ``movingcolor`` package, checked to be a real package rather than a bare folder."""
    package = importlib.import_module("movingcolor")
    # A namespace package (a folder without __init__.py) has no file.
    if getattr(package, "__file__", None) is None:
        folders = ", ".join(getattr(package, "__path__", ())) or "named movingcolor"
        raise ShadowedPackageError(
            f"the folder {folders} (a clone of the MovingColor repository?) shadows the installed "
            f"movingcolor package: run from another folder or rename that folder (an editable "
            f"install, pip install -e, is looked up after the folder you run from; a regular "
            f"pip install is not)"
        )
    return package
