"""A shot streamed through a server (FuseShot or FuseWindow), with retries.

The request side runs in gRPC's thread: it sends the setup, waits for the
frames the server asks for (FuseShot), then sends their images in parts. The
response side is iterated by the caller. A call the server drops with
UNAVAILABLE (it restarted, or was not up yet; a refused certificate is not
retried) is retried with growing waits; after fused frames have arrived, the
retry asks only for the rest of the range, which gives the same frames because
windows depend on the clip, not the range.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterator

import grpc
from movingcolor.errors import MovingColorError
from movingcolor.protocol.images import ROLE_NAMES, ROLES, PartAssembler, split
from movingcolor.v1 import fusion_pb2
from movingcolor.v1 import image_pb2 as pb

from .errors import (
    JobCancelledError,
    ServerChangedError,
    from_rpc_error,
    is_message_too_large,
    retryable,
    setup_bytes,
    setup_too_large,
)
from .results import FusedFrame
from .setup import roles_of

_POLL_SECONDS = 0.1
#: A setup message this small fits any server's limit (serve takes no --max-message-mb under 0.25):
#: only a larger one (a grade file's bytes) is worth asking the server's limit for.
_FITS_ANY_SERVER = 256 * 1024
#: The most a call waits for the server's limits before it sends a large setup.
_LIMITS_TIMEOUT = 30.0


class _Upload:
    """The request stream of one attempt."""

    def __init__(self, setup: fusion_pb2.ShotSetup, frames, part_bytes: int, wait_for_accepted: bool):
        self.setup = setup
        self.frames = frames
        self.part_bytes = part_bytes
        self.wait = wait_for_accepted
        self.ready = threading.Event()
        self.stopped = threading.Event()
        self.needed: list[int] = list(frames.clip)
        self.roles: tuple[str, ...] = roles_of(setup)
        self.error: BaseException | None = None

    def accept(self, accepted: fusion_pb2.ShotAccepted) -> None:
        self.needed = list(accepted.needed)
        self.roles = tuple(ROLE_NAMES[r] for r in accepted.roles)
        self.ready.set()

    def requests(self) -> Iterator[fusion_pb2.FuseShotRequest]:
        yield fusion_pb2.FuseShotRequest(setup=self.setup)
        if self.wait:
            while not self.ready.wait(_POLL_SECONDS):
                if self.stopped.is_set():
                    return
        try:
            for frame in self.needed:
                for role in self.roles:
                    if self.stopped.is_set():
                        return
                    info, data = self.frames.image(role, frame)
                    yield from split(
                        ROLES[role], frame, info, data, self.part_bytes, fusion_pb2.FuseShotRequest
                    )
        except Exception as error:  # reported by the response side, which cancels the call
            self.error = error
            self.stopped.set()


#: What a timeout of None waits for: no deadline a shot reaches (ten years).
NO_DEADLINE = 10 * 365 * 86400.0


def call_seconds(timeout: float | None) -> float:
    """A call's ``timeout`` in seconds, more than 0; None for no deadline (as gRPC takes it). A None
    failed with a TypeError, and a negative one was told the server did not answer within it."""
    if timeout is None:
        return NO_DEADLINE
    try:
        seconds = float(timeout)
    except (TypeError, ValueError):
        seconds = math.nan
    if not seconds > 0:
        raise MovingColorError(
            f"timeout {timeout!r}: give the seconds a call may take, more than 0 (None: no deadline)"
        )
    return seconds


class ShotCall:
    """Iterate for fused frames in frame order; then ``summary``. ``cancel()`` works from any thread."""

    def __init__(
        self,
        client,
        method: str,
        setup: fusion_pb2.ShotSetup,
        frames,
        timeout: float,
        on_accepted: Callable[[ShotCall], None] | None = None,
        *,
        stated_timeout: float | None = None,
    ):
        """``stated_timeout``: the timeout the caller gave, named when the call runs out, where
        ``timeout`` is what was left of it (fuse_files asks the server for its info first)."""
        self.client = client
        self.on_accepted = on_accepted
        self.method = method
        self.setup = setup
        self.frames = frames
        self.timeout = call_seconds(timeout)
        self.stated_timeout = self.timeout if stated_timeout is None else call_seconds(stated_timeout)
        self.accepted: fusion_pb2.ShotAccepted | None = None
        self.summary: fusion_pb2.ShotSummary | None = None
        self.attempts = 0
        self._asked_limits = False
        self._sent_part_bytes = client.part_bytes
        self._call = None
        self._cancelled = threading.Event()

    @property
    def job_id(self) -> str:
        return self.accepted.job_id if self.accepted else ""

    def cancel(self) -> None:
        self._cancelled.set()
        if self._call is not None:
            self._call.cancel()

    def __iter__(self) -> Iterator[FusedFrame]:
        deadline = time.monotonic() + self.timeout
        setup, last_received = self.setup, None
        doing = f"{self.method} on {self.client.address}"
        # Retries are counted for each outage: an attempt that brought frames starts the count anew,
        # so a long shot survives a server restarted several times over its hours.
        failures = 0
        self._check_setup_fits(doing, deadline)
        while True:
            self.attempts += 1
            received_before = last_received
            try:
                for fused in self._attempt(setup, deadline):
                    last_received = fused.frame
                    yield fused
                return
            except grpc.RpcError as error:
                if self._cancelled.is_set():
                    raise JobCancelledError(f"{doing}: cancelled by this client") from None
                self.client._open(None)  # cut by close(): said as a closed client's call, not gRPC's words
                if self._smaller_parts_learned(error):
                    # Sent again in the server's parts, at once: the server refused the size alone.
                    setup = self._resume(last_received)
                    if setup is None:
                        return
                    continue
                failures = 1 if last_received != received_before else failures + 1
                left = deadline - time.monotonic()
                if retryable(error, self.client.tls) and failures <= self.client.retries and left > 0:
                    time.sleep(min(self.client.backoff * 2 ** (failures - 1), left))
                    setup = self._resume(last_received)
                    if setup is None:
                        return
                    continue
                raise from_rpc_error(
                    error, self.client.address, doing, self.stated_timeout, self.client.tls, setup=setup
                ) from None

    def _check_setup_fits(self, doing: str, deadline: float) -> None:
        """Refuse a setup over the server's message limit before it is sent: a grade file travels
        whole in it, where images go in parts, and the server's refusal told the caller to send
        smaller parts, which cannot help."""
        size = setup_bytes(self.setup)
        if size <= _FITS_ANY_SERVER:
            return
        limit = self.client.server_max_message_bytes
        if not limit or size > limit:
            # Asked again before refusing: the server may have restarted with a larger limit.
            try:
                self.client.info(max(0.001, min(deadline - time.monotonic(), _LIMITS_TIMEOUT)))
            except MovingColorError:
                return  # the call itself tells what is wrong with the server
            limit = self.client.server_max_message_bytes
        if limit and size > limit:
            raise setup_too_large(self.setup, limit, doing)

    def _smaller_parts_learned(self, error: grpc.RpcError) -> bool:
        """Whether ``error`` refused a part as too large and the server, asked (once a call), takes
        smaller ones than were sent."""
        if self._asked_limits or not is_message_too_large(error):
            return False
        self._asked_limits = True
        if self.client.upload_part_bytes >= self._sent_part_bytes:  # not learned by another call
            try:
                self.client.info()
            except MovingColorError:
                return False
        return self.client.upload_part_bytes < self._sent_part_bytes

    def _resume(self, last_received: int | None) -> fusion_pb2.ShotSetup | None:
        """The setup for the frames still to come; None when every frame has arrived."""
        if last_received is not None and self.method == "FuseWindow":
            return None  # a window's one frame
        if last_received is None or self.accepted is None or self.method != "FuseShot":
            return self.setup
        last = self.accepted.render.last
        if last_received >= last:
            return None
        setup = fusion_pb2.ShotSetup()
        setup.CopyFrom(self.setup)
        setup.handles = 0
        setup.render.CopyFrom(pb.FrameRange(first=last_received + 1, last=last))
        return setup

    def _attempt(self, setup: fusion_pb2.ShotSetup, deadline: float) -> Iterator[FusedFrame]:
        # Kept for the refusal: another call on this client may learn the server's parts meanwhile.
        self._sent_part_bytes = self.client.upload_part_bytes
        upload = _Upload(setup, self.frames, self._sent_part_bytes, self.method == "FuseShot")
        method = getattr(self.client.stub, self.method)
        call = method(
            upload.requests(), timeout=max(0.001, deadline - time.monotonic()), metadata=self.client.metadata
        )
        self._call = call
        if self._cancelled.is_set():
            call.cancel()
        assembler = PartAssembler(1 << 62)
        try:
            for response in call:
                kind = response.WhichOneof("message")
                if kind == "accepted":
                    if self.accepted is None:
                        self.accepted = response.accepted
                        if self.on_accepted:
                            self.on_accepted(self)
                    else:  # a resumed attempt: keep the first range, learn the new job id
                        _check_same_fusion(self.accepted, response.accepted, self.client.address)
                        self.accepted.job_id = response.accepted.job_id
                    upload.accept(response.accepted)
                elif kind == "part":
                    image = assembler.add(response.part)
                    if image is not None:
                        yield FusedFrame(image.frame, image.info, image.data)
                elif kind == "done":
                    self.summary = response.done.summary
        except grpc.RpcError:
            if upload.error is not None:  # reading an input failed: that is the error to report
                raise upload.error from None
            raise
        finally:
            upload.stopped.set()
            if self.summary is None:
                call.cancel()
        if upload.error is not None:
            raise upload.error


def _check_same_fusion(first: fusion_pb2.ShotAccepted, again: fusion_pb2.ShotAccepted, address: str) -> None:
    """A resumed shot goes on only where the server fuses as it did: one restarted with another
    default model (or engine, or device) would finish the shot with other frames than it began with,
    all of them under one fingerprint, which a rerun then keeps."""
    for what in ("engine", "model", "device"):
        before, now = getattr(first, what), getattr(again, what)
        if before != now:
            raise ServerChangedError(
                f"the server at {address} came back from a restart with {what} {now!r} where this shot "
                f"began with {before!r}: the frames written so far were made with {before!r}. Run again "
                f"against a server with {before!r} to finish the shot, or remove its frames to fuse it anew"
            )
