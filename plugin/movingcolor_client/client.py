"""The client: connect to a server, ask what it has, fuse shots from files or arrays, run file jobs.

Every call has a deadline (``timeout``, in seconds) and is retried when the
server is unavailable (``retries``, waits growing from ``backoff`` seconds): quick
calls and RunJob until the server takes the job by gRPC's retry policy (at most 4
retries, gRPC's limit), a streamed shot by resuming at its first missing frame, a
file job the server dropped by running it again (which keeps the frames written).
"""

from __future__ import annotations

import dataclasses
import logging
import os
import socket
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import grpc
import numpy as np
from google.protobuf import json_format
from grpc_health.v1 import health_pb2, health_pb2_grpc
from movingcolor.errors import FRAMES_WRITTEN, FrameSourceError, MovingColorError
from movingcolor.frames.frame_range import FrameRange
from movingcolor.protocol import PART_BYTES
from movingcolor.protocol.address import parse_address
from movingcolor.protocol.digest import ocio_config_digest
from movingcolor.spec import ShotReport
from movingcolor.spec.schema import LOOK_PREFIX, default, setting_value
from movingcolor.v1 import fusion_pb2, fusion_pb2_grpc
from movingcolor.v1 import image_pb2 as pb

from .calls import ShotCall, call_seconds
from .channel import KEEPALIVE_SECONDS, call_metadata, make_channel, tls_mode
from .errors import (
    ClientError,
    ImageEvictedError,
    ServerUnavailableError,
    from_rpc_error,
    retryable,
    socket_refused,
)
from .outputs import ShotOutputs, contiguous_runs
from .results import FusedFrame
from .setup import names_a_file, output_message, roles_of, shot_setup
from .sources import ArrayFrames, DigestedFrames, FileFrames, _frame_number

log = logging.getLogger(__name__)

Progress = Callable[[int, int, int], None]

#: Deadlines: quick calls, and a whole shot (long shots on a CPU server take a while).
INFO_TIMEOUT = 30.0
SHOT_TIMEOUT = 6 * 3600.0

#: Distinct window warnings a client remembers having logged.
WARNINGS_REMEMBERED = 64
#: How long a window trusts the server's colour config and context found to be this process's:
#: a server restarted at the same address with another config is found within it (a scrub's every
#: window paid a GetInfo before, 5 ms of a 35 ms step).
OCIO_RECHECK_SECONDS = 10.0


