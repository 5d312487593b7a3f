"""Frames per second and latency through the server, against the same work in-process.

For one shot (EXR plate and PNG matte on disk, CDL grade, EXR frames out), three paths:

* in-process: ``run_shot``, as ``movingcolor fuse`` runs it;
* through ``movingcolor serve`` on a Unix socket, and on loopback TCP: the client library's
  ``fuse_files``, as ``movingcolor fuse --server`` runs it (same files in and out).

Shot fps is frames / wall seconds; *first frame* is the seconds until the first frame is
written. *Window latency* is one target frame fused from its neighbours held in memory
(what an OFX host asks for): ``ShotStream`` over a ``FrameStore`` in-process, against the
``FuseWindow`` call. Engines are loaded before timing on both sides (the server keeps its
copy between calls). On a GPU machine:

    python -m movingcolor.bench.server --device cuda --engines guided,movingcolor --out BENCHMARKS.md
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..color.config import ColorConfig
from ..engines import create_engine
from ..frames.image_io import read_pixels, write_image
from ..frames.stream import DecodedImage, FrameStore, StreamSource
from ..jobs import ShotSources, ShotSpec, ShotStream, run_shot
from ..service.process import ServerProcess
from ..spec.schema import DEFAULT_BAND
from ..synthetic import generate_shot
from .report import machine_lines, replace_section

GRADE = "slope=1.2,1.0,0.8;offset=0.01;power=1.1;sat=1.2"
BAND = DEFAULT_BAND
SIZES = ((432, 240), (1920, 1080))
# Frames per shot: enough for full windows at the small size, few enough for minutes at HD.
SHOT_FRAMES = {(432, 240): 12, (1920, 1080): 4}
# Procedural textures cost more than the measurement at HD: larger shots are a smaller one upsampled.
GENERATE_MAX_PIXELS = 640 * 360
FIRST = 1001


@dataclass
class Row:
    engine: str
    size: tuple[int, int]
    path: str
    fps: float
    first_frame: float
    window_ms: float | None
    runs: int


def _write_shot(folder: Path, width: int, height: int, frames: int) -> tuple[str, str]:
    config = ColorConfig()
    factor = 1
    while (width // factor) * (height // factor) > GENERATE_MAX_PIXELS and width % (2 * factor) == 0:
        factor *= 2
    shot = generate_shot(width=width // factor, height=height // factor, frames=frames, seed=7)
    for index in range(frames):
        plate, matte = shot.plate[index], shot.matte[index]
        if factor > 1:
            from scipy import ndimage

            plate = np.clip(ndimage.zoom(plate, (factor, factor, 1), order=1), 0.0, 1.0)
            matte = (ndimage.zoom(matte, factor, order=1) >= 0.5).astype(np.float32)
        linear = config.convert(plate, config.srgb_encoded, config.scene_linear)
        write_image(
            folder / f"plate.{FIRST + index}.exr", linear, attributes={"oiio:ColorSpace": config.scene_linear}
        )
        write_image(folder / f"matte.{FIRST + index}.png", matte[..., None], channels=("Y",))
    return str(folder / "plate.####.exr"), str(folder / "matte.####.png")


def _timed_shot(run) -> tuple[float, float]:
    """``(frames per second, seconds to the first frame)`` of ``run(progress)``."""
    started, first = time.perf_counter(), []

    def progress(done: int, total: int, frame: int) -> None:
        if not first:
            first.append(time.perf_counter() - started)

    frames = run(progress)
    seconds = time.perf_counter() - started
    return frames / seconds, first[0]


def _window_frames(engine, frames: int) -> tuple[int, list[int]]:
    """The target and the neighbours a host sends: the engine's radius, or the network's local frames."""
    count = 2 * engine.temporal_radius + 1 if engine.name != "movingcolor" else engine.config.local_frames
    count = min(count, frames)
    numbers = list(range(FIRST, FIRST + count))
    return numbers[len(numbers) // 2], numbers


def _memory_window(engine, target: int, images: dict) -> float:
    """One window in-process from frames in memory; returns seconds."""
    started = time.perf_counter()
    store = FrameStore(("plate", "matte"), sorted(images["plate"]))
    for role, frames in images.items():
        for number, image in frames.items():
            store.put(role, number, image)
    store.finish()
    spec = ShotSpec(plate="plate", out="", matte="matte", grade=GRADE, band=BAND, frames=str(target))
    sources = ShotSources(StreamSource(store, "plate"), StreamSource(store, "matte"), release=store.release)
    stream = ShotStream(spec, sources, engine)
    try:
        list(stream)
    finally:
        stream.close()
    return time.perf_counter() - started


def _measure(
    engine: str, options: dict, servers: dict, size, folder: Path, warm: bool, runs: int
) -> list[Row]:
    from movingcolor_client import connect

    frames = SHOT_FRAMES.get(size, 4)
    plate, matte = _write_shot(folder, *size, frames)
    loaded = create_engine(engine, **options)
    target, numbers = _window_frames(loaded, frames)

    def frame(pattern: str, number: int):
        return read_pixels(Path(pattern.replace("####", str(number))))

    images = {
        "plate": {n: DecodedImage(frame(plate, n), ("R", "G", "B"), "ACEScg", True) for n in numbers},
        "matte": {n: DecodedImage(frame(matte, n), ("Y",), "", False) for n in numbers},
    }
    arrays = {role: {n: image.pixels for n, image in frames_.items()} for role, frames_ in images.items()}
    server_options = {"engine": engine, **({"model": options["model"]} if "model" in options else {})}
    rows = []

    def in_process(progress):
        out = str(folder / "out" / "f.####.exr")
        # force: every run does the work; none may skip the frames the previous run wrote.
        spec = ShotSpec(
            plate=plate, matte=matte, out=out, grade=GRADE, band=BAND, engine=engine, force=True, **options
        )
        shared = (
            loaded if engine == "movingcolor" else None
        )  # the network loaded once, as the server keeps it
        return len(run_shot(spec, progress, shared).written)

    paths = [("in-process", in_process, None)]
    clients = []
    for label, server in servers.items():
        client = connect(server.address, name=f"bench-{label}")
        clients.append(client)

        def through(progress, client=client):
            out = folder / "remote" / "f.####.exr"
            result = client.fuse_files(
                plate, out, matte, grade=GRADE, band=BAND, progress=progress, force=True, **server_options
            )
            return len(result.written)

        def window(client=client):
            started = time.perf_counter()
            plates, mattes = arrays["plate"], arrays["matte"]
            client.fuse_window(
                target, plates, mattes, grade=GRADE, band=BAND, colorspace="ACEScg", **server_options
            )
            return time.perf_counter() - started

        paths.append((label, through, window))

    for label, shot, window in paths:
        if warm:
            shot(None if label == "in-process" else lambda *_: None)
        samples = [_timed_shot(shot) for _ in range(runs)]
        if window is None:
            # The network as loaded (the server keeps its copy too); a classical engine fresh, as per job.
            fresh = (
                (lambda: loaded) if engine == "movingcolor" else (lambda: create_engine(engine, **options))
            )
            window_seconds = [_memory_window(fresh(), target, images) for _ in range(max(runs, 2))]
        else:
            window_seconds = [window() for _ in range(max(runs, 2))]
        rows.append(
            Row(
                engine,
                size,
                label,
                statistics.median(s[0] for s in samples),
                statistics.median(s[1] for s in samples),
                1000 * statistics.median(window_seconds[1:] if len(window_seconds) > 1 else window_seconds),
                runs,
            )
        )
        print(f"{engine} {size[0]}x{size[1]} {label}: {rows[-1].fps:.2f} fps", file=sys.stderr)
    for client in clients:
        client.close()
    return rows


def _random_model(folder: Path, config: str = "lite") -> str:
    """A seeded random ``config`` network, installed for this run only (cost does not depend on weights)."""
    from ..model.checkpoint import save_checkpoint
    from ..model.registry import create_network

    save_checkpoint(
        create_network(config, seed=0), folder / f"{config}-random", f"{config}-random", "# random\n"
    )
    return f"{config}-random"


def _section(rows: list[Row], device: str, model_note: str, command: str) -> str:
    packages = (("numpy", "numpy"), ("OpenImageIO", "OpenImageIO"), ("grpcio", "grpcio"), ("torch", "torch"))
    gpu_note = (
        "On a CUDA machine: `python -m movingcolor.bench.server --device cuda --engines guided,movingcolor "
        "--out BENCHMARKS.md` (its own section)."
        if device == "cpu"
        else ""
    )
    shots = ", ".join(f"{n} frames at {w}x{h}" for (w, h), n in SHOT_FRAMES.items())
    lines = [
        f"## Server: frames per second and latency ({device})",
        "",
        f"Reproduce with `{command}`. One shot (half-float EXR plate and PNG matte on disk, CDL grade, "
        f"{BAND} px band, EXR frames written; {shots}) "
        "run in-process (`run_shot`, as `movingcolor fuse`) and through `movingcolor serve` with the client "
        "library (`fuse_files`, as `movingcolor fuse --server`: the same files in and out), on a Unix socket "
        "and on loopback TCP. *fps* is frames / wall seconds, *first frame* the seconds until the first "
        "frame was written (the windows need neighbours first), both the median of the runs (after one "
        "untimed warm-up per path at the first size). *Window* is one target frame fused from its "
        "neighbours held in memory, as an OFX host asks "
        "(guided: the target and 2 each side; the network: its local frames), in-process over a `FrameStore` "
        "against the `FuseWindow` call repeated, median: in-process fuses afresh every time, while the "
        "server answers the same window again from its result cache after the first call (what a host "
        "that re-renders an unchanged frame gets; a scrub's next frame is in the scrubbing section). "
        "Engines are loaded before timing on both sides. "
        "1920x1080 frames are a 480x270 procedural shot upsampled. "
        + " ".join(note for note in (model_note, gpu_note) if note),
        "",
        *machine_lines(packages, device=device),
        "",
        "| engine | size | path | fps | first frame (s) | window (ms) | runs |",
        "|---|---|---|---:|---:|---:|---:|",
    ]
    for row in rows:
        window = f"{row.window_ms:.0f}" if row.window_ms is not None else "–"
        fps = f"{row.fps:.2f}" if row.fps < 10 else f"{row.fps:.1f}"
        lines.append(
            f"| {row.engine} | {row.size[0]}x{row.size[1]} | {row.path} | {fps} | {row.first_frame:.2f} | "
            f"{window} | {row.runs} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Frames per second and latency through the server vs in-process."
    )
    parser.add_argument("--engines", default="guided", help="comma-separated (guided, movingcolor, ...)")
    parser.add_argument(
        "--model", help="the network: an installed model (default: installed, else random lite)"
    )
    parser.add_argument("--device", default="cpu", help="device for the network: cpu or cuda")
    parser.add_argument("--sizes", default="432x240,1920x1080", help="comma-separated WxH")
    parser.add_argument("--runs", type=int, default=3, help="timed runs per path at the smallest size")
    parser.add_argument("--out", type=Path, default=Path("BENCHMARKS.md"))
    args = parser.parse_args(argv)
    logging.getLogger("movingcolor").setLevel(logging.WARNING)
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    sizes = [tuple(int(v) for v in s.lower().split("x")) for s in args.sizes.split(",")]
    rows: list[Row] = []
    model_note = ""
    with tempfile.TemporaryDirectory(prefix="movingcolor-bench-server-") as tmp:
        root = Path(tmp)
        options_for = {e: {} for e in engines}
        if "movingcolor" in engines:
            from ..model.registry import model_folders

            models = root / "models"
            models.mkdir()
            os.environ["MOVINGCOLOR_MODELS"] = os.pathsep.join(
                p for p in (str(models), os.environ.get("MOVINGCOLOR_MODELS", "")) if p
            )
            model = args.model or next(iter(model_folders()), None) or _random_model(models)
            options_for["movingcolor"] = {"model": model, "device": args.device}
            model_note = f"The network: model {model}" + (
                " (seeded random lite weights: cost does not depend on them)."
                if model.endswith("-random")
                else "."
            )
        socket_folder = Path(tempfile.mkdtemp(prefix="mc-bench-", dir="/tmp"))
        serve_args = ["--device", args.device]
        servers = {
            "server, Unix socket": ServerProcess(f"unix://{socket_folder}/mc.sock", serve_args),
            "server, TCP loopback": ServerProcess("127.0.0.1:0", serve_args),
        }
        try:
            for server in servers.values():
                server.start()
            for index, size in enumerate(sizes):
                for engine in engines:
                    folder = root / f"{engine}-{size[0]}x{size[1]}"
                    folder.mkdir()
                    runs = args.runs if index == 0 and engine != "movingcolor" else 1
                    rows += _measure(engine, options_for[engine], servers, size, folder, index == 0, runs)
        finally:
            for server in servers.values():
                server.stop()
            for leftover in socket_folder.iterdir():
                leftover.unlink()
            socket_folder.rmdir()
    given = sys.argv[1:] if argv is None else argv
    command = " ".join(["python -m movingcolor.bench.server", *given])
    replace_section(args.out, _section(rows, args.device, model_note, command))
    return 0


if __name__ == "__main__":
    sys.exit(main())
