"""Nothing lost, nothing let in, bounded work and sane values: an in-process run (and a server's
file job, which runs the same shot) against a careless or hostile caller."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import OpenImageIO as oiio
import pytest
from conftest import WARM_COOL_CCC, output_files, run_cli
from movingcolor.color.config import ColorConfig
from movingcolor.color.grade import parse_grade
from movingcolor.errors import (
    FrameRangeError,
    GradeError,
    ImageTooLargeError,
    InvalidPixelsError,
    MovingColorError,
    OutputBusyError,
    PathOutsideRootsError,
    UnreadableFrameError,
)
from movingcolor.frames.confine import confined
from movingcolor.frames.image_io import read_header, read_pixels, write_image
from movingcolor.frames.sequence import SequencePattern
from movingcolor.frames.temporaries import temporary_path
from movingcolor.jobs import ShotSpec, run_shot

GRADE = "slope=1.2,1.0,0.85;offset=0.01"


def write_white_mattes(folder: Path, frames: range, name: str) -> Path:
    """A matte of every pixel, 64x48, for each frame, named ``name.format(frame)``; the folder."""
    folder.mkdir(parents=True)
    for n in frames:
        write_image(folder / name.format(n), np.ones((48, 64, 1), np.float32), channels=("Y",))
    return folder


def write_plate(folder: Path, first: int, count: int, *, size=(64, 48), value=None, name="plate") -> str:
    """A small scene-linear EXR plate with an alpha matte (a disc), frames ``first``..; its pattern."""
    folder.mkdir(parents=True, exist_ok=True)
    width, height = size
    yy, xx = np.mgrid[0:height, 0:width]
    for index in range(count):
        rgba = np.zeros((height, width, 4), np.float32)
        rgba[..., 0] = xx / width
        rgba[..., 1] = yy / height
        rgba[..., 2] = 0.3 + 0.01 * index
        if value is not None:
            rgba[..., :3] = value
        rgba[..., 3] = (xx - width / 2 - index) ** 2 + (yy - height / 2) ** 2 < (height / 3) ** 2
        write_image(folder / f"{name}.{first + index:04d}.exr", rgba, channels=("R", "G", "B", "A"))
    return str(folder / f"{name}.####.exr")


def digests(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in output_files(folder)}


def fuse(*args, grade: str = GRADE) -> int:
    return run_cli("fuse", "--grade", grade, "--engine", "hard", *args)


# -- nothing lost ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "out",
    [
        "plate.###.exr",  # another padding: frames 1000-1003 are the plate's own files
        "plate.%d.exr",
        "plate.%04d.exr",
        "./../shot/plate.###.exr",  # a relative spelling through the parent
        "linked/plate.####.exr",  # a symbolic link to the plate's folder
    ],
)
def test_no_output_frame_of_the_range_overwrites_any_input(tmp_path, capsys, monkeypatch, out):
    """The plate is 0996-1003: the first output frame (0996) is new, but later ones are not."""
    shot = tmp_path / "shot"
    plate = write_plate(shot, 996, 8)
    (shot / "linked").symlink_to(shot)
    before = digests(shot)
    monkeypatch.chdir(shot)
    assert fuse("--plate", plate, "--matte", "alpha", "--out", out) == 2
    assert "would overwrite an input" in capsys.readouterr().err
    assert digests(shot) == before


def test_an_output_folder_that_is_the_plates_by_another_path_is_refused(tmp_path, capsys):
    """The plate's folder reached by another path (a bind mount, a second mount of a farm's share)
    resolves to another name but holds the same directory entries: a frame's rename would have
    replaced the plate. A hard link of the plate in another folder (a publish tree) is another
    entry, which the rename replaces while the plate stays whole."""
    plate = write_plate(tmp_path / "shot", 1, 4)
    before = digests(tmp_path / "shot")
    published = tmp_path / "published"
    published.mkdir()
    for path in (tmp_path / "shot").iterdir():
        os.link(path, published / path.name)
    # Images MovingColor did not write: replaced only when asked.
    assert fuse("--plate", plate, "--out", str(published / "plate.####.exr")) == 2
    assert digests(published) == before
    assert fuse("--plate", plate, "--out", str(published / "plate.####.exr"), "--force") == 0
    assert digests(tmp_path / "shot") == before and digests(published) != before
    bound = tmp_path / "bound"
    bound.mkdir()
    mounted = (
        shutil.which("mount")
        and subprocess.run(
            ["mount", "--bind", str(tmp_path / "shot"), str(bound)], capture_output=True
        ).returncode
        == 0
    )
    if not mounted:
        pytest.skip("this machine may not bind-mount a folder (root in a host that allows it)")
    try:
        capsys.readouterr()
        assert fuse("--plate", plate, "--out", str(bound / "plate.####.exr")) == 2
        assert "would overwrite an input: 4 of its frames are input files" in capsys.readouterr().err
    finally:
        subprocess.run(["umount", str(bound)], check=True)
    assert digests(tmp_path / "shot") == before


@pytest.mark.parametrize("through", ["in-process", "server"])
def test_a_frame_file_holding_another_frame_is_fused_again(tmp_path, request, through):
    """A rerun kept every file of the same shot as finished, whichever frame it held: a wrangler
    who fills a failed frame with its neighbour's file (a hold) and requeues the job got the hold
    back."""
    server = ["--server", request.getfixturevalue("served").address] if through == "server" else []
    plate = write_plate(tmp_path / "shot", 1, 3)
    out = tmp_path / "out"
    assert fuse("--plate", plate, "--out", str(out / "f.####.exr"), *server) == 0
    fused = read_pixels(out / "f.0003.exr")
    shutil.copyfile(out / "f.0002.exr", out / "f.0003.exr")
    assert fuse("--plate", plate, "--out", str(out / "f.####.exr"), *server) == 0
    assert read_header(out / "f.0003.exr").attributes["movingcolor:frame"] in (3, "3")
    assert np.array_equal(read_pixels(out / "f.0003.exr"), fused)


@pytest.mark.parametrize("through", ["in-process", "server"])
def test_a_rerun_into_png_keeps_its_finished_frames(tmp_path, request, through):
    """PNG keeps text attributes alone, so a frame's number is not in its header: its frames are
    taken at their fingerprint (checking the number redid every PNG frame on every rerun)."""
    server = ["--server", request.getfixturevalue("served").address] if through == "server" else []
    plate = write_plate(tmp_path / "shot", 1, 2)
    out = tmp_path / "out"
    assert fuse("--plate", plate, "--out", str(out / "f.####.png"), *server) == 0
    written = {path.name: path.stat().st_mtime_ns for path in out.glob("f.*.png")}
    assert len(written) == 2
    assert fuse("--plate", plate, "--out", str(out / "f.####.png"), *server) == 0
    assert {path.name: path.stat().st_mtime_ns for path in out.glob("f.*.png")} == written


def test_shots_writing_one_sequence_in_other_paddings_claim_it_alike(tmp_path):
    """``f.#.exr`` and ``f.####.exr`` both write f.1001.exr: two shots of other settings writing
    them at once each claimed a sequence of its own, and filled one with a mix of their frames."""
    from movingcolor.frames.output_claim import claim_output

    out = tmp_path / "out"
    out.mkdir()
    first = claim_output(SequencePattern.parse(str(out / "f.#.exr")), "a" * 64)
    try:
        with pytest.raises(OutputBusyError, match="is being written now by another shot"):
            claim_output(SequencePattern.parse(str(out / "f.####.exr")), "b" * 64)
        claim_output(SequencePattern.parse(str(out / "f.%04d.exr")), "a" * 64).release()  # the same shot
    finally:
        first.release()
    # A claim named with its padding, as an earlier version names them (a farm's other hosts).
    from movingcolor.frames.temporaries import owner_name

    earlier = out / f".f.####.exr.{'c' * 16}.{owner_name()}.writing"
    earlier.touch()
    with pytest.raises(OutputBusyError, match="is being written now by another shot"):
        claim_output(SequencePattern.parse(str(out / "f.####.exr")), "b" * 64)
    earlier.unlink()


def test_an_output_that_is_the_matte_is_refused(tmp_path, capsys):
    plate = write_plate(tmp_path / "plate", 1, 4)
    matte_folder = write_white_mattes(tmp_path / "matte", range(1, 5), "m.{}.png")
    before = digests(matte_folder)
    assert fuse("--plate", plate, "--matte", str(matte_folder / "m.#.png"), "--out",
                str(matte_folder / "m.%d.png")) == 2  # fmt: skip
    assert "overwrite an input" in capsys.readouterr().err
    assert digests(matte_folder) == before


def test_a_rerun_removes_what_a_killed_run_left(tmp_path):
    plate = write_plate(tmp_path / "shot", 1, 4)
    out = tmp_path / "out"
    out.mkdir()
    # A writer that has died, on this host: a process that ran and ended.
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = Path(str(temporary_path(out / "f.0002.exr")).replace(f"-{os.getpid()}-", f"-{dead.pid}-"))
    stale.write_bytes(b"half a frame")
    live = temporary_path(out / "f.0003.exr")  # this process: a writer still at work
    live.write_bytes(b"being written")
    foreign = out / ".f.0004.exr.0123abcd.partial"  # an older naming, untouched for two hours
    foreign.write_bytes(b"old")
    os.utime(foreign, (1, 1))
    elsewhere = out / ".other.0002.exr.0123abcd.partial"  # not one of this shot's outputs
    elsewhere.write_bytes(b"not ours")
    os.utime(elsewhere, (1, 1))
    assert fuse("--plate", plate, "--out", str(out / "f.####.exr")) == 0
    assert not stale.exists() and not foreign.exists()
    assert live.exists() and elsewhere.exists()


def test_shots_whose_plates_share_a_name_never_replace_each_others_frames_in_one_folder(tmp_path, capsys):
    """``--out renders`` names frames after the plate: sh010/plate/plate.####.exr and
    sh020/plate/plate.####.exr both became renders/plate.####.exr, and the second replaced the first."""
    renders = tmp_path / "renders"
    first = write_plate(tmp_path / "sh010" / "plate", 1, 2)
    second = write_plate(tmp_path / "sh020" / "plate", 1, 2, value=0.2)
    assert fuse("--plate", first, "--out", str(renders)) == 0
    kept = digests(renders)
    assert sorted(kept) == ["plate.0001.exr", "plate.0002.exr"]
    assert fuse("--plate", second, "--out", str(renders)) == 2
    error = capsys.readouterr().err
    assert "holds frames fused from another plate" in error and str(renders / "sh020.####.exr") in error
    assert digests(renders) == kept
    # The same plate again is this shot's rerun: resumed in place, then redone on a changed grade.
    assert fuse("--plate", first, "--out", str(renders), grade="sat=0.5") == 0
    assert sorted(digests(renders)) == sorted(kept) and digests(renders) != kept


