"""The MovingColor node for Nuke, end to end through a stand-in of Nuke's API and a real server.

The stand-in (tests/hosts/nuke.py) reads and writes real files: the node's Write
nodes render its inputs to EXR, the server fuses them, the node's Read shows the
result. The fused frames must be the frames ``movingcolor fuse`` writes for the
same inputs.
"""

from __future__ import annotations

import os
import shutil
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from conftest import run_cli
from movingcolor.color.config import ColorConfig
from movingcolor.errors import MovingColorError
from movingcolor.frames.image_io import read_pixels
from movingcolor_client import JobCancelledError, ServerUnavailableError
from movingcolor_hosts import MissingInputError, SettingsError
from test_service import GRADE, write_shot

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(Path(__file__).parent / "hosts"), str(ROOT / "plugin" / "nuke")]

import movingcolor_nuke  # noqa: E402
import nuke  # noqa: E402  (the stand-in)
from movingcolor_nuke.script_color import REFERENCE_CONFIG  # noqa: E402

BEAR_CDL = "slope=1.15,1.05,0.9;offset=0.02;power=0.95;sat=1.2"
#: What a new script's working space (nuke-default's linear) is sent as: the CLI's options for it,
#: and the 32-bit float take the node asks for (its inputs are rendered at 32-bit float).
LINEAR_709 = "Linear Rec.709 (sRGB)"
AS_SENT = (
    "--config", REFERENCE_CONFIG, "--plate-colorspace", LINEAR_709, "--out-colorspace", LINEAR_709,
    "--exr-type", "float",
)  # fmt: skip


@pytest.fixture
def session():
    """A fresh Nuke session with the plugin loaded as NUKE_PATH loads it (init.py, then menu.py)."""
    nuke.reset()
    for script in ("init.py", "menu.py"):
        path = ROOT / "plugin" / "nuke" / script
        exec(compile(path.read_text(), str(path), "exec"), {"__name__": "__main__"})
    yield nuke
    nuke.reset()


@pytest.fixture
def farm():
    """`nuke -x` or `nuke -t` on a render node: Nuke runs init.py alone (menu.py is the GUI's), with
    ``nuke.GUI`` False."""
    nuke.reset()
    path = ROOT / "plugin" / "nuke" / "init.py"
    exec(compile(path.read_text(), str(path), "exec"), {"__name__": "__main__"})
    yield nuke
    nuke.reset()


@pytest.fixture(scope="module")
def shot(tmp_path_factory) -> tuple[str, str]:
    return write_shot(tmp_path_factory.mktemp("nuke-shot"), frames=6)


def read_node(pattern: str, first: int, last: int) -> nuke.Node:
    return nuke.nodes.Read(file=pattern, first=first, last=last, origfirst=first, origlast=last, raw=True)


def movingcolor_node(plate, matte, server: str, out: Path, **knobs) -> nuke.Node:
    """A MovingColor node from the Nodes toolbar, wired and set up as an artist would."""
    nuke.menu("Nodes").findItem("MovingColor/MovingColor").invoke()
    node = nuke.allNodes("Group")[-1]
    node.setInput(0, plate)
    if matte is not None:
        node.setInput(1, matte)
    values = {"server": server, "out": str(out), "cdl": GRADE, "matte_channel": "rgb", **knobs}
    for name, value in values.items():
        node[name].setValue(value)
    return node


def scripted_node(plate, matte, server: str, out: Path, **knobs) -> nuke.Node:
    """A MovingColor node made by a TD's script (``create_node``: no menu under ``nuke -t``)."""
    node = movingcolor_nuke.create_node()
    node.setInput(0, plate)
    node.setInput(1, matte)
    values = {"server": server, "out": str(out), "cdl": GRADE, "matte_channel": "rgb", **knobs}
    for name, value in values.items():
        node[name].setValue(value)
    return node


def comp_write(node: nuke.Node, out: Path) -> nuke.Node:
    """The comp's Write below ``node``, as ``nuke -x`` renders it."""
    write = nuke.nodes.Write(name="CompWrite")
    write.setInput(0, node)
    write["file"].setValue(str(out))
    write["file_type"].setValue("exr")
    write["datatype"].setValue("32 bit float")
    for knob in ("raw", "create_directories"):
        write[knob].setValue(True)
    return write


def press_fuse(node: nuke.Node) -> None:
    """The Fuse button pressed under ``nuke -t`` (a TD's or the farm's script), where it fails: its
    message printed, and its error raised so that the script stops and the job fails."""
    with pytest.raises(MovingColorError) as raised:
        node["fuse"].execute()
    assert nuke.messages[-1].endswith(str(raised.value)), (nuke.messages, raised.value)


def files_under(folder: Path) -> list[Path]:
    """Every file and folder left in ``folder``, hidden ones included."""
    return sorted(folder.rglob("*")) if folder.exists() else []


def cli_frames(out: Path, plate: str, matte: str, *args: str) -> dict[int, np.ndarray]:
    assert run_cli("fuse", "--plate", plate, "--matte", matte, *args, "--out", out / "f.####.exr") == 0
    return {int(p.name.split(".")[1]): read_pixels(p) for p in sorted(out.glob("f.*.exr"))}


def test_nodes_toolbar_creates_a_node_that_passes_the_plate_through(session, shot):
    plate = read_node(shot[0], 1001, 1006)
    item = nuke.menu("Nodes").findItem("MovingColor/MovingColor")
    assert item is not None
    item.invoke()
    node = nuke.allNodes("Group")[-1]
    assert node.name() == "MovingColor1" and node.maxInputs() == 3
    for name in ("server", "engine", "model", "grade_source", "cdl", "grade_file", "look", "band",
                 "handles", "first", "last", "out", "fuse"):  # fmt: skip
        assert node.knob(name) is not None, name
    assert node["first"].value() == nuke.root().firstFrame()
    node.setInput(0, plate)
    assert np.array_equal(node._image(1003)["rgba.red"], plate._image(1003)["rgba.red"])


@pytest.mark.parametrize("engine", ["guided", "movingcolor"])
def test_fuse_writes_the_frames_movingcolor_fuse_writes(session, served, shot, tmp_path, engine):
    plate, matte = shot
    out = tmp_path / "fused" / "shot.####.exr"
    node = movingcolor_node(
        read_node(plate, 1001, 1006),
        read_node(matte, 1001, 1006),
        served.address,
        out,
        handles=1,
        engine=engine,
    )
    result = movingcolor_nuke.fuse(node, 1002, 1005)

    assert result.frames == [1002, 1003, 1004, 1005] and result.engine == engine
    expected = cli_frames(tmp_path / "cli", plate, matte, "--grade", GRADE, "--frames", "1002-1005",
                          "--engine", engine, *AS_SENT)  # fmt: skip
    for frame, pixels in expected.items():
        assert np.array_equal(read_pixels(out.parent / f"shot.{frame}.exr"), pixels), frame
    # Only the fused frames are left: no rendered inputs, no staging folder.
    assert [p.name for p in files_under(out.parent)] == [f"shot.{n}.exr" for n in range(1002, 1006)]
    # The node now outputs the fused frames, and its progress bar went to 100%.
    fused = node._image(1003)
    assert np.array_equal(fused["rgba.green"], expected[1003][..., 1])
    assert nuke.ProgressTask.tasks[-1].progress == [25, 50, 75, 100]
    assert nuke.ProgressTask.tasks[-1].closed
    assert f"fused 1002-1005 with {engine}" in node["status"].value()
    assert f"nuke-default working space 'linear' sent as '{LINEAR_709}' of {REFERENCE_CONFIG}" in (
        node["status"].value()
    )


def test_graded_input_and_plate_alpha_matte(session, served, shot, tmp_path):
    """No matte input: the plate's alpha is the matte; the grade is a graded plate from the script."""
    from movingcolor.frames.image_io import write_image

    plate, matte = shot
    rgba, graded = tmp_path / "rgba", tmp_path / "graded"
    rgba.mkdir(), graded.mkdir()
    for number in range(1001, 1007):
        pixels = read_pixels(Path(plate.replace("####", str(number))))
        alpha = read_pixels(Path(matte.replace("####", str(number))))[..., :1]
        write_image(rgba / f"p.{number}.exr", np.concatenate([pixels, alpha], axis=2),
                    channels=("R", "G", "B", "A"), pixel_type="float")  # fmt: skip
        write_image(graded / f"g.{number}.exr", pixels * np.float32([1.2, 1.0, 0.8]), pixel_type="float")
    out = tmp_path / "out" / "g.####.exr"
    node = movingcolor_node(
        read_node(str(rgba / "p.####.exr"), 1001, 1006), None, served.address, out,
        grade_source="graded input", engine="feather", first=1001, last=1006,
    )  # fmt: skip
    node.setInput(2, read_node(str(graded / "g.####.exr"), 1001, 1006))
    movingcolor_nuke.fuse(node)

    expected = cli_frames(
        tmp_path / "cli", str(rgba / "p.####.exr"), "alpha", "--graded", str(graded / "g.####.exr"),
        "--engine", "feather", *AS_SENT, "--graded-colorspace", LINEAR_709,
    )  # fmt: skip
    assert len(expected) == 6
    for frame, pixels in expected.items():
        assert np.array_equal(read_pixels(out.parent / f"g.{frame}.exr"), pixels), frame


def test_fuse_button_in_the_gui_works_in_the_background(session, served, shot, tmp_path):
    plate, matte = shot
    nuke.GUI = True
    out = tmp_path / "fused" / "shot.####.exr"
    node = movingcolor_node(read_node(plate, 1001, 1006), read_node(matte, 1001, 1006), served.address, out,
                            first=1001, last=1003)  # fmt: skip
    node["fuse"].execute()  # the artist presses Fuse
    workers = [t for t in threading.enumerate() if t.name == f"MovingColor {node.name()}"]
    assert len(workers) == 1
    # And again, while the first fusion runs, renamed (a fusion is known by its output, not by the
    # name it began under): refused, nothing started.
    began_as = node.name()
    node.setName("Renamed")
    assert movingcolor_nuke.fuse_button(node) is None
    assert nuke.messages == [
        f"MovingColor: {node.fullName()}'s output is being fused already (by {began_as}, as it was "
        f"named then); wait for it to finish, or cancel it in its progress bar"
    ]
    nuke.messages.clear()
    workers[0].join(120)
    assert not workers[0].is_alive()
    # The worker touched no node (the stand-in raises if it does) and hands the result to the main
    # thread, which shows it when its event loop runs.
    assert node.node("Output1").input(0) is node.node("plate")
    assert nuke.run_main_thread() == 1
    assert not nuke.messages, nuke.messages
    assert node.node("Output1").input(0) is node.node("fused_or_plate")
    assert node.node("fused")["file"].value() == str(out)
    assert sorted(p.name for p in out.parent.iterdir()) == ["shot.1001.exr", "shot.1002.exr", "shot.1003.exr"]
    assert [bar.closed for bar in nuke.ProgressTask.tasks] == [True]
    # Done: the node fuses again.
    worker = movingcolor_nuke.fuse_button(node)
    assert worker is not None
    worker.join(120)
    assert nuke.run_main_thread() == 1 and not nuke.messages, nuke.messages


