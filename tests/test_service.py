"""The gRPC server as a real process, on a Unix socket and on loopback TCP, through the client library.

Streamed fusion is compared with the in-process run with tolerance zero: the
fused pixels are bit-identical (only the EXR header's DateTime differs), for
the classical engines and for the network alike.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import output_files, run_cli, short_folder
from movingcolor import __version__
from movingcolor.errors import MovingColorError
from movingcolor.frames.image_io import encode_image, read_header, read_pixels
from movingcolor.jobs.demo_shot import write_demo_inputs
from movingcolor.protocol import MAX_MESSAGE_BYTES
from movingcolor.protocol.images import file_image, raw_image
from movingcolor.service.process import ServerProcess
from movingcolor_client import (
    AuthenticationError,
    CertificateError,
    DeadlineExceededError,
    InvalidRequestError,
    JobCancelledError,
    NotFoundError,
    PermissionDeniedError,
    ServerUnavailableError,
    connect,
    shot_setup,
)

GRADE = "slope=1.25,1.0,0.8;offset=0.01;power=1.0;sat=1.2"
TOKEN = "s3cret-token"
FIRST = 1001


def write_shot(
    folder: Path, width: int = 96, height: int = 64, frames: int = 8, seed: int = 3
) -> tuple[str, str]:
    """A procedural shot: scene-linear EXR plate and PNG matte, frames from 1001; returns their patterns."""
    return write_demo_inputs(folder, frames=frames, seed=seed, width=width, height=height)


def assert_same_frames(ours: list[Path], theirs: list[Path]) -> None:
    """Same names, bit-identical pixels, same header but for the write time and the
    fingerprint (which records the identity of the input files: streamed frames have none)."""
    assert [p.name for p in ours] == [p.name for p in theirs] and ours
    for a, b in zip(ours, theirs, strict=True):
        assert np.array_equal(read_pixels(a), read_pixels(b)), a.name
        ha, hb = read_header(a).attributes, read_header(b).attributes
        for key in ("DateTime", "movingcolor:fingerprint"):
            ha.pop(key, None), hb.pop(key, None)
        assert ha == hb


def wait_idle(client, seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while client.info()["active_jobs"] and time.monotonic() < deadline:
        time.sleep(0.1)
    assert client.info()["active_jobs"] == 0


@pytest.fixture(scope="module")
def farm_root(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("farm-root")


@pytest.fixture(scope="module")
def shot(farm_root) -> tuple[str, str]:
    return write_shot(farm_root / "shot")


@pytest.fixture(scope="module")
def unix_server(test_model, farm_root):
    """No token (a Unix socket is local), file jobs under farm_root, images up to 16 MiB."""
    folder = short_folder()
    server = ServerProcess(
        f"unix://{folder}/mc.sock", ["--root", farm_root, "--max-image-mb", "16", "--max-window-frames", "8"]
    )
    with server:
        yield server
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def tcp_server(test_model):
    """Loopback TCP on a free port, with a token."""
    with ServerProcess("127.0.0.1:0", ["--log-format", "json"], env={"MOVINGCOLOR_TOKEN": TOKEN}) as server:
        yield server


@pytest.fixture(params=["unix", "tcp"])
def server(request, unix_server, tcp_server):
    return unix_server if request.param == "unix" else tcp_server


def client_for(server, **options):
    return connect(server.address, TOKEN if server.address.startswith("127.") else None, **options)


# -- health, info, reflection -------------------------------------------------------------


def test_health_and_info(server):
    with client_for(server) as client:
        assert client.health() == "SERVING"
        assert client.health("movingcolor.v1.Fusion") == "SERVING"
        info = client.info()
    assert info["version"] == __version__ and info["protocol"] == "movingcolor.v1"
    engines = {e["name"]: e for e in info["engines"]}
    assert {"hard", "feather", "guided", "movingcolor"} <= set(engines)
    # No engine keeps per-shot state: one loaded copy of each serves every client.
    assert engines["guided"]["temporal_radius"] == 2 and engines["guided"]["shared"]
    assert engines["movingcolor"]["shared"]
    assert info["limits"]["max_message_bytes"] == str(MAX_MESSAGE_BYTES)
    assert info["devices"][0]["name"] in ("cpu", "cuda")
    assert info["packages"]["grpcio"]


def test_a_cpu_server_running_classical_engines_never_loads_torch():
    """``serve --device cpu`` (and GetInfo, every client's first call) leave torch unloaded until a
    network job asks for it: a server for the classical engines holds none of its memory."""
    from movingcolor.model.device import gpu_driver_present

    if gpu_driver_present():
        pytest.skip("GetInfo asks torch for the GPU on a machine with a GPU driver")
    folder = short_folder()
    try:
        with ServerProcess(f"unix://{folder}/mc.sock", ["--device", "cpu"]) as server:
            with connect(server.address) as client:
                assert client.info()["devices"][0]["name"] == "cpu"
                fused = client.fuse_arrays(
                    np.zeros((1, 8, 8, 3), np.float32),
                    np.zeros((1, 8, 8), np.float32),
                    grade=GRADE,
                    engine="guided",
                )
                assert fused.shape == (1, 8, 8, 3)
            maps = Path(f"/proc/{server.pid}/maps").read_text()
        assert "libtorch" not in maps
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def test_reflection_lists_the_services(unix_server):
    import grpc
    from grpc_reflection.v1alpha.proto_reflection_descriptor_database import ProtoReflectionDescriptorDatabase

    with grpc.insecure_channel(unix_server.address) as channel:
        services = set(ProtoReflectionDescriptorDatabase(channel).get_services())
    assert {"movingcolor.v1.Fusion", "grpc.health.v1.Health"} <= services


def test_structured_logs(tcp_server):
    with client_for(tcp_server, name="logs-test") as client:
        client.fuse_arrays(np.zeros((1, 8, 8, 3), np.float32), np.zeros((1, 8, 8), np.float32), grade=GRADE)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:  # the server's log reaches this process through a pipe
        events = tcp_server.events()
        ended = [e for e in events if e["event"] == "job.end" and e.get("client") == "logs-test"]
        if ended:
            break
        time.sleep(0.1)
    serving = next(e for e in events if e["event"] == "serving")
    assert serving["address"] == tcp_server.address and serving["token"] == "required"
    assert ended and ended[-1]["status"] == "OK" and ended[-1]["method"] == "FuseShot"


# -- streamed fusion equals the in-process run ---------------------------------------------


def test_fuse_through_server_equals_in_process(server, shot, tmp_path):
    plate, matte = shot
    common = ["fuse", "--plate", plate, "--matte", matte, "--grade", GRADE, "--engine", "guided"]
    assert run_cli(*common, "--out", tmp_path / "local" / "f.####.exr") == 0
    remote = ["--server", server.address] + (["--token", TOKEN] if server.address.startswith("127.") else [])
    assert run_cli(*common, *remote, "--out", tmp_path / "remote" / "f.####.exr") == 0
    assert_same_frames(output_files(tmp_path / "remote"), output_files(tmp_path / "local"))


def test_network_through_server_equals_in_process(unix_server, shot, tmp_path, test_model):
    if test_model is None:
        pytest.skip("torch is not installed: no network to serve")
    plate, matte = shot
    common = ["fuse", "--plate", plate, "--matte", matte, "--grade", GRADE, "--engine", "movingcolor"]
    common += ["--model", "tiny-random", "--frames", "1002-1005", "--handles", "1"]
    assert run_cli(*common, "--out", tmp_path / "local" / "f.####.exr") == 0
    assert run_cli(*common, "--server", unix_server.address, "--out", tmp_path / "remote" / "f.####.exr") == 0
    assert_same_frames(output_files(tmp_path / "remote"), output_files(tmp_path / "local"))
    assert len(output_files(tmp_path / "remote")) == 6
    with connect(unix_server.address) as client:
        network = next(e for e in client.info()["engines"] if e["name"] == "movingcolor")
    assert network["loaded_on"] == ["cpu"]  # loaded once, on first use, and kept for every client


# -- the window call -----------------------------------------------------------------------


def test_window_call_equals_that_frame_of_the_shot(unix_server, shot, tmp_path):
    plate, matte = shot
    run_cli(
        "fuse", "--plate", plate, "--matte", matte, "--grade", GRADE, "--exr-type", "float", "--out", tmp_path
    )
    expected = read_pixels(tmp_path / "plate.1004.exr")
    neighbours = range(1002, 1007)  # the target and guided's temporal radius of 2 each side
    plates = {n: read_pixels(Path(plate.replace("####", str(n)))) for n in neighbours}
    mattes = {n: read_pixels(Path(matte.replace("####", str(n)))) for n in neighbours}
    with connect(unix_server.address) as client:
        fused = client.fuse_window(1004, plates, mattes, grade=GRADE, colorspace="ACEScg")
        assert fused.frame == 1004 and fused.attributes["movingcolor:frame"] == 1004
        assert np.array_equal(fused.pixels(), expected)
        fused.write(tmp_path / "window.exr", pixel_type="float")
        assert np.array_equal(read_pixels(tmp_path / "window.exr"), expected)
        with pytest.raises(InvalidRequestError, match="lacks 1 of render frames 1009"):
            client.fuse_window(1009, plates, mattes, grade=GRADE)
        many = {n: plates[1004] for n in range(1001, 1011)}
        with pytest.raises(InvalidRequestError, match="more than 8 frames"):
            client.fuse_window(1004, many, {n: mattes[1004] for n in many}, grade=GRADE)


def test_a_window_with_a_gap_or_handles_is_refused_not_fused_as_if_consecutive(unix_server, shot):
    """The engines take a window's frames as consecutive: 1002, beyond a missing 1003, would be
    fused as 1004's neighbour. A frame one role lacks is named by the client before anything is
    sent, and a window call's handles (it fuses one frame) are refused."""
    from movingcolor.errors import FrameSourceError

    plate, matte = shot
    plates = {n: read_pixels(Path(plate.replace("####", str(n)))) for n in range(1002, 1007)}
    mattes = {n: read_pixels(Path(matte.replace("####", str(n)))) for n in range(1002, 1007)}
    with connect(unix_server.address) as client:
        gap = [1002, 1004, 1005, 1006]
        with pytest.raises(InvalidRequestError, match=r"plate frames 1002, 1004-1006 have a gap; send the"):
            client.fuse_window(1004, {n: plates[n] for n in gap}, {n: mattes[n] for n in gap}, grade=GRADE)
        with pytest.raises(FrameSourceError, match="the matte lacks frames 1003 that another role has"):
            client.fuse_window(1004, plates, {n: m for n, m in mattes.items() if n != 1003}, grade=GRADE)
        with pytest.raises(InvalidRequestError, match="leave handles at 0, not 1"):
            client.fuse_window(1004, plates, mattes, grade=GRADE, handles=1)
        assert client.fuse_window(1004, plates, mattes, grade=GRADE).frame == 1004


def test_a_window_with_an_empty_or_full_matte_fuses_with_the_network(unix_server, shot, test_model):
    """A host's window where the object is absent from a frame (its matte empty, or full where the
    roto is off): the network fuses it, and an empty target comes back as the hard composite."""
    if test_model is None:
        pytest.skip("torch is not installed: no network to serve")
    plate, matte = shot
    neighbours = range(1002, 1007)
    plates = {n: read_pixels(Path(plate.replace("####", str(n)))) for n in neighbours}
    mattes = {n: read_pixels(Path(matte.replace("####", str(n)))) for n in neighbours}
    emptied = {**mattes, 1004: np.zeros_like(mattes[1004]), 1005: np.ones_like(mattes[1005])}
    settings = {"grade": GRADE, "colorspace": "ACEScg", "model": "tiny-random"}
    with connect(unix_server.address) as client:
        fused = client.fuse_window(1004, plates, emptied, engine="movingcolor", **settings)
        hard = client.fuse_window(1004, plates, emptied, engine="hard", grade=GRADE, colorspace="ACEScg")
        assert np.array_equal(fused.pixels(), hard.pixels())
        beside = client.fuse_window(1003, plates, emptied, engine="movingcolor", **settings)
        assert beside.frame == 1003 and np.isfinite(beside.pixels()).all()


# -- the files job -------------------------------------------------------------------------


def test_files_job_writes_under_the_roots(unix_server, shot, farm_root, tmp_path):
    plate, matte = shot
    out = farm_root / "job" / "f.####.exr"
    events = []
    with connect(unix_server.address) as client:
        summary = client.run_job(
            plate, str(out), matte, grade=GRADE, frames="1002-1004", progress=lambda *e: events.append(e)
        )
    assert summary["frames"] == "1002-1004" and summary["frame_count"] == 3
    assert [e[2] for e in events] == [1002, 1003, 1004] and events[-1][:2] == (3, 3)
    assert run_cli("fuse", "--plate", plate, "--matte", matte, "--grade", GRADE, "--frames", "1002-1004",
                   "--out", tmp_path / "f.####.exr") == 0  # fmt: skip
    assert_same_frames(output_files(farm_root / "job"), output_files(tmp_path))
    assert summary["written"] == [str(p) for p in output_files(farm_root / "job")]


def test_a_file_job_s_warnings_come_back_with_its_summary(unix_server, shot, farm_root, caplog):
    """A file job on a server warned in the server's log alone (here: frames of other settings
    replaced in the output, and the frames of the sequence left as they were)."""
    plate, matte = shot
    out = str(farm_root / "warned" / "f.####.exr")
    with connect(unix_server.address) as client:
        client.run_job(plate, out, matte, grade=GRADE, frames="1001-1003")
        with caplog.at_level("WARNING"):
            summary = client.run_job(plate, out, matte, grade="slope=1.5", frames="1002")
    assert any("1002: frames made from other inputs or settings" in w for w in summary["warnings"])
    assert any("frames made from other inputs or settings" in r.getMessage() for r in caplog.records)


def test_a_client_closed_while_its_file_job_runs_says_so(unix_server, shot, farm_root):
    """close() while RunJob streamed its progress raised JobCancelledError in gRPC's words ("Stream
    removed (Channel closed!)"), as a shot's call did."""
    from movingcolor_client import ClientError

    plate, matte = shot
    client = connect(unix_server.address)
    with pytest.raises(ClientError, match="this client of .* is closed"):
        client.run_job(plate, str(farm_root / "closed" / "f.####.exr"), matte, grade=GRADE,
                       progress=lambda *event: client.close())  # fmt: skip


def test_files_job_outside_the_roots_is_refused(unix_server, tcp_server, shot, farm_root, tmp_path):
    plate, matte = shot
    with connect(unix_server.address) as client:
        with pytest.raises(PermissionDeniedError, match="outside this server's root folders"):
            client.run_job(plate, str(tmp_path / "out" / "f.####.exr"), matte, grade=GRADE)
        with pytest.raises(PermissionDeniedError, match="plate"):
            client.run_job(
                str(farm_root / ".." / "elsewhere" / "p.####.exr"), str(farm_root / "o"), grade=GRADE
            )
        with pytest.raises(InvalidRequestError, match="relative path"):
            client.run_job("shot/plate.####.exr", str(farm_root / "o"), grade=GRADE)
    assert not (tmp_path / "out").exists()
    with client_for(tcp_server) as client, pytest.raises(InvalidRequestError, match="without root folders"):
        client.run_job(plate, str(farm_root / "o" / "f.####.exr"), matte, grade=GRADE)


def _config_with_a_look_lut(path: Path, search_path: str, lut_folder: Path) -> None:
    """The built-in config with a look ``tint`` that reads ``tint.cube`` (a red tint) from
    ``search_path``, the LUT written into ``lut_folder``."""
    import PyOpenColorIO as ocio

    lut_folder.mkdir(parents=True, exist_ok=True)
    (lut_folder / "tint.cube").write_text("LUT_1D_SIZE 2\n0 0 0\n1.0 0.2 0.1\n")
    config = ocio.Config.CreateFromFile("ocio://default")
    config.setSearchPath(search_path)
    config.addLook(ocio.Look(name="tint", processSpace="ACEScg", transform=ocio.FileTransform("tint.cube")))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(config.serialize())


def test_a_client_whose_ocio_is_not_the_servers_is_refused_before_any_frame(
    test_model, shot, tmp_path, monkeypatch
):
    """``fuse --server`` with a show's $OCIO set here, the server working in another config: every
    frame came back graded in the server's config, not the one this shell names, without a word.
    The same config file at another path (a mount of its own on each machine) is the same config."""
    import PyOpenColorIO as ocio

    plate, matte = shot
    config = ocio.Config.CreateFromFile("ocio://default")
    (tmp_path / "server-mount").mkdir()
    (tmp_path / "client-mount").mkdir()
    (tmp_path / "server-mount" / "config.ocio").write_text(config.serialize())
    (tmp_path / "client-mount" / "config.ocio").write_text(config.serialize())
    config.setRole("scene_linear", "Linear Rec.709 (sRGB)")
    show = tmp_path / "show.ocio"
    show.write_text(config.serialize())
    out = tmp_path / "out"
    folder = short_folder()
    env = {"OCIO": str(tmp_path / "server-mount" / "config.ocio")}
    with ServerProcess(f"unix://{folder}/mc.sock", env=env) as server, connect(server.address) as client:
        monkeypatch.setenv("OCIO", str(show))
        with pytest.raises(
            MovingColorError,
            match=r"\$OCIO here is .*show.ocio, but the server at .* works in .*server-mount",
        ):
            client.fuse_files(plate, out / "f.####.exr", matte, grade=GRADE, frames="1001-1002")
        assert not out.exists()
        monkeypatch.setenv("OCIO", str(tmp_path / "client-mount" / "config.ocio"))
        assert (
            len(client.fuse_files(plate, out / "f.####.exr", matte, grade=GRADE, frames="1001-1002").written)
            == 2
        )
    shutil.rmtree(folder, ignore_errors=True)


def test_a_job_config_reads_luts_inside_the_roots_only(unix_server, shot, farm_root, tmp_path):
    """A config file inside the roots whose search path (or a LUT's absolute path) leads outside them
    is refused before the job runs: the server applied a LUT from outside its roots, and OpenColorIO's
    error for a missing one listed where it looked, so a client could probe any folder. A config
    whose LUTs are inside the roots runs."""
    plate, matte = shot
    outside_config = farm_root / "cfg-outside" / "config.ocio"
    _config_with_a_look_lut(outside_config, str(tmp_path / "luts"), tmp_path / "luts")
    inside_config = farm_root / "cfg-inside" / "config.ocio"
    _config_with_a_look_lut(inside_config, "luts", farm_root / "cfg-inside" / "luts")
    # A LUT the config names that is not installed is looked for in its search folders alone (the
    # job never reads it): no reason to refuse the config. It was an INTERNAL error, "a bug".
    import PyOpenColorIO as ocio

    config = ocio.Config.CreateFromFile(str(inside_config))
    config.addLook(
        ocio.Look(name="absent", processSpace="ACEScg", transform=ocio.FileTransform("absent.cube"))
    )
    inside_config.write_text(config.serialize())
    out = farm_root / "config-job"
    with connect(unix_server.address) as client:
        with pytest.raises(PermissionDeniedError, match=r"config .* reads LUTs outside this server's root"):
            client.run_job(
                plate, str(out / "a.####.exr"), matte, grade="look:tint", config=str(outside_config),
                frames="1002",
            )  # fmt: skip
        assert not out.exists()
        summary = client.run_job(
            plate, str(out / "b.####.exr"), matte, grade="look:tint", config=str(inside_config), frames="1002"
        )
    assert summary["frame_count"] == 1


def test_a_job_input_that_is_not_a_file_is_refused(unix_server, shot, farm_root):
    """A named pipe given as the matte held a job slot for good (opening it waits for a writer; no
    cancel or deadline reached it), and a writer then stalled the whole server: an input that is not
    a regular file is refused."""
    plate, _ = shot
    pipe = farm_root / "pipe" / "m.1002.png"
    pipe.parent.mkdir(exist_ok=True)
    os.mkfifo(pipe)
    with connect(unix_server.address) as client:
        with pytest.raises(InvalidRequestError, match=r"m\.1002\.png: is a named pipe \(FIFO\), not a file"):
            client.run_job(plate, str(farm_root / "pipe-job" / "f.####.exr"), str(pipe), grade=GRADE,
                           frames="1002", timeout=60)  # fmt: skip
        assert client.info()["active_jobs"] == 0


# -- bad input ------------------------------------------------------------------------------


def test_token_missing_or_wrong(tcp_server, monkeypatch):
    monkeypatch.delenv("MOVINGCOLOR_TOKEN", raising=False)
    with connect(tcp_server.address) as client:
        assert client.health() == "SERVING"  # health checks stay open for orchestrators
        with pytest.raises(AuthenticationError, match="needs a token"):
            client.info()
    with (
        connect(tcp_server.address, "not-it") as client,
        pytest.raises(AuthenticationError, match="does not match"),
    ):
        client.fuse_arrays(np.zeros((1, 8, 8, 3), np.float32), np.zeros((1, 8, 8), np.float32), grade=GRADE)
    with connect(tcp_server.address, TOKEN) as client:
        assert client.info()["active_jobs"] == 0
    # A token read with its file's last newline, a user's name in other letters: gRPC refused both
    # with only "Invalid metadata".
    with connect(tcp_server.address, TOKEN + "\n", name="Zoë") as client:
        assert client.info()["active_jobs"] == 0
    with pytest.raises(MovingColorError, match="beyond ASCII"):
        connect(tcp_server.address, "pässwort")


def test_a_token_no_client_can_send_is_refused_when_the_server_starts(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("MOVINGCOLOR_TOKEN", raising=False)
    token = tmp_path / "token"
    token.write_text("pässwort\n", encoding="utf-8")
    assert run_cli("serve", "--address", f"unix://{tmp_path}/s.sock", "--token-file", token) == 2
    assert "holds characters no client can send" in capsys.readouterr().err


def test_oversize_message_and_image(unix_server):
    plate = np.full((1, 768, 1024, 4), 0.18, np.float32)  # 12.6 MB of raw float: over gRPC's 4 MiB
    plate[..., 3] = 0.0
    plate[0, 200:500, 300:700, 3] = 1.0
    with connect(unix_server.address) as client:  # parts of 2 MiB: the large frame goes through
        fused = client.fuse_arrays(plate, grade=GRADE, engine="hard")
        assert fused.shape == (1, 768, 1024, 3)
    # Parts larger than the server's messages (6 MiB against 4): refused, then sent again in the
    # server's own parts, which the client learns from GetInfo when one is refused.
    with connect(unix_server.address, part_bytes=6 * 1024 * 1024) as client:
        again = client.fuse_arrays(plate, grade=GRADE, engine="hard")
        assert client.upload_part_bytes == client.server_part_bytes < 4 * 1024 * 1024
    assert np.array_equal(again, fused)
    # Permanent, not "busy": a farm must not retry it.
    huge = np.zeros((1, 1100, 1100, 4), np.float32)  # 19.4 MB: over this server's --max-image-mb 16
    with connect(unix_server.address) as client, pytest.raises(InvalidRequestError, match="max-image-mb"):
        client.fuse_arrays(huge, grade=GRADE, engine="hard")


class BrokenFrames:
    """Input whose plate images are not what they claim to be (as a faulty host would send)."""

    clip = [1, 2]

    def __init__(self, kind: str):
        self.kind = kind

    def image(self, role, frame):
        if self.kind == "exr":
            return file_image(b"\x76\x2f\x31\x01 not the rest of an EXR file", "exr")
        if self.kind == "exr body":
            # A whole header and a cut body: the image is accepted from its header and decoded when
            # the runner reads it, and its error still names it.
            pixels = np.random.default_rng(frame).random((64, 96, 4), dtype=np.float32)
            data = encode_image(".exr", pixels, channels=("R", "G", "B", "A"), pixel_type="float")
            return file_image(data[: len(data) // 2], "exr")
        info, data = raw_image(np.zeros((8, 8, 3), np.float32), ("R", "G", "B"))
        info.byte_size = len(data) - 10  # consistent parts, but too few samples for 8x8 RGB
        return info, data[:-10]


@pytest.mark.parametrize(
    "kind, message",
    [
        ("exr", r"plate frame 1 \(exr bytes\)"),
        ("exr body", r"plate frame 1 \(exr bytes\)"),
        ("raw", "raw samples"),
    ],
)
def test_malformed_frame_bytes(unix_server, kind, message):
    setup = shot_setup(clip=[1, 2], grade=GRADE, matte_frames=False)
    with connect(unix_server.address) as client:
        with pytest.raises(InvalidRequestError, match=message):
            list(client.shot(setup, BrokenFrames(kind)))
        wait_idle(client)


def test_mismatched_sizes(unix_server):
    plate = np.zeros((2, 64, 96, 3), np.float32)
    with connect(unix_server.address) as client:
        with pytest.raises(InvalidRequestError, match="is 48x32 but the plate is 96x64"):
            client.fuse_arrays(plate, np.zeros((2, 32, 48), np.float32), grade=GRADE)
        frames = [np.zeros((64, 96, 3), np.float32), np.zeros((32, 48, 3), np.float32)]
        mattes = [np.zeros((64, 96), np.float32), np.zeros((32, 48), np.float32)]
        with pytest.raises(InvalidRequestError, match="frame 2 is 48x32 but plate frame 1 was 96x64"):
            client.fuse_arrays(frames, mattes, grade=GRADE)


def test_unknown_model_and_engine(unix_server):
    plate, matte = np.zeros((1, 16, 16, 3), np.float32), np.zeros((1, 16, 16), np.float32)
    with connect(unix_server.address) as client:
        with pytest.raises(NotFoundError, match="model 'no-such-model' is not installed on this server"):
            client.fuse_arrays(plate, matte, grade=GRADE, engine="movingcolor", model="no-such-model")
        with pytest.raises(NotFoundError, match="engine 'sharpest' is not known.*guided"):
            client.fuse_arrays(plate, matte, grade=GRADE, engine="sharpest")
        with pytest.raises(InvalidRequestError, match="look 'NoSuchLook' is not in"):
            client.fuse_arrays(plate, matte, grade="look:NoSuchLook")


def test_a_grade_file_the_server_cannot_take_is_a_bad_request_naming_it(unix_server, tmp_path):
    """A LUT of binary bytes (a damaged or mislabelled file) was INTERNAL, "the server failed";
    a file name of a NUL or of 300 characters, a traceback writing it."""
    from movingcolor.errors import GradeError
    from movingcolor.service.setup_spec import _setup_grade
    from movingcolor.v1 import fusion_pb2

    damaged = tmp_path / "look.cube"
    damaged.write_bytes(bytes(range(256)) * 4)
    plate, matte = np.zeros((1, 16, 16, 3), np.float32), np.zeros((1, 16, 16), np.float32)
    unreadable = pytest.raises(
        InvalidRequestError, match=r": look\.cube: OpenColorIO cannot read this grade file"
    )
    with connect(unix_server.address) as client, unreadable as refused:
        client.fuse_arrays(plate, matte, grade=damaged)
    # Named as the client's file: not by the server's private folder (its temporary folder, process, host).
    assert "movingcolor-grade-" not in str(refused.value) and "movingcolor-server-" not in str(refused.value)
    for name in ("lo\0ok.cube", "a" * 300 + ".cube"):
        with pytest.raises(GradeError, match="is not a file name"):
            _setup_grade(fusion_pb2.Grade(file=b"LUT_3D_SIZE 2\n", file_name=name), tmp_path)
    assert list(tmp_path.iterdir()) == [damaged]


# -- deadlines, cancellation ----------------------------------------------------------------


class SlowFrames:
    """Frames that take ``delay`` seconds each to produce (a slow disk or host)."""

    def __init__(self, frames: int, delay: float, size=(48, 32)):
        self.clip = list(range(1, frames + 1))
        self.delay = delay
        self.plate = np.full((size[1], size[0], 3), 0.2, np.float32)
        self.matte = np.zeros((size[1], size[0], 1), np.float32)
        self.matte[8:24, 8:24] = 1.0

    def image(self, role, frame):
        if role == "plate":
            time.sleep(self.delay)
            return raw_image(self.plate, ("R", "G", "B"))
        return raw_image(self.matte, ("Y",))


def test_deadline_exceeded_frees_the_work(unix_server):
    setup = shot_setup(clip=list(range(1, 41)), grade=GRADE, engine="hard")
    with connect(unix_server.address) as client:
        started = time.monotonic()
        with pytest.raises(DeadlineExceededError, match="did not finish within its deadline of 1.5s"):
            list(client.shot(setup, SlowFrames(40, 0.1), timeout=1.5))
        assert time.monotonic() - started < 5
        wait_idle(client)


def test_cancel_mid_stream_by_the_client_and_by_job_id(unix_server):
    setup = shot_setup(clip=list(range(1, 41)), grade=GRADE, engine="hard")
    with connect(unix_server.address) as client:
        call = client.shot(setup, SlowFrames(40, 0.05))
        received = []
        with pytest.raises(JobCancelledError, match="cancelled by this client"):
            for fused in call:
                received.append(fused.frame)
                if len(received) == 2:
                    call.cancel()
        assert received[:2] == [1, 2] and len(received) < 40
        wait_idle(client)

        call = client.shot(setup, SlowFrames(40, 0.05))
        with pytest.raises(JobCancelledError, match="cancelled by a CancelJob call"):
            for fused in call:
                if fused.frame == 2:
                    with connect(unix_server.address, name="farm-monitor") as other:
                        assert other.cancel(call.job_id)
        assert not client.cancel(call.job_id)  # already over
        with pytest.raises(NotFoundError, match="no job 'nope'"):
            client.cancel("nope")
        wait_idle(client)


# -- the server going away ------------------------------------------------------------------


def test_a_long_shot_survives_more_server_restarts_than_its_retries(tmp_path):
    """The client's retries were counted over the whole shot: a shot streamed for hours failed at
    the restart of its server after its retries' worth, though each came back within the retries'
    waits. They are counted for each outage: four restarts, three retries."""
    plate, matte = write_shot(tmp_path / "shot", frames=30, seed=5)
    folder = short_folder()
    server = ServerProcess(f"unix://{folder}/mc.sock").start()
    restarters: list[threading.Thread] = []

    def restart_at(counts):
        def progress(done, total, frame):
            if done in counts:
                server.kill()
                restarters.append(threading.Thread(target=lambda: (time.sleep(0.3), server.start())))
                restarters[-1].start()

        return progress

    try:
        with connect(server.address, retries=3, backoff=1.0) as client:
            result = client.fuse_files(
                plate,
                tmp_path / "out" / "f.####.exr",
                matte,
                grade=GRADE,
                progress=restart_at({4, 10, 16, 22}),
            )
        assert len(result.written) + len(result.skipped) == 30 and len(restarters) == 4
    finally:
        for restarter in restarters:
            restarter.join()
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)


def test_server_killed_mid_shot_then_restarted(tmp_path):
    plate, matte = write_shot(tmp_path / "shot", frames=40, seed=5)
    folder = short_folder()
    server = ServerProcess(f"unix://{folder}/mc.sock").start()
    out = tmp_path / "out"

    def kill_after(count):
        def progress(done, total, frame):
            if done == count:
                server.kill()

        return progress

    try:
        reported = pytest.raises(
            ServerUnavailableError, match="unavailable.*frames before it were written completely"
        )
        with connect(server.address, retries=0) as client, reported:
            client.fuse_files(plate, out / "f.####.exr", matte, grade=GRADE, progress=kill_after(2))
        written = output_files(out)
        assert 2 <= len(written) < 40 and not [p for p in written if not p.name.startswith("f.")]
        for path in written:  # whole frames only: no temporary .partial files, every frame reads
            assert read_pixels(path).shape == (64, 96, 3)

        # Restarted on the same (now stale) socket while a client retries: it resumes where it was.
        server.start()
        restarter = threading.Thread(target=lambda: (time.sleep(0.5), server.start()))
        with connect(server.address, retries=8, backoff=0.25) as client:

            def kill_then_restart(done, total, frame):
                if done == 5:
                    server.kill()
                    restarter.start()

            result = client.fuse_files(
                plate, out / "f.####.exr", matte, grade=GRADE, progress=kill_then_restart
            )
        restarter.join()
        # The frames the killed server wrote are kept (same inputs, same settings), the rest fused.
        assert result.frames == "1001-1040" and len(result.written) + len(result.skipped) == 40
        assert (
            run_cli(
                "fuse",
                "--plate",
                plate,
                "--matte",
                matte,
                "--grade",
                GRADE,
                "--out",
                tmp_path / "local" / "f.####.exr",
            )
            == 0
        )
        assert_same_frames(output_files(out), output_files(tmp_path / "local"))
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)


def test_clean_shutdown_finishes_or_cancels_in_flight_work(tmp_path):
    folder = short_folder()
    server = ServerProcess(f"unix://{folder}/mc.sock", ["--grace", "1"]).start()
    setup = shot_setup(clip=list(range(1, 61)), grade=GRADE, engine="hard")
    try:
        with connect(server.address, retries=0) as client:
            call = client.shot(setup, SlowFrames(60, 0.05))
            with pytest.raises((JobCancelledError, ServerUnavailableError)):
                for fused in call:
                    if fused.frame == 2:
                        threading.Thread(target=server.stop).start()
        deadline = time.monotonic() + 20
        while server.running() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert server.process.returncode == 0
        assert any("stopped" in line for line in server.log)
        assert not Path(folder, "mc.sock").exists()
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)


def test_serve_refuses_to_listen_beyond_loopback_without_a_token(capsys, monkeypatch):
    monkeypatch.delenv("MOVINGCOLOR_TOKEN", raising=False)
    assert run_cli("serve", "--address", "0.0.0.0:0") == 2
    assert "reaches beyond this machine: give the server a token" in capsys.readouterr().err
    assert run_cli("serve", "--address", "localhost") == 2
    assert "neither unix:///path/to.sock nor host:port" in capsys.readouterr().err


@pytest.mark.parametrize(
    "option, value, message",
    [
        ("--max-message-mb", "0", "--max-message-mb must be more than 0"),
        ("--max-image-mb", "-1", "--max-image-mb must be more than 0"),
        ("--grace", "-1", "--grace must be 0 (stop at once) to 86400 seconds"),
        ("--max-jobs", "0", "--max-jobs must be 1 to 2147483647"),
        ("--cache-mb", "-5", "--cache-mb must be 0 (no cache) or more"),
        # Past what GetInfo can report (every client failed), or not finite (tracebacks).
        ("--max-jobs", "4294967296", "--max-jobs must be 1 to 2147483647, not 4294967296"),
        ("--max-image-mb", "inf", "--max-image-mb must be more than 0 and finite"),
        ("--cache-mb", "nan", "--cache-mb must be 0 (no cache) or more, not nan"),
        ("--grace", "inf", "--grace must be 0 (stop at once) to 86400 seconds"),
        ("--max-image-mb", "1e-9", "admits no image"),
        # An unset variable (--root "$SHOWS") made the current folder a root.
        ("--root", "", "argument --root: is empty"),
    ],
)
def test_serve_refuses_a_limit_that_makes_no_sense_before_listening(option, value, message):
    """A server that takes no message, or a negative grace, started as if all were well (it then
    refused every call); each is an error naming the option, before anything listens. In a process
    of its own, so a server that did start would fail the test, not hang it."""
    folder = short_folder()
    command = [sys.executable, "-m", "movingcolor.cli.main", "serve", option, value]
    command += ["--address", f"unix://{folder}/never.sock", "--no-warm-up"]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=60)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    assert done.returncode == 2 and message in done.stderr, done.stderr[-2000:]


