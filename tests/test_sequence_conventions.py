"""The conventions artists expect of file sequences and output colour: Nuke's padding, one sequence
per folder of frames, missing frames shown against those that exist, EXR written scene-linear."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
from conftest import run_cli
from movingcolor.color.config import ColorConfig
from movingcolor.errors import FrameSourceError, MissingFramesError, OutputError
from movingcolor.frames.frame_range import FrameRange, describe_frames
from movingcolor.frames.image_io import read_header, read_pixels, write_image
from movingcolor.frames.output_pattern import output_pattern
from movingcolor.frames.sequence import SequencePattern
from movingcolor.frames.source import open_source
from movingcolor.frames.stream import DecodedImage, FrameStore, StreamSource
from movingcolor.jobs import ShotPlan, ShotSources, ShotSpec

SIZE = (24, 32)  # rows, columns
GRADE = "sat=0.2"


def write_frames(folder: Path, names, value: float = 0.5) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        write_image(folder / name, np.full((*SIZE, 3), value, np.float32))


def write_shot(folder: Path, frames=range(6), digits: int = 5) -> tuple[Path, Path]:
    """An 8-bit PNG plate (a horizontal ramp) and a box matte, ``00000.png`` and on: the layout of
    a DAVIS clip. Returns the plate and matte folders."""
    plate, matte = folder / "frames", folder / "mask"
    plate.mkdir(parents=True)
    matte.mkdir(parents=True)
    ramp = np.linspace(0.05, 0.95, SIZE[1], dtype=np.float32)
    rgb = np.stack([np.tile(ramp, (SIZE[0], 1)), np.full(SIZE, 0.4, np.float32), np.full(SIZE, 0.2)], -1)
    box = np.zeros((*SIZE, 1), np.float32)
    box[8:16, 10:22] = 1.0
    for number in frames:
        write_image(plate / f"{number:0{digits}d}.png", rgb.astype(np.float32))
        write_image(matte / f"{number:0{digits}d}.png", box, channels=("Y",))
    return plate, matte


def far_from_matte(matte_folder: Path, name: str) -> np.ndarray:
    """Pixels well away from the matte's edge (outside any band the tests use)."""
    alpha = read_pixels(matte_folder / name)[..., 0]
    far = np.ones(SIZE, bool)
    far[2:22, 4:28] = False
    assert not (alpha[far] > 0).any()
    return far


# -- 1. padding: what a pattern finds is what it opens -----------------------------------------


@pytest.mark.parametrize("spelling", ["shot.####.exr", "shot.%04d.exr"])
def test_four_hashes_take_four_digits_and_wider_numbers_whole(tmp_path, spelling):
    names = ["shot.0998.exr", "shot.0999.exr", "shot.1000.exr", "shot.12345.exr", "shot.00042.exr"]
    write_frames(tmp_path, names)
    pattern = SequencePattern.parse(tmp_path / spelling)
    assert pattern.frames_on_disk() == [998, 999, 1000, 12345]  # 00042 is five-digit padding
    assert pattern.path(12345).name == "shot.12345.exr" and pattern.path(7).name == "shot.0007.exr"
    source = open_source(tmp_path / spelling, "plate")
    for number in source.frames:  # every frame found opens
        assert source.read(number).shape == (*SIZE, 3)
    assert SequencePattern.parse(tmp_path / "shot.#####.exr").frames_on_disk() == [42, 12345]


@pytest.mark.parametrize("spelling", ["shot.####.exr", "shot.%04d.exr"])
def test_negative_frames_are_named_as_printf_and_nuke_name_them(tmp_path, spelling):
    """The sign takes one of the digits' places (frame -3 of ``%04d`` is ``-003``): frames -3 to -1
    written so were passed over without a word, and the outputs named ``-0003``."""
    write_frames(
        tmp_path, ["shot.-003.exr", "shot.-002.exr", "shot.-001.exr", "shot.0000.exr", "shot.0001.exr"]
    )
    pattern = SequencePattern.parse(tmp_path / spelling)
    assert pattern.frames_on_disk() == [-3, -2, -1, 0, 1]
    assert pattern.path(-3).name == "shot.-003.exr" and pattern.path(-12345).name == "shot.-12345.exr"
    # The folder given alone is the same one sequence (it was split into ``###`` for the negative
    # frames and ``####``, and the ``###`` it suggested matched nothing).
    assert open_source(tmp_path, "plate").frames == [-3, -2, -1, 0, 1]


