"""Production speed: each engine's seconds per frame against the I/O floor, at artists' sizes.

The floor is what any tool pays for the shot: reading each plate and writing it back as a
half-float ZIP EXR, measured in the same run. Each engine runs as ``movingcolor fuse`` would,
one process per run (its start-up and model loading included, as a farm task pays them),
on a procedural half-float EXR plate and PNG matte with a CDL grade and a 12 px band. The
report gives seconds per frame, the ratio to the floor and each run's peak memory.

Run: ``python -m movingcolor.bench.io_floor --out BENCHMARKS.md`` (``--sizes``, ``--frames``,
``--engines``; figures also in ``docs/benchmarks/io_floor.json``).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from ..demo.run import write_demo_inputs
from ..frames.image_io import read_pixels, write_image
from ..spec.schema import DEFAULT_BAND
from .report import machine_lines, replace_section, write_text_atomic

SECTION = "## Production speed against the I/O floor (CPU)"
GRADE = "slope=1.2,1.0,0.8;offset=0.01;power=1.1;sat=1.2"
ENGINES = ("hard", "feather", "guided", "movingcolor")
SIZES = ((1920, 1080), (4096, 2160))
FRAMES = 8
#: Passes over the shot for the I/O floor, of which the fastest counts.
FLOOR_PASSES = 3


@dataclass
class Run:
    """One measured run at one size: seconds per frame, and the process's peak resident memory."""

    size: str
    what: str
    seconds_per_frame: float
    ratio: float
    peak_gib: float


def _io_floor(plate: str, matte: str, frames: int, folder: Path) -> float:
    """Seconds per frame to read each plate and matte and write the plate back as a half-float ZIP
    EXR: what any tool that takes the shot and writes frames pays."""
    started = time.perf_counter()
    for index in range(frames):
        number = f"{1001 + index:04d}"
        pixels = read_pixels(Path(plate.replace("####", number)))
        read_pixels(Path(matte.replace("####", number)))
        write_image(folder / f"copy.{number}.exr", pixels)
    return (time.perf_counter() - started) / frames


def _fuse(engine: str, plate: str, matte: str, out: Path, frames: int) -> tuple[float, float]:
    """Seconds per frame of ``movingcolor fuse`` in a process of its own, and its peak memory (GiB)."""
    command = [sys.executable, "-m", "movingcolor.cli.main", "fuse", "--plate", plate, "--matte", matte]
    command += ["--grade", GRADE, "--band", DEFAULT_BAND, "--engine", engine, "--force"]
    command += ["--out", str(out / "f.####.exr")]
    # Not a pipe: a child that logs much must never wait on this loop.
    with tempfile.TemporaryFile() as log:
        started = time.perf_counter()
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=log)
        # The kernel's high-water mark of the child's own memory (VmHWM): rusage's maxrss would count
        # this process's memory too, which the child holds between fork and exec.
        peak_kib = 0
        while process.poll() is None:
            peak_kib = max(peak_kib, _high_water_kib(process.pid))
            time.sleep(0.05)
        seconds = time.perf_counter() - started
        if process.returncode != 0:
            log.seek(0)
            error = log.read().decode(errors="replace")[-2000:]
            raise RuntimeError(f"movingcolor fuse --engine {engine} failed: {error}")
    return seconds / frames, peak_kib / (1 << 20)


def _high_water_kib(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:  # the process has just ended
        pass
    return 0


def measure(sizes=SIZES, frames: int = FRAMES, engines=ENGINES) -> list[Run]:
    runs: list[Run] = []
    for width, height in sizes:
        size = f"{width}x{height}"
        with tempfile.TemporaryDirectory(prefix="movingcolor-floor-") as tmp:
            folder = Path(tmp)
            plate, matte = write_demo_inputs(
                folder / "shot", frames=frames, seed=3, width=width, height=height
            )
            # The fastest of a few passes: one pass varies by a third on a shared machine, and a
            # floor that came out slow would flatter every ratio.
            floor = min(_io_floor(plate, matte, frames, folder) for _ in range(FLOOR_PASSES))
            runs.append(
                Run(size, "I/O floor (read plate + matte, write half ZIP EXR)", round(floor, 3), 1.0, 0.0)
            )
            for engine in engines:
                seconds, peak = _fuse(engine, plate, matte, folder / engine, frames)
                runs.append(
                    Run(
                        size,
                        f"fuse --engine {engine}",
                        round(seconds, 3),
                        round(seconds / floor, 2),
                        round(peak, 2),
                    )
                )
                print(
                    f"{size} {engine}: {seconds:.3f} s/frame, {seconds / floor:.2f}x floor, {peak:.2f} GiB",
                    flush=True,
                )
    return runs


def section(runs: list[Run], command: str, frames: int) -> str:
    sizes = list(dict.fromkeys(run.size for run in runs))
    lines = [
        SECTION,
        "",
        f"Reproduce with `{command}`. Seconds per frame for {frames} frames of a procedural half-float "
        f"EXR plate and PNG matte, CDL grade, {DEFAULT_BAND} px band, each engine as `movingcolor fuse` "
        "in a process of its own (start-up and model loading included); the ratio is to the I/O floor "
        f"measured in the same run (each plate and matte read, the plate written back as half ZIP EXR; "
        f"the fastest of {FLOOR_PASSES} passes, each engine one run, so ratios err high); "
        "peak is the "
        "process's resident memory.",
        "",
        *machine_lines((("numpy", "numpy"), ("OpenImageIO", "OpenImageIO"), ("OpenColorIO", "opencolorio"))),
        "",
        "| run | " + " | ".join(f"{size} s/frame | × floor | peak GiB" for size in sizes) + " |",
        "|---|" + "---:|---:|---:|" * len(sizes),
    ]
    by_key = {(run.what, run.size): run for run in runs}
    for what in dict.fromkeys(run.what for run in runs):
        cells = []
        for size in sizes:
            run = by_key.get((what, size))
            cells += (
                ["–"] * 3
                if run is None
                else [
                    f"{run.seconds_per_frame:.3f}",
                    f"{run.ratio:.2f}",
                    f"{run.peak_gib:.2f}" if run.peak_gib else "–",
                ]
            )
        lines.append(f"| {what} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default=",".join(f"{w}x{h}" for w, h in SIZES))
    parser.add_argument("--frames", type=int, default=FRAMES)
    parser.add_argument("--engines", default=",".join(ENGINES))
    parser.add_argument(
        "--out", type=Path, help="markdown file whose section to replace (e.g. BENCHMARKS.md)"
    )
    parser.add_argument("--json", type=Path, default=Path("docs/benchmarks/io_floor.json"))
    args = parser.parse_args(argv)
    sizes = [tuple(int(v) for v in size.split("x")) for size in args.sizes.split(",")]
    runs = measure(sizes, args.frames, tuple(args.engines.split(",")))
    command = "python -m movingcolor.bench.io_floor" + (f" --out {args.out}" if args.out else "")
    if args.sizes != parser.get_default("sizes"):
        command += f" --sizes {args.sizes}"
    if args.frames != FRAMES:
        command += f" --frames {args.frames}"
    if args.engines != parser.get_default("engines"):
        command += f" --engines {args.engines}"
    args.json.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(args.json, json.dumps([asdict(run) for run in runs], indent=2) + "\n")
    if args.out:
        replace_section(args.out, section(runs, command, args.frames))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