def test_an_output_changed_while_the_node_fuses_leaves_the_node_showing_the_frames_fused(
    session, served, shot, tmp_path
):
    """The artist sets the next version's output while a fuse runs in the background: the node's
    Read was pointed at the new output (nothing there) and the frames fused were filed as its proxy."""
    plate, matte = shot
    nuke.GUI = True
    first_take, next_take = tmp_path / "v001" / "f.####.exr", tmp_path / "v002" / "f.####.exr"
    node = movingcolor_node(read_node(plate, 1001, 1006), read_node(matte, 1001, 1006), served.address,
                            first_take, first=1001, last=1002)  # fmt: skip
    worker = movingcolor_nuke.fuse_button(node)
    node["out"].setValue(str(next_take))
    worker.join(120)
    assert nuke.run_main_thread() == 1 and not nuke.messages, nuke.messages
    read = node.node("fused")
    assert (read["file"].value(), read["proxy"].value()) == (str(first_take), "")
    assert node.node("Output1").input(0).input(1) is read
    assert sorted(p.name for p in first_take.parent.iterdir()) == ["f.1001.exr", "f.1002.exr"]


@pytest.mark.parametrize("made_before_the_switch", [False, True])
def test_outside_the_fused_frames_the_node_shows_the_plate(
    session, served, shot, tmp_path, made_before_the_switch
):
    """Frames 1002-1005 fused: at 1001 and 1006 the node showed the Read holding 1002's and 1005's
    fused pictures (Nuke's Read holds its first and last frames), another frame's picture shown as
    this one's. It shows the plate there, in a node made by an earlier version too. In the artist's
    viewer, so in the GUI: renders read the take there, and fail (the farm_render tests)."""
    plate_pattern, matte = shot
    nuke.GUI = True
    plate = read_node(plate_pattern, 1001, 1006)
    node = movingcolor_node(
        plate, read_node(matte, 1001, 1006), served.address, tmp_path / "o" / "f.####.exr"
    )
    if made_before_the_switch:
        nuke.delete(node.node("fused_or_plate"))
    movingcolor_nuke.fuse(node, 1002, 1005)
    for frame in (1001, 1006):
        assert np.array_equal(node._image(frame)["rgba.red"], plate._image(frame)["rgba.red"]), frame
    for frame in (1002, 1005):
        fused = read_pixels(tmp_path / "o" / f"f.{frame}.exr")
        assert np.array_equal(node._image(frame)["rgba.red"], fused[..., 0]), frame


def test_knobs_changed_after_a_fuse_say_the_take_shown_is_of_the_settings_before(
    session, served, shot, tmp_path
):
    """The node went on showing the last take after the artist changed its grade or band, with no
    word that the picture was not of the knobs' settings; a new fuse clears the word."""
    plate, matte = shot
    node = movingcolor_node(read_node(plate, 1001, 1006), read_node(matte, 1001, 1006), served.address,
                            tmp_path / "o" / "f.####.exr")  # fmt: skip
    nuke.artist_sets(node["band"], "8")  # before any fuse: the node shows the plate
    assert "changed since the take" not in node["status"].value()
    movingcolor_nuke.fuse(node, 1001, 1002)
    nuke.artist_sets(node["last"], 1004)  # the range: the take shown is still of these settings
    assert node["status"].value().startswith("fused 1001-1002")
    nuke.artist_sets(node["cdl"], "slope=1.6,1,1;offset=0,0,0;power=1,1,1;sat=1")
    nuke.artist_sets(node["band"], "6")
    status = node["status"].value()
    assert status.startswith("knobs changed since the take shown was fused (CDL): press Fuse to see them; ")
    assert status.count("knobs changed") == 1 and "fused 1001-1002" in status
    # Asking the server keeps the word; a fuse clears it.
    node["ask_server"].execute()
    assert node["status"].value().startswith("knobs changed since the take shown was fused (CDL)")
    movingcolor_nuke.fuse(node, 1001, 1002)
    assert node["status"].value().startswith("fused 1001-1002")


def test_inputs_reconnected_after_a_fuse_say_the_take_shown_is_of_the_inputs_before(
    session, served, shot, tmp_path
):
    """The artist connected the node to another plate or matte after a fuse: it went on showing the take
    of the inputs before with no word (only the knobs were watched). Nuke's knobChanged for an input
    is its inputChange knob."""
    plate, matte = shot
    node = movingcolor_node(read_node(plate, 1001, 1006), read_node(matte, 1001, 1006), served.address,
                            tmp_path / "o" / "f.####.exr")  # fmt: skip
    nuke.artist_connects(node, 1, read_node(matte, 1001, 1006))  # before any fuse: the node shows the plate
    assert "reconnected" not in node["status"].value()
    movingcolor_nuke.fuse(node, 1001, 1002)
    nuke.artist_connects(node, 0, read_node(plate, 1001, 1006))
    nuke.artist_connects(node, 1, read_node(matte, 1001, 1006))
    status = node["status"].value()
    assert status.startswith("inputs reconnected since the take shown was fused: press Fuse to see the take")
    assert status.count("reconnected") == 1 and "fused 1001-1002" in status
    movingcolor_nuke.fuse(node, 1001, 1002)
    assert node["status"].value().startswith("fused 1001-1002")


def test_a_pasted_copy_of_a_fused_node_shows_its_plate_not_its_originals_take(
    session, served, shot, tmp_path
):
    """Copied and pasted, a fused node's copy kept the original's take in its inner Read: connected to
    another shot, it showed the original's fused frames as that shot's. A node cut and pasted keeps
    its take: no other node shows it."""
    from test_service import write_shot

    plate, matte = shot
    other_plate, other_matte = write_shot(tmp_path / "other", frames=6)
    original = movingcolor_node(read_node(plate, 1001, 1006), read_node(matte, 1001, 1006), served.address,
                                tmp_path / "o" / "f.####.exr", first=1001, last=1002)  # fmt: skip
    movingcolor_nuke.fuse(original)
    take = original._image(1001)["rgba.red"].copy()
    copy = nuke.artist_pastes_a_copy(original)
    nuke.artist_connects(copy, 0, read_node(other_plate, 1001, 1006))
    nuke.artist_connects(copy, 1, read_node(other_matte, 1001, 1006))
    assert np.array_equal(copy._image(1001)["rgba.red"], copy.input(0)._image(1001)["rgba.red"])
    assert copy["status"].value().startswith(f"a copy of {original.fullName()}: shows its plate")
    assert np.array_equal(original._image(1001)["rgba.red"], take)
    # Cut and pasted: the one node showing the take.
    nuke.delete(copy)
    nuke.delete(original)
    moved = nuke.artist_pastes_a_copy(original)
    assert np.array_equal(moved._image(1001)["rgba.red"], take)
    assert moved["status"].value().startswith("fused 1001-1002")


def test_a_knob_changed_while_a_fuse_runs_says_the_take_is_of_the_settings_before(
    session, served, shot, tmp_path
):
    """The Fuse button fuses in the background: a band changed meanwhile was lost, and the status said
    "fused 1001-1002" beside a band knob the take was not fused with."""
    plate, matte = shot
    nuke.GUI = True
    node = movingcolor_node(read_node(plate, 1001, 1006), read_node(matte, 1001, 1006), served.address,
                            tmp_path / "o" / "f.####.exr", first=1001, last=1002)  # fmt: skip
    worker = movingcolor_nuke.fuse_button(node)
    nuke.artist_sets(node["band"], "3")
    worker.join(120)
    assert nuke.run_main_thread() == 1 and not nuke.messages, nuke.messages
    status = node["status"].value()
    assert status.startswith("knobs changed since the take shown was fused (band width)"), status
    assert "fused 1001-1002" in status


def test_fusing_part_of_a_range_again_shows_the_whole_take_and_names_the_other_frames(
    session, served, shot, tmp_path
):
    """A grade fixed and two frames fused again: the node's Read shrank to those two (holding them at
    the other frames), and nothing said the folder now held frames of two grades."""
    plate, matte = shot
    out = tmp_path / "out" / "f.####.exr"
    node = movingcolor_node(read_node(plate, 1001, 1006), read_node(matte, 1001, 1006), served.address, out)
    movingcolor_nuke.fuse(node, 1001, 1006)
    movingcolor_nuke.fuse(node, 1002, 1003)  # the same settings: one take still
    read = node.node("fused")
    assert (read["first"].value(), read["last"].value()) == (1001, 1006)
    assert "other settings" not in node["status"].value()
    node["cdl"].setValue("slope=1.6,1,1;offset=0,0,0;power=1,1,1;sat=1")
    movingcolor_nuke.fuse(node, 1002, 1003)
    assert (read["first"].value(), read["last"].value()) == (1001, 1006)
    status = node["status"].value()
    assert "frames 1001, 1004-1006 of this output were fused before with other settings" in status
    assert "fuse 1001-1006 to make them one take" in status


def test_a_grade_file_republished_in_place_makes_another_take(session, served, shot, tmp_path):
    """The colourist republishes the CDL file the node reads and two frames are fused again: the
    frames' headers named the grade by its file's name alone, so the output mixed two grades and
    the status said nothing."""
    plate, matte = shot
    grade = tmp_path / "sky.cc"

    def publish(slope: str) -> None:
        grade.write_text(
            f'<ColorCorrection id="sky"><SOPNode><Slope>{slope}</Slope><Offset>0 0 0</Offset>'
            "<Power>1 1 1</Power></SOPNode><SatNode><Saturation>1</Saturation></SatNode></ColorCorrection>"
        )

    publish("1.3 1.0 0.7")
    out = tmp_path / "out" / "f.####.exr"
    node = movingcolor_node(read_node(plate, 1001, 1006), read_node(matte, 1001, 1006), served.address, out)
    node["grade_source"].setValue("grade file")
    node["grade_file"].setValue(str(grade))
    movingcolor_nuke.fuse(node, 1001, 1006)
    movingcolor_nuke.fuse(node, 1002, 1003)
    assert "other settings" not in node["status"].value()
    publish("0.7 1.0 1.3")
    movingcolor_nuke.fuse(node, 1002, 1003)
    assert (
        "frames 1001, 1004-1006 of this output were fused before with other settings"
        in node["status"].value()
    )


