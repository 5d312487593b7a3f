"""The client library against a real server process: arrays, grade files, graded plates, retries,
progress, and ``movingcolor fuse --server``'s handling of what a server cannot take."""

from __future__ import annotations

import contextlib
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from conftest import output_files, run_cli, short_folder
from movingcolor.frames.image_io import read_pixels, write_image
from movingcolor.service.process import ServerProcess
from movingcolor_client import ServerUnavailableError, connect
from test_service import GRADE, assert_same_frames, write_shot

CDL = """<?xml version="1.0" encoding="UTF-8"?>
<ColorCorrection id="shot010">
  <SOPNode><Slope>1.3 1.0 0.7</Slope><Offset>0.0 0.01 0.0</Offset><Power>1.0 1.0 1.1</Power></SOPNode>
  <SatNode><Saturation>0.9</Saturation></SatNode>
</ColorCorrection>
"""


@pytest.fixture(scope="module")
def shot(tmp_path_factory) -> tuple[str, str]:
    return write_shot(tmp_path_factory.mktemp("client-shot"), frames=6)


def _frames(pattern: str, numbers) -> np.ndarray:
    return np.stack([read_pixels(Path(pattern.replace("####", str(n)))) for n in numbers])


def test_fuse_arrays_equals_in_process(served, shot, tmp_path):
    plate, matte = shot
    assert run_cli("fuse", "--plate", plate, "--matte", matte, "--grade", GRADE, "--frames", "1002-1005",
                   "--exr-type", "float", "--out", tmp_path) == 0  # fmt: skip
    numbers = range(1001, 1007)
    events = []
    with connect(served.address) as client:
        fused = client.fuse_arrays(
            _frames(plate, numbers),
            _frames(matte, numbers)[..., 0],
            grade=GRADE,
            first_frame=1001,
            frames="1002-1005",
            colorspace="ACEScg",
            progress=lambda *e: events.append(e),
        )
    assert fused.shape == (4, 64, 96, 3) and fused.dtype == np.float32
    assert np.array_equal(fused, _frames(str(tmp_path / "plate.####.exr"), range(1002, 1006)))
    assert events == [(1, 4, 1002), (2, 4, 1003), (3, 4, 1004), (4, 4, 1005)]


def test_grade_file_and_graded_plates_through_the_server(served, shot, tmp_path):
    import PyOpenColorIO as ocio

    plate, matte = shot
    cdl = tmp_path / "grade.cc"
    cdl.write_text(CDL)
    clf = tmp_path / "grade.clf"  # CLF, the interchange form of a grade on the wire
    matrix = ocio.MatrixTransform([1.2, 0, 0, 0, 0, 1.0, 0, 0, 0, 0, 0.8, 0, 0, 0, 0, 1])
    group = ocio.GroupTransform([matrix, ocio.ExponentTransform([1.1, 1.1, 1.1, 1.0])])
    group.write(
        "Academy/ASC Common LUT Format", str(clf), ocio.Config.CreateFromBuiltinConfig("ocio://default")
    )
    for grade in (cdl, clf):
        common = ["fuse", "--plate", plate, "--matte", matte, "--grade", grade]
        local, remote = tmp_path / f"local{grade.suffix}", tmp_path / f"remote{grade.suffix}"
        assert run_cli(*common, "--out", local / "f.####.exr") == 0
        assert run_cli(*common, "--server", served.address, "--out", remote / "f.####.exr") == 0
        assert_same_frames(output_files(remote), output_files(local))

    graded = tmp_path / "graded"
    graded.mkdir()
    for number in range(1001, 1007):
        pixels = read_pixels(Path(plate.replace("####", str(number))))
        write_image(graded / f"g.{number}.exr", pixels * np.float32([1.2, 1.0, 0.8]))
    common = [
        "fuse",
        "--plate",
        plate,
        "--matte",
        matte,
        "--graded",
        graded / "g.####.exr",
        "--engine",
        "feather",
    ]
    common += ["--graded-colorspace", "ACEScg", "--out-colorspace", "ACEScct"]
    assert run_cli(*common, "--out", tmp_path / "c" / "f.####.exr") == 0
    assert run_cli(*common, "--server", served.address, "--out", tmp_path / "d" / "f.####.exr") == 0
    assert_same_frames(output_files(tmp_path / "d"), output_files(tmp_path / "c"))


