"""The GPU benchmarks in one bounded run, for a GPU machine available for a few minutes: each step
gets its share of the time, and every figure is written into one folder as it is made.

The steps, most wanted first: a check that the machine can run the product at all (the GPU, the
packages the benchmarks import), the production-speed table (:mod:`.throughput`: every engine at
1080p and 4K, in-process and through a server, GPU memory included, and a scrub's next frame),
where one shot's time goes (:mod:`.stage_times`, with the GPU's operators), and the network alone
(:mod:`.network`). A step that runs out of its time is stopped as Ctrl-C stops it (each benchmark
keeps the runs it finished, in ``*.unfinished.json``) and the next step starts; what each step
did is in ``log.txt`` and in the summary printed last.

Run: ``python -m movingcolor.bench.gpu_run --out FOLDER`` (``--seconds`` for the whole run,
``--steps`` to choose steps, ``--sizes``, ``--frames`` and ``--engines`` to make it smaller).
``FOLDER`` gets a copy of ``BENCHMARKS.md`` with the new sections, their figures as JSON under
``docs/benchmarks/``, ``environment.txt`` and ``log.txt``.
"""

from __future__ import annotations

import argparse
import importlib
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from ..errors import MovingColorError

#: The steps in the order they run, each with its share of the time left when it starts.
STEPS = ("check", "throughput", "stages", "network")
SHARES = {"check": 0.1, "throughput": 0.65, "stages": 0.75, "network": 1.0}
#: Seconds a stopped step gets to write what it has before it is killed.
STOP_GRACE = 30.0
#: What the benchmarks import beside torch (a GPU machine's image may lack some).
PACKAGES = ("numpy", "scipy", "OpenImageIO", "PyOpenColorIO", "cv2", "grpc", "grpc_health", "safetensors")


@dataclass
class StepResult:
    name: str
    seconds: float
    outcome: str


def _check(device: str, folder: Path) -> str:
    """The GPU resolves and every package the benchmarks import is there; their versions go to
    ``environment.txt``. MovingColorError naming what is missing."""
    from ..model.device import resolve_device

    lines = [f"python {sys.version.split()[0]}"]
    missing = []
    for name in ("torch", *PACKAGES):
        try:
            module = importlib.import_module(name)
        except ImportError as error:
            missing.append(f"{name} ({error})")
            continue
        lines.append(f"{name} {getattr(module, '__version__', '?')}")
    resolved = resolve_device(device)
    if resolved.startswith("cuda"):
        import torch

        lines.append(f"device {resolved}: {torch.cuda.get_device_name(torch.device(resolved))}")
    (folder / "environment.txt").write_text("\n".join(lines) + "\n")
    if missing:
        raise MovingColorError(f"missing on this machine: {', '.join(missing)}; install them first")
    return f"ok ({resolved})"


def _commands(args, folder: Path) -> dict[str, list[str]]:
    report = str(folder / "BENCHMARKS.md")
    python = [sys.executable, "-m"]
    throughput = [*python, "movingcolor.cli.main", "bench", "--suite", "throughput", "--device", args.device]
    throughput += [
        "--sizes",
        args.sizes,
        "--frames",
        str(args.frames),
        "--run-timeout",
        str(args.run_timeout),
    ]
    throughput += ["--out", report] + (["--engines", args.engines] if args.engines else [])
    stages = [
        *python,
        "movingcolor.bench.stage_times",
        "--device",
        args.device,
        "--sizes",
        args.sizes.split(",")[0],
    ]
    stages += ["--engine", args.stage_engines, "--frames", str(args.frames), "--out", report]
    stages += ["--json", str(folder / "docs" / "benchmarks" / f"stage_times_{_kind(args.device)}.json")]
    network = [*python, "movingcolor.bench.network", "--device", args.device, "--out", report]
    network += ["--json", str(folder / "docs" / "benchmarks" / f"network_{_kind(args.device)}.json")]
    return {"throughput": throughput, "stages": stages, "network": network}


