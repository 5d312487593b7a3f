"""Errors of the service, and the gRPC status every error maps to.

The status message is the error's own message: it names the problem and the fix.
"""

from __future__ import annotations

import grpc

from .. import errors
from ..errors import MovingColorError, UnknownEngineError


class ServiceError(MovingColorError):
    """An error the service reports with a status other than INVALID_ARGUMENT."""

    status = grpc.StatusCode.INVALID_ARGUMENT


class AddressError(MovingColorError):
    """A listening address cannot be parsed or bound."""


class ServerBusyError(ServiceError):
    """The job queue is full."""

    status = grpc.StatusCode.RESOURCE_EXHAUSTED


class JobCancelledError(ServiceError):
    """A job was cancelled: by its client, its deadline, a CancelJob call or shutdown."""

    status = grpc.StatusCode.CANCELLED
    exit_code = 130


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


class ImageEvictedError(ServiceError):
    """A FuseWindow names an image by digest that the server no longer holds: resend it in full."""

    status = grpc.StatusCode.FAILED_PRECONDITION


def status_for(error: BaseException) -> grpc.StatusCode:
    """The status code a client sees for ``error``.

    RESOURCE_EXHAUSTED is the busy job table's alone: clients retry it later. An image over a
    limit (``ImageTooLargeError``) is INVALID_ARGUMENT like every other bad input: it will never
    pass, however often it is sent.
    """
    if isinstance(error, ServiceError):
        return error.status
    if isinstance(error, UnknownEngineError):
        return grpc.StatusCode.NOT_FOUND
    if isinstance(error, errors.PathOutsideRootsError):  # found as a confined job opened a file
        return grpc.StatusCode.PERMISSION_DENIED
    if isinstance(error, MovingColorError):
        return grpc.StatusCode.INVALID_ARGUMENT
    return grpc.StatusCode.INTERNAL
