"""Reliability: load held, faults survived, hostile inputs refused, and no input or earlier output changed.

Everything runs for real: ``movingcolor serve`` subprocesses on Unix sockets, ``movingcolor fuse``
subprocesses (in-process and ``--server``), the client library and the raw gRPC stubs, a generated
shot of EXR plates and PNG mattes on disk.

* **Load**: concurrent clients x frames for several rounds against one server, its resident
  memory (``/proc/PID/status`` VmRSS) before and after each round (``bench.server_memory``).
* **Faults**: the server killed mid-shot (``SIGKILL``: staying down, then restarted on the same
  socket), the client killed mid-shot, ``SIGTERM`` with jobs running, the output disk full, an
  in-process ``movingcolor fuse`` killed mid-run. Each checks that every frame on disk reads back
  whole, that a rerun completes the shot with frames identical to an uninterrupted run, and that
  no ``.partial`` temporaries are left.
* **Hostile inputs**: a catalogue of malformed or malicious requests, each sent through the command
  line, the client library, or the raw stubs; what each got (exit status or gRPC status and the
  first line of the message) and whether it was refused. What is accepted is reported, not assumed.
* **Checksums**: SHA-256 of every input before and after the whole run, and of the earlier outputs
  that later hostile runs wrote over.

    python -m movingcolor.bench.reliability --out docs/benchmarks/reliability.json \\
        --markdown BENCHMARKS.md --doc docs/reliability.md

``--quick`` runs the same scenarios on a smaller shot and a lighter load. ``--from FILE`` rewrites
the Markdown from an earlier JSON without running anything.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import logging
import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from ..color.config import ColorConfig
from ..errors import TRANSIENT_EXIT_CODE, MovingColorError
from ..frames.image_io import read_pixels, write_image
from ..frames.output_pattern import SUBFOLDER
from ..frames.temporaries import SUFFIX as PARTIAL_SUFFIX
from ..frames.temporaries import write_text_atomic
from ..protocol.digest import file_sha256
from ..service.process import ServerProcess
from ..synthetic import generate_shot
from .report import command_of, machine_lines, replace_section

GRADE = "slope=1.2,1.0,0.8;offset=0.01;power=1.0;sat=1.2"
FIRST = 1001
TOKEN = "reliability-token"
MIB = 1024 * 1024
TITLE = "## Reliability"
#: The part of docs/reliability.md this command rewrites; the prose around it is kept.
DOC_BEGIN = "<!-- reliability figures: written by python -m movingcolor.bench.reliability -->"
DOC_END = "<!-- end of reliability figures -->"
COMMAND = (
    "python -m movingcolor.bench.reliability --out docs/benchmarks/reliability.json "
    "--markdown BENCHMARKS.md --doc docs/reliability.md"
)
#: Seconds a server may take to exit after SIGTERM beyond its --grace (closing the listener,
#: the interpreter's own teardown) before the shutdown counts as unclean.
SHUTDOWN_MARGIN = 5.0
#: Exit statuses of ``movingcolor fuse``: 0 done, 1 a bug (traceback), 2 bad input, 75 retry later.
EXIT_BUG = 1
#: The outcomes that leave every input as it was: a refusal, or the frames written elsewhere.
SAFE = ("refused", "redirected")


@dataclass
class Settings:
    width: int = 432
    height: int = 240
    frames: int = 24
    load_clients: int = 8
    load_frames: int = 30
    load_rounds: int = 3
    load_size: tuple[int, int] = (216, 120)
    grace: float = 2.0
    idle_timeout: float = 2.0
    quick: bool = False

    @classmethod
    def for_run(cls, quick: bool) -> Settings:
        if quick:
            return cls(160, 90, 12, 4, 8, 2, (96, 64), quick=True)
        return cls()


@dataclass
class LoadRow:
    """One point of the load run: the server's memory then, and the wall time of the round before it."""

    point: str
    clients: int
    frames: int
    rss_mib: float
    seconds: float | None


@dataclass
class FaultRow:
    fault: str
    done: str
    expected: str
    observed: str
    #: True when the expectation held; None when the scenario could not be staged (e.g. the shot
    #: ended before the kill), which the table says rather than counting as either.
    survived: bool | None
    details: dict = field(default_factory=dict)
    #: What held but falls short of the expectation (shown beside the verdict).
    note: str = ""


@dataclass
class HostileRow:
    kind: str
    via: str
    #: ``exit N`` for the command line, the gRPC status name for calls.
    status: str
    message: str
    #: refused (a clean refusal), redirected (the request went through, written where it touches no
    #: input: a folder of plates gets its frames in ``fused/``), accepted (the request went through
    #: as asked), failed (a crash: exit 1, UNKNOWN or INTERNAL, or the harness could not stage it).
    outcome: str
    seconds: float


@dataclass
class ChecksumRow:
    files: str
    count: int
    unchanged: int
    changed: list[str]


# -- files ------------------------------------------------------------------------------------


def digests(folder: Path) -> dict[str, str]:
    """SHA-256 of every regular file under ``folder`` (symlinks as their targets' content), by path."""
    if not folder.exists():
        return {}
    return {str(p): file_sha256(p) for p in sorted(folder.rglob("*")) if p.is_file()}


def compare(label: str, before: dict[str, str], after: dict[str, str], root: Path) -> ChecksumRow:
    changed = [
        _shown(path, root) + (" (gone)" if path not in after else "")
        for path, digest in before.items()
        if after.get(path) != digest
    ]
    return ChecksumRow(label, len(before), len(before) - len(changed), changed)


def frame_files(folder: Path, prefix: str = "f.") -> list[Path]:
    """Output frames in ``folder``: visible files named ``prefix<number>.<ext>``."""
    if not folder.is_dir():
        return []
    name = re.compile(re.escape(prefix) + r"-?\d+\.\w+$")
    return sorted(p for p in folder.iterdir() if name.match(p.name))


def partials(folder: Path) -> list[Path]:
    """Temporaries a writer left (``.<name>.<owner>.partial``)."""
    return sorted(folder.rglob(f"*{PARTIAL_SUFFIX}")) if folder.is_dir() else []


def broken(paths: list[Path]) -> list[str]:
    """The frames that do not read back as whole images."""
    bad = []
    for path in paths:
        try:
            read_pixels(path)
        except Exception:  # any failure to decode means the frame is not whole
            bad.append(path.name)
    return bad


def differing(paths: list[Path], reference: Path) -> list[str]:
    """Frames whose pixels differ from the same-named frame of an uninterrupted run."""
    return [
        p.name
        for p in paths
        if not (reference / p.name).exists()
        or not np.array_equal(read_pixels(p), read_pixels(reference / p.name))
    ]


def _shown(path: str | Path, root: Path) -> str:
    """``path`` or a message with the work folder written ``<work>`` (relative forms too)."""
    # A relative path reaches the work folder by its name, however deep the run's own folder is.
    text = str(path).replace(".." + str(root), "../<work>").replace(str(root), "<work>")
    return text.replace(root.name, "<work>")


# -- the shot and the hostile files -------------------------------------------------------------


