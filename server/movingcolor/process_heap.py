"""How this process's heap keeps memory: what it gives back to the system (glibc's settings;
with another C library those stay as they are) and whether numpy asks for huge pages.

Fusing a shot allocates and frees arrays of one to tens of megabytes many times a frame: the
network's activations on each crop along the band, the band's tiles, each frame's colour
conversions. By default glibc serves many of them with fresh mappings (its mmap threshold starts
at 128 KiB and only rises as such arrays are freed) and hands the top of its heap back once twice
that threshold is free, so the kernel faults in and zeroes the same memory again for the next
array. In a 1080p network run up to a quarter of the CPU time went to the kernel that way
(``BENCHMARKS.md``, production speed). A server takes the settings too: its
``service.server.MemoryTrimmer`` still gives back what jobs freed once it has been idle a few
seconds (``malloc_trim`` is not bound by the trim threshold). numpy, on Linux, asks for
transparent huge pages for each large array, each zeroed whole when first touched: a process
that fuses stops it (:func:`arrays_without_huge_pages`).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import platform
import sys
from collections.abc import Callable

# mallopt's parameters (malloc.h).
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
M_MMAP_MAX = -4
M_ARENA_MAX = -8
#: The largest mmap threshold glibc takes on a 64-bit system (a larger one is ignored): arrays up
#: to this size come from the heap and are reused; larger ones (a 4K frame's, over 100 MB) are
#: mapped alone unless ``one_heap``.
MMAP_THRESHOLD = 32 << 20
#: Free memory at the heap's top is kept up to this much (mallopt takes a C int).
TRIM_THRESHOLD = 2**31 - 1


def glibc_function(name: str) -> Callable | None:
    """The C library's function ``name`` where that library is glibc, else None (musl, macOS,
    Windows: their allocators have neither these settings nor ``malloc_trim``)."""
    if not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc":
        return None
    library = ctypes.util.find_library("c")
    return getattr(ctypes.CDLL(library), name, None) if library else None


def keep_freed_memory(one_heap: bool = False) -> bool:
    """Keep what this process frees for its next arrays instead of handing it back to the system
    at once: for a process that fuses one shot and exits (``movingcolor fuse``, a farm chunk, the
    demo), whose resident size then stays near its peak until it ends, and for a server, which
    trims after its jobs. True where glibc's settings were taken.

    ``one_heap`` (taken before the process starts its threads): every thread's arrays from one
    heap, the largest too, so that a 4K frame's arrays (over the largest mmap threshold, each
    mapped alone and zeroed again by the kernel) reuse what the frame before freed, and arrays
    freed on one thread serve the next on another. For a one-shot process: 8 frames at 4K in
    process, ``hard`` 4.4-4.8 -> 3.9 s and ``guided`` 6.6-7.7 -> 6.1-6.7 s, peaks 0.1-0.25 GB
    higher; at 1080p the same time and peaks 0.15-0.3 GB lower. A server takes it too: its call,
    reader and encoder threads pass 4K frames between them, and a 4K ``hard`` job through it took
    5.5 -> 4.8 s, a 1080p scrub step 0.53 -> 0.48 s (those figures on an earlier machine than
    :func:`arrays_without_huge_pages`' own). ``one_heap`` also stops numpy's huge pages, whatever
    the C library."""
    if one_heap:
        arrays_without_huge_pages()
    mallopt = glibc_function("mallopt")
    if mallopt is None:
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    settings = [(M_MMAP_THRESHOLD, MMAP_THRESHOLD), (M_TRIM_THRESHOLD, TRIM_THRESHOLD)]
    if one_heap:
        settings += [(M_ARENA_MAX, 1), (M_MMAP_MAX, 0)]
    return all(mallopt(parameter, value) for parameter, value in settings)


def arrays_without_huge_pages() -> bool:
    """Stop numpy asking the kernel for transparent huge pages for its large arrays (it does on
    Linux, ``madvise``), unless ``NUMPY_MADVISE_HUGEPAGE`` says what to do (numpy reads it only as
    it is imported); True where numpy's setting was changed here. A huge page is zeroed whole, and
    memory compacted for it, when first touched: a process whose heap grows to a shot's frames
    paid more kernel time for that than the pages saved. 8 frames in process, the variable set to
    1 or 0 in turn: ``hard`` at 4K 5.52-6.01 -> 5.38-5.48 s (kernel time 1.2-1.9 -> 0.6-0.7 s), at
    1080p 1.78 -> 1.63 s, ``feather`` 2.36-2.52 -> 2.04-2.43 s; a fresh server's first 4K ``hard``
    job 6.88-6.90 -> 6.02-6.41 s; ``guided`` within noise either way; the I/O floor the same."""
    if "NUMPY_MADVISE_HUGEPAGE" in os.environ:
        return False
    setting = getattr(_numpy_multiarray(), "_set_madvise_hugepage", None)
    if setting is None:
        return False
    setting(False)
    return True


def _numpy_multiarray():
    """numpy's ``multiarray`` module, where numpy 2 and numpy 1 keep it."""
    try:
        from numpy._core import multiarray
    except ImportError:  # numpy 1
        from numpy.core import multiarray
    return multiarray
