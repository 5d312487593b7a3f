"""Building the OFX plugin and driving it with the test host (ofx_bridge/testhost), for the tests.

The build goes to ``build/ofx`` (ignored by git) under a file lock, so it happens once per
session and is incremental across sessions. On a machine without cmake, a compiler or gRPC's
C++ development files the OFX tests skip, naming the packages to install; where
``MOVINGCOLOR_REQUIRE_OFX=1`` (CI sets it) they fail instead, so CI never skips them.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

REPOSITORY = Path(__file__).resolve().parents[1]
SOURCE = REPOSITORY / "ofx_bridge"
BUILD = REPOSITORY / "build" / "ofx"
BUNDLE_BINARY = Path("MovingColor.ofx.bundle/Contents/Linux-x86-64/MovingColor.ofx")
APT_PACKAGES = (
    "cmake make g++ libgrpc++-dev protobuf-compiler-grpc protobuf-compiler libprotobuf-dev libssl-dev"
)


@dataclass(frozen=True)
class OfxBuild:
    plugin: Path
    host: Path
    seconds: float


class MissingToolchainError(RuntimeError):
    """The machine cannot build the plugin."""


def build_plugin(build: Path = BUILD) -> OfxBuild:
    """Configure and build the plugin and the test host; returns their paths and the build time."""
    missing = [
        tool for tool in ("cmake", "c++", "protoc", "grpc_cpp_plugin", "pkg-config") if not shutil.which(tool)
    ]
    if missing:
        raise MissingToolchainError(
            f"building the OFX plugin needs {', '.join(missing)}: apt-get install {APT_PACKAGES}"
        )
    build.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    with open(build.parent / "ofx.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        for command in (
            ["cmake", "-S", str(SOURCE), "-B", str(build), "-DCMAKE_BUILD_TYPE=Release"],
            ["cmake", "--build", str(build), "-j", str(os.cpu_count() or 2)],
        ):
            done = subprocess.run(command, capture_output=True, text=True)
            if done.returncode != 0:
                raise RuntimeError(
                    f"{' '.join(command)} failed:\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}\n"
                    f"(needs: apt-get install {APT_PACKAGES})"
                )
    return OfxBuild(build / BUNDLE_BINARY, build / "ofx_test_host", time.perf_counter() - started)


def write_raw(path: Path, pixels: np.ndarray) -> None:
    """A frame file of the test host: (H, W, 4) RGBA or (H, W) alpha, float32, top row first."""
    array = np.asarray(pixels, dtype=np.float32)
    if array.ndim == 2:
        array = array[:, :, None]
    header = np.array([array.shape[1], array.shape[0], array.shape[2]], dtype="<i4")
    with open(path, "wb") as file:
        file.write(b"MCRF" + header.tobytes() + np.ascontiguousarray(array, dtype="<f4").tobytes())


def read_raw(path: Path) -> np.ndarray:
    data = Path(path).read_bytes()
    if data[:4] != b"MCRF":
        raise ValueError(f"{path} is not a raw frame file")
    width, height, channels = np.frombuffer(data[4:16], dtype="<i4")
    return np.frombuffer(data[16:], dtype="<f4").reshape(height, width, channels)


def write_inputs(
    folder: Path,
    plates: dict[int, np.ndarray],
    mattes: dict[int, np.ndarray] | None = None,
    graded: dict[int, np.ndarray] | None = None,
) -> Path:
    """The host's input folder: plates as RGBA (alpha 1 unless given), mattes as alpha, graded as RGBA."""
    folder.mkdir(parents=True, exist_ok=True)

    def rgba(rgb: np.ndarray) -> np.ndarray:
        return rgb if rgb.shape[2] == 4 else np.dstack([rgb, np.ones(rgb.shape[:2], np.float32)])

    for frame, plate in plates.items():
        write_raw(folder / f"source.{frame}.raw", rgba(plate))
    for frame, matte in (mattes or {}).items():
        write_raw(folder / f"matte.{frame}.raw", matte)
    for frame, image in (graded or {}).items():
        write_raw(folder / f"graded.{frame}.raw", rgba(image))
    return folder


@dataclass
class HostRun:
    """What one run of the test host printed and wrote."""

    returncode: int
    events: list[dict]
    stderr: str
    seconds: float
    out: Path
    outputs: dict[int, np.ndarray] = field(default_factory=dict)

    def of(self, kind: str) -> list[dict]:
        return [e for e in self.events if e["event"] == kind]

    def messages(self) -> list[dict]:
        return [e for e in self.of("message") if e["kind"] != "cleared"]

    def renders(self) -> dict[int, dict]:
        return {e["frame"]: e for e in self.of("render")}

    def identities(self) -> dict[int, dict]:
        """Frames the host showed without rendering, because the plugin said they were an identity."""
        return {e["frame"]: e for e in self.of("identity")}


def run_host(
    build: OfxBuild,
    frames: Path,
    out: Path,
    params: dict[str, object],
    *options: str,
    render: list[int] | None = None,
    keys: dict[str, dict[int, object]] | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 300.0,
) -> HostRun:
    """Runs the test host; ``keys`` animates parameters: ``{"bandWidth": {1001: 2, 1005: 10}}``."""
    command = [str(build.host), "--plugin", str(build.plugin), "--frames", str(frames), "--out", str(out)]
    for name, value in params.items():
        command += ["--param", f"{name}={value}"]
    for name, keyframes in (keys or {}).items():
        for frame, value in keyframes.items():
            command += ["--key", f"{name}@{frame}={value}"]
    if render:
        command += ["--render", ",".join(str(f) for f in render)]
    command += list(options)
    started = time.perf_counter()
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=timeout, env={**os.environ, **(env or {})}
    )
    seconds = time.perf_counter() - started
    events = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    run = HostRun(done.returncode, events, done.stderr, seconds, out)
    for event in run.of("render") + run.of("identity"):
        run.outputs[event["frame"]] = read_raw(Path(event["output"]))
    return run
