"""Integer plates (PNG, JPEG, TIFF, DPX): what their headers say of their colours reaches the shot's
colourspaces and warnings, in process and through a server, and integer outputs keep their headers."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import OpenImageIO as oiio
import pytest
from conftest import run_cli
from movingcolor.color.config import ColorConfig
from movingcolor.frames.image_io import TypedAttribute, read_header, read_pixels, write_image
from movingcolor.frames.timecode import smpte_packed

FRAMES = (1001, 1002)
WIDTH, HEIGHT = 96, 64
P3 = "sRGB Encoded P3-D65"


def _picture(number: int) -> np.ndarray:
    """A smooth picture of every hue, moving a little from frame to frame: ``(H, W, 3)``, 0..1."""
    rows, columns = np.mgrid[0:HEIGHT, 0:WIDTH].astype(np.float32)
    wave = 0.5 + 0.4 * np.sin((rows + columns + 5 * number) / 7)
    return np.stack([columns / (WIDTH - 1), rows / (HEIGHT - 1), wave], axis=-1).astype(np.float32)


def _write(path: Path, pixels: np.ndarray, sample: oiio.TypeDesc, attributes: dict | None = None) -> None:
    """``pixels`` (0..1) as ``path`` in OpenImageIO's integer ``sample``, with header ``attributes``
    (a value given as ``(type, value)`` is set as that type)."""
    spec = oiio.ImageSpec(pixels.shape[1], pixels.shape[0], pixels.shape[2], sample)
    for key, value in (attributes or {}).items():
        if isinstance(value, tuple):
            spec.attribute(key, oiio.TypeDesc(value[0]), value[1])
        else:
            spec.attribute(key, value)
    path.parent.mkdir(parents=True, exist_ok=True)
    output = oiio.ImageOutput.create(str(path))
    assert output.open(str(path), spec), output.geterror()
    assert output.write_image(pixels), output.geterror()
    assert output.close()


def _matte(folder: Path) -> Path:
    """A disc matte for each of ``FRAMES``, as 8-bit PNG; the pattern."""
    rows, columns = np.mgrid[0:HEIGHT, 0:WIDTH]
    for number in FRAMES:
        disc = (np.hypot(rows - 32, columns - 40 - (number - 1001) * 3) < 18).astype(np.float32)
        _write(folder / f"matte.{number}.png", disc[..., None], oiio.UINT8)
    return folder / "matte.####.png"


def _outside(number: int, margin: int = 24) -> np.ndarray:
    """The pixels far from frame ``number``'s matte edge (the band and its filters' reach left out)."""
    rows, columns = np.mgrid[0:HEIGHT, 0:WIDTH]
    return np.hypot(rows - 32, columns - 40 - (number - 1001) * 3) > 18 + margin


def icc_profile(description: str, version: int = 4) -> bytes:
    """A matrix/TRC display profile (its colorants Display P3's, a 2.2 curve) described as
    ``description``: in a version 4 profile's ``mluc`` tag (UTF-16), in a version 2 one's ``desc``
    (ASCII). MovingColor goes by the description, as OpenImageIO decodes it."""

    def xyz(*values: float) -> bytes:
        return b"XYZ \0\0\0\0" + b"".join(struct.pack(">i", round(v * 65536)) for v in values)

    if version == 4:
        text = description.encode("utf-16-be")
        record = b"enUS" + struct.pack(">II", len(text), 28)  # the text's length and place in the tag
        desc = b"mluc\0\0\0\0" + struct.pack(">II", 1, 12) + record + text
    else:
        text = description.encode("ascii") + b"\0"
        desc = b"desc\0\0\0\0" + struct.pack(">I", len(text)) + text + b"\0" * 78  # no Unicode, no Mac name
    curve = b"curv\0\0\0\0" + struct.pack(">IH", 1, 0x0233) + b"\0\0"  # gamma 2.2 (u8Fixed8)
    tags = [
        (b"desc", desc),
        (b"wtpt", xyz(0.9642, 1.0, 0.8249)),
        (b"rXYZ", xyz(0.5151, 0.2412, -0.0011)),
        (b"gXYZ", xyz(0.2920, 0.6922, 0.0419)),
        (b"bXYZ", xyz(0.1571, 0.0666, 0.7841)),
        (b"rTRC", curve),
        (b"gTRC", curve),
        (b"bTRC", curve),
    ]
    offset = 128 + 4 + 12 * len(tags)
    table, data = b"", b""
    for signature, body in tags:
        body += b"\0" * (-len(body) % 4)
        table += signature + struct.pack(">II", offset + len(data), len(body))
        data += body
    header = (
        struct.pack(">I", offset + len(data))
        + b"\0" * 4
        + struct.pack(">I", 0x04400000 if version == 4 else 0x02100000)
        + b"mntrRGB XYZ "
        + b"\0" * 12
        + b"acsp"
        + b"\0" * 28
        + b"".join(struct.pack(">i", round(v * 65536)) for v in (0.9642, 1.0, 0.8249))
        + b"\0" * 48
    )
    return header + struct.pack(">I", len(tags)) + table + data


def _with_icc(description: str, version: int = 4) -> dict:
    profile = icc_profile(description, version)
    return {"ICCProfile": (f"uint8[{len(profile)}]", np.frombuffer(profile, np.uint8))}


def _plate(folder: Path, extension: str, sample=oiio.UINT8, attributes: dict | None = None) -> Path:
    for number in FRAMES:
        _write(folder / f"p.{number}.{extension}", _picture(number), sample, attributes)
    return folder / f"p.####.{extension}"


def _fuse(plate: Path, matte: Path, out: Path, *more) -> int:
    return run_cli("fuse", "--plate", plate, "--matte", matte, "--grade", "slope=1.2,1,0.8",
                   "--engine", "hard", "--band", "4", "--out", out, *more)  # fmt: skip


# -- ICC profiles ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("extension", "version"), [("png", 4), ("jpg", 4), ("tif", 2)])
def test_a_plate_with_a_display_p3_icc_profile_is_read_as_p3(tmp_path, caplog, extension, version):
    """OpenImageIO declares every PNG and JPEG sRGB, whatever profile it embeds (and a TIFF nothing):
    a Display P3 plate was read as sRGB (every colour of an EXR output off) and said to be "declared"
    sRGB. The profile's description, version 4's UTF-16 and version 2's ASCII alike, names the space."""
    plate = _plate(tmp_path / "plate", extension, attributes=_with_icc("Display P3", version))
    matte = _matte(tmp_path / "matte")
    with caplog.at_level("INFO"):
        assert _fuse(plate, matte, tmp_path / "exr" / "f.####.exr") == 0
    reason = "declared by the ICC profile 'Display P3' the plate file embeds"
    assert f"plate colourspace: {P3} ({reason})" in caplog.text
    assert "WARNING" not in [record.levelname for record in caplog.records]
    config = ColorConfig("ocio://default")
    for number in FRAMES:
        source = read_pixels(Path(str(plate).replace("####", str(number))))
        fused = read_pixels(tmp_path / "exr" / f"f.{number}.exr")
        expected = config.convert(source, P3, config.scene_linear)
        outside = _outside(number)
        np.testing.assert_allclose(fused[outside], expected[outside], rtol=2e-3, atol=2e-4)


def test_a_p3_plates_png_output_is_recorded_as_p3_not_srgb(tmp_path, caplog):
    """A PNG output keeps a P3 plate's encoding, and records it (its cICP chunk), so that readers
    other than MovingColor take it as P3: it was labelled sRGB."""
    plate = _plate(tmp_path / "plate", "png", attributes=_with_icc("Display P3"))
    with caplog.at_level("INFO"):
        assert _fuse(plate, _matte(tmp_path / "matte"), tmp_path / "png" / "f.####.png") == 0
    assert f"output colourspace: {P3}" in caplog.text
    spec = oiio.ImageInput.open(str(tmp_path / "png" / "f.1001.png")).spec()
    assert spec.get_string_attribute("oiio:ColorSpace") == "srgb_p3d65_scene"
    assert "WARNING" not in [record.levelname for record in caplog.records]


def test_an_srgb_icc_profile_is_read_as_srgb(tmp_path, caplog):
    plate = _plate(tmp_path / "plate", "png", attributes=_with_icc("sRGB IEC61966-2.1", 2))
    with caplog.at_level("INFO"):
        assert _fuse(plate, _matte(tmp_path / "matte"), tmp_path / "exr" / "f.####.exr") == 0
    assert "plate colourspace: sRGB Encoded Rec.709 (sRGB) (declared in the plate file header)" in caplog.text
    assert "WARNING" not in [record.levelname for record in caplog.records]


def test_an_icc_profile_no_colourspace_is_known_for_is_warned_of(tmp_path, caplog):
    """A ProPhoto RGB plate (or graded plate) was read as sRGB, "declared" so, without a word; the
    config has no space for it: read as declaring nothing, and the profile named in a warning."""
    plate = _plate(tmp_path / "plate", "png", attributes=_with_icc("ProPhoto RGB"))
    matte = _matte(tmp_path / "matte")
    with caplog.at_level("INFO"):
        assert _fuse(plate, matte, tmp_path / "a" / "f.####.exr") == 0
    assert "plate colourspace: sRGB Encoded Rec.709 (sRGB) (default for integer plate files" in caplog.text
    warned = [record.getMessage() for record in caplog.records if record.levelname == "WARNING"]
    assert len(warned) == 1 and "ICC profile 'ProPhoto RGB'" in warned[0], warned
    assert "--plate-colorspace" in warned[0]
    caplog.clear()
    with caplog.at_level("WARNING"):
        assert _fuse(plate, matte, tmp_path / "b" / "f.####.exr", "--plate-colorspace", "sRGB - Texture") == 0
    assert "ICC profile" not in caplog.text

    # A graded plate embedding it: read in the plate's colourspace as one declaring nothing is, and said.
    plain = _plate(tmp_path / "plain", "png")
    graded = _plate(tmp_path / "graded", "png", attributes=_with_icc("ProPhoto RGB"))
    caplog.clear()
    with caplog.at_level("WARNING"):
        assert run_cli("fuse", "--plate", plain, "--matte", matte, "--graded", graded, "--engine", "hard",
                       "--band", "4", "--out", tmp_path / "c" / "f.####.exr") == 0  # fmt: skip
    warned = [record.getMessage() for record in caplog.records if record.levelname == "WARNING"]
    assert len(warned) == 1 and "graded file embeds ICC profile 'ProPhoto RGB'" in warned[0], warned
    assert "--graded-colorspace" in warned[0]


# -- DPX transfers --------------------------------------------------------------------------------


def _dpx(folder: Path, transfer: str, bits: int = 10) -> Path:
    return _plate(folder, "dpx", oiio.UINT16, {"oiio:BitsPerSample": bits, "dpx:Transfer": transfer})


def test_a_log_dpx_warning_names_log_spaces_the_config_has(tmp_path, caplog):
    """The warning sent the user to "the config's Cineon or ADX space", and the default config has
    neither (--plate-colorspace Cineon failed): it names the film-scan spaces the config has, or a
    config that has one, and that suggestion runs."""
    plate = _dpx(tmp_path / "plate", "Printing density")
    matte = _matte(tmp_path / "matte")
    with caplog.at_level("WARNING"):
        assert _fuse(plate, matte, tmp_path / "a" / "f.####.tif") == 0
    said = caplog.text
    assert "DPX header gives its transfer as Printing density (a log film scan)" in said
    assert "Cineon or ADX space)" not in said
    assert "--config ocio://studio-config-latest --plate-colorspace ADX10" in said
    assert "ACEScct" in said  # the log spaces it has, none a film scan's
    # The header's facts of the plate's file are not the output's: a 10-bit DPX's TIFF holds 16 bits.
    written = oiio.ImageInput.open(str(tmp_path / "a" / "f.1001.tif")).spec()
    assert written.get_int_attribute("oiio:BitsPerSample") == 16
    assert not written.get_string_attribute("dpx:Transfer")

    caplog.clear()
    with caplog.at_level("INFO"):
        studio = ("--config", "ocio://studio-config-latest")
        assert _fuse(plate, matte, tmp_path / "b" / "f.####.exr", *studio) == 0
    assert "this config's film-scan spaces: ADX10, ADX16" in caplog.text

    caplog.clear()
    suggested = ("--config", "ocio://studio-config-latest", "--plate-colorspace", "ADX10")
    with caplog.at_level("INFO"):
        assert _fuse(plate, matte, tmp_path / "c" / "f.####.exr", *suggested) == 0
    assert "plate colourspace: ADX10 (plate colourspace given)" in caplog.text
    assert "DPX header" not in caplog.text


def test_a_dpx_with_rec709s_transfer_gets_the_note_a_rec709_video_gets(tmp_path, caplog):
    """A DPX whose header gives BT.709's transfer was read with the sRGB curve as "declared", with no
    word of the BT.1886 reading a video with the same tag is told of."""
    plate = _dpx(tmp_path / "plate", "ITU-R 709-4")
    matte = _matte(tmp_path / "matte")
    with caplog.at_level("INFO"):
        assert _fuse(plate, matte, tmp_path / "a" / "f.####.exr") == 0
    notes = [record.getMessage() for record in caplog.records if "ITU-R 709-4" in record.getMessage()]
    assert len(notes) == 1 and "'Gamma 2.4 Encoded Rec.709'" in notes[0] and "--plate-colorspace" in notes[0]
    caplog.clear()
    with caplog.at_level("INFO"):
        named = ("--plate-colorspace", "Gamma 2.4 Encoded Rec.709")
        assert _fuse(plate, matte, tmp_path / "b" / "f.####.exr", *named) == 0
    assert "ITU-R 709-4" not in caplog.text


# -- through a server -----------------------------------------------------------------------------


def test_through_a_server_a_deep_plate_written_as_png_is_warned_of(tmp_path, caplog, served):
    """A 16-bit plate written as 8-bit PNG is warned of in process; through a server the warning was
    lost (the server's shot has an output format, not an output path)."""
    plate = _plate(tmp_path / "plate", "png", oiio.UINT16)
    matte = _matte(tmp_path / "matte")
    with caplog.at_level("WARNING"):
        assert _fuse(plate, matte, tmp_path / "a" / "f.####.png", "--server", served.address) == 0
    assert "a plate of more than 8 bits is written as 8-bit PNG" in caplog.text
    caplog.clear()
    with caplog.at_level("WARNING"):
        assert _fuse(plate, matte, tmp_path / "b" / "f.####.tif", "--server", served.address) == 0
    assert "8-bit PNG" not in caplog.text


def test_through_a_server_a_log_dpx_is_warned_of(tmp_path, caplog, served):
    """The log DPX warning read the plate's file again, which a server has not: it was lost."""
    plate = _dpx(tmp_path / "plate", "Printing density")
    matte = _matte(tmp_path / "matte")
    with caplog.at_level("WARNING"):
        assert _fuse(plate, matte, tmp_path / "a" / "f.####.exr", "--server", served.address) == 0
    assert "DPX header gives its transfer as Printing density (a log film scan)" in caplog.text


# -- what a PNG output keeps ----------------------------------------------------------------------


def test_a_png_output_keeps_typed_attributes_as_text(tmp_path):
    """OpenImageIO's PNG writer keeps text alone: a plate's timecode (and rate) vanished from PNG
    outputs. They are written as their text; EXR keeps them typed, as before."""
    attributes = {
        "smpte:TimeCode": TypedAttribute("timecode", smpte_packed("01:00:00:05")),
        "FramesPerSecond": TypedAttribute("rational2i", (24000, 1001)),
        "PixelAspectRatio": TypedAttribute("float", 2.0),
        "Copyright": TypedAttribute("string", "ACME VFX"),
    }
    pixels = np.full((8, 8, 3), 0.5, np.float32)
    write_image(tmp_path / "f.png", pixels, attributes=attributes)
    kept = read_header(tmp_path / "f.png").attributes
    assert kept["smpte:TimeCode"] == "01:00:00:05"
    assert kept["FramesPerSecond"] == "24000/1001"
    assert kept["PixelAspectRatio"] == 2.0 and kept["Copyright"] == "ACME VFX"
    # A drop-frame timecode keeps its separator.
    dropped = {"smpte:TimeCode": TypedAttribute("timecode", smpte_packed("01:00:00;05"))}
    write_image(tmp_path / "d.png", pixels, attributes=dropped)
    assert read_header(tmp_path / "d.png").attributes["smpte:TimeCode"] == "01:00:00;05"
    write_image(tmp_path / "f.exr", pixels, attributes=attributes)
    kept = read_header(tmp_path / "f.exr").attributes
    assert kept["smpte:TimeCode"] == smpte_packed("01:00:00:05")
    assert kept["FramesPerSecond"] == (24000, 1001)