class Workspace:
    """Every file of a run under one short folder in /tmp (Unix socket paths are limited to 107 bytes)."""

    def __init__(self, settings: Settings, keep: bool = False):
        self.settings = settings
        self.keep = keep
        self.root = Path(tempfile.mkdtemp(prefix="mc-rel-", dir="/tmp"))
        self.farm = self.root / "farm"  # the servers' --root: RunJob may read and write here only
        self.outside = self.root / "outside"
        self.shot = self.farm / "shot"
        self.plate = str(self.shot / "plate.####.exr")
        self.matte = str(self.shot / "matte.####.png")
        self.reference = self.root / "ref"
        self.token_file = self.root / "token"
        self.mounts: list[Path] = []

    def path(self, name: str) -> Path:
        return self.root / name

    def serve_args(self, *extra: str) -> list[str]:
        return ["--root", str(self.farm), "--token-file", str(self.token_file), *extra]

    def socket(self, name: str) -> str:
        return f"unix://{self.root}/{name}.sock"

    def close(self) -> None:
        for mount in self.mounts:
            subprocess.run(["umount", str(mount)], capture_output=True, check=False)
        if not self.keep:
            shutil.rmtree(self.root, ignore_errors=True)


def write_shot(folder: Path, width: int, height: int, frames: int, first: int = FIRST, seed: int = 5) -> None:
    """The procedural shot as scene-linear half EXR plates and PNG mattes, as ``movingcolor demo``."""
    config = ColorConfig()
    shot = generate_shot(width=width, height=height, frames=frames, seed=seed)
    folder.mkdir(parents=True, exist_ok=True)
    for index in range(frames):
        number = first + index
        linear = config.convert(shot.plate[index], config.srgb_encoded, config.scene_linear)
        write_image(
            folder / f"plate.{number:04d}.exr", linear, attributes={"oiio:ColorSpace": config.scene_linear}
        )
        write_image(folder / f"matte.{number:04d}.png", shot.matte[index][..., None], channels=("Y",))


def write_declared_huge_exr(path: Path, width: int = 8000, height: int = 8000) -> None:
    """An EXR whose header declares ``width`` x ``height`` but holds one 64x64 tile: small on disk,
    huge if a reader allocates what the header says before checking it."""
    import OpenImageIO as oiio

    spec = oiio.ImageSpec(width, height, 3, "half")
    spec.tile_width = spec.tile_height = 64
    spec.attribute("compression", "zip")
    output = oiio.ImageOutput.create(str(path))
    if output is None or not output.open(str(path), spec):
        raise RuntimeError(f"cannot write {path}: {oiio.geterror()}")
    output.write_tile(0, 0, 0, np.full((64, 64, 3), 0.18, np.float16))
    output.close()


def prepare_hostile_files(ws: Workspace) -> None:
    """The inputs hostile runs use; every one is checksummed before and after the run."""
    shot = ws.shot
    # A plate numbered 0996-1003 with 4 digits: an output pattern of 3 digits names 1000-1003 alike.
    over = ws.farm / "over"
    over.mkdir()
    for index, number in enumerate(range(996, 1004)):
        source = FIRST + index % ws.settings.frames
        shutil.copy(shot / f"plate.{source:04d}.exr", over / f"plate.{number:04d}.exr")
        shutil.copy(shot / f"matte.{source:04d}.png", over / f"matte.{number:04d}.png")
    # A plate inside the root whose frame 1003 is a link to a file outside it.
    ws.outside.mkdir()
    link = ws.farm / "link"
    link.mkdir()
    for number in range(FIRST, FIRST + 4):
        if number == FIRST + 2:
            shutil.copy(shot / f"plate.{number:04d}.exr", ws.outside / f"plate.{number:04d}.exr")
            (link / f"plate.{number:04d}.exr").symlink_to(ws.outside / f"plate.{number:04d}.exr")
        else:
            (link / f"plate.{number:04d}.exr").symlink_to(shot / f"plate.{number:04d}.exr")
    # A real model folder outside the roots (the shipped one): if it were loaded, the job would run.
    # Found by path, not through the model registry, which would import torch into this process.
    shipped = Path(__file__).resolve().parents[1] / "weights" / "default"
    if shipped.is_dir():
        shutil.copytree(shipped, ws.outside / "model")
    else:
        (ws.outside / "model").mkdir()
    # A header that declares 8000x8000.
    bomb = ws.farm / "bomb"
    bomb.mkdir()
    write_declared_huge_exr(bomb / f"plate.{FIRST:04d}.exr")
    shutil.copy(shot / f"matte.{FIRST:04d}.png", bomb / "matte.png")
    # A two-channel (R, G) plate.
    pixels = read_pixels(shot / f"plate.{FIRST:04d}.exr")[..., :2]
    two = ws.farm / "two"
    two.mkdir()
    for number in (FIRST, FIRST + 1):
        write_image(two / f"plate.{number:04d}.exr", pixels, channels=("R", "G"))
        shutil.copy(shot / f"matte.{number:04d}.png", two / f"matte.{number:04d}.png")
    # A matte covering half the plate's frames.
    short = ws.farm / "short"
    short.mkdir()
    count = min(8, ws.settings.frames)
    for number in range(FIRST, FIRST + count):
        shutil.copy(shot / f"plate.{number:04d}.exr", short / f"plate.{number:04d}.exr")
        if number < FIRST + count // 2:
            shutil.copy(shot / f"matte.{number:04d}.png", short / f"matte.{number:04d}.png")


# -- running the command line -----------------------------------------------------------------


def fuse_args(plate: str, matte: str, out: Path | str, *extra: str, server: str | None = None) -> list[str]:
    args = ["--plate", plate, "--matte", matte, "--grade", GRADE, "--out", str(out), *extra]
    return args + (["--server", server] if server else [])


def cli_command(args: list[str]) -> list[str]:
    return [sys.executable, "-m", "movingcolor.cli.main", "fuse", *args]


def cli_env(token: str | None = TOKEN) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("MOVINGCOLOR_TOKEN", None)
    if token is not None:
        env["MOVINGCOLOR_TOKEN"] = token
    return env


@dataclass
class CliRun:
    rc: int
    message: str
    stdout: str
    seconds: float


def error_line(stderr: str) -> str:
    """The ``movingcolor: error:`` line, else the last line (a traceback's exception)."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    for line in lines:
        if line.startswith("movingcolor: error:"):
            return line[len("movingcolor: error:") :].strip()
    return lines[-1] if lines else ""


def run_cli(
    args: list[str], token: str | None = TOKEN, timeout: float = 600, preexec: Callable | None = None
) -> CliRun:
    started = time.monotonic()
    done = subprocess.run(
        cli_command(args),
        capture_output=True,
        text=True,
        env=cli_env(token),
        timeout=timeout,
        preexec_fn=preexec,
        check=False,
    )
    return CliRun(done.returncode, error_line(done.stderr), done.stdout, time.monotonic() - started)


def run_cli_here(args: list[str], token: str | None = TOKEN) -> CliRun:
    """``movingcolor fuse`` through its entry point in this process: what the console script runs, without
    a new interpreter per try (most hostile tries are refused before any work; startup would dominate)."""
    from ..cli.main import main as cli_main

    if token is not None and "--server" in args:
        args = [*args, "--token", token]
    errors, output = io.StringIO(), io.StringIO()
    # The command logs through the root logger; a handler of our own (present, so the command's
    # basicConfig adds none bound to this try's stream) catches its lines for this try only.
    root, handler = logging.getLogger(), logging.StreamHandler(errors)
    handler.setFormatter(logging.Formatter("movingcolor: %(message)s"))
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    started = time.monotonic()
    try:
        with contextlib.redirect_stderr(errors), contextlib.redirect_stdout(output):
            rc = cli_main(["fuse", *args])
    except SystemExit as stop:  # argparse refusing an option
        rc = stop.code if isinstance(stop.code, int) else 2
    except Exception as error:  # uncaught: the console script would print a traceback and exit 1
        rc = EXIT_BUG
        errors.write(f"\n{type(error).__name__}: {error}\n")
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
    return CliRun(rc, error_line(errors.getvalue()), output.getvalue(), time.monotonic() - started)


class Background:
    """A ``movingcolor fuse`` subprocess to kill or wait on; its stderr goes to a file, not a pipe
    that could fill and stall it."""

    def __init__(self, args: list[str], log: Path, token: str | None = TOKEN):
        self.log = log
        self.handle = open(log, "w")  # noqa: SIM115 - closed in wait()
        self.process = subprocess.Popen(
            cli_command(args), stdout=subprocess.DEVNULL, stderr=self.handle, env=cli_env(token)
        )

    def running(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> None:
        if self.running():
            self.process.send_signal(signal.SIGKILL)

    def wait(self, timeout: float = 600) -> int:
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait()
        finally:
            self.handle.close()

    def message(self) -> str:
        return error_line(self.log.read_text())


def wait_for_frames(folder: Path, count: int, running: Callable[[], bool], timeout: float = 300) -> int:
    """Wait until ``folder`` holds ``count`` frames (or the writer has exited); the count then."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = len(frame_files(folder))
        if found >= count or not running():
            return found
        time.sleep(0.02)
    return len(frame_files(folder))


