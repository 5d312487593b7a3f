"""Production speed: each engine's seconds per frame against the I/O floor, at artists' sizes.

The floor is what any tool pays for the shot: reading each plate and writing it back as a
half-float ZIP EXR, measured in the same run, in a process of its own with the heap settings
``movingcolor fuse`` takes (``process_heap``). Each engine runs as ``movingcolor fuse`` would,
one process per run (its start-up and model loading included, as a farm task pays them),
on a procedural half-float EXR plate and PNG matte with a CDL grade and a 12 px band; and
through a server, as ``movingcolor fuse --server`` against a ``movingcolor serve`` started
for that run alone (its warm-up done, its engine loaded by the run, as in-process). The report gives seconds
per frame, the ratios to the floor and to in-process, and each run's peak memory (the
server's, through a server); with ``--runs N`` each engine is the fastest of N runs, with the
highest peak of them.

Run: ``movingcolor bench --suite throughput`` (with the scrubbing latency), or this alone:
``python -m movingcolor.bench.io_floor --out BENCHMARKS.md`` (``--sizes``, ``--frames``,
``--engines``, ``--no-server``, ``--runs``; figures also in ``docs/benchmarks/io_floor.json``).
"""

from __future__ import annotations

import argparse
import compileall
import contextlib
import dataclasses
import functools
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..errors import MovingColorError
from ..frames.image_io import read_pixels, write_image
from ..jobs.demo_shot import write_demo_inputs
from ..service.process import ServerProcess
from ..spec.schema import DEFAULT_BAND
from .frame_size import parse_frame_sizes
from .gpu_memory import GpuMemoryPeak
from .report import (
    command_of,
    gpu_label,
    machine_lines,
    report_with_figures,
    unfinished_figures,
    write_rows_json,
)

SECTION = "## Production speed against the I/O floor (CPU)"
#: The section of a run on a GPU: the two are kept apart in one report.
GPU_SECTION = "## Production speed against the I/O floor (CUDA GPU)"
GRADE = "slope=1.2,1.0,0.8;offset=0.01;power=1.1;sat=1.2"
ENGINES = ("hard", "feather", "guided", "movingcolor")
SIZES = ((1920, 1080), (4096, 2160))
FRAMES = 8
JSON = Path("docs/benchmarks/io_floor.json")
GPU_JSON = Path("docs/benchmarks/io_floor_cuda.json")
#: Passes over the shot for the I/O floor, of which the fastest counts.
FLOOR_PASSES = 3
#: The floor's row in the report.
FLOOR = "I/O floor (read plate + matte, write half ZIP EXR)"
#: Seconds one run may take before it is stopped and recorded as failed: a run that hangs (a
#: driver, a lock) must not take the rest of the benchmark's time with it.
RUN_TIMEOUT = 1800.0
#: The least time the floor's passes are given: ``--run-timeout`` is meant for an engine's run, and
#: a short one (a quick look at the light engines) must not fail the floor's three passes.
FLOOR_TIMEOUT = 600.0


@dataclass(frozen=True)
class Measured:
    """One run of an engine: seconds per frame, the peak resident memory (GiB) of the process that
    fused, its seconds per frame after the first frame, and on a GPU the most GPU memory (GiB) that
    process held, where the driver can be asked."""

    seconds_per_frame: float
    peak_gib: float
    steady_seconds_per_frame: float | None = None
    gpu_peak_gib: float | None = None


@dataclass
class Run:
    """One measured run at one size: seconds per frame, its ratios to the floor and (through a
    server) to the same engine in-process, and the peak resident memory of the process that fused."""

    size: str
    what: str
    seconds_per_frame: float
    ratio: float
    peak_gib: float
    vs_in_process: float | None = None
    #: Seconds per frame after the first frame was written (from the outputs' write times), and its
    #: ratio to the floor: the rate a long shot approaches, start-up and the first window left out.
    steady_seconds_per_frame: float | None = None
    steady_ratio: float | None = None
    #: Why the run failed (the end of its error), where it did: the benchmark goes on without it.
    failed: str | None = None
    #: How many runs of the engine the figures are the fastest of (``--runs``; 1 for the floor).
    runs: int = 1
    #: On a GPU, the most GPU memory the process that fused held (GiB; None where not measured).
    gpu_peak_gib: float | None = None


