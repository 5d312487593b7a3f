"""The heap settings a one-shot process takes: freed memory is reused, not faulted in again."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from movingcolor.process_heap import glibc_function

#: This process's resident bytes, for the scripts below (counted in bytes, so the same whatever page
#: size the kernel used).
RESIDENT = """
import os
def resident():
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
"""

#: Allocates about 100 MB in 64 KiB blocks (glibc's heap, not mappings), frees them and prints how
#: many MB of resident memory the freeing gave back to the system.
GIVEN_BACK = (
    RESIDENT
    + """
import sys
from movingcolor.process_heap import keep_freed_memory
if sys.argv[1] == "keep":
    assert keep_freed_memory()
blocks = [bytes(bytearray(64 << 10)) for _ in range(1600)]
before = resident()
del blocks
print((before - resident()) / (1 << 20))
"""
)


def _given_back_mb(script: str, mode: str) -> list[float]:
    """What ``script`` printed, run in a fresh process with heap settings ``mode``."""
    done = subprocess.run(
        [sys.executable, "-c", script, mode], capture_output=True, text=True, timeout=60, check=True
    )
    return [float(mb) for mb in done.stdout.split()]


@pytest.mark.skipif(glibc_function("mallopt") is None, reason="the heap settings are glibc's")
def test_freed_memory_is_kept_for_the_next_arrays():
    # glibc's defaults hand the freed top of the heap back at once: the next arrays fault it in
    # and the kernel zeroes it again. Kept, it is reused as it is.
    assert _given_back_mb(GIVEN_BACK, "default")[-1] > 80
    assert _given_back_mb(GIVEN_BACK, "keep")[-1] < 5


#: Allocates 64 MB (over the largest mmap threshold glibc takes) on the main thread and then on
#: another, frees each and prints how many MB of resident memory each freeing gave back.
LARGE_GIVEN_BACK = (
    RESIDENT
    + """
import sys, threading
from movingcolor.process_heap import keep_freed_memory
if sys.argv[1] != "default":
    assert keep_freed_memory(one_heap=sys.argv[1] == "one_heap")
