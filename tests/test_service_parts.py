"""The service's parts in-process: generated stubs, the frame store, fair turns, plans, addresses, tokens."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import threading
import time

import grpc
import numpy as np
import pytest
from movingcolor.engines import Engine, create_engine
from movingcolor.errors import FrameSizeMismatchError, MissingFramesError, MovingColorError
from movingcolor.frames.frame_range import FrameRange
from movingcolor.frames.stream import DecodedImage, FrameStore, StreamOrderError, StreamSource
from movingcolor.jobs import FramePlan
from movingcolor.jobs.frame_plan import READ_AHEAD
from movingcolor.protocol import generate
from movingcolor.protocol.address import parse_address
from movingcolor.protocol.digest import image_sha256
from movingcolor.protocol.images import PartAssembler, WireFormatError, decode_raw, raw_image, split
from movingcolor.service.auth import MISSING, WRONG, token_problem
from movingcolor.service.errors import AddressError, JobCancelledError
from movingcolor.service.jobs import Job
from movingcolor.service.scheduler import DeviceScheduler, ScheduledEngine
from movingcolor.v1 import fusion_pb2
from movingcolor.v1 import image_pb2 as pb


def test_generated_stubs_are_current(tmp_path):
    pytest.importorskip("grpc_tools", reason="grpcio-tools (the dev extra) regenerates the stubs")
    fresh = generate.generate(tmp_path)
    committed = generate.generated_files(generate.PACKAGE_ROOT)
    assert [p.name for p in fresh] == [p.name for p in committed]
    stale = [p.name for p, q in zip(committed, fresh, strict=True) if p.read_bytes() != q.read_bytes()]
    assert not stale, f"stale generated stubs {stale}: run {generate.COMMAND} and commit the result"


def test_regenerating_the_stubs_without_the_contract_names_where_it_is(tmp_path):
    """An installed package holds no protos/: protoc's traceback named a folder outside any package."""
    with pytest.raises(MovingColorError, match="fusion.proto in .*not in an installed package"):
        generate.generate(tmp_path / "out", protos=tmp_path / "protos")


INFO_WITHOUT_A_GPU_DRIVER = """
import sys
from movingcolor.model import device
from movingcolor.service import info
from movingcolor.service.settings import ServerSettings
from movingcolor.service.state import ServerState

device.gpu_driver_present = lambda: False  # as on a machine without NVIDIA's or ROCm's driver
reply = info.build_info(ServerState(ServerSettings()))
print([d.name for d in reply.devices], [m.name for m in reply.models], "torch" in sys.modules)
"""


