"""The shot settings schema (movingcolor.spec.schema) against every surface that carries a shot's
settings: a setting missing from one of them fails here, naming the surface.

A surface leaves a setting out only where the schema says so (``Setting.absent``, with the reason);
wire fields that are no shot setting are listed below, with theirs.
"""

from __future__ import annotations

import argparse
import inspect
import re
import sys
from pathlib import Path

import pytest
from movingcolor.cli import fuse
from movingcolor.engines.registry import engine_names
from movingcolor.frames.image_io import EXR_COMPRESSIONS, EXR_PIXEL_TYPES
from movingcolor.service.setup_spec import job_spec, shot_spec
from movingcolor.spec import ShotSpec
from movingcolor.spec.schema import (
    BUILTIN_ENGINES,
    CLI,
    CLIENT,
    DEFAULT_BAND,
    HOSTS,
    JOB,
    NUKE,
    OFX,
    SETTINGS,
    SETUP,
    SURFACES,
    carried_by,
    default,
    is_inline_grade,
)
from movingcolor.v1 import fusion_pb2
from movingcolor_client import Client
from movingcolor_client.setup import SETUP_SETTINGS, output_message, shot_setup
from movingcolor_hosts import FuseSettings

ROOT = Path(__file__).resolve().parents[1]
OFX_SOURCE = ROOT / "ofx_bridge" / "src"

#: ``movingcolor fuse`` options that are no shot setting: how to run it, not what the shot is.
CLI_NOT_SETTINGS = {"help", "max_pixels", "json", "server", "token", "tls_ca", "tls_cert", "tls_key"}
#: ShotSetup fields that are no shot setting: the frames the client can send (the windows' context),
#: and where the client's plate lives (recorded in the fused frames' headers; the frames stream).
SETUP_NOT_SETTINGS = {"clip", "plate"}
#: Settings the ShotSetup carries in a field of another shape, read apart by shot_setup/shot_spec.
SETUP_READ_APART = {"matte", "grade", "graded", "edited", "frames", "exr_type", "compression"}
#: OFX parameters that are no shot setting: how long the plugin waits for the server, and the hidden
#: record of the engine choice's name (the engine setting is the choice).
OFX_NOT_SETTINGS = {"server", "timeLimit", "engineName"}
#: FuseSettings fields that are no shot setting: where the server is and how to call it.
HOSTS_NOT_SETTINGS = {"server", "token", "timeout", "retries", "labels"}

#: A value other than the default for every setting, as each message spells it.
NON_DEFAULT = {
    "plate": "plate/p.####.exr",
    "out": "out/f.####.exr",
    "matte": "matte/m.####.exr",
    "grade": "slope=1.2,1,0.9",
    "graded": "graded/g.####.exr",
    "edited": "edited/e.####.exr",
    "engine": "hard",
    "model": "some-model",
    "device": "cpu",
    "frames": "1002-1004",
    "handles": 3,
    "band": "7%",
    "config": "ocio://studio-config-latest",
    "plate_colorspace": "ACEScg",
    "graded_colorspace": "ACES2065-1",
    "grade_colorspace": "ACEScct",
    "out_colorspace": "Linear Rec.709 (sRGB)",
    "exr_type": "float",
    "compression": "piz",
    "force": True,
}


def test_every_setting_says_where_it_goes_and_where_not():
    for setting in SETTINGS.values():
        assert set(setting.on).isdisjoint(setting.absent), setting.name
        assert set(setting.on) | set(setting.absent) == set(SURFACES), (
            f"{setting.name}: say for each surface whether it carries the setting (on) or why not (absent)"
        )
        assert all(reason.strip() for reason in setting.absent.values()), setting.name
    assert set(NON_DEFAULT) == set(SETTINGS), "give NON_DEFAULT a value for each setting"
    for name, value in NON_DEFAULT.items():
        assert value != default(name)
        SETTINGS[name].validate(value)


def test_shot_spec_has_a_field_per_setting_with_its_default():
    fields = inspect.signature(ShotSpec).parameters
    assert list(fields) == list(fields)  # keep the order ShotSpec's readers know
    assert set(fields) == set(SETTINGS)
    for name, setting in SETTINGS.items():
        if setting.required:
            assert fields[name].default is inspect.Parameter.empty, name
        else:
            assert fields[name].default == setting.default, name


def _fuse_parser() -> argparse.ArgumentParser:
    commands = argparse.ArgumentParser().add_subparsers()
    fuse.add_parser(commands)
    return commands.choices["fuse"]


