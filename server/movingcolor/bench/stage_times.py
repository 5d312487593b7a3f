"""Where one shot's time goes: ``movingcolor fuse``'s own run, in this process, each stage timed
where it runs.

The shot is the production-speed benchmark's (``movingcolor bench --suite throughput``): a
generated half-float EXR plate and PNG matte, CDL grade, 12 px band, EXR frames written; the engine
is made (torch imported, the model loaded) before the run. The stages are the run's own functions
and the engine's own methods, timed by wrapping them for the run, so the figures follow the code
they name; one that an engine does not have is left out. A stage's *wall* is the seconds spent
inside it, summed over its calls on whichever thread made them: the readers, the engine and the
writer run at once, and a stage holds those it calls (``fuse_window`` every engine stage
below it), so the stages overlap and their sum exceeds the run. Its *own CPU* is what the
calling thread computed meanwhile (``time.thread_time``): work a stage hands to other threads
(OpenMP's, the compute pool's, OpenEXR's) is not in it. The process's CPU over the run counts every
thread. On a CUDA device a small shot is fused first, untimed (the device's first use costs
seconds), each of the engine's stages waits for the GPU's work before it ends, and the GPU's own
time per operator comes from ``torch.profiler`` over a second run of the shot (it slows the run it
records, so the stages are timed without it).

Run: ``python -m movingcolor.bench.stage_times --engine movingcolor --sizes 1920x1080,4096x2160``
(``--frames``, ``--device cuda``, ``--out BENCHMARKS.md`` for a section there, ``--json FILE``).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import functools
import importlib
import os
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ..engines.registry import create_engine, engine_names
from ..errors import MovingColorError
from ..jobs import ShotSpec, run_shot
from ..jobs.plan import engine_options
from ..model.device import resolve_device
from ..spec.schema import DEFAULT_BAND
from .frame_size import parse_frame_sizes
from .io_floor import GRADE, write_shot
from .report import command_of, gpu_label, machine_lines, report_with_figures

#: The warm-up shot fused before a GPU's timed run: small, every stage of the shot's.
WARM_UP_SIZE = (480, 270)
WARM_UP_FRAMES = 6
SECTION = "## Where a shot's time goes: the stages of one run (CPU)"
GPU_SECTION = "## Where a shot's time goes: the stages of one run (CUDA GPU)"
FRAMES = 8
SIZES = "1920x1080"

#: The run's stages, ``module: attribute`` (a class's method as ``Class.method``) with what it does.
#: The engine's own are taken from its instance (``engine.``) or its module (``engine module:``).
PIPELINE_STAGES = (
    ("movingcolor.jobs.prepare", "FramePreparer.prepare", "read and prepare a frame"),
    ("movingcolor.jobs.prepare", "FramePreparer.read_target", "read a target to complete later"),
    ("movingcolor.jobs.prepare", "FramePreparer.complete", "complete a target (grade, composite's inputs)"),
    ("movingcolor.jobs.composite", "composite", "composite a decided frame"),
    ("movingcolor.jobs.composite", "check_finite", "check a fused frame's values"),
    ("movingcolor.jobs.run", "file_samples", "a fused frame's samples for its file"),
    ("movingcolor.jobs.run", "write_image", "write a frame"),
)
ENGINE_STAGES = (
    ("engine", "fuse_window", "the engine: a window decided"),
    ("engine", "_with_steadied_mattes", "network: mattes steadied over the window"),
    ("engine", "_parts_between_cuts", "network: the window cut at shot cuts"),
    ("engine", "_convert_crops_ahead", "network: the crops' display encodings"),
    ("engine", "_full_resolution_start", "network: guided start at full resolution"),
    ("engine", "_inputs", "network: a crop's inputs at its scale (guided start there too)"),
    ("engine", "_run_network", "network: the forward pass"),
    ("engine", "guided_upsample", "network: its change upsampled onto the plate"),
    ("engine", "guided_upsample_tiles", "network: its change upsampled onto the band's tiles"),
    ("engine", "_blend_pieces", "network: the crops' pieces blended"),
    ("movingcolor.engines.band_refinement", "TileRefinements.tiles", "guided filter: band tiles refined"),
    ("engine", "smoothed_band_alpha", "guided filter: refinements averaged over time"),
    ("engine", "crisp_edge", "the edge made as crisp as the plate's"),
)


@dataclass
class Stage:
    name: str
    what: str
    calls: int = 0
    wall_seconds: float = 0.0
    own_cpu_seconds: float = 0.0


@dataclass
class StageTimes:
    """One run's stages and its totals."""

    engine: str
    size: str
    frames: int
    device: str
    seconds: float
    process_cpu_seconds: float
    stages: list[Stage] = field(default_factory=list)
    #: On a CUDA device, torch.profiler's operators by the GPU's time: ``(name, calls, seconds)``.
    gpu_operators: list[tuple[str, int, float]] = field(default_factory=list)