class Client:
    """A connection to one server. Use as a context manager, or call ``close()``."""

    def __init__(
        self,
        address: str,
        token: str | None = None,
        *,
        tls: bool = False,
        ca: str | os.PathLike | None = None,
        cert: str | os.PathLike | None = None,
        key: str | os.PathLike | None = None,
        server_name: str | None = None,
        name: str | None = None,
        retries: int = 3,
        backoff: float = 0.5,
        part_bytes: int = PART_BYTES,
        keepalive: float = KEEPALIVE_SECONDS,
    ):
        self.address = address
        self.retries = retries
        self.backoff = backoff
        self.part_bytes = part_bytes
        #: The parts the server sends and takes (GetInfo's limits), once learned: a server started
        #: with a smaller --max-message-mb refuses parts of ``part_bytes``.
        self.server_part_bytes: int | None = None
        #: The largest message the server takes (GetInfo's limits), once learned: a shot's setup,
        #: which carries a grade file whole, is checked against it before it is sent.
        self.server_max_message_bytes: int | None = None
        self.metadata = call_metadata(token, name)
        _refuse_a_socket_this_user_may_not_use(address)
        self.channel = make_channel(address, tls, ca, cert, key, server_name, retries, backoff, keepalive)
        self.tls = tls_mode(tls, ca, cert, key)
        self._stub = fusion_pb2_grpc.FusionStub(self.channel)
        self._health_stub = health_pb2_grpc.HealthStub(self.channel)
        self._closed = False
        # The last window's images and digests (fuse_window with reuse): one window's memory, for
        # the next window's frames, most of them the same, to be compared rather than hashed.
        self._window_images: dict = {}
        # The windows' warnings logged already: a host scrubbing a shot is told each once, not
        # once a frame (the frame itself carries its warnings for the host to show).
        self._warnings_said: dict[str, None] = {}
        # The context variables the server's config reads, and this process's values of them (and of
        # $OCIO) when they were last found to be the server's.
        self._ocio_names: tuple[str, ...] = ()
        self._ocio_checked: tuple | None = None
        self._ocio_checked_at = -OCIO_RECHECK_SECONDS

    def close(self) -> None:
        self._closed = True
        self._window_images = {}
        self.channel.close()

    def _open(self, stub):
        if self._closed:
            raise ClientError(
                f"this client of {self.address} is closed (close(), or its with block ended); "
                f"connect again to make another call"
            )
        return stub

    @property
    def stub(self) -> fusion_pb2_grpc.FusionStub:
        """The Fusion service's stub; ClientError once the client is closed."""
        return self._open(self._stub)

    @property
    def _health(self) -> health_pb2_grpc.HealthStub:
        return self._open(self._health_stub)

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- quick calls ----------------------------------------------------------

    def _unary(
        self, method: Callable, request, timeout: float | None, doing: str, stated: float | None = None
    ):
        """``stated``: the timeout its caller gave, named in messages where ``timeout`` is the time
        left of it (a call that runs out tells the caller what it asked for, not what remained)."""
        timeout = call_seconds(timeout)
        deadline = time.monotonic() + timeout
        reached = False
        try:
            reached = self._wait_for_server(deadline)
            self._open(None)  # closed while it waited
            return method(request, timeout=max(0.001, deadline - time.monotonic()), metadata=self.metadata)
        except grpc.RpcError as error:
            self._open(None)  # the call was cut by close()
            raise self._call_error(error, reached, doing, stated or timeout) from None
        except ValueError:  # gRPC's word for a channel closed under the call
            self._open(None)
            raise

    def _call_error(self, error: grpc.RpcError, answered: bool, doing: str, timeout: float) -> Exception:
        """The client error of a failed call; ``answered``: whether the server was heard from."""
        if not answered and error.code() == grpc.StatusCode.DEADLINE_EXCEEDED:
            # The whole time went on waiting for a server that never answered: no slow call.
            return ServerUnavailableError(
                f"{doing}: the server at {self.address} did not answer within {timeout:g}s; start "
                f"it (movingcolor serve --address {self.address}) or check the address, then run again"
            )
        return from_rpc_error(error, self.address, doing, timeout, self.tls)

    def _wait_for_server(self, deadline: float) -> bool:
        """With retries, give a server that is starting (or restarting) the time the retries would
        have taken to come up: gRPC connects as soon as it listens. The call that follows fails as
        unavailable if it never does, after gRPC's own retries (the channel's retry policy). False
        when no answer came within the wait.

        The wait is a health check that waits for the channel to be ready, not
        ``grpc.channel_ready_future``: that one leaves a thread polling the channel after it is
        ready, which raises when the client is closed right after its call."""
        if self.retries < 1:
            return True
        remaining = deadline - time.monotonic()
        window = min(self.backoff * (2**self.retries - 1), remaining)
        # Any answer, even NOT_SERVING or an error from a server without the health service, means
        # it is reachable; only running out of the window is the failure left to the call that follows.
        try:
            self._health.Check(
                health_pb2.HealthCheckRequest(), timeout=max(0.001, window), wait_for_ready=True
            )
        except grpc.RpcError as error:
            # A wait that ran out heard nothing: the call that follows (the rest of the deadline
            # in gRPC's retries) is no slow call when it runs out too.
            return error.code() != grpc.StatusCode.DEADLINE_EXCEEDED
        return True

    def info(self, timeout: float | None = INFO_TIMEOUT) -> dict:
        """Versions, devices, engines, installed models, limits and root folders, as a dict."""
        reply = self._unary(self.stub.GetInfo, fusion_pb2.GetInfoRequest(), timeout, "GetInfo")
        if reply.limits.part_bytes:
            self.server_part_bytes = int(reply.limits.part_bytes)
        if reply.limits.max_message_bytes:
            self.server_max_message_bytes = int(reply.limits.max_message_bytes)
        return json_format.MessageToDict(
            reply, preserving_proto_field_name=True, always_print_fields_with_no_presence=True
        )

    @property
    def upload_part_bytes(self) -> int:
        """The size of the parts images are sent in: ``part_bytes``, or the server's own where it is
        smaller and known (learned from GetInfo, which a refused part asks for)."""
        if self.server_part_bytes:
            return max(1, min(self.part_bytes, self.server_part_bytes))
        return self.part_bytes

    def health(self, service: str = "", timeout: float = 5.0) -> str:
        """The standard health check: SERVING while the server takes work. A server that is shutting
        down stops taking calls at once (it finishes its running jobs within its --grace), so this
        raises ServerUnavailableError then, as for a server that is not running."""
        request = health_pb2.HealthCheckRequest(service=service)
        reply = self._unary(self._health.Check, request, timeout, "health check")
        return health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)

    def find_images(self, digests: Sequence[str], timeout: float = INFO_TIMEOUT) -> set[str]:
        """Which of these image digests (SHA-256, as ``ImageInfo.sha256``) the server holds now."""
        request = fusion_pb2.FindImagesRequest(sha256=list(digests))
        return set(self._unary(self.stub.FindImages, request, timeout, "FindImages").held)

    def cancel(self, job_id: str, timeout: float = INFO_TIMEOUT) -> bool:
        """Cancel a job (from ShotCall.job_id or run_job's on_accepted); False if it had finished."""
        request = fusion_pb2.CancelJobRequest(job_id=job_id)
        return self._unary(self.stub.CancelJob, request, timeout, f"CancelJob {job_id}").cancelled

    # -- shots ----------------------------------------------------------------

    def shot(
        self,
        setup: fusion_pb2.ShotSetup,
        frames,
        timeout: float | None = SHOT_TIMEOUT,
        on_accepted: Callable[[ShotCall], None] | None = None,
    ) -> ShotCall:
        """A FuseShot call to iterate: fused frames in order; ``frames`` is a FileFrames or ArrayFrames.
        ``on_accepted(call)`` runs once the server has taken the job (``call.job_id``)."""
        return ShotCall(self, "FuseShot", setup, frames, timeout, on_accepted)

    def fuse_files(
        self,
        plate: str | os.PathLike,
        out: str | os.PathLike,
        matte: str | os.PathLike | None = "alpha",
        *,
        grade: str | os.PathLike | None = None,
        graded: str | os.PathLike | None = None,
        edited: str | os.PathLike | None = None,
        frames: str | None = None,
        handles: int = default("handles"),
        engine: str = default("engine"),
        model: str | None = None,
        device: str = default("device"),
        band: str | int = default("band"),
        config: str | None = None,
        plate_colorspace: str | None = None,
        graded_colorspace: str | None = None,
        grade_colorspace: str | None = None,
        out_colorspace: str | None = None,
        exr_type: str = default("exr_type"),
        compression: str = default("compression"),
        force: bool = default("force"),
        progress: Progress | None = None,
        timeout: float | None = SHOT_TIMEOUT,
        on_accepted: Callable[[ShotCall], None] | None = None,
    ) -> ShotReport:
        """Fuse a shot on disk through the server and write its frames to ``out``, as ``movingcolor
        fuse`` would: same names, same pixels, same headers, the same settings (the shot settings
        schema, ``movingcolor.spec.schema``). As there, a rerun keeps the frames already written
        for the same inputs, settings and server (``force`` redoes them) and no output may
        overwrite an input."""
        from movingcolor.frames.output_pattern import note_frames_written, output_pattern

        started = time.perf_counter()
        timeout = call_seconds(timeout)
        deadline = time.monotonic() + timeout
        roles = {"plate": plate}
        if matte is not None and os.fspath(matte) != "alpha":  # None: the plate's alpha, as elsewhere
            roles["matte"] = matte
        if graded is not None:
            roles["graded"] = graded
        if edited is not None:
            roles["edited"] = edited
        _refuse_a_grade_folder(grade)
        shot_frames = FileFrames(roles)
        frames = None if frames is None else setting_value("frames", frames, "fuse_files")
        shot_frames.require(frames)
        pattern = output_pattern(os.fspath(out), shot_frames.plate_prefix, shot_frames.plate)
        file_format = Path(pattern.suffix).suffix.lower().lstrip(".") or pattern.suffix.lower().lstrip(".")
        setup = shot_setup(
            plate=shot_frames.plate,
            clip=shot_frames.clip,
            grade=grade,
            graded=graded is not None,
            edited=edited is not None,
            matte_frames="matte" in roles,
            frames=frames,
            output=output_message(file_format, exr_type, compression),
            handles=handles,
            engine=engine,
            model=model,
            device=device,
            band=band,
            config=config,
            plate_colorspace=plate_colorspace,
            graded_colorspace=graded_colorspace,
            grade_colorspace=grade_colorspace,
            out_colorspace=out_colorspace,
        )
        info = self.info(min(timeout, INFO_TIMEOUT))
        if config is None:
            _require_the_same_ocio(info, self.address)
        features = sorted(info.get("features") or ())
        if out_colorspace is None and file_format == "exr":
            if "exr_out_scene_linear" not in features:
                # An older server writes an EXR in the plate's colourspace where none is named (an sRGB
                # plate's frames double-encoded in any compositor): named, it writes this client's default.
                setup.out_colorspace = "scene_linear"
            elif "exr_out_linear_plate" not in features:
                log.warning(
                    "the server at %s writes an EXR in its config's scene_linear whatever the plate's "
                    "colourspace (it is older than this client): a plate in another scene-linear "
                    "colourspace (ACES2065-1) comes back converted, where run here it keeps its own; give "
                    "--out-colorspace to choose",
                    self.address,
                )
        # What the server does is part of what made the frames: an upgraded server's differ.
        server = {"version": info["version"], "ocio_config": info["ocio_config"], "features": features}
        outputs = ShotOutputs(
            pattern, shot_frames, setup, server, force=force, pixel_type=exr_type, compression=compression
        )
        render: FrameRange | None = None
        kept: list[int] = []

        def accepted(call: ShotCall) -> None:
            nonlocal render, kept
            outputs.accepted(call.accepted)
            if render is None:  # the first call, over the whole range: before any frame is sent
                render = _range(call)
                outputs.prepare(render)
                kept = outputs.stamped(render)
                if kept:
                    raise _FramesFinished
            if on_accepted:
                on_accepted(call)

        calls: list[ShotCall] = []
        written: list[str] = []

        def fuse(call_setup: fusion_pb2.ShotSetup) -> None:
            remaining = max(0.001, deadline - time.monotonic())
            call = ShotCall(
                self, "FuseShot", call_setup, shot_frames, remaining, accepted, stated_timeout=timeout
            )
            calls.append(call)
            for fused in call:
                written.append(str(outputs.write(fused)))
                if progress:
                    progress(len(written), len(render) - len(kept), fused.frame)

        try:
            try:
                fuse(setup)
            except _FramesFinished:
                # Read back once the server no longer waits. Windows depend on the clip, not the range:
                # each run of missing frames fused alone gives the frames a call over the range would.
                kept = outputs.whole(kept)
                for run in contiguous_runs(set(render) - set(kept)):
                    fuse(_render_only(setup, run))
        except MovingColorError as error:
            note_frames_written(error, written, pattern)
            raise
        except KeyboardInterrupt as error:  # Ctrl-C, or SIGTERM: what it leaves, as in-process
            setattr(error, FRAMES_WRITTEN, list(written))
            raise
        finally:
            outputs.release()
        return self._result(calls, render, written, kept, outputs, time.perf_counter() - started)

    def _result(
        self,
        calls: list[ShotCall],
        render: FrameRange,
        written: list[str],
        kept: list[int],
        outputs: ShotOutputs,
        seconds: float,
    ) -> ShotReport:
        summary = next((call.summary for call in reversed(calls) if call.summary), fusion_pb2.ShotSummary())
        # What the server's run warned of, as a run here prints it (each once over resumed calls).
        warnings = list(dict.fromkeys(w for call in calls if call.summary for w in call.summary.warnings))
        for warning in warnings:
            log.warning("%s", warning)
        accepted = calls[-1].accepted
        if len(kept) == len(render):  # nothing fused: the frames' headers say how they were made
            header = outputs.recorded(kept[0])
            summary = fusion_pb2.ShotSummary(
                band=str(header.get("movingcolor:band", "")),
                colorspaces={"output": str(header.get("movingcolor:colorspace", ""))},
                grade=str(header.get("movingcolor:grade", "")),
                config=str(header.get("movingcolor:ocio_config", "")),
            )
        return ShotReport(
            frames=str(render),
            written=written,
            engine=summary.engine or accepted.engine,
            model=summary.model or accepted.model,
            band=summary.band,
            colorspaces=dict(summary.colorspaces),
            grade=summary.grade,
            config=summary.config,
            seconds=round(seconds, 3),
            skipped=[str(outputs.pattern.path(number)) for number in kept],
            warnings=warnings,
            server=self.address,
            job_id=calls[-1].job_id,
        )

    def fuse_arrays(
        self,
        plate: np.ndarray | Sequence[np.ndarray],
        matte: np.ndarray | Sequence[np.ndarray] | None = None,
        *,
        grade: str | os.PathLike | None = None,
        graded: np.ndarray | Sequence[np.ndarray] | None = None,
        edited: np.ndarray | Sequence[np.ndarray] | None = None,
        first_frame: int = 1,
        frames: str | None = None,
        handles: int = 0,
        colorspace: str = "",
        sample_type: str = "float",
        progress: Progress | None = None,
        timeout: float | None = SHOT_TIMEOUT,
        **options,
    ) -> np.ndarray:
        """Fuse frames held in memory: ``plate`` ``(T, H, W, 3|4)`` (float, in ``colorspace``, by default
        scene-linear), ``matte`` ``(T, H, W)`` (None: the plate's alpha). Returns float32 ``(N, H, W, 3)``,
        the fused frames of the render range in the output colourspace: ``out_colorspace`` where given,
        else the plate's (``colorspace``), as a host takes its frames back (``movingcolor fuse`` writes
        EXR files in the config's scene_linear instead: name it as ``out_colorspace`` to compare)."""
        _refuse_a_grade_folder(grade)
        shot_frames = ArrayFrames.from_stacks(
            {"plate": plate, "matte": matte, "graded": graded, "edited": edited},
            first_frame,
            colorspace=colorspace,
            sample_type=sample_type,
        )
        setup = shot_setup(
            clip=shot_frames.clip,
            grade=grade,
            graded=graded is not None,
            edited=edited is not None,
            matte_frames=matte is not None,
            frames=frames,
            handles=handles,
            output=output_message(None, "float"),
            **_named_colorspace(colorspace, graded is not None or edited is not None, options),
        )
        self._require_the_servers_ocio_to_be_ours(options.get("config"), timeout)
        call = self.shot(setup, shot_frames, timeout)
        results = []
        for fused in call:
            results.append(fused.pixels())
            if progress:
                progress(len(results), len(_range(call)), fused.frame)
        for warning in call.summary.warnings if call.summary else ():
            log.warning("%s", warning)
        return np.stack(results)

    def _require_the_servers_ocio_to_be_ours(self, config: str | None, timeout: float | None) -> None:
        """Arrays are graded on the server in its OpenColorIO config and context: refused where this
        process's $OCIO or the context variables the config reads differ (as a shot from files is).
        A call that names its ``config`` is graded in that one. Asked of the server once while this
        process's $OCIO and those variables stay as they were: a scrub's every window paid a GetInfo."""
        fresh = time.monotonic() - self._ocio_checked_at < OCIO_RECHECK_SECONDS
        if config is not None or (fresh and self._ocio_checked == self._local_ocio()):
            return
        info = self.info(min(call_seconds(timeout), INFO_TIMEOUT))
        _require_the_same_ocio(info, self.address)
        self._ocio_names = tuple(sorted(info.get("ocio_context") or ()))
        self._ocio_checked = self._local_ocio()
        self._ocio_checked_at = time.monotonic()

    def _local_ocio(self) -> tuple:
        """What of this process's environment the server's grading depends on: $OCIO, the file it
        names as published (a config republished in place), the variables the server's reads."""
        local = os.environ.get("OCIO")
        try:
            stamp = os.stat(local) if local and not local.startswith("ocio://") else None
        except OSError:
            stamp = None
        published = (stamp.st_size, stamp.st_mtime_ns) if stamp else None
        return local, published, tuple((name, os.environ.get(name)) for name in self._ocio_names)

    def fuse_window(
        self,
        target: int | float,
        plate: Mapping[int, np.ndarray],
        matte: Mapping[int, np.ndarray] | None = None,
        *,
        grade: str | os.PathLike | None = None,
        graded: Mapping[int, np.ndarray] | None = None,
        edited: Mapping[int, np.ndarray] | None = None,
        colorspace: str = "",
        timeout: float | None = 600.0,
        reuse: bool = True,
        **options,
    ) -> FusedFrame:
        """One frame from its neighbours (what an OFX host asks for): ``plate`` etc. map frame numbers
        to arrays; send the target and ``temporal_radius`` frames each side (GetInfo's engines).
        ``reuse``: send each image's digest, and only a reference for images the server holds from
        earlier windows (an image evicted meanwhile is resent)."""
        timeout = call_seconds(timeout)
        number = _frame_number(target)
        if number is None:
            # An OFX host's time is a double: 1001.0 is frame 1001, as the images' keys are read.
            raise FrameSourceError(
                f"target {target!r} is not a frame number: give the frame to fuse as a whole number "
                f"(1001, or 1001.0)"
            )
        _refuse_a_grade_folder(grade)
        stacks = {"plate": plate, "matte": matte, "graded": graded, "edited": edited}
        for role, images in stacks.items():
            if images is not None and not len(images):
                raise FrameSourceError(
                    f"the {role} mapping is empty: give at least the target frame ({number}) and the "
                    f"neighbours the engine reads, keyed by frame number"
                )
        shot_frames = ArrayFrames(
            {role: images for role, images in stacks.items() if images is not None}, colorspace
        )
        setup = shot_setup(
            clip=[],
            grade=grade,
            graded=graded is not None,
            edited=edited is not None,
            matte_frames=matte is not None,
            frames=str(number),
            output=output_message(None, "float"),
            **_named_colorspace(colorspace, graded is not None or edited is not None, options),
        )
        deadline = time.monotonic() + timeout
        self._require_the_servers_ocio_to_be_ours(options.get("config"), timeout)
        if reuse:
            digested = DigestedFrames(shot_frames, roles_of(setup), self._window_images)
            self._window_images = digested.known_images()
            call = self._window_reusing(setup, digested, deadline, timeout)
        else:
            call = self._window_call(setup, shot_frames, deadline, timeout)
        fused, summary = call
        if len(fused) != 1:
            raise ClientError(f"FuseWindow returned {len(fused)} frames instead of frame {number}")
        warnings = tuple(summary.warnings) if summary else ()
        for warning in warnings:
            if warning not in self._warnings_said:
                log.warning("%s", warning)
            self._warnings_said[warning] = None
        while len(self._warnings_said) > WARNINGS_REMEMBERED:
            del self._warnings_said[next(iter(self._warnings_said))]
        return dataclasses.replace(fused[0], warnings=warnings)

    def _window_call(
        self, setup: fusion_pb2.ShotSetup, frames, deadline: float, timeout: float
    ) -> tuple[list[FusedFrame], fusion_pb2.ShotSummary | None]:
        remaining = max(0.001, deadline - time.monotonic())
        call = ShotCall(self, "FuseWindow", setup, frames, remaining, stated_timeout=timeout)
        return list(call), call.summary

    def _window_reusing(
        self, setup: fusion_pb2.ShotSetup, frames: DigestedFrames, deadline: float, timeout: float
    ) -> tuple[list[FusedFrame], fusion_pb2.ShotSummary | None]:
        try:
            remaining = max(0.001, deadline - time.monotonic())
            frames.held = frozenset(self.find_images(frames.digests(), min(remaining, INFO_TIMEOUT)))
        except ClientError as error:
            if error.code != grpc.StatusCode.UNIMPLEMENTED:
                raise
            # A server from before the window cache: it holds nothing and ignores the digests.
        try:
            return self._window_call(setup, frames, deadline, timeout)
        except ImageEvictedError:
            frames.held = frozenset()
            return self._window_call(setup, frames, deadline, timeout)

    def run_job(
        self,
        plate: str,
        out: str,
        matte: str = "alpha",
        *,
        progress: Progress | None = None,
        on_accepted: Callable[[str], None] | None = None,
        timeout: float | None = SHOT_TIMEOUT,
        **options,
    ) -> dict:
        """A shot on shared storage, read and written by the server (paths as it sees them, inside its
        roots). ``options`` as ``fuse_files``'s (grade, graded, edited, frames, handles, engine, ...);
        as there, a rerun keeps the frames already written for the same inputs and settings.

        A job the server drops (UNAVAILABLE: it restarted, or is shutting down) is run again, which
        keeps the frames written, ``retries`` times an outage; ``on_accepted(job_id)`` runs for each
        run's job and ``progress(done, total, frame)`` counts on over them. A call that ends otherwise
        (Ctrl-C, an exception from a callback) cancels the server's job. Returns the server's
        summary, with the files it wrote."""
        fields = {"plate": plate, "out": out, "matte": matte, **options}
        known = {field.name for field in fusion_pb2.JobRequest.DESCRIPTOR.fields}
        unknown = sorted(set(fields) - known)
        if unknown:
            also = (
                "; a file job keeps the frames already written for the same inputs and settings: to "
                "fuse them anew, delete them (or give another out), or fuse the shot through this "
                "client with fuse_files(force=True)"
                if "force" in unknown
                else ""
            )
            raise MovingColorError(
                f"{', '.join(unknown)}: not a setting run_job takes; use {', '.join(sorted(known))}{also}"
            )
        request = fusion_pb2.JobRequest(
            **{
                name: setting_value(name, value, "run_job")
                for name, value in fields.items()
                if value is not None
            }
        )
        timeout = call_seconds(timeout)
        deadline = time.monotonic() + timeout
        doing = f"RunJob on {self.address}"
        job = _JobRuns(progress, on_accepted)
        # Retries are for a server that went away under the job: one never heard from was waited
        # for already (``_wait_for_server``, then gRPC's retries until it accepts the job).
        heard = False
        failures = 0
        try:
            while True:
                answered, finished, stream = False, False, None
                before = len(job.written)
                try:
                    answered = self._wait_for_server(deadline)
                    stream = self.stub.RunJob(
                        request, timeout=max(0.001, deadline - time.monotonic()), metadata=self.metadata
                    )
                    job.runs += 1
                    for event in stream:
                        answered = heard = True
                        kind = event.WhichOneof("event")
                        if kind == "accepted":
                            job.accepted(event.accepted.job_id)
                        elif kind == "frame":
                            job.frame(event.frame)
                        elif kind == "done":
                            finished = True
                            return job.summary(event.done.summary)
                except grpc.RpcError as error:
                    self._open(None)  # cut by close(): said as a closed client's call, not gRPC's words
                    # Counted for each outage: a run that wrote frames starts the count anew.
                    failures = 1 if len(job.written) != before else failures + 1
                    left = deadline - time.monotonic()
                    if heard and retryable(error, self.tls) and failures <= self.retries and left > 0:
                        log.info(
                            "%s: the server dropped the job (%s); running it again, which keeps the "
                            "%d frames written",
                            doing,
                            error.details() if hasattr(error, "details") else error,
                            len(job.written),
                        )
                        time.sleep(min(self.backoff * 2 ** (failures - 1), left))
                        continue
                    raise self._call_error(error, answered, doing, timeout) from None
                finally:
                    # Left to be collected, the call kept the server writing the shot for as long
                    # as the exception lived (an editor's last traceback, a wrapper that caught it).
                    if stream is not None and not finished:
                        stream.cancel()
                raise ClientError(f"{doing} ended without a summary")
        except (MovingColorError, KeyboardInterrupt) as error:  # what the job left, as fuse_files says
            setattr(error, FRAMES_WRITTEN, list(job.written))
            raise


