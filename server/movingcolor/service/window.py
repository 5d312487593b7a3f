"""FuseWindow: one target frame fused from the neighbours sent with it (the OFX plugin's call).

Images sent with their SHA-256 are kept in the server's image cache; a later window
names them instead of resending (``ImageInfo.cached``). When every image of a window
has a digest, its fused frame is kept as the response messages themselves, so the
same window again is answered without decoding or fusing anything.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Hashable, Iterator, Sequence

from ..color.config import shared_config
from ..errors import MovingColorError
from ..frames.frame_range import describe_frames
from ..frames.stream import FrameStore
from ..jobs import FramePlan, ShotStream
from ..jobs.warnings_said import collected
from ..protocol.digest import is_digest
from ..protocol.images import (
    ROLE_NAMES,
    Image,
    PartAssembler,
    WireFormatError,
    check_declared_pixels,
    role_name,
)
from ..v1 import fusion_pb2
from ..v1 import image_pb2 as pb
from .decode import ImageDecoder
from .jobs import Job
from .logs import event, quiet_repeats
from .plan import clip_frames, render_range
from .scheduler import ScheduledEngine
from .settings import MIB
from .setup_spec import setup_settings
from .shots import output_format, send_fused, shot_sources
from .state import ServerState
from .window_cache import WindowCaches, decoding


def _check_digest_form(info, label: str) -> None:
    if info.sha256 and not is_digest(info.sha256):
        raise WireFormatError(
            f"{label}: sha256 {info.sha256[:80]!r} is not 64 lowercase hex digits; send the SHA-256 "
            f"of the image's bytes, or leave it empty"
        )


def _check_digest(image: Image) -> None:
    """An image's declared digest against the one made as its parts arrived (its form was checked
    at its first part, by ``WindowLimits.admit``)."""
    expected, actual = image.info.sha256, image.received_sha256
    if actual != expected:
        raise WireFormatError(
            f"{image.label}: its bytes have sha256 {actual[:16]}..., not the {expected[:16]}... its info "
            f"declares; compute the digest over all of the image's bytes"
        )


class WindowLimits:
    """What one FuseWindow call may bring: images of the ``roles`` its setup takes, each (role and
    frame) once, at most ``max_frames`` frames, and at most ``max_bytes`` of images held (received
    or named from the cache, then decoded). Each image is checked as it begins, before its bytes
    are taken or its pixels decoded, so a window over a limit costs the server nothing."""

    def __init__(self, max_frames: int, max_bytes: int, roles: Sequence[str]):
        self.max_frames = max_frames
        self.max_bytes = max_bytes
        self.roles = tuple(roles)
        self.held = 0
        self._images: set[tuple[int, int]] = set()
        self._frames: set[int] = set()

    def admit(self, part: pb.ImagePart) -> None:
        """Take the first part of an image (its info), or refuse the image."""
        label = f"{role_name(part.role)} frame {part.frame}"
        # Frames are counted, not images: images under role numbers of no use (100, 101, ... all of
        # frame 1) passed the frame limit, and each was kept in the shared image cache.
        if ROLE_NAMES.get(part.role) not in self.roles:
            raise WireFormatError(
                f"{label} was sent, but this window takes {', '.join(self.roles)} images; send images "
                f"of those roles alone (check the setup's matte source and grade mode)"
            )
        # Before any of its bytes are hashed: a digest of the wrong form is refused at once.
        _check_digest_form(part.info, label)
        if (part.role, part.frame) in self._images:
            raise WireFormatError(f"{label} arrived twice in one window; send each image of a window once")
        self._images.add((part.role, part.frame))
        self._frames.add(part.frame)
        if len(self._frames) > self.max_frames:
            raise WireFormatError(
                f"a window of more than {self.max_frames} frames was sent; this server takes at most that "
                f"many (serve --max-window-frames)"
            )
        check_declared_pixels(part.info, label)
        self.reserve(part.info.byte_size, label)

    def reserve(self, size: int, label: str) -> None:
        """Count ``size`` more bytes held by this call, or refuse what would bring them."""
        self.held += size
        if self.held > self.max_bytes:
            raise WireFormatError(
                f"{label}: the window would hold {self.held / MIB:.1f} MiB of images (received and "
                f"decoded), over this server's {self.max_bytes / MIB:.1f} MiB (serve --max-window-mb); "
                f"send fewer or smaller frames (from a host's plugin: lower its Window radius)"
            )


def receive_window(
    requests: Iterator, caches: WindowCaches, max_bytes: int, limits: WindowLimits, job: Job
) -> list[Image]:
    """Every image of a window: sent in full (kept when it has a digest) or named by digest."""
    assembler = PartAssembler(max_bytes, limits.admit, hash_declared=True)
    images: list[Image] = []
    for request in requests:
        job.check()
        if request.WhichOneof("message") != "part":
            raise WireFormatError("a FuseWindow stream takes one setup, first; then only image parts")
        part = request.part
        if part.HasField("info") and part.info.cached:
            if assembler.pending:
                raise WireFormatError(
                    f"a cached image began before {assembler.pending} was complete; send each image's "
                    f"parts one after another"
                )
            limits.admit(part)
            image = caches.resolve(part)
        else:
            image = assembler.add(part)
            if image is None:
                continue
            caches.count("received_bytes", len(image.data))
            if image.info.sha256:
                _check_digest(image)
                caches.keep(image)
        images.append(image)
    assembler.finish()
    return images


def _named(info) -> tuple[str, str] | None:
    """An image by its bytes' digest and what decides how they decode (its colourspace, channel
    names, sample type...): the same bytes declared in another colourspace are another frame (a
    window that changed only its images' colourspace was given frames converted under the old one).
    None for an image sent without its digest."""
    if not info.sha256:
        return None
    return info.sha256, hashlib.sha256(decoding(info)).hexdigest()


def frame_keys(
    setup: fusion_pb2.ShotSetup, images: list[Image], roles: tuple[str, ...], generation: str = ""
) -> Callable[[int], Hashable | None]:
    """Names each frame of a window by its images' digests and the shot's settings (all but the
    frames to render; ``generation``: the colour config's load and the model's files, which the
    setup names without their content), so an engine's work on a frame (its refinement, its network
    input) is found again when the host's next window sends the same frame; a frame with an image
    sent without its digest has no name."""
    settings = fusion_pb2.ShotSetup()
    settings.CopyFrom(setup)
    settings.ClearField("render")
    settings.ClearField("clip")
    settings.ClearField("handles")
    digest = hashlib.sha256(settings.SerializeToString(deterministic=True) + generation.encode())
    identity = digest.hexdigest()
    digests = {(ROLE_NAMES.get(i.role, str(i.role)), i.frame): _named(i.info) for i in images}

    def key(frame: int) -> Hashable | None:
        named = tuple(digests.get((role, frame)) for role in roles)
        return None if not all(named) else ("window", identity, named)

    return key


def fuse_window(state: ServerState, job: Job, setup: fusion_pb2.ShotSetup, requests: Iterator) -> Iterator:
    """FuseWindow after its setup: receive every frame, then fuse the target or answer from the cache."""
    settings, caches = state.settings, state.windows
    if not setup.HasField("render") or setup.render.first != setup.render.last:
        raise MovingColorError(
            "FuseWindow fuses one frame: set the setup's render to the target, first = last"
        )
    if setup.handles:
        raise MovingColorError(
            f"FuseWindow fuses one frame, with the neighbours sent as its window: leave handles at 0, "
            f"not {setup.handles}"
        )
    # A declared clip and range are checked before anything is received.
    declared = clip_frames(setup) if setup.clip else None
    render = render_range(declared, setup) if declared else None
    # What the window's run warns of goes back in its summary, and with the cached answer: a host
    # scrubbing past a frame fused earlier is told again. The log has each once a while for the
    # client: its next windows warn alike, and a day's scrub wrote megabytes of the same lines.
    with (
        collected() as warnings,
        quiet_repeats(job.label),
        setup_settings(setup) as (spec, roles, output),
    ):
        engine, device = state.engines.engine_for(spec.engine, setup.model, setup.device)
        limits = WindowLimits(settings.max_window_frames, settings.max_window_bytes, roles)
        images = receive_window(requests, caches, settings.max_image_bytes, limits, job)
        # A show LUT or a model exported again in place, while the server runs, changes what the
        # same setup fuses: its windows and their prepared frames were answered as before.
        generation = f"{shared_config(spec.config).generation}/{engine.model_stamp}"
        key = caches.result_key(setup, images, generation)
        cached = caches.results.get(key) if key else None
        if cached is not None:
            caches.count("result_hits")
            event("job.cached", job=job.id, frame=setup.render.first, images=len(images))
            for message in cached:
                yield fusion_pb2.FuseShotResponse.FromString(message)
            return
        caches.count("result_misses")
        decoder = ImageDecoder(limits.reserve, caches.keep_decoded)
        # Decoded when read: the neighbours an earlier window prepared are found by their digests
        # and never read again. A raw image decoded is kept as its pixels, which the frame
        # prepared from it holds too, not beside them as bytes: a scrubbing host's every step
        # adds a frame to the caches, and memory new to the process costs more than the work (on
        # the benchmark's virtual machine about 2 ms a MB faulted in; at 1080p 24 MB less a step
        # made the next frame 9% faster).
        decoded = [(ROLE_NAMES.get(i.role, str(i.role)), i.frame, decoder.deferred(i)) for i in images]
        clip = declared or sorted({frame for role, frame, _ in decoded if role == "plate"})
        if not clip:
            raise MovingColorError("no plate images arrived; send the target's plate and its neighbours'")
        if not declared and clip[-1] - clip[0] + 1 != len(clip):
            # The engines take a window's frames as consecutive: a frame beyond a gap would be fused
            # as if it were the neighbour missing.
            raise MovingColorError(
                f"the window's plate frames {describe_frames(clip)} have a gap; send the target and "
                f"consecutive neighbours, ending the window where a neighbour is missing (or declare "
                f"the clip)"
            )
        store = FrameStore(roles, clip)
        for role, frame, image in decoded:
            store.put(role, frame, image)
        store.finish()
        render = render or render_range(clip, setup)
        # A host asks for each frame with its own window, never in a chunk of a shot: the engine may
        # work along the target's band alone.
        frames = FramePlan.plan(engine, clip, render).for_outputs_alone()
        event(
            "job.accepted",
            job=job.id,
            engine=engine.name,
            device=device,
            render=str(render),
            needed=len(clip),
        )
        sources = shot_sources(store, roles, frame_keys(setup, images, roles, generation), setup.plate)
        scheduled = ScheduledEngine(engine, state.scheduler, device, job)
        stream = ShotStream(spec, sources, scheduled, frames, output_format(output), caches.frames)
        kept: list[bytes] = []
        try:
            for response in send_fused(stream, job, output, settings.part_bytes, warnings):
                if key:
                    kept.append(response.SerializeToString())
                yield response
        finally:
            stream.close()
        if key:
            caches.results.put(key, kept, sum(len(message) for message in kept))
