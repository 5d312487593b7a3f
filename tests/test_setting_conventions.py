"""Shot settings as artists and TDs type them: what the tool writes reads back, implausible bands are
flagged, grade text forgives the spellings of .cc files and typos, the shipped model has one name,
``--help`` shows defaults, and a folder named movingcolor in the way is named as the cause."""

from __future__ import annotations

import argparse
import json
import logging
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import run_cli
from hypothesis import given
from hypothesis import strategies as st
from movingcolor.color.config import ColorConfig, apply_processor
from movingcolor.color.grade import parse_grade
from movingcolor.errors import BandSpecError, GradeError, MovingColorError
from movingcolor.frames.image_io import read_header, write_image
from movingcolor.spec.band_width import BandWidth

GRADE = "slope=1.2,1.0,0.8;offset=0.01;power=1.0;sat=1.1"


def _plate(folder: Path, size: tuple[int, int] = (432, 240)) -> str:
    """One RGBA EXR frame (1001) of ``size``, its alpha a disc in the middle; its pattern."""
    width, height = size
    yy, xx = np.mgrid[0:height, 0:width]
    rgba = np.empty((height, width, 4), np.float32)
    rgba[..., 0], rgba[..., 1], rgba[..., 2] = xx / width, yy / height, 0.3
    rgba[..., 3] = (xx - width / 2) ** 2 + (yy - height / 2) ** 2 < (height / 3) ** 2
    folder.mkdir(parents=True, exist_ok=True)
    write_image(folder / "plate.1001.exr", rgba, channels=("R", "G", "B", "A"))
    return str(folder / "plate.####.exr")


def _fuse(plate: str, out: Path, *extra: str) -> int:
    return run_cli("fuse", "--plate", plate, "--grade", GRADE, "--engine", "hard", "--out", out, *extra)


# -- the band: what the tool records reads back ----------------------------------------------------


@given(
    value=st.floats(min_value=0, max_value=1e12, exclude_min=True, allow_nan=False, allow_infinity=False),
    relative=st.booleans(),
)
def test_a_recorded_band_parses_back_to_the_same_band(value, relative):
    if relative:
        value = min(value, 100.0)
    band = BandWidth(value, relative)
    assert BandWidth.parse(str(band)) == band


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("12", BandWidth(12.0)),
        ("12px", BandWidth(12.0)),
        ("12 PX", BandWidth(12.0)),
        ("12.5px", BandWidth(12.5)),
        ("10%", BandWidth(10.0, True)),
        (" 10 % ", BandWidth(10.0, True)),
        # The OFX plugin sends its double parameter with six decimals.
        ("12.000000", BandWidth(12.0)),
        ("10.000000%", BandWidth(10.0, True)),
        (12, BandWidth(12.0)),
    ],
)
def test_band_spellings_artists_and_hosts_write_are_accepted(text, expected):
    assert BandWidth.parse(text) == expected


@pytest.mark.parametrize(
    "text", ["0", "0px", "-3", "12pxx", "px", "12 pixels", "inf", "nan", "1e999", "101%"]
)
def test_a_band_that_is_no_width_is_refused_naming_the_spellings(text):
    with pytest.raises(BandSpecError, match=r"12px|at most 100%"):
        BandWidth.parse(text)


@pytest.mark.parametrize("band", ["12", "10%"])
def test_the_band_a_fused_frame_records_is_accepted_by_fuse(band, tmp_path, capsys):
    plate = _plate(tmp_path / "shot", (64, 48))
    out = tmp_path / "out" / "f.####.exr"
    assert _fuse(plate, out, "--band", band, "--json") == 0
    reported = json.loads(capsys.readouterr().out)["band"]
    recorded = read_header(tmp_path / "out" / "f.1001.exr").attributes["movingcolor:band"]
    assert reported == recorded
    assert _fuse(plate, out, "--band", recorded, "--force", "--json") == 0
    assert json.loads(capsys.readouterr().out)["band"] == recorded


# -- the band against the frame --------------------------------------------------------------------


