"""The client library against a real server process: arrays, grade files, graded plates, retries,
progress, and ``movingcolor fuse --server``'s handling of what a server cannot take."""

from __future__ import annotations

import shutil
import threading
import time
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
