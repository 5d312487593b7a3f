"""The hand-written side of the wire contract, shared by the server and the client library.

Light on purpose (numpy and protobuf only; no torch, no OpenImageIO): hosts
import it through ``movingcolor_client``. The generated stubs are in
``movingcolor.v1``; the contract itself is ``protos/movingcolor/v1``.
"""

PROTOCOL = "movingcolor.v1"
SERVICE = "movingcolor.v1.Fusion"
#: Parts the server sends, and the client library's default: far under gRPC's
#: 4 MiB default receive limit, so stock clients need no changed settings.
PART_BYTES = 2 * 1024 * 1024
#: The largest message the server accepts unless started with another limit (gRPC's default).
MAX_MESSAGE_BYTES = 4 * 1024 * 1024
#: The shortest interval between a client's keepalive pings on a silent call that the server takes
#: without closing the connection (gRPC's ``grpc.http2.min_ping_interval_without_data_ms``, 5
#: minutes by default, which servers before this setting keep): a client pings a server that has
#: sent nothing for its keepalive interval, so that a server stopped or cut off is found in minutes,
#: not at the call's deadline (hours for a shot).
MIN_KEEPALIVE_SECONDS = 5.0
#: gRPC's default of that interval: what a server that does not set it takes.
GRPC_DEFAULT_KEEPALIVE_SECONDS = 300.0
#: Metadata keys: the token (``Bearer <token>``) and the client's name (for fair scheduling and logs).
TOKEN_METADATA = "authorization"
CLIENT_METADATA = "x-movingcolor-client"
