"""FuseShot: frames streamed in, fused frames streamed out, through the shot runner.

The shot's frames are planned once, from the setup, before any image arrives
(``jobs.FramePlan``): the client is told which frames to send and how many the server
buffers, and the runner runs exactly that plan. Received images go into a
``FrameStore``; the runner (``jobs.ShotStream``) reads them through stream sources,
waiting for each frame, and yields each fused frame as soon as its last window is
done. A reader thread receives while the call's own thread runs the runner, so
receiving, fusion and sending overlap. A received image is checked from its header at once
and decoded when the runner first reads it (on the call's thread, as the runner needs the
frame: a stream is not read ahead, ``jobs.runner``): a frame waiting in the buffer holds its
file's bytes, not its pixels.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Hashable, Iterable, Iterator
from concurrent.futures import Future

from ..errors import MovingColorError
from ..frames.image_io import TypedAttribute, encode_image, file_samples
from ..frames.stream import DecodedImage, DeferredImage, FrameStore, StreamSource
from ..frames.worker import ContextWorker
from ..jobs import FramePlan, ShotSources, ShotStream
from ..jobs.warnings_said import collected
from ..protocol.images import (
    ROLE_NAMES,
    Image,
    PartAssembler,
    WireFormatError,
    check_declared_pixels,
    raw_image,
    role_name,
    split,
)
from ..v1 import fusion_pb2
from ..v1 import image_pb2 as pb
from .decode import ImageDecoder
from .jobs import Job
from .logs import event, job_thread_context
from .plan import OutputSettings, clip_frames, render_range, wire_roles
from .scheduler import ScheduledEngine
from .setup_spec import setup_settings
from .state import ServerState
from .summary import summary_message


def output_format(output: OutputSettings) -> str | None:
    """The file type fused frames go back as (``.exr``), or None for raw samples: EXR is written
    scene-linear by default, as ``movingcolor fuse`` writes an EXR file."""
    return None if output.encoding == pb.ENCODING_RAW else f".{output.format}"


def _pixel_type(output: OutputSettings) -> str:
    return "float" if output.sample_type == pb.SAMPLE_TYPE_FLOAT else "half"


def _encode(number: int, pixels, header: dict, output: OutputSettings, part_bytes: int):
    """One fused frame as response messages: the file ``movingcolor fuse`` would write, made in
    memory, or raw samples."""
    # The wire's attributes are text: a typed one (a timecode kept from the plate) travels in the
    # file's own header, not here.
    attributes = {key: str(value) for key, value in header.items() if not isinstance(value, TypedAttribute)}
    if output.encoding == pb.ENCODING_RAW:
        info, data = raw_image(
            pixels, ("R", "G", "B"), output.sample_type, header["movingcolor:colorspace"], view=True
        )
    else:
        data = encode_image(
            f".{output.format}",
            pixels,
            pixel_type=_pixel_type(output),
            compression=output.compression,
            attributes=header,
        )
        info = pb.ImageInfo(encoding=pb.ENCODING_FILE, format=output.format, byte_size=len(data))
        info.colorspace = header["movingcolor:colorspace"]
    info.attributes.update(attributes)
    yield from split(pb.ROLE_FUSED, number, info, data, part_bytes, fusion_pb2.FuseShotResponse)


def shot_sources(
    store: FrameStore,
    roles: tuple[str, ...],
    frame_key: Callable[[int], Hashable | None] | None = None,
    plate: str = "",
) -> ShotSources:
    """The streamed roles as sources; ``plate``: where the client's plate lives (the setup's), as the
    fused frames record it."""
    other = next((r for r in roles if r in ("graded", "edited")), None)
    return ShotSources(
        plate=StreamSource(store, "plate", plate),
        matte=StreamSource(store, "matte") if "matte" in roles else None,
        other=StreamSource(store, other) if other else None,
        release=store.release,
        frame_key=frame_key,
        arrived=store.holds,
    )


def _receive(requests: Iterable, store: FrameStore, max_bytes: int, job: Job) -> None:
    """Reader thread: parts -> images -> the store, until the client half-closes."""
    try:
        _receive_into(requests, store, ImageDecoder(), max_bytes)
    except MovingColorError as error:
        store.fail(error)
    except Exception as error:  # the call broke (cancelled, deadline, connection lost)
        if not job.cancelled.is_set():
            job.cancel(f"the request stream broke ({type(error).__name__})")
        store.fail(job.error())


def _receive_into(requests: Iterable, store: FrameStore, decoder: ImageDecoder, max_bytes: int) -> None:
    def admit(part: pb.ImagePart) -> None:
        # Before any byte of the image is taken: a duplicate or an oversized image costs nothing.
        check_declared_pixels(part.info, f"{role_name(part.role)} frame {part.frame}")
        store.admit(ROLE_NAMES.get(part.role, str(part.role)), part.frame)

    assembler = PartAssembler(max_bytes, admit)
    for request in requests:
        if request.WhichOneof("message") != "part":
            raise WireFormatError("a FuseShot stream takes one setup, first; then only image parts")
        image = assembler.add(request.part)
        if image is not None and image.frame in store.needed:  # frames of the clip not needed are ignored
            store.put(ROLE_NAMES.get(image.role, str(image.role)), image.frame, _received(decoder, image))
    assembler.finish()
    store.finish()


def _received(decoder: ImageDecoder, image: Image) -> DecodedImage | DeferredImage:
    """A file's image checked from its header now and decoded when read: at 4K the frames buffered
    ahead of a network window held 0.2 GiB more as pixels (the server's peak 3.9-4.0 -> 3.7-3.8
    GiB, as fast within noise). Raw samples are decoded now: that is a check and a copy, and
    their errors (a wrong size, NaN) are the sender's to hear first."""
    return decoder.deferred(image) if image.info.encoding == pb.ENCODING_FILE else decoder.decode(image)