@pytest.mark.parametrize("through", ["in-process", "server"])
def test_a_shot_of_other_settings_never_writes_into_an_output_another_shot_is_writing(
    tmp_path, capsys, request, through
):
    """Two shots of other grades into one output, at once, left it holding frames of each (through a
    server, the client claimed nothing). A live writer's claim refuses the second; a claim a dead
    writer left is cleared; none stays behind."""
    from movingcolor.frames.temporaries import owner_name

    server = ["--server", request.getfixturevalue("served").address] if through == "server" else []

    def fuse(*args) -> int:
        return run_cli("fuse", "--grade", GRADE, "--engine", "hard", *args, *server)

    plate = write_plate(tmp_path / "shot", 1, 2)
    out = tmp_path / "out"
    out.mkdir()
    live = out / f".f.#.exr.0123456789abcdef.{owner_name()}.writing"  # this process: alive
    live.touch()
    # A farm retries a transient failure (75): the retry of a killed task's chunk waits out its claim.
    assert fuse("--plate", plate, "--out", str(out / "f.####.exr")) == 75
    assert (
        "is being written now by another shot, or by this one from other inputs or settings"
        in capsys.readouterr().err
    )
    assert not list(out.glob("f.*"))
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    live.rename(out / live.name.replace(f"-{os.getpid()}-", f"-{dead.pid}-"))
    assert fuse("--plate", plate, "--out", str(out / "f.####.exr")) == 0
    assert len(list(out.glob("f.*.exr"))) == 2 and not list(out.glob(".*.writing"))


def _as_unprivileged() -> list[str] | None:
    """The words that run a command without the right to read, enter or write past permissions:
    none for a user without it, ``setpriv`` dropping it for root, None where that cannot be done."""
    if os.geteuid() != 0:
        return []
    if shutil.which("setpriv") is None:
        return None
    # Inheritable capabilities cleared too: a runtime that grants them would otherwise keep them.
    return ["setpriv", "--inh-caps=-all", "--bounding-set", "-dac_override,-dac_read_search,-fowner", "--"]


def _unprivileged_fuse(tmp_path: Path, frames: int) -> list[str]:
    """A ``movingcolor fuse`` command, without ``--out``, run without the right to pass permissions,
    of a plate of ``frames`` frames in ``tmp_path / "shot"`` that any user may read; the test is
    skipped where permissions cannot be made to bind."""
    prefix = _as_unprivileged()
    if prefix is None:
        pytest.skip("running as root without setpriv: permissions cannot be made to bind")
    plate = write_plate(tmp_path / "shot", 1, frames)
    for path in (tmp_path, tmp_path / "shot", *(tmp_path / "shot").iterdir()):
        path.chmod(0o755 if path.is_dir() else 0o644)
    command = [*prefix, sys.executable, "-m", "movingcolor.cli.main", "-q", "fuse", "--plate", plate]
    return command + ["--grade", GRADE, "--engine", "hard"]


def test_an_output_folder_that_cannot_be_entered_is_a_clear_error_and_a_drop_box_works(tmp_path):
    """An output folder this user may not enter was a traceback (exit 1, "a bug"); one it may write
    and enter but not list (a drop box) is written."""
    command = _unprivileged_fuse(tmp_path, 2)
    shut, drop_box = tmp_path / "shut", tmp_path / "drop"
    for folder, mode in ((shut, 0o000), (drop_box, 0o311)):
        folder.mkdir()
        folder.chmod(mode)
    try:
        run = subprocess.run([*command, "--out", str(shut / "f.####.exr")], capture_output=True, text=True)
        assert run.returncode == 2, run.stderr[-2000:]
        assert f"cannot write into output folder {shut}" in run.stderr and "Traceback" not in run.stderr
        run = subprocess.run(
            [*command, "--out", str(drop_box / "f.####.exr")], capture_output=True, text=True
        )
        assert run.returncode == 0, run.stderr[-2000:]
    finally:
        shut.chmod(0o755)
        drop_box.chmod(0o755)
    assert sorted(p.name for p in drop_box.iterdir() if not p.name.startswith(".")) == [
        "f.0001.exr",
        "f.0002.exr",
    ]