def test_png_output_and_alpha_matte(served, tmp_path):
    rng = np.random.default_rng(2)
    folder = tmp_path / "rgba"
    folder.mkdir()
    for number in range(1, 4):
        pixels = rng.uniform(0, 1, (40, 60, 4)).astype(np.float32)
        pixels[..., 3] = 0.0
        pixels[10:30, 15:45, 3] = 1.0
        write_image(folder / f"p.{number:04d}.png", pixels, channels=("R", "G", "B", "A"))
    common = ["fuse", "--plate", folder, "--grade", GRADE, "--band", "4"]
    assert run_cli(*common, "--out", tmp_path / "a" / "f.####.png") == 0
    assert run_cli(*common, "--server", served.address, "--out", tmp_path / "b" / "f.####.png") == 0
    for a, b in zip(output_files(tmp_path / "a"), output_files(tmp_path / "b"), strict=True):
        assert a.name == b.name and np.array_equal(read_pixels(a), read_pixels(b))


def test_retries_while_the_server_starts(tmp_path):
    folder = short_folder()
    server = ServerProcess(f"unix://{folder}/mc.sock")
    try:
        refused = pytest.raises(
            ServerUnavailableError, match=r"start it \(movingcolor serve --address unix://"
        )
        with connect(server.requested, retries=0) as client, refused:
            client.info(timeout=5)
        # With retries, a short deadline spent waiting for a server that never answers is the
        # server's absence, not a slow call ("give it more time or fewer frames").
        absent = pytest.raises(ServerUnavailableError, match="did not answer within 1s; start it")
        with connect(server.requested) as client, absent:
            client.info(timeout=1)
        starter = threading.Thread(target=lambda: (time.sleep(0.5), server.start()))
        starter.start()
        with connect(server.requested, retries=8, backoff=0.25) as client:
            assert client.info(timeout=60)["protocol"] == "movingcolor.v1"
        starter.join()
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)


def test_fuse_with_server_explains_what_it_cannot_send(served, shot, tmp_path, capsys):
    plate, matte = shot
    video = tmp_path / "clip.mp4"
    video.write_bytes(b"")
    base = ["fuse", "--server", served.address, "--grade", GRADE, "--out", tmp_path / "o"]
    assert run_cli(*base, "--plate", video) == 2
    assert "is a video; a server takes image frames" in capsys.readouterr().err
    assert run_cli(*base, "--plate", plate, "--matte", matte, "--config", tmp_path / "config.ocio") == 2
    assert "a server takes a built-in config" in capsys.readouterr().err
    assert run_cli(*base, "--plate", plate, "--matte", matte, "--frames", "990-1002") == 2
    assert "plate is missing 11 of frames 990-1002" in capsys.readouterr().err
    assert run_cli(*base, "--plate", plate, "--matte", matte, "--out", plate) == 2
    assert "would overwrite an input" in capsys.readouterr().err


@pytest.mark.parametrize("bad", [np.zeros((0, 0, 3), np.float32), np.zeros((10,), np.float32)])
def test_an_array_that_is_no_image_is_named_before_anything_is_sent(served, bad):
    """A host's empty or one-dimensional array failed inside the upload with numpy's own words
    (memoryview's cast, a tuple index); the error names the role, the frame and the shape."""
    from movingcolor.errors import FrameSourceError

    plate = {n: np.full((16, 24, 3), 0.5, np.float32) for n in (1, 2, 3)}
    plate[2] = bad
    matte = {n: np.zeros((16, 24), np.float32) for n in (1, 2, 3)}
    with connect(served.address) as client, pytest.raises(FrameSourceError) as raised:
        client.fuse_window(2, plate, matte, grade=GRADE)
    assert f"plate frame 2 is an array of shape {bad.shape}" in str(raised.value)


def test_a_closed_client_and_an_unknown_job_option_say_what_is_wrong(served):
    """Both were bare ValueErrors (gRPC's "Cannot invoke RPC on closed channel!", protobuf's
    "Protocol message JobRequest has no "frame" field")."""
    from movingcolor.errors import MovingColorError
    from movingcolor_client import ClientError

    with connect(served.address) as client:
        assert client.info()["version"]
        with pytest.raises(MovingColorError, match="frame: not a setting run_job takes; use .*frames"):
            client.run_job("/shots/p.####.exr", "/out/f.####.exr", frame="1001-1002")
    with pytest.raises(ClientError, match="this client of .* is closed"):
        client.info()


