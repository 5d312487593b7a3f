"""The network's cost: parameters, GFLOPs per frame, ms per output frame and peak memory.

Each (configuration, size) case runs in its own process so peak memory is that
case's alone. The engine runs exactly as in a shot (``fuse_window`` on full
windows: network at the working size, guided upsampling to the plate's size), on
consecutive windows of a synthetic shot, each a stride after the one before, so
what a window shares with the previous one (the local frames they overlap on) is
what it shares in a real shot. The time per output frame is a window's time
divided by the window stride, because in a long clip each window advances that
many frames; the first window (nothing shared yet) is not timed.

This module avoids OpenImageIO and OpenColorIO so it runs on a bare GPU machine:
``PYTHONPATH=server python -m movingcolor.bench.network --device cuda``.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from .report import machine_lines, replace_section

# The shipped model's own configuration (its working size and matte start included),
# then the published scale.
DEFAULT_CONFIGS = ("default", "paper")
DEFAULT_SIZES = ((432, 240), (1920, 1080), (4096, 2160))
SECTION = "## Network: ms per output frame and peak memory"


def _window(config, width: int, height: int, start: int = 0):
    """A full synthetic window of a shot, from its frame ``start``: smooth plates, a graded
    copy, a moving disc matte, its band. Frames are functions of their number, so windows
    that overlap share the same frames."""
    from ..engines import FusionFrames

    count = config.local_frames + config.max_global_frames
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    plates, mattes, bands = [], [], []
    for t in range(start, start + count):
        grid = np.random.default_rng([0, t]).random((3, 9, 16)).astype(np.float32)
        # Smooth colour fields: a bilinear blow-up of a coarse random grid, cheap at 4K.
        rows = np.linspace(0, 8, height)[:, None]
        cols = np.linspace(0, 15, width)[None, :]
        r0, c0 = np.floor(rows).astype(int).clip(0, 7), np.floor(cols).astype(int).clip(0, 14)
        fr, fc = rows - r0, cols - c0
        plate = (
            grid[:, r0, c0] * (1 - fr) * (1 - fc)
            + grid[:, r0 + 1, c0] * fr * (1 - fc)
            + grid[:, r0, c0 + 1] * (1 - fr) * fc
            + grid[:, r0 + 1, c0 + 1] * fr * fc
        )
        plates.append(np.ascontiguousarray(plate.transpose(1, 2, 0), dtype=np.float32))
        distance = np.hypot(yy - height / 2, xx - width * (0.4 + 0.01 * t))
        radius, band_width = 0.25 * height, 0.02 * height
        mattes.append((distance < radius).astype(np.float32))
        bands.append(np.abs(distance - radius) < band_width)
    plate = np.stack(plates)
    graded = np.clip(plate * np.array([1.15, 1.0, 0.85], np.float32), 0, 1)
    matte = np.stack(mattes)
    edited = matte[..., None] * graded + (1 - matte[..., None]) * plate
    return FusionFrames(
        frame_numbers=list(range(start, start + count)),
        outputs=list(range(config.local_frames)),
        plate=plate,
        graded=graded,
        edited=edited,
        matte=matte,
        band=np.stack(bands),
        plate_display=plate,
        graded_display=graded,
        edited_display=edited,
        band_pixels=[0.02 * height] * count,
        num_local=config.local_frames,
    )


def _label(config_name: str, network: str) -> str:
    """``paper``, or the installed model's name and its network: ``movingcolor-lite-guided (lite)``."""
    from ..model.registry import model_folders

    if config_name == "default":
        config_name = model_folders().default_name or config_name
    return config_name if config_name == network else f"{config_name} ({network})"