def _require_the_same_ocio_context(info: Mapping, address: str) -> None:
    """The server grades in its config's context as its own environment sets it: a variable the
    config reads ($SHOT naming the shot's LUT) that this process sets otherwise would have this
    shot graded as the server's shot is, without a word. Refused, naming the variables."""
    differ = {
        name: (os.environ[name], theirs)
        for name, theirs in sorted((info.get("ocio_context") or {}).items())
        if name in os.environ and os.environ[name] != theirs
    }
    if differ:
        start = " ".join(f"{name}={ours}" for name, (ours, _) in differ.items())
        said = ", ".join(
            f"${name} is {ours!r} here and {theirs!r} there" for name, (ours, theirs) in differ.items()
        )
        raise MovingColorError(
            f"the server at {address} grades with its own OpenColorIO context, and its config reads "
            f"variables this process sets otherwise ({said}): the shot would be graded as the server's "
            f"is; start a server with this environment (e.g. {start} movingcolor serve), or run the shot here"
        )


def _require_the_same_ocio(info: Mapping, address: str) -> None:
    """A shot fused on a server is graded in the server's OpenColorIO config: where this process's
    $OCIO names another, its frames would differ from the same command run here, without a word.
    One config file is known by its bytes (the server's digest of them), on whatever mount it lies."""
    _require_the_same_ocio_context(info, address)
    local = os.environ.get("OCIO")
    server_config = info.get("ocio_config", "")
    server_digest = info.get("ocio_config_digest", "")
    # One built-in config is one config; one path may hold another file here than there (a stale copy).
    if not local or (local == server_config and (local.startswith("ocio://") or not server_digest)):
        return
    if not server_digest:  # a server from before the digest: the names are all there is to go by
        log.warning(
            "$OCIO here is %s and the server at %s works in %s: where these are not one config, the "
            "shot is fused in the server's",
            local,
            address,
            server_config,
        )
        return
    try:
        digest = ocio_config_digest(local)
    except OSError as error:
        raise MovingColorError(f"$OCIO here is {local}, which cannot be read ({error.strerror})") from None
    if digest != server_digest:
        raise MovingColorError(
            f"$OCIO here is {local}, but the server at {address} works in {server_config}, a file that "
            f"holds another config: the shot would be fused in the server's, not this one; start the "
            f"server with this config as its $OCIO, or unset OCIO for this command to take the "
            f"server's as it is"
        )