def test_inputs_this_user_may_not_read_are_named_as_such(tmp_path):
    """A show's folders readable by its group alone, a farm node's user outside it: a plate folder it
    may not list was a traceback (exit 1, "a bug"), and a frame it may not read was called not an
    image (check that the file is complete)."""
    command = _unprivileged_fuse(tmp_path, 3) + ["--out", str(tmp_path / "out" / "f.####.exr")]
    frame = tmp_path / "shot" / "plate.0002.exr"
    try:
        frame.chmod(0o000)
        run = subprocess.run(command, capture_output=True, text=True)
        assert run.returncode == 2 and "Traceback" not in run.stderr, run.stderr[-2000:]
        assert f"{frame}: this user may not read it (permission denied)" in run.stderr
        frame.chmod(0o644)
        (tmp_path / "shot").chmod(0o300)
        run = subprocess.run(command, capture_output=True, text=True)
        assert run.returncode == 2 and "Traceback" not in run.stderr, run.stderr[-2000:]
        assert f"{tmp_path / 'shot'}: this user may not list the folder's files" in run.stderr
    finally:
        frame.chmod(0o644)
        (tmp_path / "shot").chmod(0o755)


@pytest.mark.parametrize("through", ["in-process", "server"])
def test_sigterm_stops_a_shot_as_an_interrupt_does(tmp_path, through):
    """A farm stops a task with SIGTERM: the run ended at once with the frame being written left as a
    temporary and the output's claim in place (a rerun from another host waited 10 minutes on it)."""
    import signal
    import time

    plate = write_plate(tmp_path / "shot", 1, 40, size=(640, 360))
    out = tmp_path / "out"
    command = [sys.executable, "-m", "movingcolor.cli.main", "fuse", "--plate", plate, "--grade", GRADE]
    server = None
    if through == "server":
        from conftest import short_folder
        from movingcolor.service.process import ServerProcess

        server = ServerProcess(f"unix://{short_folder()}/mc.sock").start()
        command += ["--server", server.address]
    run = subprocess.Popen(
        [*command, "--engine", "guided", "--out", str(out / "f.####.exr"), "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 120
    while not (out / "f.0001.exr").exists() and run.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    run.send_signal(signal.SIGTERM)
    stdout, stderr = run.communicate(timeout=120)
    if server is not None:
        server.stop()
    assert run.returncode == 143, stderr[-2000:]
    assert "stopped (SIGTERM); what was already written is complete" in stderr
    assert not [p.name for p in out.iterdir() if p.name.startswith(".")]  # no temporary, no claim
    written = output_files(out)
    assert 0 < len(written) < 40
    assert all(read_pixels(path).shape == (360, 640, 3) for path in written)
    # --json says which frames it leaves, as any other failure while fusing does (it said none).
    summary = json.loads(stdout)
    assert summary["exit_code"] == 143 and sorted(Path(p) for p in summary["written"]) == written


def test_a_home_folder_output_and_a_name_too_long_are_taken_as_an_artist_means_them(
    tmp_path, capsys, monkeypatch
):
    """``--out=~/...`` reaching the tool unexpanded (a farm's or a script's argument, a quoted shell
    word) wrote into a folder named ``~`` where every input's ``~`` was the home folder; a file name
    over the file system's 255 bytes (88 Japanese characters) was a traceback, exit 1, with nothing
    on stdout under --json."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    write_plate(tmp_path / "home" / "shot", 1, 2)
    assert fuse("--plate", "~/shot/plate.####.exr", "--out", "~/fused/f.####.exr") == 0
    assert [p.name for p in output_files(tmp_path / "home" / "fused")] == ["f.0001.exr", "f.0002.exr"]
    assert not (tmp_path / "~").exists()
    capsys.readouterr()
    long_name = "ショット" * 22
    assert fuse("--plate", "~/shot/plate.####.exr", "--out", f"o/{long_name}.####.exr", "--json") == 2
    failure = json.loads(capsys.readouterr().out)
    assert failure["exit_code"] == 2 and "bytes a name may have in" in failure["error"]
    assert (
        fuse("--plate", "~/shot/plate.####.exr", "--grade", f"~/{long_name}.cube", "--out", "o3", "--json")
        == 2
    )
    failure = json.loads(capsys.readouterr().out)
    assert failure["exit_code"] == 2 and "too long for the file system" in failure["error"]
    # A name that fits, but whose temporary name while written does not: refused before any frame is
    # fused (it failed at the first frame's write, told to check the disk's room).
    assert fuse("--plate", "~/shot/plate.####.exr", "--out", f"o2/{'a' * 240}.####.exr", "--json") == 2
    failure = json.loads(capsys.readouterr().out)
    assert (
        "the temporary name it is written under" in failure["error"]
        or "claim" in failure["error"]
        and not (tmp_path / "o2").exists()
    )


def test_an_output_whose_claim_the_folder_cannot_hold_is_refused(tmp_path, capsys):
    """A frame name whose temporary fits the file system's 255 bytes but whose claim on the sequence
    (a longer name beside it) does not: the run went on unclaimed, without a word, so a shot of other
    settings could write into the same sequence at once."""
    from movingcolor.frames.output_claim import claim_name
    from movingcolor.frames.sequence import SequencePattern
    from movingcolor.frames.temporaries import temporary_path

    plate = write_plate(tmp_path / "shot", 1, 2)
    for length in range(100, 255):
        out = str(tmp_path / "o" / f"{'a' * length}.####.exr")
        pattern = SequencePattern.parse(out)
        if len(temporary_path(pattern.path(1)).name) <= 255 < len(claim_name(pattern, "0" * 16)):
            break
    assert fuse("--plate", plate, "--out", out) == 2
    error = capsys.readouterr().err
    assert "the name of the shot's claim on the sequence" in error and not (tmp_path / "o").exists()


def test_an_opaque_plate_alpha_taken_as_the_matte_says_to_give_the_roto(tmp_path, caplog):
    """No --matte and a plate whose alpha is opaque: the hint spoke of a matte exported with an
    opaque alpha, which was not given."""
    plate = write_plate(tmp_path / "shot", 1, 2)
    for path in sorted((tmp_path / "shot").iterdir()):
        rgba = read_pixels(path)
        rgba[..., 3] = 1.0
        write_image(path, rgba, channels=("R", "G", "B", "A"))
    with caplog.at_level("WARNING", logger="movingcolor"):
        assert fuse("--plate", plate, "--out", str(tmp_path / "o" / "f.####.exr")) == 0
    assert "with no matte given, the matte is the plate's alpha, which is opaque" in caplog.text
    assert "give the roto with --matte" in caplog.text


# -- nothing let in --------------------------------------------------------------------------------


def test_a_frame_linked_outside_the_roots_is_not_read(tmp_path):
    root, outside = tmp_path / "root", tmp_path / "outside"
    plate = write_plate(root / "shot", 1, 4)
    secret = Path(write_plate(outside, 1, 4, value=0.9).replace("####", "0003"))
    frame = root / "shot" / "plate.0003.exr"
    frame.unlink()
    frame.symlink_to(secret)
    spec = ShotSpec(plate=plate, out=str(root / "out" / "f.####.exr"), grade=GRADE, engine="hard")
    with confined([root]), pytest.raises(PathOutsideRootsError, match="outside"):
        run_shot(spec)
    assert not any(p.name == "f.0003.exr" for p in output_files(root / "out"))
    # Unconfined (an artist's own run), the same link is followed as any link is.
    assert run_shot(spec).written


def test_a_frame_that_cannot_be_opened_when_checked_is_never_opened_by_its_name(tmp_path, monkeypatch):
    """A frame missing when the confined reader opened it to check where it lies was then opened by
    its name, unchecked: a link made there in between (a frame flipping between absent and a link
    outside) had a file job read a file outside the roots."""
    import movingcolor.frames.confine as confine

    root, outside = tmp_path / "root", tmp_path / "outside"
    plate = write_plate(root / "shot", 1, 4)
    secret = Path(write_plate(outside, 1, 4, value=0.9).replace("####", "0003"))
    frame = root / "shot" / "plate.0003.exr"
    opened = confine._open_without_waiting

    def open_then_swap(path):
        if Path(path) == frame and not frame.is_symlink():
            # The check's open finds nothing there; the link appears just after it.
            frame.unlink()
            frame.symlink_to(secret)
            raise FileNotFoundError(2, "No such file or directory")
        return opened(path)

    monkeypatch.setattr(confine, "_open_without_waiting", open_then_swap)
    spec = ShotSpec(plate=plate, out=str(root / "out" / "f.####.exr"), grade=GRADE, engine="hard")
    # The link there by the time the name is looked at, the frame is refused as lying outside.
    with confined([root]), pytest.raises(PathOutsideRootsError, match="plate.0003.exr .*outside"):
        run_shot(spec)
    written = {p.name: read_pixels(p) for p in output_files(root / "out")}
    assert "f.0003.exr" not in written and all((values < 0.85).all() for values in written.values())


def test_a_link_inside_the_roots_tells_nothing_of_what_exists_outside(tmp_path):
    """A confined reader opened a link inside the roots to a file outside them and answered "cannot
    open" where nothing was there and "outside the roots" where something was: a client that may
    make links inside the roots learnt which files exist where the server's user can see and it
    cannot. Every link leading outside is refused as outside, whether or not its target exists."""
    from movingcolor.frames.confine import read_inside, readable

    root, outside = tmp_path / "root", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    (outside / "exists.exr").write_bytes(b"x")
    errors = {}
    for name in ("exists.exr", "missing.exr"):
        link = root / f"link-{name}"
        link.symlink_to(outside / name)
        refused = pytest.raises(PathOutsideRootsError, match="outside this server's root")
        with confined([root]), refused as frame, readable(link):
            pass
        with pytest.raises(PathOutsideRootsError) as file:
            read_inside(link, [root.resolve()], "grade file")
        errors[name] = (str(frame.value).replace(name, "NAME"), str(file.value).replace(name, "NAME"))
    assert errors["exists.exr"] == errors["missing.exr"]
    # A missing file inside the roots is still said to be missing, in the reader's words.
    missing = pytest.raises(UnreadableFrameError, match="cannot open the frame")
    with confined([root]), missing, readable(root / "absent.exr"):
        pass
    with pytest.raises(FileNotFoundError):
        read_inside(root / "absent.cube", [root.resolve()], "grade file")


@pytest.mark.parametrize("extension", ["png", "tif"])
def test_a_confined_job_writes_png_and_tiff(tmp_path, extension):
    """An integer output's colourspace is checked by reading back an image made in memory, which lies
    in no root: every confined PNG or TIFF job was refused, naming that image."""
    root = tmp_path / "root"
    plate = write_plate(root / "shot", 1, 2)
    spec = ShotSpec(plate=plate, out=str(root / "out" / f"f.####.{extension}"), grade=GRADE, engine="hard")
    with confined([root]):
        assert len(run_shot(spec).written) == 2


_TINT_LUT = "LUT_1D_SIZE 2\n0 0 0\n1.0 0.8 0.6\n"


def test_a_grade_or_lut_linked_outside_the_roots_is_not_read(tmp_path):
    """A file job's grade file and its config's LUTs are checked inside the roots when the job
    arrives, and OpenColorIO opened them by name later: a link swapped in between had the server
    apply a file outside the roots (and quote its lines in OpenColorIO's errors). Each is now read
    inside the roots as it is read; put right, the same files are read (nothing refused is kept)."""
    import PyOpenColorIO as ocio

    root, outside = tmp_path / "root", tmp_path / "outside"
    plate = write_plate(root / "shot", 1, 2)
    outside.mkdir()
    (outside / "secret.cube").write_text("LUT_1D_SIZE 2\n0 0 0\n0.3 0.3 0.3\n")
    (outside / "secret.ccc").write_text(WARM_COOL_CCC)
    grades = root / "grades"
    grades.mkdir()
    config = ocio.Config.CreateFromFile("ocio://default")
    config.setSearchPath("luts")
    config.addLook(ocio.Look(name="tint", processSpace="ACEScg", transform=ocio.FileTransform("tint.cube")))
    (root / "cfg" / "luts").mkdir(parents=True)
    (root / "cfg" / "config.ocio").write_text(config.serialize())
    links = {
        grades / "shot.cube": outside / "secret.cube",
        grades / "shot.ccc": outside / "secret.ccc",
        root / "cfg" / "luts" / "tint.cube": outside / "secret.cube",
    }
    for link, target in links.items():
        link.symlink_to(target)
    specs = {
        "shot.cube": ShotSpec(
            plate=plate, out=str(root / "a" / "f.####.exr"), grade=str(grades / "shot.cube")
        ),
        "shot.ccc": ShotSpec(
            plate=plate, out=str(root / "b" / "f.####.exr"), grade=f"{grades}/shot.ccc#cool"
        ),
        "tint.cube": ShotSpec(
            plate=plate,
            out=str(root / "c" / "f.####.exr"),
            grade="look:tint",
            config=str(root / "cfg" / "config.ocio"),
        ),
    }
    for name, spec in specs.items():
        with confined([root]), pytest.raises(PathOutsideRootsError, match=rf"{name} \(which is .*outside"):
            run_shot(dataclasses.replace(spec, engine="hard"))
    assert not [frame for out in "abc" for frame in (root / out).glob("f.*")]
    for link in links:
        link.unlink()
    (grades / "shot.cube").write_text(_TINT_LUT)
    (grades / "shot.ccc").write_text(WARM_COOL_CCC)
    (root / "cfg" / "luts" / "tint.cube").write_text(_TINT_LUT)
    for spec in specs.values():
        with confined([root]):
            confined_run = run_shot(dataclasses.replace(spec, engine="hard"))
        unconfined = dataclasses.replace(spec, engine="hard", out=spec.out.replace("/f.", "/free."))
        run_shot(unconfined)
        assert len(confined_run.written) == 2
        for frame in ("0001", "0002"):
            ours, theirs = spec.out.replace("####", frame), unconfined.out.replace("####", frame)
            assert np.array_equal(read_pixels(Path(ours)), read_pixels(Path(theirs)))


_DOUBLE_SPI1D = "Version 1\nFrom 0.0 1.0\nLength 2\nComponents 1\n{\n0.0\n2.0\n}\n"


def _config_searching(folder: Path, search_path: str) -> Path:
    """A config whose colourspace ``dbl`` doubles scene-linear values through ``double.spi1d``, found
    along ``search_path``; written as ``folder/config.ocio``."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.ocio").write_text(
        "ocio_profile_version: 2\n"
        f"search_path: {search_path}\n"
        "roles: {default: lin, scene_linear: lin}\n"
        "displays:\n  sRGB:\n    - !<View> {name: Raw, colorspace: lin}\n"
        "colorspaces:\n"
        "  - !<ColorSpace> {name: lin}\n"
        "  - !<ColorSpace>\n    name: dbl\n    to_scene_reference: !<FileTransform> {src: double.spi1d}\n"
    )
    return folder / "config.ocio"


def test_a_confined_config_reads_as_the_same_config_read_freely(tmp_path, monkeypatch):
    """Read inside the roots, a config's LUT in its second search folder was not found (the first
    folder's miss was taken for the file); a refused job's misses left OpenColorIO's process-wide
    caches saying that a missing file existed, breaking the server's own config for its streamed
    calls; a job naming no config refused the server's own $OCIO outside the roots; an archive
    failed in YAML's words. Each now reads as the config read freely does, or says what to do."""
    from movingcolor.color.config import shared_config
    from movingcolor.service.roots import config_inside_roots

    rgb = np.full((1, 3), 0.25, np.float32)
    root = tmp_path / "root"
    config = _config_searching(root / "show", "[a, b]")
    (root / "show" / "a").mkdir()
    (root / "show" / "b").mkdir()
    (root / "show" / "b" / "double.spi1d").write_text(_DOUBLE_SPI1D)
    with confined([root]):
        assert np.allclose(shared_config(str(config)).convert(rgb, "dbl", "lin"), 0.5)
    studio = _config_searching(tmp_path / "studio", "[a, b]")
    (tmp_path / "studio" / "a").mkdir()
    (tmp_path / "studio" / "b").mkdir()
    (tmp_path / "studio" / "b" / "double.spi1d").write_text(_DOUBLE_SPI1D)
    probe = _config_searching(root / "probe", f"[{tmp_path / 'studio' / 'a'}]")
    with pytest.raises(PathOutsideRootsError, match="reads LUTs outside"):
        config_inside_roots(str(probe), (root,))
    assert np.allclose(ColorConfig(str(studio)).convert(rgb, "dbl", "lin"), 0.5)
    monkeypatch.setenv("OCIO", str(studio))
    with confined([root]):
        assert np.allclose(shared_config(None).convert(rgb, "dbl", "lin"), 0.5)
    archive = root / "show.ocioz"
    archive.write_bytes(b"PK\x03\x04 an archive")
    with confined([root]), pytest.raises(MovingColorError, match=r"archive \(\.ocioz\) .* extract it inside"):
        shared_config(str(archive))


def test_an_output_folder_swapped_for_a_link_mid_shot_writes_nothing_outside(tmp_path):
    root, outside = tmp_path / "root", tmp_path / "outside"
    plate = write_plate(root / "shot", 1, 6)
    out = root / "out"
    outside.mkdir()

    def swap(done: int, total: int, frame: int) -> None:
        if done == 2:
            out.rename(root / "moved")
            out.symlink_to(outside)

    spec = ShotSpec(plate=plate, out=str(out / "f.####.exr"), grade=GRADE, engine="hard")
    with confined([root]), pytest.raises(PathOutsideRootsError):
        run_shot(spec, swap)
    assert output_files(outside) == []
    assert [p.name for p in output_files(root / "moved")] == ["f.0001.exr", "f.0002.exr"]


# -- bounded work ----------------------------------------------------------------------------------


def test_a_huge_range_is_refused_without_enumerating_it(tmp_path, capsys):
    plate = write_plate(tmp_path / "shot", 1, 4)
    out = str(tmp_path / "out" / "f.####.exr")
    assert fuse("--plate", plate, "--out", out, "--frames", "0-1000000000000") == 2
    assert "out of range" in capsys.readouterr().err
    assert fuse("--plate", plate, "--out", out, "--frames", "0-2000000000") == 2
    assert "split it into chunks" in capsys.readouterr().err
    assert fuse("--plate", plate, "--out", out, "--frames", "1-900000") == 2
    assert "missing 899996 of frames 1-900000" in capsys.readouterr().err
    assert fuse("--plate", plate, "--out", out, "--frames", "1-4", "--handles", "1000000000000") == 0


def huge_header_exr(path: Path, width: int, height: int) -> Path:
    """An EXR whose header declares ``width`` x ``height`` but whose file is small (tiled, one tile)."""
    spec = oiio.ImageSpec(width, height, 3, oiio.HALF)
    spec.tile_width = spec.tile_height = 64
    output = oiio.ImageOutput.create(str(path))
    assert output.open(str(path), spec)
    tile = np.zeros((64, 64, 3), np.float16)
    assert output.write_tile(0, 0, 0, tile)
    output.close()
    return path


def test_an_image_over_the_pixel_limit_is_refused_from_its_header(tmp_path, capsys):
    path = huge_header_exr(tmp_path / "huge.exr", 8000, 8000)
    assert path.stat().st_size < 1_000_000
    with pytest.raises(ImageTooLargeError, match="8000x8000"):
        read_header(path)
    with pytest.raises(ImageTooLargeError, match="--max-pixels"):
        read_pixels(path)
    plate = write_plate(tmp_path / "shot", 1, 2, size=(120, 100))
    out = str(tmp_path / "o" / "f.####.exr")
    assert fuse("--plate", plate, "--out", out, "--max-pixels", "10000") == 2
    # In pixels under a megapixel: "(0.0 megapixels), over this process's limit of 0.0 megapixels".
    error = capsys.readouterr().err
    assert "is 120x100 (12,000 pixels), over this process's limit of 10,000 pixels" in error
    assert fuse("--plate", plate, "--out", out, "--max-pixels", "11999") == 2  # never "the same" figures
    assert "(12,000 pixels), over this process's limit of 11,999 pixels" in capsys.readouterr().err
    assert output_files(tmp_path / "o") == []
    assert fuse("--plate", plate, "--out", out) == 0


# -- bad values ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "grade",
    ["slope=nan", "offset=inf", "slope=1e39", "offset=-inf;slope=1", "sat=1e300", "power=0", "exposure=nan"],
)
def test_grade_numbers_must_be_finite_and_sane(grade):
    with pytest.raises(GradeError):
        parse_grade(grade, ColorConfig())


def test_a_lut_that_overflows_is_refused(tmp_path):
    """Every entry parses (OpenColorIO refuses NaN and numbers past float's range in the file), but
    an entry of 3e38 in sRGB encoding decodes to infinity in linear light."""
    lut = tmp_path / "bad.cube"
    rows = ["LUT_3D_SIZE 2"] + ["3e38 0 0" if i == 3 else "0.5 0.5 0.5" for i in range(8)]
    lut.write_text("\n".join(rows) + "\n")
    config = ColorConfig()
    grade = parse_grade(str(lut), config)
    with pytest.raises(GradeError, match="NaN or infinity"):
        grade.processor(config, "ACEScg", "ACEScg", config.srgb_encoded)


def test_fused_frames_out_of_the_outputs_range_are_not_written(tmp_path, capsys):
    # Highlights of 1000 graded by a slope of 80 exceed half float's 65504.
    plate = write_plate(tmp_path / "shot", 1, 2, value=1000.0)
    out = tmp_path / "out"
    assert fuse("--plate", plate, "--out", str(out / "f.####.exr"), grade="slope=80") == 2
    assert "half float" in capsys.readouterr().err and output_files(out) == []
    assert fuse("--plate", plate, "--out", str(out / "f.####.exr"), "--exr-type", "float",
                grade="slope=80") == 0  # fmt: skip
    assert np.isfinite(read_pixels(out / "f.0001.exr")).all()


def test_a_plate_past_half_float_is_named_not_the_grade(tmp_path, capsys):
    """A float plate's highlight of 1e6 off the matte is the plate's own, kept as it is: the refusal
    names the plate (it blamed a grade that never touched the pixel)."""
    plate = write_plate(tmp_path / "shot", 1, 2)
    for n in (1, 2):
        path = Path(plate.replace("####", f"{n:04d}"))
        rgba = read_pixels(path)
        rgba[0, 0, :3] = 1e6
        write_image(path, rgba, channels=("R", "G", "B", "A"), pixel_type="float")
    assert fuse("--plate", plate, "--out", str(tmp_path / "out" / "f.####.exr"), grade="slope=1.1") == 2
    assert "the plate's own values are past what a half-float EXR holds" in capsys.readouterr().err
    # In the band too, where an engine re-decides the pixel: the plate's value is past the limit
    # there as well, so the plate is named, not an identity grade.
    for n in (1, 2):
        path = Path(plate.replace("####", f"{n:04d}"))
        rgba = read_pixels(path)
        rgba[24, 32 - 16 + n - 1, :3] = 1e6  # on the disc's edge
        write_image(path, rgba, channels=("R", "G", "B", "A"), pixel_type="float")
    out = str(tmp_path / "band" / "f.####.exr")
    assert (
        run_cli("fuse", "--plate", plate, "--grade", "slope=1,1,1", "--engine", "guided", "--out", out) == 2
    )
    error = capsys.readouterr().err
    assert "the plate's own values are past what a half-float EXR holds" in error and "soften it" not in error


def test_fused_pixels_are_checked_before_writing(tmp_path, monkeypatch):
    from movingcolor.jobs import composite as composite_module

    plate = write_plate(tmp_path / "shot", 1, 2)
    original = composite_module.composite

    def poisoned(spaces, frame, kind, value):
        result = original(spaces, frame, kind, value)
        result[0, 0, 0] = np.nan
        return result

    monkeypatch.setattr(composite_module, "composite", poisoned)
    # Feathered: the hard engine's frames are the hard composite itself and never composited.
    with pytest.raises(InvalidPixelsError, match="frame 1"):
        run_shot(ShotSpec(plate=plate, out=str(tmp_path / "o" / "f.####.exr"), grade=GRADE, engine="feather"))
    assert output_files(tmp_path / "o") == []


def test_a_two_channel_plate_is_refused(tmp_path, capsys):
    folder = tmp_path / "shot"
    folder.mkdir()
    for n in (1, 2):
        write_image(folder / f"p.{n}.exr", np.full((48, 64, 2), 0.5, np.float32), channels=("Y", "A"))
    assert fuse("--plate", str(folder / "p.#.exr"), "--out", str(tmp_path / "o" / "f.####.exr")) == 2
    assert "needs R, G and B" in capsys.readouterr().err


def test_a_roto_exported_with_an_opaque_alpha_is_read_from_its_picture(tmp_path, caplog):
    """A roto exported as RGB with an opaque alpha (Resolve's and After Effects' RGBA exports): its
    alpha, which wins in a matte, graded the whole of every frame, with a warning only. Its picture
    is read, as the same roto exported without alpha is, and the log says so."""
    plate = write_plate(tmp_path / "plate", 1, 3)
    yy, xx = np.mgrid[0:48, 0:64]
    for folder, channels in (("rgba", ("R", "G", "B", "A")), ("rgb", ("R", "G", "B"))):
        (tmp_path / folder).mkdir()
        for n in range(1, 4):
            picture = np.zeros((48, 64, len(channels)), np.float32)
            picture[..., :3] = (((xx - 30 - n) ** 2 + (yy - 24) ** 2) < 15**2)[..., None]
            if len(channels) == 4:
                picture[..., 3] = 1.0
            write_image(tmp_path / folder / f"m.{n:04d}.png", picture, channels=channels)
    written = {}
    for folder in ("rgba", "rgb"):
        spec = ShotSpec(plate=plate, matte=str(tmp_path / folder / "m.####.png"), grade=GRADE,
                        out=str(tmp_path / f"out-{folder}" / "f.####.exr"), engine="hard")  # fmt: skip
        with caplog.at_level("WARNING", logger="movingcolor"):
            written[folder] = [read_pixels(Path(path)) for path in run_shot(spec).written]
    assert "its alpha is opaque and its picture a grey shape (frame 1)" in caplog.text
    assert "full on every frame" not in caplog.text
    for ours, theirs in zip(written["rgba"], written["rgb"], strict=True):
        assert np.array_equal(ours, theirs)


def test_a_matte_shorter_than_the_plate_is_an_error(tmp_path, capsys):
    plate = write_plate(tmp_path / "plate", 1, 10)
    mattes = write_white_mattes(tmp_path / "matte", range(1, 6), "m.{:04d}.png")
    out = tmp_path / "o" / "f.####.exr"
    assert fuse("--plate", plate, "--matte", str(mattes / "m.####.png"), "--out", str(out)) == 2
    assert "matte is missing 5 of frames 1-10" in capsys.readouterr().err
    assert fuse("--plate", plate, "--matte", str(mattes / "m.####.png"), "--out", str(out),
                "--frames", "1-5") == 0  # fmt: skip


@pytest.mark.parametrize("pattern", ["f.%0300d.exr", "f.%00d.exr", "f." + "#" * 40 + ".exr"])
def test_an_absurd_frame_number_field_is_refused(tmp_path, capsys, pattern):
    plate = write_plate(tmp_path / "shot", 1, 2)
    assert fuse("--plate", plate, "--out", str(tmp_path / pattern)) == 2
    assert "frame-number field" in capsys.readouterr().err
    with pytest.raises(Exception, match="frame-number field"):
        SequencePattern.parse(tmp_path / pattern)


@pytest.fixture
def small_disk(tmp_path):
    """A 400 KB file system (tmpfs), for a disk that fills up mid-shot; needs the right to mount."""
    folder = tmp_path / "small-disk"
    folder.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=400k", "tmpfs", str(folder)], capture_output=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here ({mounted.stderr.decode().strip()})")
    yield folder
    subprocess.run(["umount", str(folder)], check=False)


