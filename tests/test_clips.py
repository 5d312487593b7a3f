"""``movingcolor fuse`` on the real bear clip (DAVIS), with every engine.

The clips live outside the repository (../shared/data/clips); these tests skip
with the reason when they are absent.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import run_cli
from movingcolor.color.config import ColorConfig
from movingcolor.engines import engine_names
from movingcolor.frames.image_io import read_header, read_pixels, write_image
from movingcolor.frames.matte import matte_from_pixels
from movingcolor.masks.band import BandWidth, edge_band

FRAMES = "0-5"
CDL = "slope=1.15,1.05,0.9;offset=0.02;power=0.95;sat=1.2"


@pytest.mark.clips
@pytest.mark.parametrize("engine", engine_names())
def test_bear_with_a_cdl_grade(clips, tmp_path, engine):
    bear = clips / "bear"
    out = tmp_path / "f.####.png"
    assert (
        run_cli(
            "fuse",
            "--plate",
            bear / "frames",
            "--matte",
            bear / "mask",
            "--grade",
            CDL,
            "--engine",
            engine,
            "--frames",
            FRAMES,
            "--band",
            "10%",
            "--out",
            out,
        )
        == 0
    )
    plate = read_pixels(bear / "frames" / "00003.png")
    fused = read_pixels(tmp_path / "f.0003.png")
    matte = matte_from_pixels(read_pixels(bear / "mask" / "00003.png"))
    band = edge_band(matte, BandWidth.parse("10%"))
    outside = (matte == 0) & ~band
    # Untouched pixels are the plate's own 8-bit codes.
    assert np.array_equal(fused[outside], plate[outside])
    inside = (matte == 1) & ~band
    assert np.abs(fused[inside] - plate[inside]).mean() > 0.02


@pytest.mark.clips
@pytest.mark.parametrize("engine", engine_names())
def test_bear_edited_by_the_host(clips, tmp_path, engine):
    """``edit_high_brightness`` is a real hard-edged edit: the brightened bear."""
    bear = clips / "bear"
    out = tmp_path / "f.####.exr"
    assert (
        run_cli(
            "fuse",
            "--plate",
            bear / "frames",
            "--matte",
            bear / "mask",
            "--edited",
            bear / "edit_high_brightness",
            "--engine",
            engine,
            "--frames",
            FRAMES,
            "--out",
            out,
        )
        == 0
    )
    fused = read_pixels(tmp_path / "f.0002.exr")
    # The EXR is scene-linear (the default for EXR); the host's composite is an sRGB-encoded PNG.
    config = ColorConfig()
    written_in = read_header(tmp_path / "f.0002.exr").attributes["movingcolor:colorspace"]
    edited = config.convert(
        read_pixels(bear / "edit_high_brightness" / "00002.png")[..., :3], config.srgb_encoded, written_in
    )
    matte = matte_from_pixels(read_pixels(bear / "mask" / "00002.png"))
    band = edge_band(matte, BandWidth.parse("12"))
    # Half-float EXR of 8-bit values: equal to the host's composite outside the band.
    assert np.abs(fused[~band] - edited[~band]).max() < 1e-3
    assert read_header(tmp_path / "f.0002.exr").attributes["movingcolor:engine"] == engine
    if engine == "hard":
        assert np.abs(fused - edited).max() < 1e-3


@pytest.mark.clips
def test_video_plate_with_a_still_matte(clips, tmp_path):
    """An H.264 MP4 plate through PyAV; a still image serves as the matte for every frame."""
    video = clips / "running_car" / "running_car.mp4"
    matte = np.zeros((540, 972, 1), np.float32)
    matte[200:400, 300:700] = 1.0
    write_image(tmp_path / "matte.png", matte, channels=("Y",))
    out = tmp_path / "out"
    assert (
        run_cli(
            "fuse",
            "--plate",
            video,
            "--matte",
            tmp_path / "matte.png",
            "--grade",
            "saturation=-1",
            "--engine",
            "feather",
            "--frames",
            "10-12",
            "--out",
            out / "car.####.png",
        )
        == 0
    )
    frame = read_pixels(out / "car.0011.png")
    assert frame.shape == (540, 972, 3)
    centre = frame[260:340, 400:600]
    assert np.abs(centre - centre.mean(axis=2, keepdims=True)).max() < 0.01  # grey inside
