"""Colour management with real OpenColorIO: configs, colourspaces and every grade form."""

from __future__ import annotations

import numpy as np
import OpenImageIO as oiio
import pytest
from conftest import WARM_COOL_CCC
from movingcolor.color.config import CHUNK_PIXELS, ColorConfig, apply_processor, shared_config
from movingcolor.color.grade import parse_grade
from movingcolor.color.parametric import ParametricGrade
from movingcolor.errors import ColorConfigError, GradeError, UnknownColorspaceError, UnknownLookError

RAW = "Raw"


@pytest.fixture(scope="module")
def config() -> ColorConfig:
    return ColorConfig("ocio://default")


def _grade(config, spec, rgb, space=RAW):
    processor = parse_grade(spec, config).processor(config, space, space, space)
    return apply_processor(processor, rgb)


def _cdl_reference(rgb, slope, offset, power, sat):
    out = np.clip(rgb * slope + offset, 0, None) ** power
    luma = out @ np.array([0.2126, 0.7152, 0.0722])
    return luma[..., None] + sat * (out - luma[..., None])


def test_default_config_and_roles(config, monkeypatch):
    assert config.scene_linear == "ACEScg"
    assert config.resolve("srgb_tx") == "sRGB Encoded Rec.709 (sRGB)"
    monkeypatch.setenv("OCIO", "/nonexistent/config.ocio")
    with pytest.raises(ColorConfigError, match="/nonexistent/config.ocio"):
        ColorConfig()


def test_a_shared_config_is_loaded_once_until_its_file_changes(tmp_path):
    """A server's calls share one config and its processors; an edited config file is loaded anew,
    and a broken one still says what is wrong each time."""
    assert shared_config() is shared_config()
    path = tmp_path / "config.ocio"
    ColorConfig().config.serialize(str(path))
    first = shared_config(str(path))
    assert shared_config(str(path)) is first
    text = path.read_text()
    path.write_text(text.replace("name:", "name: edited", 1) if "name:" in text else text + "\n")
    assert shared_config(str(path)) is not first
    path.write_text("not a config")
    for _ in range(2):
        with pytest.raises(ColorConfigError, match="cannot load OpenColorIO config"):
            shared_config(str(path))


def test_unknown_colourspace_suggests_names(config):
    with pytest.raises(UnknownColorspaceError, match="ACEScg"):
        config.resolve("ACEScgg")


def test_colourspace_defaults_are_reported(config):
    assert config.choose(None, "", True, "plate").name == "ACEScg"
    assert config.choose(None, "", False, "plate").name == "sRGB Encoded Rec.709 (sRGB)"
    assert config.choose(None, "lin_rec709_scene", True, "plate").reason.startswith("declared")
    assert config.choose("ACEScct", "", True, "plate").name == "ACEScct"
    # A colourspace the header declares that the config does not know: the default, and a doubt.
    unknown = config.choose(None, "StudioLogC4", True, "plate")
    assert unknown.name == "ACEScg" and "declares colourspace 'StudioLogC4', which config" in unknown.doubt
    assert not config.choose(None, "", True, "plate").doubt


ACES_1_CONFIG = """ocio_profile_version: 1
search_path: ""
strictparsing: true
roles:
  scene_linear: ACES - ACEScg
  texture_paint: ACES - ACEScc
displays:
  ACES:
    - !<View> {name: Raw, colorspace: Utility - Raw}
colorspaces:
  - !<ColorSpace>
    name: ACES - ACEScg
    bitdepth: 32f
  - !<ColorSpace>
    name: ACES - ACEScc
    bitdepth: 32f
    to_reference: !<LogTransform> {base: 2, direction: inverse}
  - !<ColorSpace>
    name: Utility - Raw
    bitdepth: 32f
    isdata: true
"""
SRGB_TEXTURE = """  - !<ColorSpace>
    name: Utility - sRGB - Texture
    bitdepth: 8ui
    to_reference: !<ExponentTransform> {value: [2.2, 2.2, 2.2, 1]}
"""


def test_an_integer_file_is_never_taken_as_a_log_space_a_role_names(tmp_path):
    """ACES 1.x configs give the texture_paint role to ACEScc: every 8-bit plate was read as log.
    A candidate for the sRGB encoding must decode greys as sRGB does; ACES 1.x's own name for it
    is found, and a config with none says so instead of guessing."""
    path = tmp_path / "aces1.ocio"
    path.write_text(ACES_1_CONFIG + SRGB_TEXTURE)
    assert ColorConfig(str(path)).choose(None, "", False, "plate").name == "Utility - sRGB - Texture"
    path.write_text(ACES_1_CONFIG)
    with pytest.raises(ColorConfigError, match="no sRGB-encoded Rec.709 colourspace .*checked each"):
        ColorConfig(str(path)).choose(None, "", False, "plate")


def test_conversion_round_trip_and_noop_is_exact(config):
    rgb = np.random.default_rng(1).random((16, 3), np.float32) * 4 - 0.5
    there = config.convert(rgb, "ACEScg", "ACEScct")
    back = config.convert(there, "ACEScct", "ACEScg")
    assert np.allclose(back, rgb, atol=1e-4)
    assert np.array_equal(config.convert(rgb, "ACEScg", "ACEScg"), rgb)


