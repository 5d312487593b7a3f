"""Calls end, and clients are who they prove to be: the server's idle and total call limits, the
identity fair turns go by, and the log of refused tokens.

Servers run in this process (``create_server`` on loopback), so a test can hold the device's
turn and read the server's log events. The limits are short (1-2 s); no test waits on a clock
of its own: each waits for the server to act, with a call deadline that fails it if the server
never does.
"""

from __future__ import annotations

import json
import logging
import shutil
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import grpc
import numpy as np
import pytest
from movingcolor.frames.image_io import encode_image
from movingcolor.protocol import CLIENT_METADATA, TOKEN_METADATA
from movingcolor.protocol.images import file_image, raw_image, split
from movingcolor.service.jobs import Job
from movingcolor.service.logs import EventFormatter
from movingcolor.service.server import create_server
from movingcolor.service.settings import ServerSettings
from movingcolor.service.state import ServerState
from movingcolor.v1 import fusion_pb2, fusion_pb2_grpc
from movingcolor.v1 import image_pb2 as pb
from movingcolor_client import AuthenticationError, JobCancelledError, connect, shot_setup

GRADE = "slope=1.25,1.0,0.8"
TOKEN = "farm-token-7f3a9c"
# A stuck call that the server never ends fails its test at this deadline instead of hanging it.
STUCK_DEADLINE = 20.0


@contextmanager
def serving(**settings) -> Iterator[tuple[str, ServerState]]:
    """A started server on a free loopback port with ``settings``: its address and its state."""
    state = ServerState(ServerSettings(**settings))
    server, port = create_server("127.0.0.1:0", state.settings, state)
    server.start()
    try:
        yield f"127.0.0.1:{port}", state
    finally:
        server.stop(0).wait()


@pytest.fixture
def log_events(caplog):
    """The server's log events so far, as ``(name, fields)``."""
    caplog.set_level(logging.INFO, logger="movingcolor.service")
    return lambda: [(r.getMessage(), r.fields) for r in list(caplog.records) if hasattr(r, "fields")]


def metadata(name: str, token: str | None = None) -> tuple[tuple[str, str], ...]:
    return ((CLIENT_METADATA, name),) + (((TOKEN_METADATA, f"Bearer {token}"),) if token else ())


def images(frame: int, size: int = 16) -> Iterator[fusion_pb2.FuseShotRequest]:
    """One frame's plate and matte, as request messages."""
    plate = np.full((size, size, 3), 0.2, np.float32)
    matte = np.zeros((size, size, 1), np.float32)
    matte[4:12, 4:12] = 1.0
    for role, pixels, channels in ((pb.ROLE_PLATE, plate, ("R", "G", "B")), (pb.ROLE_MATTE, matte, ("Y",))):
        info, data = raw_image(pixels, channels)
        for part in split(role, frame, info, data, 1 << 20):
            yield fusion_pb2.FuseShotRequest(part=part)


def shot_start(clip=(1, 2), engine: str = "hard") -> list[fusion_pb2.FuseShotRequest]:
    return [fusion_pb2.FuseShotRequest(setup=shot_setup(clip=list(clip), grade=GRADE, engine=engine))]


def window_mid_image() -> list[fusion_pb2.FuseShotRequest]:
    """A FuseWindow's setup and the first part of its plate, whose other parts never come."""
    setup = shot_setup(clip=[1], grade=GRADE, engine="hard")
    setup.render.CopyFrom(pb.FrameRange(first=1, last=1))
    info, data = raw_image(np.zeros((64, 64, 3), np.float32), ("R", "G", "B"))
    first = next(split(pb.ROLE_PLATE, 1, info, data, 1024))
    return [fusion_pb2.FuseShotRequest(setup=setup), fusion_pb2.FuseShotRequest(part=first)]


def hold_open(messages, release: threading.Event) -> Iterator:
    """Send ``messages``, then nothing, keeping the stream open until ``release``."""
    yield from messages
    release.wait()


def status_of(call) -> tuple[grpc.StatusCode, str]:
    """The status a streaming call ends with, once every response has been read."""
    try:
        for _ in call:
            pass
    except grpc.RpcError as error:
        return error.code(), error.details()
    return grpc.StatusCode.OK, ""