# -- the client library and raw calls ---------------------------------------------------------


def connect(address: str, token: str | None = TOKEN, **options):
    from movingcolor_client import connect as client_connect

    return client_connect(address, token, **options)


def wait_idle(address: str, seconds: float = 60.0) -> float | None:
    """Seconds until the server runs no job, or None if it still does after ``seconds``."""
    started = time.monotonic()
    with connect(address) as client:
        while time.monotonic() - started < seconds:
            if not client.info()["active_jobs"]:
                return time.monotonic() - started
            time.sleep(0.05)
    return None


@dataclass
class CallOutcome:
    status: str
    message: str
    seconds: float


def attempt(call: Callable[[], object]) -> CallOutcome:
    """Run a client call; its gRPC status name (``OK`` when it went through) and message's first line."""
    import grpc

    started = time.monotonic()
    try:
        status, message = "OK", what_came_back(call())
    except grpc.RpcError as error:  # raw stubs
        status = error.code().name if hasattr(error, "code") else "UNKNOWN"
        message = (error.details() if hasattr(error, "details") else "") or str(error)
    except MovingColorError as error:  # the client library's ClientError carries the gRPC code
        code = getattr(error, "code", None)
        status = code.name if hasattr(code, "name") else "refused by the client"
        message = str(error)
    except Exception as error:  # anything else is the harness's own failure, never a refusal
        status, message = f"harness: {type(error).__name__}", str(error)
    return CallOutcome(status, (message.splitlines() or [""])[0], time.monotonic() - started)


def what_came_back(value: object) -> str:
    """A line on what an accepted call returned: the files a job wrote, the frames a shot sent."""
    if isinstance(value, dict) and "written" in value:
        return f"the job wrote {len(value['written'])} frames ({value.get('frames', '')})"
    if isinstance(value, np.ndarray):
        return f"{value.shape[0]} fused frames came back"
    if isinstance(value, list):
        return f"{len(value)} fused frames came back"
    return ""


def gist(message: str, limit: int = 110) -> str:
    """The head of a message, up to its first parenthesis or semicolon, for a table cell."""
    cut = min((i for i in (message.find(" ("), message.find("; ")) if i > 0), default=len(message))
    head = message[:cut]
    return head if len(head) <= limit else head[: limit - 1] + "…"


def outcome_of_status(status: str) -> str:
    if status == "OK":
        return "accepted"
    if status in ("UNKNOWN", "INTERNAL") or status.startswith("harness"):
        return "failed"
    return "refused"  # a client-side refusal (before anything was sent) counts too


def outcome_of_exit(rc: int) -> str:
    return "accepted" if rc == 0 else "failed" if rc == EXIT_BUG or rc < 0 else "refused"


class RawFrames:
    """Frames for ``ShotCall`` as a hostile host would send them: any channels, any clip, any info."""

    def __init__(self, clip: list[int], plate: Callable[[int], tuple], matte: Callable[[int], tuple]):
        self.clip = clip
        self._images = {"plate": plate, "matte": matte}

    def image(self, role: str, frame: int):
        return self._images[role](frame)


def _raw(pixels: np.ndarray, channels: tuple[str, ...]):
    from ..protocol.images import raw_image

    return raw_image(pixels, channels)


