"""Which device the network runs on, shared by the engine that runs it and the trainer.

torch is imported when asked for, so the light install (no torch) can still import this.
"""

from __future__ import annotations

import os
import sys
import traceback
import warnings
from collections.abc import Iterator

from ..errors import DeviceMemoryError, MovingColorError
from ..optional import server_extra


def require_torch():
    """The torch module; MissingDependencyError with the install command when it is absent."""
    torch = server_extra("torch", "the movingcolor engine", "torch")
    # The frames' arrays are read-only on purpose (shared between windows and runs, and the plate
    # itself where no conversion was needed); the engines make tensors of them that they only
    # read, without a copy of each frame, and torch would warn on the first such array.
    warnings.filterwarnings("ignore", "The given NumPy array is not writable", UserWarning)
    return torch


def gpu_driver_present() -> bool:
    """Whether this machine has a GPU driver torch could use (NVIDIA's, or ROCm's): where it has
    none, no GPU can be found, and torch (most of a second to import) need not be asked."""
    return os.path.isdir("/proc/driver/nvidia/gpus") or os.path.exists("/dev/kfd")


def no_gpu_to_ask_torch_for() -> bool:
    """Whether it is known without torch that there is no GPU: torch is not imported yet and the
    machine has no GPU driver. Once torch is imported, asking it costs nothing, so it is asked."""
    return "torch" not in sys.modules and not gpu_driver_present()


def resolve_device(device: str) -> str:
    """``auto`` as the current CUDA GPU where one is present, else ``cpu``; ``cuda`` and ``cuda:N``
    as one spelling, ``cuda:N`` (the current GPU for ``cuda``), once checked against this machine.
    One GPU has one name: a server keys its device queues and engines by it, and ``cuda`` beside
    ``cuda:0`` was two queues (``--slots`` doubled) and the network loaded twice on one GPU."""
    torch = require_torch()
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cpu":
        return device
    if device != "cuda" and not device.startswith("cuda:"):
        raise MovingColorError(f"device {device!r} is not known: use auto, cpu or cuda")
    if not torch.cuda.is_available():
        raise MovingColorError(
            f"device {device!r}: no CUDA GPU is available here; use the CPU (--device cpu, or "
            f'device = "cpu" in a training config)'
        )
    try:
        index = torch.device(device).index
    except RuntimeError:
        raise MovingColorError(
            f"device {device!r} is not a GPU's name: write cuda or cuda:N (cuda:0)"
        ) from None
    index = torch.cuda.current_device() if index is None else index
    count = torch.cuda.device_count()
    if not 0 <= index < count:
        raise MovingColorError(
            f"device {device!r}: this machine has {count} CUDA GPU(s), cuda:0 to cuda:{count - 1}"
        )
    return f"cuda:{index}"


def device_memory_error(error: BaseException) -> DeviceMemoryError | None:
    """The error to report where ``error`` (or what caused it) is torch's running out of GPU memory,
    with the GPU's cache emptied so the memory the failed job reserved goes back to the jobs that
    follow; None for any other error. A bare OutOfMemoryError read "this is a bug" from a server and
    a traceback from the command line, and its memory stayed reserved by the process."""
    torch = sys.modules.get("torch")
    if torch is None:  # nothing ran on a GPU
        return None
    # torch.OutOfMemoryError from torch 2.5; torch.cuda's name for it before.
    out_of_memory = getattr(torch, "OutOfMemoryError", None) or torch.cuda.OutOfMemoryError
    chain = list(_causes(error))
    if not any(isinstance(cause, out_of_memory) for cause in chain):
        return None
    # The failed job's tensors are held by the frames of the error's traceback until it is
    # handled: the cache can take them back only once those frames let them go.
    for cause in chain:
        if cause.__traceback__ is not None:
            traceback.clear_frames(cause.__traceback__)
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    return DeviceMemoryError(
        "the GPU ran out of memory: run fewer jobs on it at once (movingcolor serve --slots 1), close "
        "other programs using it, give it less work at a time (a smaller batch when training), or use "
        "the CPU (--device cpu); a retry may pass once other jobs end"
    )


def _causes(error: BaseException | None) -> Iterator[BaseException]:
    """``error`` and the errors that caused it, each once."""
    seen = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        yield error
        error = error.__cause__ or error.__context__
