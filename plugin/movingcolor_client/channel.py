"""Channels to a server: Unix socket or TCP, plain or TLS (mutual TLS with a client certificate)."""

from __future__ import annotations

import getpass
import os
import socket
from pathlib import Path

import grpc
from movingcolor.errors import MovingColorError
from movingcolor.protocol import CLIENT_METADATA, TOKEN_METADATA

from .errors import MUTUAL_TLS, PLAIN, TLS

TOKEN_ENV = "MOVINGCOLOR_TOKEN"
#: Fused frames come in parts of the server's part size; this leaves room for a server set larger.
MAX_RECEIVE_BYTES = 64 * 1024 * 1024


def _read(path: str | os.PathLike | None, what: str) -> bytes | None:
    if path is None:
        return None
    try:
        return Path(path).read_bytes()
    except OSError as error:
        raise MovingColorError(f"TLS {what} {path}: {error.strerror}; check the path") from error


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


def make_channel(
    address: str,
    tls: bool = False,
    ca: str | os.PathLike | None = None,
    cert: str | os.PathLike | None = None,
    key: str | os.PathLike | None = None,
    server_name: str | None = None,
) -> grpc.Channel:
    """A channel to ``unix:///path/to.sock`` or ``host:port``; TLS when asked or when a CA/cert is given."""
    if not address or (not address.startswith("unix:") and ":" not in address):
        raise MovingColorError(f"server address {address!r}: write unix:///path/to.sock or host:port")
    options = [("grpc.max_receive_message_length", MAX_RECEIVE_BYTES)]
    if tls_mode(tls, ca, cert, key) == PLAIN:
        return grpc.insecure_channel(address, options=options)
    if bool(cert) != bool(key):
        raise MovingColorError("a client certificate needs both cert and key (mutual TLS)")
    credentials = grpc.ssl_channel_credentials(
        root_certificates=_read(ca, "CA"),
        private_key=_read(key, "key"),
        certificate_chain=_read(cert, "certificate"),
    )
    if server_name:
        options.append(("grpc.ssl_target_name_override", server_name))
    return grpc.secure_channel(address, credentials, options=options)


def call_metadata(token: str | None, name: str | None) -> tuple[tuple[str, str], ...]:
    """Metadata for every call: the token (``token``, else ``$MOVINGCOLOR_TOKEN``) and the client's name."""
    token = token if token is not None else os.environ.get(TOKEN_ENV) or None
    name = name or f"{getpass.getuser()}@{socket.gethostname()}:{os.getpid()}"
    metadata = [(CLIENT_METADATA, name)]
    if token:
        metadata.append((TOKEN_METADATA, f"Bearer {token}"))
    return tuple(metadata)