class _Timers:
    """Wraps each stage's function for the run and sums its calls' times (safe from many threads).
    ``synchronize``, where given, is called before and after each call of an engine's stage: on a
    GPU a call only queues its work, which a later stage would otherwise be timed waiting for. Never
    around the readers' and the writer's stages: they run on threads of their own, and waiting
    there for the engine's GPU work timed it as reading and writing and stalled the read-ahead."""

    def __init__(self, synchronize: Callable[[], None] | None = None) -> None:
        self._synchronize = synchronize or (lambda: None)
        self.stages: dict[str, Stage] = {}
        self._lock = threading.Lock()
        self._undo: list[tuple[object, str, object]] = []

    def wrap(self, owner: object, attribute: str, name: str, what: str, on_device: bool = False) -> None:
        """Time ``owner.attribute`` as stage ``name``; ``on_device``: an engine's stage, waited for on
        a GPU."""
        original = getattr(owner, attribute)
        stage = self.stages.setdefault(name, Stage(name, what))
        synchronize = self._synchronize if on_device else (lambda: None)

        @functools.wraps(original)
        def timed(*args, **kwargs):
            synchronize()
            wall, cpu = time.perf_counter(), time.thread_time()
            try:
                return original(*args, **kwargs)
            finally:
                synchronize()
                wall, cpu = time.perf_counter() - wall, time.thread_time() - cpu
                with self._lock:
                    stage.calls += 1
                    stage.wall_seconds += wall
                    stage.own_cpu_seconds += cpu

        # An instance's method is wrapped on the instance, a class's on the class, a function on its
        # module; each is put back as it was (an instance's attribute, or one inherited, removed).
        self._undo.append((owner, attribute, vars(owner).get(attribute)))
        setattr(owner, attribute, timed)

    def undo(self) -> None:
        for owner, attribute, before in reversed(self._undo):
            if before is None:
                with contextlib.suppress(AttributeError):
                    delattr(owner, attribute)
            else:
                setattr(owner, attribute, before)
        self._undo.clear()


def _owner(module: str, path: str, engine) -> tuple[object, str] | None:
    """The object holding stage ``path`` (``Class.method`` or ``function``) and the attribute's name,
    or None where there is none (an engine without that stage)."""
    parts = path.split(".")
    if module == "engine":
        # The engine's method, else a function of its module that it calls.
        if hasattr(type(engine), parts[0]):
            return engine, parts[0]
        owner = importlib.import_module(type(engine).__module__)
    else:
        owner = importlib.import_module(module)
    for part in parts[:-1]:
        owner = getattr(owner, part, None)
        if owner is None:
            return None
    return (owner, parts[-1]) if hasattr(owner, parts[-1]) else None


@contextlib.contextmanager
def timed_stages(engine, synchronize: Callable[[], None] | None = None) -> Iterator[_Timers]:
    """Every stage of :data:`PIPELINE_STAGES` and :data:`ENGINE_STAGES` that ``engine``'s run has, timed
    while the block runs (``synchronize``: :class:`_Timers`')."""
    timers = _Timers(synchronize)
    try:
        stages = [(stage, False) for stage in PIPELINE_STAGES] + [(stage, True) for stage in ENGINE_STAGES]
        for (module, path, what), on_device in stages:
            found = _owner(module, path, engine)
            if found is not None:
                timers.wrap(*found, path, what, on_device)
        yield timers
    finally:
        timers.undo()


