"""The gRPC service: ``movingcolor serve``.

One process serves many clients: engines are loaded lazily and shared per
(engine, model, device), jobs take fair turns on the device one window at a
time, calls are authenticated by a token where the socket reaches beyond this
machine, and the standard health and reflection services run beside ours.
"""

from __future__ import annotations

__all__ = ["ServerSettings", "create_server", "serve"]


def __getattr__(name: str):
    # Imported when first used: the command line formats a failed start's JSON event with
    # ``service.logs`` before (or without) anything that needs grpc, whose import reads its log level.
    if name in ("create_server", "serve"):
        from . import server

        return getattr(server, name)
    if name == "ServerSettings":
        from .settings import ServerSettings

        return ServerSettings
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