def test_settings_that_are_no_such_value_are_refused_by_the_library(served):
    """handles=-1 raised protobuf's bare ValueError ("Value out of range") and handles=2.5 was cut
    to 2 without a word; a grade file that is not there was sent as a look's name. Every error the
    library raises is a MovingColorError."""
    from movingcolor_client import MovingColorError

    plates = np.zeros((3, 16, 24, 3), np.float32)
    mattes = np.zeros((3, 16, 24), np.float32)
    with connect(served.address) as client:
        assert len(client.fuse_arrays(plates, mattes, grade=GRADE, handles=np.int64(1))) == 3
        for handles in (-1, 2.5, "two", 2**40, "²"):
            with pytest.raises(
                MovingColorError, match=f"shot setting handles={handles!r}: give a whole number"
            ):
                client.fuse_arrays(plates, mattes, grade=GRADE, handles=handles)
        # A misspelt grade file's path went as a look's name ("not in OpenColorIO config ...").
        for missing in ("/grades/shot010.cc", "shot010.ccc#a", "/grades/v=2/shot", "grades/show.lut"):
            with pytest.raises(MovingColorError, match=f"grade '{missing}': no such file; check the path"):
                client.fuse_arrays(plates, mattes, grade=missing)


def test_a_client_closed_while_its_call_waits_for_a_server_says_so(tmp_path):
    """A host closing its client (its shutdown) while a call waits for a server that is down: the
    call raised gRPC's bare ValueError ("Cannot invoke RPC on closed channel!")."""
    from movingcolor_client import ClientError

    for call in (lambda client: client.info(), lambda client: client.health()):
        client = connect(f"unix://{tmp_path}/nobody.sock")
        closer = threading.Timer(0.5, client.close)
        closer.start()
        with pytest.raises(ClientError, match="this client of .* is closed"):
            call(client)
        closer.join()


def test_a_client_closed_during_a_shot_a_stack_of_one_and_a_frames_repr_say_what_they_are(served):
    """close() during a shot raised JobCancelledError with gRPC's words ("Stream removed (Channel
    closed!)"); one (H, W, C) frame given for a stack was taken row by row, refused as "a plate with
    no A channel (it has Y)" with the command line's fix; a FusedFrame's repr held its samples (a 4K
    frame: 100 MB of text)."""
    from movingcolor.errors import FrameSourceError
    from movingcolor_client import ClientError

    plates = np.zeros((12, 96, 128, 3), np.float32)
    mattes = np.zeros((12, 96, 128), np.float32)
    mattes[:, 30:60, 40:80] = 1.0
    client = connect(served.address)
    closer = threading.Timer(0.05, client.close)
    closer.start()
    with pytest.raises(ClientError, match="this client of .* is closed"):
        for _ in range(50):
            client.fuse_arrays(plates, mattes, grade=GRADE, engine="guided")
    closer.join()
    with connect(served.address) as client:
        with pytest.raises(
            FrameSourceError, match=r"the plate is an array of shape \(96, 128, 3\): give a stack"
        ):
            client.fuse_arrays(plates[0], mattes, grade=GRADE)
        with pytest.raises(
            FrameSourceError, match=r"the matte is an array of shape \(96, 128\): give a stack"
        ):
            client.fuse_arrays(plates, mattes[0], grade=GRADE)
        with pytest.raises(FrameSourceError, match=r"shape \(96, 128, 1\), one frame of the plate's size"):
            client.fuse_arrays(plates, mattes[0][..., None], grade=GRADE)
        with pytest.raises(FrameSourceError, match=r"\(T, H, W, C\), colour channels last"):
            client.fuse_arrays(plates[..., 0], mattes, grade=GRADE)
        fused = client.fuse_window(2, {n: plates[n] for n in (1, 2, 3)}, {n: mattes[n] for n in (1, 2, 3)},
                                   grade=GRADE)  # fmt: skip
        # A host's frame times are whole floats; other keys failed deep in the upload (a TypeError).
        by_time = client.fuse_window(2, {float(n): plates[n] for n in (1, 2, 3)},
                                     {n: mattes[n] for n in (1, 2, 3)}, grade=GRADE)  # fmt: skip
        assert np.array_equal(by_time.pixels(), fused.pixels())
        for key in ("2", 2.5, True):
            with pytest.raises(FrameSourceError, match=rf"the plate's frame {key!r} is not a frame number"):
                client.fuse_window(
                    2, {key: plates[1], 2: plates[2]}, {1: mattes[1], 2: mattes[2]}, grade=GRADE
                )
    assert len(repr(fused)) < 2000 and "data=" not in repr(fused)