def test_a_band_wider_than_the_frame_is_refused_with_a_range_that_fits(tmp_path, capsys):
    plate = _plate(tmp_path / "shot")
    assert _fuse(plate, tmp_path / "out" / "f.####.exr", "--band", "500") == 2
    error = capsys.readouterr().err
    assert "wider than the 432x240 frame" in error and "1 to 30 px" in error
    assert not (tmp_path / "out" / "f.1001.exr").exists()


def test_an_implausibly_wide_band_is_fused_with_a_warning(tmp_path, caplog):
    plate = _plate(tmp_path / "shot")
    with caplog.at_level(logging.WARNING, logger="movingcolor"):
        assert _fuse(plate, tmp_path / "wide" / "f.####.exr", "--band", "60") == 0
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("432x240" in w and "60px" in w and "1 to 30 px" in w for w in warnings), warnings
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="movingcolor"):
        assert _fuse(plate, tmp_path / "usual" / "f.####.exr", "--band", "12") == 0
    assert not [r for r in caplog.records if "band width" in r.getMessage()]


def test_a_percentage_as_wide_as_the_frame_is_warned_of_once_on_the_first_such_frame(tmp_path, caplog):
    """A percentage can only be resolved on a frame's object: where it spans as much of the frame as
    a width in pixels is warned of for, the shot says so once, naming the frame, the width it came
    to and the range that suits the frame; an everyday percentage says nothing."""
    plate = _plate(tmp_path / "shot")
    with caplog.at_level(logging.WARNING, logger="movingcolor"):
        assert _fuse(plate, tmp_path / "wide" / "f.####.exr", "--band", "100%") == 0
    warnings = [r.getMessage() for r in caplog.records if "band width 100%" in r.getMessage()]
    assert len(warnings) == 1 and "on frame 1001" in warnings[0], warnings
    assert "432x240" in warnings[0] and "1 to 30 px" in warnings[0]
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="movingcolor"):
        assert _fuse(plate, tmp_path / "usual" / "f.####.exr", "--band", "5%") == 0
    assert not [r for r in caplog.records if "band width" in r.getMessage()]


def test_band_thresholds_follow_the_frames_short_side(caplog):
    # 1080p: a quarter of the short side is 270 px across the edge, 135 px each side.
    with caplog.at_level(logging.WARNING, logger="movingcolor"):
        BandWidth.parse("135").check_frame(1920, 1080)
    assert not caplog.records
    with caplog.at_level(logging.WARNING, logger="movingcolor"):
        BandWidth.parse("136").check_frame(1920, 1080)
    assert "1920x1080" in caplog.records[0].getMessage()
    BandWidth.parse("540").check_frame(1920, 1080)  # spans the frame's height: warned, not refused
    with pytest.raises(BandSpecError, match="1920x1080.*1 to 135 px"):
        BandWidth.parse("541").check_frame(1920, 1080)
    # A percentage depends on each frame's object: nothing to check against the frame alone.
    BandWidth.parse("100%").check_frame(16, 16)
    # The narrowest band on a frame a few pixels across: no narrower one to suggest ("1 px suits").
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="movingcolor"):
        BandWidth.parse("1").check_frame(3, 3)
        assert not BandWidth.parse("5%").says_if_wide(1.0, 6, 6, 1001)  # a percentage at its 1 px
    assert not caplog.records


# -- grade text ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def config() -> ColorConfig:
    return ColorConfig("ocio://default")


@pytest.mark.parametrize(
    ("text", "key", "suggestion"),
    [
        ("slop=1.2", "slop", "slope"),
        ("ofset=0.1", "ofset", "offset"),
        ("satt=1", "satt", "sat"),
        ("exposure=0.5;contrst=0.2", "contrst", "contrast"),
    ],
)
def test_a_misspelt_grade_key_gets_the_nearest_known_key(config, text, key, suggestion):
    with pytest.raises(GradeError, match=f"unknown grade key '{key}': did you mean '{suggestion}'\\?"):
        parse_grade(text, config)


def test_an_unknown_grade_key_far_from_any_lists_the_keys(config):
    with pytest.raises(GradeError, match="unknown grade key 'zzz': a CDL takes slope, offset, power, sat"):
        parse_grade("zzz=1", config)


