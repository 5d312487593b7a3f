"""``movingcolor serve``: the gRPC inference server.

``movingcolor serve --address unix:///tmp/movingcolor.sock`` (or ``127.0.0.1:50051``,
the default). Beyond loopback a token is required: ``--token-file`` or
``$MOVINGCOLOR_TOKEN``. SIGTERM or Ctrl-C stops it cleanly.
"""

from __future__ import annotations

import argparse
import math
import os
from pathlib import Path

from ..errors import MovingColorError
from ..frames.limits import DEFAULT_MAX_PIXELS

DEFAULT_ADDRESS = "127.0.0.1:50051"
TOKEN_ENV = "MOVINGCOLOR_TOKEN"


def add_parser(commands) -> None:
    parser = commands.add_parser(
        "serve",
        help="serve fusion over gRPC to hosts, farm nodes and scripts",
        description="Serve fusion over gRPC. Engines load on first use and are shared by every client.",
    )
    parser.add_argument(
        "--address",
        default=DEFAULT_ADDRESS,
        help="unix:///path/to.sock or host:port; port 0 picks a free port (default: %(default)s)",
    )
    parser.add_argument(
        "--token-file", type=Path, help=f"file holding the token clients must send (else ${TOKEN_ENV})"
    )
    parser.add_argument(
        "--root",
        action="append",
        default=[],
        type=_root_folder,
        help="a folder file jobs (RunJob) may read and write; repeat for several (none: file jobs off)",
    )
    parser.add_argument(
        "--device",
        default="auto",
        help="device for the network: auto (GPU when present), cpu, cuda (default: %(default)s)",
    )
    parser.add_argument(
        "--max-jobs", type=int, default=16, help="jobs running or queued at once (default: %(default)s)"
    )
    parser.add_argument(
        "--slots", type=int, default=1, help="engine windows at once per device (default: %(default)s)"
    )
    parser.add_argument(
        "--max-message-mb",
        type=float,
        default=4,
        help="largest message accepted, in MiB (default: %(default)s); images travel in parts of half "
        "of it at most (2 MiB), and clients that send larger ones are told to send the server's",
    )
    parser.add_argument(
        "--max-image-mb",
        type=float,
        default=512,
        help="largest image accepted, in MiB (default: %(default)s)",
    )
    parser.add_argument(
        "--max-window-frames", type=int, default=64, help="frames per FuseWindow call (default: %(default)s)"
    )
    parser.add_argument(
        "--max-window-mb",
        type=float,
        default=2048,
        help="image MiB one FuseWindow call may hold (default: %(default)s)",
    )
    parser.add_argument(
        "--max-pixels",
        type=int,
        default=DEFAULT_MAX_PIXELS,
        help="largest image accepted, width x height, read from its header before decoding; 8K "
        "passes (default: %(default)s)",
    )
    parser.add_argument(
        "--idle-timeout",
        type=float,
        default=300.0,
        help="seconds a call may wait on its client (no message sent, no response read) before it is "
        "ended; engine time never counts (default: %(default)s)",
    )
    parser.add_argument(
        "--max-call-time",
        type=float,
        default=24 * 3600.0,
        help="seconds a call may run in all (default: %(default)s)",
    )
    parser.add_argument(
        "--max-engines",
        type=int,
        default=4,
        help="network models kept loaded at once; the least recently used is dropped (default: %(default)s)",
    )
    parser.add_argument(
        "--cache-mb",
        type=float,
        default=2048,
        help="MiB for images FuseWindow keeps so hosts scrubbing need not resend them (default: %(default)s)",
    )
    parser.add_argument(
        "--result-cache-mb",
        type=float,
        default=1024,
        help="MiB for fused frames FuseWindow keeps for renders of the same window (default: %(default)s)",
    )
    parser.add_argument(
        "--frame-cache-mb",
        type=float,
        default=1024,
        help="MiB for the neighbours FuseWindow prepared (plate in the engine's encoding, matte, band), "
        "kept for the host's next window (default: %(default)s)",
    )
    parser.add_argument(
        "--socket-group",
        metavar="GROUP",
        help="a Unix socket's group, whose members may connect too (default: the server's user alone)",
    )
    parser.add_argument("--tls-cert", type=Path, help="PEM certificate chain: serve over TLS")
    parser.add_argument("--tls-key", type=Path, help="PEM private key of --tls-cert")
    parser.add_argument(
        "--tls-client-ca", type=Path, help="PEM CA: require client certificates it signed (mutual TLS)"
    )
    parser.add_argument(
        "--grace",
        type=float,
        default=10.0,
        help="seconds in-flight calls get on shutdown (default: %(default)s)",
    )
    parser.add_argument(
        "--warm-up",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="fuse a tiny generated shot once listening, so the first job does not pay the "
        "process's one-time set-up (default: %(default)s)",
    )
    parser.add_argument(
        "--log-format",
        choices=("text", "json"),
        default="text",
        help="log lines as key=value or JSON (default: %(default)s)",
    )
    parser.set_defaults(run=run)