class _Failed(Exception):
    """What gRPC raises for a failed call: a code and its details."""

    def __init__(self, code, details: str = ""):
        self._code, self._details = code, details

    def code(self):
        return self._code

    def details(self) -> str:
        return self._details

    def trailing_metadata(self):
        return ()


def test_every_failed_call_is_a_client_error_with_its_code():
    """A busy server, a cancelled job, a busy output and an evicted image came back as the server's
    own classes, which are no ClientErrors: a script's ``except ClientError`` (the documented way to
    catch a failed call) let them through as tracebacks, and a client's own cancel carried no code."""
    import grpc
    from movingcolor import errors
    from movingcolor_client import ClientError, JobCancelledError, ServerBusyError
    from movingcolor_client.errors import from_rpc_error

    for code, server_class in (
        (grpc.StatusCode.RESOURCE_EXHAUSTED, errors.ServerBusyError),
        (grpc.StatusCode.CANCELLED, errors.JobCancelledError),
        (grpc.StatusCode.ABORTED, errors.OutputBusyError),
    ):
        raised = from_rpc_error(_Failed(code, "why"), "unix:///x.sock", "FuseShot")
        assert isinstance(raised, ClientError) and isinstance(raised, server_class)
        assert raised.code == code and raised.exit_code == server_class.exit_code
    assert issubclass(ServerBusyError, ClientError)
    assert JobCancelledError("cancelled by this client").code == grpc.StatusCode.CANCELLED


def test_a_server_that_is_not_running_is_unavailable_not_slow(tmp_path):
    """With a call's time longer than the wait for a starting server, nothing listening was
    reported as a call that "did not finish within its deadline ... or fewer frames"."""
    from movingcolor_client import ServerUnavailableError

    address = f"unix://{tmp_path}/nothing.sock"
    with connect(address, retries=2, backoff=0.5) as client:
        with pytest.raises(ServerUnavailableError, match="did not answer within 2.5s; start it"):
            client.health(timeout=2.5)
        with pytest.raises(ServerUnavailableError, match="start it"):
            client.run_job("/shots/p.####.exr", "/out/f.####.exr", grade=GRADE, timeout=2.5)


def test_an_unknown_colourspace_or_integer_or_too_large_half_arrays_are_refused(served):
    """A misspelt colourspace for arrays was taken as none (a warning in the server's log alone);
    uint8 pixels were taken as values 0-255 (results 255 times too bright); a value past half floats'
    range, sent as half, arrived as infinity and was blamed on the input; complex samples lost their
    imaginary part with numpy's warning alone."""
    from movingcolor.errors import FrameSourceError
    from movingcolor_client import InvalidRequestError

    plate = np.full((2, 16, 24, 3), 0.5, np.float32)
    matte = np.zeros((2, 16, 24), np.float32)
    matte[:, :, 12:] = 1.0
    with connect(served.address) as client:
        with pytest.raises(InvalidRequestError, match="'sRGB Texture' is not in OpenColorIO config"):
            client.fuse_arrays(plate, matte, grade=GRADE, colorspace="sRGB Texture")
        with pytest.raises(InvalidRequestError, match="'sRGB Texture' is not in OpenColorIO config"):
            window = dict(enumerate(plate)), dict(enumerate(matte))
            client.fuse_window(1, *window, grade=GRADE, colorspace="sRGB Texture")
        with pytest.raises(FrameSourceError, match="plate frame 1 holds uint8 samples: give float values"):
            client.fuse_arrays((plate * 255).astype(np.uint8), matte, grade=GRADE)
        bright = plate.copy()
        bright[0, 3, 4] = 1e5
        with pytest.raises(FrameSourceError, match="values up to 100000, beyond half floats' 65504"):
            client.fuse_arrays(bright, matte, grade=GRADE, sample_type="half")
        with pytest.raises(
            FrameSourceError, match="plate frame 1 holds complex64 values: give a float array"
        ):
            client.fuse_arrays(plate.astype(np.complex64), matte, grade=GRADE)
        # A graded plate of another size is named once as streamed, not "graded streamed graded".
        with pytest.raises(
            InvalidRequestError, match=r": streamed graded frame 1 is 12x8 but the plate is 24x16"
        ):
            client.fuse_arrays(plate, matte, graded=plate[:, ::2, ::2])
        fused = client.fuse_arrays(plate, matte.astype(bool), grade=GRADE, colorspace="ACEScg")
    assert fused.shape == (2, 16, 24, 3)