def test_mixing_a_cdl_and_adjustments_is_still_refused_as_such(config):
    with pytest.raises(GradeError, match="cannot be mixed"):
        parse_grade("slope=1.2;exposure=0.5", config)
    with pytest.raises(GradeError, match="a CDL's saturation is written sat"):
        parse_grade("slope=1.2;saturation=1.1", config)


@pytest.mark.parametrize(
    ("spaced", "commas"),
    [
        ("slope=1.2 1.0 0.8", "slope=1.2,1.0,0.8"),
        # A .cc file's SOPNode and SatNode values, pasted as they stand.
        (
            "slope=1.2 1.0 0.8;offset=0.01 0 -0.01;power=1.1 1.0 0.9;sat=1.1",
            "slope=1.2,1.0,0.8;offset=0.01,0,-0.01;power=1.1,1.0,0.9;sat=1.1",
        ),
        ("slope=1.2\t1.0   0.8", "slope=1.2,1.0,0.8"),
        ("offset=- 0.01", "offset=-0.01"),  # a sign parted from its number, accepted before
    ],
)
def test_cdl_numbers_separated_by_spaces_grade_as_with_commas(config, spaced, commas):
    colours = np.random.default_rng(0).uniform(0.0, 1.0, (64, 3)).astype(np.float32)

    def graded(text: str) -> np.ndarray:
        return apply_processor(parse_grade(text, config).processor(config, "Raw", "Raw", "Raw"), colours)

    np.testing.assert_allclose(graded(spaced), graded(commas), atol=1e-6)
    assert not np.allclose(graded(commas), colours, atol=1e-3)


@pytest.mark.parametrize(
    "text",
    [
        GRADE,
        "slope=1.1, 1.0, 0.9;offset=0.01;power=1.0;sat=1.2",
        "SLOPE = 1.2 ; Sat = 1.1",
        "slope=1.2,,1.0,0.9",
        "slope=1.2;",
        "exposure=0.5;saturation=0.2",
    ],
)
def test_grade_forms_accepted_before_are_accepted(config, text):
    assert parse_grade(text, config).kind in ("cdl", "parametric")


def test_space_separated_numbers_are_counted(config):
    with pytest.raises(GradeError, match="one or three numbers, not 2"):
        parse_grade("slope=1.2 1.0", config)
    with pytest.raises(GradeError, match="not a number"):
        parse_grade("slope=1.2 x 0.8", config)


# -- models: one name for the shipped model; models are not configurations ------------------------


@pytest.fixture
def registry(monkeypatch):
    pytest.importorskip("torch", reason="installed models need the server extra (torch)")
    from movingcolor.model import registry

    monkeypatch.delenv("MOVINGCOLOR_MODELS", raising=False)
    return registry


def test_the_shipped_model_has_one_name_everywhere(registry, capsys):
    from movingcolor.engines.movingcolor import MovingColorEngine

    shipped = registry.PACKAGE_MODELS / "default"
    name = json.loads((shipped / "config.json").read_text())["name"]
    installed = registry.model_folders()
    assert list(installed) == [name] and installed.default_name == name
    # Its old name (the folder's) still finds it.
    assert registry.find_model("default") == registry.find_model(name) == registry.find_model(None) == shipped
    assert run_cli("info", "--json") == 0
    info = json.loads(capsys.readouterr().out)
    assert [m["name"] for m in info["models"]] == [name] and info["default_model"] == name
    # What every frame it fuses records (the header's movingcolor:model, --json's model).
    assert MovingColorEngine(model="default", device="cpu").model == name


def test_a_default_folder_is_listed_by_its_models_name(registry, monkeypatch, tmp_path):
    from conftest import live_heads
    from movingcolor.model.checkpoint import save_checkpoint

    network = live_heads(registry.create_network("tiny", seed=0))
    save_checkpoint(network, tmp_path / "default", "studio-sky", "# test\n")
    save_checkpoint(network, tmp_path / "other", "other-exported-name", "# test\n")
    monkeypatch.setenv("MOVINGCOLOR_MODELS", str(tmp_path))
    installed = registry.model_folders()
    shipped = json.loads((registry.PACKAGE_MODELS / "default" / "config.json").read_text())["name"]
    assert list(installed) == ["studio-sky", "other", shipped]
    assert installed["default"] == installed["studio-sky"] == tmp_path / "default"
    assert installed[shipped] == registry.PACKAGE_MODELS / "default"
    assert "default" in installed and "no-such-model" not in installed