@pytest.mark.parametrize(("suffix", "size"), [("exr", (160, 120)), ("png", (480, 360))])
def test_a_full_disk_is_a_clear_error_and_leaves_whole_frames(tmp_path, small_disk, capsys, suffix, size):
    """A full disk is a condition that may pass (exit 75, as a farm retries: room made there, a
    rerun keeps the frames written); it was exit 2, bad input, which a farm does not retry. A PNG
    writer answers success on a full disk: frames cut short or empty were counted written, exit 0."""
    plate = write_plate(tmp_path / "shot", 1, 12, size=size)
    status = fuse("--plate", plate, "--out", str(small_disk / f"f.####.{suffix}"), "--exr-type", "float",
                  "--compression", "none")  # fmt: skip
    err = capsys.readouterr().err
    assert status == 75 and "the disk is full" in err and "Traceback" not in err
    written = output_files(small_disk)
    assert written and all(not p.name.startswith(".") for p in written)
    for path in written:
        assert read_pixels(path).shape == (size[1], size[0], 3)


def test_a_server_file_job_never_reads_through_a_link_outside_its_roots(tmp_path, test_model):
    """RunJob: the plate's names lie inside the root; one frame is a link to a file outside it."""
    from conftest import short_folder
    from movingcolor.service.process import ServerProcess
    from movingcolor_client import PermissionDeniedError, connect

    root, outside = tmp_path / "root", tmp_path / "outside"
    plate = write_plate(root / "shot", 1, 4)
    secret = Path(write_plate(outside, 1, 4, value=0.9).replace("####", "0003"))
    frame = root / "shot" / "plate.0003.exr"
    frame.unlink()
    frame.symlink_to(secret)
    before = digests(outside)
    folder = short_folder()
    server = ServerProcess(f"unix://{folder}/mc.sock", ["--root", root])
    with server, connect(server.address) as client:
        with pytest.raises(PermissionDeniedError, match="plate.0003.exr.*outside this server's root"):
            client.run_job(plate, str(root / "out" / "f.####.exr"), grade=GRADE, engine="hard")
        # The same job without the link runs: the refusal is the link's, not the job's.
        frame.unlink()
        write_plate(root / "shot", 3, 1)
        summary = client.run_job(plate, str(root / "out" / "f.####.exr"), grade=GRADE, engine="hard")
    assert summary["frame_count"] == 4 and digests(outside) == before