#: The floor's process: the heap settings ``movingcolor fuse`` takes, then the fastest of a few
#: passes (:func:`floor_pass`), in seconds per frame. With glibc's own settings reading and writing
#: a 4K shot cost a quarter to two fifths more (each frame's arrays mapped and zeroed afresh).
_FLOOR_PROCESS = """
import sys
from pathlib import Path
from movingcolor.process_heap import keep_freed_memory
keep_freed_memory(one_heap=True)
from movingcolor.bench.io_floor import FLOOR_PASSES, floor_pass
plate, matte, frames, folder = sys.argv[1], sys.argv[2], int(sys.argv[3]), Path(sys.argv[4])
print(min(floor_pass(plate, matte, frames, folder) for _ in range(FLOOR_PASSES)))
"""


def write_shot(folder: Path, width: int, height: int, frames: int = FRAMES) -> tuple[str, str]:
    """The benchmark's shot (a generated half-float EXR plate and PNG matte, the same for every run)
    written into ``folder``: the plate's and the matte's patterns."""
    return write_demo_inputs(folder / "shot", frames=frames, seed=3, width=width, height=height)


def _io_floor(plate: str, matte: str, frames: int, folder: Path, timeout: float = RUN_TIMEOUT) -> float:
    """The I/O floor in seconds per frame, measured in a process of its own (``_FLOOR_PROCESS``);
    RuntimeError with the end of its error where it fails, TimeoutError (the process killed) after
    ``timeout`` seconds."""
    try:
        done = subprocess.run(
            [sys.executable, "-c", _FLOOR_PROCESS, plate, matte, str(frames), str(folder)],
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        raise TimeoutError(
            f"the I/O floor's passes took over {timeout:g} s and were stopped (the floor is given "
            f"--run-timeout, at least {FLOOR_TIMEOUT:g} s)"
        ) from None
    if done.returncode != 0:
        raise RuntimeError(f"the I/O floor's process failed: {done.stderr[-2000:]}")
    return float(done.stdout.split()[-1])


def check_run_settings(frames: int, run_timeout: float) -> None:
    """Refuse a shot of no frames and a run that may take no time, before anything is measured."""
    if frames < 1:
        raise MovingColorError(f"the shot must have 1 frame or more, not {frames} (--frames)")
    if not run_timeout > 0:
        raise MovingColorError(
            f"a run's time limit must be more than 0 s, not {run_timeout:g} (--run-timeout)"
        )


def floor_pass(plate: str, matte: str, frames: int, folder: Path) -> float:
    """Seconds per frame to read each plate and matte and write the plate back as a half-float ZIP
    EXR: what any tool that takes the shot and writes frames pays."""
    started = time.perf_counter()
    for index in range(frames):
        number = f"{1001 + index:04d}"
        pixels = read_pixels(Path(plate.replace("####", number)))
        read_pixels(Path(matte.replace("####", number)))
        write_image(folder / f"copy.{number}.exr", pixels)
    return (time.perf_counter() - started) / frames


def _steady_seconds_per_frame(out: Path) -> float | None:
    """Seconds per frame between the first and the last frame ``movingcolor fuse`` wrote into
    ``out``, from the files' modification times; None for a single frame."""
    times = sorted(path.stat().st_mtime_ns for path in out.glob("f.*.exr"))
    return (times[-1] - times[0]) / 1e9 / (len(times) - 1) if len(times) > 1 else None


def _fuse(
    engine: str,
    plate: str,
    matte: str,
    out: Path,
    frames: int,
    server: str | None = None,
    device: str = "cpu",
    timeout: float = RUN_TIMEOUT,
    gpu_pid: int | None = None,
) -> Measured:
    """Seconds per frame of ``movingcolor fuse`` in a process of its own (on ``server`` when given,
    else on ``device``), its peak memory (GiB), and its seconds per frame after the first frame;
    on a GPU also the GPU memory of the process that fuses (``gpu_pid``: a server's; else this run's
    own). TimeoutError, the process killed, after ``timeout`` seconds."""
    command = [sys.executable, "-m", "movingcolor.cli.main", "fuse", "--plate", plate, "--matte", matte]
    command += ["--grade", GRADE, "--band", DEFAULT_BAND, "--engine", engine, "--force"]
    command += ["--out", str(out / "f.####.exr")]
    command += ["--server", server] if server else ["--device", device]
    # Not a pipe: a child that logs much must never wait on this loop.
    with tempfile.TemporaryFile() as log:
        started = time.perf_counter()
        # An earlier run's frames may be in ``out`` (``--runs``): a stopped run counts its own.
        began_ns = time.time_ns()
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=log)
        # The kernel's high-water mark of the child's own memory (VmHWM): rusage's maxrss would count
        # this process's memory too, which the child holds between fork and exec.
        peak_kib = 0
        on_gpu = device.startswith("cuda") or gpu_pid is not None
        gpu = GpuMemoryPeak(gpu_pid or process.pid) if on_gpu else contextlib.nullcontext()
        with gpu:
            try:
                while process.poll() is None:
                    peak_kib = max(peak_kib, _high_water_kib(process.pid))
                    if time.perf_counter() - started > timeout:
                        process.kill()
                        process.wait()
                        written = sum(path.stat().st_mtime_ns >= began_ns for path in out.glob("*.exr"))
                        raise TimeoutError(
                            f"movingcolor fuse --engine {engine} wrote {written} of "
                            f"{frames} frames in {timeout:g} s and was stopped (--run-timeout)"
                        )
                    time.sleep(0.05)
            finally:
                # Stopped itself (Ctrl-C, SIGTERM): the child must not fuse on alone.
                if process.poll() is None:
                    process.kill()
                    process.wait()
        seconds = time.perf_counter() - started
        if process.returncode != 0:
            log.seek(0)
            error = log.read().decode(errors="replace")[-2000:]
            raise RuntimeError(f"movingcolor fuse --engine {engine} failed: {error}")
    gpu_peak = gpu.peak_gib if isinstance(gpu, GpuMemoryPeak) else None
    return Measured(seconds / frames, peak_kib / (1 << 20), _steady_seconds_per_frame(out), gpu_peak)


