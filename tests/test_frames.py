"""Frame I/O with real OpenImageIO and PyAV."""

from __future__ import annotations

import logging
from dataclasses import replace
from fractions import Fraction
from pathlib import Path

import numpy as np
import OpenImageIO as oiio
import pytest
from movingcolor.errors import (
    FrameRangeError,
    FrameSizeMismatchError,
    FrameSourceError,
    InvalidPixelsError,
    OutputError,
    UnreadableFrameError,
)
from movingcolor.frames.frame_range import FrameRange
from movingcolor.frames.image_io import file_samples, read_header, read_pixels, write_image
from movingcolor.frames.sequence import SequencePattern
from movingcolor.frames.source import open_source


def test_frame_range_parsing():
    assert list(FrameRange.parse("1001-1004")) == [1001, 1002, 1003, 1004]
    assert len(FrameRange.parse("7")) == 1
    assert FrameRange.parse("1001-1004").with_handles(2) == FrameRange(999, 1006)
    with pytest.raises(FrameRangeError, match="inverted"):
        FrameRange.parse("1100-1001")
    with pytest.raises(FrameRangeError, match="FIRST-LAST"):
        FrameRange.parse("")
    with pytest.raises(FrameRangeError, match="outside"):
        FrameRange(1, 5).clamp(FrameRange(10, 20))


@pytest.mark.parametrize("text", ["shot.####.exr", "shot.%04d.exr"])
def test_sequence_patterns(tmp_path, text):
    for frame in (1001, 1002, 1004):
        write_image(tmp_path / f"shot.{frame:04d}.exr", np.zeros((4, 6, 3), np.float32))
    pattern = SequencePattern.parse(tmp_path / text)
    assert pattern.frames_on_disk() == [1001, 1002, 1004]
    assert pattern.path(1003).name == "shot.1003.exr"
    source = open_source(str(tmp_path / text), "plate")
    with pytest.raises(FrameSourceError, match="missing 1 of frames 1001-1004: 1003"):
        source.require(FrameRange(1001, 1004))


def test_folder_of_frames(tmp_path):
    for frame in range(3):
        write_image(tmp_path / f"{frame:05d}.png", np.full((4, 6, 3), 0.5, np.float32))
    source = open_source(tmp_path, "plate")
    assert source.frames == [0, 1, 2]
    assert not source.is_float
    assert source.read(1).shape == (4, 6, 3)


def test_exr_round_trip_keeps_values_outside_zero_one(tmp_path):
    pixels = np.array([[[-0.25, 0.5, 17.0], [1e-3, 2.0, 100.0]]], np.float32)
    for pixel_type, tolerance in (("half", 1e-2), ("float", 0.0)):
        path = tmp_path / f"x_{pixel_type}.exr"
        write_image(
            path, pixels, pixel_type=pixel_type, compression="piz", attributes={"movingcolor:frame": 12}
        )
        back = read_pixels(path)
        assert np.allclose(back, pixels, rtol=tolerance, atol=tolerance)
        header = read_header(path)
        assert header.pixel_type == pixel_type
        assert header.attributes["movingcolor:frame"] == 12
        assert header.attributes["compression"] == "piz"
    assert not list(tmp_path.glob(".*partial"))


def test_png_round_trip_is_exact_for_8bit_values(tmp_path):
    codes = np.arange(48).reshape(4, 4, 3) * 5
    write_image(tmp_path / "a.png", codes.astype(np.float32) / 255.0)
    assert np.array_equal(np.round(read_pixels(tmp_path / "a.png") * 255).astype(int), codes)


def test_written_samples_are_the_nearest_half_or_integer_code(tmp_path):
    """What a frame holds on disk does not depend on how the writer converts: half-float EXR
    samples are float32 rounded to the nearest half, PNG and 16-bit TIFF codes the nearest of the
    clipped value."""
    rng = np.random.default_rng(4)
    pixels = (rng.random((33, 47, 3), np.float32) * 1.4 - 0.2).astype(np.float32)
    pixels[0, 0] = [65519.0, -60001.0, 1e-7]  # half's largest, a large negative, a subnormal
    write_image(tmp_path / "h.exr", pixels)
    assert np.array_equal(read_pixels(tmp_path / "h.exr"), pixels.astype(np.float16).astype(np.float32))
    for name, maximum in (("c.png", 255), ("c.tif", 65535)):
        write_image(tmp_path / name, pixels)
        codes = np.rint(np.clip(pixels, 0.0, 1.0) * np.float32(maximum))
        assert np.array_equal(np.rint(read_pixels(tmp_path / name) * maximum), codes)


def _half_bits(path) -> np.ndarray:
    image = oiio.ImageInput.open(str(path))
    try:
        return image.read_image(oiio.HALF).view(np.uint16)
    finally:
        image.close()


def test_half_samples_are_what_openexr_itself_writes(tmp_path):
    """Half samples made in numpy (what a shot's writer thread is handed) are what OpenEXR's own
    float-to-half conversion stores, bit for bit, for any float32 (NaN, infinities, values past
    half's range, subnormals included)."""
    rng = np.random.default_rng(11)
    pixels = rng.integers(0, 2**32, (64, 96, 3), dtype=np.uint64).astype(np.uint32).view(np.float32)
    pixels[0, :7, 0] = [np.nan, np.inf, -np.inf, 65504.0, 65520.0, 2.98e-8, -0.0]
    pixels[1:33] = (rng.standard_normal((32, 96, 3)) * 4.0).astype(np.float32)
    write_image(tmp_path / "ours.exr", file_samples(pixels, ".exr", "half"))
    spec = oiio.ImageSpec(96, 64, 3, oiio.HALF)
    spec.attribute("compression", "zip")
    theirs = oiio.ImageOutput.create("openexr")
    assert theirs.open(str(tmp_path / "theirs.exr"), spec) and theirs.write_image(pixels)  # float32 in
    theirs.close()
    assert np.array_equal(_half_bits(tmp_path / "ours.exr"), _half_bits(tmp_path / "theirs.exr"))


def test_file_samples_are_the_files_own_type_and_taken_as_they_are():
    pixels = np.linspace(-0.5, 1.5, 4 * 5 * 3, dtype=np.float32).reshape(4, 5, 3)
    for extension, pixel_type, kind in (
        (".exr", "half", np.float16),
        (".exr", "float", np.float32),
        (".png", "half", np.uint8),
        (".tif", "half", np.uint16),
        (".TIFF", "float", np.uint16),
    ):
        samples = file_samples(pixels, extension, pixel_type)
        assert samples.dtype == kind and samples.shape == pixels.shape
        # Samples of the file's type are what a writer thread is given: never converted again.
        assert file_samples(samples, extension, pixel_type) is samples
    assert np.array_equal(file_samples(pixels, ".png")[0, 0], [0, 0, 0])
    assert np.array_equal(file_samples(pixels, ".png")[-1, -1], [255, 255, 255])
    with pytest.raises(OutputError, match=r"\.bmp"):
        file_samples(pixels, ".bmp")


def test_write_rejects_unknown_format_and_leaves_nothing(tmp_path):
    with pytest.raises(OutputError, match=r"\.bmp"):
        write_image(tmp_path / "a.bmp", np.zeros((2, 2, 3), np.float32))
    assert list(tmp_path.iterdir()) == []


def test_truncated_file_is_reported(tmp_path):
    path = tmp_path / "t.exr"
    write_image(path, np.random.default_rng(0).random((64, 64, 3), np.float32))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(UnreadableFrameError, match="t.exr"):
        read_pixels(path)


def test_nan_pixels_are_reported(tmp_path):
    pixels = np.zeros((4, 4, 3), np.float32)
    pixels[1, 2, 0] = np.nan
    write_image(tmp_path / "n.exr", pixels, pixel_type="float")
    with pytest.raises(InvalidPixelsError, match="1 pixels are NaN"):
        read_pixels(tmp_path / "n.exr")


def test_video_round_trip_with_pyav(tmp_path):
    av = pytest.importorskip("av")
    path = tmp_path / "clip.mp4"
    frames = []
    with av.open(str(path), "w") as container:
        stream = container.add_stream("mpeg4", rate=24)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        stream.options = {"qscale": "1"}
        for index in range(5):
            image = np.zeros((48, 64, 3), np.uint8)
            image[:, :, 0] = 40 * index
            image[:, :, 1] = 128
            frames.append(image)
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    source = open_source(path, "plate", first_frame=1001)
    assert source.frames == list(range(1001, 1006))
    assert (source.width, source.height) == (64, 48)
    # Frames read out of order still come back right (the reader restarts).
    for number in (1003, 1001, 1005):
        expected = frames[number - 1001].astype(np.float32) / 255
        assert np.abs(source.read(number) - expected).mean() < 0.02
    source.close()