@pytest.mark.parametrize("size", [(1, 1), (3, 3), (64, 1), (4, 64)])
@pytest.mark.parametrize("engine", ["hard", "feather", "guided", "movingcolor"])
def test_tiny_and_thin_frames_fuse_with_every_engine(tmp_path, test_model, size, engine):
    """A 1x1 or one-pixel-high plate is odd, not wrong: every engine fuses it (the network scales
    it up to the smallest frame its encoder takes)."""
    plate = write_plate(tmp_path / "shot", 1, 3, size=size)
    report = run_shot(
        ShotSpec(plate=plate, out=str(tmp_path / "o" / "f.####.exr"), grade=GRADE, engine=engine)
    )
    assert len(report.written) == 3
    assert read_pixels(Path(report.written[0])).shape == (size[1], size[0], 3)


def test_frame_numbers_beyond_any_host_are_refused_not_overflowed(tmp_path, capsys):
    from movingcolor.frames.frame_range import MAX_FRAME, FrameRange

    with pytest.raises(FrameRangeError, match="out of range"):
        FrameRange(0, 2**63)
    assert FrameRange(1, 4).with_handles(10**18) == FrameRange(-MAX_FRAME, MAX_FRAME)
    plate = write_plate(tmp_path / "shot", 1, 2)
    assert (
        fuse("--plate", plate, "--out", str(tmp_path / "o" / "f.####.exr"), "--frames", "1-99999999999") == 2
    )
    assert "out of range" in capsys.readouterr().err