def test_run_job_takes_its_settings_as_fuse_files_does(served):
    """``band=12`` (an int, as fuse_files takes it) failed with protobuf's bare TypeError; a handles
    that is no whole number is named."""
    from movingcolor.errors import MovingColorError
    from movingcolor_client import InvalidRequestError

    with connect(served.address) as client:
        # The request is made and reaches the server, which takes no file jobs without roots.
        with pytest.raises(InvalidRequestError, match="takes no file jobs"):
            client.run_job("/shots/p.####.exr", "/out/f.####.exr", grade=GRADE, band=12, handles="2")
        with pytest.raises(MovingColorError, match=r"run_job handles=2.5: give a whole number"):
            client.run_job("/shots/p.####.exr", "/out/f.####.exr", grade=GRADE, handles=2.5)


def test_a_timeout_of_none_waits_without_a_deadline_and_one_of_no_time_is_refused(served, tmp_path):
    """``timeout=None`` (no deadline, as gRPC and the standard library read it) failed with a
    TypeError; a timeout of 0 or less was told the server did not answer within it. A matte of None
    is the plate's alpha in fuse_files too, as in fuse_arrays and fuse_window (a TypeError there), and
    a frame range may be a number, as a ShotSpec's may."""
    from movingcolor.errors import MovingColorError
    from movingcolor.frames.image_io import write_image

    rgba = np.full((16, 24, 4), 0.5, np.float32)
    rgba[:, :12, 3] = 0.0
    (tmp_path / "shot").mkdir()
    for frame in (1, 2):
        write_image(tmp_path / "shot" / f"p.{frame:04d}.exr", rgba, channels=("R", "G", "B", "A"))
    with connect(served.address) as client:
        assert client.info(timeout=None)["engines"]
        report = client.fuse_files(str(tmp_path / "shot" / "p.####.exr"), str(tmp_path / "o" / "f.####.exr"),
                                   None, grade=GRADE, engine="hard", timeout=None)  # fmt: skip
        assert len(report.written) == 2
        # A frame range as a number, as a ShotSpec takes it (a TypeError in the client).
        again = client.fuse_files(str(tmp_path / "shot" / "p.####.exr"), str(tmp_path / "o2" / "f.####.exr"),
                                  grade=GRADE, engine="hard", frames=2)  # fmt: skip
        assert [Path(path).name for path in again.written] == ["f.0002.exr"]
        with pytest.raises(MovingColorError, match=r"first_frame '1': give a whole frame number"):
            client.fuse_arrays(rgba[None], grade=GRADE, first_frame="1")
        for timeout in (0, -1, float("nan")):
            with pytest.raises(
                MovingColorError, match=rf"timeout {timeout!r}: give the seconds a call may take"
            ):
                client.info(timeout=timeout)
            with pytest.raises(MovingColorError, match="give the seconds a call may take"):
                client.fuse_window(1, {1: rgba[..., :3]}, {1: rgba[..., 3]}, grade=GRADE, timeout=timeout)


def test_a_window_whose_frame_arrived_is_not_asked_for_again(served):
    """A FuseWindow call that failed after its frame arrived was retried whole, and the client then
    had two frames for one and raised."""
    from movingcolor_client import ShotCall
    from movingcolor_client.setup import shot_setup

    with connect(served.address) as client:
        setup = shot_setup(clip=[], grade=GRADE, frames="3")
        call = ShotCall(client, "FuseWindow", setup, None, 10.0)
        assert call._resume(None) is setup
        assert call._resume(3) is None


def test_a_server_that_is_not_movingcolor_is_named(tmp_path):
    """Another gRPC service on the address answered "Method not found!" and the client passed it on
    without saying what was wrong or what to do."""
    from concurrent import futures

    import grpc
    from grpc_health.v1 import health, health_pb2_grpc
    from movingcolor_client import ClientError

    other = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    health_pb2_grpc.add_HealthServicer_to_server(health.HealthServicer(), other)
    address = f"unix://{short_folder()}/other.sock"
    other.add_insecure_port(address)
    other.start()
    try:
        with connect(address) as client, pytest.raises(ClientError) as raised:
            client.info()
    finally:
        other.stop(0)
    assert raised.value.code == grpc.StatusCode.UNIMPLEMENTED
    assert "is not a movingcolor serve, or one older than this client" in str(raised.value)


