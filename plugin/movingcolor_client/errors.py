"""What can go wrong talking to a server, as exceptions whose messages say what to do.

Every one derives from ``movingcolor.errors.MovingColorError`` (``movingcolor fuse
--server`` turns them into a one-line message and its exit status) and carries the
gRPC status ``code``. Failures a farm should retry later (server down, busy or too
slow) exit with 75, ``EX_TEMPFAIL``; bad input exits with 2.
"""

from __future__ import annotations

import grpc
from movingcolor.errors import TRANSIENT_EXIT_CODE, MovingColorError


class ClientError(MovingColorError):
    """The server refused or failed a call; ``code`` is its gRPC status."""

    code = grpc.StatusCode.UNKNOWN


class ServerUnavailableError(ClientError):
    """The server is not running, not reachable, or went away mid-call."""

    code = grpc.StatusCode.UNAVAILABLE
    exit_code = TRANSIENT_EXIT_CODE


class AuthenticationError(ClientError):
    code = grpc.StatusCode.UNAUTHENTICATED


class DeadlineExceededError(ClientError):
    code = grpc.StatusCode.DEADLINE_EXCEEDED
    exit_code = TRANSIENT_EXIT_CODE


class JobCancelledError(ClientError):
    code = grpc.StatusCode.CANCELLED
    exit_code = 130


class ServerBusyError(ClientError):
    """The server's job queue is full, or a message or image is over its limits."""

    code = grpc.StatusCode.RESOURCE_EXHAUSTED
    exit_code = TRANSIENT_EXIT_CODE


class NotFoundError(ClientError):
    """An unknown engine, model or job id."""

    code = grpc.StatusCode.NOT_FOUND


class PermissionDeniedError(ClientError):
    """A file job's path lies outside the server's root folders."""

    code = grpc.StatusCode.PERMISSION_DENIED


class InvalidRequestError(ClientError):
    """Bad input: the message names the frame or value and the fix."""

    code = grpc.StatusCode.INVALID_ARGUMENT


class ImageEvictedError(InvalidRequestError):
    """A window named an image by digest that the server has since evicted; resend it in full."""


#: The server's words for an evicted image (FAILED_PRECONDITION also means RunJob without roots).
_EVICTED = "no longer holds image"

_BY_CODE = {
    cls.code: cls
    for cls in (
        ServerUnavailableError,
        AuthenticationError,
        DeadlineExceededError,
        JobCancelledError,
        ServerBusyError,
        NotFoundError,
        PermissionDeniedError,
        InvalidRequestError,
    )
}


def from_rpc_error(
    error: grpc.RpcError, address: str, doing: str, timeout: float | None = None
) -> ClientError:
    """The client error for a failed call; ``doing`` says what the call was for (in messages)."""
    code = error.code() if hasattr(error, "code") else grpc.StatusCode.UNKNOWN
    details = (error.details() if hasattr(error, "details") else "") or ""
    if code == grpc.StatusCode.UNAVAILABLE:
        message = (
            f"{doing}: the server at {address} is unavailable ({details or 'no connection'}); start it "
            f"(movingcolor serve --address {address}) or check the address, then run again"
        )
    elif code == grpc.StatusCode.DEADLINE_EXCEEDED:
        within = f" within its deadline of {timeout:g}s" if timeout else " within its deadline"
        message = f"{doing} did not finish{within}; give it more time (timeout) or fewer frames"
    elif code == grpc.StatusCode.RESOURCE_EXHAUSTED and "larger than max" in details:
        message = (
            f"{doing}: a message was larger than the server accepts ({details}); send images in "
            f"smaller parts (part_bytes) or start the server with a larger --max-message-mb"
        )
    elif code == grpc.StatusCode.FAILED_PRECONDITION:
        if _EVICTED in details:
            return ImageEvictedError(f"{doing}: {details}")
        code, message = grpc.StatusCode.INVALID_ARGUMENT, f"{doing}: {details}"
    else:
        message = f"{doing}: {details}" if details else f"{doing}: {code.name}"
    error_class = _BY_CODE.get(code, ClientError)
    result = error_class(message)
    if error_class is ClientError:
        result.code = code
    return result
