"""The server's work stays bounded whatever a client declares: ranges and clips, image sizes,
windows, duplicates, models; and a killed server's temporaries do not outlive the next start.

Declared sizes go to a real server process (its memory is its own, read from /proc). A refusal
that must come "at once" is tested with a request stream that stays open after its last
message: the refusal has to arrive while the stream is held, so it came from what was sent,
not from the stream's end. Engines and model folders are tested in-process.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

import grpc
import numpy as np
import OpenImageIO as oiio
import pytest
from conftest import short_folder
from movingcolor.engines.hard import HardEngine
from movingcolor.frames.image_io import write_image
from movingcolor.frames.stream import DecodedImage, FrameStore, StreamSource
from movingcolor.jobs import ShotSources, ShotSpec, ShotStream
from movingcolor.protocol.images import file_image, raw_image, split
from movingcolor.service.engines import EnginePool
from movingcolor.service.errors import ModelNotFoundError
from movingcolor.service.process import ServerProcess
from movingcolor.service.server import TEMP_PREFIX, create_server
from movingcolor.service.settings import ServerSettings
from movingcolor.service.state import ServerState
from movingcolor.v1 import fusion_pb2, fusion_pb2_grpc
from movingcolor.v1 import image_pb2 as pb
from movingcolor_client import shot_setup

GRADE = "slope=1.25,1.0,0.8"
# A call the server never answers fails its test at this deadline instead of hanging it.
DEADLINE = 40.0
# How long a held request stream stays open: far longer than any refusal takes.
HOLD = 15.0
MIB = 1024 * 1024
HUGE = 8000  # 8000x8000 is 64 megapixels, over the default limit of 40


@pytest.fixture(scope="module")
def bounded(test_model):
    """A server process with small window limits (4 frames, 1 MiB) and the default pixel limit."""
    folder = short_folder()
    with ServerProcess(
        f"unix://{folder}/mc.sock", ["--max-window-frames", "4", "--max-window-mb", "1"]
    ) as server:
        yield server
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def stub(bounded):
    with grpc.insecure_channel(bounded.address) as channel:
        yield fusion_pb2_grpc.FusionStub(channel)


def status_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise AssertionError(f"no {field} for process {pid}")


class Held:
    """Request messages, then the stream held open (not half-closed) until released or ``HOLD``."""

    def __init__(self, messages: Iterable[fusion_pb2.FuseShotRequest]):
        self.messages = list(messages)
        self.released = threading.Event()
        self.held_out = False

    def __iter__(self) -> Iterator[fusion_pb2.FuseShotRequest]:
        yield from self.messages
        self.held_out = not self.released.wait(HOLD)


def refusal(call, requests: Iterable) -> grpc.RpcError:
    """The error ``call`` ends with; with :class:`Held` requests, one that came while they were held."""
    try:
        for _ in call(iter(requests), timeout=DEADLINE):
            pass
    except grpc.RpcError as error:
        if isinstance(requests, Held):
            requests.released.set()
            assert not requests.held_out, f"refused only when the stream ended: {error.details()}"
        return error
    finally:
        if isinstance(requests, Held):
            requests.released.set()
    pytest.fail("the call succeeded; it should have been refused")


def setup_message(window: bool, clip=(1,), **options) -> fusion_pb2.FuseShotRequest:
    """A setup with the plate's alpha as matte (so images are plates only), the hard engine."""
    clip = [] if window else list(clip)
    frames = "1" if window else options.pop("frames", None)
    render = options.pop("render", None)  # set on the message as is: the client would refuse it
    setup = shot_setup(clip=clip, grade=GRADE, matte_frames=False, engine="hard", frames=frames, **options)
    if render is not None:
        setup.render.first, setup.render.last = render
    return fusion_pb2.FuseShotRequest(setup=setup)


def parts(frame: int, info: pb.ImageInfo, data: bytes, part_bytes: int = MIB) -> list:
    return [fusion_pb2.FuseShotRequest(part=p) for p in split(pb.ROLE_PLATE, frame, info, data, part_bytes)]