@pytest.mark.parametrize("spelling", ["f.%d.png", "f.#.png"])
def test_unpadded_numbers_take_percent_d_or_one_hash(tmp_path, spelling):
    write_frames(tmp_path, [f"f.{n}.png" for n in (1, 2, 10, 1001)] + ["f.0003.png"])
    source = open_source(tmp_path / spelling, "plate")
    assert source.frames == [1, 2, 10, 1001]
    assert all(source.read(n).shape == (*SIZE, 3) for n in source.frames)


def test_five_digit_plates_named_with_four_hashes_say_which_pattern_reads_them(tmp_path):
    plate, _ = write_shot(tmp_path / "bear")
    with pytest.raises(FrameSourceError) as refused:
        open_source(plate / "####.png", "plate")
    message = str(refused.value)
    assert message.startswith("--plate: no frames match")
    assert f"the folder holds {plate}/#####.png (5-digit padding, frames 00000-00005)" in message
    assert message.endswith(f"use --plate {plate}/#####.png")
    assert "cannot open" not in message
    assert open_source(plate / "#####.png", "plate").frames == list(range(6))
    assert open_source(plate / "%05d.png", "plate").frames == list(range(6))


def test_a_folder_of_inconsistently_padded_frames_is_two_sequences(tmp_path):
    write_frames(tmp_path, [f"{n:04d}.png" for n in range(1, 4)] + [f"{n}.png" for n in range(7, 12)])
    with pytest.raises(FrameSourceError) as refused:
        open_source(tmp_path, "matte")
    assert "holds 2 image sequences" in str(refused.value)
    assert f"{tmp_path}/####.png (0001-0003)" in str(refused.value)
    assert f"{tmp_path}/#.png (7-11)" in str(refused.value)
    for spelling, frames in (("####.png", [1, 2, 3]), ("%d.png", list(range(7, 12)))):
        source = open_source(tmp_path / spelling, "matte")
        assert source.frames == frames and all(source.read(n) is not None for n in frames)


def test_space_padded_printf_is_refused_with_the_zero_padded_spelling(tmp_path):
    with pytest.raises(FrameSourceError, match=r"%4d pads with spaces; write %04d"):
        SequencePattern.parse(tmp_path / "shot.%4d.exr")
    with pytest.raises(FrameSourceError, match=r"%4d pads with spaces"):
        output_pattern(str(tmp_path / "f.%4d.exr"), "shot")


def test_output_patterns_pad_as_input_patterns_read(tmp_path):
    for spelling, frame, name in (
        ("f.####.exr", 7, "f.0007.exr"),
        ("f.####.exr", 12345, "f.12345.exr"),
        ("f.%03d.png", 1001, "f.1001.png"),
        ("f.%d.tif", 7, "f.7.tif"),
    ):
        pattern = output_pattern(str(tmp_path / spelling), "shot")
        write_frames(tmp_path, [pattern.path(frame).name])
        assert pattern.path(frame).name == name
        assert pattern.frames_on_disk() == [frame]  # read back by the same pattern
        (tmp_path / name).unlink()


# -- 2. a folder of frames holds one sequence ------------------------------------------------------


def test_several_sequences_in_a_plate_folder_are_listed_as_usable_patterns(tmp_path):
    plate, _ = write_shot(tmp_path / "bear")
    write_frames(plate, [f"fused.{n:04d}.exr" for n in range(6)])
    with pytest.raises(FrameSourceError) as refused:
        open_source(plate, "plate")
    assert str(refused.value) == (
        f"--plate {plate} holds 2 image sequences: {plate}/#####.png (00000-00005), "
        f"{plate}/fused.####.exr (0000-0005); pass one of them as --plate"
    )
    assert open_source(f"{plate}/fused.####.exr", "plate").frames == list(range(6))


