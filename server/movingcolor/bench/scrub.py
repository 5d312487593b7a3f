"""A host scrubbing frame by frame through ``FuseWindow``: the latency of each next frame.

An OFX host rendering frame after frame asks the server for one target frame with its neighbours.
After the first window, the images a window shares with the one before are named by digest, not
resent (the client's ``reuse``), and the engine finds its work on the shared frames again. This
benchmark starts ``movingcolor serve`` on a Unix socket, sends a 1080p shot's windows for
consecutive targets and reports the first window's seconds and the median of the next ones.

Run: ``python -m movingcolor.bench.scrub --out BENCHMARKS.md`` (``--engines``, ``--size``, ``--steps``;
the figures also in ``docs/benchmarks/scrub.json`` beside the report).
"""

from __future__ import annotations

import argparse
import logging
import signal
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import MovingColorError
from ..service.process import ServerProcess
from ..spec.schema import DEFAULT_BAND
from ..synthetic import generate_shot
from .frame_size import parse_frame_size
from .report import command_of, gpu_label, machine_lines, report_with_figures

log = logging.getLogger("movingcolor")

SECTION = "## Scrubbing through the server: FuseWindow latency per next frame (CPU)"
#: The figures of a run, beside the report (the throughput suite writes the same file).
SCRUB_JSON = Path("docs/benchmarks/scrub.json")
GPU_SCRUB_JSON = Path("docs/benchmarks/scrub_cuda.json")
GPU_SECTION = "## Scrubbing through the server: FuseWindow latency per next frame (CUDA GPU)"
GRADE = "slope=1.2,1.0,0.8;offset=0.01;power=1.1;sat=1.2"
ENGINES = ("guided", "movingcolor")
SIZE = (1920, 1080)
STEPS = 5
FIRST = 1001
# Procedural textures cost more than the measurement at HD: the shot is a smaller one upsampled.
GENERATE_SCALE = 4
#: Each further pass over the shot darkens its plates by this much more: images the server has not
#: seen, as a host's next shot would be.
LAP_CHANGE = 0.002
#: The share of the server's image cache that counts as full, and the passes that fill it at most
#: (each ``FILL_STEPS`` guided steps: at 1080p a pass adds about 0.6 GB).
FULL = 0.95
FILL_STEPS = 16
MAX_FILL_PASSES = 40


@dataclass
class Scrub:
    engine: str
    size: str
    first_window: float
    next_window: float
    steps: int
    #: The next frame's median once the server's caches are full of earlier windows (``fill``);
    #: None where not measured.
    next_window_filled: float | None = None


def _shot(width: int, height: int, frames: int, lap: int = 0) -> tuple[dict, dict]:
    """Scene-linear-ish plates (sRGB-encoded values, sent as such) and binary mattes by frame;
    ``lap``: another pass over the same shot, images the server has not seen: its plates differ by
    a little, and plates and mattes are moved down by ``lap`` rows (the top row repeated), so the
    mattes differ too and still follow their plates."""
    from scipy import ndimage

    small = generate_shot(
        width=width // GENERATE_SCALE, height=height // GENERATE_SCALE, frames=frames, seed=7
    )
    plates, mattes = {}, {}
    for index in range(frames):
        plate = ndimage.zoom(small.plate[index], (GENERATE_SCALE, GENERATE_SCALE, 1), order=1)
        matte = ndimage.zoom(small.matte[index], GENERATE_SCALE, order=1) >= 0.5
        plate = _moved_down(plate * (1.0 - LAP_CHANGE * lap), lap)
        plates[FIRST + index] = np.ascontiguousarray(np.clip(plate, 0.0, 1.0), np.float32)
        mattes[FIRST + index] = _moved_down(matte.astype(np.float32), lap)
    return plates, mattes


def _moved_down(image: np.ndarray, rows: int) -> np.ndarray:
    """``image`` moved down by ``rows`` (at most its height less one), its top row repeated above."""
    rows = min(rows, len(image) - 1)
    if rows <= 0:
        return image
    return np.concatenate([np.repeat(image[:1], rows, axis=0), image[:-rows]])


def _window(numbers: list[int], target: int, radius: int) -> list[int]:
    return [n for n in numbers if abs(n - target) <= radius]


def _scrub(client, engine: str, radius: int, size: tuple[int, int], steps: int, lap: int = 0) -> list[float]:
    """Seconds of each window call of a scrub over ``steps`` + 1 consecutive targets of a shot."""
    width, height = size
    plates, mattes = _shot(width, height, steps + 2 * radius + 1, lap)
    numbers = sorted(plates)
    seconds = []
    for target in numbers[radius : radius + steps + 1]:
        window = _window(numbers, target, radius)
        started = time.perf_counter()
        client.fuse_window(
            target,
            {n: plates[n] for n in window},
            {n: mattes[n] for n in window},
            grade=GRADE,
            band=DEFAULT_BAND,
            colorspace="sRGB - Texture",
            engine=engine,
        )
        seconds.append(time.perf_counter() - started)
        print(f"{engine} {target} (pass {lap}): {seconds[-1]:.3f} s", file=sys.stderr, flush=True)
    return seconds


def _caches_full(client) -> bool:
    """Whether the server's image cache, the largest, holds nearly all it may: by then its frames'
    and results' caches, which grow faster for their size, are full too."""
    cache = client.info()["cache"]
    return int(cache["image_bytes"]) >= FULL * int(cache["image_capacity_bytes"])


