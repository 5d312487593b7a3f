"""Errors of the service, and the gRPC status every error maps to.

The status message is the error's own message: it names the problem and the fix.
"""

from __future__ import annotations

import grpc

from .. import errors
from ..errors import (
    AddressError,
    ImageEvictedError,
    JobCancelledError,
    MovingColorError,
    ServerBusyError,
    UnknownEngineError,
)
from ..protocol.status import reason_for, rich_status


class ServiceError(MovingColorError):
    """An error the service reports with a status other than INVALID_ARGUMENT."""

    status = grpc.StatusCode.INVALID_ARGUMENT


class ModelNotFoundError(ServiceError):
    """A model is not installed on the server."""

    status = grpc.StatusCode.NOT_FOUND


class UnknownJobError(ServiceError):
    """A job id is not known."""

    status = grpc.StatusCode.NOT_FOUND


class PathOutsideRootsError(ServiceError, errors.PathOutsideRootsError):
    """A RunJob path lies outside the server's root folders."""

    status = grpc.StatusCode.PERMISSION_DENIED


class FilesJobsDisabledError(ServiceError):
    """RunJob on a server started without root folders."""

    status = grpc.StatusCode.FAILED_PRECONDITION


class ServerConfigError(ServiceError):
    """The server's own OpenColorIO config ($OCIO) cannot be loaded: its admin's to fix, not the
    client's."""

    status = grpc.StatusCode.FAILED_PRECONDITION


__all__ = [
    "AddressError",
    "FilesJobsDisabledError",
    "ImageEvictedError",
    "JobCancelledError",
    "ModelNotFoundError",
    "PathOutsideRootsError",
    "ServerBusyError",
    "ServerConfigError",
    "ServiceError",
    "UnknownJobError",
    "abort",
    "status_for",
]


def abort(context: grpc.ServicerContext, error: BaseException) -> None:
    """End the call with ``error``'s status and message, its reason typed in the status details."""
    context.abort_with_status(rich_status(status_for(error), str(error), reason_for(error)))


def status_for(error: BaseException) -> grpc.StatusCode:
    """The status code a client sees for ``error``.

    RESOURCE_EXHAUSTED is the busy job table's (reason SERVER_BUSY: clients retry it later) and a
    GPU out of memory's (DEVICE_MEMORY: a later retry may pass, not an immediate one). An image over a
    limit (``ImageTooLargeError``) is INVALID_ARGUMENT like every other bad input: it will never
    pass, however often it is sent.
    """
    # The service's own errors carry a status code; the errors a client sees too (movingcolor.errors)
    # carry its name, as they are raised on both sides of the wire.
    status = getattr(error, "status", None)
    if isinstance(status, grpc.StatusCode):
        return status
    if isinstance(error, MovingColorError) and isinstance(status, str):
        return grpc.StatusCode[status]
    if isinstance(error, UnknownEngineError):
        return grpc.StatusCode.NOT_FOUND
    if isinstance(error, errors.PathOutsideRootsError):  # found as a confined job opened a file
        return grpc.StatusCode.PERMISSION_DENIED
    if isinstance(error, MovingColorError):
        return grpc.StatusCode.INVALID_ARGUMENT
    return grpc.StatusCode.INTERNAL