def test_out_given_the_plate_folder_writes_into_a_subfolder_and_the_plates_stay_usable(tmp_path, caplog):
    plate, matte = write_shot(tmp_path / "bear")
    plates_before = sorted(p.name for p in plate.iterdir())
    fuse = ["fuse", "--plate", plate, "--matte", matte, "--grade", GRADE, "--engine", "hard"]
    with caplog.at_level(logging.WARNING, logger="movingcolor"):
        assert run_cli(*fuse, "--out", plate) == 0
    assert f"--out {plate} holds other image sequences" in caplog.text
    assert f"fused frames go to {plate}/fused/fused.####.exr" in caplog.text
    assert sorted(p.name for p in (plate / "fused").iterdir()) == [f"fused.{n:04d}.exr" for n in range(6)]
    assert sorted(p.name for p in plate.iterdir()) == [*plates_before, "fused"]
    # The plate folder still is one sequence: the next run reads it, and resumes the frames in place.
    assert open_source(plate, "plate").frames == list(range(6))
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="movingcolor"):
        assert run_cli(*fuse, "--out", plate) == 0
    assert "6 of 6 frames already written" in caplog.text


def test_a_folder_holding_only_earlier_outputs_is_written_in_place(tmp_path):
    plate, matte = write_shot(tmp_path / "bear")
    out = tmp_path / "renders"
    fuse = ["fuse", "--plate", plate, "--matte", matte, "--grade", GRADE, "--engine", "hard"]
    assert run_cli(*fuse, "--out", out) == 0
    assert run_cli(*fuse, "--grade", "sat=0.5", "--out", out) == 0  # the folder holds MovingColor's frames
    assert sorted(p.name for p in out.iterdir()) == [f"fused.{n:04d}.exr" for n in range(6)]
    assert output_pattern(str(out), "").directory == out


# -- 3. missing frames are shown against the frames that exist ------------------------------------


def test_missing_frames_name_the_frames_that_exist_as_ranges(tmp_path):
    numbers = [*range(1001, 1041), *range(1043, 1081)]
    write_frames(tmp_path, [f"shot.{n}.exr" for n in numbers])
    source = open_source(tmp_path / "shot.####.exr", "plate")
    with pytest.raises(MissingFramesError) as refused:
        source.require(FrameRange(1001, 1080))
    message = str(refused.value)
    assert "missing 2 of frames 1001-1080: 1041, 1042" in message
    assert "frames 1001-1040, 1043-1080 exist" in message


def test_frames_full_of_holes_stay_one_line():
    assert describe_frames([5, 1, 2, 3, 9]) == "1-3, 5, 9"
    assert describe_frames([0, 1, 79], padding=5) == "00000-00001, 00079"
    holes = describe_frames(range(0, 40, 2), most=4)
    assert holes == "0, 2, 4, ... 38 (20 runs)"


# -- 4. EXR outputs are scene-linear ------------------------------------------------------------


def fuse_frame(plate: Path, matte: Path, out: str, *extra) -> Path:
    assert run_cli("fuse", "--plate", plate, "--matte", matte, "--grade", GRADE, "--engine", "hard",
                   "--frames", "2", "--out", out, *extra) == 0  # fmt: skip
    return Path(out.replace("####", "0002"))


def test_an_exr_from_a_png_plate_is_scene_linear_by_default(tmp_path, caplog):
    plate, matte = write_shot(tmp_path / "shot")
    config = ColorConfig()
    with caplog.at_level(logging.INFO, logger="movingcolor"):
        written = fuse_frame(plate, matte, str(tmp_path / "out" / "f.####.exr"))
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("output colourspace")]
    assert lines == [f"output colourspace: {config.scene_linear} (default for EXR outputs: the config's "
                     f"scene_linear role, as EXR readers take them; --out-colorspace overrides)"]  # fmt: skip
    assert read_header(written).attributes["movingcolor:colorspace"] == config.scene_linear
    far = far_from_matte(matte, "00002.png")
    encoded = read_pixels(plate / "00002.png")
    linear = config.convert(encoded, config.srgb_encoded, config.scene_linear)
    fused = read_pixels(written)
    assert np.abs(fused[far] - linear[far]).max() < 2e-3  # half floats
    assert np.abs(fused[far] - encoded[far]).max() > 0.05  # not the sRGB-encoded values


