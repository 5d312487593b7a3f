"""``movingcolor fuse --server`` keeps an in-process run's promises: no output overwrites an input,
no temporary is left behind for good, a rerun keeps finished frames, and every failure is a clear
message with the right exit status (2: fix something; 75: retry later), never a traceback."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from conftest import output_files, run_cli, short_folder
from movingcolor.errors import TRANSIENT_EXIT_CODE, MovingColorError
from movingcolor.frames.image_io import read_pixels, write_image
from movingcolor.frames.temporaries import STALE_SECONDS, temporary_path
from movingcolor.protocol.images import raw_image
from movingcolor.service.process import ServerProcess
from movingcolor_client import connect, shot_setup

GRADE = "slope=1.2,1.0,0.8;offset=0.01;power=1.0;sat=1.1"


def write_plate(folder: Path, first: int = 996, last: int = 1003, size: tuple[int, int] = (32, 48)) -> str:
    """An RGBA EXR plate (the alpha is the matte), ``plate.####.exr`` from ``first`` (0996: padded)."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(first)
    height, width = size
    rows, columns = np.mgrid[0:height, 0:width]
    for number in range(first, last + 1):
        pixels = rng.uniform(0.05, 0.9, (height, width, 4)).astype(np.float32)
        centre = width / 2 + (number - first) % 5
        pixels[..., 3] = ((rows - height / 2) ** 2 + (columns - centre) ** 2 < (height / 3) ** 2).astype(
            np.float32
        )
        write_image(folder / f"plate.{number:04d}.exr", pixels, channels=("R", "G", "B", "A"))
    return str(folder / "plate.####.exr")


def fuse(server, plate, out, *extra) -> int:
    return run_cli("fuse", "--server", server, "--plate", plate, "--grade", GRADE, "--engine", "hard",
                   "--out", out, *extra)  # fmt: skip


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def dead_pid() -> int:
    process = subprocess.Popen(["true"])
    process.wait()
    return process.pid


# -- outputs never overwrite inputs ---------------------------------------------------------


@pytest.mark.parametrize("spelling", ["padding", "percent-d", "symlinked folder", "relative", "matte"])
def test_an_output_never_overwrites_an_input(served, tmp_path, monkeypatch, capsys, spelling):
    # Plate frames 0996-1003: an output with three digits misses the first frames but not 1000-1003.
    shot = tmp_path / "shot"
    plate = write_plate(shot)
    extra = []
    if spelling == "padding":
        out = shot / "plate.###.exr"
    elif spelling == "percent-d":
        out = shot / "plate.%d.exr"
    elif spelling == "symlinked folder":
        (tmp_path / "link").symlink_to(shot)
        out = tmp_path / "link" / "plate.###.exr"
    elif spelling == "relative":
        (tmp_path / "elsewhere").mkdir()
        monkeypatch.chdir(tmp_path / "elsewhere")
        out = "../shot/./plate.%03d.exr"
    else:  # another role's files: a matte sequence beside the plate
        for number in range(996, 1004):
            write_image(shot / f"matte.{number:04d}.png", np.ones((32, 48, 1), np.float32), channels=("Y",))
        extra = ["--matte", shot / "matte.####.png"]
        out = shot / "matte.%d.png"
    before = snapshot(shot)
    assert fuse(served.address, plate, out, *extra) == 2
    error = capsys.readouterr().err
    assert "would overwrite" in error and "1000" in error and "Traceback" not in error
    assert snapshot(shot) == before  # byte for byte, and nothing added (no temporaries either)


# -- no litter ------------------------------------------------------------------------------


def test_a_matte_shorter_than_the_plate_is_an_error_as_in_process(served, tmp_path, capsys):
    """The clip the server sees would be the frames every source shares; the shot is the plate's."""
    plate = write_plate(tmp_path / "shot", 1001, 1008)
    mattes = tmp_path / "matte"
    mattes.mkdir()
    for number in range(1001, 1005):
        write_image(mattes / f"m.{number}.png", np.ones((32, 48, 1), np.float32), channels=("Y",))
    out = tmp_path / "out"
    matte = ["--matte", str(mattes / "m.####.png")]
    assert fuse(served.address, plate, out / "f.####.exr", *matte) == 2
    assert "matte is missing 4 of frames 1001-1008" in capsys.readouterr().err
    assert output_files(out) == []
    assert fuse(served.address, plate, out / "f.####.exr", *matte, "--frames", "1001-1004") == 0


