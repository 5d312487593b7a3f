"""Frames per second of each stage alone (read, grade, band, engines, write) on this machine's CPU.

Every stage calls the code a real run calls (image I/O, OCIO grade, band, each
registered engine, ``run_shot``) on procedural frames with real structure, so
the figures move when that code gets faster or slower, not when a copy of it does.
"""

from __future__ import annotations

import importlib.util
import itertools
import logging
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..color.config import ColorConfig, apply_processor
from ..color.grade import parse_grade
from ..engines import FusionFrames
from ..engines.registry import create_engine, engine_names, takes_device
from ..frames.image_io import read_pixels, write_image
from ..jobs import ShotSpec, run_shot
from ..masks.band import BandWidth, edge_band
from ..spec.schema import DEFAULT_BAND
from ..synthetic import generate_shot
from .report import machine_lines, replace_section, reproduce_command

SECTION = "## Each stage alone: frames per second (CPU)"
GRADE = "slope=1.2,1.0,0.8;offset=0.01;power=1.1;sat=1.2"
BAND = DEFAULT_BAND
PIPELINE_ENGINE = "guided"
PIPELINE_STAGE = f"end to end: {PIPELINE_ENGINE} (run_shot)"
# Mirror cli/bench.py, so the stated command is the plain one when nothing was changed.
DEFAULT_SIZES = [(432, 240), (1920, 1080)]
_DEFAULT_REPEATS = 5


@dataclass(frozen=True)
class Result:
    """One measured stage at one size; ``seconds_median`` is per frame, so ``fps = 1 / seconds_median``."""

    size: tuple[int, int]
    stage: str
    seconds_median: float
    fps: float
    repeats: int


def _median_seconds(call: Callable[[], object], repeats: int) -> float:
    """One untimed warm-up (lazy imports, OCIO processor build, caches), then the median of ``repeats``.

    A call that returns a float reports its own duration (``run_shot`` does); else wall time is used.
    """
    call()
    samples = []
    for _ in range(max(1, repeats)):
        start = time.perf_counter()
        reported = call()
        samples.append(reported if isinstance(reported, float) else time.perf_counter() - start)
    return statistics.median(samples)


def _pipeline_frames(width: int, height: int) -> int:
    # Enough frames to fill the guided window, few enough to keep HD under ~2 minutes on 2 cores.
    return 8 if width * height <= 640 * 360 else 4