def send_fused(
    stream: ShotStream, job: Job, output: OutputSettings, part_bytes: int, warnings: list[str] | None = None
):
    """Each fused frame as response messages, in order. A frame is encoded on a worker while the
    runner makes the next one on this thread: OpenEXR compresses on threads of its own and releases
    Python's lock, so encoding overlaps the next frame's work as writing behind does in-process
    (encoding a 1080p frame costs about as much as fusing it with the light engines). At most one
    frame waits to be encoded, which bounds the memory held. ``warnings``: what the shot's run warned
    of, for its summary."""
    started, count = time.perf_counter(), 0
    encoder = ContextWorker("movingcolor-encode")
    encoding: deque[Future] = deque()
    suffix = output_format(output)
    try:
        for number, pixels, header in stream:
            job.check()
            if suffix is not None:
                # The file's samples made here: the encoder's thread is the one frames queue for.
                pixels = file_samples(pixels, suffix, _pixel_type(output))
            encoding.append(
                encoder.submit(
                    lambda *frame: list(_encode(*frame)), number, pixels, header, output, part_bytes
                )
            )
            if len(encoding) > 1:
                yield from encoding.popleft().result()
                count += 1
        while encoding:
            yield from encoding.popleft().result()
            count += 1
    finally:
        # A call cancelled or failed mid-shot drops what is still queued.
        encoder.close(drop_queued=True)
    seconds = time.perf_counter() - started
    event("job.frames", job=job.id, frames=count, seconds=round(seconds, 3))
    summary = summary_message(stream.plan.report([], seconds, warnings=warnings), frame_count=count)
    yield fusion_pb2.FuseShotResponse(done=fusion_pb2.ShotDone(summary=summary))


def fuse_shot(state: ServerState, job: Job, setup: fusion_pb2.ShotSetup, requests: Iterator) -> Iterator:
    """FuseShot after its setup: accept, receive in a thread, fuse and send in this one."""
    settings = state.settings
    clip = clip_frames(setup)
    render = render_range(clip, setup)
    with collected() as warnings, setup_settings(setup) as (spec, roles, output):
        engine, device = state.engines.engine_for(spec.engine, setup.model, setup.device)
        frames = FramePlan.plan(engine, clip, render)
        needed, capacity = frames.needed, frames.buffer_frames
        store = FrameStore(roles, clip, needed, capacity)
        job.on_cancel(lambda reason: store.fail(job.error()))
        event(
            "job.accepted",
            job=job.id,
            engine=engine.name,
            device=device,
            render=str(render),
            needed=len(needed),
        )
        yield fusion_pb2.FuseShotResponse(
            accepted=fusion_pb2.ShotAccepted(
                job_id=job.id,
                render=pb.FrameRange(first=render.first, last=render.last),
                needed=needed,
                roles=wire_roles(roles),
                buffer_frames=capacity,
                engine=engine.name,
                model=engine.model,
                device=device,
            )
        )
        reader = threading.Thread(
            target=job_thread_context(job.id).run,
            args=(_receive, requests, store, settings.max_image_bytes, job),
            name=f"receive-{job.id}",
            daemon=True,
        )
        reader.start()
        scheduled = ScheduledEngine(engine, state.scheduler, device, job)
        stream = None
        try:
            sources = shot_sources(store, roles, plate=setup.plate)
            stream = ShotStream(spec, sources, scheduled, frames, output_format(output))
            yield from send_fused(stream, job, output, settings.part_bytes, warnings)
        finally:
            if stream is not None:
                stream.close()
            # Frees the reader if it waits for room, and drops what it holds.
            store.fail(job.error() if job.cancelled.is_set() else WireFormatError("the job has ended"))