def test_a_rerun_removes_temporaries_a_killed_run_left(served, tmp_path):
    plate = write_plate(tmp_path / "shot", 1001, 1004)
    out = tmp_path / "out"
    assert fuse(served.address, plate, out / "f.####.exr") == 0
    frame = out / "f.1002.exr"
    ours = temporary_path(frame)  # this process: a writer still running
    dead = ours.with_name(ours.name.replace(f"-{os.getpid()}-", f"-{dead_pid()}-"))
    old_form = out / ".f.1003.exr.0badf00d.partial"  # the naming before writers were recorded
    recent_old_form = out / ".f.1004.exr.12345678.partial"
    other_shot = out / f".g.1002.exr.{dead.name.split('.exr.', 1)[1]}"
    for path in (ours, dead, old_form, recent_old_form, other_shot):
        path.write_bytes(b"half a frame")
    long_ago = time.time() - STALE_SECONDS - 60
    os.utime(old_form, (long_ago, long_ago))

    assert fuse(served.address, plate, out / "f.####.exr") == 0
    assert not dead.exists() and not old_form.exists()
    assert ours.exists() and recent_old_form.exists() and other_shot.exists()


# -- reruns ---------------------------------------------------------------------------------


def _summary(capsys) -> dict:
    return json.loads(capsys.readouterr().out)


def _stamps(folder: Path) -> dict[str, int]:
    return {p.name: p.stat().st_mtime_ns for p in output_files(folder)}


def test_a_rerun_keeps_finished_frames_and_redoes_the_rest(served, tmp_path, capsys):
    plate = write_plate(tmp_path / "shot", 1001, 1006)
    out = tmp_path / "out"
    pattern = out / "f.####.exr"
    first = fuse(served.address, plate, pattern, "--json")
    assert first == 0 and len(_summary(capsys)["written"]) == 6
    done = _stamps(out)

    assert fuse(served.address, plate, pattern, "--json") == 0
    summary = _summary(capsys)
    assert summary["written"] == [] and len(summary["skipped"]) == 6
    assert summary["frames"] == "1001-1006" and summary["engine"] == "hard"
    assert _stamps(out) == done

    (out / "f.1003.exr").unlink()  # a missing frame, and a damaged one: both redone, nothing else
    damaged = out / "f.1005.exr"
    damaged.write_bytes(damaged.read_bytes()[:300])
    server = served.address
    assert fuse(server, plate, pattern, "--json") == 0
    summary = _summary(capsys)
    assert [Path(p).name for p in summary["written"]] == ["f.1003.exr", "f.1005.exr"]
    assert len(summary["skipped"]) == 4
    assert {k: v for k, v in _stamps(out).items() if k not in ("f.1003.exr", "f.1005.exr")} == {
        k: v for k, v in done.items() if k not in ("f.1003.exr", "f.1005.exr")
    }
    assert read_pixels(damaged).shape == (32, 48, 3)

    # Other settings make other frames; back to the first settings, the frames are stale again.
    assert fuse(server, plate, pattern, "--band", "6", "--json") == 0
    assert len(_summary(capsys)["written"]) == 6
    assert fuse(server, plate, pattern, "--json") == 0
    assert len(_summary(capsys)["written"]) == 6

    # An input frame changed: every frame of the clip may see it (windows reach across the
    # clip), so every frame is redone, as in-process.
    touched = tmp_path / "shot" / "plate.1002.exr"
    later = touched.stat().st_mtime + 10
    os.utime(touched, (later, later))
    assert fuse(server, plate, pattern, "--json") == 0
    assert len(_summary(capsys)["written"]) == 6
    assert fuse(server, plate, pattern, "--json") == 0
    assert _summary(capsys)["written"] == []

    assert fuse(server, plate, pattern, "--json", "--force") == 0
    summary = _summary(capsys)
    assert len(summary["written"]) == 6 and summary["skipped"] == []


