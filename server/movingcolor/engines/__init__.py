"""Engines: one interface, several ways to decide the colours of the edge band."""

from .base import Engine, FusionFrames, FusionResult
from .registry import create_engine, engine_names, register_engine

__all__ = [
    "Engine",
    "FusionFrames",
    "FusionResult",
    "create_engine",
    "engine_names",
    "register_engine",
]
