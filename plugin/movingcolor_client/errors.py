"""What can go wrong talking to a server, as exceptions whose messages say what to do.

Every one derives from ``movingcolor.errors.MovingColorError`` (``movingcolor fuse
--server`` turns them into a one-line message and its exit status) and carries the
gRPC status ``code``. Failures a farm should retry later (server down, busy or too
slow) exit with 75, ``EX_TEMPFAIL``; bad input, and anything that would fail the same way
again (a refused certificate, a message over the server's limit), exits with 2.
"""

from __future__ import annotations

import math
import re
import socket
import ssl

import grpc
from movingcolor import errors as server_errors
from movingcolor.errors import TRANSIENT_EXIT_CODE, MovingColorError
from movingcolor.protocol import GRPC_DEFAULT_KEEPALIVE_SECONDS
from movingcolor.protocol.status import DEVICE_MEMORY, IMAGE_EVICTED, error_reason
from movingcolor.v1 import fusion_pb2

from .package_check import installed_movingcolor

# Read through the check: a folder named movingcolor where the script runs has no version to give.
__version__ = installed_movingcolor().__version__


class ClientError(MovingColorError):
    """The server refused or failed a call; ``code`` is its gRPC status."""

    code = grpc.StatusCode.UNKNOWN


class ServerUnavailableError(ClientError):
    """The server is not running, not reachable, or went away mid-call."""

    code = grpc.StatusCode.UNAVAILABLE
    exit_code = TRANSIENT_EXIT_CODE


class ServerChangedError(ClientError):
    """The server came back from a restart mid-shot with another engine, model or device: the
    frames it would make do not match those already written."""


class AuthenticationError(ClientError):
    code = grpc.StatusCode.UNAUTHENTICATED


class CertificateError(AuthenticationError):
    """The TLS handshake failed: the server refused the client's certificate (or its absence), or the
    client does not trust the server's. gRPC reports it as UNAVAILABLE, but retrying cannot help."""

    code = grpc.StatusCode.UNAVAILABLE


class DeadlineExceededError(ClientError):
    code = grpc.StatusCode.DEADLINE_EXCEEDED
    exit_code = TRANSIENT_EXIT_CODE


class MessageTooLargeError(ClientError):
    """A message or image is over the server's limits: it would be refused again."""

    code = grpc.StatusCode.RESOURCE_EXHAUSTED


class NotFoundError(ClientError):
    """An unknown engine, model or job id."""

    code = grpc.StatusCode.NOT_FOUND


class PermissionDeniedError(ClientError):
    """A file job's path lies outside the server's root folders, or this user may not use the
    server's Unix socket (:class:`SocketPermissionError`)."""

    code = grpc.StatusCode.PERMISSION_DENIED


class SocketPermissionError(PermissionDeniedError):
    """The system refuses this user the server's Unix socket (its mode): every call of a batch would
    be refused alike."""


def socket_refused(address: str, doing: str) -> SocketPermissionError:
    return SocketPermissionError(
        f"{doing}: this user may not use the server's socket at {address} (Permission denied): a "
        f"server's Unix socket is its own user's alone; start the server with --socket-group GROUP "
        f"naming a group this user is in, or on 127.0.0.1:PORT with a token"
    )


class InvalidRequestError(ClientError):
    """Bad input: the message names the frame or value and the fix."""

    code = grpc.StatusCode.INVALID_ARGUMENT


# The server's own errors, raised here as they were raised there: each is also a ClientError with its
# gRPC code, so one ``except ClientError`` takes every failed call, and ``except`` of the server's
# class (movingcolor.errors) takes it too.


class JobCancelledError(server_errors.JobCancelledError, ClientError):
    code = grpc.StatusCode.CANCELLED


class ServerBusyError(server_errors.ServerBusyError, ClientError):
    code = grpc.StatusCode.RESOURCE_EXHAUSTED


class OutputBusyError(server_errors.OutputBusyError, ClientError):
    code = grpc.StatusCode.ABORTED


class ImageEvictedError(server_errors.ImageEvictedError, ClientError):
    code = grpc.StatusCode.FAILED_PRECONDITION


class DeviceMemoryError(server_errors.DeviceMemoryError, ClientError):
    """The server's GPU ran out of memory for the job: a later retry may pass (exit 75), an
    immediate one seldom does; it is not a full job table."""

    code = grpc.StatusCode.RESOURCE_EXHAUSTED


#: RESOURCE_EXHAUSTED for gRPC's own size limit, not a full job table: the same request would be
#: refused again. (An image over serve --max-image-mb is INVALID_ARGUMENT.)
_TOO_LARGE = ("larger than max",)

#: The sizes gRPC's refusal names: "larger than max (7415048 vs. 4194304)", the message's and the limit.
_REFUSED_SIZES = re.compile(r"\((\d+) vs\. (\d+)\)")

_MIB = 1024 * 1024