def test_a_band_wider_than_the_frame_is_refused(tmp_path, capsys):
    plate = write_plate(tmp_path / "shot", 1, 2)
    out = str(tmp_path / "o" / "f.####.exr")
    assert fuse("--plate", plate, "--out", out, "--band", "39144595") == 2
    assert "wider than the 64x48 frame" in capsys.readouterr().err
    assert fuse("--plate", plate, "--out", out, "--band", "100") == 0  # small frames keep room


def test_every_frame_of_a_sequence_has_the_first_frames_channels(tmp_path, capsys):
    """The plate's alpha is the matte: a frame without it cannot be read as one."""
    folder = tmp_path / "shot"
    write_plate(folder, 1, 3)
    write_image(folder / "plate.0002.exr", np.full((48, 64, 3), 0.5, np.float32))
    assert fuse("--plate", str(folder / "plate.####.exr"), "--out", str(tmp_path / "o" / "f.####.exr")) == 2
    assert "same channels" in capsys.readouterr().err


def test_a_grade_or_lut_file_too_large_is_refused_before_it_is_read(tmp_path):
    """A 2 GB grade file (sparse: it costs no disk) named in a file job took the server to 8.5 GB while
    OpenColorIO parsed it; a LUT a config reads likewise."""
    import PyOpenColorIO as ocio
    from movingcolor.errors import ColourFileTooLargeError

    root = tmp_path / "root"
    plate = write_plate(root / "shot", 1, 2)
    huge = root / "huge.cube"
    with open(huge, "wb") as file:
        file.truncate(200 << 20)
    config = ocio.Config.CreateFromFile("ocio://default")
    config.setSearchPath(".")
    config.addLook(ocio.Look(name="huge", processSpace="ACEScg", transform=ocio.FileTransform("huge.cube")))
    (root / "config.ocio").write_text(config.serialize())
    by_grade = ShotSpec(plate=plate, out=str(root / "a" / "f.####.exr"), grade=str(huge), engine="hard")
    by_look = dataclasses.replace(
        by_grade, out=str(root / "b" / "f.####.exr"), grade="look:huge", config=str(root / "config.ocio")
    )
    for spec in (by_grade, by_look):
        with (
            confined([root]),
            pytest.raises(ColourFileTooLargeError, match=r"huge.cube is 200 MB, more than"),
        ):
            run_shot(spec)
    with pytest.raises(ColourFileTooLargeError, match=r"grade file .*huge.cube is 200 MB"):
        run_shot(dataclasses.replace(by_grade, out=str(root / "c" / "f.####.exr")))
    assert not list(root.glob("[abc]/f.*"))


