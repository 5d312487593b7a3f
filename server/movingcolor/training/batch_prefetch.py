"""Training batches made ahead of the step that needs them, in worker processes.

Making a batch (photographs animated, OpenColorIO grades, mattes drawn, real clips cut) is numpy
and OpenColorIO work in one Python thread: 8-13 s for a ``lite-gpu`` batch on one core, which a
GPU step would otherwise wait for every time. A batch is a pure function of ``(seed, step)``
(:func:`.data.make_batch`), so workers can make the next steps' batches in any order and the run
is the same as one that made them in process: resuming and comparing runs keep working.

Workers are spawned, not forked: the training process holds CUDA and torch's threads, neither of
which survives a fork. Each worker works on one thread: with BLAS, OpenCV, OpenImageIO and the
array pool each starting a thread per core in every worker, 14 workers on a 16-core GPU machine
kept a load of 86 (OpenBLAS threads spin between calls) while the GPU waited for its batches. A
batch comes back as ``.npy`` files in a folder of this prefetcher's own, in shared memory where
there is room: a ``lite-gpu`` batch is ~0.5 GB, and pickling that through the pool's pipe cost
the training process seconds of its own time per batch.
"""

from __future__ import annotations

import ctypes
import dataclasses
import functools
import importlib.util
import multiprocessing
import os
import shutil
import signal
import socket
import sys
import tempfile
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

import numpy as np

from ..errors import MissingDependencyError, MovingColorError
from .data import Batch, make_batch

#: Batches queued per worker: one being made and one waiting, so a worker never idles on the queue.
AHEAD_PER_WORKER = 2
SHARED_MEMORY = Path("/dev/shm")
#: Linux's prctl option: the signal a process gets when its parent ends.
PR_SET_PDEATHSIG = 1
#: Float32 planes a batch holds per pixel of each frame: inputs 11, target colour 3, target alpha,
#: band and matte one each.
PLANES = 17


def default_workers(device: str) -> int:
    """Workers when none are asked for: none on the CPU, where the network's threads already use
    every core; on a GPU every core but two (the training loop and the host-to-GPU copies)."""
    if device == "cpu":
        return 0
    return max(1, (os.cpu_count() or 1) - 2)


@functools.cache
def _colour_config():
    # One per worker process: building the OpenColorIO config and its processors costs more than
    # a small batch.
    from ..color.config import ColorConfig

    return ColorConfig()


def _end_with_parent() -> None:
    """Ask Linux to end this process when the process that started it ends (elsewhere nothing)."""
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        return
    if os.getppid() == 1:  # the parent died before the request was made
        os._exit(1)


def _one_thread_each() -> None:
    """In a worker, before its first batch: BLAS, array work, OpenCV and OpenImageIO on one
    thread, as the workers between them already use the cores."""
    import OpenImageIO
    from threadpoolctl import threadpool_limits

    # The run stops its workers itself at the end of a step (Ctrl-C reaches the whole group), and
    # they go when it dies: a killed run left them waiting for work for ever, holding memory.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _end_with_parent()

    from ..compute_pool import limit_cores

    # BLAS and OpenMP libraries read these when they load, so those loaded later (the OpenBLAS
    # inside OpenCV's wheel, with cv2 below) start with one thread; threadpool_limits sets the ones
    # loaded already.
    for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[variable] = "1"
    threadpool_limits(1)
    limit_cores(1)
    OpenImageIO.attribute("threads", 1)
    OpenImageIO.attribute("exr_threads", 1)
    try:
        import cv2
    except ImportError:  # OpenCV comes with the server extra; without it polygon mattes are refused
        return
    cv2.setNumThreads(1)


def _arrays(batch: Batch) -> list[str]:
    return [f.name for f in dataclasses.fields(batch) if isinstance(getattr(batch, f.name), np.ndarray)]


def _make(arguments: dict, folder: Path, step: int) -> Batch:
    """In a worker: the step's batch, its arrays saved in ``folder`` and replaced by their paths."""
    batch = make_batch(step=step, config=_colour_config(), **arguments)
    saved = {}
    for name in _arrays(batch):
        path = folder / f"{step}.{name}.npy"
        np.save(path, getattr(batch, name))
        saved[name] = path
    return dataclasses.replace(batch, **saved)