def setup_bytes(setup: fusion_pb2.ShotSetup) -> int:
    """The size of the message that carries ``setup`` (a FuseShot or FuseWindow call's first)."""
    return fusion_pb2.FuseShotRequest(setup=setup).ByteSize()


def setup_too_large(setup: fusion_pb2.ShotSetup, limit: int, doing: str) -> MessageTooLargeError:
    """The error for a setup over a server's message limit of ``limit`` bytes. Images travel in parts
    of any size; a grade file travels whole, in the setup, so only the server's limit can change."""
    size = setup_bytes(setup)
    # A power of two with a MiB to spare for the message around the file.
    enough = 2 ** math.ceil(math.log2(size / _MIB + 1))
    start = f"start the server with --max-message-mb {enough}"
    grade = setup.grade if setup.WhichOneof("source") == "grade" else None
    if grade is not None and grade.file:
        return MessageTooLargeError(
            f"{doing}: grade file {grade.file_name or '(unnamed)'} is {len(grade.file) / _MIB:.1f} MiB, "
            f"over this server's {limit / _MIB:g} MiB message limit (a grade file travels whole, not "
            f"in parts): {start}, or grade with a smaller file (a LUT of fewer points) or a look of "
            f"the server's config (look:NAME)"
        )
    return MessageTooLargeError(
        f"{doing}: the shot's setup is {size / _MIB:.1f} MiB, over this server's {limit / _MIB:g} MiB "
        f"message limit (it travels whole, not in parts): {start}"
    )


#: How a client uses TLS: not at all, to check the server only, or with its own certificate too.
PLAIN, TLS, MUTUAL_TLS = "", "tls", "mutual"

_BY_CODE = {
    **{
        cls.code: cls
        for cls in (
            ServerUnavailableError,
            AuthenticationError,
            DeadlineExceededError,
            NotFoundError,
            PermissionDeniedError,
            InvalidRequestError,
        )
    },
    **{cls.code: cls for cls in (JobCancelledError, ServerBusyError, OutputBusyError)},
}


def _tls_problem(details: str, tls: str) -> str | None:
    """What a failed connection says about the TLS setup, or None when it is no TLS failure."""
    if tls == PLAIN:
        return None
    text = details.lower()
    if "wrong_version_number" in text:
        return "the server does not use TLS; leave out the TLS options (--tls-ca/--tls-cert, ca=/cert=)"
    if "certificate_verify_failed" in text:
        return (
            "this client does not trust the server's certificate; pass the CA that signed it (--tls-ca, ca=)"
        )
    if "hostname verification" in text or "peer name" in text:
        return (
            "the server's certificate is not for the name connected to; connect by a name the "
            "certificate holds (or pass server_name=)"
        )
    # A server that wants a client certificate hangs up during the handshake when it gets none or
    # one it does not trust; gRPC then says only that the socket closed while connecting.
    if "failed to connect" in text and any(w in text for w in ("socket closed", "handshake", "ssl")):
        if tls == MUTUAL_TLS:
            return (
                "the server refused this client's certificate; pass a certificate and key signed by the "
                "CA the server trusts for clients (--tls-cert/--tls-key, cert=/key=)"
            )
        return (
            "the server requires a client certificate (mutual TLS); pass one and its key "
            "(--tls-cert/--tls-key, cert=/key=)"
        )
    return None


def _speaks_tls(address: str) -> bool:
    """Whether the server at a ``host:port`` address completes a TLS handshake. A server with TLS
    closes a plain client's connection at once, which gRPC reports as a socket closed, as it would a
    server going away: only the handshake tells the two apart."""
    address = address.strip()  # as the channel was made (channel.grpc_target)
    if address.startswith(("unix:", "unix-abstract:", "vsock:")):
        return False
    target = address.split("///", 1)[-1] if "///" in address else address
    host, _, port = target.rpartition(":")
    if not port.isdigit():
        return False
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    try:
        with (
            socket.create_connection((host.strip("[]") or "localhost", int(port)), timeout=2) as raw,
            context.wrap_socket(raw),
        ):
            return True
    except (OSError, ValueError):
        return False


def is_message_too_large(error: grpc.RpcError) -> bool:
    """Whether gRPC refused a message over the receiver's size limit (not a full job table)."""
    if not hasattr(error, "code") or error.code() != grpc.StatusCode.RESOURCE_EXHAUSTED:
        return False
    return any(words in (error.details() or "") for words in _TOO_LARGE)


def retryable(error: grpc.RpcError, tls: str = PLAIN) -> bool:
    """Whether a call may succeed if made again: the server was unreachable, not refusing us."""
    if not hasattr(error, "code") or error.code() != grpc.StatusCode.UNAVAILABLE:
        return False
    # A socket refused this user is retried too: a server starting makes it its user's alone
    # before it lets the group in. Past the retries it is told as such (SocketPermissionError).
    return _tls_problem(error.details() or "", tls) is None


