"""A GPU that runs out of memory is an error a user can act on and a farm retries, not a bug.

torch's OutOfMemoryError is raised here by the engine itself (no GPU is needed to raise it): what
is checked is what the command line, the server and the client make of it.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import output_files, run_cli
from movingcolor.engines.guided import GuidedEngine
from movingcolor.errors import TRANSIENT_EXIT_CODE
from movingcolor.frames.image_io import read_pixels
from movingcolor.model.device import device_memory_error
from movingcolor_client import DeviceMemoryError, connect
from test_service_calls import GRADE, serving
from test_trust import write_plate

torch = pytest.importorskip("torch")


def _runs_out_of_memory_after(monkeypatch, calls: int) -> None:
    """The guided engine fuses ``calls`` windows, then the GPU has no memory for the next."""
    fuse, made = GuidedEngine.fuse, []

    def fuse_until_full(self, frames):
        made.append(1)
        if len(made) > calls:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return fuse(self, frames)

    monkeypatch.setattr(GuidedEngine, "fuse", fuse_until_full)


def test_fuse_says_the_gpu_ran_out_of_memory_keeps_the_frames_before_and_exits_for_a_retry(
    tmp_path, monkeypatch, capsys
):
    plate = write_plate(tmp_path / "shot", 1, 6)
    out = tmp_path / "out"
    _runs_out_of_memory_after(monkeypatch, 2)
    args = ("fuse", "--plate", plate, "--out", out / "f.####.exr", "--grade", GRADE, "--engine", "guided")
    assert run_cli(*args) == TRANSIENT_EXIT_CODE
    error = capsys.readouterr().err
    assert "the GPU ran out of memory" in error and "--slots 1" in error and "Traceback" not in error
    written = output_files(out)
    assert written and all(np.isfinite(read_pixels(path)).all() for path in written)


def test_a_server_answers_a_job_out_of_gpu_memory_as_busy_not_as_a_bug_and_serves_the_next(monkeypatch):
    _runs_out_of_memory_after(monkeypatch, 0)
    frames = np.full((1, 32, 32, 3), 0.2, np.float32)
    matte = np.zeros((1, 32, 32), np.float32)
    matte[:, 8:24, 8:24] = 1.0
    with serving() as (address, _), connect(address, retries=0) as client:
        with pytest.raises(DeviceMemoryError) as refused:
            client.fuse_arrays(frames, matte, grade=GRADE, engine="guided")
        assert "the GPU ran out of memory" in str(refused.value) and "this is a bug" not in str(refused.value)
        assert refused.value.exit_code == TRANSIENT_EXIT_CODE
        monkeypatch.undo()
        assert client.fuse_arrays(frames, matte, grade=GRADE, engine="guided").shape == (1, 32, 32, 3)


def test_only_running_out_of_memory_is_taken_for_it_where_it_caused_another_error():
    try:
        try:
            raise torch.OutOfMemoryError("CUDA out of memory")
        except RuntimeError as cause:
            raise ValueError("a batch could not be made") from cause
    except ValueError as error:
        assert device_memory_error(error) is not None
    assert device_memory_error(RuntimeError("CUDA error: an illegal memory access")) is None
    assert device_memory_error(MemoryError()) is None


def test_a_server_started_on_one_gpu_of_several_lists_that_gpu_first(monkeypatch):
    """GetInfo listed the CPU first for --device cuda:0, and named GPU 0 whichever was asked for."""
    import movingcolor.service.info as info

    monkeypatch.setattr(info, "no_gpu_to_ask_torch_for", lambda: False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "current_device", lambda: 0)
    named = lambda device: f"GPU {torch.device(device).index or 0}"  # noqa: E731
    monkeypatch.setattr(torch.cuda, "get_device_name", named)
    listed = info._devices.__wrapped__
    assert listed("cuda:1")[0] == ("cuda:1", "GPU 1")
    assert listed("cuda:0")[0] == ("cuda:0", "GPU 0") and listed("auto")[0] == ("cuda", "GPU 0")
    assert listed("cpu")[0][0] == "cpu" and listed("cpu")[1] == ("cuda", "GPU 0")


def test_the_failed_jobs_tensors_are_let_go_before_the_gpus_cache_is_emptied():
    """Inside the handler the error's traceback still held the failed job's tensors, so emptying the
    cache there gave nothing back."""
    import weakref

    held = []

    def job():
        tensor = torch.ones(1024)
        held.append(weakref.ref(tensor))
        raise torch.OutOfMemoryError("CUDA out of memory")

    try:
        job()
    except RuntimeError as error:
        assert held[0]() is not None
        assert device_memory_error(error) is not None
        assert held[0]() is None
