"""A process's GPU memory while it runs, as the NVIDIA driver counts it (``nvidia-smi``): what
another process may watch of a ``movingcolor fuse`` or a server on a GPU, its CUDA context and
torch's cache included, where its resident memory (``VmHWM``) counts the host's alone."""

from __future__ import annotations

import shutil
import subprocess
import threading

#: Seconds between two looks: nvidia-smi takes tens of milliseconds a call.
INTERVAL = 0.25


def gpu_memory_mib(pid: int) -> float | None:
    """MiB of GPU memory process ``pid`` holds now (0 where the driver lists it with none, or does
    not list it), or None where this machine has no NVIDIA driver to ask."""
    tool = shutil.which("nvidia-smi")
    if tool is None:
        return None
    try:
        listed = subprocess.run(
            [tool, "--query-compute-apps=pid,used_memory", "--format=csv,noheader,nounits"],
            capture_output=True,
            text=True,
            timeout=5,
        ).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    used = 0.0
    for line in listed.splitlines():
        fields = [field.strip() for field in line.split(",")]
        if len(fields) == 2 and fields[0] == str(pid) and fields[1].replace(".", "", 1).isdigit():
            used += float(fields[1])  # one line per GPU the process uses
    return used


class GpuMemoryPeak:
    """The most GPU memory ``pid`` held while the block ran (``peak_gib``; None without a driver, or
    where the driver never listed it holding any), looked at every :data:`INTERVAL` seconds on a
    thread of its own."""

    def __init__(self, pid: int):
        self.pid = pid
        self.peak_gib: float | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="gpu-memory", daemon=True)

    def __enter__(self) -> GpuMemoryPeak:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def _watch(self) -> None:
        while True:
            used = gpu_memory_mib(self.pid)
            if used is None:
                return
            # Never listed (a CPU engine, a container's pids the driver does not know): no figure.
            if used > 0:
                self.peak_gib = max(self.peak_gib or 0.0, used / 1024)
            if self._stop.wait(INTERVAL):
                return