def _mux(container, stream, frames) -> None:
    """Encode ``frames`` (PyAV frames, numbered in order where they hold no time) into ``stream``,
    then flush it."""
    for index, frame in enumerate(frames):
        if frame.pts is None:
            frame.pts = index
        for packet in stream.encode(frame):
            container.mux(packet)
    for packet in stream.encode():
        container.mux(packet)


def _write_video(
    path: Path, frames: list[np.ndarray], codec: str, pix_fmt: str, setup=None, options=None, rate=24
) -> None:
    av = pytest.importorskip("av")
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=rate, options=options or {})
        stream.height, stream.width = frames[0].shape[:2]
        stream.pix_fmt = pix_fmt
        if setup is not None:
            setup(stream)
        layout = {3: "rgb48le", 4: "rgba64le"}[frames[0].shape[2]]
        _mux(
            container,
            stream,
            (av.VideoFrame.from_ndarray(i, format=layout).reformat(format=pix_fmt) for i in frames),
        )


def _ramp(height: int, width: int, channels: int = 3) -> np.ndarray:
    """16-bit samples: a fine ramp across, a coarse one down, (opaque on the right half)."""
    y, x = np.mgrid[0:height, 0:width]
    image = np.zeros((height, width, channels), np.uint16)
    image[..., 0] = x * 65535 // (width - 1)
    image[..., 1] = y * 65535 // (height - 1)
    image[..., 2] = 32768
    if channels == 4:
        image[..., 3] = np.where(x >= width // 2, 65535, 0)
    return image


def test_a_video_plays_turned_deep_and_with_its_alpha(tmp_path, caplog):
    """A phone's portrait clip comes as it plays (its display rotation applied), 10-bit video keeps
    its depth, ProRes 4444 keeps its alpha (usable as the matte), and tags the product does not
    read are named in the log."""
    pytest.importorskip("av")
    ramp = _ramp(48, 256)
    turned = tmp_path / "portrait.mp4"
    _write_video(turned, [ramp] * 3, "libx264", "yuv444p", lambda s: s.set_display_rotation(90), {"qp": "0"})
    source = open_source(turned, "plate", first_frame=1)
    assert (source.width, source.height) == (48, 256)
    played = source.read(2)
    expected = np.rot90(ramp.astype(np.float32) / 65535, 1)  # a quarter turn counterclockwise
    assert played.shape == (256, 48, 3) and np.abs(played - expected).mean() < 0.01
    source.close()

    deep = tmp_path / "deep.mkv"
    _write_video(deep, [ramp] * 2, "ffv1", "yuv444p10le")
    levels = np.unique(open_source(deep, "plate", first_frame=1).read(1)[..., 0])
    assert len(levels) > 256  # 8 bits would give at most 256
    # Written as 8-bit PNG, its pixels outside the band are rounded: said, as for a 16-bit image.
    from conftest import run_cli

    with caplog.at_level("WARNING"):
        assert run_cli("fuse", "--plate", deep, "--matte", deep, "--grade", "slope=1.2", "--engine", "hard",
                       "--out", tmp_path / "png" / "f.####.png") == 0  # fmt: skip
    assert "a plate of more than 8 bits is written as 8-bit PNG" in caplog.text
    caplog.clear()
    # Half floats hold a 10-bit code: a half EXR graded plate rounds nothing of it.
    (tmp_path / "graded").mkdir()
    for number in (0, 1):
        write_image(tmp_path / "graded" / f"g.{number:04d}.exr", ramp.astype(np.float32) / 65535)
    with caplog.at_level("WARNING"):
        graded = tmp_path / "graded" / "g.####.exr"
        assert run_cli("fuse", "--plate", deep, "--matte", deep, "--graded", graded, "--engine", "hard",
                       "--out", tmp_path / "exr" / "f.####.exr") == 0  # fmt: skip
    assert "rounded" not in caplog.text
    caplog.clear()

    alpha = tmp_path / "alpha.mov"
    _write_video(alpha, [_ramp(48, 64, 4)] * 2, "prores_ks", "yuva444p10le")
    source = open_source(alpha, "plate", first_frame=1)
    assert source.channels == ("R", "G", "B", "A")
    assert np.array_equal(source.read(1)[..., 3] > 0.5, np.mgrid[0:48, 0:64][1] >= 32)


def _hdr_tags(stream) -> None:
    stream.codec_context.color_primaries, stream.codec_context.color_trc = 9, 18  # BT.2020, HLG


def test_a_video_tagged_with_colours_not_read_is_warned_of_where_no_colourspace_is_named(tmp_path, caplog):
    """An HDR-tagged video was warned of as it was opened, in words that asked for a colourspace even
    where one had been named, and for a matte too (a matte's colours are not converted). Said now
    where the colourspace is chosen: a warning naming the option where it is chosen by default, a
    note where it was named, nothing for a matte."""
    pytest.importorskip("av")
    from conftest import run_cli

    tagged = tmp_path / "hlg.mkv"
    _write_video(tagged, [_ramp(48, 64)] * 2, "ffv1", "yuv444p10le", _hdr_tags)
    matte = tmp_path / "matte.mkv"
    _write_video(matte, [_ramp(48, 64)] * 2, "ffv1", "yuv444p10le", _hdr_tags)
    common = ("--engine", "hard", "--grade", "slope=1.1,1,0.9")
    with caplog.at_level("INFO", logger="movingcolor"):
        assert run_cli("fuse", "--plate", tagged, "--matte", matte, *common,
                       "--out", tmp_path / "a" / "f.####.exr") == 0  # fmt: skip
    messages = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    warned = [message for message in messages if "tagged" in message]
    assert warned == [
        "the plate video is tagged BT.2020 and HLG (ARIB STD-B67), which is not read: it is read as "
        "sRGB Encoded Rec.709 (sRGB), the default for video; name its colourspace with --plate-colorspace "
        "(or convert it to Rec.709 first where the config has no such space)"
    ]
    caplog.clear()
    with caplog.at_level("INFO", logger="movingcolor"):
        assert run_cli("fuse", "--plate", tagged, "--matte", matte, *common, "--plate-colorspace",
                       "Gamma 2.4 Encoded Rec.709", "--out", tmp_path / "b" / "f.####.exr") == 0  # fmt: skip
    assert not [r for r in caplog.records if r.levelname == "WARNING" and "tagged" in r.getMessage()]
    assert "tagged BT.2020 and HLG (ARIB STD-B67), which is not read: it is read as Gamma 2.4" in caplog.text


def test_a_matte_of_a_turned_video_plate_stored_size_is_refused_naming_the_rotation(tmp_path):
    """A phone's portrait plate is read as it plays (48x64); a matte rendered at the file's stored
    size (64x48) is refused with both sizes and the rotation named: 'the matte is 64x48 but the plate
    is 48x64' alone contradicted every other tool's report of the file."""
    from movingcolor.jobs.sources import ShotSources, check_sources

    plate = tmp_path / "portrait.mp4"
    _write_video(
        plate, [_ramp(48, 64)] * 2, "libx264", "yuv444p", lambda s: s.set_display_rotation(90), {"qp": "0"}
    )
    (tmp_path / "m").mkdir()
    for number in (1, 2):
        write_image(tmp_path / "m" / f"m.{number}.png", np.ones((48, 64, 3), np.float32))
    sources = ShotSources(
        open_source(plate, "plate", first_frame=1), open_source(tmp_path / "m" / "m.#.png", "matte")
    )
    with pytest.raises(
        FrameSizeMismatchError,
        match=(
            r"is 64x48 but the plate is 48x64 \(the plate video is turned 90 degrees by its rotation "
            r"metadata "
            r"and is read as it plays, 48x64, not as stored, 64x48"
        ),
    ):
        check_sources(sources)


def test_deep_alpha_and_grey_read_whole_and_a_plate_read_with_its_alpha_decodes_once(tmp_path):
    """Opaque 10-bit alpha and a 10-bit grey matte's white read 1.0 exactly (swscale shifted them to
    0.999, so a matte's inside was never whole); PNG's grey + alpha keeps its alpha; and a plate
    whose matte is its alpha, read plate then alpha frame by frame, decodes each frame once (the
    second read of a frame reopened the file and decoded from its start)."""
    from movingcolor.frames.source import ChannelSource
    from movingcolor.frames.video_io import VideoReader

    alpha = tmp_path / "alpha.mov"
    _write_video(alpha, [_ramp(48, 64, 4)] * 6, "prores_ks", "yuva444p10le")
    restarts = []
    original = VideoReader._restart

    def counted(self):
        restarts.append(self.path)
        original(self)

    plate = open_source(alpha, "plate", first_frame=1)
    plate._reader._restart = counted.__get__(plate._reader)
    matte = ChannelSource(plate, "A")
    opaque = np.mgrid[0:48, 0:64][1] >= 32
    for number in plate.frames:
        plate.read(number)
        values = matte.read(number)[..., 0]
        assert np.array_equal(values[opaque], np.ones(opaque.sum(), np.float32))
        assert not values[~opaque].any()
    assert len(restarts) == 1

    white = np.full((16, 16, 3), 65535, np.uint16)
    _write_video(tmp_path / "grey.mkv", [white], "ffv1", "gray10le")
    assert open_source(tmp_path / "grey.mkv", "matte").read(0).min() == 1.0

    grey_alpha = np.zeros((16, 16, 4), np.uint16)
    grey_alpha[..., :3] = 40000
    grey_alpha[:, 8:, 3] = 65535
    _write_video(tmp_path / "ya.mov", [grey_alpha], "png", "ya8")
    source = open_source(tmp_path / "ya.mov", "matte")
    assert source.channels == ("R", "G", "B", "A")
    assert np.array_equal(source.read(0)[..., 3], (np.mgrid[0:16, 0:16][1] >= 8).astype(np.float32))


def test_an_untagged_hd_video_is_decoded_with_the_rec709_matrix(tmp_path):
    """HD footage that does not say which matrix made its YUV is Rec.709's, as hosts and players take
    it; swscale took BT.601's, and a red of 200, 30, 30 read 186, 12, 32."""
    av = pytest.importorskip("av")
    patch = np.zeros((720, 1280, 3), np.uint8)
    patch[:, :640] = (200, 30, 30)
    patch[:, 640:] = (30, 30, 200)
    path = tmp_path / "untagged.mp4"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=24, options={"qp": "0"})
        stream.width, stream.height, stream.pix_fmt = 1280, 720, "yuv444p"
        frame = av.VideoFrame.from_ndarray(patch, format="rgb24").reformat(
            format="yuv444p", dst_colorspace="ITU709", dst_color_range="MPEG"
        )
        frame.colorspace = 2  # unspecified, as an untagged file's pictures are
        for packet in [*stream.encode(frame), *stream.encode()]:
            container.mux(packet)
    read = open_source(path, "plate").read(0)
    assert np.abs(read[360, 320] * 255 - (200, 30, 30)).max() < 2.5
    assert np.abs(read[360, 960] * 255 - (30, 30, 200)).max() < 2.5