def run_case(config_name: str, width: int, height: int, device: str, repeats: int) -> dict:
    """Measure one case in this process."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from ..engines.movingcolor import MovingColorEngine, working_shape
    from ..model.network import MovingColorNet
    from ..model.registry import network_config

    torch.manual_seed(0)
    network = MovingColorNet(network_config(config_name))
    config = network.config
    engine = MovingColorEngine(network=network, device=device)
    count = config.local_frames + config.max_global_frames

    def synchronise() -> None:
        if device.startswith("cuda"):
            torch.cuda.synchronize(device)

    # The shot's first window, untimed; on CUDA it also warms kernels, autotuning, the allocator.
    engine.fuse_window(_window(config, width, height))
    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats(device)
    times = []
    for repeat in range(1, repeats + 1):
        # Each timed window comes a stride after the one before it, as in a shot. The previous
        # one is released first, so the process's peak memory is a shot's, not two windows'.
        window = None
        window = _window(config, width, height, repeat * config.local_stride)
        synchronise()
        started = time.perf_counter()
        engine.fuse_window(window)
        synchronise()
        times.append(time.perf_counter() - started)
    window_seconds = statistics.median(times)
    # The shot's peak, before the counting below (the counter's bookkeeping is no part of a shot).
    if device.startswith("cuda"):
        peak = torch.cuda.max_memory_allocated(device)
        device_name = torch.cuda.get_device_name(device)
    else:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux reports KiB
        device_name = "cpu"
    h, w = working_shape(height, width, config.working_size)
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        network(torch.rand(1, count, config.in_channels, h, w, device=engine.device), config.local_frames)
    # What a window really costs: at a large plate the network runs on crops along the band, so
    # the FLOPs per working-size frame above do not add up to a window's. Counted on one more
    # window, untimed (the counter slows every operation down).
    window_counter = FlopCounterMode(display=False)
    with window_counter:
        engine.fuse_window(_window(config, width, height, (repeats + 1) * config.local_stride))
    window_flops = window_counter.get_total_flops()
    peak_flops = _matmul_flops_per_second(engine.device)
    return {
        "config": _label(config_name, config.name),
        "size": [width, height],
        "working": [w, h],
        "device": device_name,
        "frames_per_window": count,
        "local_frames": config.local_frames,
        "stride": config.local_stride,
        "parameters": sum(p.numel() for p in network.parameters()),
        "gflops_per_frame": counter.get_total_flops() / count / 1e9,
        "window_seconds": window_seconds,
        "window_gflops": window_flops / 1e9,
        "gflops_per_second": window_flops / window_seconds / 1e9,
        "matmul_gflops_per_second": peak_flops / 1e9,
        "ms_per_output_frame": 1000 * window_seconds / config.local_stride,
        "peak_bytes": peak,
        "peak_kind": "GPU memory allocated" if device.startswith("cuda") else "process RSS",
        "repeats": repeats,
    }


def _matmul_flops_per_second(device) -> float:
    """The device's practical peak: float32 (bf16 on CUDA, as the network runs there) FLOP/s of a
    large square matrix product, the best of a few after a warm-up. What fraction of it the network
    reaches says how much of its time is arithmetic and how much is overhead."""
    import torch

    device = torch.device(device)
    on_gpu = device.type == "cuda"
    # On a GPU a 2048 product takes tens of microseconds, of which launching and waiting for it are
    # a large part: a larger one, launched ten times between waits.
    side, launches = (8192, 10) if on_gpu else (2048, 1)
    dtype = torch.bfloat16 if on_gpu else torch.float32
    a = torch.rand(side, side, device=device, dtype=dtype)
    b = torch.rand(side, side, device=device, dtype=dtype)
    best = float("inf")
    for _ in range(4):
        if on_gpu:
            torch.cuda.synchronize(device)
        started = time.perf_counter()
        for _ in range(launches):
            torch.mm(a, b)
        if on_gpu:
            torch.cuda.synchronize(device)
        best = min(best, (time.perf_counter() - started) / launches)
    return 2 * side**3 / best


def measure(configs, sizes, device: str, repeats: int) -> list[dict]:
    """Every case in a fresh process; a case that fails (e.g. out of memory) is reported, not fatal."""
    results = []
    for config in configs:
        for width, height in sizes:
            command = [
                sys.executable,
                "-m",
                "movingcolor.bench.network",
                "--case",
                config,
                f"{width}x{height}",
                "--device",
                device,
                "--repeats",
                str(repeats),
            ]
            done = subprocess.run(command, capture_output=True, text=True)
            if done.returncode == 0:
                results.append(json.loads(done.stdout.strip().splitlines()[-1]))
            else:
                reason = (done.stderr.strip().splitlines() or ["failed"])[-1][:200]
                results.append({"config": config, "size": [width, height], "error": reason})
            print(json.dumps(results[-1]), file=sys.stderr)
    return results


def section(results: list[dict], device: str, command: str) -> str:
    ok = [r for r in results if "error" not in r]
    device_name = ok[0]["device"] if ok else device
    title = SECTION + (" (GPU)" if device.startswith("cuda") else " (CPU)")
    lines = [
        title,
        "",
        f"Reproduce with `{command}`. Each configuration with seeded random weights (cost does not "
        "depend on them); `default` is the shipped model's configuration. "
        "Consecutive full windows of a synthetic shot, each a stride after the one before (local + global "
        "frames at the plate's size, network at its working size, guided upsampling back); ms per output "
        "frame = median window time / window stride, the shot's first window untimed. "
        + ("fp32 FFTs, bf16 elsewhere. " if device.startswith("cuda") else "float32. ")
        + "GFLOPs per input frame counted with torch.utils.flop_counter at the working size; "
        "*GFLOP/window* counted the same way over a whole window as the engine runs it (on crops "
        "along the band where the plate is large); *GFLOP/s* is that over the window's time, and "
        "*% of peak* its share of the device's practical peak, a 2048x2048 matrix product "
        + ("in bf16." if device.startswith("cuda") else "in float32 on every core."),
        "",
        *machine_lines((("torch", "torch"), ("numpy", "numpy")), device_name),
        "",
        "| config | params | GFLOPs/frame | frames/window (local+global) | plate | working"
        " | ms/output frame | GFLOP/window | GFLOP/s | % of peak | peak |",
        "|---|---:|---:|---|---|---|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        size = f"{r['size'][0]}x{r['size'][1]}"
        if "error" in r:
            lines.append(f"| {r['config']} | | | | {size} | | failed: {r['error']} | | | | |")
            continue
        lines.append(
            f"| {r['config']} | {r['parameters'] / 1e6:.2f} M | {r['gflops_per_frame']:.1f} | "
            f"{r['frames_per_window']} ({r['local_frames']}+{r['frames_per_window'] - r['local_frames']}) | "
            f"{size} | {r['working'][0]}x{r['working'][1]} | {r['ms_per_output_frame']:.0f} | "
            f"{r['window_gflops']:.0f} | {r['gflops_per_second']:.1f} | "
            f"{100 * r['gflops_per_second'] / r['matmul_gflops_per_second']:.0f}% of "
            f"{r['matmul_gflops_per_second']:.0f} | "
            f"{r['peak_bytes'] / 2**30:.2f} GiB {r['peak_kind']} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m movingcolor.bench.network", description=__doc__)
    parser.add_argument(
        "--configs",
        default=",".join(DEFAULT_CONFIGS),
        help="named configurations (lite, paper) or installed models / model folders, comma-separated",
    )
    parser.add_argument("--sizes", default=",".join(f"{w}x{h}" for w, h in DEFAULT_SIZES))
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--out", default="BENCHMARKS.md")
    parser.add_argument("--json", help="also write the raw results to this file")
    parser.add_argument("--case", nargs=2, metavar=("CONFIG", "WxH"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.case:
        width, height = (int(v) for v in args.case[1].split("x"))
        print(json.dumps(run_case(args.case[0], width, height, args.device, args.repeats)))
        return 0
    sizes = [tuple(int(v) for v in s.split("x")) for s in args.sizes.split(",")]
    results = measure(args.configs.split(","), sizes, args.device, args.repeats)
    shown = [a for a in (argv if argv is not None else sys.argv[1:])]
    if "--json" in shown:  # where raw results went is not part of the recipe
        del shown[shown.index("--json") : shown.index("--json") + 2]
    command = "python -m movingcolor.bench.network " + " ".join(shown)
    replace_section(Path(args.out), section(results, args.device, command.strip()))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
    return 0 if all("error" not in r for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
