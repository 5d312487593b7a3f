"""Image bytes that OpenImageIO reads and writes in memory, under a file name it can open.

OpenImageIO's Python binding opens images by name only. An anonymous in-memory file
(``memfd_create``) has one, ``/proc/self/fd/N``, so a server decodes the bytes a client
sent, and encodes the frames it sends back, without a byte touching the disk and
through the same readers and writers as files on disk. Where the system has no
anonymous files, a private temporary file stands in.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def memory_file(data: bytes = b"", suffix: str = "") -> Iterator[Path]:
    """A name that reads ``data`` (and may be written over) for the life of the block.

    ``suffix`` (e.g. ``.exr``) names the format where the name must carry it: the stand-in
    temporary file takes it; an anonymous file's name cannot, and readers then find the
    format from the bytes, as OpenImageIO does for every name it does not recognise.
    """
    if hasattr(os, "memfd_create") and Path("/proc/self/fd").is_dir():
        fd = os.memfd_create("movingcolor-image", os.MFD_CLOEXEC)
        path = Path(f"/proc/self/fd/{fd}")
    else:
        fd, name = tempfile.mkstemp(prefix="movingcolor-image-", suffix=suffix)
        path = Path(name)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        yield path
    finally:
        os.close(fd)
        if not str(path).startswith("/proc/"):
            path.unlink(missing_ok=True)


def read_back(path: Path) -> bytes:
    """Everything written to ``path`` (a :func:`memory_file`) since it was opened."""
    with open(path, "rb") as file:
        return file.read()
