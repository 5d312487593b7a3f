"""What a host's scrub saves by decoding one frame of a crop's window instead of all of them.

Only the frames a window decodes pass the network's last transformer block and its decoder
(``TemporalTransformerBlock.frames_out``); a scrub decodes one frame of six. This times the
shipped model on one band crop's window (``CROP`` pixels square, six local frames), decoding all
six frames and then one, on this machine's CPU cores (or ``--device cuda``):

``python -m movingcolor.bench.decoded_frames``
"""

from __future__ import annotations

import argparse
import statistics
import time


def measure(device: str = "cpu", repeats: int = 7, frames: int = 6) -> dict[str, float]:
    """Median seconds of the network on one crop's window: ``all`` frames decoded, ``one``."""
    import torch

    from ..engines.band_crops import CROP
    from ..model.registry import load_model

    network = load_model(None, device).network.eval()
    x = torch.rand(1, frames, network.config.in_channels, CROP, CROP, device=device)
    cases = {"all": None, "one": [frames // 2]}
    times: dict[str, list[float]] = {name: [] for name in cases}
    with torch.inference_mode():
        for outputs in cases.values():  # warm: the first calls pay for allocations
            network(x, frames, outputs=outputs)
        for _ in range(repeats):
            for name, outputs in cases.items():
                if device.startswith("cuda"):
                    torch.cuda.synchronize()
                started = time.perf_counter()
                network(x, frames, outputs=outputs)
                if device.startswith("cuda"):
                    torch.cuda.synchronize()
                times[name].append(time.perf_counter() - started)
    return {name: statistics.median(values) for name, values in times.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu", help="cpu or cuda (default: %(default)s)")
    parser.add_argument(
        "--repeats", type=int, default=7, help="timed runs of each case (default: %(default)s)"
    )
    args = parser.parse_args(argv)
    from ..engines.band_crops import CROP

    figures = measure(args.device, args.repeats)
    all_ms, one_ms = 1000 * figures["all"], 1000 * figures["one"]
    print(
        f"one crop ({CROP}x{CROP}, 6 frames) on {args.device}: all six decoded {all_ms:.0f} ms, "
        f"one {one_ms:.0f} ms ({one_ms / all_ms:.2f} of all)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
