"""Farm behaviour: chunk invariance, reruns, and the OpenJD and OpenCue job templates."""

from __future__ import annotations

import importlib.util
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import output_files, run_cli
from movingcolor.farm import TEMPLATES
from movingcolor.frames.image_io import read_pixels
from movingcolor.jobs.demo_shot import DEMO_GRADE


def _fuse(plate, matte, out, *extra) -> int:
    return run_cli(
        "fuse",
        "--plate",
        plate,
        "--matte",
        matte,
        "--grade",
        DEMO_GRADE,
        "--exr-type",
        "float",
        "--out",
        out,
        *extra,
    )


def _same(a: Path, b: Path) -> None:
    files_a, files_b = output_files(a), output_files(b)
    assert [p.name for p in files_a] == [p.name for p in files_b] and files_a
    for x, y in zip(files_a, files_b, strict=True):
        assert np.array_equal(read_pixels(x), read_pixels(y)), x.name


@pytest.mark.parametrize("engine", ["guided", "movingcolor"])
def test_any_chunking_gives_the_whole_shot(demo_inputs, tmp_path, engine):
    plate, matte = demo_inputs
    assert _fuse(plate, matte, tmp_path / "whole" / "f.####.exr", "--engine", engine) == 0
    # Chunks of one frame are shorter than any window; 3+5 cut windows in the middle.
    for name, chunks in {
        "ones": [f"{n}-{n}" for n in range(1001, 1009)],
        "uneven": ["1001-1003", "1004-1008"],
    }.items():
        for chunk in chunks:
            assert (
                _fuse(plate, matte, tmp_path / name / "f.####.exr", "--engine", engine, "--frames", chunk)
                == 0
            )
        _same(tmp_path / "whole", tmp_path / name)


def _renumbered(plate: str, matte: str, folder: Path, first: int) -> tuple[str, str]:
    """The demo shot's frames 1001-1008 copied into ``folder`` as frames ``first`` on."""
    for role, pattern in (("plate", plate), ("matte", matte)):
        (folder / role).mkdir(parents=True)
        for offset in range(8):
            source = Path(pattern.replace("####", str(1001 + offset)))
            shutil.copy(
                source, folder / role / source.name.replace(str(1001 + offset), f"{first + offset:04d}")
            )
    return str(folder / "plate" / Path(plate).name), str(folder / "matte" / Path(matte).name)


#: The movingcolor command a template's tasks run here: this interpreter's, in shell words, as a
#: wrapper's (rez env ... --) or an interpreter's command is given.
EXECUTABLE = f"{shlex.quote(sys.executable)} -m movingcolor.cli.main"