def test_out_colorspace_overrides_the_exr_default(tmp_path):
    plate, matte = write_shot(tmp_path / "shot")
    config = ColorConfig()
    written = fuse_frame(plate, matte, str(tmp_path / "f.####.exr"), "--out-colorspace", config.srgb_encoded)
    assert read_header(written).attributes["movingcolor:colorspace"] == config.srgb_encoded
    far = far_from_matte(matte, "00002.png")
    assert np.abs(read_pixels(written)[far] - read_pixels(plate / "00002.png")[far]).max() < 2e-3


def test_an_integer_output_keeps_an_integer_plate_encoding(tmp_path):
    plate, matte = write_shot(tmp_path / "shot")
    written = fuse_frame(plate, matte, str(tmp_path / "f.####.png"))
    far = far_from_matte(matte, "00002.png")
    assert np.array_equal(read_pixels(written)[far], read_pixels(plate / "00002.png")[far])


def test_an_integer_output_of_a_float_plate_is_srgb_encoded(tmp_path):
    plate, matte = write_shot(tmp_path / "shot")
    config = ColorConfig()
    linear_plate = tmp_path / "linear"
    linear_plate.mkdir()
    for number in range(6):
        encoded = read_pixels(plate / f"{number:05d}.png")
        linear = config.convert(encoded, config.srgb_encoded, config.scene_linear)
        write_image(linear_plate / f"{number:05d}.exr", linear, pixel_type="float")
    written = fuse_frame(linear_plate, matte, str(tmp_path / "f.####.png"))
    far = far_from_matte(matte, "00002.png")
    assert np.abs(read_pixels(written)[far] - read_pixels(plate / "00002.png")[far]).max() <= 1.5 / 255


def test_a_streamed_shot_takes_the_same_default_from_its_output_format(tmp_path):
    plate, matte = write_shot(tmp_path / "shot")
    config = ColorConfig()
    store = FrameStore(("plate", "matte"), list(range(6)))
    for number in range(6):
        name = f"{number:05d}.png"
        store.put("plate", number, DecodedImage(read_pixels(plate / name), ("R", "G", "B"), "", False))
        store.put("matte", number, DecodedImage(read_pixels(matte / name), ("Y",), "", False))
    store.finish()
    spec = ShotSpec(plate="streamed plate", matte="streamed matte", out="", grade=GRADE, engine="hard")
    sources = ShotSources(StreamSource(store, "plate"), StreamSource(store, "matte"), release=store.release)
    outputs = {}
    for output_format in (".exr", ".png", None):
        plan = ShotPlan.stream(spec, sources, output_format=output_format)
        outputs[output_format] = plan.colorspaces.output
    assert outputs == {".exr": config.scene_linear, ".png": config.srgb_encoded, None: config.srgb_encoded}
    files = ShotPlan.files(ShotSpec(plate=str(plate), matte=str(matte), out=str(tmp_path / "f.####.exr"),
                                    grade=GRADE, engine="hard"))  # fmt: skip
    files.close()
    assert files.colorspaces.by_role["output"] == outputs[".exr"]


@pytest.mark.parametrize(
    ("given", "ours"), [("p.@@@@.exr", "p.####.exr"), ("p.$F4.exr", "p.####.exr"), ("p.$F.exr", "p.#.exr")]
)
def test_another_tools_frame_token_is_named_with_ours(tmp_path, given, ours):
    """RV's and Shake's ``@@@@`` and Houdini's ``$F4`` said only "does not exist" (and as an output,
    suggested ``o.@@@@.####.exr``): the error gives the pattern written our way. A folder or file
    name holding ``@`` otherwise is left alone."""
    from movingcolor.errors import OutputError
    from movingcolor.frames.output_pattern import output_pattern

    with pytest.raises(
        FrameSourceError, match=f"written #### or %04d here, not @@@@ or \\$F4; give .*{ours}"
    ):
        open_source(tmp_path / given, "plate")
    with pytest.raises(OutputError, match=f"written #### or %04d here, not @@@@ or \\$F4; give .*{ours}"):
        output_pattern(str(tmp_path / given), "plate")
    assert output_pattern(str(tmp_path / "shot@v2"), "plate").directory == tmp_path / "shot@v2"
    # Names that hold an @ or a $F word are names, not another tool's token.
    for name in ("logo@2x.png", "matte_$FINAL.exr", "ana@studio.com_matte.exr"):
        with pytest.raises(FrameSourceError, match="does not exist"):
            open_source(tmp_path / name, "matte")