def test_a_drain_cancels_its_jobs_early_enough_to_say_why():
    """The jobs still running are cancelled a second before the grace ends (half a short grace), so
    each call's thread has time to send its client the reason before gRPC's own cancel; a grace of
    0 cancels at once."""
    from movingcolor.service.server import cancel_time

    assert cancel_time(10.0) == 9.0 and cancel_time(1.0) == 0.5 and cancel_time(0.0) == 0.0
    assert all(0.0 <= cancel_time(grace) < grace for grace in (0.1, 0.5, 2.0, 86400.0))


def test_a_second_sigterm_during_the_drain_neither_hangs_nor_cuts_it_short(tmp_path):
    """`timeout` and supervisors signal a process and then its group: a handler that took a lock
    could deadlock on the second signal, and handlers put back before the drain let the second kill
    the server mid-grace (exit -15). The drain runs its grace, the job still running is cancelled
    with the reason, the server exits 0 and its socket is gone."""
    plate, matte = write_demo_inputs(tmp_path / "shot", frames=24, seed=3, width=1280, height=720)
    folder = short_folder()
    socket_path = folder / "drain.sock"
    command = [sys.executable, "-m", "movingcolor.cli.main", "serve", "--address", f"unix://{socket_path}",
               "--no-warm-up", "--grace", "3"]  # fmt: skip
    # A grace of 3 s gives the call's thread a whole second to send its reason (half a second with a
    # grace of 1: too little on a loaded machine, where the client got gRPC's own cancel).
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    failures: list[BaseException] = []
    try:
        deadline = time.monotonic() + 60
        while not socket_path.exists() and time.monotonic() < deadline:
            time.sleep(0.05)

        def fuse() -> None:
            try:
                with connect(f"unix://{socket_path}", retries=0) as client:
                    client.fuse_files(plate, str(tmp_path / "out" / "f.####.exr"), matte, grade=GRADE)
            except BaseException as error:  # noqa: BLE001 - the test reads it below
                failures.append(error)

        client = threading.Thread(target=fuse)
        client.start()
        while not (tmp_path / "out").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        server.send_signal(signal.SIGTERM)
        time.sleep(0.3)
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=60) == 0, server.stderr.read()[-2000:]
        client.join(timeout=60)
        assert not socket_path.exists()
        # Not a cancel: the shot is to be run again once a server is back (exit 75, try again).
        assert failures and "the server is shutting down" in str(failures[0]), failures
        assert isinstance(failures[0], ServerUnavailableError) and failures[0].exit_code == 75
    finally:
        if server.poll() is None:
            server.kill()
        shutil.rmtree(folder, ignore_errors=True)