def test_a_file_job_makes_no_folder_nor_claim_through_a_link_outside_its_roots(tmp_path):
    """The output folder is checked when a file job arrives and was then made by its name, its claim
    made and stale claims removed by name: a folder swapped for a link to one outside the roots in
    between had folders and claims made there (the frames themselves were refused)."""
    from movingcolor.frames.output_claim import claim_output
    from movingcolor.frames.output_pattern import prepare_folder

    root, outside = tmp_path / "root", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    (root / "swap").symlink_to(outside)
    stale = outside / ".f.#.exr.0123456789abcdef.otherhost-1.writing"
    stale.touch()
    os.utime(stale, (0, 0))
    pattern = SequencePattern.parse(root / "swap" / "sub" / "f.####.exr")
    with confined([root]):
        with pytest.raises(PathOutsideRootsError, match="outside this server's root"):
            prepare_folder(pattern, [1, 2])
        with pytest.raises(PathOutsideRootsError, match="outside this server's root"):
            claim_output(SequencePattern.parse(root / "swap" / "f.####.exr"), "f" * 64)
    assert sorted(p.name for p in outside.iterdir()) == [stale.name]
    # Inside the roots (through a link that stays inside too) both are made as before.
    (root / "inside").mkdir()
    (root / "link").symlink_to(root / "inside")
    with confined([root]):
        prepare_folder(SequencePattern.parse(root / "link" / "a" / "b" / "f.####.exr"), [1])
        claim = claim_output(SequencePattern.parse(root / "link" / "a" / "b" / "f.####.exr"), "f" * 64)
        assert [p.name.endswith(".writing") for p in (root / "inside" / "a" / "b").iterdir()] == [True]
        claim.release()
    assert list((root / "inside" / "a" / "b").iterdir()) == []