def _fuse_through_server(
    engine: str,
    plate: str,
    matte: str,
    out: Path,
    frames: int,
    device: str = "cpu",
    timeout: float = RUN_TIMEOUT,
) -> Measured:
    """Seconds per frame of ``movingcolor fuse --server`` on a Unix socket, the server's peak
    memory (GiB, and its GPU memory on a GPU), and the seconds per frame after the first frame.
    The server is started for this run alone and untimed, its warm-up done (as a server started
    before the day's work has); it
    loads the engine when the run asks for it, so the time includes that as in-process does, and
    its peak is this engine's."""
    # A short folder: a Unix socket's path has ~100 bytes.
    sockets = Path(tempfile.mkdtemp(prefix="mc-floor-", dir="/tmp"))
    try:
        with ServerProcess(f"unix://{sockets}/mc.sock", ["--device", device]) as server:
            server.wait_for_warm_up()
            gpu_pid = server.process.pid if device.startswith("cuda") else None
            measured = _fuse(
                engine, plate, matte, out, frames, server=server.address, timeout=timeout, gpu_pid=gpu_pid
            )
            peak_kib = _high_water_kib(server.process.pid)
    finally:
        for leftover in sockets.iterdir():
            leftover.unlink()
        sockets.rmdir()
    return dataclasses.replace(measured, peak_gib=peak_kib / (1 << 20))


def _fastest(runs: int, fuse: Callable[[], Measured]) -> Measured:
    """The fastest of ``runs`` calls of ``fuse`` (each rewrites the same frames: ``--force``), by
    seconds per frame, with that run's rate after its first frame, and the highest peak memory of
    them all: the time an engine can take, the memory it may need. One run that fails fails the
    engine, its error saying which run it was: an engine that fails now and then is reported, not
    hidden behind its runs that passed."""
    measured = []
    for index in range(runs):
        try:
            measured.append(fuse())
        except Exception as error:
            if runs == 1:
                raise
            raise RuntimeError(f"run {index + 1} of {runs}: {error}") from error
    fastest = min(measured, key=lambda run: run.seconds_per_frame)
    gpu = [run.gpu_peak_gib for run in measured if run.gpu_peak_gib is not None]
    return dataclasses.replace(
        fastest, peak_gib=max(run.peak_gib for run in measured), gpu_peak_gib=max(gpu) if gpu else None
    )