def _kind(device: str) -> str:
    return "cuda" if device.startswith("cuda") else "cpu"


def _run_bounded(command: list[str], seconds: float, log) -> str:
    """Run ``command`` for ``seconds`` at most; past them it gets SIGINT (a benchmark keeps what it
    finished), then :data:`STOP_GRACE` seconds, then SIGKILL. What happened, in words."""
    log.write(f"\n$ {' '.join(command)}\n")
    log.flush()
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        return f"exit {process.wait(timeout=max(seconds, 1.0))}"
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(timeout=STOP_GRACE)
            return f"stopped at its {seconds:.0f} s"
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            return f"killed past its {seconds:.0f} s"
    finally:
        if process.poll() is None:  # this run itself stopped (Ctrl-C): the step must not run on
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def run(args) -> list[StepResult]:
    folder = Path(args.out)
    (folder / "docs" / "benchmarks").mkdir(parents=True, exist_ok=True)
    if Path(args.report).exists() and not (folder / "BENCHMARKS.md").exists():
        shutil.copyfile(args.report, folder / "BENCHMARKS.md")
    deadline = time.monotonic() + args.seconds
    commands = _commands(args, folder)
    results = []
    with open(folder / "log.txt", "a") as log:
        for step in (s for s in STEPS if s in args.steps):
            left = deadline - time.monotonic()
            started = time.monotonic()
            if left < (5 if step == "check" else STOP_GRACE + 5):
                results.append(StepResult(step, 0.0, "not run: no time left"))
                continue
            if step == "check":
                try:
                    outcome = _check(args.device, folder)
                except MovingColorError as error:
                    results.append(StepResult(step, time.monotonic() - started, f"failed: {error}"))
                    break  # nothing after it can run
            else:
                # A stopped step's grace comes out of its own share: the run keeps to --seconds.
                outcome = _run_bounded(commands[step], max(left * SHARES[step] - STOP_GRACE, 5.0), log)
            results.append(StepResult(step, time.monotonic() - started, outcome))
            log.write(f"{step}: {outcome}\n")
            log.flush()
    return results


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m movingcolor.bench.gpu_run", description=" ".join(__doc__.split("\n\n")[0].split())
    )
    parser.add_argument("--out", required=True, help="folder for the report, figures and log")
    parser.add_argument(
        "--seconds", type=float, default=540.0, help="the whole run's time (default: %(default)s)"
    )
    parser.add_argument(
        "--device", default="cuda", help="cuda, cuda:N, or cpu to try the run (default: %(default)s)"
    )
    parser.add_argument("--steps", default=",".join(STEPS), help="steps to run (default: %(default)s)")
    parser.add_argument(
        "--sizes", default="1920x1080,4096x2160", help="throughput sizes; stages take the first"
    )
    parser.add_argument("--frames", type=int, default=8, help="frames of each shot (default: %(default)s)")
    parser.add_argument("--engines", help="throughput: comma-separated engines (default: all)")
    parser.add_argument(
        "--stage-engines", default="movingcolor,guided", help="stages: engines (default: %(default)s)"
    )
    parser.add_argument("--run-timeout", type=float, default=120.0, help="throughput: seconds a run may take")
    parser.add_argument("--report", default="BENCHMARKS.md", help="the report whose copy gets the sections")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    args.steps = [step.strip() for step in args.steps.split(",") if step.strip()]
    unknown = sorted(set(args.steps) - set(STEPS))
    if unknown:
        parser.error(f"step {', '.join(unknown)} is not known; steps: {', '.join(STEPS)} (--steps)")
    if not args.seconds > 0:
        parser.error(f"--seconds {args.seconds:g}: give the run's time, more than 0")
    results = run(args)
    width = max(len(r.name) for r in results) if results else 0
    print("\nstep | seconds | outcome")
    for result in results:
        print(f"{result.name:<{width}} | {result.seconds:7.1f} | {result.outcome}")
    return 0 if results and all(r.outcome.startswith(("ok", "exit 0")) for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