def plate(size: int, sample_type: int = pb.SAMPLE_TYPE_FLOAT) -> tuple[pb.ImageInfo, bytes]:
    pixels = np.full((size, size, 4), 0.25, np.float32)
    pixels[size // 4 : size // 2, size // 4 : size // 2, 3] = 1.0
    return raw_image(pixels, ("R", "G", "B", "A"), sample_type)


def method(stub, name: str):
    return stub.FuseWindow if name == "FuseWindow" else stub.FuseShot


# -- ranges and clips ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "options, message",
    [
        ({"clip": [0], "frames": f"0-{2 * 10**9}"}, "lacks 2000000000 of render frames"),
        ({"clip": [0, 2 * 10**9]}, "lacks 1999999999 of render frames"),
        # handles are a uint32 on the wire: the most a client can declare; they end at the clip's
        # gap (as at its ends), so the shot is the frame asked for, waiting for its images.
        ({"clip": [0, 2 * 10**9], "frames": "0", "handles": 2**32 - 1}, "before any plate image arrived"),
        ({"clip": list(range(200_000))}, "at most 100000"),
        # Past any host's frame numbers: refused before a range's length is taken.
        ({"clip": [0], "render": (0, 10**12)}, "out of range"),
        ({"clip": [0, 2**62]}, "out of range"),
    ],
    ids=["render", "clip-span", "handles", "clip-length", "render-past-frames", "clip-past-frames"],
)
def test_declared_ranges_are_counted_not_enumerated(bounded, stub, options, message):
    before = status_kib(bounded.pid, "VmRSS")
    error = refusal(stub.FuseShot, [setup_message(False, **options)])
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT and message in error.details()
    assert status_kib(bounded.pid, "VmRSS") - before < 100 * 1024


# -- images over the pixel limit -------------------------------------------------------------------


def header_only_exr(path: Path, size: int) -> bytes:
    """An EXR whose header declares ``size`` x ``size`` and holds no pixels: a few hundred bytes."""
    spec = oiio.ImageSpec(size, size, 3, oiio.HALF)
    spec.tile_width = spec.tile_height = 64
    output = oiio.ImageOutput.create(str(path))
    assert output.open(str(path), spec), oiio.geterror()
    output.close()
    return path.read_bytes()


@pytest.mark.parametrize("call", ["FuseShot", "FuseWindow"])
@pytest.mark.parametrize("kind", ["raw", "raw-few-bytes", "exr-header"])
def test_an_image_over_the_pixel_limit_is_refused_before_decoding(bounded, stub, tmp_path, call, kind):
    if kind == "exr-header":
        info, data = file_image(header_only_exr(tmp_path / "huge.exr", HUGE), "exr")
        messages = parts(1, info, data)
    else:
        info = pb.ImageInfo(
            encoding=pb.ENCODING_RAW,
            width=HUGE,
            height=HUGE,
            channels=["R", "G", "B"],
            sample_type=pb.SAMPLE_TYPE_HALF,
            byte_size=HUGE * HUGE * 3 * 2 if kind == "raw" else 48,
        )
        # Of the full size, only the first MiB is sent: the refusal must not wait for the rest.
        messages = parts(1, info, bytes(min(MIB, info.byte_size)))[:1]
    messages = [setup_message(call == "FuseWindow"), *messages]
    # A window's files are read once it is complete (it may be answered from the result cache).
    error = refusal(
        method(stub, call), messages if kind == "exr-header" and call == "FuseWindow" else Held(messages)
    )
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, error.details()
    assert "plate frame 1" in error.details() and "64.0 megapixels" in error.details()
    assert "--max-pixels" in error.details() and "send the complete file" not in error.details()
    # Decoding 8000x8000 would take well over a gigabyte.
    assert status_kib(bounded.pid, "VmHWM") < 1024 * 1024


@pytest.mark.parametrize("deferred", [False, True], ids=["decoded", "deferred"])
def test_an_image_of_many_channels_decodes_to_what_is_read(tmp_path, deferred):
    """A small compressed EXR of many channels whose width and height pass the pixel limit decoded
    every channel (1000x1000 with 400 channels: 3 GB of server memory for 0.8 MB sent): a file's R,
    G, B and A alone are decoded, and a raw image declaring more samples than those at the pixel
    limit is refused before its bytes are taken. Shown at a 1-megapixel limit."""
    from movingcolor.frames.limits import pixel_limit
    from movingcolor.protocol.images import Image, ImageTooLargeError
    from movingcolor.service.decode import ImageDecoder

    path = tmp_path / "layers.exr"
    layers = np.zeros((1000, 1000, 8), np.float32)
    layers[..., 4:] = 7.0  # the layers after R, G, B and A
    write_image(path, layers, channels=tuple("RGBA") + ("Z", "u", "v", "w"))
    info, data = file_image(path.read_bytes(), "exr")
    assert len(data) < 1 << 20  # a few kilobytes that would decode to 32 MB
    image = Image(role=1, frame=1, info=info, data=data)
    with pixel_limit(1_000_000):
        decoder = ImageDecoder()
        decoded = decoder.deferred(image) if deferred else decoder.decode(image)
        assert decoded.channels == ("R", "G", "B", "A")
        assert decoded.pixels.shape == (1000, 1000, 4) and not decoded.pixels.any()
        raw = pb.ImageInfo(
            encoding=pb.ENCODING_RAW, width=1000, height=1000, channels=list("RGBAZuvw"),
            sample_type=pb.SAMPLE_TYPE_HALF, byte_size=1000 * 1000 * 8 * 2,
        )  # fmt: skip
        with pytest.raises(ImageTooLargeError, match="holds 8 channels of 1000x1000"):
            decoder.decode(Image(role=1, frame=1, info=raw, data=b""))