def _measure_size(width: int, height: int, repeats: int, folder: Path) -> list[Result]:
    config = ColorConfig()
    lin = config.scene_linear
    # The network has its own benchmark (bench/network.py): it needs a model.
    engines = {name: create_engine(name) for name in engine_names() if name != "movingcolor"}
    if importlib.util.find_spec("torch") is not None:
        # The path a GPU takes, here on the CPU: what the numpy path's default there is weighed against.
        engines |= {
            f"{name} (torch, cpu)": create_engine(name, device="cpu")
            for name in engine_names()
            if name != "movingcolor" and takes_device(name)
        }
    window = 2 * max(e.temporal_radius for e in engines.values()) + 1
    pipeline_frames = _pipeline_frames(width, height)
    # Generating the textures dominates at HD, so one shot serves every stage.
    shot = generate_shot(width=width, height=height, frames=max(window, pipeline_frames), seed=7)
    plate = np.stack([config.convert(p, config.srgb_encoded, lin) for p in shot.plate])
    grade = parse_grade(GRADE, config)
    processor = grade.processor(config, lin, lin, lin)
    graded = np.stack([apply_processor(processor, p) for p in plate])
    alpha = shot.matte[..., None]
    edited = alpha * graded + (1.0 - alpha) * plate
    width_spec = BandWidth.parse(BAND)
    band = np.stack([edge_band(m, width_spec) for m in shot.matte])
    display = np.clip(np.stack([config.convert(p, lin, config.srgb_encoded) for p in plate]), 0.0, 1.0)
    band_pixels = [width_spec.pixels(m >= 0.5) for m in shot.matte]

    for index in range(pipeline_frames):
        number = 1001 + index
        write_image(folder / f"plate.{number}.exr", plate[index], attributes={"oiio:ColorSpace": lin})
        write_image(folder / f"matte.{number}.png", shot.matte[index][..., None], channels=("Y",))

    stages: list[tuple[str, Callable[[], object]]] = []
    # Reading different frames in turn, as a run does; they are in the page cache, so this is decode speed.
    cycle = itertools.cycle(sorted(folder.glob("plate.*.exr")))
    stages.append(("read EXR (half, zip)", lambda: read_pixels(next(cycle))))
    stages.append(("grade (CDL via OCIO)", lambda: apply_processor(processor, plate[0])))
    stages.append((f"edge band ({width_spec})", lambda: edge_band(shot.matte[0], width_spec)))

    for name, engine in engines.items():
        count = 2 * engine.temporal_radius + 1
        engine.reset()
        start = itertools.count(1001)

        def fuse(engine=engine, count=count, start=start) -> None:
            # Advancing the window by one frame per call is the steady state of a real run: an engine
            # that caches per-frame work (guided) redoes exactly the one frame a run would.
            first = next(start)
            engine.fuse(
                FusionFrames(
                    frame_numbers=list(range(first, first + count)),
                    outputs=[count // 2],
                    plate=plate[:count],
                    graded=graded[:count],
                    edited=edited[:count],
                    matte=shot.matte[:count],
                    band=band[:count],
                    plate_display=display[:count],
                    # The classical engines read neither (Engine.inputs).
                    graded_display=None,
                    edited_display=None,
                    band_pixels=band_pixels[:count],
                )
            )

        stages.append((f"engine: {name}", fuse))

    stages.append(("write EXR (half, zip)", lambda: write_image(folder / "write.exr", plate[0])))

    spec = ShotSpec(
        plate=str(folder / "plate.####.exr"),
        matte=str(folder / "matte.####.png"),
        out=str(folder / "out" / "fused.####.exr"),
        grade=GRADE,
        band=BAND,
        engine=PIPELINE_ENGINE,
        force=True,  # every repeat does the work; none may skip frames the last one wrote
    )
    stages.append((PIPELINE_STAGE, lambda: float(run_shot(spec).seconds)))

    results = []
    for stage, call in stages:
        seconds = _median_seconds(call, repeats)
        if stage == PIPELINE_STAGE:
            seconds /= pipeline_frames
        results.append(Result((width, height), stage, seconds, 1.0 / max(seconds, 1e-9), repeats))
    return results


def measure(sizes: list[tuple[int, int]], repeats: int = _DEFAULT_REPEATS) -> list[Result]:
    """Time every stage at every size; rows keep stage order so the report reads top to bottom."""
    logger = logging.getLogger("movingcolor")
    level = logger.level
    # run_shot logs its colourspace choices on every call; repeated, they would bury the result.
    logger.setLevel(logging.WARNING)
    try:
        results: list[Result] = []
        for width, height in sizes:
            with tempfile.TemporaryDirectory(prefix="movingcolor-bench-") as folder:
                results += _measure_size(width, height, repeats, Path(folder))
        return results
    finally:
        logger.setLevel(level)


def _fps_cell(fps: float | None) -> str:
    if fps is None:
        return "–"
    return f"{fps:.1f}" if fps >= 10 else f"{fps:.2f}"


def _section(results: list[Result]) -> str:
    sizes = list(dict.fromkeys(r.size for r in results))
    stages = list(dict.fromkeys(r.stage for r in results))
    fps = {(r.stage, r.size): r.fps for r in results}
    repeats = results[0].repeats if results else _DEFAULT_REPEATS
    frames = ", ".join(f"{_pipeline_frames(w, h)} frames at {w}x{h}" for w, h in sizes)
    command = reproduce_command(
        "movingcolor bench --suite stages",
        {"sizes": ",".join(f"{w}x{h}" for w, h in sizes), "repeats": repeats},
        {"sizes": ",".join(f"{w}x{h}" for w, h in DEFAULT_SIZES), "repeats": _DEFAULT_REPEATS},
    )
    packages = (("numpy", "numpy"), ("OpenImageIO", "OpenImageIO"), ("OpenColorIO", "opencolorio"))
    lines = [
        SECTION,
        "",
        f"Reproduce with `{command}`. Frames per second, higher is better: the median of {repeats} "
        "timed runs after one warm-up, one frame per run. Engines see a full window that advances one "
        "frame per run, the steady state of a shot. End to end is frames / `run_shot` seconds for a "
        f"half-float EXR plate and PNG matte ({frames}), CDL grade, {BAND} px band.",
        "",
        *machine_lines(packages),
        "",
        "| stage | " + " | ".join(f"{w}x{h} fps" for w, h in sizes) + " |",
        "|---|" + "---:|" * len(sizes),
    ]
    for stage in stages:
        cells = [_fps_cell(fps.get((stage, size))) for size in sizes]
        lines.append(f"| {stage} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def write_report(results: list[Result], path: Path) -> None:
    """Replace this benchmark's section of ``path`` (other sections survive)."""
    replace_section(path, _section(results))