def test_fuse_options_are_the_schema():
    actions = {action.dest: action for action in _fuse_parser()._actions}
    assert set(actions) - CLI_NOT_SETTINGS == {setting.name for setting in carried_by(CLI)}
    for setting in carried_by(CLI):
        action = actions[setting.name]
        assert action.option_strings == [setting.option]
        assert action.default == setting.default, setting.name
        assert tuple(action.choices or ()) == (setting.choices if setting.strict else ()), setting.name
        assert action.help.replace("%%", "%").startswith(setting.help), setting.name
        assert action.required == (setting.required and not setting.exclusive), setting.name


def test_fuse_options_fill_a_shot_spec():
    args = ["--plate", "p.####.exr", "--out", "o/", "--grade", "slope=1.1"]
    spec = fuse._spec(_fuse_parser().parse_args(args))
    assert spec == ShotSpec(plate="p.####.exr", out="o/", grade="slope=1.1")


def test_the_choices_are_the_writers():
    assert SETTINGS["exr_type"].choices == tuple(sorted(EXR_PIXEL_TYPES))
    assert SETTINGS["compression"].choices == EXR_COMPRESSIONS
    assert set(BUILTIN_ENGINES) <= set(engine_names())


def test_client_fuse_files_takes_every_client_setting():
    parameters = inspect.signature(Client.fuse_files).parameters
    for setting in carried_by(CLIENT):
        assert setting.name in parameters, f"Client.fuse_files has no {setting.name} argument"
        if not setting.required:
            assert parameters[setting.name].default == setting.default, setting.name


def test_client_array_calls_take_every_streamed_setting():
    """fuse_arrays and fuse_window pass their settings to shot_setup, which takes these."""
    plain = {setting.name for setting in carried_by(SETUP)} - SETUP_READ_APART
    assert set(SETUP_SETTINGS) == plain
    for method in (Client.fuse_arrays, Client.fuse_window):
        parameters = inspect.signature(method).parameters
        assert "options" in parameters and {"grade", "graded", "edited"} <= set(parameters)
    with pytest.raises(Exception, match="not a shot setting"):
        shot_setup(clip=[1], grade="slope=1", colourspace="ACEScg")


@pytest.mark.parametrize(
    ("surface", "message", "not_settings"),
    [(SETUP, fusion_pb2.ShotSetup, SETUP_NOT_SETTINGS), (JOB, fusion_pb2.JobRequest, set())],
)
def test_wire_messages_carry_every_setting(surface, message, not_settings):
    fields = {field.name for field in message.DESCRIPTOR.fields}
    carried = {name for setting in carried_by(surface) for name in setting.names_on(surface)}
    assert carried <= fields, f"{message.__name__} lacks {sorted(carried - fields)}"
    assert fields - not_settings <= carried, (
        f"{message.__name__} fields {sorted(fields - not_settings - carried)} are no setting of the schema"
    )


def _setup_with_every_setting(**source) -> fusion_pb2.ShotSetup:
    values = {name: NON_DEFAULT[name] for name in SETUP_SETTINGS}
    exr_type, compression = NON_DEFAULT["exr_type"], NON_DEFAULT["compression"]
    return shot_setup(
        clip=[1001, 1002, 1003, 1004, 1005],
        frames=NON_DEFAULT["frames"],
        output=output_message("exr", exr_type, compression),
        **source,
        **values,
    )


def test_every_streamed_setting_reaches_the_shot_spec(tmp_path):
    spec, roles, _ = shot_spec(_setup_with_every_setting(grade=NON_DEFAULT["grade"]), tmp_path)
    for setting in carried_by(SETUP):
        if setting.name in ("graded", "edited"):
            continue  # the grade's source: one at a time, below
        value = getattr(spec, setting.name)
        if setting.name == "matte":
            assert value != setting.default and roles == ("plate", "matte")
        else:
            assert value == NON_DEFAULT[setting.name], setting.name
    for source in ("graded", "edited"):
        spec, roles, _ = shot_spec(_setup_with_every_setting(**{source: True}), tmp_path)
        assert getattr(spec, source) and spec.grade is None and roles[-1] == source


def test_every_job_setting_reaches_the_shot_spec(tmp_path):
    values = {}
    for setting in carried_by(JOB):
        value = NON_DEFAULT[setting.name]
        is_path = setting.name in ("plate", "out", "matte", "graded", "edited")
        values[setting.name] = str(tmp_path / value) if is_path else value
    spec = job_spec(fusion_pb2.JobRequest(**values), [tmp_path])
    for name, value in values.items():
        assert getattr(spec, name) == value, name