def test_a_fresh_servers_info_on_a_machine_without_a_gpu_does_not_import_torch():
    """Every client's first call is GetInfo: on a CPU machine it lists the CPU and the installed
    models without importing torch (most of a second), which the movingcolor engine loads itself."""
    result = subprocess.run(
        [sys.executable, "-c", INFO_WITHOUT_A_GPU_DRIVER], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    from movingcolor.model.registry import model_folders

    assert result.stdout.strip() == f"['cpu'] {list(model_folders())} False", result.stdout


def test_client_imports_without_torch():
    code = (
        "import sys; sys.modules['torch'] = None\n"
        "import movingcolor_client\n"
        "client = movingcolor_client.connect('unix:///tmp/no-such-server.sock', retries=0)\n"
        "try:\n"
        "    client.info(timeout=2)\n"
        "except movingcolor_client.ServerUnavailableError as error:\n"
        "    print('unavailable:', error)\n"
        "assert 'torch' not in [m for m in sys.modules if sys.modules[m] is not None]\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "movingcolor serve --address unix:///tmp/no-such-server.sock" in result.stdout


def _image(width=8, height=6, value=0.5) -> DecodedImage:
    return DecodedImage(np.full((height, width, 3), value, np.float32), ("R", "G", "B"), "", True)


def test_store_holds_back_a_sender_that_runs_ahead():
    store = FrameStore(("plate",), clip=range(1, 11), capacity=2)
    store.put("plate", 1, _image())
    store.put("plate", 2, _image())
    third = threading.Thread(target=store.put, args=("plate", 3, _image()))
    third.start()
    third.join(0.5)
    assert third.is_alive() and store.held == 2  # back-pressure: waits for room
    assert store.get("plate", 1).size == (8, 6)
    store.release(1)
    third.join(5)
    assert not third.is_alive() and store.received("plate") == [2, 3]


def test_store_refuses_out_of_order_twice_and_outside_the_clip():
    store = FrameStore(("plate",), clip=range(1, 11), capacity=2)
    errors = []

    def read_first():
        try:
            store.get("plate", 1)
        except JobCancelledError as error:
            errors.append(error)

    reader = threading.Thread(target=read_first)
    store.put("plate", 3, _image())
    store.put("plate", 4, _image())
    reader.start()
    time.sleep(0.3)  # the runner now waits for frame 1, which is behind a full buffer
    with pytest.raises(StreamOrderError, match="before plate frame 1, which the server needs next"):
        store.put("plate", 5, _image())
    with pytest.raises(StreamOrderError, match="arrived twice"):
        store.put("plate", 3, _image())
    with pytest.raises(StreamOrderError, match="not in the clip"):
        store.put("plate", 12, _image())
    with pytest.raises(StreamOrderError, match="this shot takes plate images"):
        store.put("graded", 1, _image())
    with pytest.raises(FrameSizeMismatchError, match="plate frame 1 is 4x4 but plate frame 3 was 8x6"):
        store.put("plate", 1, _image(4, 4))
    store.fail(JobCancelledError("stop"))
    reader.join(5)
    assert [str(e) for e in errors] == ["stop"]


def _reader(store: FrameStore, role: str, frame: int) -> threading.Thread:
    """The runner reading one image in its own thread; it ends when the image arrives or the store fails."""

    def read():
        with contextlib.suppress(Exception):
            store.get(role, frame)

    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    time.sleep(0.3)  # the runner now waits
    return thread


def test_store_refuses_at_once_when_the_image_the_runner_waits_for_is_behind_a_full_buffer():
    # Frame 1001 is held (its graded image), but the runner waits for its plate: a sender that goes on
    # with other frames would fill the buffer and then wait for room only the runner can make.
    store = FrameStore(("plate", "matte", "graded"), clip=range(1001, 1005), capacity=3)
    store.put("graded", 1001, _image())
    store.put("plate", 1002, _image())
    store.put("matte", 1004, _image())
    reader = _reader(store, "plate", 1001)
    started = time.monotonic()
    with pytest.raises(StreamOrderError, match="before plate frame 1001, which the server needs next"):
        store.put("plate", 1003, _image())
    assert time.monotonic() - started < 5
    store.fail(StreamOrderError("the job has ended"))
    reader.join(5)


def test_store_refuses_the_image_the_runner_waits_for_behind_a_full_buffer():
    store = FrameStore(("plate",), clip=range(1, 6), capacity=2)
    store.put("plate", 2, _image())
    store.put("plate", 3, _image())
    reader = _reader(store, "plate", 1)
    with pytest.raises(StreamOrderError, match="plate frame 1, which the server needs next, arrived after 2"):
        store.put("plate", 1, _image())
    store.fail(StreamOrderError("the job has ended"))
    reader.join(5)


def test_store_reports_frames_that_never_came_and_feeds_a_source():
    store = FrameStore(("plate", "matte"), clip=[1001, 1002], needed=[1001, 1002])
    source = StreamSource(store, "plate")
    store.put("plate", 1001, _image(value=0.25))
    assert (source.width, source.height, source.channels, source.is_float) == (8, 6, ("R", "G", "B"), True)
    assert source.read(1001)[0, 0, 0] == 0.25 and source.available_range() == FrameRange(1001, 1002)
    store.finish()
    with pytest.raises(MissingFramesError, match="ended before plate frame 1002 arrived"):
        source.read(1002)
    with pytest.raises(MissingFramesError, match="before any matte image arrived"):
        _ = StreamSource(store, "matte").width


def test_a_store_holds_a_frame_once_every_role_has_arrived_until_released():
    store = FrameStore(("plate", "matte"), clip=[1, 2], needed=[1, 2])
    assert not store.holds(1)
    store.put("plate", 1, _image())
    assert not store.holds(1), "the matte has not arrived"
    store.put("matte", 1, _image())
    assert store.holds(1) and not store.holds(2)
    store.release(1)
    assert not store.holds(1)


@pytest.mark.parametrize("name", ["hard", "guided", "feather"])
def test_a_scheduled_engine_declares_what_its_engine_declares(name):
    # The server wraps every engine: a trait it dropped would change how frames are prepared or
    # whether each window is copied (frame stacks), so the server would do more than fuse does.
    inner = create_engine(name)
    scheduled = ScheduledEngine(inner, DeviceScheduler(slots=1), "cpu", Job("a", "FuseWindow"))
    for trait in Engine.__annotations__:
        assert getattr(scheduled, trait) == getattr(inner, trait), trait
    assert scheduled.takes_frame_stacks  # the built-in engines read windows without copies


def test_fair_turns_round_robin_between_clients():
    scheduler = DeviceScheduler(slots=1)
    order, gate = [], threading.Event()
    busy, done = Job("holder", "FuseShot"), threading.Event()

    def hold():
        with scheduler.turn("cpu", "holder", busy):
            gate.set()
            done.wait(5)

    def take(client, label):
        with scheduler.turn("cpu", client, Job(client, "FuseShot")):
            order.append(label)

    holder = threading.Thread(target=hold)
    holder.start()
    gate.wait(5)
    threads = []
    for client, label in (("a", "a1"), ("a", "a2"), ("a", "a3"), ("b", "b1"), ("c", "c1")):
        threads.append(threading.Thread(target=take, args=(client, label)))
        threads[-1].start()
        time.sleep(0.05)  # arrive in this order
    done.set()
    for thread in [holder, *threads]:
        thread.join(5)
    assert order == ["a1", "b1", "c1", "a2", "a3"]


def test_a_cancelled_job_leaves_the_queue():
    scheduler = DeviceScheduler(slots=1)
    holder, waiting = Job("x", "FuseShot"), Job("y", "FuseShot")
    outcome = []

    def wait_for_a_turn():
        try:
            with scheduler.turn("cpu", "y", waiting):
                outcome.append("ran")
        except JobCancelledError as error:
            outcome.append(str(error))

    with scheduler.turn("cpu", "x", holder):
        thread = threading.Thread(target=wait_for_a_turn)
        thread.start()
        time.sleep(0.3)
        waiting.cancel("test")
        thread.join(5)
        assert outcome == [f"job {waiting.id} was cancelled: test"] and scheduler.waiting("cpu") == 0


def frames_to_send(engine, clip: list[int], render: FrameRange) -> tuple[list[int], int]:
    """What a FuseShot asks its client for (``ShotAccepted.needed``) and the buffer it holds."""
    plan = FramePlan.plan(engine, clip, render)
    return plan.needed, plan.buffer_frames


def test_frames_to_send_follow_the_windows():
    guided = create_engine("guided")  # two neighbours each side, read in ascending order
    needed, capacity = frames_to_send(guided, list(range(1, 21)), FrameRange(10, 12))
    assert needed == list(range(8, 15)) and capacity == 1 + READ_AHEAD
    hard = create_engine("hard")
    assert frames_to_send(hard, list(range(1, 21)), FrameRange(10, 12))[0] == [10, 11, 12]


def _stream_through(engine, clip, render, capacity) -> None:
    """Send the needed frames in ascending order while a reader reads them in plan order."""
    needed, _ = frames_to_send(engine, clip, render)
    store = FrameStore(("plate",), clip, needed, capacity)
    errors = []

    def send():
        try:
            for number in needed:
                store.put("plate", number, _image())
            store.finish()
        except StreamOrderError as error:
            errors.append(error)
            store.fail(error)

    sender = threading.Thread(target=send)
    sender.start()
    seen = set()
    try:
        for window in engine.plan(clip, list(render)):
            for number in window.frames:
                if number not in seen:
                    seen.add(number)
                    store.get("plate", number)
                    store.release(number)
    finally:
        sender.join(10)
    assert not errors


def test_the_buffer_holds_what_global_frames_need(test_model):
    if test_model is None:
        pytest.skip("torch is not installed")
    network = create_engine("movingcolor", model=str(test_model), device="cpu")  # global frames ahead
    clip = list(range(1, 41))
    needed, capacity = frames_to_send(network, clip, FrameRange(1, 40))
    assert needed == clip and capacity == 4 + READ_AHEAD
    _stream_through(network, clip, FrameRange(1, 40), capacity - READ_AHEAD)
    with pytest.raises(StreamOrderError, match="send frames in ascending order"):
        _stream_through(network, clip, FrameRange(1, 40), capacity - READ_AHEAD - 1)


def test_parts_round_trip_and_refuse_interleaving():
    pixels = np.random.default_rng(1).uniform(-1, 4, (5, 7, 4)).astype(np.float32)
    info, data = raw_image(pixels, ("R", "G", "B", "A"))
    parts = list(split(pb.ROLE_PLATE, 3, info, data, part_bytes=100))
    assert len(parts) == -(-len(data) // 100) and parts[0].HasField("info") and not parts[1].HasField("info")
    assembler = PartAssembler(max_bytes=1 << 20)
    images = [assembler.add(part) for part in parts]
    assert images[:-1] == [None] * (len(parts) - 1)
    assert np.array_equal(decode_raw(images[-1].info, images[-1].data, "x"), pixels)
    assembler.add(parts[0])
    with pytest.raises(WireFormatError, match="began before plate frame 3 was complete"):
        assembler.add(pb.ImagePart(role=pb.ROLE_MATTE, frame=3, info=info, data=b"x"))
    with pytest.raises(WireFormatError, match="images up to 10 bytes"):
        PartAssembler(max_bytes=10).add(parts[0])
    half, data16 = raw_image(pixels, ("R", "G", "B", "A"), pb.SAMPLE_TYPE_HALF)
    assert np.array_equal(decode_raw(half, data16, "x"), pixels.astype(np.float16).astype(np.float32))
    for sample_type in (pb.SAMPLE_TYPE_FLOAT, pb.SAMPLE_TYPE_HALF):
        # A view of the planar samples (what uploads and fused frames send) is the same bytes,
        # read-only, and cuts into the same parts.
        described, expected = raw_image(pixels, ("R", "G", "B", "A"), sample_type)
        viewed, view = raw_image(pixels, ("R", "G", "B", "A"), sample_type, view=True)
        assert isinstance(view, memoryview) and view.readonly and viewed == described
        assert bytes(view) == expected and image_sha256(view) == image_sha256(expected)
        cut = [part.data for part in split(pb.ROLE_PLATE, 3, viewed, view, part_bytes=100)]
        assert cut == [part.data for part in split(pb.ROLE_PLATE, 3, described, expected, part_bytes=100)]
    # Built inside requests or responses, the parts are the same messages.
    for message in (fusion_pb2.FuseShotRequest, fusion_pb2.FuseShotResponse):
        wrapped = list(split(pb.ROLE_PLATE, 3, info, data, part_bytes=100, message=message))
        assert [m.part for m in wrapped] == parts and all(isinstance(m, message) for m in wrapped)
    empty_info, empty = raw_image(np.zeros((0, 0, 1), np.float32), ("A",))
    (alone,) = split(pb.ROLE_MATTE, 1, empty_info, empty, part_bytes=100, message=fusion_pb2.FuseShotRequest)
    assert alone.part.info == empty_info and alone.part.data == b""


def test_a_declared_digest_is_computed_as_the_parts_arrive():
    """For a receiver that checks digests (FuseWindow), an image whose info declares a SHA-256 comes
    out with the digest of the bytes received, made part by part; an image without one is not
    hashed, and a second image's digest starts afresh. A receiver that does not check them (FuseShot,
    the client's results) hashes nothing."""
    rng = np.random.default_rng(3)
    checking, trusting = (
        PartAssembler(max_bytes=1 << 20, hash_declared=True),
        PartAssembler(max_bytes=1 << 20),
    )
    for declared in (True, False, True):
        info, data = raw_image(rng.random((6, 7, 3), dtype=np.float32), ("R", "G", "B"))
        if declared:
            info.sha256 = "f" * 64  # what it declares is the receiver's to check, not the assembler's
        for assembler, digest in ((checking, image_sha256(data) if declared else ""), (trusting, "")):
            images = [assembler.add(part) for part in split(pb.ROLE_PLATE, 1, info, data, part_bytes=64)]
            assert images[-1].data == data and images[-1].received_sha256 == digest


def test_addresses():
    assert parse_address("unix:///tmp/a.sock").path.as_posix() == "/tmp/a.sock"
    tcp = parse_address("127.0.0.1:0")
    assert (tcp.host, tcp.port, tcp.is_local) == ("127.0.0.1", 0, True)
    assert parse_address("[::1]:50051").target == "[::1]:50051" and parse_address("[::1]:1").is_local
    assert not parse_address("0.0.0.0:50051").is_local and not parse_address("render7:50051").is_local
    with pytest.raises(AddressError, match="system limit"):
        parse_address("unix:///tmp/" + "x" * 120 + ".sock")
    with pytest.raises(AddressError, match="neither"):
        parse_address("50051")


def test_a_port_something_listens_on_is_refused_under_any_name_of_its_host():
    """gRPC binds what it can of a host name's addresses and serves: a second server on
    localhost:PORT took [::1] from a first on 127.0.0.1:PORT. Refused, naming where."""
    import socket

    from movingcolor.service.server import create_server
    from movingcolor.service.settings import ServerSettings
    from movingcolor.service.state import ServerState

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        settings = ServerSettings()
        # localhost where it names 127.0.0.1 among its addresses, as on most machines.
        names = {info[4][0] for info in socket.getaddrinfo("localhost", port, type=socket.SOCK_STREAM)}
        spellings = ("127.0.0.1", "localhost") if "127.0.0.1" in names else ("127.0.0.1",)
        for address in (f"{host}:{port}" for host in spellings):
            with pytest.raises(AddressError, match=f"something already listens on 127.0.0.1 port {port}"):
                create_server(address, settings, ServerState(settings))


def test_token_check():
    assert token_problem([("authorization", "Bearer abc")], "abc") is None
    assert token_problem([], "abc") == MISSING
    assert token_problem([("authorization", "abc")], "abc") == MISSING
    assert token_problem([("authorization", "Bearer abd")], "abc") == WRONG


def test_server_benchmark_writes_its_section(tmp_path):
    from movingcolor.bench.server import main

    report = tmp_path / "BENCHMARKS.md"
    report.write_text("# Benchmarks\n\n## Other\n\nkept\n")
    assert main(["--sizes", "64x48", "--engines", "hard", "--runs", "1", "--out", str(report)]) == 0
    text = report.read_text()
    assert "## Other\n\nkept" in text and "## Server: frames per second and latency (cpu)" in text
    for path in ("in-process", "server, Unix socket", "server, TCP loopback"):
        assert f"| hard | 64x48 | {path} |" in text


class _FailedCall(grpc.RpcError):
    """A failed call as the client library sees one: its status, message and trailing metadata."""

    def __init__(self, status: grpc.Status):
        self._status = status

    def code(self):
        return self._status.code

    def details(self):
        return self._status.details

    def trailing_metadata(self):
        return self._status.trailing_metadata


def test_the_reason_for_a_refusal_travels_typed_not_in_words():
    from movingcolor.errors import ImageEvictedError
    from movingcolor.protocol.status import IMAGE_EVICTED, error_reason, reason_for, rich_status
    from movingcolor_client.errors import from_rpc_error

    error = ImageEvictedError("gone")
    assert reason_for(error) == IMAGE_EVICTED
    precondition = grpc.StatusCode.FAILED_PRECONDITION
    reworded = _FailedCall(rich_status(precondition, "any wording at all", IMAGE_EVICTED))
    assert error_reason(reworded) == IMAGE_EVICTED
    assert isinstance(from_rpc_error(reworded, "unix:///x.sock", "FuseWindow"), ImageEvictedError)
    # The same code without the reason (RunJob on a server without roots) is a plain refusal.
    plain = _FailedCall(rich_status(precondition, "no roots", "FILES_JOBS_DISABLED"))
    refused = from_rpc_error(plain, "unix:///x.sock", "RunJob")
    assert not isinstance(refused, ImageEvictedError) and refused.code == grpc.StatusCode.INVALID_ARGUMENT


def test_a_jobs_warnings_are_collected_and_the_processs_own_log_still_prints(capfd):
    """The collector is a handler: alone on a logger's way up (a server made in process, no logging
    set up) it kept Python's last resort from printing any warning. Past its capacity it says more
    were given, where it dropped them without a word."""
    import logging

    from movingcolor.jobs import warnings_said

    root = logging.getLogger()
    saved = root.handlers[:]
    root.handlers.clear()
    try:
        with warnings_said.collected() as held:
            for number in range(warnings_said.MOST + 5):
                logging.getLogger("movingcolor.frames").warning("frame %d: matte full", number)
            logging.getLogger("movingcolor.service").warning("job.refused")  # the server's own
        logging.getLogger("movingcolor.jobs").warning("after the job")
    finally:
        root.handlers[:] = saved
    assert held[: warnings_said.MOST] == [f"frame {n}: matte full" for n in range(warnings_said.MOST)]
    assert held[warnings_said.MOST :] == [warnings_said.MORE]
    printed = capfd.readouterr().err
    assert "frame 0: matte full" in printed and "after the job" in printed


_CUBE = b"LUT_3D_SIZE 2\n0 0 0\n1 0 0\n0 1 0\n1 1 0\n0 0 1\n1 0 1\n0 1 1\n1 1 1\n"


def test_a_streamed_grade_file_is_one_file_for_every_call_that_sends_it():
    """Each call's grade file was written into a folder of its own: OpenColorIO keeps every LUT it
    reads by its path, for good, so a scrub graded with a LUT file grew the server by a LUT a frame
    (+42 MB per 100 small shots with a 33-point cube, never given back). One content is one path now,
    kept for the calls that send it again; other content is another file."""
    from pathlib import Path

    from movingcolor.service.setup_spec import setup_settings

    def sent(content: bytes) -> fusion_pb2.ShotSetup:
        setup = fusion_pb2.ShotSetup()
        setup.grade.file, setup.grade.file_name = content, "look.cube"
        return setup

    paths = []
    for content in (_CUBE, _CUBE, _CUBE.replace(b"1 1 1\n", b"0.9 0.9 0.9\n")):
        with setup_settings(sent(content)) as (spec, _, _):
            paths.append(spec.grade)
            assert Path(spec.grade).read_bytes() == content
    assert paths[0] == paths[1] != paths[2]
    assert Path(paths[0]).is_file(), "kept for the next call that sends it"