class _JobRuns:
    """A file job over its runs: a run after an outage is told only the frames still to write (the
    server keeps those written), so its progress is counted on from the first run's."""

    def __init__(self, progress: Progress | None, on_accepted: Callable[[str], None] | None):
        self.progress = progress
        self.on_accepted = on_accepted
        #: The frames written, as the server named them in its progress.
        self.written: list[str] = []
        self.runs = 0
        self.total: int | None = None
        self.offset = 0
        self._counted_run = 0

    def accepted(self, job_id: str) -> None:
        if self.on_accepted:
            self.on_accepted(job_id)

    def frame(self, event: fusion_pb2.FrameWritten) -> None:
        if self._counted_run != self.runs:  # the run's first frame: what it counts from
            self._counted_run = self.runs
            self.total = event.total if self.total is None else self.total
            self.offset = max(0, self.total - event.total)
        self.written.append(event.path)
        if self.progress:
            done = self.offset + event.done
            self.progress(done, max(self.total, self.offset + event.total), event.frame)

    def summary(self, summary: fusion_pb2.ShotSummary) -> dict:
        for warning in summary.warnings:
            log.warning("%s", warning)
        result = json_format.MessageToDict(
            summary, preserving_proto_field_name=True, always_print_fields_with_no_presence=True
        )
        if self.runs > 1:  # the last run's summary lists its own files only
            result["written"] = list(dict.fromkeys([*self.written, *summary.written]))
            result["frame_count"] = len(result["written"])
        return result