# -- TLS ------------------------------------------------------------------------------------


def _openssl(*args, cwd):
    import subprocess

    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def test_mutual_tls(tmp_path):
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed (it makes the test certificates)")
    days = ["-days", "2"]
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem",
             "-subj", "/CN=MovingColor test CA", *days, cwd=tmp_path)  # fmt: skip
    for name, extra in (("server", "subjectAltName=IP:127.0.0.1,DNS:localhost"), ("client", "")):
        _openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key", "-out", f"{name}.csr",
                 "-subj", f"/CN={name}", cwd=tmp_path)  # fmt: skip
        (tmp_path / f"{name}.ext").write_text(extra + "\n" if extra else "basicConstraints=CA:FALSE\n")
        _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
                 "-out", f"{name}.pem", "-extfile", f"{name}.ext", *days, cwd=tmp_path)  # fmt: skip
    args = ["--tls-cert", tmp_path / "server.pem", "--tls-key", tmp_path / "server.key"]
    with ServerProcess("127.0.0.1:0", [*args, "--tls-client-ca", tmp_path / "ca.pem"]) as server:
        tls = dict(ca=tmp_path / "ca.pem", cert=tmp_path / "client.pem", key=tmp_path / "client.key")
        with connect(server.address, **tls) as client:
            assert client.info()["active_jobs"] == 0
        refused = pytest.raises(CertificateError, match="certificate")  # none sent: the handshake fails
        with connect(server.address, ca=tmp_path / "ca.pem", retries=0) as client, refused:
            client.info(timeout=5)
        # Plain text to a TLS port: not "unavailable" (a farm would retry it for ever).
        plain = pytest.raises(CertificateError, match="uses TLS and this client connected without it")
        with connect(server.address, retries=0) as client, plain:
            client.info(timeout=5)


