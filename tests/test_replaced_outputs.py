"""An output pattern replaces only MovingColor's own frames of the same plate unasked: another
shot's plates under a mistyped pattern and frames fused from another plate are refused unless
forced, in process and through a server, and frames of other settings replaced are said."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import run_cli
from movingcolor.frames.image_io import read_header, read_pixels, write_image

GRADE = "slope=1.2,1.0,0.8"


def write_shot(folder: Path, first: int = 1001, last: int = 1006, seed: int = 0) -> str:
    """An RGBA EXR plate whose alpha is the matte, ``plate.####.exr``."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    rows, columns = np.mgrid[0:32, 0:48]
    for number in range(first, last + 1):
        pixels = rng.uniform(0.05, 0.9, (32, 48, 4)).astype(np.float32)
        pixels[..., 3] = ((rows - 16) ** 2 + (columns - 20 - number % 4) ** 2 < 100).astype(np.float32)
        write_image(folder / f"plate.{number:04d}.exr", pixels, channels=("R", "G", "B", "A"))
    return str(folder / "plate.####.exr")


def fuse(plate: str, out: Path | str, *extra: str, server: str | None = None) -> int:
    where = ("--server", server) if server else ()
    return run_cli(
        "fuse", *where, "--plate", plate, "--grade", GRADE, "--engine", "hard", "--out", str(out), *extra
    )


def contents(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


@pytest.fixture(params=["in process", "through a server"])
def server(request) -> str | None:
    return request.getfixturevalue("served").address if request.param == "through a server" else None


def test_a_pattern_naming_another_shots_plates_is_refused_and_they_are_kept(tmp_path, capsys, server):
    plate = write_shot(tmp_path / "sh010")
    other = Path(write_shot(tmp_path / "sh020", seed=1)).parent
    before = contents(other)
    # A one-letter slip in a farm job: sh020's plates named as sh010's output.
    assert fuse(plate, other / "plate.####.exr", "--frames", "1001-1003", server=server) == 2
    error = capsys.readouterr().err
    assert "MovingColor did not write" in error and "1001-1003" in error and "--force" in error
    assert contents(other) == before
    # Asked for, they are replaced.
    assert fuse(plate, other / "plate.####.exr", "--frames", "1001-1003", "--force", server=server) == 0
    assert (
        read_header(other / "plate.1001.exr").attributes["movingcolor:plate"].endswith("sh010/plate.####.exr")
    )
    assert (other / "plate.1004.exr").read_bytes() == before["plate.1004.exr"]


def test_a_pattern_holding_another_plates_frames_is_refused(tmp_path, capsys, server):
    first = write_shot(tmp_path / "a" / "shot", seed=2)
    second = write_shot(tmp_path / "b" / "shot", seed=3)
    out = tmp_path / "renders" / "plate.####.exr"
    assert fuse(first, out, server=server) == 0
    before = contents(out.parent)
    assert fuse(second, out, "--frames", "1001-1003", server=server) == 2
    error = capsys.readouterr().err
    assert "another plate" in error and str(Path(first).parent) in error
    assert contents(out.parent) == before


def test_frames_of_other_settings_replaced_are_said_with_the_frames_left(tmp_path, caplog, server):
    plate = write_shot(tmp_path / "shot")
    out = tmp_path / "out" / "f.####.exr"
    assert fuse(plate, out, server=server) == 0
    with caplog.at_level(logging.WARNING, logger="movingcolor"):
        assert fuse(plate, out, "--band", "6", "--frames", "1003-1004", server=server) == 0
    said = " ".join(r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING)
    assert "1003-1004: frames made from other inputs or settings" in said
    assert "1001-1002, 1005-1006" in said
    caplog.clear()
    # The same settings again: nothing replaced, nothing said.
    with caplog.at_level(logging.WARNING, logger="movingcolor"):
        assert fuse(plate, out, "--band", "6", "--frames", "1003-1004", server=server) == 0
    assert not [r for r in caplog.records if "replacing" in r.getMessage()]


def test_a_chunk_after_the_grade_file_changed_says_the_sequence_mixes_two_grades(tmp_path, caplog, server):
    """A farm job's chunks run after the colourist published the .cc again: the second chunk wrote its
    frames beside the first chunk's of the old grade, exit 0 without a word (it replaced nothing)."""
    plate = write_shot(tmp_path / "shot")
    grade = tmp_path / "shot.cc"
    sop = "<Offset>0 0 0</Offset><Power>1 1 1</Power>"
    correction = '<ColorCorrection id="a"><SOPNode><Slope>{}</Slope>' + sop + "</SOPNode></ColorCorrection>"

    def chunk(out: str, frames: str) -> str:
        where = ("--server", server) if server else ()
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="movingcolor"):
            assert run_cli("fuse", *where, "--plate", plate, "--grade", str(grade), "--engine", "hard",
                           "--out", str(tmp_path / out / "f.####.exr"), "--frames", frames) == 0  # fmt: skip
        return " ".join(r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING)

    grade.write_text(correction.format("1.2 1 0.8"))
    chunk("one", "1001-1003")
    assert "made from other inputs or settings" not in chunk("one", "1004-1006")  # one take
    chunk("two", "1001-1003")
    grade.write_text(correction.format("0.8 1 1.2"))
    said = chunk("two", "1004-1006")
    assert "holds frames 1001-1003, outside this run, made from other inputs or settings" in said