def test_frames_from_a_server_with_another_default_model_are_redone(served, test_model, tmp_path, capsys):
    if test_model is None:
        pytest.skip("the movingcolor engine needs torch")
    from conftest import live_heads
    from movingcolor.model.checkpoint import save_checkpoint
    from movingcolor.model.registry import create_network

    models = tmp_path / "models"
    save_checkpoint(
        live_heads(create_network("tiny", seed=1), seed=2), models / "default", "tiny-other", "# test\n"
    )
    plate = write_plate(tmp_path / "shot", 1001, 1003)
    pattern = tmp_path / "out" / "f.####.exr"
    common = [
        "fuse",
        "--plate",
        plate,
        "--grade",
        GRADE,
        "--engine",
        "movingcolor",
        "--out",
        pattern,
        "--json",
    ]
    assert run_cli(*common, "--server", served.address) == 0
    assert _summary(capsys)["model"] == "tiny-random"
    folder = short_folder()
    try:
        with ServerProcess(f"unix://{folder}/mc.sock", env={"MOVINGCOLOR_MODELS": str(models)}) as other:
            assert run_cli(*common, "--server", other.address) == 0
            summary = _summary(capsys)
            assert summary["model"] == "tiny-other" and len(summary["written"]) == 3
            assert run_cli(*common, "--server", other.address) == 0
            assert len(_summary(capsys)["skipped"]) == 3
    finally:
        shutil.rmtree(folder, ignore_errors=True)


# -- write failures -------------------------------------------------------------------------


def _read_only(folder: Path) -> Callable[[], object] | None:
    """Make ``folder`` refuse new files; returns how to undo it, or None where that cannot be done."""
    if os.geteuid() != 0:
        folder.chmod(0o555)
        return lambda: folder.chmod(0o755)
    # Root writes through permissions, but not into an immutable folder.
    if (
        shutil.which("chattr") is None
        or subprocess.run(["chattr", "+i", folder], capture_output=True).returncode
    ):
        return None
    return lambda: subprocess.run(["chattr", "-i", folder], check=True)


def _a_folder_appears_at(monkeypatch, path: Path) -> None:
    """Another process makes a folder at ``path`` while the shot runs, just before the frame is
    renamed into place there (a folder there at the start is refused before any frame is fused)."""
    rename = os.replace

    def replace(source, target, *args, **kwargs):
        if os.path.basename(os.fspath(target)) == path.name:
            path.mkdir(exist_ok=True)
        return rename(source, target, *args, **kwargs)

    monkeypatch.setattr(os, "replace", replace)


def test_an_output_that_cannot_be_written_is_a_clear_error(served, tmp_path, capsys, monkeypatch):
    plate = write_plate(tmp_path / "shot", 1001, 1004)
    out = tmp_path / "out"
    _a_folder_appears_at(monkeypatch, out / "f.1003.exr")  # no one may replace it
    assert fuse(served.address, plate, out / "f.####.exr") == 2
    error = capsys.readouterr().err
    assert f"cannot write {out / 'f.1003.exr'}" in error and "Traceback" not in error
    assert "2 frames before it were written completely" in error
    assert [read_pixels(out / f"f.{n}.exr").shape for n in (1001, 1002)] == [(32, 48, 3)] * 2
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no temporary left
    monkeypatch.undo()

    locked = tmp_path / "locked"
    locked.mkdir()
    undo = _read_only(locked)
    if undo is None:
        pytest.skip("cannot make a folder read-only here: root, and no chattr +i on this file system")
    try:
        assert fuse(served.address, plate, locked / "f.####.exr") == 2
    finally:
        undo()
    error = capsys.readouterr().err
    assert f"{locked} is not writable" in error and "Traceback" not in error
    assert list(locked.iterdir()) == []