def _steady(seconds: float | None, floor: float) -> dict:
    if seconds is None:
        return {}
    return {"steady_seconds_per_frame": round(seconds, 3), "steady_ratio": round(seconds / floor, 2)}


def _high_water_kib(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:  # the process has just ended
        pass
    return 0


def compile_package() -> None:
    """Byte-compile the package's modules, as installing it does, so each run's start-up is an
    installed tool's. A checkout used in place whose modules were never compiled, or run where
    writing bytecode is forbidden (``PYTHONDONTWRITEBYTECODE``), compiles them all again in every
    run: about 0.05 s of a 1080p ``hard`` run of 1.35 s."""
    compileall.compile_dir(str(Path(__file__).resolve().parents[1]), quiet=2)


def measure(
    sizes=SIZES,
    frames: int = FRAMES,
    engines=ENGINES,
    server: bool = True,
    device: str = "cpu",
    progress: Callable[[list[Run]], None] | None = None,
    run_timeout: float = RUN_TIMEOUT,
    runs_each: int = 1,
) -> list[Run]:
    """Every engine at every size, in-process and (``server``) through a server, on ``device``
    (``cpu``, or ``cuda``: every engine on the GPU, the network and the classical filters).
    ``progress`` is given the runs so far after each one, so a benchmark stopped part-way keeps
    them. A run that fails, or takes over ``run_timeout`` seconds, is recorded as failed, with its
    error's end, and the others go on. ``runs_each``: each engine is run that many times in-process
    and through a server, and the fastest counts (:func:`_fastest`), as the floor's fastest pass
    does: a single run on a shared machine varies by more than some targets' margins."""
    if runs_each < 1:
        raise MovingColorError(f"each engine's runs must be 1 or more, not {runs_each} (--runs)")
    check_run_settings(frames, run_timeout)
    compile_package()
    runs: list[Run] = []

    def add(run: Run) -> None:
        runs.append(run)
        if progress:
            progress(runs)

    for width, height in sizes:
        size = f"{width}x{height}"
        with tempfile.TemporaryDirectory(prefix="movingcolor-floor-") as tmp:
            folder = Path(tmp)
            plate, matte = write_shot(folder, width, height, frames)
            # The fastest of a few passes (taken in the floor's process): one pass varies by a third
            # on a shared machine, and a floor that came out slow would flatter every ratio.
            try:
                floor = _io_floor(plate, matte, frames, folder, max(run_timeout, FLOOR_TIMEOUT))
            except Exception as error:  # noqa: BLE001 - recorded as failed; the other sizes go on
                # Every ratio at this size is to the floor: its engines are not run for nothing.
                add(_failed(size, FLOOR, error))
                print(f"{size}: no engine run, without a floor to compare it with", file=sys.stderr)
                continue
            add(Run(size, FLOOR, round(floor, 3), 1.0, 0.0))
            for engine in engines:
                what = f"fuse --engine {engine}"
                try:
                    local = _fastest(
                        runs_each,
                        functools.partial(
                            _fuse, engine, plate, matte, folder / engine, frames, None, device, run_timeout
                        ),
                    )
                    seconds, peak = local.seconds_per_frame, local.peak_gib
                except Exception as error:  # noqa: BLE001 - recorded as failed; the others go on
                    seconds = None
                    add(_failed(size, what, error, runs_each))
                else:
                    add(
                        Run(
                            size,
                            what,
                            round(seconds, 3),
                            round(seconds / floor, 2),
                            round(peak, 2),
                            **_steady(local.steady_seconds_per_frame, floor),
                            runs=runs_each,
                            gpu_peak_gib=_rounded(local.gpu_peak_gib),
                        )
                    )
                    print(
                        f"{size} {engine}: {seconds:.3f} s/frame, {seconds / floor:.2f}x floor, "
                        f"{peak:.2f} GiB" + _gpu_said(local.gpu_peak_gib),
                        flush=True,
                    )
                if not server:
                    continue
                what = f"fuse --engine {engine} --server (Unix socket)"
                try:
                    through = _fastest(
                        runs_each,
                        functools.partial(
                            _fuse_through_server,
                            engine,
                            plate,
                            matte,
                            folder / f"{engine}-server",
                            frames,
                            device,
                            run_timeout,
                        ),
                    )
                except Exception as error:  # noqa: BLE001 - recorded as failed; the others go on
                    add(_failed(size, what, error, runs_each))
                    continue
                remote, remote_peak = through.seconds_per_frame, through.peak_gib
                add(
                    Run(
                        size,
                        what,
                        round(remote, 3),
                        round(remote / floor, 2),
                        round(remote_peak, 2),
                        round(remote / seconds, 2) if seconds else None,
                        **_steady(through.steady_seconds_per_frame, floor),
                        runs=runs_each,
                        gpu_peak_gib=_rounded(through.gpu_peak_gib),
                    )
                )
                print(
                    f"{size} {engine} through a server: {remote:.3f} s/frame"
                    + (f", {remote / seconds:.2f}x in-process" if seconds else "")
                    + f", server peak {remote_peak:.2f} GiB"
                    + _gpu_said(through.gpu_peak_gib),
                    flush=True,
                )
    return runs


def _rounded(gib: float | None) -> float | None:
    return None if gib is None else round(gib, 2)


def _gpu_said(gib: float | None) -> str:
    return "" if gib is None else f", GPU {gib:.2f} GiB"


def _failed(size: str, what: str, error: Exception, runs: int = 1) -> Run:
    lines = [line for line in str(error).splitlines() if line.strip()]
    reason = lines[-1].strip() if lines else type(error).__name__
    print(f"{size} {what}: FAILED: {reason}", file=sys.stderr, flush=True)
    return Run(size, what, 0.0, 0.0, 0.0, failed=reason, runs=runs)


def section(runs: list[Run], command: str, frames: int, device: str = "cpu") -> str:
    sizes = list(dict.fromkeys(run.size for run in runs))
    runs_each = max((run.runs for run in runs), default=1)  # the engines' (the floor's is 1)
    on_gpu = device != "cpu"
    columns = 7 if on_gpu else 6
    lines = [
        SECTION if device == "cpu" else GPU_SECTION,
        "",
        f"Reproduce with `{command}`. Seconds per frame for {frames} frames of a procedural half-float "
        f"EXR plate and PNG matte, CDL grade, {DEFAULT_BAND} px band, each engine as `movingcolor fuse` "
        "in a process of its own (start-up and model loading included); *× floor* is the ratio to the "
        f"I/O floor measured in the same run (each plate and matte read, the plate written back as half "
        f"ZIP EXR; the fastest of {FLOOR_PASSES} passes, "
        + (
            "each engine one run, so ratios err high). "
            if runs_each == 1
            else f"each engine the fastest of {runs_each} runs, with the highest peak of them). "
        )
        + "*--server* is `movingcolor fuse --server` against a `movingcolor serve` on a Unix socket "
        "started for that run alone (untimed, its warm-up done; the engine loads during the run, as "
        "in-process), and *× in-process* its ratio to the same engine's in-process run. *After the "
        "first* is the seconds per frame between the first and the last frame written (the files' "
        "write times) and its ratio to the floor: the rate a long shot approaches, without start-up "
        "(imports, colour processors, model loading) and the first window (the network writes a "
        "window's frames together, so its figure there is rough). *Peak* is the resident memory of "
        "the process that fused (the server's, through a server)"
        + (
            "; *GPU GiB* the most GPU memory it held (nvidia-smi's count: its CUDA context and torch's "
            "cache included)."
            if device != "cpu"
            else "."
        ),
        "",
        *machine_lines(
            (("numpy", "numpy"), ("OpenImageIO", "OpenImageIO"), ("OpenColorIO", "opencolorio")),
            gpu_label(device),
        ),
        "",
        "| run | "
        + " | ".join(
            f"{size} s/frame | × floor | after the first: s/frame | × floor | × in-process | peak GiB"
            + (" | GPU GiB" if on_gpu else "")
            for size in sizes
        )
        + " |",
        "|---|" + ("---:|" * (7 if on_gpu else 6)) * len(sizes),
    ]
    by_key = {(run.what, run.size): run for run in runs}
    for what in dict.fromkeys(run.what for run in runs):
        cells = []
        for size in sizes:
            run = by_key.get((what, size))
            if run is not None and run.failed:
                cells += ["failed"] + ["–"] * (columns - 1)
                continue
            cells += (
                ["–"] * columns
                if run is None
                else [
                    f"{run.seconds_per_frame:.3f}",
                    f"{run.ratio:.2f}",
                    f"{run.steady_seconds_per_frame:.3f}" if run.steady_seconds_per_frame else "–",
                    f"{run.steady_ratio:.2f}" if run.steady_ratio else "–",
                    f"{run.vs_in_process:.2f}" if run.vs_in_process else "–",
                    f"{run.peak_gib:.2f}" if run.peak_gib else "–",
                ]
                + ([f"{run.gpu_peak_gib:.2f}" if run.gpu_peak_gib is not None else "–"] if on_gpu else [])
            )
        lines.append(f"| {what} | " + " | ".join(cells) + " |")
    failed = [run for run in runs if run.failed]
    if failed:
        lines += ["", "Runs that failed (the end of each error):", ""]
        lines += [f"- {run.size} `{run.what}`: {run.failed}" for run in failed]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default=",".join(f"{w}x{h}" for w, h in SIZES))
    parser.add_argument("--frames", type=int, default=FRAMES)
    parser.add_argument("--engines", default=",".join(ENGINES))
    parser.add_argument(
        "--out", type=Path, help="markdown file whose section to replace (e.g. BENCHMARKS.md)"
    )
    parser.add_argument(
        "--json",
        type=Path,
        help="the figures' JSON (default: docs/benchmarks/ beside --out; none without --out)",
    )
    parser.add_argument("--no-server", action="store_true", help="in-process runs only")
    parser.add_argument(
        "--runs",
        type=int,
        default=1,
        help="runs of each engine, in-process and through a server; the fastest counts (default: 1)",
    )
    parser.add_argument("--device", default="cpu", help="where every engine runs: cpu or cuda")
    parser.add_argument(
        "--run-timeout",
        type=float,
        default=RUN_TIMEOUT,
        help="seconds a run may take before it is stopped and recorded as failed (default: %(default)g)",
    )
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error(f"--runs must be 1 or more, not {args.runs}")
    try:
        sizes = parse_frame_sizes(args.sizes)
    except MovingColorError as error:
        parser.error(f"--sizes: {error}")
    # Beside the report it goes with, as the throughput suite writes it; a run that writes no
    # report (a one-off measurement) must not replace the committed figures of the folder it runs in.
    figures = args.json or (args.out.parent / figures_path(args.device) if args.out else None)
    runs = measure(
        sizes,
        args.frames,
        tuple(args.engines.split(",")),
        not args.no_server,
        args.device,
        progress=figures_writer(figures) if figures else None,
        run_timeout=args.run_timeout,
        runs_each=args.runs,
    )
    options = ("out", "sizes", "frames", "engines", "no_server", "device", "run_timeout", "runs")
    command = command_of("python -m movingcolor.bench.io_floor", parser, args, options)
    write_report(runs, command, args.frames, args.out, figures, args.device)
    return 1 if any(run.failed for run in runs) else 0


