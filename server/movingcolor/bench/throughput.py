"""``movingcolor bench --suite throughput``: production speed against the I/O floor, in-process and
through a server, and the latency of a scrub's next frame through ``FuseWindow``.

One command for the whole table: :mod:`.io_floor` (each engine at 1920x1080 and 4096x2160 as
``movingcolor fuse``, alone and through ``movingcolor serve``, against reading and writing the
same frames) and :mod:`.scrub` (a host asking for one frame after another at 1080p). Each writes
its own section of the report, and its figures as JSON under ``docs/benchmarks/``.
"""

from __future__ import annotations

from pathlib import Path

from . import io_floor, scrub
from .frame_size import parse_frame_sizes
from .report import report_with_figures, reproduce_command

DEFAULT_SIZES = ",".join(f"{w}x{h}" for w, h in io_floor.SIZES)


def run(
    out: Path,
    sizes: str = DEFAULT_SIZES,
    engines: str | None = None,
    frames: int = io_floor.FRAMES,
    steps: int = scrub.STEPS,
    server: bool = True,
    device: str = "cpu",
    run_timeout: float = io_floor.RUN_TIMEOUT,
    fill: bool = False,
    runs: int = 1,
) -> bool:
    """Measure and write both sections; False where a run failed (the others are reported).
    ``sizes`` and ``engines`` are comma-separated, as typed.
    ``device``: ``cpu``, or ``cuda`` (every engine on the GPU; sections and figures of their own).
    ``run_timeout``: seconds one run of :mod:`.io_floor` may take before it is stopped (failed).
    ``fill``: the scrub's next frames timed again once the server's caches are full.
    ``runs``: runs of each engine in :mod:`.io_floor`, the fastest counted."""
    chosen = tuple(engines.split(",")) if engines else io_floor.ENGINES
    # Checked before the hours the floor's table may take, not when the scrub's turn comes.
    io_floor.check_run_settings(frames, run_timeout)
    if server:
        scrub.check_steps(steps)
    settings = {"out": out, "sizes": sizes, "engines": engines, "frames": frames, "steps": steps}
    settings |= {"no_server": not server, "device": device, "run_timeout": run_timeout, "fill": fill}
    settings |= {"runs": runs}
    defaults = {"out": Path("BENCHMARKS.md"), "sizes": DEFAULT_SIZES, "frames": io_floor.FRAMES}
    # The device always shown: the command's own default (auto) takes a GPU where there is one.
    defaults |= {"steps": scrub.STEPS, "run_timeout": io_floor.RUN_TIMEOUT, "fill": False}
    defaults |= {"runs": 1}
    command = reproduce_command("movingcolor bench --suite throughput", settings, defaults)
    figures = out.parent / io_floor.figures_path(device)
    measured_runs = io_floor.measure(
        parse_frame_sizes(sizes),
        frames,
        chosen,
        server=server,
        device=device,
        progress=io_floor.figures_writer(figures),
        run_timeout=run_timeout,
        runs_each=runs,
    )
    io_floor.write_report(measured_runs, command, frames, out, figures, device)
    failed = any(run.failed for run in measured_runs)
    if not server:
        return not failed
    # The scrub is what an OFX host does at 1080p; the light engines finish a window in one call.
    scrubbed = tuple(engine for engine in chosen if engine in scrub.ENGINES)
    if not scrubbed:
        return not failed
    measured = parse_frame_sizes(sizes)
    rows = scrub.measure(scrubbed, scrub.SIZE if scrub.SIZE in measured else measured[0], steps, device, fill)
    report_with_figures(
        out, scrub.section(rows, command, device), out.parent / scrub.figures_path(device), rows
    )
    return not failed