def test_one_correction_of_a_collection_is_given_as_file_hash_id(session, served, shot, tmp_path):
    """A reel's .ccc holds every shot's correction: the node refused the file whole (name the one
    to apply, e.g. reel.ccc#sh010) and then refused reel.ccc#sh020 as a file that does not exist."""
    from movingcolor.frames.image_io import read_header

    plate, matte = shot
    corrections = "".join(
        f'<ColorCorrection id="{name}"><SOPNode><Slope>{slope}</Slope><Offset>0 0 0</Offset>'
        "<Power>1 1 1</Power></SOPNode></ColorCorrection>"
        for name, slope in (("sh010", "1.3 1 0.7"), ("sh020", "0.7 1 1.3"))
    )
    reel = tmp_path / "reel.ccc"
    reel.write_text(
        f'<ColorCorrectionCollection xmlns="urn:ASC:CDL:v1.01">{corrections}</ColorCorrectionCollection>'
    )
    out = tmp_path / "out" / "f.####.exr"
    node = movingcolor_node(read_node(plate, 1001, 1002), read_node(matte, 1001, 1002), served.address, out)
    node["grade_source"].setValue("grade file")
    node["grade_file"].setValue(f"{reel}#sh020")
    movingcolor_nuke.fuse(node, 1001, 1002)
    assert node["status"].value().startswith("fused"), node["status"].value()
    assert (
        read_header(tmp_path / "out" / "f.1001.exr").attributes["movingcolor:grade"] == "cdl: reel.ccc#sh020"
    )


def test_a_path_in_the_home_folder_written_with_a_tilde(session, served, shot, tmp_path, monkeypatch):
    """The quickstart has the artist type ``~/movingcolor-demo/nuke/shot.####.exr``: the bridge made
    a folder named ``~`` in Nuke's working folder and failed on another path. ``~`` is the home
    folder in the output and grade file knobs, as in Nuke's own."""
    plate, matte = shot
    home, working = tmp_path / "home", tmp_path / "working"
    home.mkdir()
    working.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(working)
    (home / "sky.cc").write_text(
        '<ColorCorrection id="sky"><SOPNode><Slope>1.2 1 0.8</Slope><Offset>0 0 0</Offset>'
        "<Power>1 1 1</Power></SOPNode><SatNode><Saturation>1</Saturation></SatNode></ColorCorrection>"
    )
    node = movingcolor_node(read_node(plate, 1001, 1002), read_node(matte, 1001, 1002), served.address,
                            "~/movingcolor-demo/nuke/shot.####.exr")  # fmt: skip
    node["grade_source"].setValue("grade file")
    node["grade_file"].setValue("~/sky.cc")
    movingcolor_nuke.fuse(node, 1001, 1002)
    fused = home / "movingcolor-demo" / "nuke"
    assert sorted(p.name for p in fused.iterdir()) == ["shot.1001.exr", "shot.1002.exr"]
    assert list(working.iterdir()) == []
    # The node's Read shows the take itself, not as a proxy of another.
    read = node.node("fused")
    assert (read["file"].value(), read["proxy"].value()) == (str(fused / "shot.####.exr"), "")
    # Another node that writes the same folder spelt in full is refused, as it would replace the take.
    other = movingcolor_node(read_node(plate, 1001, 1002), read_node(matte, 1001, 1002), served.address,
                             fused / "shot.####.exr")  # fmt: skip
    with pytest.raises(SettingsError, match="output too"):
        movingcolor_nuke.fuse(other, 1001, 1002)


def test_node_deleted_while_it_fuses(session, served, shot, tmp_path):
    plate, matte = shot
    nuke.GUI = True
    out = tmp_path / "fused" / "shot.####.exr"
    node = movingcolor_node(read_node(plate, 1001, 1006), read_node(matte, 1001, 1006), served.address, out,
                            first=1001, last=1002)  # fmt: skip
    worker = movingcolor_nuke.fuse_button(node)
    nuke.delete(node)
    worker.join(120)
    assert nuke.run_main_thread() == 1
    assert len(nuke.messages) == 1, nuke.messages
    assert f"fused 1001-1002 into {out}, but MovingColor1 cannot show them" in nuke.messages[0]
    assert "read them with a Read node" in nuke.messages[0]
    assert sorted(p.name for p in out.parent.iterdir()) == ["shot.1001.exr", "shot.1002.exr"]


@pytest.mark.clips
def test_bear_through_the_node_equals_movingcolor_fuse(session, served, clips, tmp_path):
    bear = clips / "bear"
    srgb = ColorConfig().srgb_encoded
    out = tmp_path / "fused" / "bear.####.exr"
    node = movingcolor_node(
        read_node(str(bear / "frames" / "#####.png"), 0, 81),
        read_node(str(bear / "mask" / "#####.png"), 0, 81),
        served.address, out, cdl=BEAR_CDL, band="10%", colorspace=srgb,
    )  # fmt: skip
    movingcolor_nuke.fuse(node, 3, 8)

    # movingcolor fuse on the clip, frames 3-8: it reads their neighbours, as the node sends the
    # engine's reach each side.
    expected = cli_frames(
        tmp_path / "cli", str(bear / "frames"), str(bear / "mask"), "--grade", BEAR_CDL, "--band", "10%",
        "--out-colorspace", srgb,  # the node's frames come back in the colourspace it names
        "--frames", "3-8", "--exr-type", "float",  # the node's take keeps its float inputs' samples
    )  # fmt: skip
    assert sorted(expected) == list(range(3, 9))
    for frame, pixels in expected.items():
        fused = read_pixels(out.parent / f"bear.{frame:04d}.exr")
        assert np.array_equal(fused, pixels), frame
    plate = read_pixels(bear / "frames" / "00005.png")
    assert np.abs(read_pixels(out.parent / "bear.0005.exr") - plate).max() > 0.05  # the grade is there


# -- failures: a clear message, nothing written ----------------------------------


def test_server_down(session, shot, tmp_path, monkeypatch):
    """Found before any input is rendered: a long shot's renders are not thrown away."""
    plate, matte = shot
    out = tmp_path / "out" / "f.####.exr"
    node = movingcolor_node(read_node(plate, 1001, 1006), read_node(matte, 1001, 1006),
                            f"unix://{tmp_path}/nobody.sock", out, first=1001, last=1002)  # fmt: skip
    rendered = []
    monkeypatch.setattr(nuke, "execute", lambda *args, **options: rendered.append(args))
    with pytest.raises(ServerUnavailableError, match="movingcolor serve"):
        movingcolor_nuke.fuse(node)
    assert rendered == []
    # The button under nuke -t: the message printed, and the error raised. It had been a message
    # alone, as in the GUI: a farm job pressing Fuse (node["fuse"].execute()) ended with exit 0 and
    # nothing fused, and the job's renders then read no take or an old one.
    with pytest.raises(ServerUnavailableError, match="movingcolor serve"):
        node["fuse"].execute()
    assert "unavailable" in nuke.messages[-1] and "movingcolor serve --address" in nuke.messages[-1]
    assert files_under(out.parent) == []
    assert node.node("Output1").input(0) is node.node("plate")


@pytest.mark.parametrize(
    ("knobs", "named"),
    [
        ({"server": " "}, "server is empty"),
        ({"band": "wide"}, "band width 'wide' must be"),
        ({"out": ""}, "output is empty"),
        ({"out": "{folder}/f.exr"}, "is not an EXR sequence"),
        ({"out": "{folder}/f.####.png"}, "is not an EXR sequence"),
        ({"out": "/dev/null/fused/f.####.exr"}, "cannot write to the output folder /dev/null/fused: Not a"),
        ({"out": "[file dirname [value root.name]]/f.####.exr"}, "holds a TCL expression, which this node"),
        ({"grade_source": "grade file", "grade_file": "$env(SHOW)/look.cube"}, "holds a TCL expression"),
        # Written from the folder Nuke started in, read back from the project directory.
        ({"out": "fused/f.####.exr"}, "output 'fused/f.####.exr' is relative; give the whole path"),
        ({"first": 1005, "last": 1002}, "the first frame is after the last"),
        ({"handles": -2}, "window is -2"),
        ({"grade_source": "grade file", "grade_file": "{folder}/missing.cube"}, "does not exist"),
        ({"grade_source": "OCIO look", "look": ""}, "OCIO look is empty"),
        ({"cdl": "slope=abc"}, "slope"),  # the server's own check of the grade
        ({"engine": "movingcolor", "model": "no-such-model"}, "no-such-model"),
        ({"colorspace": "linear"}, "colourspace 'linear' is not in OpenColorIO config"),  # nuke-default's
    ],
)
def test_bad_knob_values(session, served, shot, tmp_path, knobs, named):
    plate, matte = shot
    folder = tmp_path / "out"
    values = {k: v.format(folder=folder) if isinstance(v, str) else v for k, v in knobs.items()}
    node = movingcolor_node(read_node(plate, 1001, 1006), read_node(matte, 1001, 1006), served.address,
                            folder / "f.####.exr", first=1001, last=1002)  # fmt: skip
    for name, value in values.items():
        node[name].setValue(value)
    press_fuse(node)
    assert len(nuke.messages) == 1 and named in nuke.messages[0], nuke.messages
    assert nuke.messages[0].startswith("MovingColor: ")
    assert files_under(folder) == []


@pytest.mark.parametrize(
    ("knobs", "named"),
    [
        ({"colorspace": "ACEScg_typo"}, "colourspace 'ACEScg_typo' is not in OpenColorIO config"),
        ({"cdl": "slope=1.2,1,0.9;offset=0;power=1;sat=abc"}, "CDL: grade value 'sat=abc' is not a number"),
        (
            {"grade_source": "OCIO look", "look": "NoSuchLook"},
            "look 'NoSuchLook' is not in OpenColorIO config",
        ),
    ],
)
def test_knob_mistakes_the_server_finds_are_found_before_anything_renders(
    session, served, shot, tmp_path, monkeypatch, knobs, named
):
    """A colourspace the server's config lacks, a CDL number that is a word, a look the config lacks:
    each was found by the server once the plate and matte had been rendered, the renders thrown away."""
    plate, matte = shot
    folder = tmp_path / "out"
    node = movingcolor_node(read_node(plate, 1001, 1006), read_node(matte, 1001, 1006), served.address,
                            folder / "f.####.exr", first=1001, last=1006, **knobs)  # fmt: skip
    rendered = []
    monkeypatch.setattr(nuke, "execute", lambda *args, **options: rendered.append(args))
    press_fuse(node)
    assert len(nuke.messages) == 1 and named in nuke.messages[0], nuke.messages
    assert rendered == [] and files_under(folder) == []


def test_a_matte_of_another_format_than_the_plate_is_refused_before_anything_renders(
    session, served, shot, tmp_path, monkeypatch
):
    """A Roto drawn over the script's format (160x100) as the matte of a 96x64 plate: the server refused
    the frames' sizes once both inputs had been rendered."""
    plate, _ = shot
    nuke.root()["format"].setValue("160 100 small")
    folder = tmp_path / "out"
    node = movingcolor_node(read_node(plate, 1001, 1006), nuke.nodes.Roto(), served.address,
                            folder / "f.####.exr", first=1001, last=1002, matte_channel="alpha")  # fmt: skip
    rendered = []
    monkeypatch.setattr(nuke, "execute", lambda *args, **options: rendered.append(args))
    press_fuse(node)
    assert nuke.messages == [
        f"MovingColor: {node.name()}: the matte input is 160x100 but the plate is 96x64: give the matte the "
        f"plate's format (a Reformat to it, or a Roto's output format set to it)"
    ]
    assert rendered == [] and files_under(folder) == []


