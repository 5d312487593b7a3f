"""Who a call comes from: the token check, and the identity fair turns go by.

Every call carries ``authorization: Bearer <token>`` when the server has one. Health checks
stay open, so load balancers and orchestrators can probe without the token.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os

import grpc

from ..protocol import CLIENT_METADATA, TOKEN_METADATA
from .logs import event

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


# Token digests are keyed with a secret of this process: a digest in the logs cannot be checked
# against guessed tokens elsewhere. Identities only need to hold still while the server runs.
_DIGEST_KEY = os.urandom(32)


def client_name(context: grpc.ServicerContext) -> str:
    """The name the client reports (its metadata), else its peer address: a label for logs."""
    for key, value in context.invocation_metadata() or ():
        if key == CLIENT_METADATA and value:
            return str(value)[:200]
    return context.peer()


def client_identity(context: grpc.ServicerContext, token: str | None) -> str:
    """The identity fair turns go by: what the client proved, not what it says it is.

    With mutual TLS, the subject of the client's certificate. Else, on a server with a token,
    the token, as a short keyed digest (the token itself never reaches a log): every client that
    holds the server's token is one identity, so clients that share a token share one place in
    the round of turns, and a client gains nothing by reporting many names. Without a token or a
    certificate, the name the client reports, else its peer address: such a server is open to any
    local process, which may report any name.
    """
    auth = context.auth_context() or {}
    subject = auth.get("x509_subject") or auth.get("x509_common_name")
    if subject:
        return "cert:" + subject[0].decode("utf-8", "replace")
    if token:
        return "token:" + hmac.new(_DIGEST_KEY, token.encode(), hashlib.sha256).hexdigest()[:12]
    return client_name(context)


def _denied(handler: grpc.RpcMethodHandler, method: str, message: str) -> grpc.RpcMethodHandler:
    def deny(request, context):
        # The log says whether a token came, never what it was: a wrong token is often a right one
        # for another server, or a typo of this one's.
        event(
            "auth.refused",
            level=logging.WARNING,
            method=method,
            peer=context.peer(),
            client=client_name(context),
            token="missing" if message == MISSING else "wrong",
        )
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
        return _denied(handler, handler_call_details.method, problem)