# -- duplicates and windows ---------------------------------------------------------------------------


@pytest.mark.parametrize("call", ["FuseShot", "FuseWindow"])
def test_an_image_sent_twice_is_refused_at_its_second_copy(stub, call):
    info, data = plate(64)
    first = parts(1, info, data, part_bytes=16 * 1024)
    again = first[:1]  # the second copy's first part: refused before the rest of it comes
    messages = [setup_message(call == "FuseWindow", clip=(1, 2)), *first, *again]
    error = refusal(method(stub, call), Held(messages))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "plate frame 1 arrived twice" in error.details()


def test_a_window_over_its_frame_limit_is_refused_as_the_frame_begins(stub):
    info, data = plate(64)
    frames = [parts(frame, info, data, part_bytes=16 * 1024) for frame in range(1, 6)]
    # Four whole frames, and the first part of a fifth: refused before the rest of it comes.
    messages = [setup_message(True), *[p for whole in frames[:4] for p in whole], frames[4][0]]
    error = refusal(stub.FuseWindow, Held(messages))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT and "--max-window-frames" in error.details()


def test_a_window_over_its_bytes_is_refused(stub):
    # Received: two float images of 1 MiB each; the second is refused as it begins.
    info, data = plate(256)
    messages = [setup_message(True), *parts(1, info, data), *parts(2, info, data)[:1]]
    error = refusal(stub.FuseWindow, Held(messages))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "plate frame 2" in error.details() and "--max-window-mb" in error.details()
    # Decoded: two half-float images of 312 KiB arrive, each twice that once decoded: 1250 KiB.
    info, data = plate(200, pb.SAMPLE_TYPE_HALF)
    messages = [setup_message(True), *parts(1, info, data), *parts(2, info, data)]
    error = refusal(stub.FuseWindow, messages)
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "decoded" in error.details() and "--max-window-mb" in error.details()


def test_a_float_window_is_counted_once_as_its_bytes_become_its_pixels(stub):
    """A raw float image's pixels take its bytes' place once decoded: two of 400 KiB fit the
    1 MiB a window may hold (counted as bytes and pixels beside them, they were refused)."""
    info, data = plate(160)
    messages = [setup_message(True), *parts(1, info, data), *parts(2, info, data)]
    replies = list(stub.FuseWindow(iter(messages), timeout=DEADLINE))
    assert replies[-1].HasField("done")
    assert [r.part.frame for r in replies if r.HasField("part") and r.part.HasField("info")] == [1]


# -- engines and models ------------------------------------------------------------------------------


def test_reflection_streams_left_open_never_take_the_threads_of_jobs_and_health(bounded, stub):
    """Nine reflection streams held open (a tool left running, or a hostile process) took every
    spare thread of the server's pool: GetInfo, health checks and new jobs then waited to their
    deadlines. A small budget of such streams is admitted; beyond it a stream is refused at once."""
    from grpc_health.v1 import health_pb2, health_pb2_grpc
    from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

    release = threading.Event()

    def held_requests():
        yield reflection_pb2.ServerReflectionRequest(list_services="")
        release.wait(HOLD)

    with grpc.insecure_channel(bounded.address) as channel:
        reflect = reflection_pb2_grpc.ServerReflectionStub(channel)
        streams = [reflect.ServerReflectionInfo(held_requests(), timeout=DEADLINE) for _ in range(12)]
        try:
            answers = []
            for stream in streams:
                try:
                    answers.append(next(stream).WhichOneof("message_response"))
                except grpc.RpcError as error:
                    answers.append(error.code())
            assert answers.count("list_services_response") >= 1
            assert grpc.StatusCode.RESOURCE_EXHAUSTED in answers
            assert stub.GetInfo(fusion_pb2.GetInfoRequest(), timeout=5).version
            health = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=5)
            assert health.status == health_pb2.HealthCheckResponse.SERVING
        finally:
            release.set()
            for stream in streams:
                stream.cancel()