def figures_path(device: str) -> Path:
    """Where a run on ``device`` keeps its figures, relative to the report's folder."""
    return JSON if device == "cpu" else GPU_JSON


def figures_writer(figures: Path) -> Callable[[list[Run]], None]:
    """A ``progress`` for :func:`measure` that keeps the runs so far (JSON) after each run in
    :func:`unfinished_figures`, where a benchmark stopped or broken part-way leaves them."""
    unfinished = unfinished_figures(figures)
    if unfinished.exists():
        # An earlier run's that did not finish: its rows must not pass for this run's.
        unfinished.unlink()
        print(f"removed {unfinished}, the runs of an earlier benchmark that did not finish", flush=True)

    def write(runs: list[Run]) -> None:
        if len(runs) == 1:
            print(f"the runs so far are kept in {unfinished} until the report is written", flush=True)
        write_rows_json(unfinished, runs)

    return write


def write_report(
    runs: list[Run], command: str, frames: int, out: Path | None, figures: Path | None, device: str = "cpu"
) -> None:
    """The runs as JSON in ``figures`` (when given), and as this benchmark's section of ``out`` (the
    device's), else printed (:func:`~.report.report_with_figures`)."""
    report_with_figures(out, section(runs, command, frames, device), figures, runs)


if __name__ == "__main__":
    # SIGTERM (a CI job cancelled, ``timeout``) ends it as Ctrl-C does: its runs stopped, its
    # server stopped, its folders removed.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))
    raise SystemExit(main())
