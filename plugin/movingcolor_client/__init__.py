"""The MovingColor client library: talk to ``movingcolor serve`` from any host.

Light by design: grpcio, protobuf, numpy and the torch-free parts of
``movingcolor`` (OpenImageIO only to write raw results as EXR). Hosts (Nuke,
Resolve, a farm node) install the base package and import only this::

    from movingcolor_client import connect

    with connect("unix:///tmp/movingcolor.sock") as client:
        print(client.info()["engines"])
        client.fuse_files("shot/plate.####.exr", "fused/shot.####.exr", "shot/roto.####.png",
                          grade="slope=1.2,1.0,0.85;offset=0.01;power=1.0;sat=1.1")
"""

from movingcolor.errors import MovingColorError

from .calls import ShotCall
from .client import Client, ShotReport, connect
from .errors import (
    AuthenticationError,
    CertificateError,
    ClientError,
    DeadlineExceededError,
    DeviceMemoryError,
    ImageEvictedError,
    InvalidRequestError,
    JobCancelledError,
    MessageTooLargeError,
    NotFoundError,
    OutputBusyError,
    PermissionDeniedError,
    ServerBusyError,
    ServerChangedError,
    ServerUnavailableError,
    SocketPermissionError,
)
from .results import FusedFrame, write_bytes_atomic
from .setup import shot_setup
from .sources import ArrayFrames, FileFrames

__all__ = [
    "ArrayFrames",
    "AuthenticationError",
    "CertificateError",
    "Client",
    "ClientError",
    "DeadlineExceededError",
    "DeviceMemoryError",
    "FileFrames",
    "FusedFrame",
    "ImageEvictedError",
    "InvalidRequestError",
    "JobCancelledError",
    "MessageTooLargeError",
    "MovingColorError",
    "NotFoundError",
    "OutputBusyError",
    "PermissionDeniedError",
    "ServerBusyError",
    "ServerChangedError",
    "ServerUnavailableError",
    "SocketPermissionError",
    "ShotCall",
    "ShotReport",
    "connect",
    "shot_setup",
    "write_bytes_atomic",
]
