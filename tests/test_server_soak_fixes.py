"""What a soak of a server found: a grade file over the server's message limit, calls a server limit
ended that reached the client as a bare CANCELLED, and a scrub's window warnings repeated in the
server's log on every window."""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import numpy as np
import pytest
from conftest import short_folder
from movingcolor.service import logs as service_logs
from movingcolor.service.process import ServerProcess
from movingcolor_client import JobCancelledError, MessageTooLargeError, connect, shot_setup
from movingcolor_client.errors import from_rpc_error

GRADE = "slope=1.1,1.0,0.9"


class _RpcError(grpc.RpcError):
    """A failed call as gRPC reports it, for the client's error mapping."""

    def __init__(self, code: grpc.StatusCode, details: str):
        self._code, self._details = code, details

    def code(self) -> grpc.StatusCode:
        return self._code

    def details(self) -> str:
        return self._details

    def trailing_metadata(self) -> tuple:
        return ()


def write_cube(path: Path, size: int) -> Path:
    """An identity 3D LUT of ``size`` points a side, as a .cube file (65: about 7.4 MB)."""
    axis = np.linspace(0.0, 1.0, size)
    blue, green, red = np.meshgrid(axis, axis, axis, indexing="ij")  # red varies fastest
    table = np.stack([red.ravel(), green.ravel(), blue.ravel()], axis=1)
    body = "\n".join(f"{r:.6f} {g:.6f} {b:.6f}" for r, g, b in table)
    path.write_text(f"LUT_3D_SIZE {size}\n{body}\n")
    return path


@pytest.fixture
def server_with() -> Iterator:
    """Start servers with options of the test's own (``server_with("--idle-timeout", "1")``)."""
    started: list[tuple[ServerProcess, Path]] = []

    def start(*args: str) -> ServerProcess:
        folder = short_folder()
        server = ServerProcess(f"unix://{folder}/mc.sock", ["--no-warm-up", *args]).start()
        started.append((server, folder))
        return server

    yield start
    for server, folder in started:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)