def fuse_one_frame(address: str, name: str, token: str | None = None, **options) -> np.ndarray:
    with connect(address, token, name=name, retries=0, **options) as client:
        return client.fuse_arrays(
            np.full((1, 16, 16, 3), 0.2, np.float32),
            np.ones((1, 16, 16), np.float32),
            grade=GRADE,
            engine="hard",
        )


# -- the idle limit -------------------------------------------------------------------------------


def test_a_stream_that_sends_its_setup_then_nothing_is_ended_and_its_slot_freed(log_events):
    release = threading.Event()
    with serving(idle_seconds=1.0, max_jobs=1) as (address, state), grpc.insecure_channel(address) as channel:
        stub = fusion_pb2_grpc.FusionStub(channel)
        stuck = stub.FuseShot(
            hold_open(shot_start(), release), timeout=STUCK_DEADLINE, metadata=metadata("stuck")
        )
        try:
            assert next(stuck).WhichOneof("message") == "accepted"
            code, details = status_of(stuck)
            # The stuck client still holds its stream open; the server's only slot serves another.
            assert fuse_one_frame(address, "other").shape == (1, 16, 16, 3)
        finally:
            release.set()
    assert code == grpc.StatusCode.CANCELLED
    assert "sent nothing (or under 64 KiB) and read nothing for 1s" in details and "--idle-timeout" in details
    limits = [fields for name, fields in log_events() if name == "job.limit"]
    assert [(f["limit"], f["client"], f["method"]) for f in limits] == [("idle", "stuck", "FuseShot")]


def test_a_stream_that_trickles_a_byte_at_a_time_is_idle_and_its_slot_freed():
    """A message of a byte every 0.3 s restarted the idle clock: a client held every job slot past
    the idle limit for as long as it liked. Bytes that add up to no part of an image are no progress."""
    release = threading.Event()
    setup = shot_setup(clip=[1], grade=GRADE, engine="hard")
    setup.render.CopyFrom(pb.FrameRange(first=1, last=1))
    info, data = raw_image(np.zeros((256, 256, 3), np.float32), ("R", "G", "B"))

    def trickle():
        yield fusion_pb2.FuseShotRequest(setup=setup)
        yield fusion_pb2.FuseShotRequest(
            part=pb.ImagePart(role=pb.ROLE_PLATE, frame=1, info=info, data=data[:1])
        )
        for offset in range(1, len(data)):
            if release.wait(0.3):
                return
            yield fusion_pb2.FuseShotRequest(
                part=pb.ImagePart(role=pb.ROLE_PLATE, frame=1, data=data[offset : offset + 1])
            )

    with serving(idle_seconds=1.0, max_jobs=1) as (address, state), grpc.insecure_channel(address) as channel:
        stub = fusion_pb2_grpc.FusionStub(channel)
        slow = stub.FuseWindow(trickle(), timeout=STUCK_DEADLINE, metadata=metadata("slow"))
        try:
            code, details = status_of(slow)
        finally:
            release.set()
        assert fuse_one_frame(address, "other").shape == (1, 16, 16, 3)
    assert code == grpc.StatusCode.CANCELLED and "under 64 KiB" in details