@pytest.mark.parametrize("shape", [(3, CHUNK_PIXELS // 3 + 7, 3), (CHUNK_PIXELS * 2 + 5, 3)])
def test_a_large_image_is_converted_in_chunks_exactly_as_in_one_call(config, shape):
    # Frames are converted in chunks on several threads: every pixel must come out as a single
    # call over the whole image would make it, whatever the split and the remainder.
    rgb = np.random.default_rng(4).uniform(-0.2, 2.0, shape).astype(np.float32)
    grade = parse_grade("slope=1.2,1.0,0.8;offset=0.01;power=1.1;sat=1.2", config)
    processor = grade.processor(config, "ACEScg", "sRGB - Texture", "ACEScct")
    whole = np.array(rgb, copy=True)
    processor.applyRGB(whole)
    converted = apply_processor(processor, rgb)
    assert converted.shape == rgb.shape and np.array_equal(converted, whole)
    assert not np.array_equal(converted, rgb)  # the grade changed it: the test compares work done


def test_inline_cdl_matches_asc_formula(config):
    rgb = np.random.default_rng(2).random((32, 3), np.float32)
    slope, offset, power, sat = np.array([1.2, 1.0, 0.8]), np.array([0.01, 0.0, -0.02]), 1.1, 1.3
    out = _grade(config, "slope=1.2,1.0,0.8;offset=0.01,0,-0.02;power=1.1;sat=1.3", rgb)
    assert np.allclose(out, _cdl_reference(rgb, slope, offset, power, sat), atol=1e-4)


def test_cdl_file_and_ccc_id(config, tmp_path):
    cc = tmp_path / "warm.ccc"
    cc.write_text(WARM_COOL_CCC)
    rgb = np.full((1, 3), 0.5, np.float32)
    assert np.allclose(_grade(config, f"{cc}#cool", rgb), [[0.35, 0.5, 0.65]], atol=1e-5)
    assert parse_grade(f"{cc}#warm", config).kind == "cdl"
    # Without an id, OpenColorIO would apply the first: a grade no one chose.
    with pytest.raises(GradeError, match=r"holds 2 colour corrections \(warm, cool\): name the one"):
        parse_grade(str(cc), config)
    single = tmp_path / "one.ccc"
    single.write_text(cc.read_text().split('<ColorCorrection id="cool">')[0] + "</ColorCorrectionCollection>")
    assert np.allclose(_grade(config, str(single), rgb), [[0.65, 0.5, 0.35]], atol=1e-5)


def test_a_grade_file_whose_path_holds_a_hash_or_an_equals_sign_is_read_as_the_file(config, tmp_path):
    """``reel #3/shot 010.cc`` was read as file ``reel `` with correction ``3/shot 010.cc``, and
    ``grade=v2/shot 010.cc`` as CDL text: both refused, the client and the bridges alike, though the
    file exists. A collection's id follows the file, and may hold ``#`` itself."""
    from movingcolor.v1 import fusion_pb2
    from movingcolor_client.setup import grade_message

    correction = (
        '<ColorCorrection id="{id}"><SOPNode><Slope>{slope}</Slope><Offset>0 0 0</Offset>'
        "<Power>1 1 1</Power></SOPNode><SatNode><Saturation>1</Saturation></SatNode></ColorCorrection>"
    )
    rgb = np.full((1, 3), 0.5, np.float32)
    for folder in ("reel #3", "grade=v2"):
        (tmp_path / folder).mkdir()
        cc = tmp_path / folder / "shot 010.cc"
        cc.write_text(correction.format(id="shot", slope="1.3 1.0 0.7"))
        assert np.allclose(_grade(config, str(cc), rgb), [[0.65, 0.5, 0.35]], atol=1e-5)
        sent = grade_message(str(cc))
        assert sent == fusion_pb2.Grade(file=cc.read_bytes(), file_name="shot 010.cc")
    ccc = tmp_path / "reel #3" / "shots.ccc"
    ccc.write_text(
        '<ColorCorrectionCollection xmlns="urn:ASC:CDL:v1.01">'
        + correction.format(id="warm", slope="1.3 1.0 0.7")
        + correction.format(id="cool", slope="0.7 1.0 1.3")
        + "</ColorCorrectionCollection>"
    )
    assert np.allclose(_grade(config, f"{ccc}#cool", rgb), [[0.35, 0.5, 0.65]], atol=1e-5)
    assert grade_message(f"{ccc}#cool") == fusion_pb2.Grade(
        file=ccc.read_bytes(), file_name="shots.ccc", cccid="cool"
    )
    # A CDL at full precision is longer than a file name may be: still a CDL, not an error.
    digits = ",".join(["1.0000000000000000000000000000000000000000000000000000001"] * 3)
    long_cdl = f"slope={digits};offset=0,0,0;power={digits};sat=1.00000000000000000000000000000000000"
    assert len(long_cdl) > 255 and parse_grade(long_cdl, config).kind == "cdl"
    assert grade_message(long_cdl) == fusion_pb2.Grade(text=long_cdl)


def _correction(id_: str, slope: str) -> str:
    return (
        f'<ColorCorrection id="{id_}"><SOPNode><Slope>{slope}</Slope><Offset>0 0 0</Offset>'
        "<Power>1 1 1</Power></SOPNode><SatNode><Saturation>1</Saturation></SatNode></ColorCorrection>"
    )


def test_a_correction_id_picks_that_correction_or_is_refused(config, tmp_path):
    """``FILE#ID`` on a .cc of another id, or on a LUT, applied the file whole: another shot's grade
    went out under the name asked for. An id may hold ``#`` (it was split at the last one and
    refused as no file), and a collection without ids is picked by place as its refusal says (it
    suggested ``FILE##0``, which failed)."""
    rgb = np.full((1, 3), 0.5, np.float32)
    single = tmp_path / "sh010.cc"
    single.write_text(_correction("sh010", "2 2 2"))
    assert np.allclose(_grade(config, f"{single}#sh010", rgb), [[1.0, 1.0, 1.0]], atol=1e-5)
    with pytest.raises(
        GradeError, match=r"sh010\.cc#sh020: sh010\.cc holds one correction and its id is 'sh010'"
    ):
        parse_grade(f"{single}#sh020", config)
    lut = tmp_path / "look.cube"
    lut.write_text("LUT_1D_SIZE 2\n0 0 0\n1 1 1\n")
    with pytest.raises(
        GradeError, match=r"look\.cube#sh020: a \.cube file holds no corrections to pick by id"
    ):
        parse_grade(f"{lut}#sh020", config)
    collection = tmp_path / "shots.ccc"
    body = _correction("sh010", "1 1 1") + _correction("sh#040", "0.5 0.5 0.5")
    collection.write_text(
        f'<ColorCorrectionCollection xmlns="urn:ASC:CDL:v1.01">{body}</ColorCorrectionCollection>'
    )
    assert np.allclose(_grade(config, f"{collection}#sh#040", rgb), [[0.25, 0.25, 0.25]], atol=1e-5)
    unnamed = tmp_path / "noids.ccc"
    unnamed.write_text(collection.read_text().replace(' id="sh010"', "").replace(' id="sh#040"', ""))
    with pytest.raises(GradeError, match=r"holds 2 colour corrections \(0, 1\): .* e\.g\. noids\.ccc#0$"):
        parse_grade(str(unnamed), config)
    assert np.allclose(_grade(config, f"{unnamed}#1", rgb), [[0.25, 0.25, 0.25]], atol=1e-5)


def test_an_id_no_correction_has_is_refused_not_taken_as_a_place(config, tmp_path):
    """OpenColorIO takes an id it does not find as a place: ``events.ccc#2`` of ids 001-003 applied
    003, the header recording #2; and a collection saved as .cc applied its first correction without
    a word (only .ccc and .cdl were counted)."""
    rgb = np.full((1, 3), 0.5, np.float32)
    body = _correction("001", "1 1 1") + _correction("002", "2 2 2") + _correction("003", "4 4 4")
    collection = f'<ColorCorrectionCollection xmlns="urn:ASC:CDL:v1.01">{body}</ColorCorrectionCollection>'
    events = tmp_path / "events.ccc"
    events.write_text(collection)
    with pytest.raises(
        GradeError, match=r"events\.ccc#2: none of the 3 corrections .* \(they are 001, 002, 003\)"
    ):
        parse_grade(f"{events}#2", config)
    assert np.allclose(_grade(config, f"{events}#002", rgb), [[1.0, 1.0, 1.0]], atol=1e-5)
    with pytest.raises(UnknownLookError, match=r"look: names no look; write look:NAME"):
        parse_grade("look:", config)
    saved_as_cc = tmp_path / "reel.cc"
    saved_as_cc.write_text(collection)
    with pytest.raises(GradeError, match=r"reel\.cc holds 3 colour corrections \(001, 002, 003\)"):
        parse_grade(str(saved_as_cc), config)
    assert np.allclose(_grade(config, f"{saved_as_cc}#003", rgb), [[2.0, 2.0, 2.0]], atol=1e-5)


def test_grade_files_and_values_refused_with_their_cause(config, tmp_path):
    """A UTF-16 .cc was refused as 'Missing CDL tag'; a shaper + 3D .cube with a TITLE line (as
    Resolve writes them) with OpenColorIO's parser dump; ``slope=`` with no number was taken as
    slope 1 without a word."""
    utf16 = tmp_path / "utf16.cc"
    utf16.write_text(
        '<?xml version="1.0" encoding="UTF-16"?>' + _correction("a", "1.2 1 1"), encoding="utf-16"
    )
    with pytest.raises(GradeError, match=r"utf16\.cc: is UTF-16 text, .* save it as UTF-8"):
        parse_grade(str(utf16), config)
    cube = tmp_path / "resolve.cube"
    shaper = ["LUT_1D_SIZE 2", "LUT_3D_SIZE 2"]
    rows = ["0 0 0", "1 1 1"] + [f"{r} {g} {b}" for b in (0, 1) for g in (0, 1) for r in (0, 1)]
    cube.write_text("\n".join(['TITLE "shot"', *shaper, *rows]) + "\n")
    with pytest.raises(GradeError, match=r"does not read a TITLE line .* delete the TITLE line"):
        parse_grade(str(cube), config)
    cube.write_text("\n".join([*shaper, *rows]) + "\n")
    assert parse_grade(str(cube), config).kind == "file"
    # An ordinary 3D cube cut short is not blamed on its TITLE.
    cube.write_text("\n".join(['TITLE "shot"', "LUT_3D_SIZE 2", *rows[2:-1]]) + "\n")
    with pytest.raises(GradeError, match=r"Incorrect number of 3D LUT entries") as refused:
        parse_grade(str(cube), config)
    assert "delete the TITLE line" not in str(refused.value)
    with pytest.raises(GradeError, match=r"grade part 'slope=' gives slope no number"):
        parse_grade("slope=;sat=1.2", config)


def test_a_lut_for_0_to_1_on_a_linear_plate_warns_of_flat_highlights(tmp_path, caplog):
    """A .cube made for display or log values, applied in the scene-linear space of an EXR plate,
    flattened every highlight above 1.0 to one colour without a word; with the space it expects
    named (--grade-colorspace ACEScct) nothing is said."""
    from conftest import run_cli
    from movingcolor.jobs.demo_shot import write_demo_inputs

    plate, matte = write_demo_inputs(tmp_path / "shot", frames=2, width=48, height=32)
    lut = tmp_path / "darken.cube"
    lut.write_text("LUT_1D_SIZE 2\n0 0 0\n0.9 0.9 0.9\n")
    fuse = ["fuse", "--plate", plate, "--matte", matte, "--grade", str(lut), "--engine", "hard", "--force"]
    with caplog.at_level("WARNING"):
        assert run_cli(*fuse, "--out", tmp_path / "a" / "f.####.exr") == 0
    assert "darken.cube flattens every value above 1.0 to one colour" in caplog.text
    assert "--grade-colorspace (e.g. ACEScct)" in caplog.text
    caplog.clear()
    with caplog.at_level("WARNING"):
        fuse += ["--grade-colorspace", "ACEScct"]
        assert run_cli(*fuse, "--out", tmp_path / "b" / "f.####.exr") == 0
    assert "flattens" not in caplog.text


def test_a_lut_of_a_wider_range_that_still_flattens_the_brightest_highlights_is_warned_of(tmp_path, caplog):
    """A .cube whose input range ends at 4 gave every highlight above it one colour, without a
    word: the check looked for greys flat from 1.5 up only."""
    from conftest import run_cli
    from movingcolor.jobs.demo_shot import write_demo_inputs

    plate, matte = write_demo_inputs(tmp_path / "shot", frames=1, width=48, height=32)
    lut = tmp_path / "range4.cube"
    lut.write_text("LUT_1D_SIZE 2\nLUT_1D_INPUT_RANGE 0.0 4.0\n0 0 0\n3.5 3.5 3.5\n")
    with caplog.at_level("WARNING"):
        fuse = ["fuse", "--plate", plate, "--matte", matte, "--grade", str(lut), "--engine", "hard"]
        assert run_cli(*fuse, "--out", tmp_path / "out" / "f.####.exr") == 0
    assert "range4.cube flattens every value above 4.0 to one colour" in caplog.text


def test_adjustments_and_looks_that_flatten_a_linear_plates_highlights_are_warned_of(tmp_path, caplog):
    """Parametric adjustments (applied to display-encoded values, clamped to 0..1) and a look holding
    a 0..1 LUT flattened every highlight of a scene-linear plate to one colour, and only a LUT file
    was warned of; a CDL, which keeps them, is not."""
    import PyOpenColorIO as ocio
    from conftest import run_cli
    from movingcolor.jobs.demo_shot import write_demo_inputs

    plate, matte = write_demo_inputs(tmp_path / "shot", frames=1, width=48, height=32)
    lut = tmp_path / "darken.cube"
    lut.write_text("LUT_1D_SIZE 2\n0 0 0\n0.9 0.9 0.9\n")
    config = ocio.Config.CreateFromFile("ocio://default")
    config.setSearchPath(str(tmp_path))
    config.addLook(
        ocio.Look(name="shotgrade", processSpace="ACEScg", transform=ocio.FileTransform("darken.cube"))
    )
    show = tmp_path / "show.ocio"
    show.write_text(config.serialize())
    fuse = ["fuse", "--plate", plate, "--matte", matte, "--engine", "hard", "--config", show]
    for number, grade in enumerate(("saturation=0.2", "look:shotgrade", "slope=1.2,1,0.8;sat=0.5")):
        caplog.clear()
        with caplog.at_level("WARNING"):
            assert run_cli(*fuse, "--grade", grade, "--out", tmp_path / str(number) / "f.####.exr") == 0
        flat = "flattens every value above 1.0 to one colour" in caplog.text
        assert flat == (grade != "slope=1.2,1,0.8;sat=0.5"), (grade, caplog.text)
        # The fix said is the grade's: --grade-colorspace applies to neither adjustments nor a look.
        assert ("--grade-colorspace" in caplog.text) == (grade == "never"), caplog.text
        assert ("grade with a CDL or a LUT instead" in caplog.text) == (grade == "saturation=0.2")
        assert ("its own process space" in caplog.text) == (grade == "look:shotgrade")
    # A config that gives no encodings (many show configs): a linear space is taken for
    # scene-linear by OpenColorIO's test of it, a log one is not (its values stay under 1.0).
    for space in config.getColorSpaces():
        space.setEncoding("")
        config.addColorSpace(space)
    plain = tmp_path / "plain.ocio"
    plain.write_text(config.serialize())
    cases = (("ACEScg", True), ("ACES2065-1", True), ("ACEScct", False))
    for number, (plate_space, flat) in enumerate(cases):
        caplog.clear()
        with caplog.at_level("WARNING"):
            arguments = ["--config", plain, "--plate-colorspace", plate_space, "--grade", "saturation=0.2"]
            assert run_cli(*fuse[:-2], *arguments, "--out", tmp_path / f"plain{number}" / "f.####.exr") == 0
        assert ("flattens every value above 1.0" in caplog.text) == flat, (plate_space, caplog.text)


def test_a_log_dpx_plate_read_as_the_integer_default_is_warned_of(tmp_path, caplog):
    """A 10-bit DPX whose header says "Printing density" (a Cineon film scan) was read as sRGB
    without a word: every colour, and the grade's place, wrong."""
    from conftest import run_cli

    (tmp_path / "plate").mkdir()
    spec = oiio.ImageSpec(32, 24, 4, oiio.UINT16)
    spec.attribute("oiio:BitsPerSample", 10)
    spec.attribute("dpx:Transfer", "Printing density")
    output = oiio.ImageOutput.create("dpx")
    output.open(str(tmp_path / "plate" / "scan.1001.dpx"), spec)
    scan = np.full((24, 32, 4), 0.45, np.float32)
    scan[..., 3] = 0.0
    scan[6:18, 8:24, 3] = 1.0  # the matte in its alpha
    output.write_image(scan)
    output.close()
    fuse = ["fuse", "--plate", tmp_path / "plate" / "scan.####.dpx", "--grade", "sat=1.2", "--engine", "hard"]
    with caplog.at_level("WARNING"):
        assert run_cli(*fuse, "--out", tmp_path / "a" / "f.####.exr") == 0
    assert "DPX header gives its transfer as Printing density (a log film scan)" in caplog.text
    caplog.clear()
    with caplog.at_level("WARNING"):
        assert run_cli(*fuse, "--plate-colorspace", "ACEScct", "--out", tmp_path / "b" / "f.####.exr") == 0
    assert "DPX header" not in caplog.text


def test_cube_lut_file(config, tmp_path):
    size = 5
    lines = ["LUT_3D_SIZE 5"]
    axis = np.linspace(0, 1, size)
    for b in axis:  # .cube lists red fastest
        for g in axis:
            for r in axis:
                lines.append(f"{r * 0.5:.6f} {g:.6f} {min(b * 1.5, 1):.6f}")
    lut = tmp_path / "look.cube"
    lut.write_text("\n".join(lines) + "\n")
    out = _grade(config, str(lut), np.array([[0.5, 0.25, 0.5]], np.float32))
    assert np.allclose(out, [[0.25, 0.25, 0.75]], atol=1e-4)


def test_unparsable_lut_names_the_file(config, tmp_path):
    bad = tmp_path / "broken.cube"
    bad.write_text("LUT_3D_SIZE 5\n0 0 0\nthis is not a lut\n")
    with pytest.raises(GradeError, match="broken.cube"):
        parse_grade(str(bad), config)


def test_looks(config):
    grade = parse_grade("look:ACES 1.3 Reference Gamut Compression", config)
    processor = grade.processor(config, "ACEScg", "ACEScg", "ACEScg")
    # The gamut compressor pulls an out-of-gamut colour back towards the gamut.
    out = apply_processor(processor, np.array([[1.0, -0.3, 0.2]], np.float32))
    assert out[0, 1] > -0.3
    with pytest.raises(UnknownLookError, match="ACES 1.3 Reference Gamut Compression"):
        parse_grade("look:Nope", config)


def test_looks_written_as_opencolorio_writes_them(tmp_path):
    """Inverse looks and looks applied in turn, as a show's look strings have them."""
    import PyOpenColorIO as ocio

    made = ocio.Config.CreateFromFile("ocio://default")
    for name, slope in (("warm", (1.2, 1.0, 0.8)), ("cool", (0.8, 1.0, 1.25))):
        made.addLook(ocio.Look(name=name, processSpace="ACEScg", transform=ocio.CDLTransform(slope=slope)))
    (tmp_path / "config.ocio").write_text(made.serialize())
    config = ColorConfig(str(tmp_path / "config.ocio"))
    colour = np.array([[0.3, 0.4, 0.5]], np.float32)

    def graded(spec: str) -> np.ndarray:
        return apply_processor(
            parse_grade(spec, config).processor(config, "ACEScg", "ACEScg", "ACEScg"), colour
        )

    np.testing.assert_allclose(graded("look:warm"), [[0.36, 0.4, 0.4]], atol=1e-6)
    np.testing.assert_allclose(graded("look:warm, -warm"), colour, atol=1e-6)
    np.testing.assert_allclose(graded("look:+warm:cool"), [[0.288, 0.4, 0.5]], atol=1e-6)
    np.testing.assert_allclose(graded("look:-cool"), [[0.375, 0.4, 0.4]], atol=1e-6)
    assert parse_grade("look:-warm", config).colorspace == "ACEScg"
    # Of alternatives OpenColorIO applies the first, and refuses it missing.
    np.testing.assert_allclose(graded("look:warm | sunset"), graded("look:warm"), atol=0)
    with pytest.raises(UnknownLookError, match="'sunset' missing"):
        parse_grade("look:sunset | warm", config)
    with pytest.raises(UnknownLookError, match="'sunset' missing.*it has: .*warm, cool"):
        parse_grade("look:warm, sunset", config)


def test_bad_grade_specs(config):
    for spec, message in [
        ("", "empty"),
        ("slope=1;exposure=1", "cannot be mixed"),
        ("slope=1,2", "one or three"),
        ("power=-1", "positive"),
        ("exposure=9", "outside"),
        ("/no/such/file.cube", "neither an existing file"),
        ("slope=abc", "not a number"),
        ("slope=1.2;offset=0.01;Slope=1.3", "gives slope twice"),
        ("exposure=1;exposure=0.5", "gives exposure twice"),
    ]:
        with pytest.raises(GradeError, match=message):
            parse_grade(spec, config)


def test_parametric_identity_and_lut_matches_formula(config):
    rgb = np.random.default_rng(3).random((500, 3), np.float32)
    identity = apply_processor(config.processor(ParametricGrade().to_transform()), rgb)
    assert np.allclose(identity, rgb, atol=1e-5)
    grade = ParametricGrade(
        brightness=0.05,
        contrast=0.3,
        exposure=0.5,
        warmth=0.3,
        saturation=0.4,
        vibrance=0.3,
        hue=0.05,
        gamma=1.2,
    )
    through_lut = apply_processor(config.processor(grade.to_transform()), rgb)
    assert np.abs(through_lut - grade.apply_encoded(rgb)).mean() < 2e-3


@pytest.mark.parametrize(
    "name, value, check",
    [
        ("exposure", 1.0, lambda a, b: (b >= a - 1e-6).all()),  # brighter everywhere
        ("saturation", -1.0, lambda a, b: np.allclose(b.max(1), b.min(1), atol=1e-6)),  # grey
        ("warmth", 0.5, lambda a, b: (b[:, 0] - b[:, 2]).mean() > (a[:, 0] - a[:, 2]).mean()),
        ("gamma", 2.0, lambda a, b: (b <= a + 1e-6).all()),  # darker mid-tones
        ("hue", 1 / 3, lambda a, b: np.allclose(b, a[:, [2, 0, 1]], atol=1e-5)),  # R->G, G->B, B->R
    ],
)
def test_parametric_adjustments_do_what_they_say(name, value, check):
    rgb = np.random.default_rng(4).random((200, 3)).astype(np.float32) * 0.9 + 0.05
    assert check(rgb, ParametricGrade(**{name: value}).apply_encoded(rgb))


def test_parametric_grade_runs_in_srgb_encoding(config):
    grade = parse_grade("saturation=-1", config)
    assert grade.kind == "parametric" and grade.colorspace == config.srgb_encoded
    processor = grade.processor(config, "ACEScg", "ACEScg", "ACEScg")
    out = apply_processor(processor, np.array([[0.4, 0.1, 0.05]], np.float32))
    display = config.convert(out, "ACEScg", config.srgb_encoded)
    assert np.allclose(display.max(), display.min(), atol=2e-3)


def _graded(config: ColorConfig, grade: str, rgb: np.ndarray) -> np.ndarray:
    processor = parse_grade(grade, config).processor(config, "ACEScg", "ACEScg", "ACEScg")
    return apply_processor(processor, rgb.copy())


def test_grades_in_one_process_are_each_their_own(tmp_path):
    """OpenColorIO's processor cache took every parametric grade after the first for the first (an
    in-memory LUT's cache ID does not cover its values): a server fused its second job with the
    first job's grade, and training graded its clips with a handful of grades. And a LUT file
    changed on disk was applied as first read, for the life of the process."""
    rgb = np.random.default_rng(0).uniform(0.0, 1.0, (64, 3)).astype(np.float32)
    config = ColorConfig()
    first = _graded(config, "gamma=3.0", rgb)
    second = _graded(config, "exposure=2.0", rgb)
    assert not np.allclose(first, second, atol=1e-3)
    assert np.array_equal(second, _graded(ColorConfig(), "exposure=2.0", rgb))

    lut = tmp_path / "changing.cube"

    def write_lut(gain: float) -> None:
        corners = [f"{r * gain} {g * gain} {b * gain}" for b in (0, 1) for g in (0, 1) for r in (0, 1)]
        lut.write_text("LUT_3D_SIZE 2\n" + "\n".join(corners) + "\n")

    grey = np.full((4, 3), 0.5, np.float32)
    write_lut(0.5)
    assert np.allclose(_graded(config, str(lut), grey), 0.25)
    write_lut(1.0)
    assert np.allclose(_graded(config, str(lut), grey), 0.5)


def test_a_parametric_grade_of_steep_curves_follows_its_formula(config):
    """Baked into a 33-point 3D LUT, the steep ends of exposure and gamma curves fell between its
    points: exposure=-2 came out 51 code values of 8-bit off the formula at 254, gamma=0.3 38 near
    black. Per-channel adjustments are a 1D LUT of every half-float value; others stay a 3D LUT."""
    from movingcolor.color.parametric import ParametricGrade

    codes = np.repeat((np.arange(256, dtype=np.float32) / 255)[:, None], 3, axis=1)
    for grade in (
        ParametricGrade(exposure=-2),
        ParametricGrade(gamma=0.3),
        ParametricGrade(exposure=1, contrast=0.5),
    ):
        graded = apply_processor(config.processor(grade.to_transform()), codes)
        assert np.abs(graded - grade.apply_encoded(codes)).max() * 255 < 0.5, grade
    mixed = ParametricGrade(saturation=0.5, exposure=1)  # one channel's change depends on the others
    graded = apply_processor(config.processor(mixed.to_transform()), codes)
    assert np.abs(graded - mixed.apply_encoded(codes)).max() * 255 < 2.0


def test_a_jpeg_declaring_srgb_by_its_interop_id_is_srgb_in_a_config_without_that_name():
    """OpenImageIO declares every JPEG (and PNG with an sRGB chunk) as srgb_rec709_scene, which the
    ACES 1.3 configs do not name: each run warned that the header's colourspace was unknown, though
    the sRGB space chosen was that one. A float file declaring it is still doubted."""
    config = ColorConfig("ocio://cg-config-v2.1.0_aces-v1.3_ocio-v2.3")
    assert config.config.getColorSpace("srgb_rec709_scene") is None
    chosen = config.choose(None, "srgb_rec709_scene", False, "plate")
    assert chosen.name == config.srgb_encoded == "sRGB - Texture" and chosen.doubt == ""
    assert "does not know" in config.choose(None, "srgb_rec709_scene", True, "plate").doubt


def test_a_correction_of_a_collection_is_recorded_by_its_values(tmp_path):
    """Fused frames record what their grade file applies (hosts tell takes apart by it): for one
    correction of a collection (``FILE#ID``) its values, so a collection republished with another
    shot's correction changed is the same grade for this shot, and another grade for that one."""
    from movingcolor.color.grade import parse_grade

    collection = tmp_path / "show.ccc"

    def publish(s2_slope: str) -> None:
        corrections = "".join(
            f'<ColorCorrection id="{name}"><SOPNode><Slope>{slope}</Slope><Offset>0 0 0</Offset>'
            f"<Power>1 1 1</Power></SOPNode><SatNode><Saturation>1</Saturation></SatNode></ColorCorrection>"
            for name, slope in (("s1", "1.2 1 1"), ("s2", s2_slope))
        )
        collection.write_text(f"<ColorCorrectionCollection>{corrections}</ColorCorrectionCollection>")

    config = ColorConfig()
    publish("1 1.2 1")
    before = {name: parse_grade(f"{collection}#{name}", config).digest for name in ("s1", "s2")}
    publish("1 1.5 1")
    after = {name: parse_grade(f"{collection}#{name}", config).digest for name in ("s1", "s2")}
    assert before["s1"] == after["s1"] and before["s2"] != after["s2"]
    assert parse_grade("slope=1.2,1,1", config).digest == ""  # a CDL written out: its label says it


def test_a_config_without_a_scene_linear_role_is_refused_with_the_fix(tmp_path):
    import PyOpenColorIO as ocio

    path = tmp_path / "raw.ocio"
    ocio.Config.CreateRaw().serialize(str(path))
    with pytest.raises(ColorConfigError, match=r"defines no scene_linear role") as refused:
        _ = ColorConfig(str(path)).scene_linear
    assert "add one under the config's roles" in str(refused.value) and "--config" in str(refused.value)


def test_a_shared_config_is_loaded_again_when_a_lut_it_reads_changes(tmp_path, monkeypatch):
    """A server keeps one config for every call: a show LUT a colourspace is defined by, updated in
    place, was applied as it was first read until the server restarted. Any file a transform names
    counts (in a subfolder of a search folder, inside a group); other files beside them do not."""
    import os

    import movingcolor.color.config as config_module
    import PyOpenColorIO as ocio

    monkeypatch.setattr(config_module, "LUT_CHECK_SECONDS", 0.0)
    (tmp_path / "show").mkdir()
    lut = tmp_path / "show" / "grade.cube"
    lut.write_text("LUT_1D_SIZE 2\n0.0 0.0 0.0\n1.0 1.0 1.0\n")
    config = ocio.Config.CreateFromFile("ocio://cg-config-latest")
    config.setSearchPath(".")
    show = ocio.ColorSpace(name="show_log", isData=False)
    group = ocio.GroupTransform([ocio.FileTransform("show/grade.cube")])
    show.setTransform(group, ocio.COLORSPACE_DIR_TO_REFERENCE)
    config.addColorSpace(show)
    path = tmp_path / "config.ocio"
    config.serialize(str(path))
    grey = np.full((1, 3), 0.5, np.float32)
    first = shared_config(str(path))
    before = first.convert(grey, "show_log", "ACES2065-1")
    (tmp_path / "render.log").write_text("another file in the search folder")
    assert shared_config(str(path)) is first
    lut.write_text("LUT_1D_SIZE 2\n0.0 0.0 0.0\n0.5 0.5 0.5\n")
    os.utime(lut, ns=(lut.stat().st_atime_ns, lut.stat().st_mtime_ns + 10**9))
    again = shared_config(str(path))
    assert again is not first and shared_config(str(path)) is again
    np.testing.assert_allclose(again.convert(grey, "show_log", "ACES2065-1"), before / 2, rtol=1e-5)
    # A LUT not there when the config loaded (copied in later) is picked up when it arrives.
    late = ocio.ColorSpace(name="late_log", isData=False)
    late.setTransform(ocio.FileTransform("show/late.cube"), ocio.COLORSPACE_DIR_TO_REFERENCE)
    config.addColorSpace(late)
    config.serialize(str(path))
    waiting = shared_config(str(path))
    with pytest.raises(ColorConfigError):
        waiting.convert(grey, "late_log", "ACES2065-1")
    (tmp_path / "show" / "late.cube").write_text("LUT_1D_SIZE 2\n0.0 0.0 0.0\n0.25 0.25 0.25\n")
    arrived = shared_config(str(path))
    assert arrived is not waiting
    np.testing.assert_allclose(arrived.convert(grey, "late_log", "ACES2065-1"), before / 4, rtol=1e-5)


def test_a_lut_variable_left_empty_watches_no_folder(tmp_path, monkeypatch):
    """An optional per-shot LUT (``src: $SHOT_LUT``) left empty resolves to its search folder: the
    folder was watched as the LUT, and any file copied into it reloaded every job's config."""
    import movingcolor.color.config as config_module
    import PyOpenColorIO as ocio

    monkeypatch.setattr(config_module, "LUT_CHECK_SECONDS", 0.0)
    (tmp_path / "luts").mkdir()
    config = ocio.Config.CreateRaw()
    config.setSearchPath("luts")
    config.addEnvironmentVar("SHOT_LUT", "")
    shot = ocio.ColorSpace(name="shot")
    shot.setTransform(ocio.FileTransform("$SHOT_LUT"), ocio.COLORSPACE_DIR_TO_REFERENCE)
    config.addColorSpace(shot)
    path = tmp_path / "config.ocio"
    config.serialize(str(path))
    first = shared_config(str(path))
    (tmp_path / "luts" / "other_show.cube").write_text("LUT_1D_SIZE 2\n0 0 0\n1 1 1\n")
    assert shared_config(str(path)) is first and first.lut_files == ()


def test_a_view_given_for_a_colourspace_is_said_to_be_a_view_with_the_display_colourspace_to_give():
    config = ColorConfig("ocio://studio-config-latest")
    display = config.config.getDefaultDisplay()
    view = next(iter(config.config.getViews(display)))
    said = f"is a view of display '{display}'.*such as '{display}'"
    with pytest.raises(UnknownColorspaceError, match=said):
        config.resolve(view)


def test_a_header_s_interop_id_is_the_colourspace_a_config_without_interop_ids_has_by_name(tmp_path):
    """OpenImageIO 3 writes a header's colourspace as an interop ID (ACES2065-1 as lin_ap0_scene); a
    show config written before them names the space alone. It was read as the default (ACEScg)."""
    import PyOpenColorIO as ocio

    made = ocio.Config.CreateFromFile("ocio://cg-config-latest")
    for name in ("ACES2065-1", "ACEScct"):
        space = made.getColorSpace(name)
        space.setInteropID("")
        space.clearAliases()
        made.addColorSpace(space)
    (tmp_path / "config.ocio").write_text(made.serialize())
    config = ColorConfig(str(tmp_path / "config.ocio"))
    assert config.config.getColorSpace("lin_ap0_scene") is None
    chosen = config.choose(None, "lin_ap0_scene", True, "plate")
    assert chosen.name == "ACES2065-1" and not chosen.doubt and "lin_ap0_scene" in chosen.reason
    assert config.choose(None, "ocio:acescct_ap1_scene", True, "plate").name == "ACEScct"
    unknown = config.choose(None, "no_such_space", True, "plate")
    assert unknown.name == config.scene_linear and "does not know" in unknown.doubt


def test_an_exr_of_a_scene_linear_plate_is_written_in_the_plates_colourspace(tmp_path):
    """An ACES2065-1 delivery went back as ACEScg (the config's scene_linear): every pixel changed,
    outside the matte too, and its primaries with them."""
    from conftest import run_cli
    from movingcolor.frames.image_io import read_header, read_pixels, write_image
    from movingcolor.jobs.colorspaces import output_colorspace

    config = ColorConfig("ocio://default")
    assert output_colorspace(config, None, "ACES2065-1", True, ".exr").name == "ACES2065-1"
    assert output_colorspace(config, None, "ACEScct", True, ".exr").name == config.scene_linear
    assert output_colorspace(config, None, config.srgb_encoded, False, ".exr").name == config.scene_linear
    assert output_colorspace(config, "ACEScg", "ACES2065-1", True, ".exr").name == "ACEScg"
    rng = np.random.default_rng(2)
    rows, columns = np.mgrid[0:24, 0:32]
    distance = np.hypot(rows - 12, columns - 16)
    (tmp_path / "shot").mkdir()
    for number in (1, 2):
        pixels = rng.uniform(0.0, 2.0, (24, 32, 4)).astype(np.float32)
        pixels[..., 3] = distance < 7
        write_image(tmp_path / "shot" / f"p.{number}.exr", pixels, channels=("R", "G", "B", "A"),
                    attributes={"oiio:ColorSpace": "lin_ap0_scene"})  # fmt: skip
    plate = str(tmp_path / "shot" / "p.#.exr")
    assert run_cli("fuse", "--plate", plate, "--grade", "slope=1.2,1,0.8", "--engine", "hard",
                   "--exr-type", "float", "--out", str(tmp_path / "out" / "f.####.exr")) == 0  # fmt: skip
    fused = read_pixels(tmp_path / "out" / "f.0001.exr")
    source = read_pixels(tmp_path / "shot" / "p.1.exr")[..., :3]
    np.testing.assert_array_equal(fused[distance > 10], source[distance > 10])
    assert read_header(tmp_path / "out" / "f.0001.exr").attributes["movingcolor:colorspace"] == "ACES2065-1"