def test_missing_matte(session, served, shot, tmp_path):
    from movingcolor.frames.image_io import write_image

    plate, matte = shot
    out = tmp_path / "out" / "f.####.exr"
    node = movingcolor_node(read_node(plate, 1001, 1006), None, served.address, out, first=1001, last=1006)
    with pytest.raises(MissingInputError, match="matte input is not connected and the plate has no alpha"):
        movingcolor_nuke.fuse(node)
    node.setInput(1, read_node(matte, 1001, 1006))
    node["matte_channel"].setValue("alpha")
    with pytest.raises(MissingInputError, match="the matte input has no alpha; set 'matte from' to rgb"):
        movingcolor_nuke.fuse(node)
    node["matte_channel"].setValue("rgb")
    node["grade_source"].setValue("graded input")
    with pytest.raises(MissingInputError, match="the graded input is not connected"):
        movingcolor_nuke.fuse(node)
    opaque = tmp_path / "opaque"
    opaque.mkdir()
    for number in range(1001, 1007):
        pixels = read_pixels(Path(plate.replace("####", str(number))))
        rgba = np.concatenate([pixels, np.ones_like(pixels[..., :1])], axis=2)
        write_image(opaque / f"p.{number}.exr", rgba, channels=("R", "G", "B", "A"))
    node["grade_source"].setValue("CDL")
    node.setInput(0, read_node(str(opaque / "p.####.exr"), 1001, 1006))
    node.setInput(1, None)
    with pytest.raises(
        MissingInputError,
        match="the plate has no matte in its alpha: it is opaque in every frame.* connect a matte",
    ):
        movingcolor_nuke.fuse(node)
    # A matte input that is opaque (an RGBA render read for its alpha) or empty (a roto not drawn yet).
    node.setInput(0, read_node(plate, 1001, 1006))
    node.setInput(1, read_node(str(opaque / "p.####.exr"), 1001, 1006))
    node["matte_channel"].setValue("alpha")
    with pytest.raises(
        MissingInputError, match="matte input's alpha: it is opaque in every frame.*'matte from' to rgb"
    ):
        movingcolor_nuke.fuse(node)
    empty = tmp_path / "empty"
    empty.mkdir()
    for number in range(1001, 1007):
        write_image(empty / f"m.{number}.exr", np.zeros((*pixels.shape[:2], 3), np.float32))
    node.setInput(1, read_node(str(empty / "m.####.exr"), 1001, 1006))
    node["matte_channel"].setValue("rgb")
    with pytest.raises(
        MissingInputError, match="matte input's rgb: it is empty .0. in every frame, so nothing"
    ):
        movingcolor_nuke.fuse(node)
    node.setInput(1, read_node(str(tmp_path / "nothing.####.png"), 1001, 1006))
    press_fuse(node)
    assert "rendering the matte input" in nuke.messages[-1] and "No such file" in nuke.messages[-1]
    assert files_under(out.parent) == []


def test_an_output_over_a_file_read_upstream_is_refused_before_anything_renders(session, served, tmp_path):
    """The server sees only the scratch renders of the inputs, so the node itself checks the output
    against every file read upstream: the plate's sequence (in another spelling), and another
    MovingColor node's fused take, read inside its group."""
    from movingcolor.errors import OutputError

    plate, matte = write_shot(tmp_path / "shot", frames=6)
    upstream_out = tmp_path / "first" / "f.####.exr"
    upstream = movingcolor_node(
        read_node(plate, 1001, 1006), read_node(matte, 1001, 1006), served.address, upstream_out
    )
    movingcolor_nuke.fuse(upstream, 1001, 1006)
    kept = {path: path.read_bytes() for path in sorted(tmp_path.rglob("*.*"))}
    for source, out, refused, says in (
        (read_node(plate, 1001, 1006), plate.replace("####", "%04d"), OutputError,
         "would overwrite an input: 6 of its frames are input files"),
        (upstream, upstream_out, SettingsError, f"is {upstream.fullName()}'s output too"),
    ):  # fmt: skip
        node = movingcolor_node(source, read_node(matte, 1001, 1006), served.address, out)
        with pytest.raises(refused, match=says):
            movingcolor_nuke.fuse(node, 1001, 1006)
    assert {path: path.read_bytes() for path in sorted(tmp_path.rglob("*.*"))} == kept


def test_frames_outside_the_plate_are_refused_not_fused_from_a_held_frame(session, served, shot, tmp_path):
    """A new node takes the script's range (1-100 here), which the plate (1001-1006) does not have:
    Nuke would hold the plate's first frame, and every fused frame would be that one."""
    plate, matte = shot
    out = tmp_path / "out" / "f.####.exr"
    node = movingcolor_node(read_node(plate, 1001, 1006), read_node(matte, 1001, 1006), served.address, out)
    for first, last in ((None, None), (1004, 1010), (990, 1002)):
        with pytest.raises(
            SettingsError, match=r"reach outside the plate input's 1001-1006; set the first and last"
        ):
            movingcolor_nuke.fuse(node, first, last)
    assert files_under(out.parent) == []


def test_frames_outside_the_matte_are_refused_and_handles_stop_where_it_ends(session, served, shot, tmp_path):
    """A matte render shorter than the plate: its last frame was held for the rest, and those frames
    fused through a matte of another frame without a word. Within it, the handles reach no further
    than the matte's frames."""
    plate, matte = shot
    out = tmp_path / "out" / "f.####.exr"
    node = movingcolor_node(read_node(plate, 1001, 1006), read_node(matte, 1001, 1004), served.address, out)
    node["handles"].setValue(2)
    with pytest.raises(SettingsError, match=r"reach outside the matte input's 1001-1004; .* give the matte"):
        movingcolor_nuke.fuse(node, 1001, 1006)
    assert files_under(out.parent) == []
    rendered = []
    render = movingcolor_nuke.render._render

    def recorded(node, role, channels, pattern, first, last):
        rendered.append((role, first, last))
        return render(node, role, channels, pattern, first, last)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(movingcolor_nuke.render, "_render", recorded)
        movingcolor_nuke.fuse(node, 1002, 1003)
    assert rendered == [("plate", 1001, 1004), ("matte", 1001, 1004)]


def test_a_generated_matte_is_not_held_to_the_scripts_frame_range(session, served, shot, tmp_path):
    """A Roto with nothing connected reports the script's range (here 1-100), not the frames it has
    (any): it is no short input, and the plate's frames 1001-1006 fuse through it."""
    plate, _ = shot
    height, width = read_pixels(Path(plate.replace("####", "1001"))).shape[:2]
    nuke.root()["format"].setValue(f"{width} {height} plate")
    roto = nuke.nodes.Roto()
    assert (roto.firstFrame(), roto.lastFrame()) == (1, 100)
    out = tmp_path / "out" / "f.####.exr"
    node = movingcolor_node(read_node(plate, 1001, 1006), roto, served.address, out, matte_channel="alpha")
    result = movingcolor_nuke.fuse(node, 1001, 1006)
    assert result.frames == list(range(1001, 1007))


def test_a_fuse_clears_the_folders_a_crashed_nuke_left_beside_the_output(session, served, shot, tmp_path):
    """A Nuke that crashes or is killed mid-fusion leaves its hidden input renders and staged frames
    (a shot of float EXRs): the next fuse into the same folder removes those whose writer is gone,
    and leaves a living writer's alone."""
    import subprocess

    from movingcolor.frames.temporaries import owner_name
    from movingcolor_hosts.staging import INPUTS_PREFIX, STAGING_PREFIX

    plate, matte = shot
    out = tmp_path / "out" / "f.####.exr"
    out.parent.mkdir()
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    gone = [out.parent / f"{prefix}{owner_name().replace(f'-{os.getpid()}-', f'-{dead.pid}-')}"
            for prefix in (INPUTS_PREFIX, STAGING_PREFIX)]  # fmt: skip
    old_style = out.parent / f"{INPUTS_PREFIX}k3j_x9a"  # no writer named, untouched for two days
    living = [out.parent / f"{STAGING_PREFIX}{owner_name()}", out.parent / f"{INPUTS_PREFIX}q8w_z1b"]
    for folder in (*gone, old_style, *living):
        (folder / "plate").mkdir(parents=True)
        (folder / "plate" / "plate.1001.exr").write_bytes(b"a float frame")
    os.utime(old_style, (1, 1))
    node = movingcolor_node(read_node(plate, 1001, 1006), read_node(matte, 1001, 1006), served.address, out)
    movingcolor_nuke.fuse(node, 1001, 1002)
    assert not any(folder.exists() for folder in (*gone, old_style))
    assert all(folder.exists() for folder in living)


def test_cancelled_on_the_server_leaves_nothing(session, served, shot, tmp_path):
    plate, matte = shot
    out = tmp_path / "out" / "f.####.exr"
    out.parent.mkdir()
    (out.parent / "f.1001.exr").write_bytes(b"an earlier take")
    node = movingcolor_node(read_node(plate, 1001, 1006), read_node(matte, 1001, 1006), served.address, out,
                            first=1001, last=1006)  # fmt: skip
    nuke.ProgressTask.cancel_when = lambda task: len(task.progress) >= 2  # after two fused frames
    with pytest.raises(JobCancelledError, match="cancelled: nothing was written"):
        movingcolor_nuke.fuse(node)
    assert nuke.ProgressTask.tasks[-1].progress[:2] == [16, 33]
    # The earlier take is untouched; no fused frame, staging folder or rendered input is left.
    assert files_under(out.parent) == [out.parent / "f.1001.exr"]
    assert (out.parent / "f.1001.exr").read_bytes() == b"an earlier take"
    assert node.node("Output1").input(0) is node.node("plate")


def test_a_server_that_dies_mid_fuse_is_reported_with_nothing_written(session, tmp_path):
    """The error named the staged frames as written "completely" to a staging folder already removed;
    the output is as it was, and the message says so."""
    import shutil

    from conftest import short_folder
    from movingcolor.service.process import ServerProcess

    # Long enough that the server is still reading the shot when it dies after two frames.
    plate, matte = write_shot(tmp_path / "shot", frames=24)
    out = tmp_path / "out" / "f.####.exr"
    folder = short_folder()
    try:
        with ServerProcess(f"unix://{folder}/mc.sock") as server:
            inputs = (read_node(plate, 1001, 1024), read_node(matte, 1001, 1024))
            node = movingcolor_node(*inputs, server.address, out, first=1001, last=1024)

            def kill_after_two(task) -> bool:
                if len(task.progress) >= 2 and server.process.poll() is None:
                    server.process.kill()
                    server.process.wait()
                return False

            nuke.ProgressTask.cancel_when = kill_after_two
            with pytest.raises(ServerUnavailableError) as raised:
                movingcolor_nuke.fuse(node)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    message = str(raised.value)
    assert f"(nothing was written to {out}: it is as it was before)" in message
    assert "written completely" not in message
    assert files_under(out.parent) == []