def _socket_refused(details: str) -> bool:
    """Whether gRPC's failed connection is the system refusing this user a Unix socket (its mode):
    told as such (exit 2), where a farm retried an exit 75 for good."""
    return "unix:" in details and "permission denied" in details.lower()


def from_rpc_error(
    error: grpc.RpcError,
    address: str,
    doing: str,
    timeout: float | None = None,
    tls: str = PLAIN,
    setup: fusion_pb2.ShotSetup | None = None,
) -> MovingColorError:
    """The client error for a failed call; ``doing`` says what the call was for (in messages),
    ``tls`` how the client connected (PLAIN, TLS or MUTUAL_TLS), ``setup`` the shot's setup where
    the call sent one (a refusal of its size is told as such, not as an image's)."""
    code = error.code() if hasattr(error, "code") else grpc.StatusCode.UNKNOWN
    details = (error.details() if hasattr(error, "details") else "") or ""
    tls_problem = _tls_problem(details, tls) if code == grpc.StatusCode.UNAVAILABLE else None
    if tls_problem:
        return CertificateError(f"{doing}: the TLS handshake with {address} failed: {tls_problem}")
    closed = code == grpc.StatusCode.UNAVAILABLE and "socket closed" in details.lower()
    if tls == PLAIN and closed and _speaks_tls(address):
        return CertificateError(
            f"{doing}: the server at {address} uses TLS and this client connected without it; pass "
            f"the CA that signed the server's certificate (--tls-ca, ca=), or tls=True for a "
            f"certificate of a public CA"
        )
    if code == grpc.StatusCode.UNAVAILABLE and _socket_refused(details):
        return socket_refused(address, doing)
    if code == grpc.StatusCode.UNAVAILABLE and "too many pings" in details.lower():
        # Not worth retrying: the same client pings the same server as often again.
        return ClientError(
            f"{doing}: the server at {address} closed the connection because this client pinged a "
            f"silent call more often than it allows (a server older than this client takes a ping "
            f"every {GRPC_DEFAULT_KEEPALIVE_SECONDS:g}s at most); connect with a longer keepalive "
            f"(Client(keepalive=...)) or update the server"
        )
    if code == grpc.StatusCode.UNAVAILABLE:
        message = (
            f"{doing}: the server at {address} is unavailable ({details or 'no connection'}); start it "
            f"(movingcolor serve --address {address}) or check the address, then run again"
        )
    elif code == grpc.StatusCode.DEADLINE_EXCEEDED:
        within = f" within its deadline of {timeout:g}s" if timeout else " within its deadline"
        message = f"{doing} did not finish{within}; raise timeout= (None: no deadline) or send fewer frames"
    elif code == grpc.StatusCode.RESOURCE_EXHAUSTED and any(words in details for words in _TOO_LARGE):
        sizes = _REFUSED_SIZES.search(details)
        limit = int(sizes.group(2)) if sizes else 0
        if setup is not None and limit and setup_bytes(setup) > limit:
            return setup_too_large(setup, limit, doing)
        if "larger than max" in details:
            details = (
                f"a message was larger than the server accepts ({details}); send images in smaller "
                f"parts (part_bytes) or start the server with a larger --max-message-mb"
            )
        return MessageTooLargeError(f"{doing}: {details}")
    elif code == grpc.StatusCode.FAILED_PRECONDITION:
        message = f"{doing}: {details}"
        if error_reason(error) == IMAGE_EVICTED:  # FAILED_PRECONDITION also means RunJob without roots
            return ImageEvictedError(message)
        code = grpc.StatusCode.INVALID_ARGUMENT
    elif code == grpc.StatusCode.CANCELLED and details.strip().lower() in ("", "cancelled"):
        # A server ends a call with its reason; one that cannot (an older one cut off a call whose
        # client read nothing) says nothing, and this client made no cancel (that one is said as
        # such before this).
        message = (
            f"{doing}: the server ended the call without saying why (CANCELLED): a server ends a call "
            f"whose client sent and read nothing for its idle limit (serve --idle-timeout; as when a "
            f"progress callback or a host's UI blocks the client), or that ran past its total limit "
            f"(serve --max-call-time); its log's job.limit event says which"
        )
    elif code == grpc.StatusCode.UNIMPLEMENTED:
        message = (
            f"{doing}: the server at {address} does not offer this call ({details or code.name}): it is "
            f"not a movingcolor serve, or one older than this client ({__version__}); check the "
            f"address, or update the server"
        )
    else:
        message = f"{doing}: {details}" if details else f"{doing}: {code.name}"
    error_class = _BY_CODE.get(code, ClientError)
    if code == grpc.StatusCode.RESOURCE_EXHAUSTED and error_reason(error) == DEVICE_MEMORY:
        error_class = DeviceMemoryError
    result = error_class(message)
    result.code = code
    return result
