"""``movingcolor bench``: fusion quality (default), production speed, each stage's speed, or the
network's cost."""

from __future__ import annotations

from pathlib import Path


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
        "--clips",
        help="fusion, real-footage: folder of real clips (default: $MOVINGCOLOR_CLIPS, else "
        "../shared/data/clips beside a checkout, if present)",
    )
    parser.add_argument(
        "--figures", help="fusion: folder for PNG figures (default: docs/benchmarks beside --out)"
    )
    parser.add_argument("--no-figures", action="store_true", help="fusion: skip the figures")
    parser.add_argument(
        "--device",
        default="auto",
        help="device for the network (fusion, network) and for every engine (throughput): auto, cpu, cuda "
        "(default: %(default)s)",
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
        "(default: 1920x1080,4096x2160 and 432x240,1920x1080)",
    )
    # Defaults of --frames and --steps are the benchmark modules' own (8 and 5), not copied here.
    parser.add_argument("--frames", type=int, help="throughput: frames per shot (default: 8)")
    parser.add_argument("--steps", type=int, help="throughput: next frames of the scrub timed (default: 5)")
    parser.add_argument(
        "--no-server", action="store_true", help="throughput: in-process only (no server, no scrub)"
    )
    parser.add_argument(
        "--fill",
        action="store_true",
        help="throughput: time the scrub's next frames again once the server's caches are full "
        "(at 1080p a minute or more)",
    )
    parser.add_argument(
        "--runs",
        type=int,
        help="throughput: runs of each engine, in-process and through a server; the fastest counts "
        "(default: 1)",
    )
    parser.add_argument(
        "--run-timeout",
        type=float,
        help="throughput: seconds one fuse run may take before it is stopped and recorded as failed "
        "(default: 1800)",
    )
    parser.set_defaults(run=run)


def _throughput_device(device: str) -> str:
    """The CUDA device the throughput suite runs on (asked for, or auto with one present), else
    ``cpu``."""
    from ..engines.torch_filters import compute_device

    return compute_device(device) or "cpu"


def run(args) -> int:
    out = Path(args.out)
    if args.suite == "throughput":
        from ..bench.throughput import run as run_throughput

        given = {
            "sizes": args.sizes,
            "frames": args.frames,
            "steps": args.steps,
            "run_timeout": args.run_timeout,
            "runs": args.runs,
        }
        if not run_throughput(
            out,
            engines=args.engines,
            server=not args.no_server,
            device=_throughput_device(args.device),
            fill=args.fill,
            **{name: value for name, value in given.items() if value is not None},
        ):
            return 1
    elif args.suite == "stages":
        from ..bench.frame_size import parse_frame_sizes
        from ..bench.stages import DEFAULT_SIZES, measure, write_report

        sizes = parse_frame_sizes(args.sizes) if args.sizes else DEFAULT_SIZES
        write_report(measure(sizes, repeats=args.repeats), out)
    elif args.suite == "real-footage":
        from ..bench.real_footage import run_from_bench

        return run_from_bench(args)
    elif args.suite == "network":
        from ..bench.network import main as network_main

        return network_main(["--device", "cpu" if args.device == "auto" else args.device, "--out", str(out)])
    else:
        from ..bench.fusion import run_benchmark
        from ..bench.real_clips import default_clips_root

        clips = Path(args.clips) if args.clips else default_clips_root()
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