def test_a_shot_resumed_on_a_server_that_fuses_otherwise_stops():
    """A server restarted mid-shot with another default model (engine, device) finished the shot
    with the other model's frames under the first one's fingerprint, which a rerun then kept: the
    resumed call stops, naming what changed."""
    from movingcolor.v1 import fusion_pb2
    from movingcolor_client import ServerChangedError
    from movingcolor_client.calls import _check_same_fusion

    first = fusion_pb2.ShotAccepted(job_id="a", engine="movingcolor", model="tiny-a", device="cpu")
    _check_same_fusion(
        first, fusion_pb2.ShotAccepted(job_id="b", engine="movingcolor", model="tiny-a", device="cpu"), "s"
    )
    for changed in ({"model": "tiny-b"}, {"engine": "guided"}, {"device": "cuda:0"}):
        again = fusion_pb2.ShotAccepted(job_id="b", engine="movingcolor", model="tiny-a", device="cpu")
        for field, value in changed.items():
            setattr(again, field, value)
        with pytest.raises(
            ServerChangedError, match="came back from a restart with .* where this shot began with"
        ):
            _check_same_fusion(first, again, "unix:///tmp/s.sock")


def test_a_frame_written_under_the_clients_fingerprint_keeps_the_servers_bytes(tmp_path):
    """A fused EXR written under the client's fingerprint is the server's file byte for byte but
    for the fingerprint, written from views of the server's bytes (two copies of each 4K frame
    were a tenth of a client's time), and reads back with the client's fingerprint."""
    from movingcolor.frames.image_io import encode_image, read_header
    from movingcolor.frames.output_pattern import FINGERPRINT_KEY
    from movingcolor.v1 import image_pb2 as pb
    from movingcolor_client.results import FusedFrame, _restamp_exr

    pixels = np.random.default_rng(0).random((48, 64, 3), dtype=np.float32)
    server, client = "s" * 64, "c" * 64
    data = encode_image(".exr", pixels, attributes={FINGERPRINT_KEY: server})
    info = pb.ImageInfo(encoding=pb.ENCODING_FILE, format="exr", byte_size=len(data))
    info.attributes[FINGERPRINT_KEY] = server
    path = FusedFrame(1001, info, data).write(tmp_path / "f.1001.exr", fingerprint=client)
    written = path.read_bytes()
    assert written == data.replace(server.encode(), client.encode()) and written != data
    assert read_header(path).attributes[FINGERPRINT_KEY] == client
    assert np.array_equal(read_pixels(path), read_pixels_of(data, tmp_path))
    assert all(piece.obj is data for piece in _restamp_exr(data, FINGERPRINT_KEY, server, client)[::2])
    assert _restamp_exr(data, FINGERPRINT_KEY, "x" * 64, client) is None  # not in the header


def read_pixels_of(data: bytes, folder: Path) -> np.ndarray:
    (folder / "server.exr").write_bytes(data)
    return read_pixels(folder / "server.exr")


def test_write_bytes_atomic_takes_any_buffer_whole_and_a_list_as_pieces(tmp_path):
    """An array or an ``array.array`` is one buffer, written whole as before (not element by
    element as a list of pieces); a list is written piece after piece."""
    import array

    from movingcolor_client import write_bytes_atomic

    pixels = np.arange(12, dtype=np.float32).reshape(3, 4)
    write_bytes_atomic(tmp_path / "a", pixels)
    assert (tmp_path / "a").read_bytes() == pixels.tobytes()
    write_bytes_atomic(tmp_path / "b", array.array("H", [1, 2, 3]))
    assert (tmp_path / "b").read_bytes() == array.array("H", [1, 2, 3]).tobytes()
    write_bytes_atomic(tmp_path / "c", [b"ab", memoryview(b"cd"), bytearray(b"e")])
    assert (tmp_path / "c").read_bytes() == b"abcde"


# -- file jobs, addresses, deadlines ---------------------------------------------------------

#: Frames of the shot a file job is stopped part way through: enough that a job left running
#: writes them all long after its caller stopped.
LONG_SHOT_FRAMES = 60


