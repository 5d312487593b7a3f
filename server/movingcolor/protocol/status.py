"""Why a call failed, typed: the error's reason travels in the gRPC status details.

The server adds a ``google.rpc.ErrorInfo`` to every refusal it makes (reason: the error's
class name as UPPER_SNAKE, e.g. ``IMAGE_EVICTED``; domain: ``movingcolor.v1``), so a client
tells its cases apart by reason rather than by the wording of a message, which is for people
and may change.
"""

from __future__ import annotations

import re

import grpc
from google.protobuf import any_pb2
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

ERROR_DOMAIN = "movingcolor.v1"
#: A window named an image by digest that the server no longer holds: resend it in full.
IMAGE_EVICTED = "IMAGE_EVICTED"
#: The GPU ran out of memory for the job (RESOURCE_EXHAUSTED, as a full job table, SERVER_BUSY).
DEVICE_MEMORY = "DEVICE_MEMORY"
SERVER_BUSY = "SERVER_BUSY"


def reason_for(error: BaseException) -> str:
    """``ImageEvictedError`` -> ``IMAGE_EVICTED``."""
    name = type(error).__name__.removesuffix("Error")
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).upper()


def rich_status(code: grpc.StatusCode, message: str, reason: str) -> grpc.Status:
    """A status for ``context.abort_with_status`` carrying ``reason`` as an ErrorInfo."""
    detail = any_pb2.Any()
    detail.Pack(error_details_pb2.ErrorInfo(reason=reason, domain=ERROR_DOMAIN))
    return rpc_status.to_status(status_pb2.Status(code=code.value[0], message=message, details=[detail]))


def error_reason(error: grpc.RpcError) -> str | None:
    """The reason a MovingColor server gave for a failed call, or None (another server, or gRPC itself)."""
    try:
        status = rpc_status.from_call(error)
    except (ValueError, AttributeError):  # details that do not match the call's status
        return None
    for detail in status.details if status is not None else ():
        info = error_details_pb2.ErrorInfo()
        if detail.Is(info.DESCRIPTOR) and detail.Unpack(info) and info.domain == ERROR_DOMAIN:
            return info.reason
    return None