def test_a_link_removed_while_it_is_resolved_is_no_internal_error(tmp_path, monkeypatch):
    """A frame flipping between a link and nothing, as a file job's inputs are checked against its
    outputs: the link vanished between the resolver's look at it and its read, and the server
    answered INTERNAL ("this is a bug") with a FileNotFoundError."""
    from movingcolor.frames.overlap import real_path

    link = tmp_path / "plate.0002.exr"
    link.symlink_to(tmp_path / "elsewhere.exr")
    readlink = os.readlink

    def gone(path, *args, **kwargs):
        if os.fspath(path) == str(link):
            raise FileNotFoundError(2, "No such file or directory", str(path))
        return readlink(path, *args, **kwargs)

    monkeypatch.setattr(os, "readlink", gone)
    assert real_path(link) == link


def test_a_file_job_writes_through_folders_it_may_enter_but_not_list(tmp_path):
    """Show and home folders are often 0711: ``mkdir -p`` passes them, and the descriptors a file job
    makes its folders and claims through, opened for reading, were refused there."""
    prefix = _as_unprivileged()
    if prefix is None:
        pytest.skip("running as root without setpriv: permissions cannot be made to bind")
    root = tmp_path / "root"
    plate = write_plate(root / "shot", 1, 2)
    for path in (tmp_path, root, root / "shot", *(root / "shot").iterdir()):
        path.chmod(0o755 if path.is_dir() else 0o644)
    drop = root / "drop"
    drop.mkdir()
    drop.chmod(0o311)
    script = (
        "import sys\n"
        "from movingcolor.frames.confine import confined\n"
        "from movingcolor.jobs import ShotSpec, run_shot\n"
        "with confined([sys.argv[1]]):\n"
        "    for out in sys.argv[3:]:\n"
        f"        run_shot(ShotSpec(plate=sys.argv[2], out=out, grade={GRADE!r}, engine='hard'))\n"
    )
    outs = [str(drop / "sub" / "deeper" / "f.####.exr"), str(drop / "g.####.exr")]
    try:
        run = subprocess.run(
            [*prefix, sys.executable, "-c", script, str(root), plate, *outs], capture_output=True, text=True
        )
    finally:
        drop.chmod(0o755)
    assert run.returncode == 0, run.stderr[-2000:]
    assert sorted(p.name for p in (drop / "sub" / "deeper").iterdir()) == ["f.0001.exr", "f.0002.exr"]
    assert sorted(p.name for p in drop.glob("g.*")) == ["g.0001.exr", "g.0002.exr"]
    assert not [p for p in drop.rglob(".*") if p.name.endswith(".writing")]  # claims released


def test_of_two_shots_claiming_one_output_at_one_moment_only_one_writes(tmp_path, monkeypatch):
    """Each looked for other claims, then made its own: two shots of other settings that looked at
    the same moment both found none and both wrote (81 of 100 tries with two processes). Here the
    second shot claims while the first looks."""
    import movingcolor.frames.output_claim as output_claim
    from movingcolor.errors import OutputBusyError

    pattern = SequencePattern.parse(tmp_path / "f.####.exr")
    listing = os.scandir
    second: list[object] = []

    class Seen(list):  # what a look found, as os.scandir's context manager gives it
        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

    def scandir(where):
        with listing(where) as entries:
            seen = Seen(entries)
        if not second:  # just after the first shot's look, the second shot claims
            second.append(None)
            try:
                second[0] = output_claim.claim_output(pattern, "b" * 64)
            except OutputBusyError as refused:
                second[0] = refused
        return seen

    monkeypatch.setattr(output_claim.os, "scandir", scandir)
    try:
        first = output_claim.claim_output(pattern, "a" * 64)
    except OutputBusyError as refused:
        first = refused
    outcomes = [isinstance(claim, output_claim.OutputClaim) for claim in (first, second[0])]
    assert outcomes.count(True) <= 1, "both shots claimed the output"
    for claim in (first, second[0]):
        if isinstance(claim, output_claim.OutputClaim):
            claim.release()
    assert not list(tmp_path.glob(".*.writing"))


def test_a_writer_is_known_by_its_process_not_its_pid_alone():
    """A writer of this host was alive while its pid was: a pid reused by another process kept a
    dead run's claim refusing every other shot (exit 75, for good), and a container on a host of the
    same name (another pid namespace) took a live writer's claim and temporaries for litter. Names
    stay ``host-pid-HEX``, as an earlier version sharing the storage reads them."""
    import time

    from movingcolor.frames.temporaries import STALE_SECONDS, owner_name, writer_is_gone

    if not Path("/proc/self/stat").exists():
        pytest.skip("no /proc here: a writer is known by its pid alone")
    now = time.time()
    fresh, old = now, now - 2 * STALE_SECONDS
    mine = owner_name()
    host, pid, tail = re.match(r"^(.+)-(\d+)-([0-9a-f]{28})$", mine).groups()
    random, start, namespace = tail[:8], tail[8:20], tail[20:]
    assert not writer_is_gone(mine, old, now)  # this process, however long untouched
    # A process started after this one (by clock ticks: this one has run for a while) holds the pid
    # named: alive, but not the writer that started at this one's start.
    later = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        assert writer_is_gone(f"{host}-{later.pid}-{random}{start}{namespace}", fresh, now)
        # A name without its start (an earlier version's): alive while its pid is, however long idle.
        assert not writer_is_gone(f"{host}-{later.pid}-{random}", old, now)
    finally:
        later.kill()
        later.wait()
    # A writer killed and not yet reaped (a zombie, as under a farm wrapper that has not waited for
    # it) holds its pid and start, and writes nothing again.
    exited = subprocess.Popen([sys.executable, "-c", "pass"])
    try:
        deadline = time.monotonic() + 30
        while Path(f"/proc/{exited.pid}/stat").read_bytes().rsplit(b")", 1)[1].split()[0] != b"Z":
            assert time.monotonic() < deadline, "the child never exited"
            time.sleep(0.01)
        assert writer_is_gone(f"{host}-{exited.pid}-{random}", fresh, now)
    finally:
        exited.wait()
    # Another pid namespace's writer: its pid says nothing here; its age does.
    elsewhere = f"{host}-{pid}-{random}{start}{int(namespace, 16) ^ 1:08x}"
    assert not writer_is_gone(elsewhere, fresh, now) and writer_is_gone(elsewhere, old, now)


@pytest.mark.parametrize(
    ("grade", "told"),
    [("slope=nan,1,1", "not a finite number"), ("offset=1;offset=2", "gives offset twice"),
     ("slope=1,x,1", "is not a number")],
)  # fmt: skip
def test_a_streamed_grade_with_a_bad_number_names_the_number(grade, told):
    """A server told ``slope=nan,1,1`` that it was "neither key=numbers nor look:NAME", a colorist's
    CDL taken for no grade at all; it names the number at fault, as the command line does."""
    from movingcolor.service.setup_spec import shot_spec
    from movingcolor.v1 import fusion_pb2

    setup = fusion_pb2.ShotSetup()
    setup.grade.text = grade
    with pytest.raises(GradeError, match=told):
        shot_spec(setup, None)


def test_a_matte_source_this_server_does_not_know_is_refused_not_taken_for_the_alpha():
    """A newer client's matte source (a value this server lacks) fused the shot through the plate's
    alpha, a matte nobody gave."""
    from movingcolor.service.setup_spec import shot_spec
    from movingcolor.v1 import fusion_pb2

    setup = fusion_pb2.ShotSetup()
    setup.grade.text = "slope=1.2"
    setup.matte = 2
    with pytest.raises(MovingColorError, match="matte source 2 is not known to this server"):
        shot_spec(setup, None)
