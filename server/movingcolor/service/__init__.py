"""The gRPC service: ``movingcolor serve``.

One process serves many clients: engines are loaded lazily and shared per
(engine, model, device), jobs take fair turns on the device one window at a
time, calls are authenticated by a token where the socket reaches beyond this
machine, and the standard health and reflection services run beside ours.
"""

from .server import create_server, serve
from .settings import ServerSettings

__all__ = ["ServerSettings", "create_server", "serve"]