def test_a_failed_fuse_leaves_no_empty_output_folders(session, served, shot, tmp_path):
    """The output's folders were made for the scratch folder and stayed, empty, after a failure."""
    plate, matte = shot
    out = tmp_path / "shots" / "x" / "fused" / "f.####.exr"
    node = movingcolor_node(read_node(plate, 1001, 1006), read_node(matte, 1001, 1006), served.address, out,
                            first=1001, last=1002)  # fmt: skip
    node["cdl"].setValue("slope=abc")  # the server refuses it after the inputs are rendered
    with pytest.raises(MovingColorError, match="slope"):
        movingcolor_nuke.fuse(node)
    assert not (tmp_path / "shots").exists()


def test_part_of_a_range_fused_again_equals_the_whole_ranges_frames(session, served, shot, tmp_path):
    """With the window knob at 0, two frames fused again were fused without their neighbours:
    guided averages over two frames each side, so they differed from the same frames of the whole
    range (a pop in the take, with nothing said). The engine's own reach is always rendered."""
    plate, matte = shot
    out = tmp_path / "out" / "f.####.exr"
    node = movingcolor_node(read_node(plate, 1001, 1006), read_node(matte, 1001, 1006), served.address, out,
                            first=1001, last=1006, engine="guided", handles=0)  # fmt: skip
    movingcolor_nuke.fuse(node)
    whole = {n: read_pixels(out.parent / f"f.{n}.exr") for n in (1003, 1004)}
    movingcolor_nuke.fuse(node, 1003, 1004)
    for number, pixels in whole.items():
        assert np.array_equal(read_pixels(out.parent / f"f.{number}.exr"), pixels), number


def test_a_copied_node_never_fuses_over_its_originals_take(session, served, shot, tmp_path):
    """A copy of a MovingColor node keeps its `out`: fused with another grade, it replaced the
    original's frames, and the original then showed the copy's grade."""
    plate, matte = shot
    out = tmp_path / "out" / "f.####.exr"
    inputs = (read_node(plate, 1001, 1006), read_node(matte, 1001, 1006))
    original = movingcolor_node(*inputs, served.address, out, first=1001, last=1002)
    movingcolor_nuke.fuse(original)
    take = {p.name: p.read_bytes() for p in out.parent.iterdir()}
    copy = movingcolor_node(read_node(plate, 1001, 1006), read_node(matte, 1001, 1006), served.address,
                            tmp_path / "out" / "f.%04d.exr", first=1001, last=1002)  # fmt: skip
    copy["cdl"].setValue("slope=1.5,1,1;offset=0,0,0;power=1,1,1;sat=1")
    with pytest.raises(SettingsError, match=f"is {original.fullName()}'s output too"):
        movingcolor_nuke.fuse(copy)
    assert {p.name: p.read_bytes() for p in out.parent.iterdir()} == take
    # The button runs inside the copy's group, where the script's other nodes are not its own.
    press_fuse(copy)
    assert f"is {original.fullName()}'s output too" in nuke.messages[-1]
    assert {p.name: p.read_bytes() for p in out.parent.iterdir()} == take


def _a_fused_take(served, shot, tmp_path) -> tuple[nuke.Node, Path, dict[str, bytes]]:
    """A node that has fused frames 1001-1003, its output pattern, and the take's files' bytes."""
    plate, matte = shot
    out = tmp_path / "out" / "f.####.exr"
    node = movingcolor_node(read_node(plate, 1001, 1006), read_node(matte, 1001, 1006), served.address, out,
                            first=1001, last=1003)  # fmt: skip
    movingcolor_nuke.fuse(node)
    return node, out, {p.name: p.read_bytes() for p in out.parent.iterdir()}


def test_a_frame_held_open_keeps_the_previous_take_whole(session, served, shot, tmp_path, monkeypatch):
    """On Windows a frame another program holds open (a Read of the previous take) cannot be replaced:
    the new take replaces no frame at all, and the artist is told what to close."""
    node, out, previous_take = _a_fused_take(served, shot, tmp_path)
    held_open = out.parent / "f.1003.exr"
    replace = os.replace

    def replace_unless_held(source, target):
        if held_open in (Path(source), Path(target)):
            raise PermissionError(13, "The process cannot access the file", str(held_open))
        replace(source, target)

    monkeypatch.setattr(os, "replace", replace_unless_held)
    node["cdl"].setValue("slope=1.5,1,1;offset=0,0,0;power=1,1,1;sat=1")  # another take
    press_fuse(node)
    assert nuke.messages == [
        f"MovingColor: cannot replace {held_open}: The process cannot access the file; the output is as it "
        f"was: close what holds its frames open (a Read of the previous take, a viewer) and fuse again"
    ]
    assert {p.name: p.read_bytes() for p in out.parent.iterdir()} == previous_take


def test_ctrl_c_while_the_new_take_moves_in_keeps_the_previous_take(
    session, served, shot, tmp_path, monkeypatch
):
    """Ctrl-C in `nuke -t` while the new frames were renamed into place deleted the previous take:
    only an OSError put it back, and the staging folder holding it was then removed."""
    node, out, previous_take = _a_fused_take(served, shot, tmp_path)
    replace = os.replace

    def interrupted_at_the_first_new_frame(source, target):
        # The commit's rename of a new frame into the output (its previous take is set aside first).
        if Path(target).parent == out.parent and "previous" not in str(source):
            raise KeyboardInterrupt
        replace(source, target)

    monkeypatch.setattr(os, "replace", interrupted_at_the_first_new_frame)
    node["cdl"].setValue("slope=1.5,1,1;offset=0,0,0;power=1,1,1;sat=1")  # another take
    with pytest.raises(KeyboardInterrupt):
        movingcolor_nuke.fuse(node)
    monkeypatch.setattr(os, "replace", replace)
    assert {p.name: p.read_bytes() for p in out.parent.iterdir()} == previous_take


def test_cancelled_render_of_the_inputs_leaves_nothing(session, served, shot, tmp_path):
    plate, matte = shot
    out = tmp_path / "out" / "f.####.exr"
    node = movingcolor_node(read_node(plate, 1001, 1006), read_node(matte, 1001, 1006), served.address, out,
                            first=1001, last=1006)  # fmt: skip
    nuke.execute_cancel_after = 3  # Cancel in the render's progress dialog
    press_fuse(node)
    assert "rendering the plate was cancelled" in nuke.messages[-1]
    assert files_under(out.parent) == []


def test_cancel_in_the_gui_before_the_server_answers(session, served, shot, tmp_path):
    plate, matte = shot
    nuke.GUI = True
    out = tmp_path / "out" / "f.####.exr"
    node = movingcolor_node(read_node(plate, 1001, 1006), read_node(matte, 1001, 1006), served.address, out,
                            first=1001, last=1006)  # fmt: skip
    nuke.ProgressTask.cancel_when = lambda task: True
    worker = movingcolor_nuke.fuse_button(node)
    worker.join(60)
    assert nuke.messages == [] and nuke.run_main_thread() == 1
    assert len(nuke.messages) == 1 and "cancelled: nothing was written" in nuke.messages[0]
    assert files_under(out.parent) == []
    assert [bar.closed for bar in nuke.ProgressTask.tasks] == [True]


def test_settings_errors_name_the_knob(session, shot, tmp_path):
    from movingcolor_nuke.knobs import settings_from_node

    node = movingcolor_node(read_node(shot[0], 1001, 1006), None, "localhost:1", tmp_path / "f.####.exr")
    node["band"].setValue("0")
    with pytest.raises(SettingsError, match="^band width: band width '0' must be a positive number"):
        settings_from_node(node)


FARM_SCRIPT = """
import sys
sys.modules["torch"] = None  # the bridge must run in a Nuke without torch
exec(open({init!r}).read())  # what nuke -t does with init.py on NUKE_PATH
import nuke
import movingcolor_nuke

plate = nuke.nodes.Read(file={plate!r}, first=1001, last=1006, raw=True)
matte = nuke.nodes.Read(file={matte!r}, first=1001, last=1006, raw=True)
node = movingcolor_nuke.create_node()
node.setInput(0, plate)
node.setInput(1, matte)
node["server"].setValue({server!r})
node["cdl"].setValue({grade!r})
node["matte_channel"].setValue("rgb")
node["out"].setValue({out!r})
result = movingcolor_nuke.fuse(node, 1001, 1003)
print("fused", result.first, result.last)
"""