# -- names that look like patterns, names that are not text ---------------------------------------


def test_a_folder_or_still_whose_name_holds_a_hash_is_that_folder_or_still(tmp_path):
    """``take#3`` and ``roto#final.png`` are names as often as patterns: one that exists was read as
    a pattern and refused ("no frames match")."""
    plate, matte = write_shot(tmp_path / "take#3")
    assert open_source(plate, "plate").frames == list(range(6))
    still = tmp_path / "roto#final.png"
    still.write_bytes((matte / "00000.png").read_bytes())
    source = open_source(still, "matte")
    assert source.frames is None or source.read(3).shape[:2] == SIZE
    folder = tmp_path / "out#1"
    code = run_cli("fuse", "--plate", plate, "--matte", matte, "--grade", GRADE, "--engine", "hard",
                   "--out", f"{folder}/", "-q")  # fmt: skip
    assert code == 0 and sorted(p.name for p in folder.iterdir()) == [f"fused.{n:04d}.exr" for n in range(6)]
    # Existing now, the same folder named without its slash is still the folder.
    assert output_pattern(str(folder), "").directory == folder
    with pytest.raises(OutputError, match=r"read as the frame number.*end a folder's name with /"):
        output_pattern(str(tmp_path / "new#2"), "frames")


def test_a_path_that_is_not_utf8_is_refused_naming_it_before_anything_is_made(tmp_path, capsys):
    """OpenImageIO takes names as text: a Latin-1 folder's name failed with a TypeError (exit 1, no
    JSON), and an output folder in one was made empty before the failure."""
    import json
    import os

    plate, matte = write_shot(tmp_path / "ok")
    latin = Path(os.fsdecode(bytes(tmp_path) + b"/lat\xe9"))
    latin.mkdir()
    (latin / "frames").symlink_to(plate)
    code = run_cli("fuse", "--plate", latin / "frames", "--matte", matte, "--grade", GRADE,
                   "--engine", "hard", "--out", tmp_path / "out", "--json")  # fmt: skip
    error = json.loads(capsys.readouterr().out)["error"]
    assert code == 2 and "the name 'lat\\xe9' is not UTF-8 text" in error and "convmv" in error
    out = latin / "out"
    code = run_cli("fuse", "--plate", plate, "--matte", matte, "--grade", GRADE,
                   "--engine", "hard", "--out", f"{out}/f.####.exr", "--json")  # fmt: skip
    error = json.loads(capsys.readouterr().out)["error"]
    assert code == 2 and error.startswith("output ") and "is not UTF-8 text" in error
    assert not out.exists()


def test_one_frame_of_a_matte_sequence_given_as_a_still_is_said(tmp_path, caplog):
    plate, matte = write_shot(tmp_path / "shot")
    caplog.set_level(logging.WARNING, logger="movingcolor")
    open_source(matte / "00002.png", "matte")
    assert f"matte {matte}/00002.png is frame 2 of {matte}/#####.png (00000-00005)" in caplog.text
    assert f"give {matte}/#####.png to use the sequence" in caplog.text
    caplog.clear()
    alone = tmp_path / "alone"
    alone.mkdir()
    (alone / "00002.png").write_bytes((matte / "00002.png").read_bytes())
    open_source(alone / "00002.png", "matte")
    assert caplog.text == ""