def small_frames(count: int = 2, size: tuple[int, int] = (32, 24)) -> tuple[np.ndarray, np.ndarray]:
    width, height = size
    plate = np.full((count, height, width, 3), 0.18, np.float32)
    matte = np.zeros((count, height, width), np.float32)
    matte[:, height // 4 : 3 * height // 4, width // 4 : 3 * width // 4] = 1.0
    return plate, matte


def setup_message(clip: list[int], frames: str | None = None, **options):
    from movingcolor_client import shot_setup
    from movingcolor_client.setup import output_message

    return shot_setup(clip=clip, grade=GRADE, frames=frames, output=output_message(None, "float"), **options)


def raw_requests(setup, images: list[tuple[str, int, tuple]], hold: threading.Event | None = None):
    """FuseShot/FuseWindow requests: ``setup`` (unless None), images ``(role, frame, (info, data))``,
    then, when ``hold`` is given, nothing until it is set (a stalled client)."""
    from ..protocol.images import ROLES, split
    from ..v1 import fusion_pb2

    if setup is not None:
        yield fusion_pb2.FuseShotRequest(setup=setup)
    for role, frame, (info, data) in images:
        for part in split(ROLES[role], frame, info, data, 2 * MIB):
            yield fusion_pb2.FuseShotRequest(part=part)
    if hold is not None:
        hold.wait(300)


def raw_call(address: str, method: str, requests, timeout: float, token: str | None = TOKEN) -> None:
    """Stream ``requests`` to ``method`` and read every answer; raises grpc.RpcError as the server ends it."""
    import grpc

    from ..v1 import fusion_pb2_grpc

    with grpc.insecure_channel(address) as channel:
        stub = fusion_pb2_grpc.FusionStub(channel)
        metadata = [("authorization", f"Bearer {token}")] if token else []
        for _ in getattr(stub, method)(requests, timeout=timeout, metadata=metadata):
            pass


# -- load ---------------------------------------------------------------------------------------


def measure_load(settings: Settings) -> dict:
    """Rounds of concurrent clients against one server (``bench.server_memory``); a round that
    fails ends the load run and is counted and reported."""
    from . import server_memory

    started = time.monotonic()
    rows: list[LoadRow] = []
    error = ""
    try:
        measured = server_memory.measure(
            settings.load_clients,
            settings.load_frames,
            settings.load_size,
            settings.load_rounds,
            "guided",
            [],
        )
    except Exception as failure:  # the load run stops at the first failed call; that is the figure
        measured, error = [], f"{type(failure).__name__}: {(str(failure).splitlines() or [''])[0]}"
    for row in measured:
        point = row["point"]
        clients, frames = (
            (settings.load_clients, settings.load_frames) if point.startswith("after round") else (0, 0)
        )
        if point.startswith("warm"):
            clients, frames = 1, 1
        rows.append(LoadRow(point, clients, frames, round(row["rss_mib"], 1), row["seconds"]))
    return {
        "clients": settings.load_clients,
        "frames": settings.load_frames,
        "rounds": settings.load_rounds,
        "size": list(settings.load_size),
        "engine": "guided",
        "calls": settings.load_clients * settings.load_rounds + 1,
        # server_memory stops a round at its first failed call: a failure is "at least one".
        "errors": 1 if error else 0,
        "error": error,
        "rows": [asdict(r) for r in rows],
        "seconds": round(time.monotonic() - started, 1),
    }


# -- faults -------------------------------------------------------------------------------------


def check_outputs(folder: Path, reference: Path, expected: int) -> dict:
    frames = frame_files(folder)
    return {
        "frames": len(frames),
        "expected": expected,
        "broken": broken(frames),
        "differ_from_uninterrupted": differing(frames, reference),
        "partials": [p.name for p in partials(folder)],
    }


def complete(check: dict) -> bool:
    return (
        check["frames"] == check["expected"]
        and not check["broken"]
        and not check["differ_from_uninterrupted"]
        and not check["partials"]
    )


def fault_server_killed(ws: Workspace) -> list[FaultRow]:
    """``movingcolor fuse --server`` while the server is SIGKILLed: once left down (the client
    should give up with 75, frames whole), once restarted at once on the same socket (the client
    resumes, or gives up and a rerun finishes the shot)."""
    folder = ws.path("fault-server")
    out = folder / "f.####.exr"
    total = ws.settings.frames
    server = ServerProcess(ws.socket("kill"), ws.serve_args()).start()
    rows = []
    try:
        client = Background(fuse_args(ws.plate, ws.matte, out, server=server.address), ws.path("a1.log"))
        before = wait_for_frames(folder, 2, client.running)
        staged = client.running()
        server.kill()
        rc = client.wait()
        whole = broken(frame_files(folder))
        written = len(frame_files(folder))
        rows.append(
            FaultRow(
                "server killed (SIGKILL), stays down",
                f"`fuse --server` of {total} frames; server killed after {before} frames were written",
                "client exits 75 (retry later); only whole frames on disk",
                f"exit {rc} ({gist(_shown(client.message(), ws.root))}); {written} frames on disk, "
                f"{len(whole)} broken",
                (rc == 75 and not whole) if staged else None,
                {"exit": rc, "frames_before_kill": before, "frames_on_disk": written, "broken": whole},
            )
        )

        server.start()
        client = Background(fuse_args(ws.plate, ws.matte, out, server=server.address), ws.path("a2.log"))
        before = wait_for_frames(folder, written + 2, client.running)
        staged = client.running()
        restarted: list[float] = []

        def restart() -> None:
            killed = time.monotonic()
            with contextlib.suppress(MovingColorError):  # a server that will not start: the rerun says so
                server.start()
                restarted.append(round(time.monotonic() - killed, 1))

        server.kill()
        restarter = threading.Thread(target=restart)
        restarter.start()
        rc = client.wait()
        restarter.join()
        restart_seconds = restarted[0] if restarted else None
        rerun = run_cli(fuse_args(ws.plate, ws.matte, out, "--json", server=server.address)) if rc else None
        check = check_outputs(folder, ws.reference, total)
        back = f"server back after {restart_seconds:g}s" if restart_seconds is not None else "server not back"
        resumed = "resumed and finished (exit 0)" if rc == 0 else f"exit {rc}, then a rerun exit {rerun.rc}"
        resumed = f"{back}; client {resumed}"
        rows.append(
            FaultRow(
                "server killed (SIGKILL), restarted on the same socket",
                f"`fuse --server` resumed; server killed after {before} frames and restarted at once",
                "client resumes (or exits 75 and a rerun finishes); shot complete, identical to an "
                "uninterrupted run, no `.partial` left",
                f"{resumed}; {check['frames']}/{total} frames, {len(check['broken'])} broken, "
                f"{len(check['differ_from_uninterrupted'])} differ, {len(check['partials'])} .partial",
                complete(check) and (rc == 0 or (rc == 75 and rerun.rc == 0)) if staged else None,
                {
                    "exit": rc,
                    "rerun_exit": rerun.rc if rerun else None,
                    "restart_seconds": restart_seconds,
                    **check,
                },
            )
        )
    finally:
        server.stop()
    return rows


def fault_client_killed(ws: Workspace, server: ServerProcess) -> FaultRow:
    """``movingcolor fuse --server`` SIGKILLed mid-shot: the server should end its job and free it."""
    folder = ws.path("fault-client")
    out = folder / "f.####.exr"
    total = ws.settings.frames
    client = Background(fuse_args(ws.plate, ws.matte, out, server=server.address), ws.path("b.log"))
    before = wait_for_frames(folder, 2, client.running)
    staged = client.running()
    client.kill()
    client.wait()
    freed = wait_idle(server.address)
    left = [p.name for p in partials(folder)]
    rerun = run_cli(fuse_args(ws.plate, ws.matte, out, server=server.address))
    check = check_outputs(folder, ws.reference, total)
    return FaultRow(
        "client killed (SIGKILL) mid-shot",
        f"`fuse --server` of {total} frames killed after {before} frames",
        "server frees the job (GetInfo active_jobs back to 0); a rerun completes the shot",
        (f"active_jobs 0 after {freed:.1f}s" if freed is not None else "job still active after 60s")
        + f"; {len(left)} .partial left by the killed client; rerun exit {rerun.rc}: "
        f"{check['frames']}/{total} frames, {len(check['differ_from_uninterrupted'])} differ, "
        f"{len(check['partials'])} .partial",
        (freed is not None and rerun.rc == 0 and complete(check)) if staged else None,
        {
            "frames_before_kill": before,
            "freed_seconds": freed,
            "partials_after_kill": left,
            "rerun_exit": rerun.rc,
            **check,
        },
    )


#: Frames of the shot the SIGTERM scenario runs: long enough that both jobs are still running when
#: the signal comes, at any shot size and machine speed.
LONG_FRAMES = 96


def long_shot(ws: Workspace) -> None:
    """The shot's frames repeated to LONG_FRAMES (hard links: no copies), inside the root."""
    folder = ws.farm / "long"
    folder.mkdir()
    for index in range(LONG_FRAMES):
        source = FIRST + index % ws.settings.frames
        for name in ("plate", "matte"):
            ext = "exr" if name == "plate" else "png"
            target = folder / f"{name}.{FIRST + index:04d}.{ext}"
            try:
                os.link(ws.shot / f"{name}.{source:04d}.{ext}", target)
            except OSError:
                shutil.copy(ws.shot / f"{name}.{source:04d}.{ext}", target)


def fault_sigterm(ws: Workspace) -> FaultRow:
    """SIGTERM while a ``fuse --server`` (the client writes) and a RunJob (the server writes) run."""
    grace = ws.settings.grace
    plate, matte = str(ws.farm / "long" / "plate.####.exr"), str(ws.farm / "long" / "matte.####.png")
    server = ServerProcess(ws.socket("term"), ws.serve_args("--grace", f"{grace:g}")).start()
    job_folder = ws.farm / "term-job"
    cli_folder = ws.path("term-cli")
    job_done: list[int] = []
    job_result: list[CallOutcome] = []

    def run_job() -> None:
        def progress(done: int, total: int, frame: int) -> None:
            job_done.append(done)

        with connect(server.address, retries=0) as client:
            job_result.append(
                attempt(
                    lambda: client.run_job(
                        plate, str(job_folder / "f.####.exr"), matte, grade=GRADE, progress=progress
                    )
                )
            )

    thread = threading.Thread(target=run_job)
    try:
        # The first GetInfo of a fresh server lists its engines and devices (slow); done here, it
        # does not hold up the jobs.
        with connect(server.address) as watcher:
            watcher.info()
            client = Background(
                fuse_args(plate, matte, cli_folder / "f.####.exr", server=server.address), ws.path("c.log")
            )
            # The command line starts slowest (a new interpreter): the RunJob starts once it writes.
            wait_for_frames(cli_folder, 1, client.running)
            thread.start()
            deadline = time.monotonic() + 120
            while thread.is_alive() and client.running() and time.monotonic() < deadline:
                if job_done and watcher.info()["active_jobs"] >= 2:
                    break
                time.sleep(0.02)
        staged = thread.is_alive() and client.running()
        signalled = time.monotonic()
        rc = server.stop(timeout=grace + 60)
        seconds = time.monotonic() - signalled
        client_rc = client.wait()
        if thread.ident is not None:
            thread.join(60)
    finally:
        server.kill()
    job_frames, cli_frames = frame_files(job_folder), frame_files(cli_folder)
    bad = broken(job_frames) + broken(cli_frames)
    left = [p.name for p in partials(job_folder) + partials(cli_folder)]
    stopped = "stopped" in " ".join(server.log[-3:])
    job = job_result[0] if job_result else CallOutcome("harness: no result", "", 0.0)
    return FaultRow(
        "SIGTERM with jobs running",
        f"server `--grace {grace:g}`; SIGTERM while a `fuse --server` and a RunJob of {LONG_FRAMES} frames "
        "each were writing",
        f"server exits 0 within grace + {SHUTDOWN_MARGIN:g}s; frames written are whole; no `.partial` left",
        f"exit {rc} after {seconds:.1f}s; fuse exit {client_rc}, RunJob {job.status}; "
        f"{len(cli_frames)}+{len(job_frames)} frames written, {len(bad)} broken, {len(left)} .partial",
        (rc == 0 and seconds <= grace + SHUTDOWN_MARGIN and not bad and not left) if staged else None,
        {
            "exit": rc,
            "seconds": round(seconds, 2),
            "logged_stopped": stopped,
            "runjob_status": job.status,
            "runjob_message": _shown(job.message, ws.root),
            "fuse_exit": client_rc,
            "fuse_message": _shown(client.message(), ws.root),
            "server_frames": len(job_frames),
            "client_frames": len(cli_frames),
            "broken": bad,
            "partials": left,
        },
    )


def mount_small_disk(folder: Path, size_bytes: int) -> bool:
    """A tmpfs of ``size_bytes`` at ``folder`` (needs root); False when it cannot be mounted."""
    folder.mkdir(parents=True, exist_ok=True)
    size_kib = max(64, size_bytes // 1024)
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size_kib}k", "tmpfs", str(folder)],
        capture_output=True,
        check=False,
    )
    return done.returncode == 0