@pytest.fixture(scope="module")
def job_root(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("job-root")


@pytest.fixture(scope="module")
def long_shot(job_root) -> tuple[str, str]:
    return write_shot(job_root / "long", frames=LONG_SHOT_FRAMES)


@pytest.fixture(scope="module")
def rooted(test_model, job_root) -> Iterator[ServerProcess]:
    """A server that takes file jobs under ``job_root``."""
    folder = short_folder()
    with ServerProcess(f"unix://{folder}/mc.sock", ["--root", job_root]) as server:
        yield server
    shutil.rmtree(folder, ignore_errors=True)


def _wait_for_no_jobs(client, seconds: float = 30.0) -> float:
    """Seconds until the server runs no job (``seconds`` at most)."""
    started = time.monotonic()
    while client.info()["active_jobs"] and time.monotonic() - started < seconds:
        time.sleep(0.05)
    return time.monotonic() - started


def test_a_file_job_whose_caller_stops_is_cancelled_at_once(rooted, long_shot, job_root):
    """Ctrl-C in a host's script editor (or a progress callback that raised) left the server's job
    running for as long as the exception was kept (the editor's last traceback): the server wrote the
    whole shot. The job is cancelled as the call ends, and an interrupt says which frames it left."""
    from movingcolor.errors import FRAMES_WRITTEN

    plate, matte = long_shot
    with connect(rooted.address) as client:
        for stop, out in ((KeyboardInterrupt, "interrupted"), (RuntimeError, "raised")):

            def stopped(done: int, total: int, frame: int, stop=stop) -> None:
                raise stop("the caller stops")

            with pytest.raises(stop) as raised:
                client.run_job(plate, str(job_root / out / "f.####.exr"), matte, grade=GRADE, engine="guided",
                               progress=stopped)  # fmt: skip
            # The exception is still referenced (raised.value, as an editor keeps its last one).
            assert _wait_for_no_jobs(client) < 30
            assert len(output_files(job_root / out)) < LONG_SHOT_FRAMES
            if stop is KeyboardInterrupt:
                written = getattr(raised.value, FRAMES_WRITTEN)
                assert len(written) == 1 and Path(written[0]).is_file()
        accepted: list[str] = []

        def refuse(job_id: str) -> None:
            accepted.append(job_id)
            raise ValueError("the host refused the job")

        with pytest.raises(ValueError):
            client.run_job(plate, str(job_root / "refused" / "f.####.exr"), matte, grade=GRADE,
                           engine="guided", on_accepted=refuse)  # fmt: skip
        assert accepted and _wait_for_no_jobs(client) < 30
        assert len(output_files(job_root / "refused")) < LONG_SHOT_FRAMES


def test_a_file_job_resumes_after_the_server_restarts(job_root, test_model):
    """RunJob failed as unavailable when the server restarted mid-shot, where fuse_files resumes and
    the README says a dropped call is retried: the job is run again, keeping the frames written,
    with its progress going on from where it was."""
    plate, matte = write_shot(job_root / "restarted", frames=12)
    out = job_root / "restarted-out"
    folder = short_folder()
    server = ServerProcess(f"unix://{folder}/mc.sock", ["--root", job_root])
    restarts: list[threading.Thread] = []
    events: list[tuple[int, int, int]] = []
    accepted: list[str] = []

    def progress(done: int, total: int, frame: int) -> None:
        events.append((done, total, frame))
        if not restarts:  # a crash, then the server comes back on the same address
            server.kill()
            restarts.append(threading.Thread(target=server.start))
            restarts[0].start()

    try:
        server.start()
        with connect(server.address, retries=6, backoff=0.25) as client:
            summary = client.run_job(plate, str(out / "f.####.exr"), matte, grade=GRADE, engine="guided",
                                     progress=progress, on_accepted=accepted.append)  # fmt: skip
    finally:
        for restart in restarts:
            restart.join()
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)
    assert len(accepted) == 2 and accepted[0] != accepted[1]
    assert len(output_files(out)) == 12
    assert summary["frame_count"] == 12 and sorted(summary["written"]) == [str(p) for p in output_files(out)]
    assert {total for _, total, _ in events} == {12} and events[-1][0] == 12
    assert [done for done, _, _ in events] == sorted({done for done, _, _ in events})


def test_run_job_says_what_force_would_do(served):
    """force=True was refused with "a file job writes every frame anew", which is false: a file job
    keeps the frames already written for the same inputs and settings."""
    from movingcolor.errors import MovingColorError

    refused = pytest.raises(MovingColorError, match="force: not a setting run_job takes")
    with connect(served.address) as client, refused as raised:
        client.run_job("/shots/p.####.exr", "/out/f.####.exr", grade=GRADE, force=True)
    assert "keeps the frames already written" in str(raised.value)
    assert "writes every frame anew" not in str(raised.value)