def _openjd_run(parameters: dict, *options: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """``openjd run`` of the shipped template with ``parameters`` (``-p NAME=VALUE`` each; the
    Executable this interpreter's unless given) and ``options``; skipped without openjd-cli."""
    openjd = shutil.which("openjd")
    if openjd is None:
        pytest.skip("openjd-cli is not installed (pip install 'movingcolor[dev]')")
    command = [openjd, "run", str(TEMPLATES / "openjd-shot.yaml"), *options]
    for name, value in ({"Executable": EXECUTABLE} | parameters).items():
        command += ["-p", f"{name}={value}"]
    return subprocess.run(command, capture_output=True, text=True, cwd=cwd)


def test_openjd_template_runs_in_chunks(demo_inputs, tmp_path):
    """Chunks of a shot whose paths hold what a shell would read ($, a backquote, a double quote)
    and whose first chunk starts on a negative frame (``-3--1`` is no option) reassemble into the
    whole shot."""
    openjd = shutil.which("openjd")
    if openjd is None:
        pytest.skip("openjd-cli is not installed (pip install 'movingcolor[dev]')")
    shot = tmp_path / 'sh$0`10 "v2"'
    plate, matte = _renumbered(*demo_inputs, shot, first=-3)
    template = TEMPLATES / "openjd-shot.yaml"
    assert subprocess.run([openjd, "check", str(template)], capture_output=True).returncode == 0
    out = shot / "farm" / "f.####.exr"
    result = _openjd_run(
        {"Plate": plate, "Matte": matte, "Grade": DEMO_GRADE, "Out": out, "Frames": "-3-4", "ChunkSize": "3"}
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert "Chunks run: 3" in result.stdout
    whole = tmp_path / "whole" / "f.####.exr"
    assert run_cli("fuse", "--plate", plate, "--matte", matte, "--grade", DEMO_GRADE, "--out", whole) == 0
    _same(tmp_path / "whole", shot / "farm")


def test_opencue_specification(tmp_path):
    pytest.importorskip("outline")
    from xml.etree import ElementTree

    from movingcolor.farm.opencue import FarmShot, specification
    from movingcolor.frames.frame_range import FrameRange

    shot = FarmShot(
        "shot010-fuse",
        "/shows/x/plate.####.exr",
        "slope=1.1;sat=1.2",
        "/shows/x/fused/f.####.exr",
        FrameRange(1001, 1100),
        matte="/shows/x/roto.####.png",
        chunk=12,
        show="x",
        shot="shot010",
        user="artist",
    )
    spec = ElementTree.fromstring(specification(shot).split("?>", 1)[1].split(">", 1)[1])
    layers = spec.findall("./job/layers/layer")
    assert [layer.get("name") for layer in layers] == ["fuse"]
    assert layers[0].findtext("range") == "1001-1100" and layers[0].findtext("chunk") == "12"
    command = layers[0].findtext("cmd")
    assert command.startswith("movingcolor fuse --plate /shows/x/plate.####.exr") is False  # quoted
    assert "'slope=1.1;sat=1.2'" in command and "'--frames=#FRAME_START#-#FRAME_END#'" in command
    assert spec.findtext("show") == "x" and spec.findtext("shot") == "shot010"


@pytest.mark.parametrize("through", ["in-process", "server"])
def test_a_rerun_that_spells_the_inputs_otherwise_keeps_the_frames(
    demo_inputs, tmp_path, monkeypatch, capsys, request, through
):
    """A farm job makes every path absolute: a rerun of a shot fused with relative paths redid every
    frame. (A path through a link is another spelling: farm hosts may reach one folder through a
    link on one and a mount on another, and their chunks must agree.)"""
    import json

    server = ["--server", request.getfixturevalue("served").address] if through == "server" else []

    plate, matte = _renumbered(*demo_inputs, tmp_path / "shot", first=1001)
    grade = tmp_path / "shot" / "grade.cc"
    grade.write_text(
        '<ColorCorrection id="g"><SOPNode><Slope>1.2 1 0.8</Slope><Offset>0 0 0</Offset>'
        "<Power>1 1 1</Power></SOPNode><SatNode><Saturation>1</Saturation></SatNode></ColorCorrection>"
    )
    (tmp_path / "other").mkdir()
    monkeypatch.chdir(tmp_path)

    def rerun(folder: str, grade_path: str) -> dict:
        assert (
            run_cli(
                "fuse",
                "--plate",
                f"{folder}/plate/{Path(plate).name}",
                "--matte",
                f"{folder}/matte/{Path(matte).name}",
                "--grade",
                grade_path,
                "--out",
                str(tmp_path / "out" / "f.####.exr"),
                "--json",
                *server,
            )
            == 0
        )
        return json.loads(capsys.readouterr().out)

    assert len(rerun("shot", "shot/grade.cc")["written"]) == 8
    for folder in (str(tmp_path / "shot"), "./other/../shot", str(tmp_path / "other" / ".." / "shot")):
        summary = rerun(folder, f"{folder}/grade.cc")
        assert len(summary["skipped"]) == 8 and not summary["written"], folder


@pytest.mark.parametrize("through", ["in-process", "server"])
def test_a_rerun_that_spells_the_grade_otherwise_keeps_the_frames(
    demo_inputs, tmp_path, capsys, request, through
):
    """A CDL written with spaces (as a .cc file writes it) and the same CDL with commas (as the farm
    commands write it) are one grade: a resubmitted shot redid every frame."""
    import json

    plate, matte = demo_inputs
    server = ["--server", request.getfixturevalue("served").address] if through == "server" else []

    def fuse(grade: str) -> dict:
        arguments = ["--grade", grade, "--frames", "1001-1003", "--out", tmp_path / "f.####.exr", "--json"]
        assert run_cli("fuse", "--plate", plate, "--matte", matte, *arguments, *server) == 0
        return json.loads(capsys.readouterr().out)

    assert len(fuse("slope=1.2 1.0 0.85; offset=0.01; power=1.1; sat=1.2")["written"]) == 3
    for spelling in (
        "slope=1.2,1.0,0.85;offset=0.01;power=1.1;sat=1.2",
        "sat=1.20;power=1.1,1.1,1.1;slope=1.2,1,0.850;offset=.01",
    ):
        summary = fuse(spelling)
        assert len(summary["skipped"]) == 3 and not summary["written"], spelling
    assert len(fuse("slope=1.2,1.0,0.86;offset=0.01;power=1.1;sat=1.2")["written"]) == 3


def test_rerun_skips_finished_frames_and_redoes_stale_or_damaged_ones(demo_inputs, tmp_path, capsys):
    from movingcolor.frames.image_io import read_header

    plate, matte = demo_inputs
    out = tmp_path / "out"
    assert _fuse(plate, matte, out / "f.####.exr", "--frames", "1001-1004") == 0
    first = {p.name: p.stat().st_mtime_ns for p in output_files(out)}
    fingerprint = read_header(out / "f.1002.exr").attributes["movingcolor:fingerprint"]
    capsys.readouterr()
    assert _fuse(plate, matte, out / "f.####.exr", "--json") == 0
    import json

    summary = json.loads(capsys.readouterr().out)
    assert len(summary["skipped"]) == 4 and len(summary["written"]) == 4
    assert all(p.stat().st_mtime_ns == first[p.name] for p in output_files(out) if p.name in first)
    # A damaged frame is redone; the others stay.
    damaged = out / "f.1003.exr"
    damaged.write_bytes(damaged.read_bytes()[:3000])
    assert _fuse(plate, matte, out / "f.####.exr", "--json") == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["written"] == [str(damaged)]
    read_pixels(damaged)
    # A changed grade makes every frame stale.
    assert (
        run_cli(
            "fuse",
            "--plate",
            plate,
            "--matte",
            matte,
            "--grade",
            "saturation=-0.5",
            "--exr-type",
            "float",
            "--out",
            out / "f.####.exr",
            "--json",
        )
        == 0
    )
    summary = json.loads(capsys.readouterr().out)
    assert len(summary["written"]) == 8 and not summary["skipped"]
    assert read_header(out / "f.1002.exr").attributes["movingcolor:fingerprint"] != fingerprint
    # --force redoes frames that are up to date.
    assert (
        run_cli(
            "fuse",
            "--plate",
            plate,
            "--matte",
            matte,
            "--grade",
            "saturation=-0.5",
            "--exr-type",
            "float",
            "--out",
            out / "f.####.exr",
            "--force",
            "--json",
        )
        == 0
    )
    assert len(json.loads(capsys.readouterr().out)["written"]) == 8


def test_a_rerun_redoes_frames_of_a_plate_redelivered_into_a_folder_named_with_a_bracket(tmp_path, capsys):
    """A folder such as ``shot010 (v2)`` is an ordinary path: the plate's files there are what the
    frames are made from, so a re-delivered plate makes every frame stale."""
    import json

    from movingcolor.frames.image_io import read_header, write_image
    from movingcolor.jobs.demo_shot import write_demo_inputs

    plate, matte = write_demo_inputs(tmp_path / "shot010 (v2)", frames=3)
    out = tmp_path / "out" / "f.####.exr"
    assert _fuse(plate, matte, out) == 0
    first = plate.replace("####", "1001")
    header = read_header(first)
    write_image(first, read_pixels(first) * 0.5, attributes={"oiio:ColorSpace": header.colorspace})
    capsys.readouterr()
    assert _fuse(plate, matte, out, "--json") == 0
    summary = json.loads(capsys.readouterr().out)
    assert len(summary["written"]) == 3 and not summary["skipped"]


def test_a_rerun_redoes_frames_whose_look_now_means_another_lut(demo_inputs, tmp_path):
    """The same settings under another OpenColorIO context ($SHOT picks the look's LUT), or with a
    LUT edited in place: the frames are stale, though no file named on the command line changed."""
    import json

    import PyOpenColorIO as ocio

    plate, matte = demo_inputs
    luts = {"a": "0.0 0.0 0.0\n1.2 1.0 0.8", "b": "0.0 0.0 0.0\n0.7 1.0 1.3"}
    for shot, rows in luts.items():
        (tmp_path / f"{shot}.cube").write_text(f"LUT_1D_SIZE 2\n{rows}\n")
    config = ocio.Config.CreateFromFile("ocio://cg-config-latest")
    config.setSearchPath(str(tmp_path))
    look = ocio.Look("ShotLook", processSpace=config.getRoleColorSpace("scene_linear"))
    look.setTransform(ocio.FileTransform("${SHOT}.cube"))
    config.addLook(look)
    config.addEnvironmentVar("SHOT", "a")
    config.serialize(str(tmp_path / "config.ocio"))
    out = tmp_path / "out" / "f.####.exr"
    command = [sys.executable, "-m", "movingcolor.cli.main", "fuse", "--plate", plate, "--matte", matte,
               "--config", str(tmp_path / "config.ocio"), "--grade", "look:ShotLook", "--frames", "1001-1002",
               "--out", str(out), "--json"]  # fmt: skip

    def written(shot: str) -> int:  # a process each, as a farm's tasks: OpenColorIO reads $SHOT once
        done = subprocess.run(command, env={**os.environ, "SHOT": shot}, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        return len(json.loads(done.stdout)["written"])

    assert written("a") == 2 and written("a") == 0
    assert written("b") == 2
    lut = tmp_path / "b.cube"
    lut.write_text("LUT_1D_SIZE 2\n0.0 0.0 0.0\n0.9 1.0 1.1\n")
    os.utime(lut, (lut.stat().st_atime + 10, lut.stat().st_mtime + 10))
    assert written("b") == 2


def test_a_rerun_redoes_frames_whose_plate_colourspace_s_lut_was_edited(demo_inputs, tmp_path):
    """A shot given its graded plate (no grade's processor to carry the LUTs' identities): the
    plate's colourspace is read through a show LUT, which was edited in place, and the frames made
    through the old LUT were kept."""
    import json

    import PyOpenColorIO as ocio

    plate, matte = demo_inputs
    lut = tmp_path / "show.cube"
    lut.write_text("LUT_1D_SIZE 2\n0.0 0.0 0.0\n1.0 1.0 1.0\n")
    config = ocio.Config.CreateFromFile("ocio://cg-config-latest")
    config.setSearchPath(str(tmp_path))
    show = ocio.ColorSpace(name="show_log", isData=False)
    show.setTransform(ocio.FileTransform("show.cube"), ocio.COLORSPACE_DIR_TO_REFERENCE)
    config.addColorSpace(show)
    config.serialize(str(tmp_path / "config.ocio"))
    out = tmp_path / "out" / "f.####.exr"
    command = [sys.executable, "-m", "movingcolor.cli.main", "fuse", "--plate", plate, "--matte", matte,
               "--config", str(tmp_path / "config.ocio"), "--plate-colorspace", "show_log",
               "--graded", plate, "--graded-colorspace", "show_log", "--engine", "hard",
               "--frames", "1001-1002", "--out", str(out), "--json"]  # fmt: skip

    def written() -> int:
        done = subprocess.run(command, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        return len(json.loads(done.stdout)["written"])

    assert written() == 2 and written() == 0
    lut.write_text("LUT_1D_SIZE 2\n0.0 0.0 0.0\n0.5 0.5 0.5\n")
    os.utime(lut, (lut.stat().st_atime + 10, lut.stat().st_mtime + 10))
    assert written() == 2


def test_a_killed_run_reruns_to_the_whole_shot(demo_inputs, tmp_path):
    import time

    plate, matte = demo_inputs
    out = tmp_path / "killed"
    command = [
        sys.executable,
        "-m",
        "movingcolor.cli.main",
        "fuse",
        "--plate",
        plate,
        "--matte",
        matte,
        "--grade",
        DEMO_GRADE,
        "--exr-type",
        "float",
        "--engine",
        "movingcolor",
        "--out",
        str(out / "f.####.exr"),
    ]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(list(out.glob("f.*.exr"))) < 2:
        time.sleep(0.05)
    process.kill()
    process.wait()
    assert len(list(out.glob("f.*.exr"))) < 8, "the run finished before it could be killed"
    assert subprocess.run(command, capture_output=True).returncode == 0
    assert not [p for p in out.iterdir() if not p.name.startswith("f.")], "no temporary files left"
    assert _fuse(plate, matte, tmp_path / "clean" / "f.####.exr", "--engine", "movingcolor") == 0
    _same(tmp_path / "clean", out)


def test_an_unavailable_server_is_a_transient_failure(demo_inputs, tmp_path, capsys):
    plate, matte = demo_inputs
    status = _fuse(plate, matte, tmp_path / "o" / "f.####.exr", "--server", f"unix://{tmp_path}/none.sock")
    assert status == 75, capsys.readouterr().err
    assert "unavailable" in capsys.readouterr().err
    assert output_files(tmp_path / "o") == []


def test_submit_opencue_writes_the_specification(tmp_path, capsys):
    pytest.importorskip("outline")
    spec = tmp_path / "job.xml"
    assert (
        run_cli(
            "submit-opencue",
            "--name",
            "shot010",
            "--plate",
            "/p/plate.####.exr",
            "--grade",
            "sat=1.1",
            "--out",
            "/o/f.####.exr",
            "--frames",
            "1001-1050",
            "--chunk",
            "5",
            "--spec",
            spec,
        )
        == 0
    )
    text = spec.read_text()
    assert "<range>1001-1050</range>" in text and "<chunk>5</chunk>" in text


def test_submit_opencue_runs_the_movingcolor_named_for_the_nodes(tmp_path):
    """A pipeline environment is not on the nodes' PATH: its command is named, as the OpenJD
    template's Executable names it."""
    pytest.importorskip("outline")
    spec = tmp_path / "job.xml"
    executable = "/studio/envs/mc/bin/movingcolor"
    shot = [
        "--name",
        "shot010",
        "--plate",
        "/p/plate.####.exr",
        "--grade",
        "sat=1.1",
        "--out",
        "/o/f.####.exr",
    ]
    job = ["--frames", "1001-1010", "--executable", executable, "--spec", spec]
    assert run_cli("submit-opencue", *shot, *job) == 0
    assert f"{executable} fuse" in spec.read_text()
    job[3] = "rez env movingcolor -- movingcolor"  # shell words, as the OpenJD template's Executable
    assert run_cli("submit-opencue", *shot, *job) == 0
    assert "rez env movingcolor -- movingcolor fuse" in spec.read_text()
    from movingcolor.farm.opencue import executable_words

    assert executable_words(job[3]) == ["rez", "env", "movingcolor", "--", "movingcolor"]
    assert executable_words("bin/movingcolor")[0] == os.path.abspath("bin/movingcolor")


def test_a_jobs_tasks_are_given_the_shots_colour_options(demo_inputs, tmp_path, monkeypatch):
    """A show LUT made on log is applied in the space it was made for (--grade-colorspace): neither
    submitter could say so, and every task applied it in the plate's scene-linear space, warned of
    in each node's log alone. OpenCue's tasks are given the options (a config file by its absolute
    path); the OpenJD template's parameters give its tasks the same frames as a run here."""
    if shutil.which("openjd") is None and importlib.util.find_spec("outline") is None:
        pytest.skip("neither openjd-cli nor opencue-pyoutline is installed (pip install 'movingcolor[dev]')")
    plate, matte = demo_inputs
    lut = tmp_path / "show log.cube"
    lut.write_text("LUT_1D_SIZE 3\n0 0 0\n0.6 0.5 0.4\n1 1 1\n")
    colour = ["--grade-colorspace", "ACEScct", "--plate-colorspace", "ACEScg"]
    if shutil.which("openjd"):
        out = tmp_path / "openjd" / "f.####.exr"
        parameters = {"Plate": plate, "Matte": matte, "GradeFile": str(lut), "Out": str(out),
                      "Frames": "1001-1003", "ChunkSize": "2", "GradeColorspace": "ACEScct",
                      "PlateColorspace": "ACEScg"}  # fmt: skip
        result = _openjd_run(parameters)
        assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
        here = tmp_path / "here" / "f.####.exr"
        assert run_cli("fuse", "--plate", plate, "--matte", matte, "--grade", str(lut), *colour,
                       "--frames", "1001-1003", "--out", here) == 0  # fmt: skip
        _same(here.parent, out.parent)
    if importlib.util.find_spec("outline") is None:
        return
    monkeypatch.chdir(tmp_path)
    (tmp_path / "show.ocio").write_text("")
    spec = tmp_path / "job.xml"
    assert run_cli("submit-opencue", "--name", "sh010", "--plate", "/p/plate.####.exr", "--grade",
                   "/g/show.cube", "--out", "/o/f.####.exr", "--frames", "1001-1010", "--config",
                   "show.ocio", *colour, "--spec", spec) == 0  # fmt: skip
    text = spec.read_text()
    assert f"--config {tmp_path / 'show.ocio'}" in text and "--grade-colorspace ACEScct" in text
    assert "--plate-colorspace ACEScg" in text


def test_a_job_names_every_file_by_its_absolute_path(tmp_path, monkeypatch, caplog):
    """A farm task runs in a folder of the node's choosing: relative plate, matte, grade file and
    output paths (as typed where the job was submitted) are written into the job as absolute
    ones, and the log says so; an inline grade and 'alpha' are left as they are."""
    pytest.importorskip("outline")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "grades").mkdir()
    (tmp_path / "grades" / "warm.cc").write_text("<ColorCorrection/>")
    common = ["submit-opencue", "--name", "shot010", "--frames", "1001-1010", "--spec", "job.xml"]
    with caplog.at_level("INFO", logger="movingcolor"):
        assert run_cli(*common, "--plate", "plates/p.####.exr", "--matte", "mattes/m.####.png",
                       "--grade", "grades/warm.cc", "--out", "out/f.####.exr") == 0  # fmt: skip
    text = (tmp_path / "job.xml").read_text()
    for relative in ("plates/p.####.exr", "mattes/m.####.png", "grades/warm.cc", "out/f.####.exr"):
        assert f" {shlex.quote(str(tmp_path / relative))} " in text
    assert "--plate plates/p.####.exr is relative" in caplog.text
    assert run_cli(*common, "--plate", "/p/p.####.exr", "--grade", "sat=1.1", "--out", "/o/f.####.exr") == 0
    text = (tmp_path / "job.xml").read_text()
    assert "--matte alpha --grade sat=1.1" in text and "--plate '/p/p.####.exr'" in text
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert run_cli(*common, "--plate", "~/p.####.exr", "--grade", "sat=1.1", "--out", "/o/f.####.exr") == 0
    home_plate = shlex.quote(str(tmp_path / "home" / "p.####.exr"))
    assert f"--plate {home_plate} " in (tmp_path / "job.xml").read_text()
    assert not list(tmp_path.glob(".job.xml*")), "the specification is written under a temporary name"
    # A correction of a collection: the file part is the path, the id stays.
    (tmp_path / "grades" / "show.ccc").write_text("<ColorCorrectionCollection/>")
    assert (
        run_cli(
            *common, "--plate", "/p/p.####.exr", "--grade", "grades/show.ccc#sh010", "--out", "/o/f.####.exr"
        )
        == 0
    )
    collection = shlex.quote(f"{tmp_path / 'grades' / 'show.ccc'}#sh010")
    assert f"--grade {collection} " in (tmp_path / "job.xml").read_text()


def test_openjd_template_takes_plate_and_output_relative_to_where_it_is_run(demo_inputs, tmp_path):
    """A task runs in a session folder of its own: the plate and output, typed relative to where
    the job is run, are made absolute there (PATH parameters) instead of naming nothing."""
    plate, matte = demo_inputs
    shot = tmp_path / "shot"
    shutil.copytree(Path(plate).parent, shot / "plate")
    parameters = {
        "Plate": f"plate/{Path(plate).name}",
        "Matte": matte,
        "Grade": DEMO_GRADE,
        "Out": "fused/f.####.exr",
        "Frames": "1001-1004",
        "ChunkSize": "2",
    }
    result = _openjd_run(parameters, cwd=shot)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert [p.name for p in sorted((shot / "fused").iterdir())] == [f"f.{n}.exr" for n in range(1001, 1005)]


def test_openjd_template_maps_the_matte_and_a_grade_file_as_the_plate(demo_inputs, tmp_path):
    """A farm's path mapping (a workstation's /studio/shows is the nodes' mount elsewhere) applied to
    the plate and output alone: the matte and a grade file were STRING parameters, given to the
    nodes as the workstation named them, and every task failed ("folder does not exist")."""
    import json

    if shutil.which("openjd") is None:
        pytest.skip("openjd-cli is not installed (pip install 'movingcolor[dev]')")
    plate, matte = demo_inputs
    mount = tmp_path / "mount"
    shutil.copytree(Path(plate).parent, mount / "plate")
    shutil.copytree(Path(matte).parent, mount / "matte")
    (mount / "rgba").mkdir()
    (mount / "grade.cc").write_text(
        '<ColorCorrection id="warm"><SOPNode><Slope>1.3 1.0 0.7</Slope><Offset>0 0 0</Offset>'
        "<Power>1 1 1</Power></SOPNode></ColorCorrection>"
    )
    rules = tmp_path / "mapping.json"
    rule = {"source_path_format": "POSIX", "source_path": "/studio/shows", "destination_path": str(mount)}
    rules.write_text(json.dumps({"version": "pathmapping-1.0", "path_mapping_rules": [rule]}))

    def run(**parameters: str) -> subprocess.CompletedProcess:
        given = {"Frames": "1001-1004", "ChunkSize": "2"} | parameters
        return _openjd_run(given, "--path-mapping-rules", rules.as_uri(), cwd=tmp_path)

    result = run(
        Plate=f"/studio/shows/plate/{Path(plate).name}",
        Matte=f"/studio/shows/matte/{Path(matte).name}",
        GradeFile="/studio/shows/grade.cc",
        Out="/studio/shows/fused/f.####.exr",
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    whole = tmp_path / "whole" / "f.####.exr"
    assert run_cli("fuse", "--plate", plate, "--matte", matte, "--grade", str(mount / "grade.cc"),
                   "--frames", "1001-1004", "--out", whole) == 0  # fmt: skip
    _same(tmp_path / "whole", mount / "fused")
    # The plate's alpha where no matte is given (Matte=alpha as before, too); a grade both ways, or none,
    # is refused by the task in a line.
    from movingcolor.frames.image_io import write_image

    for number in range(1001, 1005):
        rgb = read_pixels(plate.replace("####", str(number)))
        alpha = read_pixels(matte.replace("####", str(number)))[..., :1]
        write_image(mount / "rgba" / f"p.{number}.exr", np.concatenate([rgb, alpha], axis=2),
                    channels=("R", "G", "B", "A"))  # fmt: skip
    with_alpha = str(mount / "rgba" / "p.####.exr")
    for matte_given in ("", "alpha"):
        out = tmp_path / f"alpha{matte_given}" / "f.####.exr"
        result = run(Plate=with_alpha, Matte=matte_given, Grade=DEMO_GRADE, Out=str(out))
        assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
        assert len(output_files(out.parent)) == 4
    both = run(Plate=plate, Grade=DEMO_GRADE, GradeFile=str(mount / "grade.cc"), Out=str(tmp_path / "x"))
    assert both.returncode != 0 and "not both" in both.stdout + both.stderr
    neither = run(Plate=plate, Out=str(tmp_path / "y"))
    assert neither.returncode != 0 and "no grade" in neither.stdout + neither.stderr


@pytest.mark.parametrize(
    ("setting", "named"),
    [
        (("--engine", "nosuch"), "engine 'nosuch' is not known"),
        (("--band", "12q"), "band width '12q'"),
        (("--grade", "slope=abc"), "'slope=abc' is not a number"),
        (("--out", "OUT/f.$F4.exr"), "frame numbers are written #### or %04d here"),
        (("--out", "OUT/f.exr"), "names one file, but fused frames are a sequence"),
        (("--out", "PLATE/p.%04d.exr"), "would overwrite an input"),
    ],
)
def test_submit_opencue_refuses_what_every_task_would(tmp_path, capsys, setting, named):
    """Settings every task refuses (exit 2 on each node) were submitted without a word: the job
    failed task by task on the farm. They are refused before anything is written or submitted."""
    pytest.importorskip("outline")
    plate = tmp_path / "plate"
    plate.mkdir()
    for number in (1001, 1002):
        (plate / f"p.{number}.exr").write_bytes(b"a plate frame")
    options = {"--grade": "sat=1.1", "--engine": "hard", "--band": "12", "--out": "OUT/f.####.exr"}
    options[setting[0]] = setting[1].replace("OUT", str(tmp_path / "out")).replace("PLATE", str(plate))
    spec = tmp_path / "job.xml"
    words = [word for pair in options.items() for word in pair]
    code = run_cli("submit-opencue", "--name", "shot010", "--plate", str(plate / "p.####.exr"), *words,
                   "--frames", "1001-1002", "--spec", str(spec))  # fmt: skip
    assert code == 2 and named in capsys.readouterr().err
    assert not spec.exists() and sorted(p.name for p in plate.iterdir()) == ["p.1001.exr", "p.1002.exr"]


def test_submit_opencue_takes_what_the_nodes_would(tmp_path, monkeypatch, demo_inputs):
    """The checks refuse nothing a node would fuse: a rerun into a folder --out that holds this
    plate's frames (the plate spelt relative), a CDL with this machine's $OCIO pointing nowhere (the
    nodes may have their own), a grade file whose path holds "=" that only the nodes see."""
    pytest.importorskip("outline")
    plate, matte = demo_inputs
    shot = tmp_path / "shot"
    shutil.copytree(Path(plate).parent, shot / "plate")
    monkeypatch.chdir(shot)
    relative = f"plate/{Path(plate).name}"
    assert run_cli("fuse", "--plate", relative, "--matte", matte, "--grade", DEMO_GRADE, "--engine", "hard",
                   "--out", "renders", "--frames", "1001-1002") == 0  # fmt: skip
    common = ["submit-opencue", "--name", "shot010", "--frames", "1001-1004", "--spec", "job.xml"]
    assert (
        run_cli(*common, "--plate", relative, "--matte", matte, "--grade", DEMO_GRADE, "--out", "renders")
        == 0
    )
    monkeypatch.setenv("OCIO", str(tmp_path / "nowhere" / "config.ocio"))
    assert run_cli(*common, "--plate", relative, "--grade", "slope=1.2,1,1", "--out", "/o/f.####.exr") == 0
    assert run_cli(*common, "--plate", relative, "--grade", "/mnt/grades/take=2/sh010.cc", "--out",
                   "/o/f.####.exr") == 0  # fmt: skip


def test_submitting_with_no_cuebot_to_answer_is_a_transient_failure_in_a_line(tmp_path, capsys, monkeypatch):
    """No Cuebot at $CUEBOT_HOSTS (down, or the variable unset on this machine): a traceback of
    OpenCue's ConnectionException, exit 1. Now exit 75 (retry later), naming the variable."""
    pytest.importorskip("outline")
    monkeypatch.setenv("CUEBOT_HOSTS", "127.0.0.1:1")
    code = run_cli("submit-opencue", "--name", "shot010", "--plate", "/p/p.####.exr", "--grade", "sat=1.1",
                   "--out", "/o/f.####.exr", "--frames", "1001-1004")  # fmt: skip
    error = capsys.readouterr().err
    assert code == 75 and "no Cuebot answered" in error and "$CUEBOT_HOSTS is 127.0.0.1:1" in error
    assert "Traceback" not in error


def test_submit_opencue_spec_to_stdout_or_an_unwritable_place(tmp_path, capsys, monkeypatch):
    """``--spec -`` wrote a file named ``-``; a place it cannot write was a traceback (exit 1)."""
    pytest.importorskip("outline")
    monkeypatch.chdir(tmp_path)
    common = ["submit-opencue", "--name", "shot010", "--plate", "/p/plate.####.exr", "--grade", "sat=1.1"]
    common += ["--out", "/o/f.####.exr", "--frames", "1001-1010"]
    assert run_cli(*common, "--spec", "-") == 0
    assert "<range>1001-1010</range>" in capsys.readouterr().out and not (tmp_path / "-").exists()
    assert run_cli(*common, "--spec", tmp_path / "missing" / "job.xml") == 2
    assert "cannot write the job specification" in capsys.readouterr().err


def test_a_folder_output_to_be_made_keeps_its_slash_on_the_farm_nodes(tmp_path, monkeypatch):
    """``--out renders/take#3/`` made absolute lost its slash: every task read ``take#3`` as a pattern
    whose # is the frame number, and failed."""
    from movingcolor.farm.opencue import for_farm_nodes

    monkeypatch.chdir(tmp_path)
    assert for_farm_nodes("renders/take#3/", "out") == f"{tmp_path}/renders/take#3/"
    assert for_farm_nodes("renders/f.####.exr", "out") == f"{tmp_path}/renders/f.####.exr"


def test_a_shot_s_chunks_stay_together_when_another_shot_writes_beside_them(tmp_path, demo_inputs):
    """Each chunk decides where a folder output goes as it starts: a shot whose first chunk wrote into
    the folder, before another shot's chunk did, had its next chunk sent to fused/, split in two."""
    plate, matte = demo_inputs
    for shot in ("sh010", "sh020"):
        (tmp_path / shot).mkdir()
        for frame in Path(plate).parent.glob("*.exr"):
            shutil.copy(frame, tmp_path / shot / frame.name.replace(Path(plate).name.split(".")[0], shot, 1))
    renders = tmp_path / "renders"

    def chunk(shot: str, frames: str, out: Path | str) -> int:
        shot_plate = tmp_path / shot / f"{shot}.####.exr"
        return run_cli("fuse", "--plate", shot_plate, "--matte", matte, "--grade", DEMO_GRADE,
                       "--engine", "hard", "--out", out, "--frames", frames)  # fmt: skip

    assert chunk("sh010", "1001-1002", renders) == 0
    assert chunk("sh020", "1001-1002", renders / "sh020.####.exr") == 0  # its folder chosen while empty
    assert chunk("sh010", "1003-1004", renders) == 0
    assert sorted(p.name for p in renders.glob("sh010.*")) == [f"sh010.{n}.exr" for n in range(1001, 1005)]
    assert not (renders / "fused").exists()


def test_submit_opencue_reads_a_plate_folder_named_with_a_hash_as_the_nodes_do(tmp_path, demo_inputs):
    """The nodes read an existing ``take#3`` folder as the folder; the submission's check read it as
    a pattern (prefix ``take``), and passed a job every task then refused."""
    pytest.importorskip("outline")
    plate, matte = demo_inputs
    for name in ("take#3", "other"):
        shutil.copytree(Path(plate).parent, tmp_path / name)
    renders = tmp_path / "renders"
    fuse = ["fuse", "--matte", matte, "--grade", DEMO_GRADE, "--engine", "hard", "--frames", "1001-1001"]
    assert run_cli(*fuse, "--plate", tmp_path / "other", "--out", renders) == 0
    common = ["submit-opencue", "--name", "sh", "--frames", "1001-1002", "--spec", tmp_path / "job.xml"]
    assert run_cli(*common, "--plate", tmp_path / "take#3", "--matte", matte, "--grade", DEMO_GRADE,
                   "--out", renders) == 2  # fmt: skip
    assert run_cli(*fuse, "--plate", tmp_path / "take#3", "--out", renders) == 2
