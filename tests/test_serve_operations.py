"""``movingcolor serve`` as a studio admin runs it: restarts on one socket, two starts at once, a bad
``$OCIO``, sockets the server's user may not take, JSON logs a collector reads line by line, the job
each log line belongs to, and the signals a supervisor or a closed terminal sends."""

from __future__ import annotations

import contextlib
import fcntl
import io
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import grpc
import numpy as np
import pytest
from conftest import short_folder
from grpc_health.v1 import health_pb2, health_pb2_grpc
from movingcolor.errors import AddressError
from movingcolor.jobs.demo_shot import write_demo_inputs
from movingcolor.service.logs import EventFormatter
from movingcolor.service.process import ServerProcess
from movingcolor.service.server import create_server
from movingcolor.v1 import fusion_pb2, fusion_pb2_grpc
from movingcolor_client import connect
from test_service_calls import serving

GRADE = "slope=1.25,1.0,0.8"
#: A server that should have refused to start but serves fails its test after this long, not hangs it.
START_LIMIT = 30.0


def serve_command(address: str, *args: str) -> list[str]:
    command = [sys.executable, "-m", "movingcolor.cli.main", "serve", "--address", address, "--no-warm-up"]
    return [*command, *args]


def refused_start(command: list[str], env: dict[str, str] | None = None, **options) -> tuple[int, str]:
    """Run a ``serve`` that must refuse to start: its exit status and its log. One that starts after
    all is killed and fails the test."""
    process = subprocess.Popen(
        command,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
        **options,
    )
    try:
        _, log = process.communicate(timeout=START_LIMIT)
    except subprocess.TimeoutExpired:
        process.kill()
        _, log = process.communicate()
        pytest.fail(f"the server started where it should have refused to: {log[-2000:]}")
    return process.returncode, log


# -- 1. a server still draining and the server that replaces it -------------------------------------


def test_a_draining_server_leaves_the_socket_of_the_server_that_replaced_it():
    """A restart: the old server drains (a health Watch holds it in its grace) while the new one
    starts on the same socket. The old one removed the socket at its exit without looking whose it
    was, and the new server ran on, unreachable."""
    folder = short_folder()
    path = folder / "mc.sock"
    address = f"unix://{path}"
    old = ServerProcess(address, ["--no-warm-up", "--grace", "8"]).start()
    channel = grpc.insecure_channel(address)
    try:
        watch = health_pb2_grpc.HealthStub(channel).Watch(health_pb2.HealthCheckRequest(service=""))
        assert next(watch).status == health_pb2.HealthCheckResponse.SERVING
        old.process.send_signal(signal.SIGTERM)
        assert old.wait_for("stopping")
        with ServerProcess(address, ["--no-warm-up"]) as new:
            watch.cancel()  # the old server's last call: its drain ends
            assert old.process.wait(timeout=30) == 0, old.log[-5:]
            assert path.is_socket(), "the old server removed its successor's socket"
            with connect(new.address, retries=0) as client:
                assert client.health() == "SERVING"
    finally:
        channel.close()
        old.kill()
        shutil.rmtree(folder, ignore_errors=True)


# -- 2. two servers started at once on one socket --------------------------------------------------


def test_a_server_refuses_a_socket_whose_lock_another_holds():
    """The lock beside the socket is what a starting server holds while it checks and binds (and a
    serving one while it serves): held, the socket is another server's, whatever the check sees."""
    folder = short_folder()
    path = folder / "mc.sock"
    lock = os.open(f"{path}.lock", os.O_RDONLY | os.O_CREAT, 0o644)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)
        code, log = refused_start(serve_command(f"unix://{path}"))
        assert code == 2 and "another server is listening on" in log, log[-2000:]
        assert not path.exists()
    finally:
        os.close(lock)
        shutil.rmtree(folder, ignore_errors=True)