def test_headless_script_in_a_fresh_process_without_torch(served, shot, tmp_path):
    """As `nuke -t fuse.py` on a farm node: init.py, then a TD's script calling the Python API."""
    import subprocess

    plate, matte = shot
    out = tmp_path / "out" / "f.####.exr"
    script = FARM_SCRIPT.format(init=str(ROOT / "plugin" / "nuke" / "init.py"), plate=plate, matte=matte,
                                server=served.address, grade=GRADE, out=str(out))  # fmt: skip
    paths = [str(Path(__file__).parent / "hosts"), str(ROOT / "plugin" / "nuke")]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([*paths, os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    assert "fused 1001 1003" in done.stdout
    assert sorted(p.name for p in out.parent.iterdir()) == ["f.1001.exr", "f.1002.exr", "f.1003.exr"]


def test_plugin_folder_never_installs_as_a_nuke_module():
    """pip installs only the listed packages from plugin/ (the bridges among them, for `movingcolor install`
    to copy): a top-level `nuke` would shadow Nuke's own."""
    import tomllib
    from setuptools import find_namespace_packages

    found = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]["find"]
    installed = {
        package.split(".")[0]
        for where in found["where"]
        for package in find_namespace_packages(where=str(ROOT / where), include=found["include"])
    }
    assert installed == {
        "movingcolor", "movingcolor_client", "movingcolor_hosts", "movingcolor_nuke", "movingcolor_resolve"
    }  # fmt: skip
    assert (ROOT / "plugin" / "nuke" / "init.py").is_file()


def test_engine_choices_come_from_the_server(session, served, monkeypatch):
    from movingcolor_client import connect

    monkeypatch.setenv("MOVINGCOLOR_SERVER", served.address)
    nuke.menu("Nodes").findItem("MovingColor/MovingColor").invoke()
    node = nuke.allNodes("Group")[-1]
    with connect(served.address) as client:
        info = client.info()
    assert sorted(node["engine"].values()) == sorted(engine["name"] for engine in info["engines"])
    assert node["engine"].value() == "guided"
    assert f"engines and models of the server at {served.address}" in node["status"].value()
    for model in info["models"]:
        assert model["name"] in node["model"].tooltip()


def test_engine_choices_without_a_server_are_the_built_in_ones_and_say_so(session, monkeypatch):
    from conftest import short_folder
    from movingcolor.spec.schema import BUILTIN_ENGINES

    address = f"unix://{short_folder()}/nothing.sock"
    monkeypatch.setenv("MOVINGCOLOR_SERVER", address)
    nuke.menu("Nodes").findItem("MovingColor/MovingColor").invoke()
    node = nuke.allNodes("Group")[-1]
    assert node["engine"].values() == list(BUILTIN_ENGINES) and node["engine"].value() == "guided"
    assert f"no server answered at {address}" in node["status"].value()
    assert "built-in" in node["status"].value()


def test_asking_the_server_after_a_fuse_keeps_the_takes_status(session, served, shot, tmp_path):
    """'ask server' after a fuse replaced the status line with the server's answer: what was fused,
    with what, and its notes were gone while the node still showed that take."""
    from conftest import short_folder

    plate, matte = shot
    node = movingcolor_node(read_node(plate, 1001, 1006), read_node(matte, 1001, 1006), served.address,
                            tmp_path / "o" / "f.####.exr", last=1002, engine="feather")  # fmt: skip
    movingcolor_nuke.fuse(node, 1001)
    fused = node["status"].value()
    assert fused.startswith("fused 1001-1002 with feather") and "nuke-default working space" in fused
    nobody = f"unix://{short_folder()}/nobody.sock"
    node["server"].setValue(nobody)
    node["ask_server"].execute()
    node["ask_server"].execute()  # asked again: one answer, the latest
    assert node["status"].value().split("\n") == [fused, node["status"].value().split("\n")[1]]
    assert node["status"].value().split("\n")[1].startswith(f"no server answered at {nobody}")
    node["server"].setValue(served.address)
    node["ask_server"].execute()
    assert node["status"].value() == f"{fused}\nengines and models of the server at {served.address}"
    assert node["engine"].value() == "feather"


# -- the script's colour management: the working space keeps its meaning on the server ------------


NUKE_DEFAULT_CURVES = {  # nuke-default's colourspaces, to linear (Rec.709 primaries throughout)
    "linear": lambda v: v,
    "sRGB": lambda v: np.where(v <= 0.04045, v / 12.92, ((v + 0.055) / 1.055) ** 2.4),
    "rec709": lambda v: np.where(v < 0.081, v / 4.5, ((v + 0.099) / 1.099) ** (1 / 0.45)),
    "Gamma1.8": lambda v: v**1.8,
    "Gamma2.2": lambda v: v**2.2,
    "Gamma2.4": lambda v: v**2.4,
}


@pytest.mark.parametrize("space", sorted(NUKE_DEFAULT_CURVES))
def test_nuke_default_spaces_are_sent_as_the_same_colourspaces(space):
    """Each nuke-default name is sent as the colourspace of the reference config with its curve and
    Rec.709 primaries, checked with OpenColorIO itself."""
    import PyOpenColorIO as ocio
    from movingcolor_nuke.script_color import NUKE_DEFAULT_SPACES

    config = ocio.Config.CreateFromFile(REFERENCE_CONFIG)
    to_linear = config.getProcessor(NUKE_DEFAULT_SPACES[space], LINEAR_709).getDefaultCPUProcessor()
    values = np.array([[0.02, 0.18, 0.5], [0.75, 1.0, 0.05], [1.0, 0.0, 0.0]], np.float32)
    linear = values.copy()
    to_linear.applyRGB(linear)
    assert np.allclose(linear, NUKE_DEFAULT_CURVES[space](values.astype(np.float64)), atol=2e-4), space


def test_nuke_default_roles_looks_and_spaces_without_a_counterpart():
    from movingcolor_nuke.script_color import ScriptConfig, server_colorspace

    def no_server() -> str:
        raise AssertionError("the server's config is not needed here")

    nuke_default = ScriptConfig("nuke-default")
    sent = server_colorspace(nuke_default, "scene_linear", False, no_server)
    assert (sent.colorspace, sent.config) == (LINEAR_709, REFERENCE_CONFIG)
    # A look is the server's config's: the same colourspace, named in the server's config.
    sent = server_colorspace(nuke_default, "linear", True, no_server)
    assert (sent.colorspace, sent.config) == (LINEAR_709, "")
    with pytest.raises(SettingsError, match="space 'Cineon' of Nuke's nuke-default .* no counterpart"):
        server_colorspace(nuke_default, "Cineon", False, no_server)
    # One of Nuke's ACES configs is OCIO's built-in config of the same name, unless a look needs the
    # server's config: then only the server running that config will do.
    aces = ScriptConfig("fn-nuke_cg-config-v1.0.0_aces-v1.3_ocio-v2.1",
                        builtin="ocio://cg-config-v1.0.0_aces-v1.3_ocio-v2.1")  # fmt: skip
    sent = server_colorspace(aces, "ACEScg", False, no_server)
    assert (sent.colorspace, sent.config) == ("ACEScg", "ocio://cg-config-v1.0.0_aces-v1.3_ocio-v2.1")
    sent = server_colorspace(aces, "ACEScg", True, lambda: "ocio://cg-config-v1.0.0_aces-v1.3_ocio-v2.1")
    assert (sent.colorspace, sent.config) == ("ACEScg", "")
    with pytest.raises(SettingsError, match="an OCIO look is a look of the server's config, and the"):
        server_colorspace(aces, "ACEScg", True, lambda: "/studio/ocio/config.ocio")


def test_script_config_from_the_project_settings(session, tmp_path):
    from movingcolor_nuke.script_color import script_config

    root = nuke.root()
    assert script_config(root).is_nuke_default  # a new script: Nuke's own colour management
    root["OCIO_config"].setValue("fn-nuke_studio-config-v1.0.0_aces-v1.3_ocio-v2.1")
    assert root["colorManagement"].value() == "OCIO" and root["workingSpaceLUT"].value() == "ACEScg"
    assert script_config(root).builtin == "ocio://studio-config-v1.0.0_aces-v1.3_ocio-v2.1"
    root["colorManagement"].setValue("Nuke")  # Nuke's own colour management: nuke-default, whatever config
    assert script_config(root).is_nuke_default
    config_file = custom_config(tmp_path)
    root["OCIO_config"].setValue("custom")
    root["customOCIOConfigPath"].setValue(str(config_file))
    assert script_config(root).path == str(config_file) and not script_config(root).builtin


def custom_config(folder: Path) -> Path:
    """A studio's config file (here OCIO's built-in CG config, written out)."""
    import PyOpenColorIO as ocio

    path = folder / "studio" / "config.ocio"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(ocio.Config.CreateFromFile("ocio://cg-config-v2.1.0_aces-v1.3_ocio-v2.3").serialize())
    return path


@pytest.fixture(scope="module")
def studio_config(tmp_path_factory) -> Path:
    return custom_config(tmp_path_factory.mktemp("ocio"))


@pytest.fixture(scope="module")
def served_with_studio_config(test_model, studio_config):
    """A server whose OCIO config ($OCIO) is the studio's config file."""
    import shutil

    from conftest import short_folder
    from movingcolor.service.process import ServerProcess

    folder = short_folder()
    with ServerProcess(f"unix://{folder}/mc.sock", env={"OCIO": str(studio_config)}) as server:
        yield server
    shutil.rmtree(folder, ignore_errors=True)


def test_one_of_nukes_aces_configs_is_sent_as_ocios_builtin(session, served, shot, tmp_path):
    plate, matte = shot
    nuke.root()["OCIO_config"].setValue("fn-nuke_cg-config-v1.0.0_aces-v1.3_ocio-v2.1")
    node = movingcolor_node(read_node(plate, 1001, 1006), read_node(matte, 1001, 1006), served.address,
                            tmp_path / "out" / "f.####.exr", first=1001, last=1002)  # fmt: skip
    result = movingcolor_nuke.fuse(node)
    assert result.summary["config"] == "ocio://cg-config-v1.0.0_aces-v1.3_ocio-v2.1"
    assert result.summary["colorspaces"]["plate"] == result.summary["colorspaces"]["output"] == "ACEScg"


@pytest.mark.parametrize("role", ["color_timing", "compositing_log", "texture_paint", "matte_paint",
                                  "compositing_linear", "scene_linear", "data"])  # fmt: skip
def test_a_role_of_nukes_aces_1_config_is_sent_as_the_colourspace_it_stands_for(
    session, served, shot, tmp_path, role
):
    """A working space named by a role of Nuke's aces_1.2 config was sent by the role's name with the
    studio config, where the role means another colourspace (color_timing: ACEScct, not ACEScc) or
    none (compositing_linear): the frames were read in the wrong colourspace, or refused after the
    render. Sent as the colourspace the role stands for in aces_1.2, read by OCIO as that one."""
    import PyOpenColorIO as ocio

    plate, matte = shot
    root = nuke.root()
    root["OCIO_config"].setValue("aces_1.2")
    root["workingSpaceLUT"].setValue(role)
    node = movingcolor_node(read_node(plate, 1001, 1006), read_node(matte, 1001, 1006), served.address,
                            tmp_path / "o" / "f.####.exr", first=1001, last=1001, engine="hard")  # fmt: skip
    result = movingcolor_nuke.fuse(node)
    meant = nuke.ACES_1_2_ROLES[role]  # the colourspace aces_1.2's config.ocio gives the role
    studio = ocio.Config.CreateFromFile(REFERENCE_CONFIG)
    assert result.summary["config"] == REFERENCE_CONFIG
    sent = studio.getColorSpace(result.summary["colorspaces"]["plate"]).getName()
    assert sent == studio.getColorSpace(meant).getName(), (role, sent)
    assert f"working space {role!r} of aces_1.2 sent as {meant!r}" in node["status"].value()


def test_a_role_of_nukes_aces_1_config_without_a_counterpart_is_refused_before_rendering(
    session, served, shot, tmp_path, monkeypatch
):
    """aces_1.2's color_picking is a display colourspace (Output - sRGB), which the studio config lacks."""
    plate, matte = shot
    nuke.root()["OCIO_config"].setValue("aces_1.2")
    nuke.root()["workingSpaceLUT"].setValue("color_picking")
    node = movingcolor_node(read_node(plate, 1001, 1006), read_node(matte, 1001, 1006), served.address,
                            tmp_path / "out" / "f.####.exr", first=1001, last=1002)  # fmt: skip
    rendered = []
    monkeypatch.setattr(nuke, "execute", lambda *args, **options: rendered.append(args))
    press_fuse(node)
    assert (
        "the working space 'color_picking' of aces_1.2 is a role for a display colourspace"
        in (nuke.messages[-1])
    )
    assert rendered == [] and files_under(tmp_path / "out") == []


def test_custom_config_is_used_only_where_the_server_runs_it_too(
    session, served, served_with_studio_config, studio_config, shot, tmp_path
):
    plate, matte = shot
    root = nuke.root()
    root["OCIO_config"].setValue("custom")
    root["customOCIOConfigPath"].setValue(str(studio_config))
    out = tmp_path / "out" / "f.####.exr"
    node = movingcolor_node(read_node(plate, 1001, 1006), read_node(matte, 1001, 1006), served.address, out,
                            first=1001, last=1002)  # fmt: skip
    # The server runs another config: the working space's name may mean something else there.
    press_fuse(node)
    assert len(nuke.messages) == 1 and files_under(out.parent) == []
    assert (
        f"the script's OCIO config is {studio_config} while the server uses ocio://default: the working "
        f"space 'ACEScg' may name another colourspace there, or none. Set colourspace to" in nuke.messages[0]
    )
    # The artist names it in the server's config: sent as it is.
    node["colorspace"].setValue("ACEScg")
    assert movingcolor_nuke.fuse(node).summary["colorspaces"]["plate"] == "ACEScg"
    # A server that runs the script's config takes the working space's name as it is.
    node["colorspace"].setValue("")
    node["server"].setValue(served_with_studio_config.address)
    result = movingcolor_nuke.fuse(node)
    assert result.summary["colorspaces"]["plate"] == "ACEScg"
    assert "working space 'ACEScg' of " + str(studio_config) + ", the server's config too" in (
        node["status"].value()
    )


def test_working_space_without_a_counterpart_is_refused(session, served, shot, tmp_path):
    plate, matte = shot
    nuke.root()["workingSpaceLUT"].setValue("Cineon")
    out = tmp_path / "out" / "f.####.exr"
    node = movingcolor_node(read_node(plate, 1001, 1006), read_node(matte, 1001, 1006), served.address, out)
    press_fuse(node)
    assert len(nuke.messages) == 1 and "working space 'Cineon' of Nuke's nuke-default" in nuke.messages[0]
    assert "set colourspace to its name in the server's OCIO config" in nuke.messages[0]
    assert files_under(out.parent) == []


# -- proxy mode ------------------------------------------------------------------------


def test_proxy_mode_scales_a_band_in_pixels_and_keeps_the_full_size_take(session, served, shot, tmp_path):
    """The Writes render at the proxy scale: a band in pixels is scaled with them, a percentage not.
    The proxy frames go to a proxy folder, read by the node's Read in proxy mode: the full-size take
    beside them is kept (a proxy fuse once replaced it)."""
    plate, matte = shot
    full = read_pixels(Path(plate.replace("####", "1001"))).shape
    out = tmp_path / "out" / "f.####.exr"
    node = movingcolor_node(read_node(plate, 1001, 1006), read_node(matte, 1001, 1006), served.address, out,
                            first=1001, last=1002, band="12")  # fmt: skip
    movingcolor_nuke.fuse(node)
    full_take = read_pixels(out.parent / "f.1001.exr")
    root = nuke.root()
    root["proxy"].setValue(True)
    root["proxy_scale"].setValue(0.5)
    result = movingcolor_nuke.fuse(node)
    assert result.summary["band"] == "6px"
    half = (round(full[0] / 2), round(full[1] / 2))
    assert read_pixels(out.parent / "proxy" / "f.1001.exr").shape[:2] == half
    assert np.array_equal(read_pixels(out.parent / "f.1001.exr"), full_take)
    assert "proxy mode: rendered at 0.5 of full size, band 12 sent as 6px" in node["status"].value()
    assert node.output()._image(1001)["rgba.red"].shape == half  # the node shows the proxy take
    root["proxy"].setValue(False)
    assert node.output()._image(1001)["rgba.red"].shape == full[:2]  # and, out of proxy mode, the full
    node["band"].setValue("10%")
    assert movingcolor_nuke.fuse(node).summary["band"] == "10%"


def test_a_proxy_fuse_of_fewer_frames_keeps_the_full_size_takes_range(session, served, shot, tmp_path):
    """The inner Read's range serves its file and its proxy: a proxy fuse of 1001-1002 after a full-size
    take of 1001-1006 cut it to 1001-1002, and out of proxy mode frames 1003-1006 held frame 1002."""
    plate, matte = shot
    out = tmp_path / "out" / "f.####.exr"
    node = movingcolor_node(read_node(plate, 1001, 1006), read_node(matte, 1001, 1006), served.address, out,
                            first=1001, last=1006)  # fmt: skip
    movingcolor_nuke.fuse(node)
    full = {frame: node.output()._image(frame)["rgba.red"].copy() for frame in (1004, 1006)}
    nuke.root()["proxy"].setValue(True)
    nuke.root()["proxy_scale"].setValue(0.5)
    movingcolor_nuke.fuse(node, 1001, 1002)
    nuke.root()["proxy"].setValue(False)
    read = node.node("fused")
    assert (read["first"].value(), read["last"].value()) == (1001, 1006)
    for frame, pixels in full.items():
        assert np.array_equal(node.output()._image(frame)["rgba.red"], pixels), frame


def test_a_proxy_fuse_of_fewer_frames_says_which_proxy_frames_are_missing(session, served, shot, tmp_path):
    """After a full-size take of 1001-1006, a proxy fuse of 1001-1002 left the Read's range at 1001-1006
    (the full-size take's) with proxy frames for 1001-1002 alone: in proxy mode 1003-1006 were a Read
    error, and nothing said so. The status names them and the range to fuse in proxy mode."""
    plate, matte = shot
    out = tmp_path / "out" / "f.####.exr"
    node = movingcolor_node(read_node(plate, 1001, 1006), read_node(matte, 1001, 1006), served.address, out,
                            first=1001, last=1006)  # fmt: skip
    movingcolor_nuke.fuse(node)
    nuke.root()["proxy"].setValue(True)
    movingcolor_nuke.fuse(node, 1001, 1002)
    assert (
        "proxy mode has no frames 1003-1006 of this take (the node shows a Read error there): fuse "
        "1001-1006 in proxy mode to fill them" in node["status"].value()
    )
    with pytest.raises(RuntimeError, match="Read error"):
        node.output()._image(1004)
    movingcolor_nuke.fuse(node, 1001, 1006)
    assert "proxy mode has no frames" not in node["status"].value()
    assert node.output()._image(1004)["rgba.red"].shape == (32, 48)


def test_a_proxy_fuse_never_replaces_a_proxy_file_read_upstream(session, served, shot, tmp_path):
    """In proxy mode a Read reads its proxy file: the output was checked against the Reads' full-size
    files only, so a proxy fuse could replace the proxy frames its own plate was read from."""
    import shutil

    from movingcolor.errors import OutputError

    plate, matte = shot
    out = tmp_path / "out" / "f.####.exr"
    (out.parent / "proxy").mkdir(parents=True)
    for number in range(1001, 1007):
        shutil.copy(plate.replace("####", str(number)), out.parent / "proxy" / f"f.{number}.exr")
    kept = {p.name: p.read_bytes() for p in (out.parent / "proxy").iterdir()}
    source = read_node(plate, 1001, 1006)
    source["proxy"].setValue(str(out.parent / "proxy" / "f.####.exr"))
    node = movingcolor_node(source, read_node(matte, 1001, 1006), served.address, out, first=1001, last=1002)
    nuke.root()["proxy"].setValue(True)
    nuke.root()["proxy_scale"].setValue(0.5)
    with pytest.raises(OutputError, match="would overwrite an input"):
        movingcolor_nuke.fuse(node)
    assert {p.name: p.read_bytes() for p in (out.parent / "proxy").iterdir()} == kept


def test_a_proxy_fuse_never_replaces_another_nodes_take_in_its_proxy_folder(session, served, shot, tmp_path):
    """Node B's output was node A's proxy folder: A's proxy fuse replaced B's frames with A's half-size
    ones (only full-size outputs were compared), and B's status still said fused. Refused both ways,
    naming the other node."""
    plate, matte = shot
    out = tmp_path / "out" / "f.####.exr"
    b = movingcolor_node(read_node(plate, 1001, 1006), read_node(matte, 1001, 1006), served.address,
                         out.parent / "proxy" / out.name, first=1001, last=1002)  # fmt: skip
    movingcolor_nuke.fuse(b)
    take = {p.name: p.read_bytes() for p in (out.parent / "proxy").iterdir()}
    a = movingcolor_node(read_node(plate, 1001, 1006), read_node(matte, 1001, 1006), served.address, out,
                         first=1001, last=1002)  # fmt: skip
    nuke.root()["proxy"].setValue(True)
    with pytest.raises(SettingsError, match=f"proxy-mode output .* is {b.fullName()}'s output too"):
        movingcolor_nuke.fuse(a)
    assert {p.name: p.read_bytes() for p in (out.parent / "proxy").iterdir()} == take
    # And B, fused full size, would replace A's proxy take.
    nuke.root()["proxy"].setValue(False)
    press_fuse(b)
    assert f"is {a.fullName()}'s proxy-mode output too" in nuke.messages[-1], nuke.messages
    assert {p.name: p.read_bytes() for p in (out.parent / "proxy").iterdir()} == take


def test_render_scale_of_a_proxy_format(session):
    from movingcolor_nuke.proxy import band_at_scale, render_scale

    root = nuke.root()
    assert render_scale(root) == 1.0  # proxy mode off
    root["proxy"].setValue(True)
    root["proxy_type"].setValue("format")
    root["format"].setValue("1920 1080 HD_1080")
    root["proxy_format"].setValue("480 270 quarter")
    assert render_scale(root) == 0.25
    assert band_at_scale("12px", 0.25) == "3px" and band_at_scale("12", 1.0) == "12"


# -- an older Nuke ------------------------------------------------------------------------


def test_an_older_nuke_is_told_which_nuke_it_needs(monkeypatch, capsys):
    """Nuke 14 runs Python 3.9: init.py says which Nuke MovingColor needs instead of failing on syntax."""
    import ast

    for path in ("init.py", "menu.py", "movingcolor_nuke/__init__.py"):
        source = (ROOT / "plugin" / "nuke" / path).read_text()
        ast.parse(source, feature_version=(3, 7))  # Nuke 13's Python reads them
    for name in [name for name in sys.modules if name.startswith("movingcolor_nuke")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setattr(sys, "version_info", (3, 9, 10, "final", 0))
    monkeypatch.setattr(nuke, "NUKE_VERSION_STRING", "14.0v5")
    path = ROOT / "plugin" / "nuke" / "init.py"
    exec(compile(path.read_text(), str(path), "exec"), {"__name__": "__main__"})
    assert capsys.readouterr().out == (
        "MovingColor: not loaded: MovingColor needs Nuke 15 or later (Python 3.10+); this Nuke 14.0v5 has "
        "Python 3.9\n"
    )
    assert "movingcolor_nuke" not in sys.modules


def test_asking_a_server_that_refuses_this_user_says_why_not_to_wait_for_it(served, monkeypatch):
    """A server that runs but refuses this user its socket was told as "no server answered ...
    press 'ask server' once it runs": the artist waited for a server already running."""
    from movingcolor_nuke.server_choices import ask_server

    socket_path = served.address.removeprefix("unix://")
    import movingcolor_client.client as client_module

    monkeypatch.setattr(client_module, "_refused_by_the_system", lambda path: path == socket_path)
    said = ask_server(served.address, 10.0).note
    assert "this user may not use the server's socket" in said and "once it runs" not in said
    assert ask_server("unix:///nowhere/mc.sock", 1.0).note.startswith("no server answered")
    import socket

    with socket.socket() as silent:  # accepts and never answers: not there yet, as far as Nuke can tell
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        note = ask_server(f"127.0.0.1:{silent.getsockname()[1]}", 1.0).note
    assert note.startswith("no server answered at 127.0.0.1:") and "once it runs" in note, note


def test_a_take_never_replaces_images_movingcolor_did_not_write(session, served, shot, tmp_path):
    """An output named by a slip as a folder of plates: the take replaces none of them."""
    plate, matte = shot
    plates = tmp_path / "sh020"
    plates.mkdir()
    for number in (1001, 1002):
        shutil.copyfile(plate.replace("####", str(number)), plates / f"f.{number}.exr")
    before = {p.name: p.read_bytes() for p in plates.iterdir()}
    node = movingcolor_node(read_node(plate, 1001, 1006), read_node(matte, 1001, 1006), served.address,
                            plates / "f.####.exr", first=1001, last=1002)  # fmt: skip
    press_fuse(node)
    assert "images MovingColor did not write" in nuke.messages[-1]
    assert "f.1001.exr" in nuke.messages[-1] and "Nothing was written" in nuke.messages[-1]
    assert {p.name: p.read_bytes() for p in plates.iterdir()} == before


def test_a_node_never_fuses_over_the_take_another_node_shows(session, served, shot, tmp_path):
    """Node A shows take v1 and its output was versioned up to v2, not fused yet; node B (a copy, or
    one given v1 by a slip) was compared with A's output knob alone, so its fuse replaced the take A
    shows with B's grade, and A then showed it, in the GUI and on the farm."""
    plate, matte = shot
    first_take = tmp_path / "v1" / "f.####.exr"
    a = movingcolor_node(read_node(plate, 1001, 1006), read_node(matte, 1001, 1006), served.address,
                         first_take, first=1001, last=1002)  # fmt: skip
    movingcolor_nuke.fuse(a)
    take = {p.name: p.read_bytes() for p in first_take.parent.iterdir()}
    a["out"].setValue(str(tmp_path / "v2" / "f.####.exr"))
    b = movingcolor_node(read_node(plate, 1001, 1006), read_node(matte, 1001, 1006), served.address,
                         first_take, first=1001, last=1002)  # fmt: skip
    b["cdl"].setValue("slope=1.5,1,1;offset=0,0,0;power=1,1,1;sat=1")
    with pytest.raises(SettingsError, match=f"is the take {a.fullName()} shows"):
        movingcolor_nuke.fuse(b)
    assert {p.name: p.read_bytes() for p in first_take.parent.iterdir()} == take
    # In proxy mode too: A's proxy take (v1/proxy), shown in proxy mode, is where B's proxy fuse writes.
    nuke.root()["proxy"].setValue(True)
    b["out"].setValue(str(tmp_path / "b" / "f.####.exr"))
    a["out"].setValue(str(first_take))
    movingcolor_nuke.fuse(a)
    a["out"].setValue(str(tmp_path / "v2" / "f.####.exr"))
    b["out"].setValue(str(first_take))
    proxy_take = {p.name: p.read_bytes() for p in (first_take.parent / "proxy").iterdir()}
    with pytest.raises(SettingsError, match=f"proxy-mode output .* is the take {a.fullName()} shows"):
        movingcolor_nuke.fuse(b)
    assert {p.name: p.read_bytes() for p in (first_take.parent / "proxy").iterdir()} == proxy_take


def test_the_take_keeps_the_32_bit_float_the_inputs_are_rendered_at(session, served, shot, tmp_path):
    """The node renders its inputs at 32-bit float but asked for the server's default half-float take:
    every pixel downstream was rounded, and its status gave the command line's hint (--exr-type float)
    for a choice the node has no knob for."""
    import OpenImageIO as oiio
    from movingcolor_hosts import FuseSettings

    plate, matte = shot
    out = tmp_path / "out" / "f.####.exr"
    node = movingcolor_node(read_node(plate, 1001, 1006), read_node(matte, 1001, 1006), served.address, out,
                            first=1001, last=1002)  # fmt: skip
    movingcolor_nuke.fuse(node)
    for number in (1001, 1002):
        image = oiio.ImageInput.open(str(out.parent / f"f.{number}.exr"))
        assert image.spec().format == oiio.FLOAT, number
        image.close()
    assert "exr-type" not in node["status"].value() and "rounded" not in node["status"].value()
    # Resolve's bridge, sharing the settings, keeps the server's default.
    assert "exr_type" not in FuseSettings(server="x", out=str(out), grade=GRADE).client_options()


# -- farm renders: `nuke -x` reads the take ----------------------------------------------------


def test_a_farm_render_of_a_node_never_fused_fails_saying_to_fuse_it(farm, shot, tmp_path):
    """Under `nuke -x` a node never fused (or a pasted copy, which shows its plate until fused) passed
    its plate through: the farm rendered the ungraded plate as the shot's final, without a word."""
    plate, matte = shot
    node = scripted_node(read_node(plate, 1001, 1006), read_node(matte, 1001, 1006), "localhost:1",
                         tmp_path / "o" / "f.####.exr")  # fmt: skip
    write = comp_write(node, tmp_path / "comp" / "c.####.exr")
    with pytest.raises(RuntimeError, match=f"MovingColor node {node.name()} has no take to render.* fuse it"):
        nuke.execute(write, 1001, 1002)
    assert files_under(tmp_path / "comp") == []
    # In the GUI the node passes its plate through until its first fuse, as documented.
    nuke.GUI = True
    nuke.execute(write, 1001, 1001)
    plate_1001 = read_pixels(Path(plate.replace("####", "1001")))
    assert np.array_equal(read_pixels(tmp_path / "comp" / "c.1001.exr"), plate_1001)


def test_a_farm_render_past_a_disabled_node_is_not_checked(farm, shot, tmp_path):
    """A disabled MovingColor node passes its plate through, as any disabled node: an artist who
    disabled an unused one had every farm render fail, told to fuse it."""
    plate, matte = shot
    node = scripted_node(read_node(plate, 1001, 1006), read_node(matte, 1001, 1006), "localhost:1",
                         tmp_path / "o" / "f.####.exr")  # fmt: skip
    node["disable"].setValue(True)
    write = comp_write(node, tmp_path / "comp" / "c.####.exr")
    nuke.execute(write, 1001, 1001)
    plate_1001 = read_pixels(Path(plate.replace("####", "1001")))
    assert np.array_equal(read_pixels(tmp_path / "comp" / "c.1001.exr"), plate_1001)


@pytest.mark.parametrize("saved_by_an_earlier_version", [False, True])
def test_a_farm_render_outside_the_fused_frames_fails_where_the_viewer_shows_the_plate(
    farm, served, shot, tmp_path, saved_by_an_earlier_version
):
    """Frames 1002-1005 fused: under `nuke -x` frames 1001 and 1006 rendered the plate (the Switch shows
    it outside the take's frames, for the artist's viewer), an ungraded frame in a graded shot."""
    plate_pattern, matte = shot
    plate = read_node(plate_pattern, 1001, 1006)
    out = tmp_path / "o" / "f.####.exr"
    node = scripted_node(plate, read_node(matte, 1001, 1006), served.address, out)
    movingcolor_nuke.fuse(node, 1002, 1005)
    if saved_by_an_earlier_version:  # its Switch showed the plate outside the take in renders too
        node.node("fused_or_plate")["which"].setExpression("frame >= fused.first && frame <= fused.last")
        for side in ("before", "after"):
            node.node("fused")[side].setValue("hold")
    write = comp_write(node, tmp_path / "comp" / "c.####.exr")
    nuke.execute(write, 1002, 1005)
    for frame in (1002, 1005):
        fused = read_pixels(tmp_path / "o" / f"f.{frame}.exr")
        assert np.array_equal(read_pixels(tmp_path / "comp" / f"c.{frame}.exr"), fused), frame
    for frame in (1001, 1006):
        with pytest.raises(RuntimeError, match=f"frame {frame} is outside the frame range 1002-1005"):
            nuke.execute(write, frame, frame)
        assert not (tmp_path / "comp" / f"c.{frame}.exr").exists()
    # The artist's viewer shows the plate there.
    nuke.GUI = True
    assert np.array_equal(node._image(1001)["rgba.red"], plate._image(1001)["rgba.red"])


def test_a_farm_render_of_a_take_whose_knobs_changed_since_fails_saying_to_fuse_again(
    farm, served, shot, tmp_path, monkeypatch
):
    """A grade, band, engine or output changed after the fuse, by a pipeline script under `nuke -t` or
    by an artist who saved without fusing again: the farm rendered the old take without a word (the
    status line's word is the GUI's alone). The take's header says what made it."""
    import movingcolor_hosts.takes as takes

    plate, matte = shot
    node = scripted_node(read_node(plate, 1001, 1006), read_node(matte, 1001, 1006), served.address,
                         tmp_path / "o" / "f.####.exr", band="6")  # fmt: skip
    movingcolor_nuke.fuse(node, 1001, 1002)
    write = comp_write(node, tmp_path / "comp" / "c.####.exr")
    read = takes.read_header
    reads = []
    monkeypatch.setattr(takes, "read_header", lambda path: reads.append(path) or read(path))
    nuke.execute(write, 1001, 1002)
    nuke.execute(write, 1001, 1002)
    assert len(reads) == 1  # a header per take, not per frame or per render
    # The same grade and band written another way are the same take.
    node["cdl"].setValue(GRADE.replace(",", " ") + " ")
    node["band"].setValue("6px")
    nuke.execute(write, 1001, 1002)
    changes = [
        ("cdl", "slope=0.5,0.5,2;offset=0;power=1;sat=1", "CDL"),
        ("band", "9", "band width"),
        ("engine", "movingcolor", "engine"),
        ("grade_source", "graded input", "grade from"),
        ("out", str(tmp_path / "v2" / "f.####.exr"), "output"),
    ]
    for knob, value, label in changes:
        before = node[knob].value()
        node[knob].setValue(value)
        with pytest.raises(RuntimeError, match=rf"MovingColor node {node.name()}: its {label} changed since "
                           rf"its take was fused.* fuse it again"):  # fmt: skip
            nuke.execute(write, 1001, 1002)
        # The GUI's renders are the artist's, where the status line says the take is of other knobs.
        nuke.GUI = True
        nuke.execute(write, 1001, 1001)
        nuke.GUI = False
        node[knob].setValue(before)
    nuke.execute(write, 1001, 1002)
    # A take not on the render node (its folder not mounted there) is named as such.
    (tmp_path / "o").rename(tmp_path / "elsewhere")
    with pytest.raises(
        RuntimeError, match=r"none of its take's frames 1001-1002 .* is on this machine; make"
    ):
        nuke.execute(write, 1001, 1002)