def measure(
    engine_name: str,
    width: int,
    height: int,
    frames: int = FRAMES,
    device: str = "cpu",
    shot: tuple[str, str] | None = None,
    warm_up: bool | None = None,
    profile: bool = True,
) -> StageTimes:
    """One run of ``engine_name`` on the benchmark's shot, its stages timed; ``shot``: that shot's
    patterns where :func:`~.io_floor.write_shot` made it already (at 4096x2160 it takes most of a minute).

    ``warm_up`` (on a GPU unless False): a small shot fused first, untimed, so the timed run does not
    pay the device's first use (its context's libraries, kernels loaded and tuned: seconds on a GPU).
    ``profile``: on a GPU, the GPU's operators from a second run of the shot under torch.profiler,
    which slows the run it records, so the stages are timed without it."""
    on_gpu = device.startswith("cuda")
    with tempfile.TemporaryDirectory(prefix="movingcolor-stages-") as folder:
        plate, matte = shot or write_shot(Path(folder), width, height, frames)
        spec = ShotSpec(
            plate=plate,
            matte=matte,
            out=str(Path(folder) / "out" / "f.####.exr"),
            grade=GRADE,
            band=DEFAULT_BAND,
            engine=engine_name,
            device=device,
            force=True,
        )
        # Made as `movingcolor fuse` makes it, but before the timed run: the stages are the shot's
        # work, without torch's import and the model's load (the production-speed runs include them).
        engine = create_engine(engine_name, **engine_options(spec))
        if on_gpu if warm_up is None else warm_up:
            warm = Path(folder) / "warm-up"
            small = write_shot(warm, WARM_UP_SIZE[0], WARM_UP_SIZE[1], min(frames, WARM_UP_FRAMES))
            out = str(warm / "out" / "f.####.exr")
            run_shot(dataclasses.replace(spec, plate=small[0], matte=small[1], out=out), engine=engine)
        with timed_stages(engine, _gpu_synchronize(device)) as timers:
            before, started = os.times(), time.perf_counter()
            run_shot(spec, engine=engine)
            seconds, after = time.perf_counter() - started, os.times()
        operators = []
        if on_gpu and profile:
            with _gpu_profiler(device) as profiler:
                run_shot(spec, engine=engine)
            operators = _gpu_operators(profiler)
    # A stage the run never called is listed too (last, with no calls): one whose function the run
    # now reaches another way would otherwise drop out of the table unseen.
    stages = sorted(timers.stages.values(), key=lambda s: (s.calls > 0, s.wall_seconds), reverse=True)
    cpu = (after.user + after.system) - (before.user + before.system)
    return StageTimes(engine_name, f"{width}x{height}", frames, device, seconds, cpu, stages, operators)


def _gpu_profiler(device: str):
    from torch.profiler import ProfilerActivity, profile

    return profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA])


def _gpu_synchronize(device: str) -> Callable[[], None] | None:
    if not device.startswith("cuda"):
        return None
    import torch

    return functools.partial(torch.cuda.synchronize, device)


def _gpu_operators(profiler, count: int = 15) -> list[tuple[str, int, float]]:
    """The operators that took the most of the GPU's own time (each one's kernels, not those of the
    operators it calls: an operator's total repeats its callees', so totals would count a
    convolution's kernels four or five times over), and ``("all", kernels, seconds)`` first."""
    events = [e for e in profiler.key_averages() if getattr(e, "self_device_time_total", 0) > 0]
    events.sort(key=lambda e: e.self_device_time_total, reverse=True)
    total = ("all", sum(e.count for e in events), sum(e.self_device_time_total for e in events) / 1e6)
    return [total] + [(e.key, e.count, e.self_device_time_total / 1e6) for e in events[:count]]