@pytest.mark.parametrize("through", ["in process", "server"])
def test_a_failure_in_json_lists_the_frames_written_before_it(served, tmp_path, capsys, through, monkeypatch):
    """A farm wrapper reading ``fuse --json`` learns which frames a run that stopped part way left
    whole, in process and through a server, as the message on stderr says how many."""
    plate = write_plate(tmp_path / "shot", 1001, 1004)
    out = tmp_path / "out"
    _a_folder_appears_at(monkeypatch, out / "f.1003.exr")
    server = ["--server", served.address] if through == "server" else []
    code = run_cli("fuse", *server, "--plate", plate, "--grade", GRADE, "--engine", "hard",
                   "--out", str(out / "f.####.exr"), "--json")  # fmt: skip
    assert code == 2
    failure = json.loads(capsys.readouterr().out)
    assert failure["exit_code"] == 2
    assert "f.1003.exr" in failure["error"] and "cannot write" in failure["error"]
    assert failure["written"] == [str(out / "f.1001.exr"), str(out / "f.1002.exr")]


def test_a_full_disk_is_a_clear_error(served, tmp_path, capsys, monkeypatch):
    plate = write_plate(tmp_path / "shot", 1001, 1004)
    out = tmp_path / "out"
    from movingcolor_client import results

    write_file = results._write_file
    writes = []

    def fill_the_disk(path, pieces):
        writes.append(path)
        if len(writes) <= 2:
            return write_file(path, pieces)
        whole = b"".join(bytes(piece) for piece in pieces)
        write_file(path, [whole[: len(whole) // 2]])
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))

    monkeypatch.setattr(results, "_write_file", fill_the_disk)
    # Exit 75, as in process: room made there, a farm's retry goes on (it exited 2, bad input).
    assert fuse(served.address, plate, out / "f.####.exr") == TRANSIENT_EXIT_CODE
    error = capsys.readouterr().err
    assert f"the disk holding {out} is full" in error and "Traceback" not in error
    assert "2 frames before it were written completely" in error
    assert sorted(p.name for p in out.iterdir()) == ["f.1001.exr", "f.1002.exr"]  # whole, no litter
    assert all(read_pixels(p).shape == (32, 48, 3) for p in out.iterdir())


# -- what the server refuses ----------------------------------------------------------------


class HeldFrames:
    """Frames whose images wait for ``release``: the server holds the job meanwhile."""

    clip = [1, 2]

    def __init__(self):
        self.release = threading.Event()

    def image(self, role, frame):
        self.release.wait(60)
        return raw_image(np.zeros((8, 8, 4), np.float32), ("R", "G", "B", "A"))


def _drain(call) -> None:
    with contextlib.suppress(MovingColorError):  # cancelled, once the test is done with it
        list(call)


def _wait_for_jobs(client, count: int) -> None:
    deadline = time.monotonic() + 30
    while client.info()["active_jobs"] != count and time.monotonic() < deadline:
        time.sleep(0.05)


def _float_plate(folder: Path, side: int) -> Path:
    """Two RGBA frames of ``side`` x ``side`` float samples, uncompressed: 16 x side² bytes each."""
    folder.mkdir()
    pixels = np.random.default_rng(side).uniform(0, 1, (side, side, 4)).astype(np.float32)
    pixels[..., 3] = 0.0
    pixels[side // 4 : -side // 4, side // 4 : -side // 4, 3] = 1.0
    for number in (1, 2):
        write_image(folder / f"plate.{number:04d}.exr", pixels, channels=("R", "G", "B", "A"),
                    pixel_type="float", compression="none")  # fmt: skip
    return folder / "plate.####.exr"


def test_limits_are_permanent_and_a_busy_server_is_transient(tmp_path, capsys):
    """Messages up to 256 KiB, images up to 512 KiB: 400 KiB frames go over the first, 576 KiB the
    second. A message limit below the client's 2 MiB parts is the server's to set: the client sends
    in the server's parts (it failed every frame of more than the limit, "larger than the server
    accepts"); an image limit refuses the image, for good."""
    large, huge = _float_plate(tmp_path / "large", 160), _float_plate(tmp_path / "huge", 192)
    folder = short_folder()
    limits = ["--max-message-mb", "0.25", "--max-image-mb", "0.5", "--max-jobs", "1"]
    held = HeldFrames()
    try:
        with ServerProcess(f"unix://{folder}/mc.sock", limits) as server:
            assert fuse(server.address, large, tmp_path / "a" / "f.####.exr") == 0
            assert len(output_files(tmp_path / "a")) == 2
            capsys.readouterr()
            assert fuse(server.address, huge, tmp_path / "b" / "f.####.exr") == 2
            assert "max-image-mb" in capsys.readouterr().err

            with connect(server.address) as client:
                call = client.shot(shot_setup(clip=held.clip, grade=GRADE, matte_frames=False), held)
                holder = threading.Thread(target=_drain, args=(call,), daemon=True)
                holder.start()
                _wait_for_jobs(client, 1)
                try:
                    assert fuse(server.address, large, tmp_path / "c" / "f.####.exr") == TRANSIENT_EXIT_CODE
                    assert "busy" in capsys.readouterr().err
                finally:
                    call.cancel()
                    held.release.set()
                    holder.join(30)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def _certificates(folder: Path) -> None:
    """A CA with a server and a client certificate, and a client certificate from another CA."""
    days = ["-days", "2"]
    for ca in ("ca", "other-ca"):
        _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{ca}.key", "-out", f"{ca}.pem",
                 "-subj", f"/CN=MovingColor test {ca}", *days, cwd=folder)  # fmt: skip
    leaf = "basicConstraints=CA:FALSE"
    signed = [
        ("server", "ca", "subjectAltName=IP:127.0.0.1,DNS:localhost"),
        ("client", "ca", leaf),
        ("stranger", "other-ca", leaf),
    ]
    for name, ca, extension in signed:
        _openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key", "-out", f"{name}.csr",
                 "-subj", f"/CN={name}", cwd=folder)  # fmt: skip
        (folder / f"{name}.ext").write_text(extension + "\n")
        _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.pem", "-CAkey", f"{ca}.key",
                 "-CAcreateserial", "-out", f"{name}.pem", "-extfile", f"{name}.ext", *days,
                 cwd=folder)  # fmt: skip


