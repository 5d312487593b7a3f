"""Fuzzing the Fusion service's wire messages and ``movingcolor fuse``'s inputs with Hypothesis.

The properties:

* Wire (a real ``movingcolor serve`` process on a Unix socket, with a root folder, started once per
  module and restarted only when an example leaves it dead or stuck): every FuseShot, FuseWindow,
  RunJob, FindImages and CancelJob call, whole or cut short by a deadline, the client or CancelJob,
  ends OK or with a deliberate status (INVALID_ARGUMENT, NOT_FOUND, ...) whose message is a
  sentence, never INTERNAL or UNKNOWN, and never by running into a generous deadline (the inputs
  are tiny: such a call is stuck); no job outlives its call; the server logs no traceback and
  still answers GetInfo and the health check; RunJob leaves its inputs as they were and writes
  nothing outside its root.
* Raw bytes: messages that are not what a method takes never take the server down.
* Command line: ``movingcolor fuse`` exits 0 or 2, never 1 or with an exception; on 2 it prints
  one ``movingcolor: error: ...`` line; it leaves its input files as they were. ``main`` runs
  in-process, in a worker process of its own, so that an example that hangs fails alone.

Crashes the fuzzer has found are pinned as explicit examples (``@example``): they run first on every
run, so the suite fails until they are fixed and guards against their return after.

How long it runs is a settings profile chosen by ``MOVINGCOLOR_FUZZ``:

    pytest tests/test_fuzz.py                        # "ci" (the default): about a minute on 2 cores,
                                                     # the same examples on every run (derandomized)
    MOVINGCOLOR_FUZZ=long pytest tests/test_fuzz.py  # "long": 50 times the examples (about 12,000),
                                                     # new ones each run; about an hour on 2 cores

A failure prints its falsifying example (as specifications: see fuzz_strategies) and the server's log;
in the long setting also a ``@reproduce_failure`` line, and ``--hypothesis-seed=N`` replays a run's seed.
``--hypothesis-show-statistics`` shows how the calls ended (OK, INVALID_ARGUMENT, ...).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import itertools
import logging
import multiprocessing
import os
import re
import shutil
import tempfile
import threading
import time
import traceback
from pathlib import Path

import grpc
import pytest
from conftest import short_folder
from fuzz_strategies import (
    IMAGE_SAMPLES,
    Blob,
    SetupSpec,
    Stream,
    TinyImage,
    WireImage,
    cancel_requests,
    find_requests,
    fuse_arguments,
    job_requests,
    setups,
    streams,
    write_tiny_shot,
)
from grpc_health.v1 import health_pb2, health_pb2_grpc
from hypothesis import HealthCheck, Phase, event, example, given, note, settings
from hypothesis import strategies as st
from movingcolor.cli.main import main
from movingcolor.errors import MovingColorError
from movingcolor.frames.sequence import SequencePattern, is_sequence_pattern
from movingcolor.service.process import ServerProcess
from movingcolor.v1 import fusion_pb2, fusion_pb2_grpc
from movingcolor.v1 import image_pb2 as pb

_COMMON = dict(
    deadline=None,
    database=None,
    # No explain phase: it reruns a failing example hundreds of times against the server to say
    # which lines only failing runs reach; the falsifying example and the server's log say more.
    phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink],
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)
settings.register_profile("movingcolor-ci", derandomize=True, print_blob=False, **_COMMON)
settings.register_profile("movingcolor-long", derandomize=False, print_blob=True, **_COMMON)
PROFILE = os.environ.get("MOVINGCOLOR_FUZZ", "ci")
if PROFILE not in ("ci", "long"):
    raise ValueError(f"MOVINGCOLOR_FUZZ={PROFILE!r}: use ci (the default) or long")
SCALE = {"ci": 1, "long": 50}[PROFILE]


def fuzz(examples: int) -> settings:
    """The profile's settings with ``examples`` examples (times the profile's scale)."""
    return settings(settings.get_profile(f"movingcolor-{PROFILE}"), max_examples=examples * SCALE)


#: Statuses that say the server refused or stopped a call on purpose.
DELIBERATE = {
    grpc.StatusCode.INVALID_ARGUMENT,
    grpc.StatusCode.NOT_FOUND,
    grpc.StatusCode.PERMISSION_DENIED,
    grpc.StatusCode.FAILED_PRECONDITION,
    grpc.StatusCode.RESOURCE_EXHAUSTED,
    grpc.StatusCode.CANCELLED,
    grpc.StatusCode.DEADLINE_EXCEEDED,
    grpc.StatusCode.UNAUTHENTICATED,
    grpc.StatusCode.OUT_OF_RANGE,
}
#: Long enough for any tiny shot on a busy CI machine; a call that takes longer is stuck.
CALL_SECONDS = 30.0
#: A job still running this long after its call ended was never stopped.
IDLE_SECONDS = 15.0
#: What gRPC itself answers for a message that does not parse as the method's request type.
UNDECODABLE = "Exception deserializing request!"
METHODS = "/movingcolor.v1.Fusion/"
#: gRPC logs bytes that do not parse, with the parser's traceback, before it answers UNDECODABLE.
_UNDECODABLE_LOG = re.compile(
    r"^movingcolor: Exception deserializing message!\nTraceback[^\n]*\n(?:[ \t][^\n]*\n)*"
    r"google\.protobuf\.message\.DecodeError: [^\n]*$",
    re.MULTILINE,
)


class FuzzServer:
    """A ``movingcolor serve`` process for the fuzz tests, restarted when an example left it dead or stuck."""

    def __init__(self, folder: Path, root: Path):
        self.folder, self.root = folder, root
        self.starts = itertools.count()
        self.process: ServerProcess | None = None
        self.channel: grpc.Channel | None = None
        self.broken = False
        self.seen_log = 0
        self.shot: Pristine | None = None

    def start(self) -> None:
        # Small limits, so that drawn byte sizes and windows cross them: the refusals get fuzzed too.
        args = ["--root", self.root, "--max-image-mb", "1", "--max-window-frames", "8"]
        self.process = ServerProcess(f"unix://{self.folder}/mc{next(self.starts)}.sock", args).start()
        self.channel = grpc.insecure_channel(self.process.address)
        self.stub = fusion_pb2_grpc.FusionStub(self.channel)
        self.health = health_pb2_grpc.HealthStub(self.channel)
        self.stub.GetInfo(fusion_pb2.GetInfoRequest(), timeout=120)  # the first call imports the engines
        self.broken = False
        self.seen_log = len(self.process.log)

    def stop(self) -> None:
        if self.channel is not None:
            self.channel.close()
        if self.process is not None:
            self.process.stop(timeout=10)

    def ensure(self) -> None:
        """A running, idle server for the next example."""
        if self.broken or self.process is None or not self.process.running():
            self.stop()
            self.start()
        self.seen_log = len(self.process.log)

    def log_since(self) -> str:
        return "\n".join(self.process.log[self.seen_log :])

    def check_healthy(self) -> None:
        """The server is alive, answers, ran no job beyond its call, and logged no traceback."""
        try:
            assert self.process.running(), f"the server died:\n{self.log_since()[-3000:]}"
            deadline = time.monotonic() + IDLE_SECONDS
            while True:
                info = self.stub.GetInfo(fusion_pb2.GetInfoRequest(), timeout=10)
                if info.active_jobs == 0:
                    break
                assert time.monotonic() < deadline, (
                    f"{info.active_jobs} job(s) still running {IDLE_SECONDS:.0f} s after the call ended:\n"
                    f"{self.log_since()[-3000:]}"
                )
                time.sleep(0.1)
            check = self.health.Check(health_pb2.HealthCheckRequest(service=""), timeout=10)
            assert check.status == health_pb2.HealthCheckResponse.SERVING
            time.sleep(0.05)  # the log reaches this process through a pipe
            log = _UNDECODABLE_LOG.sub("", self.log_since())
            assert "Traceback" not in log, f"the server logged a traceback:\n{log}"
        except BaseException:
            self.broken = True  # the next example gets a fresh server
            raise


@pytest.fixture(scope="module")
def server(test_model):
    folder = short_folder("mcf-")
    root = folder / "root"
    write_tiny_shot(root / "shot")
    outside = folder / "outside"
    write_tiny_shot(outside)
    (root / "link").symlink_to(outside)  # a way out of the root, for RunJob to refuse
    (root / "out").mkdir()
    fuzz_server = FuzzServer(folder, root)
    fuzz_server.shot = Pristine(root / "shot", folder / "pristine-shot")  # out of RunJob's reach
    fuzz_server.start()
    warm_window_cache(fuzz_server)
    yield fuzz_server
    fuzz_server.stop()
    shutil.rmtree(folder, ignore_errors=True)


def warm_window_cache(server: FuzzServer) -> None:
    """Every sample image sent once with its digest, so that drawn references find some of them held."""
    setup = fusion_pb2.ShotSetup(
        render=pb.FrameRange(first=1001, last=1001),
        grade=fusion_pb2.Grade(text="exposure=0.5"),
        matte=fusion_pb2.MATTE_SOURCE_PLATE_ALPHA,
        engine="hard",
    )
    for start in range(0, len(IMAGE_SAMPLES), 8):
        images = [
            WireImage(pb.ROLE_PLATE, 1001 + index, Blob(name), digest=True)
            for index, name in enumerate(IMAGE_SAMPLES[start : start + 8])
        ]
        requests = [fusion_pb2.FuseShotRequest(setup=setup)]
        requests += [fusion_pb2.FuseShotRequest(part=part) for image in images for part in image.parts()]
        with contextlib.suppress(grpc.RpcError):  # mixed sizes are refused, but the images are kept
            list(server.stub.FuseWindow(iter(requests), timeout=CALL_SECONDS))
    server.check_healthy()


def call(server: FuzzServer, method: str, request):
    """``method`` through the generated stub: ``(code, details, responses)``, whatever the outcome."""
    server.ensure()
    responses: list = []
    started = time.monotonic()
    try:
        answer = getattr(server.stub, method)(request, timeout=CALL_SECONDS)
        if method in ("FuseShot", "FuseWindow", "RunJob"):
            for response in answer:
                responses.append(response)
        else:
            responses.append(answer)
        code, details = grpc.StatusCode.OK, ""
    except grpc.RpcError as error:
        code, details = error.code(), error.details() or ""
    note(f"{method}: {code.name} {details!r} after {time.monotonic() - started:.1f} s")
    event(f"{method}: {code.name}")
    assert_not_stuck(server, code, details)
    return code, details, responses


def assert_not_stuck(server: FuzzServer, code: grpc.StatusCode, details: str) -> None:
    """Inputs this small take well under a second: a call that runs into CALL_SECONDS is stuck, the
    server waiting on itself or on the client, and should have been refused instead."""
    if code == grpc.StatusCode.DEADLINE_EXCEEDED:
        server.broken = True  # it may still be at work on the call: the next example gets a fresh server
        raise AssertionError(f"the call ran into its {CALL_SECONDS:.0f} s deadline ({details}): it is stuck")


def assert_deliberate(code: grpc.StatusCode, details: str) -> None:
    """OK, or a status the contract names, with a message that says what to fix."""
    if code == grpc.StatusCode.OK:
        return
    assert code in DELIBERATE, f"{code.name}: {details}"
    assert len(details.split()) >= 2, f"{code.name} with message {details!r}: not a sentence"
    assert "this is a bug" not in details and "Traceback" not in details, f"{code.name}: {details}"


# -- the wire ----------------------------------------------------------------------------------------------

# Crashes the fuzzer found, pinned as explicit examples: every run tries them first, so the suite fails
# until they are fixed and catches them should they come back.
GRADE = {"text": "slope=1.2,1.0,0.9;offset=0.01;power=1.0;sat=1.1"}
#: The plate's alpha as the matte, but only the first frame has an alpha channel.
ALPHA_ON_ONE_FRAME = Stream(
    SetupSpec({"clip": [1001, 1002], "grade": GRADE, "matte": 1, "engine": "hard"}),
    [
        WireImage(pb.ROLE_PLATE, 1001, Blob("plate-rgba.exr")),
        WireImage(pb.ROLE_PLATE, 1002, Blob("plate.exr")),
    ],
)
#: A clip that spans all of int64: more frames than a Python length holds.
WHOLE_INT64_CLIP = Stream(
    SetupSpec({"clip": [-(2**63), 2**63 - 1], "grade": GRADE, "matte": 1, "engine": "hard"}),
    [
        WireImage(pb.ROLE_PLATE, -(2**63), Blob("plate-rgba.exr")),
        WireImage(pb.ROLE_PLATE, 2**63 - 1, Blob("plate-rgba.exr")),
    ],
)
#: The network on a frame 4 pixels high.
NETWORK_ON_A_THIN_FRAME = Stream(
    SetupSpec({"clip": [1001], "grade": GRADE, "engine": "movingcolor", "model": "tiny-random"}),
    [
        WireImage(pb.ROLE_PLATE, 1001, TinyImage(32, 4, "disc", 0)),
        WireImage(pb.ROLE_MATTE, 1001, TinyImage(32, 4, "disc", 0, "matte")),
    ],
)
#: A band of 39 million pixels around a 32x24 matte.
HUGE_BAND = Stream(
    SetupSpec({"clip": [1001], "grade": GRADE, "engine": "guided", "band": "39144595"}),
    [WireImage(pb.ROLE_PLATE, 1001, Blob("plate.exr")), WireImage(pb.ROLE_MATTE, 1001, Blob("matte.png"))],
)
#: A cached reference whose role is not in the Role enum.
UNKNOWN_ROLE_REFERENCE = Stream(
    SetupSpec({"render": (1001, 1001), "grade": GRADE, "engine": "hard"}),
    [WireImage(6, 1001, Blob("plate.exr"), digest=True, cached=True)],
)
#: Every matte sent before any plate: each frame's images do not come together, as the contract asks.
MATTES_BEFORE_PLATES = Stream(
    SetupSpec({"clip": [1001, 1002, 1003, 1004], "grade": GRADE, "engine": "guided"}),
    [WireImage(pb.ROLE_MATTE, frame, Blob("matte.png")) for frame in range(1001, 1005)]
    + [WireImage(pb.ROLE_PLATE, frame, Blob("plate.exr")) for frame in range(1001, 1005)],
)
#: An EXR whose channel list holds a byte that is not UTF-8: OpenImageIO's error message quotes it.
CORRUPT_CHANNEL_LIST = Stream(
    SetupSpec({"clip": [1001], "grade": GRADE, "matte": 1, "engine": "hard"}),
    [WireImage(pb.ROLE_PLATE, 1001, Blob("plate.exr", flips=((54, 0x80),)))],
)
CORRUPT_CHANNEL_LIST_WINDOW = Stream(
    SetupSpec({"render": (1001, 1001), "grade": GRADE, "matte": 1, "engine": "hard"}),
    CORRUPT_CHANNEL_LIST.items,
)
#: A frame's images not sent together: the runner waits for plate 1001 while later frames fill the buffer.
GRADED_FRAMES_OUT_OF_STEP = Stream(
    SetupSpec({"clip": [1001, 1002, 1003, 1004], "graded": True, "engine": "hard"}),
    [
        WireImage(pb.ROLE_GRADED, 1001, Blob("plate.exr")),
        WireImage(pb.ROLE_PLATE, 1002, Blob("plate.exr")),
        WireImage(pb.ROLE_MATTE, 1004, Blob("matte.png")),
        WireImage(pb.ROLE_PLATE, 1003, Blob("plate.exr")),
    ],
)
#: Raw samples asked for in a sample type the SampleType enum does not have.
RAW_OUTPUT_OF_UNKNOWN_TYPE = Stream(
    SetupSpec(
        {"clip": [1001], "grade": GRADE, "engine": "hard", "output": {"encoding": 2, "sample_type": 3}}
    ),
    NETWORK_ON_A_THIN_FRAME.items,
)
#: FuseWindow's form of ALPHA_ON_ONE_FRAME.
ALPHA_ON_ONE_FRAME_WINDOW = Stream(
    SetupSpec({"render": (1001, 1001), "grade": GRADE, "matte": 1, "engine": "hard"}),
    ALPHA_ON_ONE_FRAME.items,
)


@fuzz(40)
@given(stream=streams())
@example(stream=ALPHA_ON_ONE_FRAME)
@example(stream=WHOLE_INT64_CLIP)
@example(stream=NETWORK_ON_A_THIN_FRAME)
@example(stream=HUGE_BAND)
@example(stream=RAW_OUTPUT_OF_UNKNOWN_TYPE)
@example(stream=MATTES_BEFORE_PLATES)
@example(stream=CORRUPT_CHANNEL_LIST)
@example(stream=GRADED_FRAMES_OUT_OF_STEP)
def test_fuse_shot_messages(server, stream):
    code, details, responses = call(server, "FuseShot", iter(stream.messages()))
    assert_deliberate(code, details)
    if code == grpc.StatusCode.OK:
        assert responses[0].WhichOneof("message") == "accepted", responses[0]
        assert responses[-1].WhichOneof("message") == "done", responses[-1]
    server.check_healthy()


@fuzz(30)
@given(stream=streams(window=True))
@example(stream=UNKNOWN_ROLE_REFERENCE)
@example(stream=ALPHA_ON_ONE_FRAME_WINDOW)
@example(
    stream=Stream(
        SetupSpec({"render": (1001, 1001), **CORRUPT_CHANNEL_LIST.setup.fields}), CORRUPT_CHANNEL_LIST.items
    )
)
def test_fuse_window_messages(server, stream):
    code, details, responses = call(server, "FuseWindow", iter(stream.messages()))
    assert_deliberate(code, details)
    if code == grpc.StatusCode.OK:
        assert responses[-1].WhichOneof("message") == "done", responses[-1]
    server.check_healthy()


#: How a call is cut short: its deadline passes, the client cancels it, or a CancelJob call names its job.
INTERRUPTIONS = st.one_of(
    st.tuples(st.just("deadline"), st.floats(0.001, 1.5)),
    st.tuples(st.sampled_from(["client cancel", "CancelJob"]), st.integers(0, 12)),
)


@fuzz(25)
@given(method=st.sampled_from(["FuseShot", "FuseWindow"]), stream=st.data(), interruption=INTERRUPTIONS)
def test_interrupted_calls(server, method, stream, interruption):
    """A call cut short at any point ends with a deliberate status and leaves no job behind.

    The client cancels when its request stream reaches message ``at``; a CancelJob call is made
    once FuseShot has accepted the job, while the request stream holds back message ``at``. So the
    interruption lands while the server receives, decodes or fuses.
    """
    stream = stream.draw(streams(window=method == "FuseWindow", valid=True), label="stream")
    kind, at = interruption
    if kind == "CancelJob" and method == "FuseWindow":
        kind = "client cancel"  # FuseWindow sends no job id before its answer
    messages = stream.messages()
    calls: list = []
    cancelled = threading.Event()

    def requests():
        for index, message in enumerate(messages):
            if index == at and kind == "client cancel":
                while not calls:  # gRPC may read the first requests before the call is returned
                    time.sleep(0.001)
                calls[0].cancel()
                return
            if index == at and kind == "CancelJob":
                cancelled.wait(10)
            yield message

    server.ensure()
    answer = getattr(server.stub, method)(requests(), timeout=at if kind == "deadline" else CALL_SECONDS)
    calls.append(answer)
    code, details = grpc.StatusCode.OK, ""
    try:
        for response in answer:
            if kind == "CancelJob" and response.WhichOneof("message") == "accepted":
                cancel = fusion_pb2.CancelJobRequest(job_id=response.accepted.job_id)
                try:
                    server.stub.CancelJob(cancel, timeout=10)
                except grpc.RpcError as error:  # the job may have ended first
                    assert_deliberate(error.code(), error.details() or "")
                cancelled.set()
    except grpc.RpcError as error:
        code, details = error.code(), error.details() or ""
    finally:
        cancelled.set()
    note(f"{method} {kind} at {at}: {code.name} {details!r}")
    event(f"{method} {kind}: {code.name}")
    if kind != "deadline":
        assert_not_stuck(server, code, details)
    assert_deliberate(code, details)
    server.check_healthy()


def files_and_hashes(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` (links not followed) by its SHA-256."""
    found = {}
    for path in sorted(folder.rglob("*")):
        if path.is_file() and not path.is_symlink():
            found[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


def named_files(value: str, within: tuple[Path, ...]) -> list[Path]:
    """The files an input option names (a file, a folder's files, a sequence's frames) inside ``within``:
    what a run must leave as it was."""
    text = value.partition("#")[0]  # a .ccc's correction id
    if not text or "\0" in text:
        return []
    path = Path(text)
    try:
        if path.is_dir():
            found = [p for p in path.iterdir() if p.is_file()]
        elif is_sequence_pattern(text):
            pattern = SequencePattern.parse(text)
            found = [pattern.path(number) for number in pattern.frames_on_disk()]
        else:
            found = [path] if path.is_file() else []
    except (OSError, MovingColorError):  # a path the command will refuse as well
        return []
    return [p for p in found if any(p.resolve().is_relative_to(folder.resolve()) for folder in within)]


def hashes(paths) -> dict[str, str]:
    return {str(p): hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "missing" for p in paths}


class Pristine:
    """A folder of inputs put back as it was after an example that wrote into it: each example starts
    from the same files, whatever the one before wrote (an output may go anywhere it is allowed to)."""

    def __init__(self, folder: Path, copy: Path):
        self.folder, self.copy = folder, copy
        shutil.copytree(folder, self.copy, symlinks=True)
        self.files = files_and_hashes(folder)

    def restore(self) -> None:
        if files_and_hashes(self.folder) != self.files:
            shutil.rmtree(self.folder)
            shutil.copytree(self.copy, self.folder, symlinks=True)


def fill(text: str, **folders: Path) -> str:
    for name, folder in folders.items():
        text = text.replace("{" + name + "}", str(folder))
    return text


_RUN_JOBS = itertools.count()


@fuzz(30)
@given(request=job_requests())
@example(  # a NUL byte in a path
    request=fusion_pb2.JobRequest(
        plate="{root}/a\x00b.exr", matte="alpha", grade="sat=1.1", out="{out}/f.####.exr", engine="hard"
    )
)
def test_run_job_requests(server, request):
    request = fusion_pb2.JobRequest.FromString(request.SerializeToString())  # filled in below: a copy
    out = server.root / "out" / str(next(_RUN_JOBS))
    for descriptor in request.DESCRIPTOR.fields:
        if descriptor.type == descriptor.TYPE_STRING:
            value = getattr(request, descriptor.name)
            setattr(request, descriptor.name, fill(value, root=server.root, out=out))
    names = (request.plate, request.matte, request.graded, request.edited, request.grade, request.config)
    inputs = hashes(p for name in names for p in named_files(name, (server.root,)))
    outside = files_and_hashes(server.folder / "outside")
    around = sorted(p.name for p in server.folder.iterdir())
    try:
        code, details, _ = call(server, "RunJob", request)
        assert_deliberate(code, details)
        server.check_healthy()
        assert hashes(Path(p) for p in inputs) == inputs, "RunJob changed one of its inputs"
        assert files_and_hashes(server.folder / "outside") == outside, (
            "RunJob wrote through a link out of its root"
        )
        assert sorted(p.name for p in server.folder.iterdir()) == around, "RunJob wrote outside its root"
    finally:
        shutil.rmtree(out, ignore_errors=True)
        server.shot.restore()


@fuzz(15)
@given(request=find_requests())
def test_find_images_requests(server, request):
    code, details, responses = call(server, "FindImages", request)
    assert_deliberate(code, details)
    if code == grpc.StatusCode.OK:
        assert set(responses[0].held) <= set(request.sha256)
    server.check_healthy()


@fuzz(10)
@given(request=cancel_requests())
def test_cancel_job_requests(server, request):
    code, details, _ = call(server, "CancelJob", request)
    assert_deliberate(code, details)
    server.check_healthy()


# -- raw bytes ---------------------------------------------------------------------------------------------

REQUEST_TYPES = {
    "GetInfo": fusion_pb2.GetInfoRequest,
    "FindImages": fusion_pb2.FindImagesRequest,
    "CancelJob": fusion_pb2.CancelJobRequest,
    "RunJob": fusion_pb2.JobRequest,
    "FuseShot": fusion_pb2.FuseShotRequest,
    "FuseWindow": fusion_pb2.FuseShotRequest,
}


def flipped(data: bytes, flips: list[tuple[int, int]]) -> bytes:
    buffer = bytearray(data)
    for offset, xor in flips:
        if buffer:
            buffer[offset % len(buffer)] ^= xor
    return bytes(buffer)


def parses(data: bytes, message_type) -> bool:
    try:
        message_type.FromString(data)
    except Exception:  # protobuf's DecodeError, or what a nested message's parser raises
        return False
    return True


#: Serialized requests: valid setups with bytes flipped, or noise.
RAW_MESSAGES = st.one_of(
    st.binary(max_size=300),
    st.builds(
        flipped,
        setups().map(lambda spec: fusion_pb2.FuseShotRequest(setup=spec.message()).SerializeToString()),
        st.lists(st.tuples(st.integers(0, 2**16), st.integers(1, 255)), max_size=4),
    ),
)


@fuzz(30)
@given(method=st.sampled_from(sorted(REQUEST_TYPES)), messages=st.lists(RAW_MESSAGES, min_size=1, max_size=4))
def test_raw_bytes(server, method, messages):
    server.ensure()
    path = METHODS + method
    identity = dict(request_serializer=None, response_deserializer=None)
    try:
        if method in ("FuseShot", "FuseWindow"):
            list(server.channel.stream_stream(path, **identity)(iter(messages), timeout=CALL_SECONDS))
        elif method == "RunJob":
            list(server.channel.unary_stream(path, **identity)(messages[0], timeout=CALL_SECONDS))
        else:
            server.channel.unary_unary(path, **identity)(messages[0], timeout=CALL_SECONDS)
        code, details = grpc.StatusCode.OK, ""
    except grpc.RpcError as error:
        code, details = error.code(), error.details() or ""
    note(f"{method}: {code.name} {details!r}")
    event(f"{method}: {code.name}")
    assert_not_stuck(server, code, details)
    sent = messages if method in ("FuseShot", "FuseWindow") else messages[:1]
    if code == grpc.StatusCode.INTERNAL and details == UNDECODABLE:
        # gRPC's own answer to bytes that are not a message of the method's type: the servicer never saw them.
        assert not all(parses(data, REQUEST_TYPES[method]) for data in sent)
    else:
        assert_deliberate(code, details)
    server.check_healthy()


# -- the command line --------------------------------------------------------------------------------------


@contextlib.contextmanager
def logging_kept():
    """``main`` configures logging on its first call; leave the process's logging as it was found."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        yield
    finally:
        for handler in root.handlers[:]:
            if handler not in handlers:
                root.removeHandler(handler)
        root.setLevel(level)


def run_main(args: list[str]) -> tuple[object, bool, str, str]:
    """``main(args)`` in this process: ``(exit status, parsed, stderr, traceback)``; ``parsed`` is
    False when argparse refused the arguments, ``traceback`` the exception that escaped, if any."""
    err = io.StringIO()
    status, parsed, escaped = None, True, ""
    with logging_kept(), contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            status = main(args)
        except SystemExit as exit:  # argparse refusing an option: its usage and message
            status, parsed = exit.code, False
        except BaseException:
            escaped = traceback.format_exc()
    return status, parsed, err.getvalue(), escaped


def _command_line_worker(connection) -> None:
    """The worker process's loop: arguments in, ``run_main``'s answer out, until the pipe closes."""
    while True:
        try:
            args = connection.recv()
        except EOFError:
            return
        connection.send(run_main(args))


class CommandLine:
    """``movingcolor`` run in-process, in a worker process started once and reused.

    An example that hangs (a filter working for hours) or takes its process down would otherwise
    stop the whole suite; here it fails alone, and the next example gets a fresh worker.
    """

    def __init__(self):
        self.process = None

    def start(self) -> None:
        context = multiprocessing.get_context("spawn")  # not fork: this process runs gRPC and torch threads
        self.connection, child = context.Pipe()
        self.process = context.Process(target=_command_line_worker, args=(child,), daemon=True)
        self.process.start()
        child.close()

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.join()
            self.process = None

    def run(self, args: list[str], timeout: float) -> tuple[object, bool, str, str]:
        if self.process is None or not self.process.is_alive():
            self.start()
        self.connection.send(args)
        try:
            if self.connection.poll(timeout):
                return self.connection.recv()
        except EOFError:
            pass  # the worker died: its exit code says how
        else:
            self.stop()
            raise AssertionError(f"movingcolor {' '.join(args)} still running after {timeout:.0f} s")
        self.process.join(5)
        code = self.process.exitcode
        self.stop()
        raise AssertionError(f"movingcolor {' '.join(args)} took its process down (exit code {code})")


@pytest.fixture(scope="module")
def command_line(test_model):
    runner = CommandLine()
    runner.start()
    yield runner
    runner.stop()


@pytest.fixture(scope="module")
def cli_shot():
    folder = Path(tempfile.mkdtemp(prefix="movingcolor-fuzz-cli-"))
    write_tiny_shot(folder / "shot")
    yield Pristine(folder / "shot", folder / "pristine-shot")
    shutil.rmtree(folder, ignore_errors=True)


#: The options whose files ``movingcolor fuse`` reads.
INPUT_OPTIONS = ("--plate", "--matte", "--grade", "--graded", "--edited", "--config")


def input_values(args: list[str]) -> list[str]:
    values = []
    for option, value in zip(args, args[1:] + [""], strict=True):
        name, equals, attached = option.partition("=")
        if name in INPUT_OPTIONS:
            values.append(attached if equals else value)
    return values


def _fuse(*options: str, plate="{shot}/plate/plate.####.exr", matte="{shot}/matte/matte.####.png") -> list:
    return [
        "fuse",
        "--plate",
        plate,
        "--matte",
        matte,
        "--grade",
        "sat=1.1",
        "--out",
        "{out}/f.####.exr",
        *options,
    ]


@fuzz(60)
@given(case=fuse_arguments())
@example(case=(_fuse("--engine", "hard", "--frames", "1001-99999999999999999999999"), {}))
@example(case=(_fuse("--engine", "feather", "--band", "39144595", "--frames", "1001"), {}))
@example(  # the plate's alpha as the matte, but only the first frame has an alpha channel
    case=(
        _fuse("--engine", "hard", plate="{junk}/seq.####.exr", matte="alpha"),
        {"seq.1001.exr": Blob("plate-rgba.exr"), "seq.1002.exr": Blob("plate.exr")},
    )
)
@example(  # the network on a frame 4 pixels high
    case=(
        _fuse("--engine", "movingcolor", plate="{junk}/thin.####.exr", matte="{junk}/thin.####.png"),
        {
            "thin.1001.exr": TinyImage(32, 4, "disc", 0, "plate", "exr"),
            "thin.1001.png": TinyImage(32, 4, "disc", 0, "matte", "png"),
        },
    )
)
@example(  # a plate whose channel list holds a byte that is not UTF-8
    case=(
        _fuse("--engine", "hard", "--frames", "1001", plate="{junk}/bad.####.exr", matte="alpha"),
        {"bad.1001.exr": Blob("plate-rgba.exr", flips=((54, 0x80),))},
    )
)
def test_fuse_command_line(command_line, cli_shot, case):
    arguments, junk = case
    example = Path(tempfile.mkdtemp(dir=cli_shot.folder.parent))
    try:
        (example / "junk").mkdir()
        for name, blob in junk.items():
            (example / "junk" / name).parent.mkdir(exist_ok=True)
            (example / "junk" / name).write_bytes(blob.data())
        folders = dict(shot=cli_shot.folder, junk=example / "junk", out=example / "out")
        args = [fill(argument, **folders) for argument in arguments]
        note(f"movingcolor {' '.join(args)}")
        within = (folders["shot"], folders["junk"])
        inputs = hashes(p for value in input_values(args) for p in named_files(value, within))
        status, parsed, err, escaped = command_line.run(args, CALL_SECONDS)
        note(err[-2000:])
        event(f"exit status {status}" + ("" if parsed else " (argparse)"))
        assert not escaped, f"an exception escaped main:\n{escaped}"
        assert status in (0, 2), f"exit status {status}"
        errors = [line for line in err.splitlines() if line.startswith("movingcolor: error: ")]
        if status == 2 and parsed:
            assert len(errors) == 1, err
        assert "Traceback" not in err
        assert hashes(Path(p) for p in inputs) == inputs, "an input file changed"
    finally:
        shutil.rmtree(example, ignore_errors=True)
        cli_shot.restore()