@pytest.mark.parametrize("configuration", ["paper", "lite"])
def test_a_network_configuration_given_as_a_model_is_explained(registry, configuration):
    with pytest.raises(MovingColorError) as error:
        registry.find_model(configuration)
    message = str(error.value)
    assert f"model {configuration!r} is a network configuration" in message
    assert "not an installed model" in message and "movingcolor train" in message
    assert f'network = "{configuration}"' in message
    shipped = registry.model_folders().default_name
    assert f"{shipped} (the default; a lite network)" in message
    # The configuration itself stays what network_config (the benchmarks) reads.
    assert registry.network_config(configuration).name == configuration


def test_an_unknown_model_lists_the_installed_ones_and_how_to_get_another(registry, tmp_path, capsys):
    plate = _plate(tmp_path / "shot", (64, 48))
    out = tmp_path / "out" / "f.####.exr"
    status = run_cli("fuse", "--plate", plate, "--grade", GRADE, "--engine", "movingcolor",
                     "--model", "paper", "--out", out)  # fmt: skip
    assert status == 2 and "'paper' is a network configuration" in capsys.readouterr().err
    with pytest.raises(MovingColorError) as error:
        registry.find_model("movingcolor-lite-guidd")
    message = str(error.value)
    shipped = registry.model_folders().default_name
    assert "neither an installed model nor a model folder" in message
    assert f"Installed models: {shipped} (the default" in message
    assert "movingcolor train" in message and "--model FOLDER" in message
    assert f"Did you mean {shipped!r}?" in message


# -- --help shows defaults -------------------------------------------------------------------------


def _commands() -> dict[str, argparse.ArgumentParser]:
    from movingcolor.cli.main import build_parser

    (commands,) = [a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(commands.choices)


def _has_default(action: argparse.Action) -> bool:
    return action.default not in (None, False, "", [], argparse.SUPPRESS)


@pytest.mark.parametrize("command", ["fuse", "serve", "demo", "info", "bench", "train", "submit-opencue"])
def test_help_shows_every_options_default(command):
    parser = _commands()[command]
    text = " ".join(parser.format_help().split())  # as one line: wrapping may split a default
    for action in parser._actions:
        if action.option_strings and _has_default(action):
            assert f"(default: {action.default})" in text, (command, action.option_strings)


def test_fuse_help_shows_the_schema_defaults():
    text = " ".join(_commands()["fuse"].format_help().split())
    for shown in (
        "(default: 12)",
        "(default: guided)",
        "(default: alpha)",
        "(default: half)",
        "(default: auto)",
    ):
        assert shown in text


def test_every_submit_opencue_option_has_help():
    for action in _commands()["submit-opencue"]._actions:
        assert action.help, action.option_strings


# -- a folder named movingcolor in the way ---------------------------------------------------------


def test_the_client_stands_on_the_installed_package():
    from movingcolor_client.package_check import installed_movingcolor

    assert Path(installed_movingcolor().__file__).name == "__init__.py"


@pytest.mark.parametrize("package", ["movingcolor_client", "movingcolor_hosts"])
def test_a_folder_named_movingcolor_where_a_script_runs_is_named_as_the_cause(package, tmp_path):
    clone = tmp_path / "movingcolor"
    (clone / "server").mkdir(parents=True)
    (clone / "README.md").write_text("# MovingColor\n")
    found = subprocess.run(
        [sys.executable, "-c", "import movingcolor; print(movingcolor.__file__)"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if found.stdout.strip() != "None":
        pytest.skip("the installed package is found on sys.path before the script's folder: none shadows")
    script = tmp_path / "td_script.py"
    script.write_text(f"import {package}\n")
    result = subprocess.run(
        [sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert result.returncode != 0
    assert f"the folder {clone} (a clone of the MovingColor repository?) shadows" in result.stderr
    assert "run from another folder" in result.stderr and "cannot import name" not in result.stderr
