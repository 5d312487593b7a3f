"""The command line end to end on generated shots, and every kind of bad input."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import max_abs, needs_oiiotool, output_files, run_cli
from movingcolor.color.config import ColorConfig
from movingcolor.frames.image_io import read_header, read_pixels, write_image
from movingcolor.jobs.demo_shot import DEMO_GRADE


def test_fuse_writes_exr_with_header_and_json(demo_inputs, tmp_path, capsys):
    plate, matte = demo_inputs
    out = tmp_path / "out" / "fused.####.exr"
    status = run_cli(
        "fuse",
        "--plate",
        plate,
        "--matte",
        matte,
        "--grade",
        DEMO_GRADE,
        "--engine",
        "guided",
        "--out",
        out,
        "--frames",
        "1002-1004",
        "--band",
        "8%",
        "--json",
    )
    assert status == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["frames"] == "1002-1004" and len(summary["written"]) == 3
    header = read_header(tmp_path / "out" / "fused.1003.exr")
    assert header.pixel_type == "half"
    assert ColorConfig().resolve(header.colorspace) == "ACEScg"
    assert header.attributes["movingcolor:colorspace"] == "ACEScg"
    assert header.attributes["movingcolor:frame"] == 1003
    assert header.attributes["movingcolor:engine"] == "guided"
    assert header.attributes["movingcolor:model"] == "none"
    assert header.attributes["compression"] == "zip"


def test_a_failed_fuse_with_json_says_why_on_stdout(tmp_path, capsys):
    """A pipeline reading ``fuse ... --json > fuse.json`` found an empty file when the run failed."""
    import signal

    missing, out = tmp_path / "plate.####.exr", tmp_path / "o" / "f.####.exr"
    status = run_cli("fuse", "--plate", missing, "--grade", DEMO_GRADE, "--out", out, "--json")
    captured = capsys.readouterr()
    assert status == 2
    summary = json.loads(captured.out)
    assert summary["exit_code"] == 2 and str(tmp_path) in summary["error"]
    assert f"movingcolor: error: {summary['error']}" in captured.err
    # The command's SIGTERM handling ends with the command: a caller's process keeps its own.
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL


def test_output_passes_oiiotool_info(demo_inputs, tmp_path):
    tool = needs_oiiotool()
    plate, matte = demo_inputs
    assert (
        run_cli(
            "fuse",
            "--plate",
            plate,
            "--matte",
            matte,
            "--grade",
            DEMO_GRADE,
            "--engine",
            "feather",
            "--out",
            tmp_path / "f.####.exr",
            "--frames",
            "1001-1002",
            "--exr-type",
            "float",
            "--compression",
            "piz",
        )
        == 0
    )
    info = subprocess.run(
        [tool, "--info", "-v", str(tmp_path / "f.1001.exr")], capture_output=True, text=True
    )
    assert info.returncode == 0, info.stderr
    assert "320 x  180, 3 channel, float openexr" in info.stdout
    assert 'movingcolor:engine: "feather"' in info.stdout
    assert 'compression: "piz"' in info.stdout


def test_handles_extend_the_range_within_the_sources(demo_inputs, tmp_path):
    plate, matte = demo_inputs
    assert (
        run_cli(
            "fuse",
            "--plate",
            plate,
            "--matte",
            matte,
            "--grade",
            DEMO_GRADE,
            "--engine",
            "hard",
            "--out",
            tmp_path,
            "--frames",
            "1002-1003",
            "--handles",
            "2",
        )
        == 0
    )
    names = [p.name for p in output_files(tmp_path)]
    assert names == [f"plate.{n}.exr" for n in range(1001, 1006)]


def test_the_writer_is_handed_the_files_own_samples(demo_inputs, tmp_path, monkeypatch):
    """A shot's frames queue for one writer thread: it is handed half samples for a half EXR and
    float32 for a float one, made while the next frame is fused, so that thread only encodes; the
    files hold the same samples either way."""
    from movingcolor.jobs import run

    handed = []
    write_image_itself = run.write_image

    def recording(path, pixels, **options):
        handed.append(pixels.dtype)
        return write_image_itself(path, pixels, **options)

    monkeypatch.setattr(run, "write_image", recording)
    plate, matte = demo_inputs
    written = {}
    for exr_type, kind in (("half", np.float16), ("float", np.float32)):
        handed.clear()
        out = tmp_path / exr_type / "f.####.exr"
        arguments = ["--plate", plate, "--matte", matte, "--grade", DEMO_GRADE, "--out", out]
        status = run_cli(
            "fuse", *arguments, "--engine", "feather", "--exr-type", exr_type, "--frames", "1001-1002"
        )
        assert status == 0 and handed == [kind, kind]
        written[exr_type] = read_pixels(tmp_path / exr_type / "f.1002.exr")
    assert np.array_equal(written["half"], written["float"].astype(np.float16).astype(np.float32))


def test_png_plate_gives_png_frames_equal_outside_the_band(tmp_path, demo_inputs):
    plate_exr, matte = demo_inputs
    pngs = tmp_path / "png"
    pngs.mkdir()
    config = ColorConfig()
    for n in range(1001, 1004):
        linear = read_pixels(plate_exr.replace("####", str(n)))
        write_image(pngs / f"p.{n}.png", config.convert(linear, "ACEScg", config.srgb_encoded))
    out = tmp_path / "out" / "f.%04d.png"
    assert (
        run_cli(
            "fuse",
            "--plate",
            pngs / "p.####.png",
            "--matte",
            matte,
            "--grade",
            "exposure=0.5;warmth=0.4",
            "--engine",
            "guided",
            "--out",
            out,
            "--band",
            "6",
        )
        == 0
    )
    fused = read_pixels(tmp_path / "out" / "f.1002.png")
    original = read_pixels(pngs / "p.1002.png")
    alpha = read_pixels(matte.replace("####", "1002"))[..., 0]
    assert fused.shape == original.shape
    far_outside = alpha == 0
    from scipy import ndimage

    far_outside &= ~ndimage.binary_dilation(alpha > 0, iterations=12)
    assert np.array_equal(fused[far_outside], original[far_outside])
    assert max_abs(fused[alpha == 1].mean(0), original[alpha == 1].mean(0)) > 0.05


def test_the_interop_id_of_a_fused_exr_is_its_configs_never_a_guess_from_its_name(demo_inputs, tmp_path):
    """A show's config whose scene-linear space is called "linear" but holds ACEScg: the EXR said
    colorInteropID lin_rec709_scene (OpenImageIO's meaning of the name), so tools reading it took
    AP1 pixels for Rec.709. The built-in config's spaces carry their own IDs, written as they are."""
    import PyOpenColorIO as ocio
    from movingcolor.frames.image_io import read_header

    plate, matte = demo_inputs
    config = ocio.Config.CreateFromFile("ocio://default")
    linear = ocio.ColorSpace(name="linear")
    linear.setTransform(
        ocio.ColorSpaceTransform(src="ACEScg", dst="ACES2065-1"), ocio.COLORSPACE_DIR_TO_REFERENCE
    )
    config.addColorSpace(linear)
    show = tmp_path / "show.ocio"
    show.write_text(config.serialize())

    def fused_header(out: Path, *options) -> dict:
        arguments = ["--grade", DEMO_GRADE, "--engine", "hard", "--frames", "1001", "--out", out, *options]
        assert run_cli("fuse", "--plate", plate, "--matte", matte, *arguments) == 0
        return read_header(out.parent / "f.1001.exr").attributes

    attributes = fused_header(
        tmp_path / "show" / "f.####.exr", "--config", show, "--out-colorspace", "linear"
    )
    assert attributes["movingcolor:colorspace"] == "linear"
    assert not {"oiio:ColorSpace", "colorInteropID"} & set(attributes), attributes
    attributes = fused_header(tmp_path / "builtin" / "f.####.exr", "--out-colorspace", "ACEScg")
    assert attributes.get("colorInteropID", attributes.get("oiio:ColorSpace")) == "lin_ap1_scene", attributes


def test_a_range_that_starts_with_a_negative_frame_is_taken(tmp_path):
    """``--frames -2--1`` was refused ("expected one argument"): argparse took the range for an option."""
    from movingcolor.frames.image_io import write_image

    (tmp_path / "plate").mkdir()
    matte = np.zeros((12, 16, 1), np.float32)
    matte[3:9, 4:12] = 1.0
    for name in ("-002", "-001", "0000", "0001"):
        write_image(tmp_path / "plate" / f"p.{name}.exr", np.full((12, 16, 3), 0.4, np.float32))
        write_image(tmp_path / "plate" / f"m.{name}.exr", matte)
    out = tmp_path / "out" / "f.####.exr"
    arguments = ["--plate", tmp_path / "plate" / "p.####.exr", "--matte", tmp_path / "plate" / "m.####.exr"]
    arguments += ["--grade", "sat=1.2", "--engine", "hard"]
    assert run_cli("fuse", *arguments, "--frames", "-2--1", "--out", out) == 0
    assert sorted(path.name for path in out.parent.iterdir()) == ["f.-001.exr", "f.-002.exr"]


def test_handles_end_at_a_gap_in_the_numbering(tmp_path, caplog):
    """Handles ran into a gap (frames 1, 2, 5, 9; --frames 1-2 --handles 2): "handles limited to
    1-4", then the shot stopped on the missing frames 3 and 4. A gap ends them as the clip's ends do."""
    from movingcolor.frames.image_io import write_image

    (tmp_path / "plate").mkdir()
    matte = np.zeros((12, 16, 1), np.float32)
    matte[3:9, 4:12] = 1.0
    for number in (1, 2, 5, 9):
        write_image(tmp_path / "plate" / f"p.{number:04d}.exr", np.full((12, 16, 3), 0.4, np.float32))
        write_image(tmp_path / "plate" / f"m.{number:04d}.exr", matte)
    out = tmp_path / "out" / "f.####.exr"
    arguments = ["--plate", tmp_path / "plate" / "p.####.exr", "--matte", tmp_path / "plate" / "m.####.exr"]
    arguments += ["--grade", "sat=1.2", "--engine", "guided", "--out", out]
    with caplog.at_level("WARNING"):
        assert run_cli("fuse", *arguments, "--frames", "1-2", "--handles", "2") == 0
    assert "handles limited to the available frames: 1-2 instead of -1-4" in caplog.text
    assert sorted(path.name for path in out.parent.iterdir()) == ["f.0001.exr", "f.0002.exr"]


def test_out_colorspace(demo_inputs, tmp_path):
    plate, matte = demo_inputs
    assert (
        run_cli(
            "fuse",
            "--plate",
            plate,
            "--matte",
            matte,
            "--grade",
            DEMO_GRADE,
            "--engine",
            "hard",
            "--frames",
            "1001",
            "--out",
            tmp_path / "f.####.exr",
            "--out-colorspace",
            "ACEScct",
        )
        == 0
    )
    assert read_header(tmp_path / "f.1001.exr").attributes["movingcolor:colorspace"] == "ACEScct"


def test_a_graded_plate_declaring_no_colourspace_is_read_in_the_plates(tmp_path, capsys):
    """A log plate named by --plate-colorspace and its graded render, neither declaring a colourspace:
    the graded plate is the plate's colourspace, as the option's help says (it was read as
    scene-linear, the float default, and the graded region came out in other colours)."""
    import json

    rng = np.random.default_rng(5)
    for folder, lift in (("plate", 0.0), ("graded", 0.05)):
        (tmp_path / folder).mkdir()
        for n in (1, 2):
            codes = 0.3 + 0.3 * rng.random((24, 32, 3), dtype=np.float32) + lift  # ACEScct code values
            write_image(tmp_path / folder / f"{folder}.{n:04d}.exr", codes, pixel_type="float")
    white = tmp_path / "white.exr"
    write_image(white, np.ones((24, 32, 1), np.float32), channels=("Y",), pixel_type="float")
    common = ["--plate", tmp_path / "plate" / "plate.####.exr", "--plate-colorspace", "ACEScct"]
    common += ["--graded", tmp_path / "graded" / "graded.####.exr", "--matte", white, "--engine", "hard"]
    common += ["--exr-type", "float", "--json"]
    assert run_cli("fuse", *common, "--out", tmp_path / "a" / "f.####.exr") == 0
    assert json.loads(capsys.readouterr().out)["colorspaces"]["graded"] == "ACEScct"
    assert (
        run_cli("fuse", *common, "--graded-colorspace", "ACEScct", "--out", tmp_path / "b" / "f.####.exr")
        == 0
    )
    capsys.readouterr()
    assert np.array_equal(
        read_pixels(tmp_path / "a" / "f.0001.exr"), read_pixels(tmp_path / "b" / "f.0001.exr")
    )


def _bare_png(path: Path, codes: np.ndarray) -> None:
    """An 8-bit RGB PNG with no chunk that declares its encoding (OpenImageIO always writes one)."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    height, width = codes.shape[:2]
    rows = b"".join(b"\0" + codes[y].astype(np.uint8).tobytes() for y in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows))
                     + chunk(b"IEND", b""))  # fmt: skip


def test_a_png_that_declares_nothing_is_read_as_undeclared(tmp_path, capsys):
    """OpenImageIO reports every PNG as sRGB: a graded PNG render declaring nothing was taken as
    declared sRGB, not as the plate's colourspace, beside a plate named Gamma 2.4."""
    import json

    rng = np.random.default_rng(8)
    for folder in ("plate", "graded"):
        (tmp_path / folder).mkdir()
        _bare_png(tmp_path / folder / f"{folder}.0001.png", rng.integers(0, 256, (16, 24, 3)))
    assert read_header(tmp_path / "plate" / "plate.0001.png").colorspace == ""
    white = tmp_path / "white.exr"
    write_image(white, np.ones((16, 24, 1), np.float32), channels=("Y",), pixel_type="float")
    assert run_cli("fuse", "--plate", tmp_path / "plate" / "plate.####.png", "--plate-colorspace",
                   "Gamma 2.4 Encoded Rec.709", "--graded", tmp_path / "graded" / "graded.####.png",
                   "--matte", white, "--engine", "hard", "--json",
                   "--out", tmp_path / "out" / "f.####.exr") == 0  # fmt: skip
    assert json.loads(capsys.readouterr().out)["colorspaces"]["graded"] == "Gamma 2.4 Encoded Rec.709"


def test_a_matte_whose_alpha_is_opaque_says_the_alpha_was_read(demo_inputs, tmp_path, caplog):
    """A matte exported as RGB plus an opaque alpha whose first frame shows no shape (the object not
    yet in view) is not known for a roto in RGB (whose picture is read, a test of its own): it grades
    the whole frame, and the warning says the alpha is what was read."""
    plate, _ = demo_inputs
    height, width = read_pixels(Path(plate.replace("####", "1001"))).shape[:2]
    shape = np.zeros((height, width, 4), np.float32)
    shape[..., 3] = 1.0
    (tmp_path / "matte").mkdir()
    for number in (1001, 1002):
        write_image(tmp_path / "matte" / f"m.{number}.exr", shape, channels=("R", "G", "B", "A"))
        shape[height // 4 : -height // 4, width // 4 : -width // 4, :3] = 1.0
    with caplog.at_level("WARNING", logger="movingcolor"):
        matte, out = tmp_path / "matte" / "m.####.exr", tmp_path / "o" / "f.####.exr"
        status = run_cli("fuse", "--plate", plate, "--matte", matte, "--grade", DEMO_GRADE,
                         "--engine", "hard", "--frames", "1001-1002", "--out", out)  # fmt: skip
    assert status == 0
    assert "the matte is full on every frame (1001-1002)" in caplog.text
    assert "a matte with an alpha channel is read from its alpha" in caplog.text


def test_the_plate_given_as_its_own_graded_or_edited_plate_is_warned_of(demo_inputs, tmp_path, caplog):
    """--edited or --graded naming the plate itself came back as the plate without a word, where a
    grade that changes nothing is warned of."""
    plate, matte = demo_inputs
    for mode in ("--graded", "--edited"):
        caplog.clear()
        with caplog.at_level("WARNING", logger="movingcolor"):
            out = tmp_path / mode.strip("-") / "f.####.exr"
            assert run_cli("fuse", "--plate", plate, "--matte", matte, mode, plate, "--engine", "hard",
                           "--frames", "1001", "--out", out) == 0  # fmt: skip
        assert f"the {mode.strip('-')} plate is the plate itself" in caplog.text


def test_graded_and_edited_inputs(demo_inputs, tmp_path):
    """--graded composites a whole graded plate; --edited recovers the grade from a composite."""
    plate, matte = demo_inputs
    graded = tmp_path / "graded"
    white = tmp_path / "white.exr"
    write_image(white, np.ones((180, 320, 1), np.float32), channels=("Y",), pixel_type="float")
    assert (
        run_cli(
            "fuse",
            "--plate",
            plate,
            "--matte",
            white,
            "--grade",
            DEMO_GRADE,
            "--engine",
            "hard",
            "--out",
            graded / "g.####.exr",
            "--exr-type",
            "float",
        )
        == 0
    )
    via_grade = tmp_path / "a"
    via_graded = tmp_path / "b"
    common = [
        "--plate",
        plate,
        "--matte",
        matte,
        "--engine",
        "guided",
        "--frames",
        "1001-1003",
        "--exr-type",
        "float",
    ]
    assert run_cli("fuse", *common, "--grade", DEMO_GRADE, "--out", via_grade / "f.####.exr") == 0
    assert (
        run_cli("fuse", *common, "--graded", graded / "g.####.exr", "--out", via_graded / "f.####.exr") == 0
    )
    a, b = read_pixels(via_grade / "f.1002.exr"), read_pixels(via_graded / "f.1002.exr")
    assert max_abs(a, b) < 1e-5
    hard = tmp_path / "hard"
    assert (
        run_cli(
            "fuse",
            *common[:4],
            "--engine",
            "hard",
            "--grade",
            DEMO_GRADE,
            "--exr-type",
            "float",
            "--out",
            hard / "h.####.exr",
        )
        == 0
    )
    edited = tmp_path / "e"
    assert run_cli("fuse", *common, "--edited", hard / "h.####.exr", "--out", edited / "f.####.exr") == 0
    recovered = read_pixels(edited / "f.1002.exr")
    original = read_pixels(plate.replace("####", "1002"))
    changed = np.abs(a - original).sum(-1) > 1e-4
    # The grade recovered from the composite lands close to the real one, relative to its strength.
    grade_strength = np.abs(a - original)[changed].mean()
    assert np.abs(recovered - a)[changed].mean() < 0.1 * grade_strength


def test_demo_writes_contact_sheet(tmp_path, capsys):
    assert run_cli("demo", "--out", tmp_path / "demo", "--frames", "6", "--json") == 0
    summary = json.loads(capsys.readouterr().out)
    sheet = read_pixels(summary["contact_sheet"])
    assert sheet.shape[1] > 3 * 320 and sheet.shape[0] > 3 * 180
    assert len(output_files(summary["fused"])) == 6
    # With torch installed the demo shows the network.
    assert summary["engine"] == ("movingcolor" if importlib.util.find_spec("torch") else "guided")
    # A classical engine is one of the sheet's columns already: named once (it was listed twice).
    assert run_cli("demo", "--out", tmp_path / "demo", "--frames", "2", "--engine", "guided") == 0
    assert "contact sheet (plate | hard | feather | guided): " in capsys.readouterr().out


@pytest.mark.parametrize(
    "args, message",
    [
        (("--frames", "0"), "--frames 0: the demo's shot needs at least 1 frame"),
        (("--out", "/proc/movingcolor-demo"), "cannot create /proc/movingcolor-demo/plate"),
    ],
)
def test_demo_refuses_bad_settings_in_a_line(args, message, capsys):
    """The README's first command with a frame count of 0, or a folder that cannot be made, ended
    in a Python traceback (numpy's stack of nothing, pathlib's mkdir)."""
    assert run_cli("demo", "--engine", "guided", *args) == 2
    error = capsys.readouterr().err
    assert message in error and "Traceback" not in error


def test_demo_refuses_an_unknown_engine_before_it_works(tmp_path, capsys):
    """A typo in --engine was refused only after the shot was written and fused with three engines."""
    assert run_cli("demo", "--out", tmp_path / "demo", "--engine", "guidd", "--frames", "2") == 2
    assert "engine 'guidd' is not known; available engines:" in capsys.readouterr().err
    assert not (tmp_path / "demo").exists()


def test_info_json(capsys):
    assert run_cli("info", "--json") == 0
    data = json.loads(capsys.readouterr().out)
    assert {"hard", "feather", "guided"} <= set(data["engines"])
    assert data["ocio_config"]["scene_linear"] == "ACEScg"
    assert data["packages"]["OpenImageIO"]


def test_info_with_a_config_that_does_not_load_still_reports_the_rest(tmp_path, capsys):
    """A broken $OCIO is when a user runs info to see what was found: it printed the error alone."""
    missing = tmp_path / "config.ocio"
    assert run_cli("info", "--json", "--config", missing) == 2
    data = json.loads(capsys.readouterr().out)
    assert (
        str(missing) in data["ocio_config"]["error"] and "file does not exist" in data["ocio_config"]["error"]
    )
    assert {"hard", "feather", "guided"} <= set(data["engines"]) and data["packages"]["OpenImageIO"]
    assert run_cli("info", "--config", missing) == 2
    said = capsys.readouterr().out
    assert "OpenColorIO config: does not load:" in said and "engines:" in said


def test_console_script_runs(tmp_path):
    exe = shutil.which("movingcolor")
    if exe is None:
        pytest.skip("movingcolor console script not on PATH (package not installed)")
    result = subprocess.run([exe, "--version"], capture_output=True, text=True)
    assert result.returncode == 0 and "movingcolor" in result.stdout
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "movingcolor.cli.main",
            "fuse",
            "--plate",
            str(tmp_path / "x.####.exr"),
            "--grade",
            "sat=1",
            "--out",
            str(tmp_path / "o"),
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2 and "no frames match" in result.stderr


def test_a_command_loads_only_its_own_module_and_the_usage_lists_every_command(tmp_path):
    """A farm task running ``fuse`` pays for the fuse command alone; a mistyped command still
    gets the list of them all."""
    probe = (
        "import sys\n"
        "from movingcolor.cli.main import main\n"
        "status = main(sys.argv[1:])\n"
        "print(sorted(m for m in sys.modules if m.startswith('movingcolor.cli.')))\n"
        "sys.exit(status)\n"
    )
    missing = str(tmp_path / "x.####.exr")
    fuse = subprocess.run(
        [sys.executable, "-c", probe, "-q", "fuse", "--plate", missing, "--grade", "sat=1", "--out", "o"],
        capture_output=True,
        text=True,
    )
    assert fuse.returncode == 2 and "no frames match" in fuse.stderr, fuse.stderr
    loaded = fuse.stdout.strip()
    assert "movingcolor.cli.fuse" in loaded
    for other in ("demo", "info", "install", "serve", "train", "bench", "submit_opencue"):
        assert f"movingcolor.cli.{other}'" not in loaded, loaded

    typo = subprocess.run([sys.executable, "-c", probe, "fsue"], capture_output=True, text=True)
    assert typo.returncode == 2
    for command in ("fuse", "serve", "demo", "info", "bench", "train", "submit-opencue", "install"):
        assert f"'{command}'" in typo.stderr, typo.stderr


# -- bad input: a clear message naming the problem, exit status 2, nothing written ----------


@pytest.fixture
def shot_copy(demo_inputs, tmp_path):
    """A private copy of the generated shot that a test may damage."""
    plate, matte = demo_inputs
    folder = tmp_path / "shot"
    shutil.copytree(plate.rsplit("/", 2)[0], folder)
    return folder / "plate" / "plate.####.exr", folder / "matte" / "matte.####.png"


def _fails(capsys, out, *args, message):
    status = run_cli("fuse", *args, "--out", out / "f.####.exr")
    error = capsys.readouterr().err
    assert status == 2, error
    assert message in error, error
    assert output_files(out) == [], "bad input must leave no output behind"
    return error


@pytest.mark.parametrize("option", ["--out", "--plate", "--matte", "--frames", "--grade"])
def test_an_empty_option_is_refused_naming_it(demo_inputs, tmp_path, capsys, option):
    """An unset variable in a script (``--out "$OUT"``): an empty --out was a traceback, an empty
    --plate the current folder, an empty --frames the whole shot."""
    plate, matte = demo_inputs
    values = {
        "--plate": plate,
        "--matte": matte,
        "--grade": DEMO_GRADE,
        "--out": str(tmp_path / "f.####.exr"),
    }
    values[option] = ""
    args = [word for pair in values.items() for word in pair]
    assert run_cli("fuse", *args) == 2
    assert f"{option} is empty (an unset variable?)" in capsys.readouterr().err
    assert not list(tmp_path.glob("*.exr"))


def test_missing_frames(shot_copy, tmp_path, capsys):
    plate, matte = shot_copy
    (plate.parent / "plate.1004.exr").unlink()
    error = _fails(
        capsys,
        tmp_path / "out",
        "--plate",
        plate,
        "--matte",
        matte,
        "--grade",
        DEMO_GRADE,
        "--frames",
        "1001-1008",
        message="missing 1 of frames 1001-1008: 1004",
    )
    assert "plate.1004.exr" in error


def test_mismatched_sizes(shot_copy, tmp_path, capsys):
    plate, matte = shot_copy
    for n in range(1001, 1009):
        write_image(matte.parent / f"matte.{n}.png", np.ones((90, 160, 1), np.float32), channels=("Y",))
    _fails(
        capsys,
        tmp_path / "out",
        "--plate",
        plate,
        "--matte",
        matte,
        "--grade",
        DEMO_GRADE,
        message="is 160x90 but the plate is 320x180",
    )


def test_a_layered_plate_is_refused_and_a_multipart_one_named_not_fused_as_some_pass(
    demo_inputs, tmp_path, caplog, capsys
):
    """A layered EXR lists its layers in any order (albedo before beauty): its first three channels,
    some pass, were fused without a word. A multipart EXR's first part is read, and the log says so."""
    import OpenImageIO as oiio

    plate, matte = demo_inputs
    pixels = read_pixels(Path(plate.replace("####", "1001")))
    layered = tmp_path / "layered"
    layered.mkdir()
    # The layers named are every layer the file stores, not only those of the channels read.
    names = ("albedo.R", "albedo.G", "albedo.B", "beauty.R", "beauty.G", "beauty.B", "diffuse.R")
    stacked = np.concatenate([pixels * 9, pixels, pixels[..., :1]], axis=2)
    write_image(layered / "p.1001.exr", stacked, channels=names)
    out = tmp_path / "out" / "f.####.exr"
    common = ("--matte", matte, "--grade", DEMO_GRADE, "--frames", "1001-1001", "--out", out)
    assert run_cli("fuse", "--plate", layered / "p.####.exr", *common) == 2
    assert (
        "begins with channels albedo.R, albedo.G, albedo.B, not R, G, B (layers albedo, beauty, diffuse)"
        in capsys.readouterr().err
    )
    parts = tmp_path / "parts"
    parts.mkdir()
    specs = []
    for part in ("diffuse", "rgba"):
        spec = oiio.ImageSpec(pixels.shape[1], pixels.shape[0], 3, "half")
        spec.attribute("name", part)
        specs.append(spec)
    output = oiio.ImageOutput.create(str(parts / "p.1001.exr"))
    assert output.open(str(parts / "p.1001.exr"), specs)
    assert output.write_image(pixels * 2)
    assert output.open(str(parts / "p.1001.exr"), specs[1], "AppendSubimage") and output.write_image(pixels)
    output.close()
    with caplog.at_level("WARNING", logger="movingcolor"):
        assert run_cli("fuse", "--plate", parts / "p.####.exr", *common) == 0
    assert "p.1001.exr holds 2 parts; only the first (diffuse) is read" in caplog.text


def test_an_output_of_fewer_bits_than_the_plate_is_warned_of(demo_inputs, tmp_path, caplog):
    """Pixels outside the band are the plate's, bit for bit, only where the output holds as many
    bits: a float plate written as half EXR (the default) or a 16-bit plate as PNG is said."""
    plate, matte = demo_inputs
    pixels = read_pixels(Path(plate.replace("####", "1001")))
    for name, write in (("float", {"pixel_type": "float"}), ("half", {})):
        (tmp_path / name).mkdir()
        write_image(tmp_path / name / "p.1001.exr", pixels, **write)
    (tmp_path / "sixteen").mkdir()
    write_image(tmp_path / "sixteen" / "p.1001.tif", np.clip(pixels, 0, 1))
    plates = {"float": "p.####.exr", "half": "p.####.exr", "sixteen": "p.####.tif"}
    cases = (
        ("float", ".exr", True),
        ("half", ".exr", False),
        ("sixteen", ".png", True),
        ("sixteen", ".tif", False),
    )
    for folder, extension, warned in cases:
        caplog.clear()
        out = tmp_path / f"out-{folder}" / f"f.####{extension}"
        common = ("--matte", matte, "--grade", DEMO_GRADE, "--frames", "1001-1001", "--out", out)
        with caplog.at_level("WARNING", logger="movingcolor"):
            assert run_cli("fuse", "--plate", tmp_path / folder / plates[folder], *common) == 0
        assert ("pixels outside the band are rounded" in caplog.text) == warned, (folder, extension)


def test_fused_frames_keep_the_plates_timecode_rate_and_pixel_aspect(demo_inputs, tmp_path, served):
    """A conform reads each frame's timecode and rate, and a viewer its pixel aspect: the fused frames
    keep them from their own plate frame (they were dropped, and an anamorphic plate came back with
    square pixels). Chromaticities are kept where the output's colourspace is the plate's."""
    import OpenImageIO as oiio

    plate, matte = demo_inputs
    tagged = tmp_path / "tagged"
    tagged.mkdir()
    for n in range(1001, 1004):
        pixels = read_pixels(Path(plate.replace("####", str(n))))
        spec = oiio.ImageSpec(pixels.shape[1], pixels.shape[0], 3, "half")
        spec.attribute("smpte:TimeCode", oiio.TypeDesc("timecode"), (0x01000000 + n - 1001, 0))
        spec.attribute("FramesPerSecond", oiio.TypeDesc("rational"), (24000, 1001))
        spec.attribute("PixelAspectRatio", 2.0)
        spec.attribute("Copyright", "ACME VFX")
        # What else a plate says about the shot is kept; what said how the file was made is not.
        spec.attribute("shot", "sh010")
        spec.attribute("cameraMake", "ARRI")
        spec.attribute("worldToCamera", oiio.TypeDesc("matrix"), tuple(float(i) for i in range(16)))
        spec.attribute("nuke/node_hash", "a1b2")
        spec.attribute("cryptomatte/abc1234/name", "CryptoObject")  # a layer the frame no longer has
        output = oiio.ImageOutput.create(str(tagged / f"p.{n}.exr"))
        assert output.open(str(tagged / f"p.{n}.exr"), spec) and output.write_image(pixels) and output.close()
    common = (
        "--plate",
        tagged / "p.####.exr",
        "--matte",
        matte,
        "--grade",
        DEMO_GRADE,
        "--frames",
        "1001-1003",
    )
    assert run_cli("fuse", *common, "--out", tmp_path / "out" / "f.####.exr") == 0
    # Through a server too: the plate's files are sent, and their headers read there.
    assert (
        run_cli("fuse", *common, "--server", served.address, "--out", tmp_path / "served" / "f.####.exr") == 0
    )
    for folder in ("out", "served"):
        for n in range(1001, 1004):
            kept = read_header(tmp_path / folder / f"f.{n}.exr").attributes
            assert kept["smpte:TimeCode"] == (0x01000000 + n - 1001, 0), folder
            assert kept["FramesPerSecond"] == (24000, 1001) and kept["PixelAspectRatio"] == 2.0
            assert kept["Copyright"] == "ACME VFX"
            assert kept["shot"] == "sh010" and kept["cameraMake"] == "ARRI"
            assert tuple(kept["worldToCamera"]) == tuple(float(i) for i in range(16))
            assert not {"nuke/node_hash", "cryptomatte/abc1234/name"} & set(kept)


def test_a_matte_written_with_its_bounding_box_fuses_as_the_whole_matte(demo_inputs, tmp_path, caplog):
    """Nuke writes a roto's EXR with the shape's bounding box as its data window: the matte is
    read as its format's frame (zero outside the box), fuses exactly as the same matte stored
    whole, and the log says how it was read."""
    import OpenImageIO as oiio

    plate, matte = demo_inputs
    boxed = tmp_path / "boxed"
    boxed.mkdir()
    for n in range(1001, 1009):
        whole = read_pixels(Path(matte.replace("####", str(n))))[..., :1]
        rows, cols = np.nonzero(whole[..., 0])
        top, left = int(rows.min()), int(cols.min())
        box = np.ascontiguousarray(whole[top : rows.max() + 1, left : cols.max() + 1])
        spec = oiio.ImageSpec(box.shape[1], box.shape[0], 1, "half")
        spec.channelnames = ("A",)
        spec.x, spec.y = left, top
        spec.full_x, spec.full_y, spec.full_width, spec.full_height = 0, 0, *whole.shape[1::-1]
        output = oiio.ImageOutput.create(str(boxed / f"m.{n}.exr"))
        assert output.open(str(boxed / f"m.{n}.exr"), spec) and output.write_image(box) and output.close()
    common = ("--plate", plate, "--grade", DEMO_GRADE, "--engine", "guided", "--frames", "1001-1004")
    assert run_cli("fuse", *common, "--matte", matte, "--out", tmp_path / "whole" / "f.####.exr") == 0
    with caplog.at_level("INFO", logger="movingcolor"):
        out = tmp_path / "box" / "f.####.exr"
        assert run_cli("fuse", *common, "--matte", boxed / "m.####.exr", "--out", out) == 0
    assert "m.1001.exr stores" in caplog.text and "zero where nothing is stored" in caplog.text
    for n in range(1001, 1005):
        whole = read_pixels(tmp_path / "whole" / f"f.{n}.exr")
        assert np.array_equal(read_pixels(tmp_path / "box" / f"f.{n}.exr"), whole)


def test_a_video_plate_is_numbered_as_the_mattes_sequence(demo_inputs, tmp_path, caplog):
    """A video has no frame numbers: with a matte rendered as matte.1001.png onwards, the video's
    first frame is 1001 (it was 0, and the shot failed with a range the user never gave)."""
    av = pytest.importorskip("av")
    plate, matte = demo_inputs
    video = tmp_path / "plate.mp4"
    with av.open(str(video), "w") as container:
        stream = container.add_stream("mpeg4", rate=24)
        stream.width, stream.height, stream.pix_fmt = 320, 180, "yuv420p"
        for n in range(1001, 1005):
            pixels = np.clip(read_pixels(Path(plate.replace("####", str(n))))[..., :3], 0, 1)
            frame = av.VideoFrame.from_ndarray((pixels * 255).astype(np.uint8), format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    out = tmp_path / "out"
    with caplog.at_level("INFO", logger="movingcolor"):
        status = run_cli(
            "fuse", "--plate", video, "--matte", matte, "--grade", DEMO_GRADE, "--out", out / "f.####.exr"
        )
    assert status == 0
    assert [p.name for p in output_files(out)] == [f"f.{n}.exr" for n in range(1001, 1005)]
    assert "numbered from 1001" in caplog.text
    # Into a folder, frames are named after the video's file (every clip's were "fused", so clips
    # fused into one folder replaced each other's).
    assert run_cli("fuse", "--plate", video, "--matte", matte, "--grade", DEMO_GRADE, "--out", out) == 0
    assert [p.name for p in output_files(out) if p.name.startswith("plate.")] == [
        f"plate.{n}.exr" for n in range(1001, 1005)
    ]


def test_sequences_that_share_no_frame(shot_copy, tmp_path, capsys):
    """A matte numbered from 2001 beside a plate from 1001: the error names both ranges (it named a
    frame range the user never gave)."""
    plate, matte = shot_copy
    for n in range(1001, 1009):
        (matte.parent / f"matte.{n}.png").rename(matte.parent / f"matte.{n + 1000}.png")
    _fails(
        capsys,
        tmp_path / "out",
        "--plate",
        plate,
        "--matte",
        matte,
        "--grade",
        DEMO_GRADE,
        message="the sources share no frame (plate 1001-1008, matte 2001-2008)",
    )


def test_a_matte_empty_on_every_frame_is_warned_of(shot_copy, tmp_path, caplog):
    """A matte empty throughout (the wrong file or channel) gives the plate back: the log warns
    and names the fix; a matte empty on some frames only says which, at info level."""
    plate, matte = shot_copy
    for n in (1003, 1004):
        write_image(matte.parent / f"matte.{n}.png", np.zeros((180, 320, 1), np.float32), channels=("Y",))
    common = ("--plate", plate, "--matte", matte, "--grade", DEMO_GRADE, "--frames", "1001-1005")
    with caplog.at_level("INFO", logger="movingcolor"):
        assert run_cli("fuse", *common, "--out", tmp_path / "some" / "f.####.exr") == 0
    notes = [r for r in caplog.records if "the matte is empty" in r.getMessage()]
    assert [(r.levelname, r.getMessage()) for r in notes] == [
        ("INFO", "frames 1003-1004: the matte is empty (the plate as it is)")
    ]
    caplog.clear()
    for n in range(1001, 1009):
        write_image(matte.parent / f"matte.{n}.png", np.zeros((180, 320, 1), np.float32), channels=("Y",))
    with caplog.at_level("INFO", logger="movingcolor"):
        assert run_cli("fuse", *common, "--out", tmp_path / "none" / "f.####.exr") == 0
    warned = [r for r in caplog.records if r.levelname == "WARNING"]
    assert len(warned) == 1 and "the matte is empty on every frame (1001-1005)" in warned[0].getMessage()
    assert "check the matte input" in warned[0].getMessage()


def test_a_grade_that_changes_no_colour_is_warned_of(demo_inputs, tmp_path, caplog):
    """An identity CDL (a grade not yet set, or numbers typed back to their defaults) gives the
    plate back: the log warns; a grade that does change colours is not warned of."""
    plate, matte = demo_inputs
    common = ("--plate", plate, "--matte", matte, "--engine", "hard", "--frames", "1001-1002")
    for grade, warned in (("slope=1;offset=0;power=1;sat=1", True), ("slope=1.001", False)):
        caplog.clear()
        with caplog.at_level("INFO", logger="movingcolor"):
            out = tmp_path / grade.replace(";", "_") / "f.####.exr"
            assert run_cli("fuse", *common, "--grade", grade, "--out", out) == 0
        assert ("changes no colour" in caplog.text) == warned, caplog.text


def test_mismatched_size_within_a_sequence(shot_copy, tmp_path, capsys):
    plate, matte = shot_copy
    write_image(plate.parent / "plate.1005.exr", np.ones((90, 160, 3), np.float32))
    _fails(
        capsys,
        tmp_path / "out",
        "--plate",
        plate,
        "--matte",
        matte,
        "--grade",
        DEMO_GRADE,
        message="plate.1005.exr is 160x90",
    )


def test_truncated_frame(shot_copy, tmp_path, capsys):
    plate, matte = shot_copy
    frame = plate.parent / "plate.1001.exr"
    frame.write_bytes(frame.read_bytes()[:2000])
    _fails(
        capsys,
        tmp_path / "out",
        "--plate",
        plate,
        "--matte",
        matte,
        "--grade",
        DEMO_GRADE,
        "--frames",
        "1001-1002",
        message="plate.1001.exr",
    )


def test_unreadable_file(shot_copy, tmp_path, capsys):
    plate, matte = shot_copy
    (matte.parent / "matte.1001.png").write_text("not an image")
    _fails(
        capsys,
        tmp_path / "out",
        "--plate",
        plate,
        "--matte",
        matte,
        "--grade",
        DEMO_GRADE,
        message="matte.1001.png",
    )


def test_nan_pixels(shot_copy, tmp_path, capsys):
    plate, matte = shot_copy
    pixels = read_pixels(plate.parent / "plate.1001.exr")
    pixels[10, 10] = np.inf
    write_image(
        plate.parent / "plate.1001.exr", pixels, pixel_type="float", attributes={"oiio:ColorSpace": "ACEScg"}
    )
    _fails(
        capsys,
        tmp_path / "out",
        "--plate",
        plate,
        "--matte",
        matte,
        "--grade",
        DEMO_GRADE,
        "--frames",
        "1001-1001",
        message="NaN or infinite",
    )


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--plate-colorspace", "ACEScgg"], "colourspace 'ACEScgg' is not in"),
        (["--out-colorspace", "Nope"], "colourspace 'Nope' is not in"),
        (["--grade", "look:Nope"], "look 'Nope' is not in"),
        (["--frames", "1008-1001"], "inverted"),
        (["--frames", "2000-2010"], "missing 11 of frames 2000-2010"),
        (["--frames", "abc"], "cannot read frame range"),
        (["--band", "0"], "band width"),
        (["--engine", "nope"], "engine 'nope' is not known"),
    ],
)
def test_bad_settings(demo_inputs, tmp_path, capsys, extra, message):
    plate, matte = demo_inputs
    args = ["--plate", plate, "--matte", matte, *extra]
    if "--grade" not in extra:
        args += ["--grade", DEMO_GRADE]
    _fails(capsys, tmp_path / "out", *args, message=message)


def test_plate_without_alpha_needs_a_matte(demo_inputs, tmp_path, capsys):
    _fails(
        capsys, tmp_path / "out", "--plate", demo_inputs[0], "--grade", DEMO_GRADE, message="has no A channel"
    )


def test_unparsable_lut(demo_inputs, tmp_path, capsys):
    plate, matte = demo_inputs
    lut = tmp_path / "bad.cube"
    lut.write_text("LUT_3D_SIZE 2\n1 2\n")
    _fails(capsys, tmp_path / "out", "--plate", plate, "--matte", matte, "--grade", lut, message="bad.cube")


def test_output_may_not_overwrite_the_plate(demo_inputs, tmp_path, capsys):
    plate, matte = demo_inputs
    status = run_cli("fuse", "--plate", plate, "--matte", matte, "--grade", DEMO_GRADE, "--out", plate)
    assert status == 2 and "overwrite an input" in capsys.readouterr().err


@pytest.mark.parametrize(
    "out, suggested, named",
    [("f.png", "f.####.png", "names one file"), ("f.mov", "f.####.exr", "names a movie")],
)
def test_an_output_naming_one_file_asks_for_a_pattern(demo_inputs, tmp_path, capsys, out, suggested, named):
    """``--out shot/f.png`` (a pattern without its #s) made a folder called f.png and wrote the frames
    into it; it is refused with the pattern to give, and nothing is made."""
    plate, matte = demo_inputs
    status = run_cli(
        "fuse", "--plate", plate, "--matte", matte, "--grade", DEMO_GRADE, "--out", tmp_path / out
    )
    error = capsys.readouterr().err
    assert status == 2 and named in error and str(tmp_path / suggested) in error
    assert list(tmp_path.iterdir()) == []


def test_a_write_into_a_file_system_without_room_of_its_own_is_not_called_a_full_disk(demo_inputs, capsys):
    """/proc has no blocks at all: a failed write there is not a full disk, and was called one."""
    if not Path("/proc").is_dir() or os.statvfs("/proc").f_blocks != 0:
        pytest.skip("needs Linux's /proc, a file system of no blocks")
    plate, matte = demo_inputs
    out = "/proc/movingcolor-test.####.exr"
    status = run_cli("fuse", "--plate", plate, "--matte", matte, "--grade", DEMO_GRADE, "--out", out)
    error = capsys.readouterr().err
    assert status == 2 and "/proc/movingcolor-test.1001.exr: write failed" in error
    assert "disk is full" not in error


def test_matte_from_the_plate_alpha(demo_inputs, tmp_path):
    plate, matte = demo_inputs
    rgba = tmp_path / "rgba"
    rgba.mkdir()
    for n in range(1001, 1004):
        rgb = read_pixels(plate.replace("####", str(n)))
        alpha = read_pixels(matte.replace("####", str(n)))
        write_image(
            rgba / f"p.{n}.exr",
            np.concatenate([rgb, alpha], axis=2),
            channels=("R", "G", "B", "A"),
            pixel_type="float",
            attributes={"oiio:ColorSpace": "ACEScg"},
        )
    common = ["--grade", DEMO_GRADE, "--engine", "feather", "--exr-type", "float"]
    assert (
        run_cli("fuse", "--plate", rgba / "p.####.exr", *common, "--out", tmp_path / "a" / "f.####.exr") == 0
    )
    assert (
        run_cli(
            "fuse",
            "--plate",
            plate,
            "--matte",
            matte,
            "--frames",
            "1001-1003",
            *common,
            "--out",
            tmp_path / "b" / "f.####.exr",
        )
        == 0
    )
    assert np.array_equal(
        read_pixels(tmp_path / "a" / "f.1002.exr"), read_pixels(tmp_path / "b" / "f.1002.exr")
    )


def _small_config(name: str, looks: str = "", colorspaces: str = "") -> str:
    """An OpenColorIO config of a scene-linear space and sRGB, with ``looks`` and more ``colorspaces``
    (YAML list items)."""
    return f"""ocio_profile_version: 2
name: {name}
search_path: luts
roles:
  default: lin
  scene_linear: lin
{looks}colorspaces:
  - !<ColorSpace>
    name: lin
  - !<ColorSpace>
    name: sRGB
    from_scene_reference: !<ExponentWithLinearTransform>
      {{gamma: [2.4, 2.4, 2.4, 1], offset: [0.055, 0.055, 0.055, 0], direction: inverse}}
{colorspaces}"""


MISSING_LUT_CONFIG = _small_config(
    "missing-lut",
    colorspaces="""  - !<ColorSpace>
    name: camlog
    to_scene_reference: !<FileTransform> {src: camlog_to_lin.spi1d, interpolation: linear}
""",
)


def test_a_colourspace_whose_lut_file_is_missing_is_named_before_any_frame(demo_inputs, tmp_path, capsys):
    """A broken install's LUT: as the output's colourspace it was a traceback at the first frame;
    as the plate's it was blamed on the grade."""
    plate, matte = demo_inputs
    config = tmp_path / "config.ocio"
    config.write_text(MISSING_LUT_CONFIG)
    common = ["fuse", "--plate", plate, "--matte", matte, "--config", config, "--grade", "slope=1.2"]
    for option in ("--out-colorspace", "--plate-colorspace"):
        out = tmp_path / option.strip("-") / "f.####.exr"
        assert run_cli(*common, option, "camlog", "--out", out) == 2
        error = capsys.readouterr().err
        assert "cannot convert" in error and "camlog_to_lin.spi1d" in error and "Traceback" not in error
        assert "grade 'slope=1.2'" not in error and not list(out.parent.glob("*.exr"))


LOOK_CONFIG = _small_config(
    "looks",
    looks="""looks:
  - !<Look>
    name: warm
    process_space: plate log
    transform: !<CDLTransform> {slope: [1.2, 1.0, 0.8]}
""",
    colorspaces="""  - !<ColorSpace>
    name: plate log
    from_scene_reference: !<LogAffineTransform> {base: 2, linSideOffset: 0.01}
""",
)


def test_a_look_is_reported_in_its_own_process_space(demo_inputs, tmp_path, capsys, caplog):
    """A look runs in its process space: the log and the report named the grade colourspace instead,
    and --grade-colorspace seemed to apply where it changes nothing."""
    import json

    plate, matte = demo_inputs
    config = tmp_path / "config.ocio"
    config.write_text(LOOK_CONFIG)
    common = [
        "fuse",
        "--plate",
        plate,
        "--matte",
        matte,
        "--config",
        config,
        "--grade",
        "look:warm",
        "--json",
    ]
    with caplog.at_level("WARNING", logger="movingcolor"):
        assert run_cli(*common, "--grade-colorspace", "sRGB", "--out", tmp_path / "a" / "f.####.exr") == 0
    assert json.loads(capsys.readouterr().out)["colorspaces"]["grade"] == "plate log"
    assert "--grade-colorspace sRGB does not apply to a look grade: it is applied in plate log" in caplog.text


def test_a_look_whose_process_space_is_a_role_is_named_by_its_colourspace(
    demo_inputs, tmp_path, capsys, caplog
):
    """A look run in a role (scene_linear) was compared by that name: --grade-colorspace of the very
    colourspace the role names drew "does not apply", and the report named the role."""
    import json

    plate, matte = demo_inputs
    config = tmp_path / "config.ocio"
    config.write_text(LOOK_CONFIG.replace("process_space: plate log", "process_space: scene_linear"))
    with caplog.at_level("WARNING", logger="movingcolor"):
        assert run_cli("fuse", "--plate", plate, "--matte", matte, "--config", config, "--grade", "look:warm",
                       "--grade-colorspace", "lin", "--frames", "1001", "--json",
                       "--out", tmp_path / "a" / "f.####.exr") == 0  # fmt: skip
    assert json.loads(capsys.readouterr().out)["colorspaces"]["grade"] == "lin"
    assert "does not apply" not in caplog.text


def test_a_fused_frame_read_back_declares_the_colourspace_it_was_written_in(demo_inputs, tmp_path):
    """OpenImageIO drops a colourspace name its own config does not know (ARRI LogC3 here): a fused
    frame fed back as a plate was read as scene-linear, the float default, without a word."""
    plate, matte = demo_inputs
    out = tmp_path / "out" / "f.####.exr"
    common = ["--config", "ocio://studio-config-latest", "--grade", DEMO_GRADE, "--engine", "hard"]
    assert run_cli("fuse", "--plate", plate, "--matte", matte, *common, "--frames", "1001-1002",
                   "--out-colorspace", "ARRI LogC3 (EI800)", "--out", out) == 0  # fmt: skip
    assert read_header(out.parent / "f.1001.exr").colorspace == "ARRI LogC3 (EI800)"


def test_a_plate_with_primaries_but_no_colourspace_name_is_warned_of(tmp_path, caplog):
    """An ACES2065-1 EXR names its AP0 primaries (chromaticities) and no colourspace: read as ACEScg,
    the float default, without a word, and its AP0 chromaticities went into outputs holding ACEScg."""
    import OpenImageIO as oiio

    ap0 = [0.7347, 0.2653, 0.0, 1.0, 0.0001, -0.077, 0.32168, 0.33767]
    pixels = np.full((24, 32, 4), 0.2, np.float32)
    pixels[6:18, 8:24, 3] = 1.0
    (tmp_path / "plate").mkdir()
    for number in (1, 2):
        spec = oiio.ImageSpec(32, 24, 4, oiio.FLOAT)
        spec.attribute("chromaticities", oiio.TypeDesc("float[8]"), ap0)
        output = oiio.ImageOutput.create("exr")
        output.open(str(tmp_path / "plate" / f"p.{number:04d}.exr"), spec)
        output.write_image(pixels)
        output.close()
    out = tmp_path / "out" / "f.####.exr"
    with caplog.at_level("WARNING", logger="movingcolor"):
        assert run_cli("fuse", "--plate", tmp_path / "plate" / "p.####.exr", "--grade", DEMO_GRADE,
                       "--engine", "hard", "--band", "2", "--out", out) == 0  # fmt: skip
    assert "gives chromaticities (its primaries" in caplog.text and "--plate-colorspace" in caplog.text
    assert "chromaticities" not in read_header(out.parent / "f.0001.exr").attributes


def test_a_png_output_in_a_colourspace_png_cannot_record_is_warned_of(demo_inputs, tmp_path, caplog):
    """OpenImageIO gives every PNG an sRGB chunk: an ACEScct PNG declared itself sRGB without a word."""
    plate, matte = demo_inputs
    common = ["fuse", "--plate", plate, "--matte", matte, "--grade", DEMO_GRADE, "--engine", "hard"]
    with caplog.at_level("WARNING", logger="movingcolor"):
        assert run_cli(*common, "--frames", "1001-1001", "--out-colorspace", "ACEScct",
                       "--out", tmp_path / "a" / "f.####.png") == 0  # fmt: skip
    assert "PNG files cannot record the colourspace ACEScct" in caplog.text
    caplog.clear()
    # sRGB-encoded by default: recorded; a float plate's highlights are clipped there too (they were
    # without a word, outside a scene-linear output).
    with caplog.at_level("WARNING", logger="movingcolor"):
        assert run_cli(*common, "--frames", "1001-1001", "--out", tmp_path / "b" / "f.####.png") == 0
    assert "PNG files cannot record" not in caplog.text
    assert "the sRGB Encoded Rec.709 (sRGB) values of this plate above 1.0 (highlights)" in caplog.text
    # Linear Rec.709 is recorded (a gAMA of 1.0), and was warned of as taken for sRGB; ACEScg is
    # taken for linear Rec.709, its primaries lost.
    for space, taken in (("Linear Rec.709 (sRGB)", None), ("ACEScg", "Linear Rec.709 (sRGB)")):
        caplog.clear()
        with caplog.at_level("WARNING", logger="movingcolor"):
            assert run_cli(*common, "--frames", "1001-1001", "--out-colorspace", space,
                           "--out", tmp_path / space / "f.####.png") == 0  # fmt: skip
        header = read_header(tmp_path / space / "f.1001.png")
        if taken is None:
            assert (
                "cannot record" not in caplog.text
                and header.attributes["oiio:ColorSpace"] == "lin_rec709_scene"
            )
        else:
            assert (
                f"cannot record the colourspace {space}: readers will take these frames as {taken}"
                in caplog.text
            )
    # A TIFF records no colourspace either, and its 16-bit integers clip a scene-linear plate's
    # highlights (the float plate's values above 1.0 came out 1.0 without a word).
    caplog.clear()
    with caplog.at_level("WARNING", logger="movingcolor"):
        assert run_cli(*common, "--frames", "1001-1001", "--out-colorspace", "ACEScg",
                       "--out", tmp_path / "c" / "f.####.tif") == 0  # fmt: skip
    assert "TIFF files cannot record the colourspace ACEScg" in caplog.text
    assert "TIFF frames hold values from 0 to 1: the ACEScg values of this plate above 1.0" in caplog.text


def test_across_a_gap_in_the_sequence_guided_weighs_a_neighbour_by_its_distance(tmp_path):
    """Frame 1004 never rendered: frame 1005's window holds 1003, two frames back, which was weighed
    as the adjacent frame (the result was that of 1003's image renumbered 1004)."""
    import shutil

    from movingcolor.jobs.demo_shot import write_demo_inputs

    fused = {}
    for case in ("gap", "adjacent"):
        plate, matte = write_demo_inputs(tmp_path / case, frames=8)
        for pattern in (plate, matte):
            gone = Path(pattern.replace("####", "1004"))
            if case == "adjacent":  # 1003's images stand at 1004, with nothing at 1003
                shutil.move(pattern.replace("####", "1003"), gone)
            else:
                gone.unlink()
            for number in (1001, 1002) if case == "adjacent" else ():
                Path(pattern.replace("####", str(number))).unlink()
        out = tmp_path / case / "out" / "f.####.exr"
        common = ["--grade", DEMO_GRADE, "--engine", "guided", "--frames", "1005-1005", "--exr-type", "float"]
        assert run_cli("fuse", "--plate", plate, "--matte", matte, *common, "--out", out) == 0
        fused[case] = read_pixels(out.parent / "f.1005.exr")
    assert not np.array_equal(fused["gap"], fused["adjacent"])


def test_train_on_the_base_install_names_the_install(tmp_path):
    """Without torch (a host's or farm node's base install) ``train`` says what to install, as
    ``fuse --engine movingcolor`` does; it ended in a ModuleNotFoundError traceback (exit 1)."""
    script = (
        "import sys; sys.modules['torch'] = None\n"
        "from movingcolor.cli.main import main\n"
        "sys.exit(main(sys.argv[1:]))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, "train", "--config", "tiny-test", "--out", str(tmp_path / "run")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2, done.stderr
    assert "training needs torch: pip install 'movingcolor[server]'" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "run").exists()


def test_bench_without_the_real_clips_names_its_own_option(tmp_path, monkeypatch, capsys):
    """The real-footage suite's skip names the option ``movingcolor bench`` takes (``--clips``; it
    said ``--root``, which bench refuses) and the variable that names the folder; the default
    folder is ``MOVINGCOLOR_CLIPS`` where it is set (an installed package has no checkout beside it)."""
    monkeypatch.setenv("MOVINGCOLOR_CLIPS", str(tmp_path / "clips"))
    assert run_cli("bench", "--suite", "real-footage", "--out", tmp_path / "B.md") == 0
    said = capsys.readouterr().err
    assert f"real clips not found at {tmp_path / 'clips' / 'davis480'}" in said
    assert "with --clips, or set MOVINGCOLOR_CLIPS" in said
    assert not (tmp_path / "B.md").exists()


def test_output_a_pipeline_can_read_when_things_go_wrong(demo_inputs, tmp_path, monkeypatch, capsys):
    """For the farm's and a pipeline's reading: a usage error with --json answers on stdout (it left
    an empty file); a reader of stdout that goes away is exit 141, no traceback; a write that fails
    where the clean-up cannot remove its temporary either (a read-only disk) reports the write's
    error, exit 2 (the clean-up's OSError was a traceback, exit 1)."""
    import movingcolor.frames.confine as confine

    with pytest.raises(SystemExit) as exited:
        run_cli("fuse", "--json", "--max-pixels", "many")
    assert exited.value.code == 2
    answer = json.loads(capsys.readouterr().out)
    assert answer["exit_code"] == 2 and "--max-pixels" in answer["error"]

    reader, writer = os.pipe()
    os.close(reader)
    with open(writer, "w") as gone, monkeypatch.context() as patch:
        patch.setattr(sys, "stdout", gone)
        assert run_cli("info", "--json") == 141

    plate, matte = demo_inputs
    real_unlink = os.unlink

    def read_only(path, *args, **kwargs):
        if ".partial" in str(path):
            raise PermissionError(30, "Read-only file system")
        return real_unlink(path, *args, **kwargs)

    def no_write(*args, **kwargs):
        return "Could not open (Read-only file system)"

    monkeypatch.setattr(confine.os, "unlink", read_only)
    monkeypatch.setattr("movingcolor.frames.image_io._write_pixels", no_write)
    out = tmp_path / "ro" / "f.####.exr"
    code = run_cli("fuse", "--plate", plate, "--matte", matte, "--grade", DEMO_GRADE, "--frames", "1001",
                   "--engine", "hard", "--out", out, "--json")  # fmt: skip
    assert code == 2
    assert "write failed" in json.loads(capsys.readouterr().out)["error"]


def test_quiet_or_a_dumb_terminal_draws_no_progress_bar(monkeypatch, capsys, caplog):
    """``-q`` drew tqdm's bar on a pseudo-terminal (10 KB of carriage returns in a farm's log), and
    a terminal with TERM unset or dumb got the bar too: -q shows no progress, a dumb terminal lines."""
    from movingcolor.cli.progress import FrameProgress

    monkeypatch.setattr(sys.stderr, "isatty", lambda: True, raising=False)
    monkeypatch.setenv("TERM", "dumb")
    assert not FrameProgress("fuse").interactive
    monkeypatch.setenv("TERM", "xterm-256color")
    assert FrameProgress("fuse").interactive
    caplog.set_level("WARNING", logger="movingcolor")
    progress = FrameProgress("fuse", interactive=True)
    progress(1, 2, 1001)
    progress(2, 2, 1002)
    assert progress.bar is None and "\r" not in capsys.readouterr().err


def test_a_terminal_gets_a_bar_that_closes_on_the_last_frame(capsys, caplog):
    """The bar's library is imported when a bar is first drawn, not with the command line (whose
    every farm task and benchmark run logs lines instead)."""
    from movingcolor.cli.progress import FrameProgress

    imported = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, movingcolor.cli.main, movingcolor.cli.fuse; print('tqdm' in sys.modules)",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert imported.stdout.strip() == "False"

    caplog.set_level("INFO", logger="movingcolor")
    progress = FrameProgress("fuse", interactive=True)
    progress(1, 2, 1001)
    assert progress.bar is not None
    progress(2, 2, 1002)
    err = capsys.readouterr().err
    assert progress.bar is None and "fuse" in err and "2/2" in err and "frame 1002" in err


@pytest.mark.parametrize("where", ["before", "after"])
def test_quiet_and_verbose_are_taken_before_or_after_the_command(demo_inputs, tmp_path, where):
    """``movingcolor fuse ... -q`` was refused as an unrecognised argument: users put the logging
    options after the command as often as before it."""
    plate, matte = demo_inputs
    shot = ["fuse", "--plate", plate, "--matte", matte, "--grade", "sat=1.2", "--engine", "hard",
            "--frames", "1001-1002"]  # fmt: skip

    def run(option: str, out: str) -> str:
        args = [option, *shot, "--out", str(tmp_path / out / "f.####.exr")]
        if where == "after":
            args = args[1:] + [option]
        result = subprocess.run(
            [sys.executable, "-m", "movingcolor.cli.main", *args], capture_output=True, text=True
        )
        assert result.returncode == 0, result.stderr
        return result.stderr

    quiet, verbose = run("-q", "quiet"), run("-v", "verbose")
    assert "wrote 2 frames" not in quiet and "frame 1002 done" not in quiet
    assert "wrote 2 frames" in verbose and len(verbose.splitlines()) > len(
        run("--quiet", "again").splitlines()
    )


def test_a_grade_file_is_recorded_as_it_was_read_not_as_it_is_when_frames_are_written(tmp_path):
    """Each fused frame records its grade file's content digest (hosts tell takes apart by it); it
    is the content the shot was graded with, not the file read again when the first frame is
    written after a colourist republished it (a queued job, a slow first frame)."""
    import hashlib

    from movingcolor.jobs.demo_shot import write_demo_inputs
    from movingcolor.jobs.plan import ShotPlan
    from movingcolor.jobs.run import run_plan
    from movingcolor.spec.schema import ShotSpec

    plate, matte = write_demo_inputs(tmp_path / "in", frames=2, width=64, height=48)
    grade = tmp_path / "sky.cc"

    def publish(slope: str) -> str:
        grade.write_text(
            f'<ColorCorrection id="sky"><SOPNode><Slope>{slope}</Slope><Offset>0 0 0</Offset>'
            "<Power>1 1 1</Power></SOPNode><SatNode><Saturation>1</Saturation></SatNode></ColorCorrection>"
        )
        return hashlib.sha256(grade.read_bytes()).hexdigest()

    read = publish("1.3 1.0 0.7")
    out = tmp_path / "out" / "f.####.exr"
    plan = ShotPlan.files(ShotSpec(plate=plate, matte=matte, grade=str(grade), engine="hard", out=str(out)))
    publish("0.7 1.0 1.3")
    run_plan(plan)
    written = sorted(out.parent.iterdir())
    assert written and all(
        read_header(path).attributes["movingcolor:grade_digest"] == f"sha256:{read}" for path in written
    )


def test_a_client_of_a_server_starts_without_the_engines(demo_inputs, tmp_path):
    """``movingcolor fuse --server`` runs no engine: the engines' modules (OpenColorIO's bindings
    among them, 50 ms of each start) are imported only where the help lists them."""
    import subprocess
    import sys

    plate, matte = demo_inputs
    script = (
        "import sys\nfrom movingcolor.cli.main import main\n"
        f"code = main(['fuse', '--plate', {plate!r}, '--matte', {matte!r}, '--grade', 'sat=1.2', "
        f"'--out', {str(tmp_path / 'f.####.exr')!r}, '--server', 'unix://{tmp_path}/none.sock'])\n"
        "print(code, 'movingcolor.engines' in sys.modules, 'PyOpenColorIO' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.stdout.split() == ["75", "False", "False"], done.stderr  # no server there: exit 75
    helped = [sys.executable, "-m", "movingcolor.cli.main", "fuse", "--help"]
    shown = subprocess.run(helped, capture_output=True, text=True, timeout=120)
    assert "hard, movingcolor" in " ".join(shown.stdout.split())


def test_every_options_help_can_be_filled_in_as_it_is_added(monkeypatch):
    """Python 3.14's argparse fills in each option's help (its ``%(...)s`` fields) as the option is
    added, and refuses the parser where one cannot be: every command's help must fill in then."""
    import argparse

    from movingcolor.cli.main import build_parser

    add_argument = argparse._ActionsContainer.add_argument

    def checked(container, *args, **kwargs):
        action = add_argument(container, *args, **kwargs)
        if action.help not in (None, argparse.SUPPRESS):
            argparse.HelpFormatter("movingcolor")._expand_help(action)
        return action

    monkeypatch.setattr(argparse._ActionsContainer, "add_argument", checked)
    parser = build_parser()
    fuse = parser._subparsers._group_actions[0].choices["fuse"]
    assert "hard, movingcolor" in " ".join(fuse.format_help().split())


@pytest.mark.parametrize(
    ("mode", "option", "applies"),
    [
        ("--grade", "--graded-colorspace", "--grade-colorspace"),
        ("--graded", "--grade-colorspace", "--graded-colorspace"),
    ],
)
def test_the_colourspace_option_of_the_other_mode_is_refused_naming_the_one_that_applies(
    demo_inputs, tmp_path, capsys, mode, option, applies
):
    """``--graded-colorspace`` with a grade (an unknown name too) and ``--grade-colorspace`` with a
    graded plate were read and ignored: the two differ by a letter."""
    plate, matte = demo_inputs
    given = "sat=1.2" if mode == "--grade" else plate
    code = run_cli("fuse", "--plate", plate, "--matte", matte, mode, given, option, "ACEScct",
                   "--engine", "hard", "--frames", "1001-1001", "--out", tmp_path / "o" / "f.####.exr",
                   "--json")  # fmt: skip
    error = json.loads(capsys.readouterr().out)["error"]
    assert code == 2 and error.startswith(option) and f"give {applies}" in error
    assert not (tmp_path / "o").exists()


def test_an_edited_render_of_fewer_bits_than_the_plate_is_said(demo_inputs, tmp_path, caplog):
    """The host's composite is what the frames hold outside the band: an 8-bit one of a float plate
    clipped the plate's highlights there without a word."""
    from movingcolor.frames.image_io import read_pixels, write_image

    plate, matte = demo_inputs
    edited = tmp_path / "edited"
    edited.mkdir()
    for number in (1001, 1002):
        pixels = read_pixels(Path(plate.replace("####", str(number))))[..., :3]
        write_image(
            edited / f"e.{number}.png", np.clip(pixels, 0, 1), attributes={"oiio:ColorSpace": "ACEScg"}
        )
    with caplog.at_level("WARNING", logger="movingcolor"):
        assert run_cli("fuse", "--plate", plate, "--matte", matte, "--edited", edited / "e.####.png",
                       "--graded-colorspace", "ACEScg", "--engine", "hard", "--frames", "1001-1002",
                       "--out", tmp_path / "o" / "f.####.exr") == 0  # fmt: skip
    assert (
        "the edited file holds uint8 samples and the plate half: the frames hold its pixels outside"
        in caplog.text
    )
    caplog.clear()
    with caplog.at_level("WARNING", logger="movingcolor"):
        assert run_cli("fuse", "--plate", plate, "--matte", matte, "--edited", plate, "--engine", "hard",
                       "--frames", "1001-1002", "--out", tmp_path / "p" / "f.####.exr") == 0  # fmt: skip
    assert "samples and the plate" not in caplog.text


_CONFIG_WITHOUT_INTEROP_IDS = """ocio_profile_version: 2.1
roles:
  scene_linear: lin
  default: lin
displays:
  sRGB:
    - !<View> {name: Raw, colorspace: srgb}
colorspaces:
  - !<ColorSpace>
    name: lin
    encoding: scene-linear
  - !<ColorSpace>
    name: srgb
    encoding: sdr-video
    from_scene_reference: !<ExponentWithLinearTransform> {gamma: [2.4, 2.4, 2.4, 1], \
offset: [0.055, 0.055, 0.055, 0], direction: inverse}
"""


def test_a_png_in_the_sRGB_space_of_a_config_without_interop_ids_is_not_warned_of(
    demo_inputs, tmp_path, caplog
):
    """Configs of OpenColorIO 2.1-2.3 name no interop IDs: a PNG in the config's own sRGB space was told
    it could not record that space and to give the space it was in."""
    plate, matte = demo_inputs
    config = tmp_path / "config.ocio"
    config.write_text(_CONFIG_WITHOUT_INTEROP_IDS)
    with caplog.at_level("WARNING", logger="movingcolor"):
        assert run_cli("fuse", "--config", config, "--plate", plate, "--plate-colorspace", "lin",
                       "--matte", matte, "--grade", "slope=1.1", "--engine", "hard", "--frames", "1001-1001",
                       "--out", tmp_path / "o" / "f.####.png") == 0  # fmt: skip
    assert "cannot record" not in caplog.text and "the srgb values of this plate above 1.0" in caplog.text