@pytest.fixture
def model_root(test_model, tmp_path) -> Path:
    """A root folder holding copies of the test model: m1, m2, m3."""
    if test_model is None:
        pytest.skip("the network engine needs torch")
    root = Path(os.path.realpath(tmp_path)) / "models"
    for name in ("m1", "m2", "m3"):
        shutil.copytree(test_model, root / name)
    return root


def test_one_model_folder_loads_one_engine_however_it_is_spelt(test_model, tmp_path):
    if test_model is None:
        pytest.skip("the network engine needs torch")
    installed = Path(os.path.realpath(test_model))  # installed as "tiny-random"
    (tmp_path / "link").symlink_to(installed, target_is_directory=True)
    spellings = [
        "tiny-random",
        str(installed),
        str(installed.parent / "default" / ".." / installed.name),
        str(installed) + "/",
        str(installed.parent) + "//" + installed.name,
        str(tmp_path / "link"),
    ]
    pool = EnginePool("cpu")
    engines = [pool.engine_for("movingcolor", s, "cpu", roots=(installed.parent,))[0] for s in spellings]
    assert all(engine is engines[0] for engine in engines)
    assert pool.loaded() == [("movingcolor", os.path.realpath(installed), "cpu")]
    # Over the network (no roots) a model is an installed name only.
    with pytest.raises(ModelNotFoundError, match="is not installed"):
        pool.engine_for("movingcolor", str(installed), "cpu")


def test_the_engine_pool_keeps_at_most_max_engines_and_a_dropped_one_keeps_working(model_root):
    pool = EnginePool("cpu", max_engines=2)
    first = pool.engine_for("movingcolor", str(model_root / "m1"), "cpu", roots=(model_root,))[0]
    for name in ("m2", "m3"):
        pool.engine_for("movingcolor", str(model_root / name), "cpu", roots=(model_root,))
    assert [Path(folder).name for _, folder, _ in pool.loaded()] == ["m2", "m3"]
    # A job holding the dropped engine fuses with it to the end.
    store = FrameStore(("plate", "matte"), [1, 2, 3])
    rng = np.random.default_rng(0)
    for frame in (1, 2, 3):
        matte = np.zeros((48, 64, 1), np.float32)
        matte[12:36, 16:48] = 1.0
        store.put(
            "plate",
            frame,
            DecodedImage(rng.uniform(0, 1, (48, 64, 3)).astype(np.float32), ("R", "G", "B"), "ACEScg", True),
        )
        store.put("matte", frame, DecodedImage(matte, ("Y",), "", False))
    store.finish()
    spec = ShotSpec(plate="plate", out="", matte="matte", grade=GRADE, engine="movingcolor", frames="1-3")
    sources = ShotSources(StreamSource(store, "plate"), StreamSource(store, "matte"), release=store.release)
    stream = ShotStream(spec, sources, first)
    try:
        fused = list(stream)
    finally:
        stream.close()
    assert [number for number, _, _ in fused] == [1, 2, 3]
    again = pool.engine_for("movingcolor", str(model_root / "m1"), "cpu", roots=(model_root,))[0]
    assert again is not first and len(pool.loaded()) == 2


@contextmanager
def serving_state(settings: ServerSettings) -> Iterator[tuple[fusion_pb2_grpc.FusionStub, ServerState]]:
    """An in-process server of ``settings`` on loopback: a stub of it, and its state."""
    state = ServerState(settings)
    server, port = create_server("127.0.0.1:0", state.settings, state)
    server.start()
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            yield fusion_pb2_grpc.FusionStub(channel), state
    finally:
        server.stop(0).wait()


@contextmanager
def serving(roots: tuple[Path, ...]) -> Iterator[fusion_pb2_grpc.FusionStub]:
    with serving_state(ServerSettings(roots=roots)) as (stub, _):
        yield stub