# -- load -----------------------------------------------------------------------------------


def test_load_eight_clients_thirty_frames_each(unix_server):
    """8 concurrent clients x 30 frames: no errors, and memory back to its level before the load.

    The baseline is taken after one warm-up round (imports, OCIO processors, the allocator's
    per-thread arenas): what must not happen is growth with every further round.
    """
    rng = np.random.default_rng(0)
    plate = rng.uniform(0.0, 1.0, (30, 48, 64, 3)).astype(np.float32)
    matte = np.zeros((30, 48, 64), np.float32)
    matte[:, 12:36, 16:48] = 1.0

    def one_client(index, results, errors):
        try:
            with connect(unix_server.address, name=f"load-{index}") as client:
                results[index] = client.fuse_arrays(plate, matte, grade=GRADE, engine="hard")
        except Exception as error:  # collected and reported below
            errors.append(error)

    def round_of(count):
        results, errors = [None] * count, []
        threads = [threading.Thread(target=one_client, args=(i, results, errors)) for i in range(count)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
        assert not errors, errors
        return results

    reference = round_of(1)[0]
    round_of(8)
    with connect(unix_server.address) as client:
        wait_idle(client)
        baseline = unix_server.rss_bytes()
        for _ in range(3):
            for result in round_of(8):
                assert np.array_equal(result, reference)
        wait_idle(client)
    after = unix_server.rss_bytes()
    assert after - baseline < 32 * 2**20, f"server memory grew from {baseline >> 20} to {after >> 20} MiB"


def test_a_shots_files_are_held_as_bytes_until_read_and_raw_samples_decoded_at_once():
    """A FuseShot buffers a file's bytes, not its pixels (at 4K a float frame is 106 MB against its
    file's 25), and decodes it when the runner reads it: the same pixels as decoded at once."""
    from movingcolor.frames.stream import DecodedImage, DeferredImage
    from movingcolor.protocol.images import Image
    from movingcolor.service.decode import ImageDecoder
    from movingcolor.service.shots import _received
    from movingcolor.v1 import image_pb2 as pb

    pixels = np.random.default_rng(3).random((32, 48, 3), dtype=np.float32)
    info, data = file_image(encode_image(".exr", pixels, pixel_type="float"), "exr")
    image = Image(pb.ROLE_PLATE, 1, info, data)
    received = _received(ImageDecoder(), image)
    assert isinstance(received, DeferredImage)
    assert received.size == (48, 32) and received.channels == ("R", "G", "B")
    np.testing.assert_array_equal(received.pixels, ImageDecoder().decode(image).pixels)
    np.testing.assert_array_equal(received.pixels, pixels)
    raw_info, raw_data = raw_image(pixels, ("R", "G", "B"))
    raw = _received(ImageDecoder(), Image(pb.ROLE_PLATE, 1, raw_info, raw_data))
    assert isinstance(raw, DecodedImage)
    np.testing.assert_array_equal(raw.pixels, pixels)


@pytest.mark.parametrize(
    ("address", "message"),
    [
        ("nosuchhost.invalid:50175", "the host name 'nosuchhost.invalid' does not resolve here"),
        ("192.0.2.1:50175", "192.0.2.1 is not an address of this machine"),
    ],
)
def test_an_address_that_cannot_be_bound_names_why(address, message):
    """A host name that does not resolve and an address of another machine both failed as gRPC's
    "Failed to bind", read as "is another server using it?"."""
    command = [sys.executable, "-m", "movingcolor.cli.main", "serve", "--address", address, "--no-warm-up"]
    environment = {**os.environ, "MOVINGCOLOR_TOKEN": "a-token-for-a-network-address"}
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, env=environment)
    assert done.returncode == 2 and message in done.stderr, done.stderr[-2000:]
    assert "is another server using it" not in done.stderr