class _FramesFinished(Exception):
    """A rerun found finished frames: the first call, over the whole range, is dropped."""


def _named_colorspace(colorspace: str, other: bool, options: dict) -> dict:
    """``options`` with arrays' ``colorspace`` as the shot's plate (and graded or edited) colourspace:
    a name the server's config lacks is then refused, naming the close ones. Sent only as the
    images' own declaration, a misspelt name was taken as no declaration, with a warning in the
    server's log alone."""
    if not colorspace:
        return options
    named = {"plate_colorspace": colorspace} | ({"graded_colorspace": colorspace} if other else {})
    return named | {name: value for name, value in options.items() if value is not None}


def _range(call: ShotCall) -> FrameRange:
    render = call.accepted.render if call.accepted else pb.FrameRange()
    return FrameRange(render.first, render.last)


def _render_only(setup: fusion_pb2.ShotSetup, frames: FrameRange) -> fusion_pb2.ShotSetup:
    """``setup`` for ``frames`` alone (the clip, and so every window, stays the same)."""
    narrowed = fusion_pb2.ShotSetup()
    narrowed.CopyFrom(setup)
    narrowed.handles = 0
    narrowed.render.CopyFrom(pb.FrameRange(first=frames.first, last=frames.last))
    return narrowed


def _refuse_a_grade_folder(grade: str | os.PathLike | None) -> None:
    """A folder named like a grade file (``shot010.cc/``) was told "no such file", sending the user to
    look for a path that is there: it is named a folder, and the file in it asked for."""
    if grade is None:
        return
    text = os.fspath(grade).strip()
    if text.startswith(LOOK_PREFIX) or not names_a_file(text):
        return  # a look's name (``night``, ``Film/Print``) or adjustments: never a file, whatever is here
    for name in dict.fromkeys((text, text.split("#", 1)[0].strip())):  # FILE.ccc#ID names FILE.ccc
        try:
            folder = bool(name) and Path(name).expanduser().is_dir()
        except (OSError, ValueError):  # a name too long for a path (a CDL at full precision), a NUL
            folder = False
        if folder:
            raise MovingColorError(
                f"grade {text!r} is a folder, not a grade file: give the grade file in it (a .cc, "
                f".ccc, .cdl, .cube or .clf), or write look:NAME for a look of the config"
            )