def run_job_error(stub, root: Path, model: str) -> grpc.RpcError:
    request = fusion_pb2.JobRequest(
        plate=str(root / "shot" / "plate.####.exr"),
        out=str(root / "out" / "fused.####.exr"),
        grade=GRADE,
        engine="movingcolor",
        model=model,
        device="cpu",
    )
    with pytest.raises(grpc.RpcError) as raised:
        list(stub.RunJob(request, timeout=DEADLINE))
    return raised.value


def test_a_model_is_an_installed_name_or_a_folder_inside_the_roots(model_root, tmp_path, monkeypatch):
    root = tmp_path / "farm"
    root.mkdir()
    working = tmp_path / "working"
    shutil.copytree(model_root / "m1", working / "cwd-model")
    monkeypatch.chdir(working)
    (root / "escape").symlink_to(model_root / "m2", target_is_directory=True)
    with serving((Path(os.path.realpath(root)),)) as stub:
        # A bare name is an installed model, never a folder of the server's working folder.
        error = run_job_error(stub, root, "cwd-model")
        assert error.code() == grpc.StatusCode.NOT_FOUND and "is not installed" in error.details()
        for outside in (str(model_root / "m1"), str(root / "escape")):
            error = run_job_error(stub, root, outside)
            assert error.code() == grpc.StatusCode.PERMISSION_DENIED, error.details()
            assert "outside this server's root folders" in error.details()


def model_copy(source: Path, folder: Path, **links: Path) -> Path:
    """A copy of model ``source`` in ``folder``, with the files named in ``links`` (``config``,
    ``weights``) made symbolic links to the paths given."""
    shutil.copytree(source, folder)
    for key, target in links.items():
        name = {"config": "config.json", "weights": "model.safetensors"}[key]
        (folder / name).unlink()
        (folder / name).symlink_to(target)
    return folder


def test_a_model_folders_files_are_read_inside_the_roots_whether_or_not_their_links_lead_anywhere(
    model_root, tmp_path
):
    """The model folder's path was checked, its files were opened by name: a config.json or weights
    file linked to a file outside the roots was read, and a link to a missing file outside them was
    refused as missing where a present one was not (so errors told which outside paths exist)."""
    root = Path(os.path.realpath(tmp_path / "farm"))
    outside = Path(os.path.realpath(tmp_path / "outside"))
    shutil.copytree(model_root / "m1", outside)
    models = {
        "config-present": {"config": outside / "config.json"},
        "config-absent": {"config": outside / "no-such.json"},
        "weights-present": {"weights": outside / "model.safetensors"},
        "weights-absent": {"weights": outside / "no-such.safetensors"},
    }
    for name, links in models.items():
        model_copy(model_root / "m1", root / name, **links)
    with serving((root,)) as stub:
        for name, links in models.items():
            error = run_job_error(stub, root, str(root / name))
            assert error.code() == grpc.StatusCode.PERMISSION_DENIED, (name, error.details())
            (target,) = links.values()
            assert f"(which is {target}) lies outside this server's root folders" in error.details()


def test_a_model_config_over_its_size_is_refused_unread(model_root, tmp_path):
    """A config.json was read whole: a sparse 600 MB one (no disk used) took that much memory."""
    root = Path(os.path.realpath(tmp_path / "farm"))
    folder = model_copy(model_root / "m1", root / "big")
    with open(folder / "config.json", "r+b") as file:
        file.truncate(64 * MIB)  # its JSON, then zeros that cost no disk
    with serving((root,)) as stub:
        error = run_job_error(stub, root, str(folder))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, error.details()
    assert "is 64.0 MB, more than the 1 MB a model's config.json may be" in error.details()


@pytest.mark.parametrize(
    "field, value",
    [
        ("encoder_channels", [60000, 60000, 60000]),
        ("heads", 0),
        ("transformer_blocks", 10**9),
        ("hidden", "x"),
    ],
)
def test_a_model_config_of_an_absurd_network_is_refused_before_it_is_built(
    model_root, tmp_path, field, value
):
    """A config.json's network was built (its weights allocated) before anything was checked: 60000
    encoder channels failed as an allocation, reported INTERNAL as a server bug, and sizes under the
    machine's memory were really allocated."""
    import json

    root = Path(os.path.realpath(tmp_path / "farm"))
    folder = model_copy(model_root / "m1", root / "absurd")
    description = json.loads((folder / "config.json").read_text())
    description["network"][field] = value
    (folder / "config.json").write_text(json.dumps(description))
    with serving((root,)) as stub:
        error = run_job_error(stub, root, str(folder))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, error.details()
    assert f"model config {field} {tuple(value) if isinstance(value, list) else value!r}" in error.details()