def measure(
    engines=ENGINES, size=SIZE, steps: int = STEPS, device: str = "cpu", fill: bool = False
) -> list[Scrub]:
    """Each engine's scrub through a server whose engines run on ``device``: the first window and
    the next frames on a fresh server, and, ``fill``, the next frames again once guided scrubs of
    other images have filled its caches (a host's session after its first minute or so: every
    window's new images then take memory another one freed)."""
    from movingcolor_client import connect

    check_steps(steps)
    width, height = size
    rows = []
    with (
        tempfile.TemporaryDirectory(prefix="movingcolor-scrub-") as folder,
        ServerProcess(f"unix://{folder}/mc.sock", ["--device", device]) as server,
    ):
        client = connect(server.address, name="bench-scrub")
        server.wait_for_warm_up()
        try:
            # The network reads its local frames: as many each side as its stride covers.
            radii = {e["name"]: int(e["temporal_radius"]) or 2 for e in client.info()["engines"]}
            # Each engine scrubs images of its own: on the images an engine before it scrubbed, the
            # server would find them held (sent by digest) and their frames prepared, and the
            # later engine's figures would leave that work out.
            for lap, engine in enumerate(engines):
                seconds = _scrub(client, engine, radii.get(engine, 2), size, steps, lap)
                rows.append(
                    Scrub(engine, f"{width}x{height}", seconds[0], statistics.median(seconds[1:]), steps)
                )
            if fill:
                lap = len(engines)
                full = _caches_full(client)
                while not full and lap - len(engines) < MAX_FILL_PASSES:
                    _scrub(client, "guided", radii.get("guided", 2), size, FILL_STEPS, lap)
                    lap += 1
                    full = _caches_full(client)
                if not full:
                    # A figure called "caches full" from caches that are not would flatter it.
                    cache = client.info()["cache"]
                    log.warning(
                        "the server's image cache held %s of %s bytes after %d guided scrubs: not full, "
                        "so no figure with the caches full is given",
                        cache["image_bytes"],
                        cache["image_capacity_bytes"],
                        MAX_FILL_PASSES,
                    )
                    return rows
                for row in rows:
                    seconds = _scrub(client, row.engine, radii.get(row.engine, 2), size, steps, lap)
                    row.next_window_filled = statistics.median(seconds[1:])
                    lap += 1
        finally:
            client.close()
    return rows


def check_steps(steps: int) -> None:
    """Refuse a scrub without a next frame to time."""
    if steps < 1:
        raise MovingColorError(
            f"a scrub needs 1 step or more, not {steps} (--steps): the next frames are timed"
        )


def section(rows: list[Scrub], command: str, device: str = "cpu") -> str:
    lines = [
        SECTION if device == "cpu" else GPU_SECTION,
        "",
        f"Reproduce with `{command}`. `movingcolor serve` on a Unix socket; the client library's "
        "`fuse_window` (what the OFX plugin calls) for consecutive target frames, each window the target "
        "and its engine's neighbours (GetInfo's temporal radius; 2 each side where it gives none, as "
        "the network does, the OFX plugin's default window radius), CDL grade, "
        f"{DEFAULT_BAND} px band, float pixels in and out. After the first window, images the server "
        "holds are named by digest instead of resent. Each engine scrubs images of its own, so none "
        "finds another's work held. *next* is the median over the following targets, "
        "on a fresh server whose caches still grow (each new image and prepared frame taking memory "
        "the process had not used); *caches full* the same once guided scrubs of other images have "
        "filled the server's caches (`--fill`), as in a host's session after its first minute or so.",
        "",
        *machine_lines((("numpy", "numpy"), ("grpcio", "grpcio"), ("torch", "torch")), gpu_label(device)),
        "",
        "| engine | size | first window (s) | next frame of the scrub (s) | next frame, caches full (s) "
        "| steps |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for row in rows:
        filled = "–" if row.next_window_filled is None else f"{row.next_window_filled:.2f}"
        lines.append(
            f"| {row.engine} | {row.size} | {row.first_window:.2f} | {row.next_window:.2f} | {filled} "
            f"| {row.steps} |"
        )
    return "\n".join(lines) + "\n"


def figures_path(device: str) -> Path:
    """Where a scrub on ``device`` keeps its figures, relative to the report's folder."""
    return SCRUB_JSON if device == "cpu" else GPU_SCRUB_JSON


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engines", default=",".join(ENGINES))
    parser.add_argument("--size", default=f"{SIZE[0]}x{SIZE[1]}")
    parser.add_argument("--steps", type=int, default=STEPS, help="next frames timed after the first")
    parser.add_argument("--device", default="cpu", help="where the server's engines run: cpu or cuda")
    parser.add_argument(
        "--fill",
        action="store_true",
        help="time the next frames again once the server's caches are full (at 1080p a minute or more)",
    )
    parser.add_argument(
        "--out", type=Path, help="markdown file whose section to replace (e.g. BENCHMARKS.md)"
    )
    args = parser.parse_args(argv)
    if args.steps < 1:
        parser.error("--steps must be 1 or more: the next frames are what is timed")
    try:
        size = parse_frame_size(args.size)
    except MovingColorError as error:
        parser.error(f"--size: {error}")
    rows = measure(tuple(args.engines.split(",")), size, args.steps, args.device, args.fill)
    options = ("out", "engines", "size", "steps", "device", "fill")
    command = command_of("python -m movingcolor.bench.scrub", parser, args, options)
    text = section(rows, command, args.device)
    print(text)
    if args.out:
        # The figures beside the report, as the throughput suite writes them.
        report_with_figures(args.out, text, args.out.parent / figures_path(args.device), rows)
    return 0


if __name__ == "__main__":
    # SIGTERM (a CI job cancelled, ``timeout``) ends it as Ctrl-C does: its server stopped, its
    # folders removed.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))
    raise SystemExit(main())