def file_size_limit(limit: int) -> Callable[[], None]:
    """For a child process: files it writes may not grow past ``limit`` bytes (writes then fail
    with EFBIG; Python ignores SIGXFSZ, so the child is not killed by it)."""

    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


def fault_disk_full(ws: Workspace, server: ServerProcess | None) -> FaultRow:
    """The output disk fills mid-shot, after earlier frames were written to it."""
    via = "fuse --server" if server else "fuse"
    folder = ws.path("small-disk-server" if server else "small-disk")
    out = folder / "f.####.exr"
    sizes = [p.stat().st_size for p in frame_files(ws.reference)]
    frame_bytes = max(sizes)
    # Room for the two earlier frames and about one and a half more: the shot fails a frame or two in.
    capacity = 2 * frame_bytes + 3 * frame_bytes // 2
    mounted = mount_small_disk(folder, capacity)
    if mounted:
        ws.mounts.append(folder)
    address = server.address if server else None
    earlier_run = run_cli(
        fuse_args(ws.plate, ws.matte, out, "--frames", f"{FIRST}-{FIRST + 1}", server=address)
    )
    earlier = digests(folder)
    how = "a tmpfs of" if mounted else "RLIMIT_FSIZE below one frame, instead of a tmpfs of"
    preexec = None if mounted else file_size_limit(frame_bytes // 2)
    run = run_cli(fuse_args(ws.plate, ws.matte, out, server=address), preexec=preexec)
    after = digests(folder)
    kept = compare("earlier", earlier, after, ws.root)
    frames = frame_files(folder)
    bad = broken(frames)
    left = [p.name for p in partials(folder)]
    staged = earlier_run.rc == 0 and len(earlier) == 2
    # What an artist needs to read: that the disk is full (RLIMIT_FSIZE says the file is too large).
    words = ("full", "no space", "too large") if mounted else ("too large", "file size", "full")
    clear = any(word in _shown(run.message, ws.root).lower() for word in words)
    return FaultRow(
        f"disk full ({via})",
        f"`{via}` of {ws.settings.frames} frames into {how} {capacity // 1024} KiB holding 2 earlier frames",
        "exit 75 naming the full disk (2 where the failed write left the disk with room); no partial "
        "files; earlier frames untouched",
        f"exit {run.rc} ({gist(_shown(run.message, ws.root))}); {len(frames)} frames, {len(bad)} broken, "
        f"{len(left)} .partial, earlier {kept.unchanged}/{kept.count} unchanged",
        (run.rc in (2, TRANSIENT_EXIT_CODE) and not left and not bad and not kept.changed)
        if staged
        else None,
        {
            "message_names_the_cause": clear,
            "mounted_tmpfs": mounted,
            "exit": run.rc,
            "message": _shown(run.message, ws.root),
            "earlier_exit": earlier_run.rc,
            "frames": len(frames),
            "broken": bad,
            "partials": left,
            "earlier_changed": kept.changed,
        },
        "" if clear else "the message does not say the disk is full",
    )


def fault_in_process_killed(ws: Workspace) -> FaultRow:
    """``movingcolor fuse`` (no server) SIGKILLed mid-run, then run again."""
    folder = ws.path("fault-local")
    out = folder / "f.####.exr"
    total = ws.settings.frames
    client = Background(fuse_args(ws.plate, ws.matte, out), ws.path("e.log"))
    before = wait_for_frames(folder, 2, client.running)
    staged = client.running()
    client.kill()
    client.wait()
    left = [p.name for p in partials(folder)]
    rerun = run_cli(fuse_args(ws.plate, ws.matte, out, "--json"))
    summary = json.loads(rerun.stdout) if rerun.rc == 0 and rerun.stdout.strip() else {}
    check = check_outputs(folder, ws.reference, total)
    return FaultRow(
        "`movingcolor fuse` killed (SIGKILL), rerun",
        f"in-process `fuse` of {total} frames killed after {before} frames, then run again",
        "rerun keeps the whole frames, writes the rest; shot complete and identical, no `.partial` left",
        f"{len(left)} .partial after the kill; rerun exit {rerun.rc}, kept {len(summary.get('skipped', []))} "
        f"wrote {len(summary.get('written', []))}; {check['frames']}/{total} frames, "
        f"{len(check['differ_from_uninterrupted'])} differ, {len(check['partials'])} .partial",
        (rerun.rc == 0 and complete(check)) if staged else None,
        {
            "frames_before_kill": before,
            "partials_after_kill": left,
            "rerun_exit": rerun.rc,
            "kept": len(summary.get("skipped", [])),
            "written": len(summary.get("written", [])),
            **check,
        },
    )


# -- hostile inputs -----------------------------------------------------------------------------


class Hostile:
    """Collects the rows of the hostile catalogue, one method per class of input."""

    def __init__(self, ws: Workspace, server: ServerProcess, idle_server: ServerProcess):
        self.ws = ws
        self.server = server
        self.idle_server = idle_server
        self.rows: list[HostileRow] = []
        self.target = str(ws.reference / "f.####.exr")  # hostile command lines aim at earlier outputs

    def cli(
        self,
        kind: str,
        args: list[str],
        via: str = "fuse",
        token: str | None = TOKEN,
        redirected_to: Path | None = None,
    ) -> None:
        """One command line; ``redirected_to``: the folder a safe run writes to instead of where it
        was told (whether any input changed is the checksums' to say)."""
        run = run_cli_here(args, token=token)
        outcome = outcome_of_exit(run.rc)
        if outcome == "accepted" and redirected_to is not None and any(redirected_to.glob("*.exr")):
            outcome = "redirected"
        self.rows.append(
            HostileRow(
                kind,
                via,
                f"exit {run.rc}",
                _shown(run.message, self.ws.root)[:200],
                outcome,
                round(run.seconds, 2),
            )
        )

    def call(self, kind: str, via: str, call: Callable[[], object]) -> None:
        try:
            result = attempt(call)
        except Exception as error:  # the harness itself failed to stage the try
            result = CallOutcome(f"harness: {type(error).__name__}", str(error), 0.0)
        self.rows.append(
            HostileRow(
                kind,
                via,
                result.status,
                _shown(result.message, self.ws.root)[:200],
                outcome_of_status(result.status),
                round(result.seconds, 2),
            )
        )

    def run_job(self, plate: str, out: str, matte: str = "alpha", **options) -> Callable[[], object]:
        def call():
            with connect(self.server.address, retries=0) as client:
                return client.run_job(plate, out, matte, **options)

        return call

    def fuse_shot(self, setup, frames, address: str | None = None, token: str | None = TOKEN):
        def call():
            with connect(address or self.server.address, token, retries=0) as client:
                return list(client.shot(setup, frames, timeout=120))

        return call

    # Each class of hostile input.

    def output_over_input(self) -> None:
        kind = "output overwrites an input"
        over = self.ws.farm / "over"
        plate, matte = str(over / "plate.####.exr"), str(over / "matte.####.png")
        three = over / "plate.###.exr"  # frames 1000-1003 name the plate's own files
        self.cli(kind, fuse_args(plate, matte, three))
        self.cli(kind, fuse_args(plate, matte, three, server=self.server.address), "fuse --server")
        self.cli(
            kind,
            fuse_args(plate, matte, over),
            "fuse (--out the plate's folder)",
            redirected_to=over / SUBFOLDER,
        )
        self.call(kind, "RunJob", self.run_job(plate, str(three), matte, grade=GRADE))

    def symlink_outside_root(self) -> None:
        kind = "frame symlinked outside --root"
        plate = str(self.ws.farm / "link" / "plate.####.exr")
        out = str(self.ws.farm / "hostile" / "link" / "f.####.exr")
        self.call(
            kind,
            "RunJob",
            self.run_job(plate, out, self.ws.matte, grade=GRADE, frames=f"{FIRST}-{FIRST + 3}"),
        )

    def model_outside_roots(self) -> None:
        kind = "model path outside the roots"
        model = self.ws.outside / "model"
        relative = os.path.relpath(model, Path.cwd())  # a bare relative name the server's cwd resolves
        out = str(self.ws.farm / "hostile" / "model" / "f.####.exr")
        for name, via in ((str(model), "RunJob (absolute)"), (relative, "RunJob (relative)")):
            self.call(
                kind,
                via,
                self.run_job(
                    self.ws.plate,
                    out,
                    self.ws.matte,
                    grade=GRADE,
                    engine="movingcolor",
                    model=name,
                    frames=f"{FIRST}-{FIRST}",
                ),
            )
        plate, matte = small_frames()
        for name, via in ((str(model), "FuseShot (absolute)"), (relative, "FuseShot (relative)")):
            self.call(kind, via, self._fuse_arrays(plate, matte, engine="movingcolor", model=name))

    def huge_range(self) -> None:
        kind = "huge render range"
        plate, matte = small_frames(1)
        setup = setup_message([0])
        setup.render.first, setup.render.last = 0, 10**12
        frames = RawFrames([0], lambda n: _raw(plate[0], ("R", "G", "B")), lambda n: _raw(matte[0], ("Y",)))
        self.call(kind, "FuseShot (clip [0], render 0-10^12)", self.fuse_shot(setup, frames))
        out = str(self.ws.farm / "hostile" / "range" / "f.####.exr")
        self.call(
            kind,
            "RunJob (frames 0-10^12)",
            self.run_job(self.ws.plate, out, self.ws.matte, grade=GRADE, frames=f"0-{10**12}"),
        )
        self.cli(kind, fuse_args(self.ws.plate, self.ws.matte, self.target, "--frames", f"0-{10**12}"))

    def declared_huge_image(self) -> None:
        kind = "EXR header declaring 8000x8000"
        bomb = self.ws.farm / "bomb"
        plate, matte = str(bomb / "plate.####.exr"), str(bomb / "matte.png")
        self.cli(kind, fuse_args(plate, matte, self.target))
        self.cli(kind, fuse_args(plate, matte, self.target, server=self.server.address), "fuse --server")
        out = str(self.ws.farm / "hostile" / "bomb" / "f.####.exr")
        self.call(kind, "RunJob", self.run_job(plate, out, matte, grade=GRADE))
        from ..v1 import image_pb2 as pb

        def declared(frame: int):  # raw samples whose info declares 8000x8000 float RGB
            info = pb.ImageInfo(
                encoding=pb.ENCODING_RAW,
                width=8000,
                height=8000,
                channels=["R", "G", "B"],
                sample_type=pb.SAMPLE_TYPE_FLOAT,
                byte_size=8000 * 8000 * 3 * 4,
            )
            return info, b"\0" * 1024

        small_plate, small_matte = small_frames(1)
        frames = RawFrames([1], declared, lambda n: _raw(small_matte[0], ("Y",)))
        self.call(kind, "FuseShot (raw info 8000x8000)", self.fuse_shot(setup_message([1]), frames))

    def duplicate_frames(self) -> None:
        kind = "duplicate frames in FuseWindow"
        plate, matte = small_frames(3)
        images = []
        for frame in (1, 2, 2, 3):
            images += [
                ("plate", frame, _raw(plate[frame - 1], ("R", "G", "B"))),
                ("matte", frame, _raw(matte[frame - 1], ("Y",))),
            ]
        setup = setup_message([], frames="2")
        self.call(
            kind,
            "FuseWindow (raw)",
            lambda: raw_call(self.server.address, "FuseWindow", raw_requests(setup, images), 60),
        )
        setup = setup_message([1, 2, 3])
        self.call(
            kind.replace("FuseWindow", "FuseShot"),
            "FuseShot (raw)",
            lambda: raw_call(self.server.address, "FuseShot", raw_requests(setup, images), 60),
        )

    def _fuse_arrays(self, plate, matte, **options):
        def call():
            with connect(self.server.address, retries=0) as client:
                return client.fuse_arrays(
                    plate, matte, grade=options.pop("grade", GRADE), timeout=120, **options
                )

        return call

    def bad_grades(self) -> None:
        kind = "bad grade numbers"
        plate, matte = small_frames()
        for grade in ("slope=nan,1,1", "offset=inf,0,0", "slope=1e39,1,1"):
            self.cli(
                kind,
                ["--plate", self.ws.plate, "--matte", self.ws.matte, "--grade", grade, "--out", self.target],
                f"fuse --grade {grade}",
            )
            self.call(kind, f"FuseShot grade {grade}", self._fuse_arrays(plate, matte, grade=grade))

    def two_channel_plate(self) -> None:
        kind = "two-channel plate"
        two = self.ws.farm / "two"
        plate, matte = str(two / "plate.####.exr"), str(two / "matte.####.png")
        self.cli(kind, fuse_args(plate, matte, self.target))
        self.cli(kind, fuse_args(plate, matte, self.target, server=self.server.address), "fuse --server")
        pixels, small_matte = small_frames()
        frames = RawFrames(
            [1, 2],
            lambda n: _raw(pixels[n - 1][..., :2], ("R", "G")),
            lambda n: _raw(small_matte[n - 1], ("Y",)),
        )
        self.call(kind, "FuseShot (raw R, G)", self.fuse_shot(setup_message([1, 2]), frames))

    def short_matte(self) -> None:
        kind = "matte shorter than the plate"
        short = self.ws.farm / "short"
        plate, matte = str(short / "plate.####.exr"), str(short / "matte.####.png")
        self.cli(kind, fuse_args(plate, matte, self.target))
        self.cli(kind, fuse_args(plate, matte, self.target, server=self.server.address), "fuse --server")
        out = str(self.ws.farm / "hostile" / "short" / "f.####.exr")
        self.call(kind, "RunJob", self.run_job(plate, out, matte, grade=GRADE))

    def wide_padding(self) -> None:
        kind = "`%0300d` output"
        out = str(self.ws.reference / "f.%0300d.exr")
        self.cli(kind, fuse_args(self.ws.plate, self.ws.matte, out))
        self.cli(
            kind, fuse_args(self.ws.plate, self.ws.matte, out, server=self.server.address), "fuse --server"
        )
        farm_out = str(self.ws.farm / "hostile" / "pad" / "f.%0300d.exr")
        self.call(kind, "RunJob", self.run_job(self.ws.plate, farm_out, self.ws.matte, grade=GRADE))

    def wrong_token(self) -> None:
        kind = "wrong or missing token"

        def info(token):
            def call():
                with connect(self.server.address, token, retries=0) as client:
                    return client.info()

            return call

        self.call(kind, "GetInfo (wrong token)", info("not-the-token"))
        self.call(kind, "GetInfo (no token)", info(None))
        plate, matte = small_frames()
        frames = RawFrames(
            [1, 2], lambda n: _raw(plate[n - 1], ("R", "G", "B")), lambda n: _raw(matte[n - 1], ("Y",))
        )
        self.call(kind, "FuseShot (wrong token)", self.fuse_shot(setup_message([1, 2]), frames, token="nope"))
        self.cli(
            kind,
            fuse_args(self.ws.plate, self.ws.matte, self.target, server=self.server.address),
            "fuse --server (wrong token)",
            token="not-the-token",
        )

    def idle_stream(self) -> None:
        kind = "idle stream"
        limit = self.ws.settings.idle_timeout
        wait = limit + 20  # the client's own deadline: reaching it means the server held the call
        plate, matte = small_frames(2)
        one = [("plate", 1, _raw(plate[0], ("R", "G", "B"))), ("matte", 1, _raw(matte[0], ("Y",)))]
        cases = (
            ("FuseShot (setup, then nothing)", "FuseShot", setup_message([1, 2]), []),
            ("FuseShot (nothing at all)", "FuseShot", None, []),
            ("FuseShot (one frame of two, then nothing)", "FuseShot", setup_message([1, 2]), one),
            ("FuseWindow (setup, then nothing)", "FuseWindow", setup_message([], frames="1"), []),
        )
        for via, method, setup, images in cases:
            hold = threading.Event()
            requests = raw_requests(setup, images, hold)
            self.call(
                kind,
                f"{via}, --idle-timeout {limit:g}",
                lambda m=method, r=requests: raw_call(self.idle_server.address, m, r, wait),
            )
            hold.set()
            row = self.rows[-1]
            if row.status == "DEADLINE_EXCEEDED" and row.seconds >= wait - 1:
                row.outcome, row.message = "accepted", f"held open until the client's own {wait:g}s deadline"

    def all(self) -> list[HostileRow]:
        for scenario in (
            self.output_over_input,
            self.symlink_outside_root,
            self.model_outside_roots,
            self.huge_range,
            self.declared_huge_image,
            self.duplicate_frames,
            self.bad_grades,
            self.two_channel_plate,
            self.short_matte,
            self.wide_padding,
            self.wrong_token,
            self.idle_stream,
        ):
            scenario()
        return self.rows


# -- the whole run ------------------------------------------------------------------------------


@contextlib.contextmanager
def timed(seconds: dict, name: str) -> Iterator[None]:
    started = time.monotonic()
    try:
        yield
    finally:
        seconds[name] = round(time.monotonic() - started, 1)


def run(settings: Settings, keep: bool = False, log: Callable[[str], None] = print) -> dict:
    started = time.monotonic()
    ws = Workspace(settings, keep)
    seconds: dict[str, float] = {}
    try:
        with timed(seconds, "setup"):
            ws.token_file.write_text(TOKEN + "\n")
            write_shot(ws.shot, settings.width, settings.height, settings.frames)
            prepare_hostile_files(ws)
            long_shot(ws)
            inputs_before = digests(ws.farm)
            outside_before = digests(ws.outside)
            reference = run_cli(fuse_args(ws.plate, ws.matte, ws.reference / "f.####.exr"))
            if reference.rc != 0:
                raise RuntimeError(f"the uninterrupted reference run failed: {reference.message}")
            reference_before = digests(ws.reference)
        log(
            f"shot {settings.width}x{settings.height}, {settings.frames} frames, in {ws.root} "
            f"({seconds['setup']}s)"
        )

        with timed(seconds, "load"):
            load = measure_load(settings)
        log(f"load: {load['errors']} errors ({seconds['load']}s)")

        faults: list[FaultRow] = []
        hostile: list[HostileRow] = []
        server = ServerProcess(ws.socket("main"), ws.serve_args()).start()
        idle_server = None
        try:
            with timed(seconds, "faults"):
                faults += fault_server_killed(ws)
                faults.append(fault_client_killed(ws, server))
                faults.append(fault_sigterm(ws))
                faults.append(fault_disk_full(ws, None))
                faults.append(fault_disk_full(ws, server))
                faults.append(fault_in_process_killed(ws))
            log(
                f"faults: {sum(f.survived is True for f in faults)}/{len(faults)} survived "
                f"({seconds['faults']}s)"
            )
            with timed(seconds, "hostile"):
                idle_server = ServerProcess(
                    ws.socket("idle"), ws.serve_args("--idle-timeout", f"{settings.idle_timeout:g}")
                ).start()
                hostile = Hostile(ws, server, idle_server).all()
            log(
                f"hostile: {sum(h.outcome in SAFE for h in hostile)}/{len(hostile)} refused or redirected "
                f"({seconds['hostile']}s)"
            )
        finally:
            server.stop()
            if idle_server:
                idle_server.stop()

        checksums = [
            # Jobs write under the farm too (RunJob outputs): only the files there before count as inputs.
            compare(
                "inputs: the shot, and the plates and mattes of every hostile try",
                inputs_before,
                digests(ws.farm),
                ws.root,
            ),
            compare(
                "the file outside the root a frame linked to, and the model there",
                outside_before,
                digests(ws.outside),
                ws.root,
            ),
            compare(
                "earlier outputs that hostile command lines wrote to",
                reference_before,
                digests(ws.reference),
                ws.root,
            ),
        ]
        for fault in faults:
            if "earlier_changed" in fault.details:
                checksums.append(
                    ChecksumRow(
                        f"earlier frames on the full disk ({fault.fault})",
                        2,
                        2 - len(fault.details["earlier_changed"]),
                        fault.details["earlier_changed"],
                    )
                )
        seconds["total"] = round(time.monotonic() - started, 1)
        return {
            "command": COMMAND + (" --quick" if settings.quick else ""),
            "settings": asdict(settings),
            "machine": machine_lines((("grpcio", "grpcio"), ("OpenImageIO", "OpenImageIO"))),
            "seconds": seconds,
            "load": load,
            "faults": [asdict(f) for f in faults],
            "hostile": [asdict(h) for h in hostile],
            "checksums": [asdict(c) for c in checksums],
        }
    finally:
        ws.close()


# -- Markdown -----------------------------------------------------------------------------------


def _cell(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def load_table(load: dict) -> list[str]:
    width, height = load["size"]
    lines = [
        f"{load['clients']} concurrent clients x {load['frames']} frames of {width}x{height} "
        f"(`fuse_arrays`, engine {load['engine']}), {load['rounds']} rounds, one server: "
        + (
            f"**at least one error** (the load stops at the first: {_cell(load['error'])})"
            if load["error"]
            else f"**0 errors** in {load['calls']} calls"
        )
        + ".",
        "",
        "| point | clients x frames | server RSS (MiB) | round (s) |",
        "|---|---|---:|---:|",
    ]
    for row in load["rows"]:
        shape = f"{row['clients']} x {row['frames']}" if row["clients"] else "–"
        round_seconds = f"{row['seconds']:.1f}" if row["seconds"] is not None else "–"
        lines.append(f"| {row['point']} | {shape} | {row['rss_mib']:.0f} | {round_seconds} |")
    return lines


def fault_table(faults: list[dict]) -> list[str]:
    verdict = {True: "yes", False: "**NO**", None: "not staged"}
    lines = ["| fault | what was done | expected | what happened | survived |", "|---|---|---|---|---|"]
    for f in faults:
        lines.append(
            f"| {_cell(f['fault'])} | {_cell(f['done'])} | {_cell(f['expected'])} | {_cell(f['observed'])} "
            f"| {verdict[f['survived']]}{' (' + _cell(f['note']) + ')' if f.get('note') else ''} |"
        )
    return lines


def hostile_summary(rows: list[dict]) -> list[str]:
    kinds: dict[str, list[dict]] = {}
    for row in rows:
        kinds.setdefault(row["kind"], []).append(row)
    lines = [
        "| hostile input | tries | refused or redirected | neither | statuses |",
        "|---|---:|---:|---|---|",
    ]
    for kind, tries in kinds.items():
        safe = sum(t["outcome"] in SAFE for t in tries)
        others = [f"**{t['outcome'].upper()}** ({t['via']})" for t in tries if t["outcome"] not in SAFE]
        statuses = ", ".join(dict.fromkeys(t["status"] for t in tries))
        lines.append(
            f"| {_cell(kind)} | {len(tries)} | {safe} | {_cell('; '.join(others)) or '–'} | {statuses} |"
        )
    total = len(rows)
    safe = sum(r["outcome"] in SAFE for r in rows)
    lines.append(f"| **all** | {total} | {safe} | {total - safe or '–'} | |")
    return lines


def hostile_details(rows: list[dict]) -> list[str]:
    lines = [
        "| hostile input | sent through | status | outcome | first line of the message |",
        "|---|---|---|---|---|",
    ]
    for row in rows:
        outcome = row["outcome"] if row["outcome"] in SAFE else f"**{row['outcome'].upper()}**"
        lines.append(
            f"| {_cell(row['kind'])} | {_cell(row['via'])} | {row['status']} | {outcome} "
            f"| {_cell(row['message'])} |"
        )
    return lines


def checksum_table(rows: list[dict]) -> list[str]:
    lines = ["| files (SHA-256 before and after) | files | unchanged | changed |", "|---|---:|---:|---|"]
    for row in rows:
        changed = ", ".join(row["changed"]) or "–"
        lines.append(f"| {_cell(row['files'])} | {row['count']} | {row['unchanged']} | {_cell(changed)} |")
    return lines


def figures(report: dict, details: bool) -> list[str]:
    s = report["settings"]
    lines = [
        f"Shot: {s['width']}x{s['height']}, {s['frames']} frames (half EXR plates, PNG mattes, CDL grade, "
        f"engine guided). Run time {report['seconds']['total']:.0f}s "
        f"(load {report['seconds']['load']:.0f}s, faults {report['seconds']['faults']:.0f}s, "
        f"hostile inputs {report['seconds']['hostile']:.0f}s).",
        "",
        *report["machine"],
        "",
        "### Load held",
        "",
        *load_table(report["load"]),
        "",
        "### Faults survived",
        "",
        *fault_table(report["faults"]),
        "",
        "### Hostile inputs",
        "",
        *hostile_summary(report["hostile"]),
    ]
    if details:
        lines += ["", *hostile_details(report["hostile"])]
    lines += ["", "### Checksums", "", *checksum_table(report["checksums"])]
    return lines


def benchmarks_section(report: dict) -> str:
    lines = [
        TITLE,
        "",
        f"Reproduce with `{report['command']}`. Load, faults, hostile inputs and checksums as described "
        "in [docs/reliability.md](docs/reliability.md), which also lists every hostile try with its message.",
        "",
        *figures(report, details=False),
    ]
    return "\n".join(lines) + "\n"


def replace_marked(path: Path, body: str) -> None:
    """Replace what lies between DOC_BEGIN and DOC_END in ``path`` (appending both when absent)."""
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    block = f"{DOC_BEGIN}\n\n{body.rstrip()}\n\n{DOC_END}"
    if DOC_BEGIN in text and DOC_END in text:
        head, rest = text.split(DOC_BEGIN, 1)
        tail = rest.split(DOC_END, 1)[1]
        text = head + block + tail
    else:
        text = text.rstrip("\n") + ("\n\n" if text else "") + block + "\n"
    write_text_atomic(path, text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Load held, faults survived, hostile inputs refused, inputs unchanged: a report."
    )
    parser.add_argument("--out", type=Path, help="write the figures as JSON here")
    parser.add_argument("--markdown", type=Path, help="write a '## Reliability' section into this file")
    parser.add_argument("--doc", type=Path, help="rewrite the figures between the markers of this file")
    parser.add_argument("--quick", action="store_true", help="a smaller shot and a lighter load")
    parser.add_argument(
        "--from", dest="source", type=Path, help="write the Markdown from this JSON; run nothing"
    )
    parser.add_argument("--keep", action="store_true", help="keep the work folder in /tmp for inspection")
    args = parser.parse_args(argv)
    if args.source:
        report = json.loads(args.source.read_text())
    else:
        report = run(Settings.for_run(args.quick), args.keep)
        # The report names the command that made it, with where this run wrote.
        options = ("out", "markdown", "doc", "quick")
        report["command"] = command_of("python -m movingcolor.bench.reliability", parser, args, options)
        if args.out:
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(json.dumps(report, indent=2) + "\n")
    if args.markdown:
        replace_section(args.markdown, benchmarks_section(report))
    if args.doc:
        replace_marked(args.doc, "\n".join(figures(report, details=True)))
    if not (args.markdown or args.doc or args.out):
        print("\n".join(figures(report, details=True)))
    failed = [f["fault"] for f in report["faults"] if f["survived"] is False]
    unsafe = [h for h in report["hostile"] if h["outcome"] not in SAFE]
    print(
        f"{len(report['faults']) - len(failed)}/{len(report['faults'])} faults survived or not staged; "
        f"{len(report['hostile']) - len(unsafe)}/{len(report['hostile'])} hostile tries refused or "
        "redirected; "
        f"{sum(len(c['changed']) for c in report['checksums'])} checksummed files changed"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