def test_a_damaged_frame_of_an_earlier_run_is_redone_not_refused(tmp_path, capsys):
    plate = write_shot(tmp_path / "shot")
    out = tmp_path / "out"
    assert fuse(plate, out / "f.####.exr") == 0
    damaged = out / "f.1002.exr"
    damaged.write_bytes(damaged.read_bytes()[:200])  # its header cut short too
    (out / "f.1003.exr").write_bytes(b"")
    capsys.readouterr()
    assert fuse(plate, out / "f.####.exr", "--json") == 0
    written = json.loads(capsys.readouterr().out)["written"]
    assert sorted(Path(p).name for p in written) == ["f.1002.exr", "f.1003.exr"]
    assert read_pixels(damaged).shape == (32, 48, 3)


def test_a_png_frame_records_its_number_so_a_neighbour_copied_over_it_is_redone(tmp_path, capsys):
    plate = write_shot(tmp_path / "shot")
    out = tmp_path / "out"
    assert fuse(plate, out / "f.####.png") == 0
    assert str(read_header(out / "f.1004.png").attributes["movingcolor:frame"]) == "1004"
    shutil.copyfile(out / "f.1003.png", out / "f.1004.png")  # a failed frame held by its neighbour
    capsys.readouterr()
    assert fuse(plate, out / "f.####.png", "--json") == 0
    assert [Path(p).name for p in json.loads(capsys.readouterr().out)["written"]] == ["f.1004.png"]


def test_a_resumed_run_says_the_frames_it_wrote_not_the_range(tmp_path, caplog):
    plate = write_shot(tmp_path / "shot")
    out = tmp_path / "out" / "f.####.exr"
    assert fuse(plate, out, "--frames", "1001-1004") == 0
    (out.parent / "f.1003.exr").unlink()
    with caplog.at_level(logging.INFO, logger="movingcolor"):
        assert fuse(plate, out) == 0
    assert any("wrote 3 frames (1003, 1005-1006)" in r.getMessage() for r in caplog.records)


def test_frames_of_a_plate_not_seen_from_here_are_not_taken_for_another_plates(tmp_path, caplog):
    """A workstation's /Volumes/shows is a farm node's /mnt/shows: frames recording the plate where
    this machine sees no such folder are this shot's from elsewhere, resumed or redone, not refused."""
    plate = write_shot(tmp_path / "volumes" / "shot")
    out = tmp_path / "out" / "f.####.exr"
    assert fuse(plate, out) == 0
    (tmp_path / "volumes").rename(tmp_path / "mnt")  # the same storage by another path
    with caplog.at_level(logging.WARNING, logger="movingcolor"):
        assert fuse(str(tmp_path / "mnt" / "shot" / "plate.####.exr"), out) == 0
    assert "another plate" not in caplog.text
    recorded = read_header(out.parent / "f.1001.exr").attributes["movingcolor:plate"]
    assert recorded.startswith(str(tmp_path / "mnt"))


def test_an_image_this_product_does_not_read_is_still_an_image_not_replaced(tmp_path, capsys):
    """A renderer's deep EXRs at the output's names: read_header refuses them, and they were taken
    for damaged frames and replaced."""
    import OpenImageIO as oiio

    plate = write_shot(tmp_path / "shot")
    out = tmp_path / "renders"
    out.mkdir()
    for number in (1001, 1002):
        spec = oiio.ImageSpec(48, 32, 2, oiio.FLOAT)
        spec.channelnames = ("A", "Z")
        spec.deep = True
        deep = oiio.ImageBuf(spec)
        deep.write(str(out / f"f.{number}.exr"))
    before = contents(out)
    assert fuse(plate, out / "f.####.exr", "--frames", "1001-1002") == 2
    assert "MovingColor did not write" in capsys.readouterr().err
    assert contents(out) == before


@pytest.mark.parametrize("name", ["f-####.exr", "f.####_v1.exr"])
def test_a_resumed_run_names_its_frames_as_its_sequence_does(tmp_path, caplog, name):
    plate = write_shot(tmp_path / "shot")
    out = tmp_path / "out" / name
    assert fuse(plate, out, "--frames", "1001-1004") == 0
    with caplog.at_level(logging.INFO, logger="movingcolor"):
        assert fuse(plate, out) == 0
    assert any("wrote 2 frames (1005-1006)" in r.getMessage() for r in caplog.records)


def test_what_a_run_warned_of_is_in_its_report(tmp_path, capsys):
    """--json (and a host's summary) said nothing of what the run warned of: a script reading it saw a
    clean run where frames of other settings had been replaced."""
    plate = write_shot(tmp_path / "shot")
    out = tmp_path / "out" / "f.####.exr"
    assert fuse(plate, out, "--band", "3", "--json") == 0
    assert json.loads(capsys.readouterr().out)["warnings"] == []
    assert fuse(plate, out, "--band", "2", "--frames", "1002", "--json") == 0
    warnings = json.loads(capsys.readouterr().out)["warnings"]
    assert any("1002: frames made from other inputs or settings" in w for w in warnings)