def test_frames_of_the_same_name_padded_otherwise_beside_a_pattern_are_said(tmp_path, caplog):
    """A renderer that wrote ``shot.1.exr`` beside ``shot.0002.exr`` shortened the shot unseen."""
    write_frames(tmp_path, ["shot.1.exr", "shot.0002.exr", "shot.0003.exr"])
    caplog.set_level(logging.WARNING, logger="movingcolor")
    assert open_source(tmp_path / "shot.####.exr", "plate").frames == [2, 3]
    assert f"the folder also holds {tmp_path}/shot.#.exr (1), named alike but padded otherwise" in caplog.text
    caplog.clear()
    (tmp_path / "shot.1.exr").unlink()
    open_source(tmp_path / "shot.####.exr", "plate")
    # Numbers wider than the padding are the pattern's own files, not others padded otherwise.
    write_frames(tmp_path / "wide", ["shot.1001.exr", "shot.1002.exr"])
    assert open_source(tmp_path / "wide" / "shot.###.exr", "plate").frames == [1001, 1002]
    assert caplog.text == ""


def test_an_unpadded_pattern_over_frames_padded_to_four_digits_names_the_pattern_that_reads_them_all(
    tmp_path, caplog
):
    """shot.#.exr over shot.0998.exr-shot.1001.exr reads 1000 on: the pre-roll was dropped with the
    advice to rename frames that are already of one padding."""
    write_frames(tmp_path, [f"shot.{n:04d}.exr" for n in range(998, 1002)])
    caplog.set_level(logging.WARNING, logger="movingcolor")
    assert open_source(tmp_path / "shot.#.exr", "plate").frames == [1000, 1001]
    wider = f"{tmp_path}/shot.####.exr"
    assert (
        f"--plate {tmp_path}/shot.#.exr reads frames 1000-1001 alone: the folder's frames are padded to 4 "
        f"digits, and {wider} reads them all (0998-1001); give --plate {wider}"
    ) in caplog.text
    assert "rename" not in caplog.text


def test_an_output_in_the_way_is_refused_before_any_frame_is_written(tmp_path):
    plate, matte = write_shot(tmp_path / "shot")
    a_file = tmp_path / "afile"
    a_file.write_text("notes")
    with pytest.raises(OutputError, match=r"'.*afile' is a file, and fused frames are a sequence"):
        output_pattern(str(a_file), "frames")
    out = tmp_path / "out"
    (out / "f.0003.exr").mkdir(parents=True)
    code = run_cli("fuse", "--plate", plate, "--matte", matte, "--grade", GRADE, "--engine", "hard",
                   "--out", f"{out}/f.####.exr", "-q")  # fmt: skip
    assert code == 2 and sorted(p.name for p in out.iterdir()) == ["f.0003.exr"]
    assert a_file.read_text() == "notes"


def test_the_client_reads_a_shot_s_names_as_a_shot_fused_in_process_reads_them(tmp_path):
    """``movingcolor fuse --server`` lists the files it sends itself: the same rules."""
    import os

    from movingcolor_client.sources import FileFrames

    plate, matte = write_shot(tmp_path / "take#3")
    assert FileFrames({"plate": plate, "matte": matte}).clip == list(range(6))
    latin = Path(os.fsdecode(bytes(tmp_path) + b"/lat\xe9"))
    latin.symlink_to(plate)
    with pytest.raises(FrameSourceError, match=r"the name 'lat\\xe9' is not UTF-8 text"):
        FileFrames({"plate": latin, "matte": matte})


def test_a_folder_holding_another_shots_fused_frames_gets_this_shots_in_a_subfolder(tmp_path, caplog):
    """MovingColor's frames of another name (another plate's, the demo's ``hard`` renders) made the
    folder count as this shot's own: the two sequences were mixed in it without a word."""
    plate, matte = write_shot(tmp_path / "bear")
    out = tmp_path / "renders"
    fuse = ["fuse", "--plate", plate, "--matte", matte, "--grade", GRADE, "--engine", "hard"]
    assert run_cli(*fuse, "--out", out / "other.####.exr") == 0
    with caplog.at_level(logging.WARNING, logger="movingcolor"):
        assert run_cli(*fuse, "--out", out) == 0
    assert f"--out {out} holds other image sequences ({out}/other.####.exr (0000-0005))" in caplog.text
    assert sorted(p.name for p in (out / "fused").iterdir()) == [f"fused.{n:04d}.exr" for n in range(6)]