def test_a_video_cut_away_from_a_keyframe_or_changing_size_is_refused(tmp_path):
    """A stream copy cut part-way through a group of pictures starts with frames that never decode:
    every later frame was taken for the one five places earlier (paired with another frame's
    matte). A video whose picture size changes part-way was fused against a matte of the first
    size (or failed with numpy's broadcasting error)."""
    av = pytest.importorskip("av")
    levels = [np.full((48, 64, 3), 10 * index, np.uint8) for index in range(20)]
    whole = tmp_path / "whole.mkv"
    with av.open(str(whole), "w") as container:
        stream = container.add_stream("libx264", rate=24, options={"g": "10", "bf": "0", "qp": "0"})
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for image in levels:
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    cut = tmp_path / "cut.mkv"
    with av.open(str(whole)) as source, av.open(str(cut), "w") as copy:
        into = copy.add_stream_from_template(source.streams.video[0])
        start = None
        for index, packet in enumerate(source.demux(source.streams.video[0])):
            if not packet.size or index < 5:
                continue
            start = (packet.pts, packet.dts) if start is None else start
            packet.pts, packet.dts = packet.pts - start[0], packet.dts - start[1]
            packet.stream = into
            copy.mux(packet)
    with pytest.raises(UnreadableFrameError, match="its first 5 frames cannot be decoded .* re-export it"):
        open_source(cut, "plate")
    assert len(open_source(whole, "plate").frames) == 20

    joined = tmp_path / "joined.h264"
    parts = []
    for width in (64, 80):
        part = tmp_path / f"part{width}.h264"
        with av.open(str(part), "w") as container:
            stream = container.add_stream("libx264", rate=24, options={"qp": "0", "bf": "0"})
            stream.width, stream.height, stream.pix_fmt = width, 48, "yuv420p"
            for image in levels[:3]:
                frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(np.resize(image, (48, width, 3))))
                for packet in stream.encode(frame):
                    container.mux(packet)
            for packet in stream.encode():
                container.mux(packet)
        parts.append(part.read_bytes())
    joined.write_bytes(b"".join(parts))
    resized = tmp_path / "resized.avi"
    with av.open(str(joined)) as source, av.open(str(resized), "w") as copy:
        into = copy.add_stream_from_template(source.streams.video[0], rate=24)
        into.time_base = Fraction(1, 24)
        for index, packet in enumerate(packet for packet in source.demux() if packet.size):
            packet.stream, packet.time_base, packet.pts, packet.dts = into, into.time_base, index, index
            copy.mux(packet)
    source = open_source(resized, "plate")
    assert (source.width, source.height) == (64, 48)
    with pytest.raises(UnreadableFrameError, match="frame index 3 is 80x48 but the video starts at 64x48"):
        for number in source.frames:
            source.read(number)


def test_a_video_cut_short_says_so(tmp_path, caplog):
    """A copy that stopped part-way keeps its header's duration: the frames it holds are fused, and
    the log says the file may be cut short (it was a shorter shot without a word)."""
    frames = [_ramp(32, 48) for _ in range(10)]
    whole = tmp_path / "whole.mkv"
    _write_video(whole, frames, "ffv1", "yuv444p")
    cut = tmp_path / "cut.mkv"
    cut.write_bytes(whole.read_bytes()[: int(whole.stat().st_size * 0.55)])
    with caplog.at_level("WARNING"):
        held = len(open_source(cut, "plate").frames)
    assert held < 10
    assert f"cut.mkv holds {held} frames but its header gives" in caplog.text
    caplog.clear()
    with caplog.at_level("WARNING"):
        open_source(whole, "plate")
    assert "cut short" not in caplog.text