def shot(frames: int, size: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A plate of noise (no frame compresses) and a square matte."""
    plate = np.random.default_rng(seed).random((frames, size, size, 3), dtype=np.float32)
    matte = np.zeros((frames, size, size), np.float32)
    matte[:, size // 4 : 3 * size // 4, size // 4 : 3 * size // 4] = 1.0
    return plate, matte


# -- a grade file over the server's message limit ---------------------------------------------------


def test_a_grade_file_over_the_servers_message_limit_is_refused_before_it_is_sent(served, tmp_path):
    cube = write_cube(tmp_path / "look65.cube", 65)
    plate, matte = shot(2, 16)
    with connect(served.address, name="big-grade") as client, pytest.raises(MessageTooLargeError) as refused:
        client.fuse_arrays(plate, matte, grade=str(cube), engine="hard")
    message = str(refused.value)
    assert "grade file look65.cube is 7.1 MiB" in message, message
    assert "4 MiB message limit" in message and "--max-message-mb 16" in message, message
    assert "part_bytes" not in message, message
    # Refused here: the server never began a job for it.
    assert not any("client=big-grade" in line and "job.start" in line for line in served.log)


def test_a_grade_file_within_the_servers_limit_still_goes(served, tmp_path):
    cube = write_cube(tmp_path / "look17.cube", 17)
    plate, matte = shot(2, 16)
    with connect(served.address, name="small-grade") as client:
        fused = client.fuse_arrays(plate, matte, grade=str(cube), engine="hard")
    assert fused.shape == (2, 16, 16, 3)


def test_a_setup_the_server_refused_as_too_large_is_not_told_to_send_smaller_parts(tmp_path):
    """A server that does not say its limit refuses the setup itself: parts cannot help."""
    cube = write_cube(tmp_path / "look65.cube", 65)
    setup = shot_setup(clip=[1, 2], grade=str(cube))
    error = _RpcError(
        grpc.StatusCode.RESOURCE_EXHAUSTED, "Received message larger than max (7415048 vs. 4194304)"
    )
    told = from_rpc_error(error, "unix:///tmp/mc.sock", "FuseShot on unix:///tmp/mc.sock", setup=setup)
    assert isinstance(told, MessageTooLargeError)
    assert "part_bytes" not in str(told) and "look65.cube" in str(told), told
    assert "--max-message-mb 16" in str(told), told
    # An image's part over the limit is still told to go in smaller parts.
    small = shot_setup(clip=[1, 2], grade=GRADE)
    told = from_rpc_error(error, "unix:///tmp/mc.sock", "FuseShot on unix:///tmp/mc.sock", setup=small)
    assert "part_bytes" in str(told), told


# -- calls a server's limit ends --------------------------------------------------------------------


def _fuse_with_a_blocked_progress_callback(address: str, seconds: float) -> str:
    """A shot whose progress callback blocks at its first frame for ``seconds``: the client reads
    nothing meanwhile, and the server's send stalls. The error the client reads."""
    plate, matte = shot(16, 256)

    def progress(done: int, total: int, frame: int) -> None:
        if done == 1:
            time.sleep(seconds)

    with connect(address, name="blocked-ui", retries=0) as client, pytest.raises(JobCancelledError) as ended:
        client.fuse_arrays(plate, matte, grade=GRADE, engine="hard", progress=progress, timeout=60)
    return str(ended.value)


def test_a_call_the_idle_limit_ends_says_so_though_its_client_read_nothing(server_with):
    server = server_with("--idle-timeout", "1")
    message = _fuse_with_a_blocked_progress_callback(server.address, 5)
    assert "the server ended job" in message and "--idle-timeout" in message, message
    assert "sent nothing (or under 64 KiB) and read nothing for 1s" in message, message
    assert "progress callback" in message, message
    assert server.wait_for("job.limit")


def test_a_call_the_total_limit_ends_says_so_though_its_client_read_nothing(server_with):
    server = server_with("--max-call-time", "1")
    message = _fuse_with_a_blocked_progress_callback(server.address, 6)
    assert "the server ended job" in message and "--max-call-time" in message, message
    assert "limit of 1s a call" in message, message


def test_a_bare_cancel_from_the_server_names_its_limits():
    """A server that ends a call without a word (an older one) is told as the server's doing: the
    client cancelled nothing."""
    told = from_rpc_error(_RpcError(grpc.StatusCode.CANCELLED, ""), "unix:///s", "FuseShot on unix:///s")
    assert isinstance(told, JobCancelledError)
    assert "--idle-timeout" in str(told) and "--max-call-time" in str(told), told
    assert "the server ended the call" in str(told), told


def test_a_cancel_the_client_made_is_still_its_own(served):
    plate, matte = shot(8, 64)
    with connect(served.address, name="canceller") as client:
        call = client.shot(
            shot_setup(clip=list(range(1, 9)), grade=GRADE, engine="hard", matte_frames=True),
            _array_frames(plate, matte),
        )
        call.cancel()
        with pytest.raises(JobCancelledError, match="cancelled by this client"):
            list(call)


def _array_frames(plate: np.ndarray, matte: np.ndarray):
    from movingcolor_client.sources import ArrayFrames

    return ArrayFrames.from_stacks({"plate": plate, "matte": matte}, 1)


# -- window warnings in the server's log ------------------------------------------------------------


def _scrub(address: str, name: str, windows: int, seed: int = 0) -> list[tuple[str, ...]]:
    """``windows`` windows of a 64 px shot with a band too wide for it: each warns of the band. A shot
    of another ``seed`` is fused anew, where the server would answer the same windows from its cache."""
    plate, matte = shot(windows + 2, 64, seed)
    said = []
    with connect(address, name=name) as client:
        for target in range(1, windows + 1):
            frames = range(target - 1, target + 2)
            fused = client.fuse_window(
                target + 1000,
                {1000 + k: plate[k] for k in frames},
                {1000 + k: matte[k] for k in frames},
                grade=GRADE,
                engine="hard",
                band=12,
            )
            said.append(fused.warnings)
    return said


def test_a_scrubs_window_warnings_are_logged_once_per_client_and_sent_every_window(server_with):
    server = server_with()
    said = _scrub(server.address, "scrubber", 6)
    # Every window's frame still carries the warning for its host to show.
    assert all(any("band width 12px" in warning for warning in warnings) for warnings in said), said
    logged = [line for line in server.log if "band width 12px" in line]
    assert len(logged) == 1, logged
    # Another client is told in the log too: it is another artist's scrub.
    _scrub(server.address, "another", 2, seed=1)
    logged = [line for line in server.log if "band width 12px" in line]
    assert len(logged) == 2, logged


def test_a_shots_warnings_are_logged_every_shot(server_with):
    server = server_with()
    plate, matte = shot(2, 64)
    with connect(server.address, name="shots") as client:
        for _ in range(2):
            client.fuse_arrays(plate, matte, grade=GRADE, engine="hard", band=12)
    logged = [line for line in server.log if "band width 12px" in line]
    assert len(logged) == 2, logged


def test_repeats_are_quiet_for_their_period_per_client_and_text():
    repeats = service_logs.RepeatedWarnings(period=600.0, most=8)
    assert not repeats.seen("nuke@a", "band too wide", now=0.0)
    assert repeats.seen("nuke@a", "band too wide", now=10.0)
    assert not repeats.seen("nuke@b", "band too wide", now=10.0)
    assert not repeats.seen("nuke@a", "grade flattens", now=10.0)
    # Past its period a warning is logged again, and is quiet for another period from then.
    assert not repeats.seen("nuke@a", "band too wide", now=700.0)
    assert repeats.seen("nuke@a", "band too wide", now=1200.0)


def test_repeats_remember_a_bounded_number_of_warnings():
    repeats = service_logs.RepeatedWarnings(period=600.0, most=2)
    for client in ("a", "b", "c"):
        assert not repeats.seen(client, "band too wide", now=1.0)
    # The oldest was forgotten, within its period: logged again rather than held without bound.
    assert not repeats.seen("a", "band too wide", now=2.0)
    assert repeats.seen("c", "band too wide", now=3.0)


def test_a_repeat_is_demoted_to_debug_not_dropped(caplog):
    """A repeat still reaches a debug log (serve -v), as a debug record."""
    quiet_repeats = service_logs.quiet_repeats

    caplog.set_level(logging.DEBUG)
    logger = logging.getLogger("movingcolor.spec.test_repeats")
    with quiet_repeats("client-a"):
        logger.warning("a warning %s", "here")
        logger.warning("a warning %s", "here")
    levels = [r.levelno for r in caplog.records if r.getMessage() == "a warning here"]
    assert levels == [logging.WARNING, logging.DEBUG], levels