def test_a_refused_certificate_says_so_and_is_not_retried(tmp_path, capsys, monkeypatch):
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed (it makes the test certificates)")
    certificates = tmp_path / "tls"
    certificates.mkdir()
    _certificates(certificates)
    plate = write_plate(tmp_path / "shot", 1001, 1002)
    serve = ["--tls-cert", certificates / "server.pem", "--tls-key", certificates / "server.key",
             "--tls-client-ca", certificates / "ca.pem"]  # fmt: skip
    waits = []
    with ServerProcess("127.0.0.1:0", serve) as server:
        ca = ["--tls-ca", certificates / "ca.pem"]
        stranger = ["--tls-cert", certificates / "stranger.pem", "--tls-key", certificates / "stranger.key"]
        with monkeypatch.context() as patch:
            patch.setattr(time, "sleep", waits.append)  # a retry waits first
            assert fuse(server.address, plate, tmp_path / "a" / "f.####.exr", *ca) == 2
            error = capsys.readouterr().err
            assert "requires a client certificate" in error and "--tls-cert" in error
            assert fuse(server.address, plate, tmp_path / "b" / "f.####.exr", *ca, *stranger) == 2
            error = capsys.readouterr().err
            assert "refused this client's certificate" in error and "--tls-cert" in error
        assert waits == []
        # Without TLS at all: the server closes the connection, which is no server down.
        with monkeypatch.context() as patch:
            patch.setattr(time, "sleep", waits.append)
            assert fuse(server.address, plate, tmp_path / "d" / "f.####.exr") == 2
            assert "uses TLS and this client connected without it" in capsys.readouterr().err
        client = ["--tls-cert", certificates / "client.pem", "--tls-key", certificates / "client.key"]
        assert fuse(server.address, plate, tmp_path / "c" / "f.####.exr", *ca, *client) == 0
    assert not output_files(tmp_path / "a") and not output_files(tmp_path / "b")


