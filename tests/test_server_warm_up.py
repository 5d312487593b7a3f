"""A server fuses a tiny generated shot once it listens, so its first job does not pay the process's
one-time set-up; the shot leaves nothing behind and nothing of it in the server's log."""

from __future__ import annotations

import logging
import shutil

import pytest
from conftest import short_folder
from movingcolor.model.device import gpu_driver_present
from movingcolor.service.process import ServerProcess
from movingcolor.service.warm_up import warm_up
from movingcolor_client import connect
from test_service import GRADE, write_shot


def test_a_server_warms_up_once_listening_and_logs_only_that(tmp_path):
    plate, matte = write_shot(tmp_path / "shot", frames=3)
    folder = short_folder()
    temporary = folder / "tmp"
    temporary.mkdir()
    try:
        with ServerProcess(f"unix://{folder}/mc.sock", env={"TMPDIR": str(temporary)}) as server:
            assert server.wait_for_warm_up(), server.log
            assert server.wait_for("warmed", timeout=0), server.log
            (server_folder,) = temporary.glob("movingcolor-server-*")
            assert list(server_folder.iterdir()) == [], "the warm-up shot was left behind"
            # The shot's own lines (colourspaces, grade) are not the server's: a job's are.
            assert not any("colourspace" in line for line in server.log), server.log
            with connect(server.address, retries=0) as client:
                client.fuse_files(plate, tmp_path / "out" / "f.####.exr", matte, grade=GRADE, engine="guided")
            assert any("plate colourspace" in line for line in server.log), server.log
            assert sum("warmed" in line for line in server.log) == 1
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def test_no_warm_up_is_a_choice(tmp_path):
    plate, matte = write_shot(tmp_path / "shot", frames=3)
    folder = short_folder()
    try:
        with ServerProcess(f"unix://{folder}/mc.sock", ["--no-warm-up"]) as server:
            with connect(server.address, retries=0) as client:
                client.fuse_files(plate, tmp_path / "out" / "f.####.exr", matte, grade=GRADE, engine="hard")
            assert not server.wait_for_warm_up(timeout=0.5)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.skipif(gpu_driver_present(), reason="needs a machine without a GPU for the warm-up to fail")
def test_a_failed_warm_up_is_logged_and_leaves_nothing(tmp_path, caplog):
    # No CUDA GPU here: the guided engine cannot be made on one, as a job asking for it would hear.
    with caplog.at_level(logging.INFO, logger="movingcolor"):
        assert not warm_up(tmp_path, device="cuda")
    failed = [r for r in caplog.records if r.getMessage() == "warm_up.failed"]
    assert len(failed) == 1 and "cuda" in failed[0].fields["error"].lower(), caplog.text
    assert list(tmp_path.iterdir()) == []
    assert warm_up(tmp_path)
    assert list(tmp_path.iterdir()) == []
