"""Channels to a server: Unix socket or TCP, plain or TLS (mutual TLS with a client certificate)."""

from __future__ import annotations

import getpass
import json
import os
import socket
import urllib.parse
from pathlib import Path

import grpc
from movingcolor.errors import MovingColorError
from movingcolor.protocol import (
    CLIENT_METADATA,
    GRPC_DEFAULT_KEEPALIVE_SECONDS,
    MIN_KEEPALIVE_SECONDS,
    TOKEN_METADATA,
)
from movingcolor.protocol.address import parse_address

from .errors import MUTUAL_TLS, PLAIN, TLS

TOKEN_ENV = "MOVINGCOLOR_TOKEN"
#: A call that has heard nothing from its server for this long pings it, and a ping that is not
#: answered within ``KEEPALIVE_TIMEOUT`` fails the call as unavailable (then retried as any such
#: failure): a server process stopped, or a machine cut off without closing the connection, had
#: held ``fuse --server`` until the shot's deadline (6 hours). A little over gRPC's default for
#: what a server takes, so a server of any version keeps the connection of a healthy call that is
#: silent for long (a job queued behind others, a slow frame); servers of this version take pings
#: every ``MIN_KEEPALIVE_SECONDS``, for a client that asks for them sooner (``keepalive``).
KEEPALIVE_SECONDS = GRPC_DEFAULT_KEEPALIVE_SECONDS + 30.0
KEEPALIVE_TIMEOUT = 20.0
#: Fused frames come in parts of the server's part size; this leaves room for a server set larger.
MAX_RECEIVE_BYTES = 64 * 1024 * 1024


#: gRPC's own naming schemes, passed as they are (``unix:`` and ``host:port`` are read here).
_GRPC_SCHEMES = ("dns:", "ipv4:", "ipv6:", "unix-abstract:", "vsock:")


def _read(path: str | os.PathLike | None, what: str, marker: bytes) -> bytes | None:
    """The PEM file ``path``; refused where it cannot be read or holds no ``marker`` block (a file
    that is no certificate was found only at the first call, 7 s later, blamed on the server)."""
    if path is None:
        return None
    try:
        content = Path(path).read_bytes()
    except OSError as error:
        raise MovingColorError(f"TLS {what} {path}: {error.strerror}; check the path") from error
    if b"-----BEGIN " not in content or marker not in content:
        raise MovingColorError(
            f"TLS {what} {path} holds no PEM {marker.decode().lower()} (a block beginning '-----BEGIN'); "
            f"give the {what}'s PEM file"
        )
    return content


def tls_mode(
    tls: bool = False,
    ca: str | os.PathLike | None = None,
    cert: str | os.PathLike | None = None,
    key: str | os.PathLike | None = None,
) -> str:
    """How ``make_channel`` connects with these options: PLAIN, TLS or MUTUAL_TLS (errors.py)."""
    if cert:
        return MUTUAL_TLS
    return TLS if (tls or ca or key) else PLAIN


#: gRPC makes at most this many attempts of a call, whatever a retry policy asks for.
MAX_ATTEMPTS = 5
#: Calls gRPC may make again when the server was unreachable: each is answered whole or not at all
#: (RunJob is retried only until its first response, when gRPC commits to the attempt; a job dropped
#: after that is run again by ``Client.run_job``). A streamed shot is not among them: its resume at
#: the first missing frame is the client's (``calls``).
RETRIED_METHODS = (
    {"service": "movingcolor.v1.Fusion", "method": "GetInfo"},
    {"service": "movingcolor.v1.Fusion", "method": "FindImages"},
    {"service": "movingcolor.v1.Fusion", "method": "CancelJob"},
    {"service": "movingcolor.v1.Fusion", "method": "RunJob"},
    {"service": "grpc.health.v1.Health", "method": "Check"},
)


def retry_service_config(retries: int, backoff: float) -> str | None:
    """gRPC's service config for ``retries`` more attempts after the first, waits growing from
    ``backoff`` seconds (gRPC draws each wait at random up to that, so clients do not retry in step)."""
    if retries < 1:
        return None
    policy = {
        "maxAttempts": min(retries + 1, MAX_ATTEMPTS),
        "initialBackoff": f"{max(backoff, 0.001):.3f}s",
        "maxBackoff": f"{max(backoff, 0.001) * 2 ** (MAX_ATTEMPTS - 2):.3f}s",
        "backoffMultiplier": 2,
        "retryableStatusCodes": ["UNAVAILABLE"],
    }
    return json.dumps({"methodConfig": [{"name": list(RETRIED_METHODS), "retryPolicy": policy}]})