def test_a_bad_frame_is_reported_at_once_while_the_next_has_not_arrived():
    """A broken frame ends the call with its error at once, though the client has stalled before
    sending the next frame: frames are prepared ahead only once they have arrived, so nothing waits
    for that frame but the runner, which has stopped (a reader thread waiting for images would
    keep the error from the call until the client's idle limit)."""
    pixels = np.random.default_rng(1).random((16, 16, 3), dtype=np.float32)
    data = encode_image(".exr", pixels, pixel_type="float")
    info, cut = file_image(data[: len(data) // 2], "exr")  # a whole header and a cut body
    matte_info, matte = raw_image(np.ones((16, 16, 1), np.float32), ("Y",))
    frame_one = [
        fusion_pb2.FuseShotRequest(part=part)
        for role, part_info, part_data in ((pb.ROLE_PLATE, info, cut), (pb.ROLE_MATTE, matte_info, matte))
        for part in split(role, 1, part_info, part_data, 1 << 20)
    ]
    release = threading.Event()
    with serving(idle_seconds=30.0) as (address, _), grpc.insecure_channel(address) as channel:
        stub = fusion_pb2_grpc.FusionStub(channel)
        call = stub.FuseShot(
            hold_open(shot_start(clip=(1, 2, 3), engine="guided") + frame_one, release),
            timeout=STUCK_DEADLINE,
            metadata=metadata("stalls"),
        )
        started = time.monotonic()
        try:
            code, details = status_of(call)
        finally:
            release.set()
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "plate frame 1" in details, details
    assert time.monotonic() - started < 10.0


def test_max_jobs_idle_streams_do_not_shut_out_a_later_client():
    """The issue's case: as many stuck streams as the server has slots. Setups then nothing,
    windows whose parts stop mid-image and streams that send nothing at all are ended alike."""
    release = threading.Event()
    stuck_kinds = [("FuseShot", shot_start()), ("FuseWindow", window_mid_image()), ("FuseShot", [])]
    with serving(idle_seconds=1.0, max_jobs=6) as (address, state), grpc.insecure_channel(address) as channel:
        stub = fusion_pb2_grpc.FusionStub(channel)
        calls = [
            getattr(stub, method)(
                hold_open(messages, release), timeout=STUCK_DEADLINE, metadata=metadata(f"stuck-{i}")
            )
            for i, (method, messages) in enumerate(stuck_kinds * 2)
        ]
        try:
            statuses = [status_of(call) for call in calls]
            assert fuse_one_frame(address, "later").shape == (1, 16, 16, 3)
            assert state.jobs.active == 0
        finally:
            release.set()
    assert {code for code, _ in statuses} == {grpc.StatusCode.CANCELLED}
    assert all("--idle-timeout" in details for _, details in statuses)


def test_a_job_busy_on_the_device_is_not_idle(log_events):
    """A job whose window waits for the device's turn (held here, as a long window of another
    job would) waits on the server, not on its client: it outlives the idle limit, while a stuck
    stream beside it is ended."""
    release, turn_released, holding = threading.Event(), threading.Event(), threading.Event()
    with serving(idle_seconds=1.0, max_jobs=4) as (address, state), grpc.insecure_channel(address) as channel:

        def hold_the_turn():
            with state.scheduler.turn("cpu", "another-job", Job("another-job", "FuseShot")):
                holding.set()
                turn_released.wait()

        holder = threading.Thread(target=hold_the_turn)
        holder.start()
        holding.wait(10)
        stub = fusion_pb2_grpc.FusionStub(channel)
        # Its one frame sent, the busy client keeps the stream open: the server's reader waits on it.
        # Feathered: the hard composite decides nothing, so it never waits for a turn on the device.
        busy = stub.FuseShot(
            hold_open(shot_start(clip=[1], engine="feather") + list(images(1)), release),
            timeout=STUCK_DEADLINE,
            metadata=metadata("busy"),
        )
        try:
            assert next(busy).WhichOneof("message") == "accepted"
            deadline = time.monotonic() + 10
            while state.scheduler.waiting("cpu") < 1 and time.monotonic() < deadline:
                time.sleep(0.02)
            assert state.scheduler.waiting("cpu") == 1
            stuck = stub.FuseShot(
                hold_open(shot_start(), release), timeout=STUCK_DEADLINE, metadata=metadata("stuck")
            )
            stuck_code, _ = status_of(stuck)
            turn_released.set()
            busy_code, busy_details = status_of(busy)
        finally:
            turn_released.set()
            release.set()
            holder.join()
    assert stuck_code == grpc.StatusCode.CANCELLED
    assert busy_code == grpc.StatusCode.OK, busy_details
    assert [f["client"] for name, f in log_events() if name == "job.limit"] == ["stuck"]


def test_a_client_that_reads_nothing_is_ended_and_its_call_let_go(log_events):
    """Flow control stalls the server's sends to a client that reads none of its fused frames:
    the server waits on that client, so the idle limit ends the call, and cuts it off at the
    transport, which frees the thread gRPC had blocked in the send."""
    frames = list(range(1, 17))  # 48 MB of raw float frames back: far more than any flow-control window
    setup = shot_setup(clip=frames, grade=GRADE, engine="hard")
    setup.output.CopyFrom(fusion_pb2.Output(encoding=pb.ENCODING_RAW, sample_type=pb.SAMPLE_TYPE_FLOAT))
    requests = [fusion_pb2.FuseShotRequest(setup=setup)] + [m for f in frames for m in images(f, size=512)]

    def ended(name: str) -> bool:
        return any(n == "job.end" and f["client"] == name for n, f in log_events())

    with serving(idle_seconds=1.0, max_jobs=1) as (address, state), grpc.insecure_channel(address) as channel:
        deaf = fusion_pb2_grpc.FusionStub(channel).FuseShot(
            iter(requests), timeout=STUCK_DEADLINE, metadata=metadata("deaf")
        )
        deadline = time.monotonic() + STUCK_DEADLINE
        while not ended("deaf") and time.monotonic() < deadline:
            time.sleep(0.05)
        assert ended("deaf") and state.jobs.active == 0
        assert fuse_one_frame(address, "next").shape == (1, 16, 16, 3)
        code, _ = status_of(deaf)
    assert code == grpc.StatusCode.CANCELLED
    assert [(f["client"], f["limit"]) for n, f in log_events() if n == "job.limit"] == [("deaf", "idle")]


# -- the total limit ------------------------------------------------------------------------------


class SteadyFrames:
    """Frames that come steadily, ``delay`` seconds apart: a call that never idles."""

    def __init__(self, frames: int, delay: float):
        self.clip = list(range(1, frames + 1))
        self.delay = delay

    def image(self, role, frame):
        if role == "plate":
            time.sleep(self.delay)
            return raw_image(np.full((16, 16, 3), 0.2, np.float32), ("R", "G", "B"))
        return raw_image(np.ones((16, 16, 1), np.float32), ("Y",))


def test_the_total_limit_ends_a_call_that_is_still_streaming(log_events):
    setup = shot_setup(clip=list(range(1, 61)), grade=GRADE, engine="hard")
    received = []
    with serving(max_call_seconds=1.5, max_jobs=1) as (address, state):
        with connect(address, name="long-shot", retries=0) as client:
            with pytest.raises(JobCancelledError, match=r"limit of 1.5s a call \(serve --max-call-time\)"):
                for fused in client.shot(setup, SteadyFrames(60, 0.1), timeout=STUCK_DEADLINE):
                    received.append(fused.frame)
            assert state.jobs.active == 0
        assert fuse_one_frame(address, "next").shape == (1, 16, 16, 3)
    assert len(received) < 60
    assert [f["limit"] for name, f in log_events() if name == "job.limit"] == ["total"]


# -- identity ---------------------------------------------------------------------------------


def identities(log_events) -> dict[str, str]:
    """The identity each client's jobs were scheduled under, by the name it reported."""
    return {f["client"]: f["identity"] for name, f in log_events() if name == "job.start"}


def test_with_a_token_the_token_not_the_reported_name_is_the_identity(log_events):
    with serving(token=TOKEN) as (address, _):
        for name in ("nuke-a", "nuke-b"):
            fuse_one_frame(address, name, TOKEN)
    with_token = identities(log_events)
    assert set(with_token) == {"nuke-a", "nuke-b"}
    assert with_token["nuke-a"] == with_token["nuke-b"] and with_token["nuke-a"].startswith("token:")
    assert TOKEN not in with_token["nuke-a"]
    with serving() as (address, _):  # without a token the reported name still decides, as before
        for name in ("nuke-c", "nuke-d"):
            fuse_one_frame(address, name)
    assert identities(log_events)["nuke-c"] == "nuke-c" != identities(log_events)["nuke-d"]


def _openssl(*args, cwd) -> None:
    import subprocess

    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def test_with_mutual_tls_the_certificate_is_the_identity(tmp_path, log_events):
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed (it makes the test certificates)")
    key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    days = ["-days", "2"]
    _openssl("req", "-x509", *key, "-keyout", "ca.key", "-out", "ca.pem", "-subj", "/CN=Test CA", *days,
             cwd=tmp_path)  # fmt: skip
    for name, extension in (("server", "subjectAltName=IP:127.0.0.1"), ("node-1", None), ("node-2", None)):
        _openssl("req", *key, "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={name}",
                 cwd=tmp_path)  # fmt: skip
        (tmp_path / f"{name}.ext").write_text((extension or "basicConstraints=CA:FALSE") + "\n")
        _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
                 "-out", f"{name}.pem", "-extfile", f"{name}.ext", *days, cwd=tmp_path)  # fmt: skip
    tls = dict(tls_cert=tmp_path / "server.pem", tls_key=tmp_path / "server.key")
    with serving(**tls, tls_client_ca=tmp_path / "ca.pem", token=TOKEN) as (address, _):
        for name, node in (("comp-a", "node-1"), ("comp-b", "node-1"), ("comp-c", "node-2")):
            cert = dict(ca=tmp_path / "ca.pem", cert=tmp_path / f"{node}.pem", key=tmp_path / f"{node}.key")
            fuse_one_frame(address, name, TOKEN, **cert)
    by_name = identities(log_events)
    assert by_name["comp-a"] == by_name["comp-b"] != by_name["comp-c"]
    assert "node-1" in by_name["comp-a"] and "node-2" in by_name["comp-c"]


# -- refused tokens ---------------------------------------------------------------------------------


def test_a_refused_token_is_logged_without_the_token(monkeypatch, caplog, log_events):
    monkeypatch.delenv("MOVINGCOLOR_TOKEN", raising=False)
    wrong = "not-the-farm-token-42"
    with serving(token=TOKEN) as (address, _):
        with connect(address, wrong, name="typo", retries=0) as client, pytest.raises(AuthenticationError):
            client.info()
        with connect(address, name="forgot", retries=0) as client, pytest.raises(AuthenticationError):
            client.info()
    refused = [f for name, f in log_events() if name == "auth.refused"]
    assert [(f["client"], f["token"], f["method"]) for f in refused] == [
        ("typo", "wrong", "/movingcolor.v1.Fusion/GetInfo"),
        ("forgot", "missing", "/movingcolor.v1.Fusion/GetInfo"),
    ]
    assert all(f["peer"].startswith("ipv4:127.0.0.1:") for f in refused)
    logged = [EventFormatter(style).format(r) for r in caplog.records for style in ("text", "json")]
    assert logged and all(json.dumps(wrong)[1:-1] not in line for line in logged)
    assert not any("not-the-farm" in line or TOKEN in line for line in logged)


def test_a_value_holding_a_newline_stays_on_its_event_line():
    """A client's output path holding a newline wrote a line of its own into the text log, an event
    the server never logged: such values are quoted with their escapes, one event to a line."""
    import logging

    record = logging.LogRecord("movingcolor.service", logging.INFO, __file__, 1, "job.accepted", None, None)
    record.fields = {"out": "/shows/f\nmovingcolor:\tjob.end\tFORGED.####.exr", "engine": "hard"}
    line = EventFormatter("text").format(record)
    assert "\n" not in line and "\t" not in line
    assert 'out="/shows/f\\nmovingcolor:\\tjob.end\\tFORGED.####.exr"' in line
    assert "engine=hard" in line


# -- encoding overlaps fusing ---------------------------------------------------------------------


def test_a_fused_frame_is_encoded_while_the_next_is_fused(monkeypatch):
    """FuseShot encodes each fused frame on a worker while the runner makes the next one: frame 1's
    encoding waits here until frame 2 is fused, which never happens when the two run one after the
    other on the call's thread (the encoding then fails at the deadline, and the call with it)."""
    from movingcolor.service import shots

    second_fused = threading.Event()
    encode = shots._encode

    class WatchedStream(shots.ShotStream):
        def __iter__(self):
            for frame in super().__iter__():
                if frame[0] == 2:
                    second_fused.set()
                yield frame

    def encode_after_the_next_is_fused(number, *rest):
        if number == 1 and not second_fused.wait(STUCK_DEADLINE):
            raise AssertionError("frame 2 was not fused while frame 1 was being encoded")
        return encode(number, *rest)

    monkeypatch.setattr(shots, "ShotStream", WatchedStream)
    monkeypatch.setattr(shots, "_encode", encode_after_the_next_is_fused)
    plate = np.random.default_rng(3).random((3, 24, 32, 3), dtype=np.float32)
    matte = np.zeros((3, 24, 32), np.float32)
    matte[:, 6:18, 8:24] = 1.0
    with serving() as (address, _), connect(address, name="overlap", retries=0) as client:
        fused = client.fuse_arrays(plate, matte, grade=GRADE, engine="hard")
    # In frame order and whole: inside the matte the grade, outside the plate untouched.
    assert fused.shape == plate.shape
    assert np.array_equal(fused[:, 0, 0], plate[:, 0, 0])
    assert not np.allclose(fused[:, 12, 16], plate[:, 12, 16])
