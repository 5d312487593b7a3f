"""The token check: every call carries ``authorization: Bearer <token>`` when the server has one.

Health checks stay open, so load balancers and orchestrators can probe without the token.
"""

from __future__ import annotations

import hmac

import grpc

from ..protocol import TOKEN_METADATA

OPEN_METHODS = ("/grpc.health.v1.Health/",)

MISSING = (
    "this server needs a token: send it as 'authorization: Bearer <token>' metadata "
    "(movingcolor fuse --token, or $MOVINGCOLOR_TOKEN; movingcolor_client.connect(..., token=...))"
)
WRONG = (
    "the token does not match this server's; check $MOVINGCOLOR_TOKEN (or --token) against the "
    "token the server was started with"
)


def token_problem(metadata, token: str) -> str | None:
    """Why the call's metadata fails the check, or None when it passes."""
    values = [value for key, value in (metadata or ()) if key == TOKEN_METADATA]
    if not values:
        return MISSING
    scheme, _, given = str(values[0]).partition(" ")
    if scheme.lower() != "bearer" or not given:
        return MISSING
    if not hmac.compare_digest(given.strip().encode(), token.encode()):
        return WRONG
    return None


def _denied(handler: grpc.RpcMethodHandler, message: str) -> grpc.RpcMethodHandler:
    def deny(request, context):
        context.abort(grpc.StatusCode.UNAUTHENTICATED, message)

    kinds = {
        (False, False): grpc.unary_unary_rpc_method_handler,
        (False, True): grpc.unary_stream_rpc_method_handler,
        (True, False): grpc.stream_unary_rpc_method_handler,
        (True, True): grpc.stream_stream_rpc_method_handler,
    }
    make = kinds[(handler.request_streaming, handler.response_streaming)]
    return make(
        deny,
        request_deserializer=handler.request_deserializer,
        response_serializer=handler.response_serializer,
    )


class TokenInterceptor(grpc.ServerInterceptor):
    """Refuses calls without the server's token with UNAUTHENTICATED, before any work starts."""

    def __init__(self, token: str):
        self.token = token

    def intercept_service(self, continuation, handler_call_details):
        if handler_call_details.method.startswith(OPEN_METHODS):
            return continuation(handler_call_details)
        problem = token_problem(handler_call_details.invocation_metadata, self.token)
        handler = continuation(handler_call_details)
        if problem is None or handler is None:
            return handler
        return _denied(handler, problem)