def grpc_target(address: str) -> str:
    """``address`` as gRPC takes it, read as a server reads its ``--address``: gRPC was given the
    address as written, so forms the server serves on (``unix:~/x.sock``, a space around it,
    ``unix://relative.sock``) failed, told to start the server that was running."""
    if not address or (not address.strip().startswith("unix:") and ":" not in address):
        raise MovingColorError(f"server address {address!r}: write unix:///path/to.sock or host:port")
    if address.strip().startswith(_GRPC_SCHEMES):
        return address.strip()
    # As a server reads it: a port over 65535 reached another port (99999 is 34463), and an
    # http:// address failed only after the retries, told to start a server there.
    return parse_address(address).target


def make_channel(
    address: str,
    tls: bool = False,
    ca: str | os.PathLike | None = None,
    cert: str | os.PathLike | None = None,
    key: str | os.PathLike | None = None,
    server_name: str | None = None,
    retries: int = 0,
    backoff: float = 0.5,
    keepalive: float = KEEPALIVE_SECONDS,
) -> grpc.Channel:
    """A channel to ``unix:///path/to.sock`` or ``host:port``; TLS when asked or when a CA/cert is given;
    quick calls retried by gRPC ``retries`` times while the server is unreachable; a call silent for
    ``keepalive`` seconds pings the server (at least ``MIN_KEEPALIVE_SECONDS``, what servers take)."""
    target = grpc_target(address)
    if not keepalive >= MIN_KEEPALIVE_SECONDS:
        raise MovingColorError(
            f"keepalive {keepalive!r}s: a server closes the connection of a client that pings more "
            f"often than every {MIN_KEEPALIVE_SECONDS:g}s; give at least that"
        )
    options: list[tuple[str, object]] = [
        ("grpc.max_receive_message_length", MAX_RECEIVE_BYTES),
        ("grpc.keepalive_time_ms", int(keepalive * 1000)),
        ("grpc.keepalive_timeout_ms", int(min(keepalive, KEEPALIVE_TIMEOUT) * 1000)),
        # Any ping in flight, gRPC's own flow-control probes too, waits this long for its answer
        # (60 s by default): a server stopped just after such a probe was found only then.
        ("grpc.http2.ping_timeout_ms", int(min(keepalive, KEEPALIVE_TIMEOUT) * 1000)),
        # gRPC stops pinging after two pings without data by default: a stalled server sends none.
        ("grpc.http2.max_pings_without_data", 0),
    ]
    service_config = retry_service_config(retries, backoff)
    if service_config:
        options += [("grpc.enable_retries", 1), ("grpc.service_config", service_config)]
    if tls_mode(tls, ca, cert, key) == PLAIN:
        return grpc.insecure_channel(target, options=options)
    if bool(cert) != bool(key):
        raise MovingColorError("a client certificate needs both cert and key (mutual TLS)")
    credentials = grpc.ssl_channel_credentials(
        root_certificates=_read(ca, "CA", b"CERTIFICATE"),
        private_key=_read(key, "key", b"PRIVATE KEY"),
        certificate_chain=_read(cert, "certificate", b"CERTIFICATE"),
    )
    if server_name:
        options.append(("grpc.ssl_target_name_override", server_name))
    return grpc.secure_channel(target, credentials, options=options)


def _carried(text: str) -> bool:
    """Whether gRPC's metadata can carry ``text``: printable ASCII only."""
    return text.isascii() and text.isprintable()


def call_metadata(token: str | None, name: str | None) -> tuple[tuple[str, str], ...]:
    """Metadata for every call: the token (``token``, else ``$MOVINGCOLOR_TOKEN``) and the client's name.

    The token as written in a file or a variable: its surrounding white space (a file's last newline)
    is not part of it, as the server reads it. A name in other letters goes percent-encoded (``Zoë``
    as ``Zo%C3%AB``); gRPC refused the call with only "Invalid metadata"."""
    token = token if token is not None else os.environ.get(TOKEN_ENV) or None
    token = token.strip() if token else None
    if token and not _carried(token):
        raise MovingColorError(
            "the token holds characters gRPC cannot send (letters beyond ASCII, or control "
            "characters): give the server's token as its token file holds it"
        )
    name = name or f"{getpass.getuser()}@{socket.gethostname()}:{os.getpid()}"
    name = "".join(c if _carried(c) else urllib.parse.quote(c) for c in name)
    metadata = [(CLIENT_METADATA, name)]
    if token:
        metadata.append((TOKEN_METADATA, f"Bearer {token}"))
    return tuple(metadata)
