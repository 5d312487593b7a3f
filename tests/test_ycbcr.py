"""Y'CbCr video read as the standards write it: reference white is 1.0, every size and subsampling
keeps its three colours, and a grey picture in the video range is read in that range."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from movingcolor.frames.ycbcr import MATRICES, ycbcr_to_rgb

av = pytest.importorskip("av")


def _write_codes(
    path: Path, width: int, height: int, pix_fmt: str, codes, colorspace: int, colour_range: int
):
    """A one-frame lossless (FFV1) video whose planes hold exactly ``codes`` (one per plane)."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream("ffv1", rate=24)
        stream.width, stream.height, stream.pix_fmt = width, height, pix_fmt
        stream.codec_context.colorspace = colorspace
        stream.codec_context.color_range = colour_range
        frame = av.VideoFrame(width, height, pix_fmt)
        dtype = np.uint8 if frame.format.components[0].bits == 8 else np.uint16
        for plane, code in zip(frame.planes, codes, strict=True):
            plane.update(np.full(plane.buffer_size // np.dtype(dtype).itemsize, code, dtype).tobytes())
        frame.colorspace, frame.color_range = colorspace, colour_range
        for packet in [*stream.encode(frame), *stream.encode()]:
            container.mux(packet)


def _read(path: Path) -> np.ndarray:
    from movingcolor.frames.video_io import VideoReader

    reader = VideoReader(path)
    try:
        return reader.read(0)
    finally:
        reader.close()


@pytest.mark.parametrize(
    ("pix_fmt", "codes", "colour_range", "level"),
    [
        ("yuv422p10le", (940, 512, 512), 1, 1.0),  # ProRes 422's reference white
        ("yuv422p10le", (502, 512, 512), 1, 0.5),
        ("yuv422p10le", (64, 512, 512), 1, 0.0),
        ("yuv444p12le", (3760, 2048, 2048), 1, 1.0),
        ("yuv420p10le", (1023, 512, 512), 2, 1.0),
        ("yuv420p", (235, 128, 128), 1, 1.0),
        ("yuv420p", (126, 128, 128), 1, 110 / 219),
    ],
)
def test_video_levels_read_exactly(tmp_path, pix_fmt, codes, colour_range, level):
    """Reference white reads 1.0 and mid grey half of it: swscale's 16-bit conversion read 10-bit 940
    as 0.99615 and 502 as 0.49807, a 0.4% gain on every pixel of a ProRes 422 plate."""
    path = tmp_path / "levels.mkv"
    _write_codes(path, 64, 32, pix_fmt, codes, 1, colour_range)
    pixels = _read(path)
    assert pixels.shape == (32, 64, 3)
    assert np.abs(pixels - level).max() < 1e-6


@pytest.mark.parametrize("pix_fmt", ["yuv420p10le", "yuv420p", "yuv422p10le"])
@pytest.mark.parametrize("size", [(853, 479), (53, 31)])
def test_odd_sized_subsampled_video_keeps_every_colour(tmp_path, pix_fmt, size):
    """A 4:2:0 10-bit picture of odd width came back with its green at 0 on every row but the first
    (swscale's packed 16-bit RGB); every pixel of a flat colour reads that colour."""
    width, height = size
    bits = 10 if "10" in pix_fmt else 8
    steps = 1 << (bits - 8)
    # Rec.709 codes of R'G'B' (0.6, 0.3, 0.15), limited range.
    rgb = np.array([0.6, 0.3, 0.15])
    kr, kb = MATRICES[1]
    y = kr * rgb[0] + (1 - kr - kb) * rgb[1] + kb * rgb[2]
    cb, cr = (rgb[2] - y) / (2 * (1 - kb)), (rgb[0] - y) / (2 * (1 - kr))
    codes = [round((16 + 219 * y) * steps), round((128 + 224 * cb) * steps), round((128 + 224 * cr) * steps)]
    path = tmp_path / "odd.mkv"
    _write_codes(path, width, height, pix_fmt, codes, 1, 1)
    pixels = _read(path)
    assert pixels.shape == (height, width, 3)
    # Within the codes' own rounding: half a code of Y', Cb and Cr.
    assert np.abs(pixels - rgb).max() < 2.0 / (219 * steps)


def test_a_grey_picture_in_the_video_range_reads_in_that_range(tmp_path):
    """A grey matte encoded for video (black 16, white 235, tagged so) read 0.063 outside and 0.92
    inside: the grade leaked over the whole frame and never reached full strength inside."""
    path = tmp_path / "grey.mkv"
    for code, level in ((940, 1.0), (64, 0.0), (502, 0.5)):
        _write_codes(path, 32, 16, "gray10le", (code,), 2, 1)
        assert np.abs(_read(path) - level).max() < 1e-6
    _write_codes(path, 32, 16, "gray10le", (1023,), 2, 2)  # full range: as stored
    assert _read(path).min() == 1.0


@pytest.mark.parametrize("colorspace", [1, 5, 9])
@pytest.mark.parametrize("full_range", [False, True])
def test_the_conversion_inverts_each_matrix(colorspace, full_range):
    """Random R'G'B' encoded with a matrix's forward equations (unrounded codes, 4:4:4) comes back
    as it was, in both ranges."""
    rng = np.random.default_rng(colorspace)
    rgb = rng.uniform(0.0, 1.0, (8, 12, 3))
    kr, kb = MATRICES[colorspace]
    y = kr * rgb[..., 0] + (1 - kr - kb) * rgb[..., 1] + kb * rgb[..., 2]
    cb, cr = (rgb[..., 2] - y) / (2 * (1 - kb)), (rgb[..., 0] - y) / (2 * (1 - kr))
    bits = 12
    if full_range:
        largest = (1 << bits) - 1
        codes = (y * largest, cb * largest + (1 << (bits - 1)), cr * largest + (1 << (bits - 1)))
    else:
        steps = 1 << (bits - 8)
        codes = ((16 + 219 * y) * steps, (128 + 224 * cb) * steps, (128 + 224 * cr) * steps)
    back = ycbcr_to_rgb(*codes, bits, (kr, kb), full_range)
    assert np.abs(back - rgb).max() < 1e-5


def test_chroma_is_interpolated_co_sited_across_and_centred_down():
    """Subsampled chroma reaches the luma's size by straight lines through its samples, each sample
    on its first luma column (co-sited, as MPEG-2 on and ProRes place it) and between its two luma
    rows (4:2:0): a ramp of Cr stays a ramp of R', and edges hold their last sample."""
    bits, steps = 10, 4
    luma = np.full((4, 8), 64 + 219 * steps // 2, np.uint16)
    neutral = 128 * steps
    cr = np.array([[0, 8, 16, 24]] * 2, np.float64) * steps + neutral
    cb = np.full((2, 4), neutral, np.float64)
    rgb = ycbcr_to_rgb(luma.astype(np.float64), cb, cr, bits, MATRICES[1], False)
    scale = 2 * (1 - MATRICES[1][0]) / 224
    red_shift = (rgb[0, :, 0] - rgb[0, 0, 0]) / scale
    # Columns 0, 2, 4, 6 on the samples (0, 8, 16, 24); odd columns halfway; the last one held.
    assert np.allclose(red_shift, [0, 4, 8, 12, 16, 20, 24, 24], atol=1e-4)
    # Down: rows 0 and 1 of 4:2:0 both come from chroma row 0 (a quarter of row 1 in row 1).
    cr_rows = np.array([[0.0] * 4, [40.0] * 4]) * steps + neutral
    rgb = ycbcr_to_rgb(luma.astype(np.float64), cb, cr_rows, bits, MATRICES[1], False)
    assert np.allclose((rgb[:, 0, 0] - rgb[0, 0, 0]) / scale, [0, 10, 30, 40], atol=1e-4)