# -- unknown roles, the image cache, job ids ----------------------------------------------------------


def test_a_window_image_of_a_role_it_does_not_take_is_refused_at_its_first_part(stub):
    """Only frames were counted: images under role numbers of no use (100, 101, ... all frame 1)
    passed --max-window-frames, each kept in the shared image cache until the call failed."""
    info, data = plate(64)
    first = parts(1, info, data, part_bytes=16 * 1024)[0]
    first.part.role = 100
    error = refusal(stub.FuseWindow, Held([setup_message(True), first]))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "role 100 frame 1 was sent, but this window takes plate images" in error.details()


def test_the_image_cache_counts_what_each_kept_image_costs_beside_its_bytes():
    """The image cache counted an image as its bytes: 8 for an image of 8 bytes, which costs the
    process over a kilobyte held (its entry, key and objects), so 100,000 tiny images took 130 MB
    past a cache of a few megabytes, and stayed there after their call failed."""
    import hashlib

    capacity = 32 * 1024
    messages = [setup_message(True)]
    for frame in range(1, 65):
        data = frame.to_bytes(8, "little")  # not an image: the call fails once they have been kept
        info = pb.ImageInfo(
            encoding=pb.ENCODING_FILE, format="exr", byte_size=8, sha256=hashlib.sha256(data).hexdigest()
        )
        messages.append(
            fusion_pb2.FuseShotRequest(
                part=pb.ImagePart(role=pb.ROLE_PLATE, frame=frame, info=info, data=data)
            )
        )
    with serving_state(ServerSettings(image_cache_bytes=capacity, max_window_frames=64)) as (stub, _):
        refusal(stub.FuseWindow, messages)
        cache = stub.GetInfo(fusion_pb2.GetInfoRequest(), timeout=DEADLINE).cache
    assert cache.images > 0 and cache.images * 1024 <= cache.image_bytes <= cache.image_capacity_bytes


def test_cancelling_an_unknown_job_of_a_huge_id_is_not_found_with_a_short_message(stub):
    """The id was repeated whole in the error: one of 100 KB took the error past gRPC's metadata limit
    and the client read RESOURCE_EXHAUSTED, which reads as a busy server."""
    with pytest.raises(grpc.RpcError) as raised:
        stub.CancelJob(fusion_pb2.CancelJobRequest(job_id="x" * 100_000), timeout=DEADLINE)
    assert raised.value.code() == grpc.StatusCode.NOT_FOUND
    assert "no job 'xxx" in raised.value.details() and len(raised.value.details()) < 500


# -- calls that end early ---------------------------------------------------------------------------------


class _HeldEngine(HardEngine):
    """The hard engine, each frame held until the test lets it go: a frame longer than any grace."""

    name = "held-frames"
    decides_band = True  # else the runner takes the hard composite as it is, and never calls it
    entered = threading.Event()
    release = threading.Event()

    def fuse(self, frames):
        type(self).entered.set()
        type(self).release.wait(DEADLINE)
        return super().fuse(frames)


@pytest.fixture
def held_job(tmp_path, monkeypatch) -> tuple[Path, fusion_pb2.JobRequest]:
    """A file job of three frames under ``root`` whose engine holds each frame until the test
    releases it (``_HeldEngine``): its root and its request."""
    from movingcolor.engines import registry
    from movingcolor.jobs.demo_shot import write_demo_inputs

    monkeypatch.setitem(registry._FACTORIES, _HeldEngine.name, _HeldEngine)
    _HeldEngine.entered.clear()
    _HeldEngine.release.clear()
    root = Path(os.path.realpath(tmp_path))
    plate, matte = write_demo_inputs(root / "shot", frames=3, width=64, height=48)
    request = fusion_pb2.JobRequest(
        plate=plate, matte=matte, out=str(root / "out" / "f.####.exr"), grade=GRADE, engine=_HeldEngine.name
    )
    return root, request


def _run_job_in_a_thread(stub, request: fusion_pb2.JobRequest) -> tuple[threading.Thread, list]:
    """RunJob on a thread of its own, started: the thread, and the list its answers (or its error)
    go into."""
    answers: list = []

    def run() -> None:
        try:
            answers.extend(stub.RunJob(request, timeout=DEADLINE))
        except grpc.RpcError as error:
            answers.append(error)

    client = threading.Thread(target=run)
    client.start()
    return client, answers