def section(runs: list[StageTimes], command: str) -> str:
    device = runs[0].device if runs else "cpu"
    lines = [
        GPU_SECTION if device.startswith("cuda") else SECTION,
        "",
        f"Reproduce with `{command}`. " + " ".join(__doc__.split("\n\n")[1].split()),
        "",
        *machine_lines(
            (("numpy", "numpy"), ("OpenImageIO", "OpenImageIO"), ("torch", "torch")), gpu_label(device)
        ),
    ]
    for run in runs:
        lines += [
            "",
            f"### {run.engine}, {run.size}, {run.frames} frames: {run.seconds:.2f} s "
            f"({run.seconds / run.frames:.3f} s/frame), the process's CPU {run.process_cpu_seconds:.1f} s "
            f"({run.process_cpu_seconds / run.seconds:.2f} cores)",
            "",
            "| stage | what | calls | wall s | own CPU s |",
            "|---|---|---:|---:|---:|",
            *(
                f"| `{s.name}` | {s.what} | {s.calls} | {s.wall_seconds:.2f} | {s.own_cpu_seconds:.2f} |"
                for s in run.stages
            ),
        ]
        if run.gpu_operators:
            lines += ["", "| GPU operator (its own kernels) | calls | GPU s |", "|---|---:|---:|"]
            lines += [f"| `{name}` | {calls} | {seconds:.3f} |" for name, calls, seconds in run.gpu_operators]
    return "\n".join(lines) + "\n"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m movingcolor.bench.stage_times", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "--engine", default="movingcolor", help="comma-separated engines, each one run (default: %(default)s)"
    )
    parser.add_argument(
        "--sizes", default=SIZES, help="WxH, comma-separated, each engine run at each (default: %(default)s)"
    )
    parser.add_argument(
        "--frames", type=int, default=FRAMES, help="frames of the shot (default: %(default)s)"
    )
    parser.add_argument("--device", default="cpu", help="cpu or cuda (default: %(default)s)")
    parser.add_argument(
        "--out", type=Path, help="a markdown report to write the section into (default: print it)"
    )
    parser.add_argument("--json", type=Path, help="the runs' figures as JSON")
    parser.add_argument(
        "--profile",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="on a GPU, run each shot again under torch.profiler for the GPU's time per operator "
        "(default: %(default)s)",
    )
    return parser


def _runs(
    engines: list[str], sizes: list[tuple[int, int]], frames: int, device: str, profile: bool = True
) -> list[StageTimes]:
    """Each engine's run at each size, the engines at a size on one shot."""
    runs = []
    for width, height in sizes:
        with tempfile.TemporaryDirectory(prefix="movingcolor-stages-") as folder:
            shot = write_shot(Path(folder), width, height, frames)  # one for every engine
            runs += [measure(name, width, height, frames, device, shot, profile=profile) for name in engines]
    return runs


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        sizes = parse_frame_sizes(args.sizes)
    except MovingColorError as error:
        parser.error(str(error))
    engines = [name.strip() for name in args.engine.split(",") if name.strip()]
    unknown = sorted(set(engines) - set(engine_names()))
    if unknown:
        parser.error(f"engine {', '.join(unknown)} is not known; available: {', '.join(engine_names())}")
    if args.frames < 1:
        parser.error(f"the shot must have 1 frame or more, not {args.frames} (--frames)")
    if args.device != "cpu" and not (args.device == "cuda" or args.device.startswith("cuda:")):
        # Named, not "auto": the section's title and the GPU's profile follow the device.
        parser.error(f"device {args.device!r}: name cpu, cuda or cuda:N (--device)")
    try:
        if args.device != "cpu":
            resolve_device(args.device)  # a machine without that GPU says so before a shot is made
        runs = _runs(engines, sizes, args.frames, args.device, args.profile)
    except MovingColorError as error:
        print(f"{parser.prog}: error: {error}", file=sys.stderr)
        return 2
    command = command_of(
        "python -m movingcolor.bench.stage_times", parser, args, ("engine", "sizes", "frames", "device")
    )
    report_with_figures(args.out, section(runs, command), args.json, runs)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
