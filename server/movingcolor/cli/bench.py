"""``movingcolor bench``: throughput figures written to BENCHMARKS.md."""

from __future__ import annotations

from pathlib import Path


def add_parser(commands) -> None:
    parser = commands.add_parser("bench", help="measure throughput and write BENCHMARKS.md")
    parser.add_argument("--out", default="BENCHMARKS.md", help="markdown file to update")
    parser.add_argument("--repeats", type=int, default=5, help="timed repetitions per stage")
    parser.add_argument("--sizes", default="432x240,1920x1080", help="comma-separated WxH sizes to measure")
    parser.set_defaults(run=run)


def run(args) -> int:
    from ..bench.throughput import measure, write_report

    sizes = [tuple(int(v) for v in size.lower().split("x")) for size in args.sizes.split(",")]
    results = measure(sizes, repeats=args.repeats)
    write_report(results, Path(args.out))
    print(f"wrote {args.out}")
    return 0
