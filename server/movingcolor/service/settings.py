"""What a server is started with: its limits, roots, device, token and TLS files."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..frames.limits import DEFAULT_MAX_PIXELS
from ..protocol import MAX_MESSAGE_BYTES, PART_BYTES

MIB = 1024 * 1024


@dataclass(frozen=True)
class ServerSettings:
    """Defaults suit one workstation or one GPU box; each has a ``movingcolor serve`` option."""

    #: Required on every call when set; always required beyond loopback.
    token: str | None = None
    #: Folders RunJob may read and write; none disables RunJob.
    roots: tuple[Path, ...] = ()
    #: Device for the network when a call says ``auto``: auto (GPU when present), cpu or cuda.
    device: str = "auto"
    #: Jobs running or waiting at once; more are refused with RESOURCE_EXHAUSTED (back-pressure).
    max_jobs: int = 16
    #: Engine windows that run at once per device; one keeps a GPU's memory to one window.
    device_slots: int = 1
    #: gRPC's receive (and send) limit. Images travel in parts, so gRPC's own default serves.
    max_message_bytes: int = MAX_MESSAGE_BYTES
    #: Size of the parts the server sends.
    part_bytes: int = PART_BYTES
    #: The largest single image accepted: a 4096x2160 RGBA float frame is 142 MB.
    max_image_bytes: int = 512 * MIB
    #: Frames one FuseWindow call may send.
    max_window_frames: int = 64
    #: Bytes of images one FuseWindow call may hold (received and decoded), whatever it declares.
    max_window_bytes: int = 2048 * MIB
    #: Pixels (width x height) of the largest image read, from files, the wire or a window; checked
    #: from the header before anything is decoded. The default passes 8K (8192x4320).
    max_pixels: int = DEFAULT_MAX_PIXELS
    #: A call left waiting on its client this long (for its next message, or for it to take a
    #: response) is ended and its job slot freed; time on the engine or queued for it never counts.
    idle_seconds: float = 300.0
    #: The longest a call may run in all (a farm's long shot on a CPU server fits well inside).
    max_call_seconds: float = 24 * 3600.0
    #: Shared engines (network models, by resolved folder and device) kept loaded at once.
    max_engines: int = 4
    #: FuseWindow's received images kept for later windows: about 80 RGB float 1920x1080 images.
    image_cache_bytes: int = 2048 * MIB
    #: FuseWindow's fused frames kept for renders of the same window: about 40 RGB float 1080p frames.
    result_cache_bytes: int = 1024 * MIB
    #: FuseWindow's prepared neighbours kept for the next window: about 40 guided 1080p frames.
    frame_cache_bytes: int = 1024 * MIB
    tls_cert: Path | None = None
    tls_key: Path | None = None
    #: Client certificates must be signed by this CA (mutual TLS).
    tls_client_ca: Path | None = None
    #: A Unix socket's group, whose members may connect too; None: the server's user alone.
    socket_group: str | None = None
    #: Seconds in-flight calls get to finish on shutdown before they are cancelled.
    grace_seconds: float = 10.0
    #: Fuse a tiny generated shot once listening, so the first job does not pay the process's
    #: one-time set-up (``warm_up``).
    warm_up: bool = True
