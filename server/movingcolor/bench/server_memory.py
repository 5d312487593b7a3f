"""The server's resident memory under load: before, and after each round of concurrent clients.

A ``movingcolor serve`` subprocess on a Unix socket; each round, ``--clients`` clients at once
each fuse ``--frames`` generated frames (``fuse_arrays``, raw float samples both ways) with one
engine. The server's VmRSS (``/proc/PID/status``) is read when it has started, after a one-frame
warm-up (imports, OCIO processors, the engine), and after each round once its jobs have ended.
A server whose memory returns near the warm level, or levels off, holds nothing per job.

    python -m movingcolor.bench.server_memory --rounds 3 --out server-memory.json

Extra ``movingcolor serve`` options follow ``--``; ``MALLOC_ARENA_MAX`` and the like pass
through the environment.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from ..errors import MovingColorError
from ..service.process import ServerProcess
from .frame_size import parse_frame_size

GRADE = "slope=1.2,1.0,0.8;offset=0.01;power=1.1;sat=1.2"
MIB = 1024 * 1024


def _frames(count: int, width: int, height: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A plate of noise and a rectangular matte that moves a pixel a frame."""
    rng = np.random.default_rng(seed)
    plate = rng.uniform(0.0, 1.0, (count, height, width, 3)).astype(np.float32)
    matte = np.zeros((count, height, width), np.float32)
    for index in range(count):
        left = width // 4 + index
        matte[index, height // 4 : 3 * height // 4, left : left + width // 2] = 1.0
    return plate, matte


def _round(address: str, clients: int, plate: np.ndarray, matte: np.ndarray, engine: str) -> float:
    """``clients`` concurrent ``fuse_arrays`` calls; their wall seconds. Raises the first failure."""
    from movingcolor_client import connect

    errors: list[BaseException] = []

    def one(index: int) -> None:
        try:
            with connect(address, name=f"memory-{index}") as client:
                client.fuse_arrays(plate, matte, grade=GRADE, engine=engine)
        except BaseException as error:  # handed to the caller below
            errors.append(error)

    started = time.perf_counter()
    threads = [threading.Thread(target=one, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return time.perf_counter() - started


def _settle(server: ServerProcess, address: str, seconds: float = 30.0) -> None:
    """Wait until the server runs no job (a call's end reaches the client before the server's
    cleanup), then until it has given freed memory back: ``MemoryTrimmer.IDLE_SECONDS`` after it
    went idle, polled every half second."""
    from movingcolor_client import connect

    from ..service.server import MemoryTrimmer

    deadline = time.monotonic() + seconds
    with connect(address) as client:
        while client.info()["active_jobs"] and time.monotonic() < deadline:
            time.sleep(0.1)
    time.sleep(MemoryTrimmer.IDLE_SECONDS + 2.0)


def measure(
    clients: int, frames: int, size: tuple[int, int], rounds: int, engine: str, serve_args: list[str]
) -> list[dict]:
    """Rows of ``{"point", "rss_mib", "seconds"}``: started, warm, then one per round."""
    plate, matte = _frames(frames, *size)
    folder = Path(tempfile.mkdtemp(prefix="mc-mem-", dir="/tmp"))
    rows: list[dict] = []
    try:
        with ServerProcess(f"unix://{folder}/mc.sock", serve_args) as server:
            address = server.address
            rows.append({"point": "started", "rss_mib": server.rss_bytes() / MIB, "seconds": None})
            seconds = _round(address, 1, plate[:1], matte[:1], engine)
            _settle(server, address)
            rows.append({"point": "warm (1 frame)", "rss_mib": server.rss_bytes() / MIB, "seconds": seconds})
            for index in range(rounds):
                seconds = _round(address, clients, plate, matte, engine)
                _settle(server, address)
                rows.append(
                    {
                        "point": f"after round {index + 1}",
                        "rss_mib": server.rss_bytes() / MIB,
                        "seconds": seconds,
                    }
                )
    finally:
        for leftover in folder.iterdir():
            leftover.unlink()
        folder.rmdir()
    return rows


def table(rows: list[dict]) -> str:
    lines = ["| point | server RSS (MiB) | round (s) |", "|---|---:|---:|"]
    for row in rows:
        seconds = f"{row['seconds']:.1f}" if row["seconds"] is not None else "–"
        lines.append(f"| {row['point']} | {row['rss_mib']:.0f} | {seconds} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Server memory before and after rounds of concurrent clients.",
        epilog="Options after -- go to movingcolor serve (e.g. -- --cache-mb 512).",
    )
    parser.add_argument("--clients", type=int, default=8, help="concurrent clients per round (default 8)")
    parser.add_argument("--frames", type=int, default=30, help="frames each client fuses (default 30)")
    parser.add_argument("--size", default="432x240", help="frame size WxH (default 432x240)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of clients (default 3)")
    parser.add_argument("--engine", default="guided", help="engine (default guided)")
    parser.add_argument("--out", type=Path, help="also write the figures as JSON here")
    argv = sys.argv[1:] if argv is None else list(argv)
    # Only what follows -- goes to the server: a mistyped option of this command is its own error,
    # not a server that fails to start.
    split = argv.index("--") if "--" in argv else len(argv)
    args = parser.parse_args(argv[:split])
    serve_args = argv[split + 1 :]
    try:
        width, height = parse_frame_size(args.size)
    except MovingColorError as error:
        parser.error(f"--size: {error}")
    rows = measure(args.clients, args.frames, (width, height), args.rounds, args.engine, serve_args)
    print(
        f"{args.clients} clients x {args.frames} frames of {width}x{height}, engine {args.engine}, "
        f"{args.rounds} rounds" + (f", serve {' '.join(serve_args)}" if serve_args else "")
    )
    print(table(rows))
    if args.out:
        settings = {
            "clients": args.clients,
            "frames": args.frames,
            "size": [width, height],
            "rounds": args.rounds,
            "engine": args.engine,
            "serve_args": serve_args,
        }
        args.out.write_text(json.dumps({"settings": settings, "rows": rows}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