def _load(batch: Batch) -> Batch:
    loaded = {}
    for field in dataclasses.fields(batch):
        path = getattr(batch, field.name)
        if isinstance(path, Path):
            loaded[field.name] = np.load(path)
            path.unlink()
    return dataclasses.replace(batch, **loaded)


def _hand_over_folder(batch_bytes: int, batches: int) -> Path:
    """A new folder for the batches in flight: in shared memory when it has room for them twice
    over, else in the temporary folder (slower, on disk, but never short of room)."""
    try:
        roomy = shutil.disk_usage(SHARED_MEMORY).free > 2 * batch_bytes * batches
    except OSError:  # no /dev/shm (macOS)
        roomy = False
    where = SHARED_MEMORY if roomy else Path(tempfile.gettempdir())
    _remove_stale_folders(where)
    prefix = f"movingcolor-batches.{socket.gethostname()}.{os.getpid()}."
    return Path(tempfile.mkdtemp(prefix=prefix, dir=where))


def _remove_stale_folders(where: Path) -> None:
    """Remove the batch folders of runs on this machine that are no longer running (a killed run
    cannot remove its own, and in shared memory they hold RAM until the machine restarts). Only
    this host's: containers sharing /dev/shm number their processes apart."""
    host = socket.gethostname()
    for folder in where.glob("movingcolor-batches.*.*.*"):
        # movingcolor-batches.HOST.PID.RANDOM (mkdtemp's suffix has no dots; a host name may)
        named, _, _ = folder.name.removeprefix("movingcolor-batches.").rpartition(".")
        owner_host, _, owner = named.rpartition(".")
        if owner_host != host or not owner.isdigit():
            continue
        try:
            os.kill(int(owner), 0)
        except ProcessLookupError:
            shutil.rmtree(folder, ignore_errors=True)
        except PermissionError:  # another user's run, alive
            pass


class BatchPrefetcher:
    """``get(step)`` returns :func:`.data.make_batch`'s batch for ``step`` with ``arguments``
    (every argument but ``step`` and ``config``), made by ``workers`` processes that keep the
    steps after it under way."""

    def __init__(self, arguments: dict, workers: int) -> None:
        if workers < 1:
            raise ValueError(f"BatchPrefetcher needs at least one worker, not {workers}")
        # Checked here: a worker that cannot start leaves only "a process stopped" to report.
        if importlib.util.find_spec("threadpoolctl") is None:
            raise MissingDependencyError(
                "batch workers need threadpoolctl: pip install 'movingcolor[server]', or train with "
                "--workers 0"
            )
        self._ahead = workers * AHEAD_PER_WORKER
        pixels = arguments["batch"] * arguments["frames"] * arguments["height"] * arguments["width"]
        self._folder = _hand_over_folder(4 * PLANES * pixels, self._ahead + workers)
        self._make = functools.partial(_make, arguments, self._folder)
        self._pool = ProcessPoolExecutor(
            workers, mp_context=multiprocessing.get_context("spawn"), initializer=_one_thread_each
        )
        self._queued: dict[int, Future] = {}

    def get(self, step: int) -> Batch:
        """The batch for ``step``; the next steps' are queued behind it."""
        for stale in [s for s in self._queued if s < step]:
            self._queued.pop(stale).cancel()
        for ahead in range(step, step + self._ahead):
            if ahead not in self._queued:
                self._queued[ahead] = self._pool.submit(self._make, ahead)
        try:
            return _load(self._queued.pop(step).result())
        except BrokenProcessPool as error:
            raise MovingColorError(
                "a batch worker process stopped (killed for memory, or a script that starts "
                "training without an `if __name__ == '__main__':` guard); the run's checkpoint is "
                "kept: resume it with --workers 0 to make batches in this process, or fewer workers"
            ) from error

    def close(self) -> None:
        """Stop the workers now, batches under way included (a segment's end should not wait for
        batches no step will use), and remove the batches made and not used."""
        for future in self._queued.values():
            future.cancel()
        self._queued.clear()
        # ProcessPoolExecutor lets running work finish on shutdown; its workers are ended here
        # first (Python 3.14 has kill_workers() for this).
        for process in list(getattr(self._pool, "_processes", {}).values()):
            process.kill()
        self._pool.shutdown(wait=True, cancel_futures=True)
        shutil.rmtree(self._folder, ignore_errors=True)

    def __enter__(self) -> BatchPrefetcher:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