def test_a_drain_answers_a_file_job_mid_frame_with_its_reason_and_holds_its_slot_till_the_frame_ends(
    held_job,
):
    """On SIGTERM, a RunJob whose frame outlasted the second a drain cancels its jobs ahead read
    gRPC's "Cancelling all calls": the call waited for its worker, which checks for a cancel only
    between frames. The call is answered at once with the server's reason; the slot stays taken until
    the worker has stopped, and the output holds whole frames only."""
    from movingcolor.service.jobs import SHUTTING_DOWN

    root, request = held_job
    out = root / "out"
    with serving_state(ServerSettings(roots=(root,))) as (stub, state):
        client, answers = _run_job_in_a_thread(stub, request)
        try:
            assert _HeldEngine.entered.wait(DEADLINE), "the job never reached its first frame"
            state.jobs.cancel_all(SHUTTING_DOWN)
            client.join(10.0)
            assert not client.is_alive(), "the call waited for the frame to end"
            error = answers[-1]
            assert isinstance(error, grpc.RpcError) and error.code() == grpc.StatusCode.UNAVAILABLE
            assert SHUTTING_DOWN in error.details()
            assert state.jobs.active == 1  # the worker is still inside its frame
            # A stopping server waits for it before its process exits (which would cut the frame).
            waiting = threading.Thread(target=state.jobs.wait_workers, args=(DEADLINE,))
            waiting.start()
            waiting.join(0.2)
            assert waiting.is_alive()
            # Bounded: a drain ends, naming the job whose frame outlasts its wait.
            assert len(state.jobs.wait_workers(0.1)) == 1
        finally:
            _HeldEngine.release.set()
            client.join(DEADLINE)
        waiting.join(DEADLINE)
        assert not waiting.is_alive() and state.jobs.wait_idle(DEADLINE)
    written = sorted(os.listdir(out)) if out.exists() else []
    assert all(re.fullmatch(r"f\.\d{4}\.exr", name) for name in written), written


def test_a_file_job_a_limit_ends_mid_frame_keeps_its_slot_till_the_frame_ends(held_job):
    """A RunJob ended by --max-call-time freed its slot at once while its worker was inside a frame:
    with --max-jobs 1 another job was let in beside it, and a drain's wait for workers saw none."""
    root, request = held_job
    settings = ServerSettings(roots=(root,), max_jobs=1, max_call_seconds=1.0)
    with serving_state(settings) as (stub, state):
        client, answers = _run_job_in_a_thread(stub, request)
        try:
            assert _HeldEngine.entered.wait(DEADLINE), "the job never reached its first frame"
            client.join(DEADLINE)
            assert isinstance(answers[-1], grpc.RpcError), answers  # ended by the limit
            assert state.jobs.active == 1  # the worker is still inside its frame
            assert len(state.jobs.wait_workers(0.1)) == 1
        finally:
            _HeldEngine.release.set()
            client.join(DEADLINE)
        assert state.jobs.wait_workers(DEADLINE) == [] and state.jobs.wait_idle(DEADLINE)


@pytest.mark.parametrize("call", ["FuseShot", "FuseWindow"])
def test_a_call_its_client_cancels_inside_an_image_is_logged_as_cancelled(bounded, stub, call):
    """gRPC ends a cancelled call's request stream as if the client had half-closed it, and says it
    was cancelled only after: a client's cancel mid-image was logged as its error (INVALID_ARGUMENT
    "the stream ended inside plate frame 1") about half the time. A stream really half-closed there
    still is that error."""
    info, data = plate(64)
    messages = [
        setup_message(call == "FuseWindow", clip=(1, 2)),
        *parts(1, info, data, part_bytes=16 * 1024)[:1],
    ]
    tries = 6  # each was misreported about half the time
    logged = len(bounded.log)
    for _ in range(tries):
        held = Held(messages)
        cancelled = method(stub, call)(iter(held), timeout=DEADLINE)
        try:
            deadline = time.monotonic() + DEADLINE
            # Its job in, the server reads the half image and waits for the rest of it.
            while stub.GetInfo(fusion_pb2.GetInfoRequest(), timeout=DEADLINE).active_jobs == 0:
                assert time.monotonic() < deadline, "the call's job never started"
                time.sleep(0.01)
            time.sleep(0.3)
            cancelled.cancel()
        finally:
            held.released.set()
        while stub.GetInfo(fusion_pb2.GetInfoRequest(), timeout=DEADLINE).active_jobs:
            assert time.monotonic() < deadline, "the cancelled call's job never ended"
            time.sleep(0.01)
    ends: list[str] = []
    while len(ends) < tries and time.monotonic() < deadline:  # its log is read by another thread
        time.sleep(0.05)
        ends = [line for line in bounded.log[logged:] if "job.end" in line]
    assert len(ends) == tries and all("status=CANCELLED" in line for line in ends), ends
    error = refusal(method(stub, call), messages)
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "the stream ended inside plate frame 1" in error.details()