def test_two_servers_started_at_the_same_moment_on_one_socket_one_is_refused(monkeypatch):
    """Both found the socket free, then gRPC's bind replaced the first's socket with the second's: both
    said "serving", and one of them could never be reached. Here both are held after the check until
    the other has checked too, as two starts at the same moment may be."""
    from movingcolor.service import server as server_module

    folder = short_folder()
    address = f"unix://{folder}/mc.sock"
    together = threading.Barrier(2)
    check = server_module.check_unix_socket_free

    def checked_at_the_same_moment(path: Path) -> None:
        check(path)
        # Broken where the other start was refused before its check.
        with contextlib.suppress(threading.BrokenBarrierError):
            together.wait(timeout=3)

    monkeypatch.setattr(server_module, "check_unix_socket_free", checked_at_the_same_moment)
    results: list = []

    def start() -> None:
        try:
            results.append(create_server(address)[0])
        except AddressError as error:
            results.append(error)

    threads = [threading.Thread(target=start) for _ in range(2)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        servers = [r for r in results if not isinstance(r, Exception)]
        refusals = [r for r in results if isinstance(r, Exception)]
        assert len(servers) == 1 and len(refusals) == 1, results
        assert "another server is listening on" in str(refusals[0])
    finally:
        for result in results:
            if not isinstance(result, Exception):
                result.stop(None)
        shutil.rmtree(folder, ignore_errors=True)


def test_a_killed_server_s_lock_keeps_no_server_from_its_socket():
    """A server killed with SIGKILL leaves its socket and its lock file: the lock went with its
    process, so the next server starts there; a clean stop leaves neither file."""
    folder = short_folder()
    path = folder / "mc.sock"
    try:
        killed = ServerProcess(f"unix://{path}", ["--no-warm-up"]).start()
        killed.kill()
        assert path.exists()
        with (
            ServerProcess(f"unix://{path}", ["--no-warm-up"]) as server,
            connect(server.address, retries=0) as client,
        ):
            assert client.health() == "SERVING"
        assert server.process.returncode == 0
        assert sorted(p.name for p in folder.iterdir()) == []
    finally:
        shutil.rmtree(folder, ignore_errors=True)


# -- 3. a bad $OCIO ---------------------------------------------------------------------------------


def test_serve_refuses_an_ocio_config_it_cannot_load():
    """The server said SERVING, then failed every client's GetInfo with a traceback in its log and
    advice (--config) that serve has no option for."""
    folder = short_folder()
    path = folder / "mc.sock"
    try:
        code, log = refused_start(serve_command(f"unix://{path}"), env={"OCIO": "/nonexistent/config.ocio"})
        assert code == 2, log[-2000:]
        assert "$OCIO" in log and "/nonexistent/config.ocio" in log and "--config" not in log, log
        assert "Traceback" not in log and not path.exists()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def test_get_info_reports_a_config_broken_after_the_start_as_an_error(monkeypatch, tmp_path, caplog):
    """The config removed under a running server: GetInfo answers why, without a traceback."""
    with serving() as (address, _state), grpc.insecure_channel(address) as channel:
        monkeypatch.setenv("OCIO", str(tmp_path / "gone.ocio"))
        with pytest.raises(grpc.RpcError) as failed:
            fusion_pb2_grpc.FusionStub(channel).GetInfo(fusion_pb2.GetInfoRequest(), timeout=30)
    assert failed.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "$OCIO" in failed.value.details() and "gone.ocio" in failed.value.details()
    assert "--config" not in failed.value.details()
    assert not [r for r in caplog.records if r.exc_info], "a traceback in the server's log"


# -- 4. sockets the server's user may not take ------------------------------------------------------


def _without_file_override() -> list[str]:
    """A prefix that runs a process of this (root) user without the capabilities that pass over
    files' modes and a sticky folder's owners: the system refuses it as it refuses another user."""
    setpriv = shutil.which("setpriv")
    if os.geteuid() != 0 or setpriv is None:
        pytest.skip("needs root and setpriv, to be refused a folder as another user is")
    drop = "-dac_override,-dac_read_search,-fowner"
    return [setpriv, f"--bounding-set={drop}", f"--inh-caps={drop}"]


def test_a_folder_the_server_s_user_may_not_write_is_named():
    prefix = _without_file_override()
    folder = short_folder()
    locked = folder / "locked"
    locked.mkdir(mode=0o755)
    os.chown(locked, 65534, 65534)
    try:
        code, log = refused_start([*prefix, *serve_command(f"unix://{locked}/mc.sock")])
        assert code == 2 and f"folder {locked} is not writable by user" in log, log[-2000:]
        assert "another server" not in log
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def test_a_stale_socket_of_another_user_is_named_with_its_owner():
    """In a sticky folder (/tmp) a dead server's socket of another user cannot be removed by this
    one: gRPC failed to bind, read as another server on the socket."""
    prefix = _without_file_override()
    folder = short_folder()
    sticky = folder / "sticky"
    sticky.mkdir()
    os.chmod(sticky, 0o1777)
    os.chown(sticky, 65534, 65534)
    path = sticky / "mc.sock"
    with socket.socket(socket.AF_UNIX) as dead:
        dead.bind(str(path))
    os.chmod(path, 0o777)
    os.chown(path, 65534, 65534)
    try:
        code, log = refused_start([*prefix, *serve_command(f"unix://{path}")])
        assert code == 2 and f"{path} is a socket left by user" in log, log[-2000:]
        assert "remove it" in log and "another server" not in log
    finally:
        shutil.rmtree(folder, ignore_errors=True)


# -- 5. JSON logs are JSON ----------------------------------------------------------------------------


def _not_json(lines: list[str]) -> list[str]:
    wrong = []
    for line in lines:
        try:
            json.loads(line)
        except ValueError:
            wrong.append(line)
    return wrong


def test_a_json_log_holds_no_line_of_grpc_s_own(tmp_path, monkeypatch):
    """gRPC's core wrote its own lines (a client speaking plain text to a TLS port: "Handshake
    failed") between the JSON events."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed (it makes the test certificate)")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "key.pem", "-out",
         "cert.pem", "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1", "-days", "2"],
        cwd=tmp_path, check=True, capture_output=True,
    )  # fmt: skip
    monkeypatch.delenv("GRPC_VERBOSITY", raising=False)
    args = ["--tls-cert", tmp_path / "cert.pem", "--tls-key", tmp_path / "key.pem", "--log-format", "json"]
    with ServerProcess("127.0.0.1:0", [*args, "--no-warm-up"]) as server:
        host, port = server.address.rsplit(":", 1)
        for _ in range(3):
            with socket.create_connection((host, int(port)), timeout=5) as plain:
                plain.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\nnot TLS at all\r\n")
                plain.recv(1024)
        time.sleep(0.5)
    assert server.process.returncode == 0
    assert not _not_json(server.log), server.log


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--grace", "-1"], "--grace must be 0"),
        (["--max-jobs", "many"], "--max-jobs: invalid int value"),
    ],
)
def test_a_failed_start_is_a_json_event_in_a_json_log(args, says):
    folder = short_folder()
    try:
        code, log = refused_start(serve_command(f"unix://{folder}/mc.sock", "--log-format", "json", *args))
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    lines = log.splitlines()
    assert code == 2 and lines and not _not_json(lines), log
    failed = [json.loads(line) for line in lines if json.loads(line).get("event") == "failed"]
    assert failed and failed[-1]["level"] == "error" and says in failed[-1]["error"], lines
    assert failed[-1]["exit_code"] == 2


# -- 6. the job each log line belongs to ----------------------------------------------------------


def test_a_job_s_own_log_lines_carry_its_id(tmp_path):
    """The shot's own lines (its colourspaces, a band too wide for the frame) came without a job id:
    with jobs running at once, an admin could not tell whose they were. FuseShot's lines are logged
    on its call's thread, RunJob's on its worker's."""
    written = io.StringIO()
    handler = logging.StreamHandler(written)
    handler.setFormatter(EventFormatter("json"))
    logger = logging.getLogger("movingcolor")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    plate, matte = write_demo_inputs(tmp_path / "shot", frames=2, width=96, height=64)
    try:
        with serving(roots=(tmp_path,)) as (address, _state), connect(address, retries=0) as client:
            edge = np.zeros((1, 64, 96), np.float32)
            edge[:, :, 40:] = 1.0
            client.fuse_arrays(np.full((1, 64, 96, 3), 0.2, np.float32), edge, grade=GRADE, band=12)
            client.run_job(plate, str(tmp_path / "out" / "f.####.exr"), matte, grade=GRADE)
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    records = [json.loads(line) for line in written.getvalue().splitlines()]
    jobs = {r["job"]: r["method"] for r in records if r["event"] == "job.start"}
    own = [r for r in records if r["event"] == "log"]
    assert own, records
    assert all(r.get("job") in jobs for r in own), [r for r in own if r.get("job") not in jobs]
    assert {jobs[r["job"]] for r in own} == {"FuseShot", "RunJob"}, own
    served = [r for r in records if r["event"] in ("job.start", "job.end")]
    assert all(r["job"] in jobs for r in served)


# -- 7. signals -----------------------------------------------------------------------------------------


def test_sighup_drains_the_server_as_sigterm_does():
    """A closed terminal or a supervisor's SIGHUP killed the server at once: no drain, no log line,
    its socket left behind."""
    folder = short_folder()
    path = folder / "mc.sock"
    try:
        server = ServerProcess(f"unix://{path}", ["--no-warm-up"]).start()
        server.process.send_signal(signal.SIGHUP)
        assert server.process.wait(timeout=30) == 0, server.log[-5:]
        assert server.wait_for("stopped", timeout=5)
        stopping = next(line for line in server.log if line.startswith("movingcolor: stopping"))
        assert "signal=SIGHUP" in stopping and not path.exists()
    finally:
        server.kill()
        shutil.rmtree(folder, ignore_errors=True)


def test_a_server_started_under_nohup_serves_on_after_sighup():
    """``nohup movingcolor serve &`` asks that a closed terminal leave the server running."""
    folder = short_folder()
    path = folder / "mc.sock"
    server = subprocess.Popen(
        serve_command(f"unix://{path}"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        preexec_fn=lambda: signal.signal(signal.SIGHUP, signal.SIG_IGN),
    )
    try:
        deadline = time.monotonic() + START_LIMIT
        while not path.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        with connect(f"unix://{path}") as client:
            assert client.health() == "SERVING"
            server.send_signal(signal.SIGHUP)
            time.sleep(1.0)
            assert server.poll() is None and client.health() == "SERVING"
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=30) == 0
    finally:
        if server.poll() is None:
            server.kill()
        shutil.rmtree(folder, ignore_errors=True)


def test_the_signals_that_drain_the_server_are_those_the_system_has(monkeypatch):
    """Windows' signal module has no SIGHUP: reading it made every server there fail to start."""
    import signal

    from movingcolor.service.server import _stop_signals

    assert signal.SIGTERM in _stop_signals() and signal.SIGINT in _stop_signals()
    monkeypatch.delattr(signal, "SIGHUP")
    assert _stop_signals() == (signal.SIGTERM, signal.SIGINT)