def _refuse_a_socket_this_user_may_not_use(address: str) -> None:
    """SocketPermissionError at once for a Unix socket the system refuses this user (its mode, as
    the system judges it: effective ids, capabilities): gRPC waited out its retries first, and said
    only that the server was unavailable. Asked twice, a tenth of a second apart: a server starting
    makes its socket its user's alone before it lets the group in."""
    if not address.strip().startswith("unix:"):
        return
    path = str(parse_address(address).path)
    if _refused_by_the_system(path) and (time.sleep(0.1) or _refused_by_the_system(path)):
        raise socket_refused(address, "connecting")


def _refused_by_the_system(path: str) -> bool:
    """Whether connecting to the Unix socket at ``path`` is refused for want of permission; any
    other outcome (no socket there, no server listening, a connection) is left to the call."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        probe.settimeout(1.0)
        try:
            probe.connect(path)
        except PermissionError:
            return True
        except OSError:
            return False
    return False


def connect(address: str, token: str | None = None, **options) -> Client:
    """A client for the server at ``unix:///path/to.sock`` or ``host:port``.

    ``token`` defaults to ``$MOVINGCOLOR_TOKEN``. TLS: ``tls=True`` (system roots), or ``ca=`` a PEM
    file; mutual TLS adds ``cert=`` and ``key=``. Also ``name`` (shown in the server's log and used
    for fair turns), ``retries``, ``backoff``, ``part_bytes``.
    """
    return Client(address, token, **options)