# -- temporary folders -----------------------------------------------------------------------------------


def dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_a_killed_servers_temporary_folder_is_removed_by_the_next_start(test_model, tmp_path):
    temp = tmp_path / "temp"
    temp.mkdir()
    socket_folder = short_folder()
    env = {"TMPDIR": str(temp)}
    try:
        first = ServerProcess(f"unix://{socket_folder}/a.sock", env=env).start()
        (killed,) = temp.glob(f"{TEMP_PREFIX}{first.pid}-*")
        (killed / "movingcolor-job-left").mkdir()  # as a job in flight leaves it
        first.process.send_signal(signal.SIGKILL)
        first.process.wait()
        host = killed.name.removeprefix(f"{TEMP_PREFIX}{first.pid}-").rsplit("-", 1)[0]
        stale = temp / f"{TEMP_PREFIX}{dead_pid()}-{host}-old"
        live = temp / f"{TEMP_PREFIX}{os.getpid()}-{host}-live"  # this test's process is alive
        elsewhere = temp / f"{TEMP_PREFIX}{dead_pid()}-another_host-far"  # another machine's pids
        for folder in (stale, live, elsewhere):
            (folder / "job").mkdir(parents=True)
        with ServerProcess(f"unix://{socket_folder}/b.sock", env=env) as second:
            assert not killed.exists() and not stale.exists()
            assert live.exists() and elsewhere.exists()
            (own,) = temp.glob(f"{TEMP_PREFIX}{second.pid}-*")
        assert not own.exists()  # a clean stop removes its own
    finally:
        shutil.rmtree(socket_folder, ignore_errors=True)


def test_a_smaller_message_limit_bounds_the_servers_own_parts_too(tmp_path, capsys):
    """``--max-message-mb 1``: the server sent its fused frames in parts of 2 MiB, over its own
    limit, and every frame of more than 1 MiB failed as if the client had sent too much."""
    from conftest import run_cli
    from movingcolor_client import connect
    from movingcolor_client.calls import ShotCall

    folder = short_folder()
    try:
        plate = np.zeros((1, 400, 400, 4), np.float32)
        plate[..., :3], plate[:, 200:, :, 3] = 0.3, 1.0
        with ServerProcess(f"unix://{folder}/mc.sock", ["--max-message-mb", "1"]) as server:
            with connect(server.address, part_bytes=256 * 1024) as client:
                fused = client.fuse_arrays(plate, grade="exposure=0.5")
            assert fused.shape == (1, 400, 400, 3)  # 1.8 MiB of float samples
            # A client of the default parts (2 MiB) learns the server's when one is refused, and sends
            # the frame again in them: a window (one frame, no GetInfo before it) too.
            with connect(server.address) as client:
                assert client.server_part_bytes is None
                window = client.fuse_window(1, {1: plate[0]}, grade="exposure=0.5", reuse=False)
                assert client.server_part_bytes == 512 * 1024
            assert np.array_equal(window.pixels(), fused[0])
            # A call refused for parts it sent before another call on its client learned the server's
            # (threads sharing a client) sends again in them, rather than giving up.
            with connect(server.address) as client:
                learned = ShotCall._smaller_parts_learned

                def another_call_learned_first(call, error):
                    client.info()
                    return learned(call, error)

                with pytest.MonkeyPatch.context() as patch:
                    patch.setattr(ShotCall, "_smaller_parts_learned", another_call_learned_first)
                    again = client.fuse_window(1, {1: plate[0]}, grade="exposure=0.5", reuse=False)
            assert np.array_equal(again.pixels(), fused[0])
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    for value, says in (("4096", "over gRPC's largest message"), ("0.1", "too small")):
        assert run_cli("serve", "--address", f"unix://{tmp_path}/x.sock", "--max-message-mb", value) == 2
        assert says in capsys.readouterr().err