def test_a_damaged_video_frame_is_an_error_in_a_line(tmp_path):
    """A file whose index is whole but whose data is cut (a copy that stopped) fails at the first
    frame that cannot be decoded, naming it, not with FFmpeg's traceback."""
    av = pytest.importorskip("av")
    whole = tmp_path / "whole.mp4"
    with av.open(str(whole), "w", options={"movflags": "faststart"}) as container:
        stream = container.add_stream("libx264", rate=24, options={"g": "1"})
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        noise = np.random.default_rng(1)
        for _ in range(24):
            image = noise.integers(0, 255, (48, 64, 3), np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(whole.read_bytes()[: int(whole.stat().st_size * 0.6)])
    source = open_source(cut, "plate", first_frame=1)
    with pytest.raises(
        UnreadableFrameError, match=r"cut.mp4: frame index \d+ cannot be decoded .*the file is damaged"
    ):
        for number in source.frames:
            source.read(number)


def _write_planes(
    path: Path, planes_of_frames: list[list[np.ndarray]], codec: str, pix_fmt: str, **stream_setup
):
    """A video whose frames hold exactly the given samples, plane by plane (no conversion)."""
    av = pytest.importorskip("av")
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=stream_setup.pop("rate", 24))
        (stream.width, stream.height), stream.pix_fmt = stream_setup.pop("size"), pix_fmt
        for name, value in stream_setup.pop("metadata", {}).items():
            stream.metadata[name] = value
        start = stream_setup.pop("start", 0)
        for index, planes in enumerate(planes_of_frames):
            frame = av.VideoFrame(stream.width, stream.height, pix_fmt)
            for plane, samples in zip(frame.planes, planes, strict=True):
                rows = np.zeros((plane.height, plane.line_size), np.uint8)
                data = np.ascontiguousarray(samples).view(np.uint8).reshape(plane.height, -1)
                rows[:, : data.shape[1]] = data
                plane.update(rows.tobytes())
            frame.pts = start + index
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def test_deep_planar_rgb_and_packed_422_video_read_exactly(tmp_path):
    """10-bit RGB (DNxHR 444, r210, FFV1 RGB) read 0.1% dark through swscale's 16-bit planes (white
    0.99905), and QuickTime's 8-bit 4:2:2 ('2vuy') 0.8% dark (reference white 253/255), so a matte in
    either never reached 1 inside."""
    from movingcolor.frames.ycbcr import MATRICES, ycbcr_to_rgb

    height, width = 8, 16
    red = np.full((height, width), 1023, np.uint16)
    green = np.tile(np.arange(width, dtype=np.uint16) * 60, (height, 1))
    blue = np.zeros((height, width), np.uint16)
    path = tmp_path / "rgb10.mkv"
    _write_planes(path, [[green, blue, red]] * 2, "ffv1", "gbrp10le", size=(width, height))  # G, B, R planes
    pixels = open_source(path, "plate").read(1)
    assert np.array_equal(pixels, np.stack([red, green, blue], axis=2).astype(np.float32) / np.float32(1023))

    # Y' 235 (white) then 126 in stripes; Cb and Cr at 128 but for a colour across columns 4-7.
    luma = np.repeat(np.array([235, 126, 16], np.uint8), width // 2)[None].repeat(height, 0)[:, :width]
    cb = np.full((height, width // 2), 128, np.uint8)
    cr = np.full((height, width // 2), 128, np.uint8)
    cb[:, 2:4], cr[:, 2:4] = 90, 200
    packed = np.empty((height, width * 2), np.uint8)
    packed[:, 0::4], packed[:, 1::2], packed[:, 2::4] = cb, luma, cr  # U Y V Y
    path = tmp_path / "uyvy.mov"
    _write_planes(path, [[packed]], "rawvideo", "uyvy422", size=(width, height))
    pixels = open_source(path, "matte").read(0)
    expected = ycbcr_to_rgb(luma, cb, cr, 8, MATRICES[5], False)  # untagged SD: BT.601
    assert np.array_equal(pixels, expected) and pixels[:, :2].min() == 1.0


def test_a_half_float_rgb_video_is_read_as_floats(tmp_path):
    """FFV1 in gbrpf16le (half floats, each in a plane): its samples were read as 16-bit integers
    (0.5 read 0.219), then through swscale's integers (4.0 read 1.0, -0.25 read 0). A frame of each
    value (FFV1's float coding is experimental: its prediction across a row is not reliably
    lossless, so each frame holds one value)."""
    values = (0.5, 4.0, -0.25)
    path = tmp_path / "half.mkv"
    av = pytest.importorskip("av")
    with av.open(str(path), "w") as container:
        stream = container.add_stream("ffv1", rate=24, options={"level": "4", "strict": "experimental"})
        stream.width, stream.height, stream.pix_fmt = 16, 8, "gbrpf16le"
        frames = []
        for value in values:
            frame = av.VideoFrame(16, 8, "gbrpf16le")
            for plane in frame.planes:
                plane.update(np.full(plane.buffer_size // 2, value, np.float16).tobytes())
            frames.append(frame)
        _mux(container, stream, frames)
    source = open_source(path, "plate")
    assert source.is_float  # scene-linear by default, as a float EXR plate is
    for index, value in enumerate(values):
        assert np.array_equal(source.read(index), np.full((8, 16, 3), value, np.float32)), value


def test_a_matte_video_is_placed_among_the_plates_frames_by_its_timecode(tmp_path, caplog):
    """A roto of plate frames 10-13 exported with its timecode (01:00:00:10 against the plate's
    01:00:00:00) was paired with plate frames 0-3: each frame graded through another's matte. Without
    timecodes, a matte whose first frame is shown later is paired in order, and the log says so."""
    from movingcolor.jobs.sources import open_sources
    from movingcolor.spec import ShotSpec

    size = (16, 8)
    frames = [[np.full((8, 16), 16 + 10 * i, np.uint8), np.full((8, 16), 128, np.uint8)] for i in range(14)]
    frames = [[luma, chroma, chroma] for luma, chroma in frames]

    def video(name: str, first: int, count: int, **setup) -> str:
        path = tmp_path / name
        _write_planes(path, frames[first : first + count], "rawvideo", "yuv444p", size=size, **setup)
        return str(path)

    plate = video("plate.mov", 0, 14, metadata={"timecode": "01:00:00:00"})
    matte = video("matte.mov", 10, 4, metadata={"timecode": "01:00:00:10"})
    with caplog.at_level("INFO"):
        sources = open_sources(
            ShotSpec(plate=plate, matte=matte, grade="sat=1.2", out=str(tmp_path)), "grade", []
        )
    assert sources.matte.frames == [10, 11, 12, 13]
    assert np.array_equal(sources.matte.read(12), sources.plate.read(12))
    assert "starts at timecode 01:00:00:10, 10 frames after the plate's 01:00:00:00" in caplog.text

    # A roto exported with an application's default timecode: another clock, which would place it
    # wholly before the plate (the shot failed, sharing no frame): paired in order, and said so.
    other_clock = video("other-clock.mov", 0, 4, metadata={"timecode": "00:00:00:00"})
    caplog.clear()
    with caplog.at_level("WARNING"):
        spec = ShotSpec(plate=plate, matte=other_clock, grade="sat=1.2", out=str(tmp_path))
        assert open_sources(spec, "grade", []).matte.frames == [0, 1, 2, 3]
    assert "places it wholly outside the plate's frames (the plate starts at 01:00:00:00)" in caplog.text

    plate = video("plate.mov", 0, 14)
    matte = video("late.mov", 10, 4, start=10)
    caplog.clear()
    with caplog.at_level("WARNING"):
        sources = open_sources(
            ShotSpec(plate=plate, matte=matte, grade="sat=1.2", out=str(tmp_path)), "grade", []
        )
    assert sources.matte.frames == [0, 1, 2, 3]
    assert "do not both carry a timecode to place it by: their frames are paired in order" in caplog.text
    # The plate alone with a timecode: as unplaced.
    caplog.clear()
    with caplog.at_level("WARNING"):
        timed = video("timed-plate.mov", 0, 14, metadata={"timecode": "01:00:00:00"})
        spec = ShotSpec(plate=timed, matte=matte, grade="sat=1.2", out=str(tmp_path))
        assert open_sources(spec, "grade", []).matte.frames == [0, 1, 2, 3]
    assert "plate timed-plate.mov carries a timecode (01:00:00:00) and matte late.mov none" in caplog.text
    # The matte alone with one, both shown from the start (an editor's export of the plate without
    # timecode): paired in order, which was not said.
    caplog.clear()
    with caplog.at_level("WARNING"):
        untimed = video("untimed-plate.mov", 0, 14)
        spec = ShotSpec(plate=untimed, matte=str(tmp_path / "matte.mov"), grade="sat=1.2", out=str(tmp_path))
        assert open_sources(spec, "grade", []).matte.frames == [0, 1, 2, 3]
    assert "matte matte.mov carries a timecode (01:00:00:10) and plate untimed-plate.mov none" in caplog.text


@pytest.mark.parametrize(("codec", "width", "height"), [("libvpx-vp9", 64, 48), ("libvpx", 1280, 720)])
def test_a_webm_keeps_its_alpha(tmp_path, codec, width, height):
    """VP8 or VP9 in WebM with an alpha (alpha_mode 1): FFmpeg's own decoder drops it, so the plate
    had "no A channel", and as a matte its colours were taken for the matte (0.78 everywhere). VP8
    is BT.601 at any size: read through libvpx, which does not say so, an HD picture took Rec.709."""
    av = pytest.importorskip("av")
    if codec not in av.codecs_available:
        pytest.skip(f"this PyAV's FFmpeg has no {codec}")
    rgba = np.zeros((height, width, 4), np.uint8)
    rgba[..., :3] = (200, 40, 60)
    third = width // 4
    rgba[:, third : 2 * third, 3] = 255
    path = tmp_path / "alpha.webm"
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=24, options={"auto-alt-ref": "0"})
        stream.width, stream.height, stream.pix_fmt = width, height, "yuva420p"
        _mux(
            container,
            stream,
            [av.VideoFrame.from_ndarray(rgba, format="rgba").reformat(format="yuva420p")] * 3,
        )
    source = open_source(path, "plate")
    assert source.channels == ("R", "G", "B", "A") and len(source.frames) == 3
    pixels = source.read(2)
    alpha = pixels[..., 3]
    assert alpha[:, third + 2 : 2 * third - 2].min() == 1.0 and alpha[:, : third - 2].max() == 0.0
    assert np.allclose(pixels[height // 2, third + third // 2, :3], np.array([200, 40, 60]) / 255, atol=0.02)


def test_a_video_whose_display_matrix_mirrors_it_is_refused(tmp_path):
    """A clip whose track matrix mirrors it left-right (players show it so) was read turned upside
    down (PyAV gives the matrix's angle alone, 180 degrees): its matte would never line up."""
    import struct

    width, height = 32, 16
    plain = tmp_path / "plain.mp4"
    _write_video(plain, [_ramp(height, width)] * 2, "libx264", "yuv444p", options={"qp": "0"})
    data = bytearray(plain.read_bytes())
    at = data.find(b"tkhd")
    version = data[at + 4]
    # tkhd: version and flags, times and track id, duration, reserved, layer, volume, then the matrix.
    offset = at + 4 + 4 + (20 if version == 0 else 32) + 8 + 8
    one = 1 << 16
    data[offset : offset + 36] = struct.pack(
        ">9I", (-one) & 0xFFFFFFFF, 0, 0, 0, one, 0, width << 16, 0, 1 << 30
    )
    mirrored = tmp_path / "mirrored.mp4"
    mirrored.write_bytes(bytes(data))
    assert open_source(plain, "plate").read(0).shape == (height, width, 3)
    with pytest.raises(UnreadableFrameError, match="its display matrix mirrors the picture"):
        open_source(mirrored, "plate")


def test_a_video_in_a_codec_pyav_cannot_decode_is_named_so(tmp_path):
    """A codec FFmpeg does not decode (a sample entry it does not know) was 'Decoder not found; check
    the file is complete': it is complete, and the way on is to transcode it."""
    source = tmp_path / "h264.mov"
    _write_video(source, [_ramp(16, 16)] * 2, "libx264", "yuv420p")
    unknown = tmp_path / "raw.mov"
    unknown.write_bytes(source.read_bytes().replace(b"avc1", b"zzzz", 1))
    with pytest.raises(UnreadableFrameError, match="its video codec is not one .* transcode it to ProRes"):
        open_source(unknown, "plate")


def test_transport_streams_and_m4v_are_read_and_a_movie_output_is_named_as_one(tmp_path):
    """AVCHD (.mts, .m2ts), broadcast (.ts), .mpg and .m4v were 'unknown file type' although PyAV
    reads them; an output named x.m4v became a folder of EXRs, and x.mov was refused as 'one file'
    without a word that movies are not written."""
    from movingcolor.errors import OutputError
    from movingcolor.frames.output_pattern import output_pattern

    for extension, container in ((".mts", "mpegts"), (".m2ts", "mpegts"), (".ts", "mpegts"), (".m4v", "mp4")):
        path = tmp_path / f"plate{extension}"
        av = pytest.importorskip("av")
        with av.open(str(path), "w", format=container) as out:
            stream = out.add_stream("mpeg2video", rate=25)
            stream.width, stream.height, stream.pix_fmt = 64, 32, "yuv420p"
            grey = np.full((32, 64, 3), 100, np.uint8)
            _mux(out, stream, (av.VideoFrame.from_ndarray(grey, format="rgb24") for _ in range(12)))
        assert len(open_source(path, "plate").frames) == 12, extension
    for name in ("graded.m4v", "graded.mov"):
        with pytest.raises(OutputError, match=r"names a movie, .* e\.g\. .*graded\.####\.exr"):
            output_pattern(str(tmp_path / name), "plate")
    assert not (tmp_path / "graded.m4v").exists()


def test_a_video_without_pyav_installed_names_the_install(tmp_path, monkeypatch):
    """The light install has no PyAV: a video source fails at opening, with the command that adds
    it, not with an ImportError from deep inside."""
    import sys

    from movingcolor.errors import MissingDependencyError

    path = tmp_path / "clip.mp4"
    path.write_bytes(b"not read")
    monkeypatch.setitem(sys.modules, "av", None)  # what an absent package looks like to import
    with pytest.raises(MissingDependencyError) as caught:
        open_source(path, "plate", first_frame=1001)
    assert str(caught.value) == (
        "reading video needs PyAV: pip install 'movingcolor[server]' (or pip install av)"
    )


def test_missing_source_names_the_path(tmp_path):
    with pytest.raises(FrameSourceError, match="does not exist"):
        open_source(tmp_path / "nothing.exr", "plate")
    with pytest.raises(FrameSourceError, match="no frames match"):
        open_source(tmp_path / "shot.####.exr", "plate")


@pytest.mark.parametrize("extension, tolerance", [(".dpx", 2e-3), (".tif", 1e-4), (".jpg", 0.06)])
def test_reads_dpx_tiff_and_jpeg_sequences(tmp_path, extension, tolerance):
    rng = np.random.default_rng(5)
    image = rng.random((16, 24, 3)).astype(np.float32)
    image = np.kron(image[::4, ::4], np.ones((4, 4, 1), np.float32))  # smooth enough for JPEG
    pixel_type = oiio.UINT16 if extension != ".jpg" else oiio.UINT8
    for frame in (1, 2):
        buf = oiio.ImageBuf(oiio.ImageSpec(24, 16, 3, pixel_type))
        buf.set_pixels(oiio.ROI(), image)
        assert buf.write(str(tmp_path / f"s.{frame:04d}{extension}"))
    source = open_source(str(tmp_path / f"s.####{extension}"), "plate")
    assert source.frames == [1, 2] and not source.is_float
    assert np.abs(source.read(2) - image).mean() < tolerance


def test_frames_are_written_behind_in_order_and_none_after_a_failure(tmp_path):
    from movingcolor.errors import OutputError
    from movingcolor.frames.write_behind import WriteBehind

    reported = []

    def write(number):
        if number == 3:
            raise OutputError("frame 3: the disk is full")
        write_image(tmp_path / f"f.{number}.exr", np.full((4, 4, 3), number, np.float32))

    failed = pytest.raises(OutputError, match="disk is full")
    with failed, WriteBehind(lambda number, path: reported.append(number)) as writer:
        for number in range(1, 7):
            writer.submit(number, tmp_path / f"f.{number}.exr", lambda n=number: write(n))
        writer.finish()
    assert reported == [1, 2]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.1.exr", "f.2.exr"]


def test_a_frame_written_while_an_interrupt_waited_on_it_is_reported(tmp_path):
    """Ctrl-C (or a farm's SIGTERM) while the run waited for a frame's write: the frame was written
    whole but left out of what the run reported as written (--json's "written")."""
    import os
    import signal
    import threading
    import time

    from movingcolor.frames.write_behind import WriteBehind

    release = threading.Event()
    reported = []

    def interrupt(signum, frame):
        release.set()
        raise KeyboardInterrupt

    def write(number):
        if number == 2:
            release.wait(30)
        (tmp_path / f"f.{number}").write_text("whole")

    previous = signal.signal(signal.SIGUSR1, interrupt)
    threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGUSR1)).start()
    try:
        with (
            pytest.raises(KeyboardInterrupt),
            WriteBehind(lambda number, path: reported.append(number)) as writer,
        ):
            for number in range(1, 5):  # frame 3's submit waits for frame 2's write
                writer.submit(number, tmp_path / f"f.{number}", lambda n=number: write(n))
            time.sleep(30)  # not reached: the interrupt comes while frame 2 is awaited
    finally:
        signal.signal(signal.SIGUSR1, previous)
    assert reported == [1, 2] and sorted(p.name for p in tmp_path.iterdir()) == ["f.1", "f.2"]


def test_frames_written_behind_stay_confined(tmp_path):
    from movingcolor.errors import PathOutsideRootsError
    from movingcolor.frames.confine import confined
    from movingcolor.frames.write_behind import WriteBehind

    root, outside = tmp_path / "root", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    pixels = np.zeros((4, 4, 3), np.float32)
    refused = pytest.raises(PathOutsideRootsError)
    with confined([root]), refused, WriteBehind(lambda number, path: None) as writer:
        writer.submit(1, root / "f.1.exr", lambda: write_image(root / "f.1.exr", pixels))
        writer.submit(2, outside / "f.2.exr", lambda: write_image(outside / "f.2.exr", pixels))
        writer.finish()
    assert (root / "f.1.exr").exists() and not list(outside.iterdir())


def _write_windowed(path, pixels: np.ndarray, origin: tuple[int, int], display: tuple[int, int]) -> None:
    """An EXR storing ``pixels`` at ``origin`` (x, y) of a ``display`` (width, height) window, as
    Nuke writes a node's bounding box (inside the format) or overscan (beyond it)."""
    spec = oiio.ImageSpec(pixels.shape[1], pixels.shape[0], pixels.shape[2], "float")
    spec.x, spec.y = origin
    spec.full_x, spec.full_y, spec.full_width, spec.full_height = 0, 0, *display
    output = oiio.ImageOutput.create(str(path))
    assert output.open(str(path), spec) and output.write_image(pixels) and output.close()


def test_a_bounding_box_is_read_as_the_whole_frame_with_zero_outside(tmp_path):
    """A Nuke roto written with its bounding box as the EXR's data window is the format's frame:
    the stored pixels where the window puts them, zero elsewhere; the header gives the format."""
    box = np.random.default_rng(0).random((30, 40, 1)).astype(np.float32)
    path = tmp_path / "matte.1001.exr"
    _write_windowed(path, box, (50, 20), (160, 90))
    header = read_header(path)
    assert (header.width, header.height, header.data_window) == (160, 90, (50, 20, 40, 30))
    pixels = read_pixels(path)
    assert pixels.shape == (90, 160, 1)
    assert np.array_equal(pixels[20:50, 50:90], box)
    outside = np.ones((90, 160), bool)
    outside[20:50, 50:90] = False
    assert not pixels[outside].any()


def test_overscan_beyond_the_frame_is_left_out(tmp_path):
    """Pixels stored beyond the display window (overscan, a negative origin) are not part of the
    frame: the frame is the display window's pixels alone."""
    stored = np.random.default_rng(1).random((100, 180, 3)).astype(np.float32)
    path = tmp_path / "plate.1001.exr"
    _write_windowed(path, stored, (-10, -5), (160, 90))
    assert read_header(path).data_window == (-10, -5, 180, 100)
    assert np.array_equal(read_pixels(path), stored[5:95, 10:170])
    plain = tmp_path / "plain.exr"
    write_image(plain, stored[:90, :160])
    assert read_header(plain).data_window is None


def _video_shot(folder: Path, plate: str, matte: str):
    """A shot of the videos ``plate`` and ``matte`` in ``folder``, fused with ``hard`` into ``out/``."""
    from movingcolor.spec import ShotSpec

    return ShotSpec(plate=str(folder / plate), matte=str(folder / matte), grade="sat=1.2",
                    out=str(folder / "out" / "f.####.exr"), engine="hard")  # fmt: skip


def test_videos_at_other_frame_rates_are_refused(tmp_path):
    """A 24 fps plate and a 30 fps matte of the same seconds were paired frame by frame, the matte
    falling behind by 0.4 s after two seconds. Two of as many frames at nearly the same rate are
    paired frame for frame (a phone's variable-rate clip, 29.6 frames per second on average, and its
    roto at 30)."""
    from movingcolor.jobs.run import run_shot

    frames = [_ramp(32, 48) for _ in range(5)]
    _write_video(tmp_path / "plate.mkv", frames[:4], "ffv1", "yuv444p10le", rate=24)
    _write_video(tmp_path / "matte.mkv", frames, "ffv1", "yuv444p10le", rate=30)
    spec = _video_shot(tmp_path, "plate.mkv", "matte.mkv")
    with pytest.raises(FrameSourceError, match="runs at 24 frames per second and the matte video .* at 30"):
        run_shot(spec)
    assert not (tmp_path / "out").exists()
    _write_video(tmp_path / "matte.mkv", frames[:4], "ffv1", "yuv444p10le", rate=30)
    with pytest.raises(FrameSourceError, match="would drift apart"):
        run_shot(spec)  # as many frames, a quarter apart in rate: not the same seconds
    _write_video(tmp_path / "matte.mkv", frames, "ffv1", "yuv444p10le", rate=24)
    assert len(run_shot(spec).written) == 4
    _write_video(tmp_path / "plate.mkv", frames[:4], "ffv1", "yuv444p10le", rate=30)
    _write_video(tmp_path / "matte.mkv", frames[:4], "ffv1", "yuv444p10le", rate=Fraction(30000, 1001))
    assert len(run_shot(replace(spec, force=True)).written) == 4


def _write_variable_rate_video(path: Path, frames: list[np.ndarray], milliseconds: list[int]) -> None:
    """``frames`` shown at the given times (a phone's clip in low light: uneven steps)."""
    av = pytest.importorskip("av")
    with av.open(str(path), "w") as container:
        stream = container.add_stream("qtrle", rate=30)  # lossless, in a QuickTime that keeps the times
        stream.height, stream.width = frames[0].shape[:2]
        stream.pix_fmt = "rgb24"
        stream.codec_context.time_base = Fraction(1, 1000)
        pictures = []
        for image, shown in zip(frames, milliseconds, strict=True):
            picture = av.VideoFrame.from_ndarray(image, format="rgb48le").reformat(format="rgb24")
            picture.pts, picture.time_base = shown, Fraction(1, 1000)
            pictures.append(picture)
        _mux(container, stream, pictures)


def test_a_variable_rate_plate_pairs_with_a_roto_of_as_many_frames(tmp_path, caplog):
    """A phone's clip whose frames step unevenly (24 frames per second on average) beside its roto
    rendered frame for frame at 30 was refused for their rates, with the advice to render both at
    one rate, which a variable-rate clip cannot be: as many frames pair one for one; fewer are
    refused, naming the variable rate."""
    from movingcolor.jobs.run import run_shot

    frames = [_ramp(32, 48) for _ in range(8)]
    _write_variable_rate_video(tmp_path / "plate.mov", frames, [0, 33, 66, 133, 166, 200, 300, 333])
    _write_video(tmp_path / "matte.mkv", frames, "ffv1", "yuv444p10le", rate=30)
    spec = _video_shot(tmp_path, "plate.mov", "matte.mkv")
    with caplog.at_level(logging.WARNING, logger="movingcolor"):
        assert len(run_shot(spec).written) == 8
    # Its length is its frames' times, not its average rate's: it is not cut short.
    assert "cut short" not in caplog.text
    _write_video(tmp_path / "matte.mkv", frames + frames[:2], "ffv1", "yuv444p10le", rate=30)
    with pytest.raises(FrameSourceError, match="plate video is of variable rate .* conform it to a constant"):
        run_shot(replace(spec, out=str(tmp_path / "again" / "f.####.exr")))


def _write_timecoded(path: Path, pictures: list[np.ndarray], timecode: str, rate: int = 24) -> None:
    """8-bit RGB or RGBA ``pictures`` as a QuickTime of PNG frames starting at ``timecode``."""
    av = pytest.importorskip("av")
    layout = "rgba" if pictures[0].shape[2] == 4 else "rgb24"
    with av.open(str(path), "w") as container:
        container.metadata["timecode"] = timecode
        stream = container.add_stream("png", rate=rate)
        stream.height, stream.width = pictures[0].shape[:2]
        stream.pix_fmt = layout
        stream.metadata["timecode"] = timecode
        _mux(container, stream, (av.VideoFrame.from_ndarray(p, format=layout) for p in pictures))


def test_a_roto_video_read_from_its_picture_is_placed_and_checked_as_its_video(tmp_path):
    """A roto video with an opaque alpha, read from its picture (a grey shape), was numbered from 0
    and never placed by its timecode (plate frames 10-13 graded through frames 0-3's matte), nor
    checked for its rate: it is placed and checked as the video it is."""
    from movingcolor.jobs.sources import check_sources, open_sources

    yy, xx = np.mgrid[0:32, 0:32]
    plate = [np.full((32, 32, 3), 40 + 10 * i, np.uint8) for i in range(14)]
    roto = np.zeros((32, 32, 4), np.uint8)
    roto[..., :3] = np.where(((xx - 16) ** 2 + (yy - 16) ** 2 < 64)[..., None], 255, 0)
    roto[..., 3] = 255
    _write_timecoded(tmp_path / "plate.mov", plate, "01:00:00:00")
    _write_timecoded(tmp_path / "roto.mov", [roto] * 4, "01:00:00:10")
    _write_timecoded(tmp_path / "roto30.mov", [roto] * 4, "01:00:00:10", rate=30)
    spec = _video_shot(tmp_path, "plate.mov", "roto.mov")
    sources = open_sources(spec, "grade", [])
    assert sources.matte.channels == ("R",) and sources.matte.frames == [10, 11, 12, 13]
    check_sources(sources)
    sources = open_sources(replace(spec, matte=str(tmp_path / "roto30.mov")), "grade", [])
    with pytest.raises(FrameSourceError, match="runs at 24 frames per second and the matte video .* at 30"):
        check_sources(sources)


@pytest.mark.parametrize(("extension", "sample"), [(".png", oiio.UINT8), (".tif", oiio.UINT16)])
def test_a_straight_alpha_plate_keeps_its_colours(tmp_path, extension, sample):
    """A PNG's alpha (and a TIFF's marked unassociated) is straight: its colours are read as stored.
    OpenImageIO multiplied them by the alpha, so a plate's colours outside the matte came out black
    where its alpha was 0 and halved where it was 0.5, in fused frames that hold no alpha."""
    rgba = np.zeros((8, 16, 4), np.float32)
    rgba[..., :3] = (0.6, 0.3, 0.2)
    rgba[:, :8, 3] = 0.0
    rgba[:, 8:, 3] = 0.5
    spec = oiio.ImageSpec(16, 8, 4, sample)
    spec.attribute("oiio:UnassociatedAlpha", 1)
    path = tmp_path / f"plate{extension}"
    output = oiio.ImageOutput.create(str(path))
    assert output.open(str(path), spec)
    largest = np.iinfo(np.uint8 if sample == oiio.UINT8 else np.uint16).max
    assert output.write_image(np.rint(rgba * largest).astype(np.uint8 if sample == oiio.UINT8 else np.uint16))
    output.close()
    pixels = read_pixels(path)
    assert np.abs(pixels - np.rint(rgba * largest) / largest).max() < 1e-6


def test_a_deep_image_is_refused_naming_the_flatten(tmp_path):
    """A deep EXR (a renderer's samples at many depths per pixel) read flat gave garbage colours and
    was fused without a word."""
    flat = oiio.ImageBufAlgo.fill((0.5, 0.4, 0.3, 1.0), roi=oiio.ROI(0, 16, 0, 8, 0, 1, 0, 4))
    flat.specmod().channelnames = ("R", "G", "B", "A")
    path = tmp_path / "deep.exr"
    assert oiio.ImageBufAlgo.deepen(flat).write(str(path)), oiio.geterror()
    for read in (read_header, read_pixels):
        with pytest.raises(UnreadableFrameError, match=r"deep\.exr: is a deep image .* --flatten"):
            read(path)


def test_a_render_with_other_layers_is_read_as_its_rgba(tmp_path, caplog):
    """A render's other layers (depth, AOVs) are never used: only R, G, B and A are read (thirty
    channels at 4K were a gigabyte a frame, and a small compressed file of hundreds of channels
    many gigabytes). Its colours' sample type is theirs: half colours beside a float depth were
    reported as a float plate, rounded when written as half."""
    spec = oiio.ImageSpec(16, 8, 6, oiio.HALF)
    spec.channelnames = ("R", "G", "B", "A", "Z", "diffuse.R")
    spec.channelformats = (oiio.HALF,) * 4 + (oiio.FLOAT, oiio.HALF)
    path = tmp_path / "render.exr"
    output = oiio.ImageOutput.create(str(path))
    assert output.open(str(path), spec)
    pixels = np.zeros((8, 16, 6), np.float32)
    pixels[..., :3], pixels[..., 3], pixels[..., 4:] = 0.25, 1.0, 9.0
    assert output.write_image(pixels)
    output.close()
    header = read_header(path)
    assert header.channels == ("R", "G", "B", "A") and header.stored_channels[4:] == ("Z", "diffuse.R")
    assert header.pixel_type == "half"
    read = read_pixels(path)
    assert read.shape == (8, 16, 4) and np.array_equal(read[0, 0], [0.25, 0.25, 0.25, 1.0])
    with caplog.at_level("INFO"):
        open_source(path, "plate")
    assert "render.exr's channels Z, diffuse.R are not read (only R, G, B, A)" in caplog.text
    # OpenImageIO keeps Y ahead of A: an A listed fifth is still read (the matte, --matte alpha).
    spec = oiio.ImageSpec(16, 8, 5, oiio.HALF)
    spec.channelnames = ("R", "G", "B", "Y", "A")
    luma = tmp_path / "luma.exr"
    output = oiio.ImageOutput.create(str(luma))
    assert output.open(str(luma), spec)
    pixels = np.zeros((8, 16, 5), np.float32)
    pixels[..., :4], pixels[:, :8, 4] = 0.25, 1.0
    assert output.write_image(pixels)
    output.close()
    assert read_header(luma).channels == ("R", "G", "B", "Y", "A")
    read = read_pixels(luma)
    assert read.shape == (8, 16, 5) and np.array_equal(read[0, :, 4], [1.0] * 8 + [0.0] * 8)
    # The log names the channels left (Z), not the A read after the first four.
    spec = oiio.ImageSpec(16, 8, 6, oiio.HALF)
    spec.channelnames = ("R", "G", "B", "Y", "Z", "A")
    depth = tmp_path / "depth.exr"
    output = oiio.ImageOutput.create(str(depth))
    assert output.open(str(depth), spec)
    assert output.write_image(np.zeros((8, 16, 6), np.float32))
    output.close()
    caplog.clear()
    with caplog.at_level("INFO"):
        open_source(depth, "plate")
    assert "depth.exr's channels Z are not read (only R, G, B, Y, A)" in caplog.text


@pytest.mark.parametrize("matte_is", ["its own file", "the plate's alpha"])
def test_a_lowercase_alpha_is_the_matte(tmp_path, matte_is):
    """OpenEXR allows r, g, b, a: a roto's lowercase alpha was taken for no alpha, and its picture
    became the matte (every pixel graded by its brightest channel); --matte alpha was refused."""
    from conftest import run_cli

    rng = np.random.default_rng(4)
    rows, columns = np.mgrid[0:32, 0:48]
    distance = np.hypot(rows - 16, columns - 24)
    (tmp_path / "shot").mkdir()
    for number in (1001, 1002):
        pixels = rng.uniform(0.2, 0.8, (32, 48, 4)).astype(np.float32)
        pixels[..., 3] = distance < 10
        write_image(tmp_path / "shot" / f"plate.{number}.exr", pixels, channels=("r", "g", "b", "a"))
    plate = str(tmp_path / "shot" / "plate.####.exr")
    matte = plate if matte_is == "its own file" else "alpha"
    out = str(tmp_path / "out" / "f.####.exr")
    assert run_cli("fuse", "--plate", plate, "--matte", matte, "--grade", "slope=2,2,2", "--engine", "hard",
                   "--exr-type", "float", "--out", out) == 0  # fmt: skip
    fused = read_pixels(tmp_path / "out" / "f.1001.exr")
    source = read_pixels(tmp_path / "shot" / "plate.1001.exr")[..., :3]
    np.testing.assert_array_equal(fused[distance > 14], source[distance > 14])
    np.testing.assert_allclose(fused[distance < 6], 2 * source[distance < 6], rtol=1e-5)


@pytest.mark.parametrize("through", ["in-process", "server"])
def test_a_matte_in_a_layers_alpha_is_named_with_the_command_that_gives_it(tmp_path, capsys, caplog, through):
    """A Nuke render with the roto in a layer (``mask.A``) and no alpha of its own: as --matte, its
    picture became the matte without a word (every pixel graded by its brightest channel); as the
    plate's alpha, the refusal listed R, G, B alone. Both now name the layer and the oiiotool command
    that writes it as a matte, and that command's matte fuses as the layer says."""
    import shlex
    import shutil
    import subprocess

    from conftest import run_cli, short_folder
    from movingcolor.service.process import ServerProcess

    rows, columns = np.mgrid[0:32, 0:48]
    disc = (np.hypot(rows - 16, columns - 24) < 10).astype(np.float32)
    (tmp_path / "shot").mkdir()
    for number in (1001, 1002):
        pixels = np.concatenate([np.full((32, 48, 3), 0.6, np.float32), disc[..., None]], axis=2)
        write_image(tmp_path / "shot" / f"render.{number}.exr", pixels, channels=("R", "G", "B", "mask.A"))
    render = str(tmp_path / "shot" / "render.####.exr")
    server = ServerProcess(f"unix://{short_folder()}/mc.sock").start() if through == "server" else None
    try:
        via = ["--server", server.address] if server else []

        def fuse(matte: str, out: str) -> int:
            return run_cli("fuse", "--plate", render, "--matte", matte, "--grade", "slope=2,2,2",
                           "--engine", "hard", "--out", str(tmp_path / out / "f.####.exr"), *via)  # fmt: skip

        with caplog.at_level("WARNING"):
            assert fuse(render, "picture") == 0
        said = "\n".join(r.getMessage() for r in caplog.records)
        assert "the matte has no alpha of its own (A) but its layers have (mask.A)" in said
        command = said.split("e.g. ")[1].split("\n")[0].strip()
        assert "--ch A=mask.A" in command
        if server:  # the server has no files to name: the command in general terms
            return
        assert command.startswith("oiiotool --frames 1001-1002 ")
        assert fuse("alpha", "alpha") == 2
        refused = capsys.readouterr().err
        assert "the plate has no alpha of its own (A), only its layers' (mask.A)" in refused
        if shutil.which("oiiotool"):
            subprocess.run(shlex.split(command), check=True)
            matte = str(tmp_path / "shot" / "render_matte.####.exr")
            assert fuse(matte, "layer") == 0
            fused = read_pixels(tmp_path / "layer" / "f.1001.exr")
            np.testing.assert_allclose(fused[disc == 1], 1.2, rtol=1e-2)  # graded inside the disc
            np.testing.assert_allclose(fused[np.hypot(rows - 16, columns - 24) > 14], 0.6, rtol=1e-3)
    finally:
        if server:
            server.stop()


def test_a_video_plates_rate_pixel_aspect_and_timecode_reach_each_fused_frame(tmp_path, caplog):
    """A video plate's frames carried none of its header: a conform could not place them (no
    timecode), and an anamorphic ProRes's squeeze was lost without a word (its aspect is the
    container's, which PyAV's decoder gives only once decoding)."""
    from fractions import Fraction

    from conftest import run_cli

    av = pytest.importorskip("av")
    luma = [np.full((8, 16), 16 + 10 * i, np.uint8) for i in range(6)]
    frames = [[y, np.full((8, 16), 128, np.uint8), np.full((8, 16), 128, np.uint8)] for y in luma]
    plate = tmp_path / "plate.mov"
    _write_planes(plate, frames, "rawvideo", "yuv444p", size=(16, 8), metadata={"timecode": "01:00:00:20"})
    with av.open(str(plate)) as container:
        assert container.streams.video[0].metadata.get("timecode") == "01:00:00:20"
    matte = tmp_path / "matte.####.png"
    for number in range(6):
        write_image(Path(str(matte).replace("####", f"{number:04d}")), np.ones((8, 16, 1), np.float32) * 0.5)
    out = tmp_path / "out" / "f.####.exr"
    assert run_cli("fuse", "--plate", str(plate), "--matte", str(matte), "--grade", "slope=1.2,1,1",
                   "--engine", "hard", "--out", str(out), "--frames", "2-5") == 0  # fmt: skip
    header = read_header(tmp_path / "out" / "f.0005.exr")
    assert Fraction(*header.carried["FramesPerSecond"].value) == 24
    timecode = (
        oiio.ImageInput.open(str(tmp_path / "out" / "f.0005.exr"))
        .spec()
        .get_string_attribute("smpte:TimeCode")
    )
    assert timecode == "01:00:01:01"  # 01:00:00:20 and five frames at 24 per second
    assert "PixelAspectRatio" not in header.carried or header.carried["PixelAspectRatio"].value == 1.0
    # An EXR's timecode counts frames 0-29: a 50 fps video's frame 45 read back as frame 05 of a
    # drop-frame second. Left out above 30 frames a second.
    fast = tmp_path / "fast.mov"
    _write_planes(
        fast, frames, "rawvideo", "yuv444p", size=(16, 8), rate=50, metadata={"timecode": "01:00:00:20"}
    )
    from movingcolor.frames.source import open_source as opened

    assert "smpte:TimeCode" not in opened(str(fast), "plate").carried_attributes(3)
    assert "FramesPerSecond" in opened(str(fast), "plate").carried_attributes(3)

    squeezed = tmp_path / "squeezed.mov"
    with av.open(str(squeezed), "w") as container:
        stream = container.add_stream("rawvideo", rate=24)
        stream.width, stream.height, stream.pix_fmt = 16, 8, "yuv444p"
        stream.codec_context.sample_aspect_ratio = Fraction(4, 3)
        for index in range(6):
            frame = av.VideoFrame.from_ndarray(np.full((8, 16, 3), 90, np.uint8), format="rgb24")
            frame = frame.reformat(format="yuv444p")
            frame.pts = index
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    with av.open(str(squeezed)) as container:
        assert container.streams.video[0].codec_context.sample_aspect_ratio is None  # the container's alone
    caplog.clear()
    with caplog.at_level("WARNING"):
        assert run_cli("fuse", "--plate", str(squeezed), "--matte", str(matte), "--grade", "slope=1.2,1,1",
                       "--engine", "hard", "--out", str(tmp_path / "sq" / "f.####.exr")) == 0  # fmt: skip
    assert "has non-square pixels (4:3)" in caplog.text
    aspect = read_header(tmp_path / "sq" / "f.0001.exr").carried["PixelAspectRatio"].value
    assert aspect == pytest.approx(4 / 3)


def test_an_interlaced_video_is_said_to_be_read_woven(tmp_path, caplog):
    """A 1080i export read as progressive combs the band across moving edges: said."""
    av = pytest.importorskip("av")
    if "libx264" not in av.codecs_available:
        pytest.skip("this PyAV's FFmpeg has no libx264")
    path = tmp_path / "interlaced.mp4"
    _write_video(
        path, [_ramp(64, 64)] * 4, "libx264", "yuv420p", options={"x264-params": "interlaced=1:tff=1"}
    )
    with caplog.at_level("WARNING"):
        open_source(str(path), "plate")
    assert "is interlaced (top field first): its two fields are read woven" in caplog.text
    caplog.clear()
    progressive = tmp_path / "progressive.mp4"
    _write_video(progressive, [_ramp(64, 64)] * 4, "libx264", "yuv420p")
    with caplog.at_level("WARNING"):
        open_source(str(progressive), "plate")
    assert "interlaced" not in caplog.text


def test_attributes_of_types_the_binding_sets_no_attribute_of_are_still_written(tmp_path):
    """OpenImageIO's Python binding sets no attribute typed double, int64, uint16 ... (silently): a
    studio's double-typed attribute carried from a plate was lost."""
    from movingcolor.frames.image_io import TypedAttribute

    path = tmp_path / "f.exr"
    attributes = {"focus": TypedAttribute("double", 2.5), "take": TypedAttribute("uint16", 7)}
    write_image(path, np.zeros((4, 4, 3), np.float32), attributes=attributes)
    kept = read_header(path).attributes
    assert kept["focus"] == 2.5 and kept["take"] == 7


def test_an_exr_plate_of_whole_numbers_is_refused_as_ids(tmp_path, capsys):
    """An EXR stores pictures as half or float: a UINT one (object IDs) was read as codes of a picture
    and graded without a word."""
    from conftest import run_cli

    for number in (1, 2):
        spec = oiio.ImageSpec(16, 8, 3, oiio.UINT)
        output = oiio.ImageOutput.create(str(tmp_path / f"ids.{number}.exr"))
        assert output.open(str(tmp_path / f"ids.{number}.exr"), spec)
        output.write_image(np.full((8, 16, 3), 7, np.uint32))
        output.close()
        write_image(tmp_path / f"m.{number}.png", np.ones((8, 16, 1), np.float32))
    code = run_cli("fuse", "--plate", str(tmp_path / "ids.#.exr"), "--matte", str(tmp_path / "m.#.png"),
                   "--grade", "slope=1.2", "--out", str(tmp_path / "out" / "f.####.exr"))  # fmt: skip
    assert code == 2
    assert "stores whole numbers (UINT channels), which an EXR holds for IDs" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
