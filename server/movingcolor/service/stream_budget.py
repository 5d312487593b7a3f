"""A bound on the long-lived streams that are not jobs (server reflection).

The server runs each call on a thread of a pool sized for its jobs and a few spare threads for
everything else (info, health, cancel, refusals). A reflection stream holds its thread for as long
as its client keeps it open: a handful of them, from a careless tool or a hostile process, took
every spare thread, and health checks, GetInfo and new jobs then waited until their deadlines. The
streams are admitted only up to a small budget; beyond it a new one is refused at once with
RESOURCE_EXHAUSTED (retry later), and the pool's other threads stay free.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable

import grpc

#: The reflection service's streams, both versions grpcio-reflection serves.
REFLECTION_METHODS = (
    "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
    "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
)
#: Reflection streams open at once: a few tools (grpcurl, an IDE) at a time.
REFLECTION_STREAMS = 2


class StreamBudget(grpc.ServerInterceptor):
    """Admits at most ``limit`` calls of ``methods`` at once; refuses others with RESOURCE_EXHAUSTED."""

    def __init__(self, methods: Iterable[str] = REFLECTION_METHODS, limit: int = REFLECTION_STREAMS):
        self.methods = frozenset(methods)
        self.limit = limit
        self._slots = threading.BoundedSemaphore(limit)

    def intercept_service(self, continuation, handler_call_details):
        handler = continuation(handler_call_details)
        if handler is None or handler_call_details.method not in self.methods:
            return handler
        if not (handler.request_streaming and handler.response_streaming):
            return handler
        return grpc.stream_stream_rpc_method_handler(
            self._bounded(handler.stream_stream),
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )

    def _bounded(self, serve):
        def bounded(requests, context):
            if not self._slots.acquire(blocking=False):
                context.abort(
                    grpc.StatusCode.RESOURCE_EXHAUSTED,
                    f"{self.limit} reflection streams are open on this server already: close one "
                    f"(a tool left running), or try again later",
                )
            try:
                yield from serve(requests, context)
            finally:
                self._slots.release()

        return bounded