def read_token(path: Path | None) -> str | None:
    """The token from ``path``, else ``$MOVINGCOLOR_TOKEN``, else None: printable ASCII, the only
    characters a client can send it in (gRPC's metadata)."""
    if path is not None:
        try:
            token = path.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as error:
            reason = getattr(error, "strerror", None) or "not text"
            raise MovingColorError(f"token file {path}: {reason}; check the path") from error
        if not token:
            raise MovingColorError(f"token file {path} is empty; write the token into it")
        if path.stat().st_mode & 0o077:
            # Any user who reads it can run jobs as this server's user (file jobs read and write
            # under its roots).
            import logging

            from ..service.logs import event

            event(
                "warning.token_file",
                level=logging.WARNING,
                file=str(path),
                advice=f"other users of this machine can read the token: chmod 600 {path}",
            )
        where = f"token file {path}"
    else:
        token = os.environ.get(TOKEN_ENV, "").strip() or None
        where = f"${TOKEN_ENV}"
    if token and not (token.isascii() and token.isprintable()):
        raise MovingColorError(
            f"the token of {where} holds characters no client can send (letters beyond ASCII, or "
            f"control characters): use ASCII letters, digits and punctuation, e.g. from "
            f"`openssl rand -hex 32`"
        )
    return token


def _root_folder(text: str) -> Path:
    """An empty --root (``--root "$SHOWS"`` with the variable unset) would be the current folder."""
    if not text.strip():
        raise argparse.ArgumentTypeError(
            "is empty (an unset variable?): give the folder file jobs may read and write"
        )
    return Path(text)


#: The longest drain a stop may wait for: a day.
MAX_GRACE_SECONDS = 86400

#: The largest count a server reports to its clients (GetInfo's 32-bit fields).
_LARGEST_COUNT = 2**31 - 1


#: gRPC's own log level where the user sets none: its core writes lines of its own on stderr (a
#: client's failed TLS handshake at INFO), which are not the server's events and broke a JSON log.
GRPC_VERBOSITY = "ERROR"


def quiet_grpc() -> None:
    """Default $GRPC_VERBOSITY to :data:`GRPC_VERBOSITY` unless the user set it: read as gRPC's
    core starts, so it must be set before grpc is first imported (nothing the command line imports
    before ``run`` imports it)."""
    os.environ.setdefault("GRPC_VERBOSITY", GRPC_VERBOSITY)


def run(args) -> int:
    quiet_grpc()
    for name in ("max_jobs", "slots", "max_window_frames", "max_pixels", "max_engines"):
        if not 1 <= getattr(args, name) <= _LARGEST_COUNT:
            raise MovingColorError(
                f"--{name.replace('_', '-')} must be 1 to {_LARGEST_COUNT}, not {getattr(args, name)}"
            )
    for name in ("cache_mb", "result_cache_mb", "frame_cache_mb"):
        if not 0 <= getattr(args, name) < math.inf:
            value = getattr(args, name)
            raise MovingColorError(f"--{name.replace('_', '-')} must be 0 (no cache) or more, not {value}")
    for name in ("max_window_mb", "idle_timeout", "max_call_time", "max_message_mb", "max_image_mb"):
        if not 0 < getattr(args, name) < math.inf:
            value = getattr(args, name)
            raise MovingColorError(f"--{name.replace('_', '-')} must be more than 0 and finite, not {value}")
    if args.max_image_mb * 1024 * 1024 < 1:
        raise MovingColorError(f"--max-image-mb {args.max_image_mb:g} admits no image: give a larger size")
    if args.max_message_mb < 0.25:
        raise MovingColorError(
            f"--max-message-mb {args.max_message_mb:g} is too small for a frame's part and its "
            f"message: give 0.25 or more (images travel in parts, so the default 4 serves any image)"
        )
    if args.max_message_mb * 1024 * 1024 >= 2**31:
        raise MovingColorError(
            f"--max-message-mb {args.max_message_mb:g} is over gRPC's largest message (2 GiB): give "
            f"2047 or less (images travel in parts, so the default 4 serves any image)"
        )
    if not 0 <= args.grace <= MAX_GRACE_SECONDS:
        raise MovingColorError(
            f"--grace must be 0 (stop at once) to {MAX_GRACE_SECONDS} seconds, not {args.grace}"
        )
    if args.device not in ("auto", "cpu"):
        # Checked now rather than at the first network call: a GPU server without its GPU is a setup
        # error. The CPU needs no check, and a server that runs no network never imports torch.
        from ..model.device import resolve_device

        resolve_device(args.device)
    from ..frames.limits import set_max_pixels
    from ..protocol import PART_BYTES
    from ..service import ServerSettings, serve
    from ..service.info import server_config
    from ..service.logs import configure
    from ..service.roots import check_roots

    configure(args.log_format)
    # Before listening: a server whose config does not load said SERVING, then failed every call.
    server_config()
    set_max_pixels(args.max_pixels)
    mib = 1024 * 1024
    settings = ServerSettings(
        token=read_token(args.token_file),
        roots=check_roots(args.root),
        device=args.device,
        max_jobs=args.max_jobs,
        device_slots=args.slots,
        max_message_bytes=int(args.max_message_mb * mib),
        # The server's own messages obey its limit too: fused frames go back in parts that fit it,
        # with room for the message around each part.
        part_bytes=max(4096, min(PART_BYTES, int(args.max_message_mb * mib) // 2)),
        max_image_bytes=int(args.max_image_mb * mib),
        max_window_frames=args.max_window_frames,
        max_window_bytes=int(args.max_window_mb * mib),
        max_pixels=args.max_pixels,
        idle_seconds=args.idle_timeout,
        max_call_seconds=args.max_call_time,
        max_engines=args.max_engines,
        image_cache_bytes=int(args.cache_mb * mib),
        result_cache_bytes=int(args.result_cache_mb * mib),
        frame_cache_bytes=int(args.frame_cache_mb * mib),
        tls_cert=args.tls_cert,
        tls_key=args.tls_key,
        tls_client_ca=args.tls_client_ca,
        socket_group=args.socket_group,
        grace_seconds=args.grace,
        warm_up=args.warm_up,
    )
    return serve(args.address, settings)