def test_a_certificate_and_key_tls_cannot_use_are_named_not_taken_for_a_port_in_use(tmp_path, capsys):
    """A key of another certificate, the two files swapped, a client CA of no certificate: gRPC
    only failed to bind, and the server said another server might be using the port."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed (it makes the test certificates)")
    certificates = tmp_path / "tls"
    certificates.mkdir()
    _certificates(certificates)
    (certificates / "garbage.pem").write_text("not a certificate\n")
    server, key = certificates / "server.pem", certificates / "server.key"
    # A key with a passphrase: OpenSSL asked for it on the terminal, or failed with a traceback.
    locked = ["-in", "server.key", "-out", "locked.key", "-passout", "pass:x"]
    _openssl("pkcs8", "-topk8", *locked, cwd=certificates)
    for files, says in (
        (["--tls-cert", server, "--tls-key", certificates / "locked.key"], "is encrypted with a passphrase"),
        (["--tls-cert", server, "--tls-key", certificates / "client.key"], "cannot be used together"),
        (["--tls-cert", key, "--tls-key", server], "cannot be used together"),
        (["--tls-cert", server, "--tls-key", key, "--tls-client-ca", certificates / "garbage.pem"],
         "holds no certificate TLS can read"),
    ):  # fmt: skip
        assert run_cli("serve", "--address", "127.0.0.1:0", "--no-warm-up", *files) == 2
        error = capsys.readouterr().err
        assert says in error and "is another server using it" not in error


def test_through_a_server_a_folder_never_takes_another_plates_frames_either(served, tmp_path, capsys):
    """Frames a server fused record the client's plate (the setup says where it lives), so a
    folder fused into through a server is guarded as one fused in process: shots whose plates
    share a name never replace each other's frames, and a rerun of the same plate resumes."""
    renders = tmp_path / "renders"
    first = write_plate(tmp_path / "sh010" / "plate", 1001, 1002)
    second = write_plate(tmp_path / "sh020" / "plate", 1001, 1002)
    assert fuse(served.address, first, renders) == 0
    kept = snapshot(renders)
    assert fuse(served.address, second, renders) == 2
    assert "holds frames fused from another plate" in capsys.readouterr().err
    assert snapshot(renders) == kept
    assert fuse(served.address, first, renders, "--json") == 0
    assert len(json.loads(capsys.readouterr().out)["skipped"]) == 2


def test_a_server_that_stops_answering_fails_the_job_within_its_keepalive(tmp_path):
    """A server process stopped (or a machine cut off without closing the connection) held a
    farm job's call until its deadline, six hours. A call silent for the client's keepalive now
    pings the server, and a ping left unanswered fails the call as the server unavailable.

    (A client blocked sending a file to a stopped process cannot send its ping either; over TCP the
    kernel's timeout for unacknowledged data, which gRPC sets from the keepalive, covers a machine
    cut off.)"""
    import signal

    from movingcolor.jobs.demo_shot import write_demo_inputs
    from movingcolor.protocol import MIN_KEEPALIVE_SECONDS
    from movingcolor_client.errors import ServerUnavailableError

    plate, matte = write_demo_inputs(tmp_path / "shot", frames=40, width=1280, height=720)
    out = tmp_path / "out"
    folder = short_folder()
    with ServerProcess(f"unix://{folder}/mc.sock", ["--root", str(tmp_path)]) as server:
        failures: list[Exception] = []

        def run() -> None:
            with connect(server.address, retries=0, keepalive=MIN_KEEPALIVE_SECONDS) as client:
                try:
                    client.run_job(plate, str(out / "f.####.exr"), matte, grade=GRADE, engine="guided")
                except MovingColorError as error:
                    failures.append(error)

        call = threading.Thread(target=run)
        call.start()
        first_frame = time.monotonic() + 120
        while not output_files(out) and time.monotonic() < first_frame:
            time.sleep(0.02)
        os.kill(server.process.pid, signal.SIGSTOP)
        try:
            stopped = time.monotonic()
            call.join(60)
            waited = time.monotonic() - stopped
        finally:
            os.kill(server.process.pid, signal.SIGCONT)
        call.join()
    shutil.rmtree(folder, ignore_errors=True)
    assert waited < 60 and len(failures) == 1, failures
    assert isinstance(failures[0], ServerUnavailableError), failures[0]
    assert "unavailable" in str(failures[0])