def test_host_settings_carry_their_settings_with_the_schema_defaults():
    fields = {name: field for name, field in FuseSettings.__dataclass_fields__.items()}
    carried = {name for setting in carried_by(HOSTS) for name in setting.names_on(HOSTS)}
    assert carried <= set(fields), f"FuseSettings lacks {sorted(carried - set(fields))}"
    assert set(fields) - HOSTS_NOT_SETTINGS <= carried
    for setting in carried_by(HOSTS):
        if setting.names_on(HOSTS) == (setting.name,) and setting.default is not None:
            assert fields[setting.name].default == setting.default, setting.name
    options = FuseSettings(server="s", out="o.####.exr", grade="slope=1").client_options()
    assert set(options) <= set(inspect.signature(Client.fuse_files).parameters)


@pytest.fixture
def nuke_node():
    sys.path[:0] = [str(ROOT / "tests" / "hosts"), str(ROOT / "plugin" / "nuke")]
    import movingcolor_nuke
    import nuke  # the stand-in

    nuke.reset()
    yield movingcolor_nuke.create_node()
    nuke.reset()


def test_nuke_knobs_carry_their_settings(nuke_node):
    for setting in carried_by(NUKE):
        for name in setting.names_on(NUKE):
            assert nuke_node.knob(name) is not None, f"the Nuke node has no {name} knob for {setting.name}"
    assert nuke_node["band"].value() == DEFAULT_BAND
    assert nuke_node["engine"].value() == default("engine")


def _ofx_parameters() -> set[str]:
    header = (OFX_SOURCE / "settings.hpp").read_text()
    block = header[header.index("namespace param {") : header.index("}  // namespace param")]
    return set(re.findall(r'constexpr const char\* k\w+ = "(\w+)";', block))


def test_ofx_parameters_carry_their_settings():
    parameters = _ofx_parameters()
    carried = {name for setting in carried_by(OFX) for name in setting.names_on(OFX)}
    assert carried <= parameters, f"the OFX plugin has no parameter {sorted(carried - parameters)}"
    assert parameters - OFX_NOT_SETTINGS <= carried
    source = (OFX_SOURCE / "settings.cpp").read_text()
    builtin = re.search(
        r"builtinEngines\(\) \{\s*static const std::vector<std::string> names\{([^}]*)\}", source
    )
    assert tuple(re.findall(r'"(\w+)"', builtin.group(1))) == BUILTIN_ENGINES
    header = (OFX_SOURCE / "settings.hpp").read_text()
    band = re.search(r"constexpr double kDefaultBandWidth = ([\d.]+);", header)
    assert float(band.group(1)) == float(DEFAULT_BAND)


@pytest.mark.parametrize(
    ("text", "inline"),
    [
        ("slope=1.2", True),
        ("exposure=0.5;warmth=1", True),
        ("look:day", True),
        ("day", False),
        ("/grades/a.cube", False),
        ("a.ccc#shot1", False),
    ],  # fmt: skip
)
def test_inline_grade(text, inline):
    assert is_inline_grade(text) is inline


def test_a_shot_spec_takes_what_the_client_takes_and_names_a_setting_of_the_wrong_kind(tmp_path):
    """``ShotSpec(frames=1001)``, ``handles="2"``, a None plate or output failed deep in the run (after
    the sources were opened) with a TypeError or an AttributeError; the client took the same values."""
    from movingcolor.errors import MovingColorError

    spec = ShotSpec(plate=Path("/shots/p.####.exr"), out="o/f.####.exr", frames=1001, band=12, handles="2")
    assert (spec.plate, spec.frames, spec.band, spec.handles) == ("/shots/p.####.exr", "1001", "12", 2)
    for fields, message in (
        ({"plate": None}, "ShotSpec plate=None: the plate setting is required"),
        ({"out": None}, "ShotSpec out=None: the out setting is required"),
        ({"handles": 2.5}, "ShotSpec handles=2.5: give a whole number of 0 or more"),
        ({"force": "yes"}, "ShotSpec force='yes': give True or False"),
        ({"grade": ["slope=1.2"]}, r"ShotSpec grade=\['slope=1.2'\]: give text \(or a path\)"),
    ):
        with pytest.raises(MovingColorError, match=message):
            ShotSpec(**{"plate": "p.####.exr", "out": "o/f.####.exr", **fields})
