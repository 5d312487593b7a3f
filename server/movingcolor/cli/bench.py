"""``movingcolor bench``: fusion quality (default), production speed, each stage's speed, or the
network's cost."""

from __future__ import annotations

from pathlib import Path

DEFAULT_CLIPS = Path(__file__).resolve().parents[4] / "shared" / "data" / "clips"
THROUGHPUT_SIZES = "1920x1080,4096x2160"
STAGES_SIZES = "432x240,1920x1080"


def add_parser(commands) -> None:
    parser = commands.add_parser(
        "bench",
        help="benchmark engines and write BENCHMARKS.md",
        description="fusion: every engine on the ground-truth set and the real clips (default); "
        "throughput: each engine's seconds per frame against the I/O floor at 1080p and 4K, in-process "
        "and through a server, and a scrub's next frame through FuseWindow; stages: frames per second "
        "of each stage alone; network: the network's cost per configuration.",
    )
    parser.add_argument(
        "--suite",
        default="fusion",
        choices=("fusion", "throughput", "stages", "network", "real-footage"),
        help="what to measure (default: %(default)s)",
    )
    parser.add_argument(
        "--out",
        default="BENCHMARKS.md",
        help="markdown file to update; its other sections stay (default: %(default)s)",
    )
    parser.add_argument("--quick", action="store_true", help="fusion: a small set, for CI")
    parser.add_argument(
        "--engines",
        help="fusion, throughput: comma-separated engines (default: all; fusion adds installed models)",
    )
    parser.add_argument(
        "--clips", help="fusion: folder of real clips (default: ../shared/data/clips if present)"
    )
    parser.add_argument(
        "--figures", help="fusion: folder for PNG figures (default: docs/benchmarks beside --out)"
    )
    parser.add_argument("--no-figures", action="store_true", help="fusion: skip the figures")
    parser.add_argument(
        "--device", default="auto", help="device for the network: auto, cpu, cuda (default: %(default)s)"
    )
    parser.add_argument(
        "--repeats",
        type=int,
        default=5,
        help="stages: timed repetitions per stage (default: %(default)s)",
    )
    parser.add_argument(
        "--sizes",
        help="throughput, stages: comma-separated WxH sizes "
        f"(default: {THROUGHPUT_SIZES} and {STAGES_SIZES})",
    )
    parser.add_argument(
        "--frames", type=int, default=8, help="throughput: frames per shot (default: %(default)s)"
    )
    parser.add_argument(
        "--steps",
        type=int,
        default=5,
        help="throughput: next frames of the scrub timed (default: %(default)s)",
    )
    parser.add_argument(
        "--no-server", action="store_true", help="throughput: in-process only (no server, no scrub)"
    )
    parser.set_defaults(run=run)


def run(args) -> int:
    out = Path(args.out)
    if args.suite == "throughput":
        from ..bench.throughput import run as run_throughput

        run_throughput(
            out,
            sizes=args.sizes or THROUGHPUT_SIZES,
            engines=args.engines,
            frames=args.frames,
            steps=args.steps,
            server=not args.no_server,
        )
    elif args.suite == "stages":
        from ..bench.io_floor import parse_sizes
        from ..bench.stages import measure, write_report

        sizes = parse_sizes(args.sizes or STAGES_SIZES)
        write_report(measure(sizes, repeats=args.repeats), out)
    elif args.suite == "real-footage":
        from ..bench.real_footage import run_from_bench

        return run_from_bench(args)
    elif args.suite == "network":
        from ..bench.network import main as network_main

        return network_main(["--device", "cpu" if args.device == "auto" else args.device, "--out", str(out)])
    else:
        from ..bench.fusion import run_benchmark

        clips = Path(args.clips) if args.clips else DEFAULT_CLIPS
        figures = None if args.no_figures else Path(args.figures or out.parent / "docs" / "benchmarks")
        engines = args.engines.split(",") if args.engines else None
        run_benchmark(
            out,
            quick=args.quick,
            engines=engines,
            clips_root=clips,
            figures=figures,
            device=args.device,
            progress=lambda message: print(f"bench: {message}", flush=True),
        )
    print(f"wrote {out}")
    return 0