def test_a_healthy_call_silent_for_long_keeps_its_connection():
    """A call the server answers only after a long silence (a job queued behind others, a slow
    frame) is pinged by its client every keepalive. A server of this version takes such pings; one
    with gRPC's defaults (a server older than the setting) closes the connection after a few, and the
    client says why and that retrying will not help, rather than call the server unavailable."""
    from concurrent import futures

    import grpc
    from movingcolor.protocol import MIN_KEEPALIVE_SECONDS
    from movingcolor.service.server import create_server
    from movingcolor_client.channel import make_channel
    from movingcolor_client.errors import ClientError, ServerUnavailableError, from_rpc_error

    silent = 5.5 * MIN_KEEPALIVE_SECONDS  # gRPC closes after the third ping too soon

    def answer_late(request, context):
        time.sleep(silent)
        return b"done"

    handler = grpc.method_handlers_generic_handler(
        "test.Silent", {"Wait": grpc.unary_unary_rpc_method_handler(answer_late)}
    )
    folder = short_folder()
    ours, _ = create_server(f"unix://{folder}/ours.sock")
    stock = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    stock.add_insecure_port(f"unix://{folder}/stock.sock")
    answers: dict[str, object] = {}

    def call(name: str) -> None:
        channel = make_channel(f"unix://{folder}/{name}.sock", keepalive=MIN_KEEPALIVE_SECONDS)
        try:
            answers[name] = channel.unary_unary("/test.Silent/Wait")(b"", timeout=silent + 30)
        except grpc.RpcError as error:
            answers[name] = from_rpc_error(error, f"unix://{folder}/{name}.sock", "waiting")
        finally:
            channel.close()

    for server in (ours, stock):
        server.add_generic_rpc_handlers((handler,))
        server.start()
    try:
        calls = [threading.Thread(target=call, args=(name,)) for name in ("ours", "stock")]
        for thread in calls:
            thread.start()
        for thread in calls:
            thread.join()
    finally:
        ours.stop(0)
        stock.stop(0)
        shutil.rmtree(folder, ignore_errors=True)
    assert answers["ours"] == b"done", answers["ours"]
    refused = answers["stock"]
    assert isinstance(refused, ClientError) and not isinstance(refused, ServerUnavailableError), refused
    assert "pinged a silent call more often than it allows" in str(refused)


def test_an_address_or_pem_file_a_server_would_refuse_is_refused_at_connect(tmp_path):
    """A port over 65535 reached another port (99999 is 34463: a shot was fused on whatever listened
    there), an http:// address failed only after the retries, told to start a server there, and a CA
    file that is no certificate was found at the first call, 7 s later, blamed on the server."""
    from movingcolor.errors import MovingColorError

    for address, reason in (
        ("127.0.0.1:99999", "port 99999 is over 65535"),
        ("http://127.0.0.1:50051", "is neither unix:///path/to.sock nor host:port"),
    ):
        with pytest.raises(MovingColorError, match=reason):
            connect(address)
    for address in ("127.0.0.1:50051", "[::1]:50051", "dns:///localhost:50051"):
        connect(address).close()
    not_pem = tmp_path / "ca.txt"
    not_pem.write_text("not a certificate\n")
    with pytest.raises(MovingColorError, match=r"TLS CA .*ca.txt holds no PEM certificate"):
        connect("127.0.0.1:50051", ca=not_pem)


def test_what_a_shot_warns_of_on_a_server_is_said_by_the_client(served, tmp_path, caplog):
    """A shot fused on a server warned in the server's log alone: an artist in Nuke, or a TD with
    fuse --server, never learnt their matte held two objects' shapes, united."""
    plate = write_plate(tmp_path / "shot", 1001, 1003)
    rows, columns = np.mgrid[0:32, 0:48]
    (tmp_path / "matte").mkdir()
    for number in range(1001, 1004):
        multi = np.zeros((32, 48, 3), np.float32)
        multi[..., 0] = np.hypot(rows - 16, columns - 12) < 8  # one object in R, another in G
        multi[..., 1] = (rows > 8) & (rows < 24) & (columns > 28) & (columns < 44)
        write_image(tmp_path / "matte" / f"m.{number}.exr", multi)
    matte = str(tmp_path / "matte" / "m.####.exr")
    with caplog.at_level("WARNING"):
        assert fuse(served.address, plate, tmp_path / "out" / "f.####.exr", "--matte", matte) == 0
    said = [r.getMessage() for r in caplog.records if r.name.startswith("movingcolor_client")]
    assert any("the matte's channels R, G hold different shapes" in message for message in said)