def test_every_address_form_a_server_takes_reaches_it(monkeypatch, test_model):
    """unix:~/x.sock (which movingcolor serve takes and serves on), an address with a space around it
    and unix://relative.sock were handed to gRPC as written: the first two failed, told to start the
    server that was running, the last with gRPC's "target uri is not valid"."""
    folder = short_folder()
    monkeypatch.setenv("HOME", str(folder))
    monkeypatch.chdir(folder)
    try:
        with ServerProcess("unix:~/mc.sock", env={"HOME": str(folder)}) as server:
            for address in ("unix:~/mc.sock", f" unix://{folder}/mc.sock ", "unix://mc.sock", "unix:mc.sock",
                            f"unix:{folder}/mc.sock", f"unix://{folder}/mc.sock"):  # fmt: skip
                with connect(address, retries=0) as client:
                    assert client.info(timeout=10)["protocol"] == "movingcolor.v1", address
                    assert client.health(timeout=10) == "SERVING", address
            assert server.running()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def test_a_window_s_target_may_be_a_host_s_frame_time(served):
    """OFX hosts' times are doubles: fuse_window(3.0, ...) was refused as "cannot read frame range
    '3.0'" though the images' keys may be 3.0; a time between frames is refused naming the target."""
    from movingcolor.errors import FrameSourceError

    plate = {float(n): np.full((16, 24, 3), 0.1 * n, np.float32) for n in (2, 3, 4)}
    matte = {float(n): np.ones((16, 24), np.float32) for n in (2, 3, 4)}
    with connect(served.address) as client:
        by_time = client.fuse_window(3.0, plate, matte, grade=GRADE)
        by_number = client.fuse_window(np.int64(3), plate, matte, grade=GRADE)
        assert by_time.frame == 3 and np.array_equal(by_time.pixels(), by_number.pixels())
        for target in (3.5, "3", True):
            with pytest.raises(FrameSourceError, match=rf"target {target!r} is not a frame number"):
                client.fuse_window(target, plate, matte, grade=GRADE)


def test_a_deadline_is_told_as_the_caller_gave_it(served, shot, tmp_path, monkeypatch):
    """The message said the time left after the call's first steps ("within its deadline of
    1.92448s" for timeout=2), not the timeout the caller gave."""
    from movingcolor_client import DeadlineExceededError
    from movingcolor_client.sources import ArrayFrames, FileFrames

    for frames in (FileFrames, ArrayFrames):
        read = frames.image

        def slowly(self, role, frame, read=read):
            time.sleep(0.3)
            return read(self, role, frame)

        monkeypatch.setattr(frames, "image", slowly)
    plate, matte = shot
    told = r"did not finish within its deadline of 1.5s; raise timeout="
    with connect(served.address) as client:
        with pytest.raises(DeadlineExceededError, match=told):
            client.fuse_files(plate, tmp_path / "o" / "f.####.exr", matte, grade=GRADE, engine="hard",
                              timeout=1.5)  # fmt: skip
        images = {n: np.full((16, 24, 3), 0.5, np.float32) for n in range(1, 8)}
        mattes = {n: np.ones((16, 24), np.float32) for n in range(1, 8)}
        with pytest.raises(DeadlineExceededError, match=told):
            client.fuse_window(4, images, mattes, grade=GRADE, engine="hard", timeout=1.5, reuse=False)


def test_a_grade_folder_and_an_empty_window_are_named_as_such(served, tmp_path):
    """A folder named like a grade file was "no such file"; an empty plate mapping was told to "give
    every role the same frames"."""
    from movingcolor.errors import FrameSourceError, MovingColorError

    folder = tmp_path / "shot010.cc"
    folder.mkdir()
    plates = np.zeros((3, 16, 24, 3), np.float32)
    mattes = np.zeros((3, 16, 24), np.float32)
    folder_refused = pytest.raises(MovingColorError, match=rf"grade '{folder}' is a folder, not a grade file")
    with connect(served.address) as client, folder_refused:
        client.fuse_arrays(plates, mattes, grade=str(folder))
    # A look's bare name is a look whatever folder of that name is here (the current folder's night/).
    (tmp_path / "night").mkdir()
    look_refused = pytest.raises(MovingColorError, match="look 'night' is not in")
    with contextlib.chdir(tmp_path), connect(served.address) as client, look_refused:
        client.fuse_arrays(plates, mattes, grade="night")
    with connect(served.address) as client:
        for role, plate, matte in (("plate", {}, {}), ("matte", {1: plates[0]}, {})):
            told = f"the {role} mapping is empty: give at least the target frame"
            with pytest.raises(FrameSourceError, match=told):
                client.fuse_window(1, plate, matte, grade=GRADE)
