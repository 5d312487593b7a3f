"""A stand-in for Resolve's DaVinciResolveScript module: ``scriptapp("Resolve")``."""

from __future__ import annotations

import resolve_app


def scriptapp(name: str):
    """The running Resolve (``resolve_app.current``), or None, as when Resolve is not running."""
    return resolve_app.current if name == "Resolve" else None