given = []
def allocate_and_free():
    block = bytearray(64 << 20)
    block[::4096] = bytes(len(block) // 4096)  # every page touched
    before = resident()
    del block
    given.append((before - resident()) / (1 << 20))
allocate_and_free()
thread = threading.Thread(target=allocate_and_free)
thread.start()
thread.join()
print(*given)
"""
)


@pytest.mark.skipif(glibc_function("mallopt") is None, reason="the heap settings are glibc's")
def test_one_heap_keeps_a_4k_frames_arrays_on_every_thread():
    # An array over 32 MiB (a 4K frame's) is mapped alone and unmapped when freed, whatever the
    # thresholds: the next frame's is faulted in and zeroed again. With one heap it is reused,
    # on the main thread and on the workers that prepare frames.
    assert all(mb > 60 for mb in _given_back_mb(LARGE_GIVEN_BACK, "default"))
    assert all(mb > 60 for mb in _given_back_mb(LARGE_GIVEN_BACK, "keep"))
    assert all(mb < 5 for mb in _given_back_mb(LARGE_GIVEN_BACK, "one_heap"))


def _heap_events(monkeypatch) -> list[str]:
    """The calls to ``keep_freed_memory`` from here on, as "heap <one_heap>"."""
    from movingcolor import process_heap

    events: list[str] = []
    monkeypatch.setattr(
        process_heap, "keep_freed_memory", lambda one_heap=False: events.append(f"heap {one_heap}") or True
    )
    return events


def _run_as_entry_point(monkeypatch, *words) -> int:
    """The command line as the ``movingcolor`` executable runs it: ``main()`` reading sys.argv."""
    from movingcolor.cli.main import main

    monkeypatch.setattr(sys, "argv", ["movingcolor", *map(str, words)])
    return main()


def _fuse_arguments(demo_inputs, tmp_path) -> list:
    from movingcolor.jobs.demo_shot import DEMO_GRADE

    plate, matte = demo_inputs
    out = tmp_path / "f.####.exr"
    return ["fuse", "--plate", plate, "--matte", matte, "--grade", DEMO_GRADE, "--out", out]


def test_movingcolor_fuse_keeps_freed_memory_before_it_fuses(monkeypatch, demo_inputs, tmp_path):
    """``movingcolor fuse`` takes the settings, one heap included, before it fuses."""
    from movingcolor import jobs

    events = _heap_events(monkeypatch)
    run_shot = jobs.run_shot
    monkeypatch.setattr(jobs, "run_shot", lambda *a, **k: events.append("fuse") or run_shot(*a, **k))
    arguments = _fuse_arguments(demo_inputs, tmp_path)
    assert _run_as_entry_point(monkeypatch, *arguments, "--engine", "hard", "--frames", "1001") == 0
    assert events == ["heap True", "fuse"]


def test_movingcolor_fuse_through_a_server_keeps_freed_memory_before_it_sends(
    monkeypatch, demo_inputs, tmp_path
):
    """The client process of ``movingcolor fuse --server`` sends and receives the shot's frames as
    bytes of tens of megabytes: it takes the settings too, before its first call."""
    from movingcolor.cli import fuse
    from movingcolor.errors import MovingColorError

    events = _heap_events(monkeypatch)

    def remote(*arguments):
        events.append("remote")
        raise MovingColorError("the server's answer is not what this test looks at")

    monkeypatch.setattr(fuse, "_run_remote", remote)
    arguments = [*_fuse_arguments(demo_inputs, tmp_path), "--server", f"unix://{tmp_path / 'mc.sock'}"]
    assert _run_as_entry_point(monkeypatch, *arguments) == 2
    assert events == ["heap True", "remote"]


def test_a_command_run_in_a_callers_process_leaves_its_heap_as_it_was(monkeypatch, demo_inputs, tmp_path):
    """A pipeline script, a benchmark or a test that calls ``main([...])`` in its own process keeps
    its allocator's settings: one heap for every thread, and nothing given back, would stay with it
    after the command returned."""
    from conftest import run_cli
    from movingcolor import service

    events = _heap_events(monkeypatch)
    arguments = _fuse_arguments(demo_inputs, tmp_path)
    assert run_cli(*arguments, "--engine", "hard", "--frames", "1001") == 0
    monkeypatch.setattr(service, "serve", lambda address, settings: events.append("serve") or 0)
    assert run_cli("serve", "--address", f"unix://{tmp_path / 'mc.sock'}", "--device", "cpu") == 0
    assert run_cli("demo", "--out", tmp_path / "demo", "--frames", "1", "--engine", "hard") == 0
    assert events == ["serve"]


def test_a_server_keeps_freed_memory_before_it_serves(monkeypatch, tmp_path):
    """``movingcolor serve`` takes the settings too, one heap included, before its threads start (its
    trimmer gives memory back after jobs)."""
    from movingcolor import service

    events = _heap_events(monkeypatch)
    monkeypatch.setattr(service, "serve", lambda address, settings: events.append("serve") or 0)
    address = f"unix://{tmp_path / 'mc.sock'}"
    assert _run_as_entry_point(monkeypatch, "serve", "--address", address, "--device", "cpu") == 0
    assert events == ["heap True", "serve"]


def test_a_server_gives_freed_memory_back_only_once_idle_a_while(monkeypatch):
    """A host stepping through a shot keeps the server's memory between its windows: the trimmer
    gives it back only after ``IDLE_SECONDS`` without a job, and then once."""
    from movingcolor.service import server

    clock = [100.0]
    monkeypatch.setattr(server.time, "monotonic", lambda: clock[0])
    trimmer = server.MemoryTrimmer()
    trims: list[float] = []
    trimmer._trim = lambda pad: trims.append(clock[0])

    def poll(at: float, active_jobs: int) -> None:
        clock[0] = at
        trimmer.poll(active_jobs)

    poll(100.0, 1)  # a window
    for step in range(1, 5):  # the host's next windows, a second or two apart
        poll(100.0 + 2 * step, 0)
        poll(100.5 + 2 * step, 1)
    assert trims == []
    poll(110.0, 0)  # the host stops
    poll(110.0 + server.MemoryTrimmer.IDLE_SECONDS - 0.5, 0)
    assert trims == []
    poll(110.0 + server.MemoryTrimmer.IDLE_SECONDS, 0)
    poll(130.0, 0)
    assert trims == [110.0 + server.MemoryTrimmer.IDLE_SECONDS]


HUGE_PAGES = """
import sys
from movingcolor.process_heap import _numpy_multiarray, keep_freed_memory
multiarray = _numpy_multiarray()
multiarray._set_madvise_hugepage(True)
keep_freed_memory(one_heap=sys.argv[1] == "one_heap")
print(multiarray._set_madvise_hugepage(False))
"""


@pytest.mark.parametrize(
    "mode, variable, huge_pages",
    [("one_heap", None, False), ("keep", None, True), ("one_heap", "1", True)],
)
def test_a_process_that_fuses_asks_for_no_huge_pages_for_its_arrays(mode, variable, huge_pages):
    """A process that fuses (one heap) stops numpy asking for transparent huge pages, each zeroed
    whole when first touched; a process that only keeps freed memory keeps numpy's setting, and so
    does one told what to do by numpy's own variable."""
    environment = {k: v for k, v in os.environ.items() if k != "NUMPY_MADVISE_HUGEPAGE"}
    if variable is not None:
        environment["NUMPY_MADVISE_HUGEPAGE"] = variable
    done = subprocess.run(
        [sys.executable, "-c", HUGE_PAGES, mode], capture_output=True, text=True, timeout=60, env=environment
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split()[-1] == str(huge_pages)
