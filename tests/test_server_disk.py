"""A streamed shot and a window call keep their pixels in memory on the server: nothing of them is
written to its disk. Watched with inotify on the server's own temporary folder, which holds every
temporary the server process makes (``tempfile.tempdir``)."""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import shutil
import struct
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import output_files, run_cli, short_folder
from movingcolor.frames.image_io import read_pixels
from movingcolor.service.process import ServerProcess
from movingcolor_client import connect
from test_service import GRADE, write_shot

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="inotify is Linux's")

_IN_NONBLOCK = os.O_NONBLOCK
_IN_CREATE, _IN_MOVED_TO = 0x100, 0x80
_EVENT = struct.Struct("iIII")


class CreatedEntries:
    """Names created in (or moved into) ``folder`` while watched: a file or a folder made there."""

    def __init__(self, folder: Path):
        libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
        self.fd = libc.inotify_init1(_IN_NONBLOCK)
        if self.fd < 0 or libc.inotify_add_watch(self.fd, bytes(folder), _IN_CREATE | _IN_MOVED_TO) < 0:
            pytest.fail(f"inotify on {folder}: {os.strerror(ctypes.get_errno())}")

    def names(self) -> list[str]:
        names = []
        try:
            data = os.read(self.fd, 1 << 16)
        except BlockingIOError:
            return names
        offset = 0
        while offset < len(data):
            _, _, _, length = _EVENT.unpack_from(data, offset)
            start = offset + _EVENT.size
            names.append(data[start : start + length].rstrip(b"\0").decode())
            offset = start + length
        return names

    def close(self) -> None:
        os.close(self.fd)


def test_streamed_shots_and_windows_write_nothing_on_the_server(tmp_path):
    plate, matte = write_shot(tmp_path / "shot", frames=4)
    folder = short_folder()
    temporary = folder / "tmp"
    temporary.mkdir()
    server = ServerProcess(f"unix://{folder}/mc.sock", env={"TMPDIR": str(temporary)}).start()
    try:
        (server_folder,) = temporary.glob("movingcolor-server-*")
        # The one thing the server writes of its own: its warm-up shot, once, as it starts.
        assert server.wait_for("warmed"), server.log
        created = CreatedEntries(server_folder)
        with connect(server.address, retries=0) as client:
            # File bytes in and out (FuseShot), and raw samples in and out (FuseWindow).
            client.fuse_files(plate, tmp_path / "out" / "f.####.exr", matte, grade=GRADE, engine="guided")
            frames = {n: read_pixels(Path(plate.replace("####", str(n)))) for n in (1001, 1002, 1003)}
            mattes = {n: read_pixels(Path(matte.replace("####", str(n))))[..., 0] for n in frames}
            window = client.fuse_window(1002, frames, mattes, grade=GRADE, engine="guided")
        assert created.names() == [], "the server wrote temporaries for a streamed shot or a window"
        created.close()

        # The same frames as in-process: nothing was lost by keeping them in memory.
        common = ["fuse", "--plate", plate, "--matte", matte, "--grade", GRADE, "--engine", "guided"]
        assert run_cli(*common, "--out", tmp_path / "local" / "f.####.exr") == 0
        for ours, theirs in zip(
            output_files(tmp_path / "local"), output_files(tmp_path / "out"), strict=True
        ):
            assert np.array_equal(read_pixels(ours), read_pixels(theirs))
        assert window.pixels().shape[:2] == frames[1002].shape[:2]
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)
