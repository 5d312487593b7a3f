"""Video files (MP4, MOV, ...) through PyAV, decoded in order with cheap restarts.

Frames come as they play: turned by the file's display rotation (a phone's portrait clip), at the
full depth of their samples (10 and 12-bit video is not cut to 8 bits; Y'CbCr converted exactly, in
the range and matrix the picture names: :mod:`.ycbcr`), with the alpha of a codec
that carries one (ProRes 4444). What the product does not do with a file's tags is said in the log:
non-square pixels are used as stored, and colour tags other than Rec.709/sRGB (HDR's BT.2020, PQ,
HLG) are not read, so such a plate needs its colourspace named. A picture that names no matrix is
decoded with Rec.709's when it is HD or larger (BT.601's below), as hosts and players take it.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from ..errors import UnreadableFrameError
from ..optional import server_extra
from .confine import readable
from .limits import check_pixels
from .timecode import timecode_frame
from .ycbcr import (
    FULL_RANGE,
    MATRICES,
    float_sample_bytes,
    is_planar_ycbcr,
    stores_whole_numbers_low,
    video_range_levels,
    ycbcr_to_rgb,
)

log = logging.getLogger(__name__)

#: FFmpeg's colour primaries and transfer characteristics (AVColorPrimaries, AVColorTransferCharacteristic)
#: that are not the Rec.709/sRGB a video plate is read as, by name.
_OTHER_PRIMARIES = {4: "BT.470M", 8: "film", 9: "BT.2020", 10: "XYZ", 11: "DCI-P3", 12: "Display P3"}
_OTHER_TRANSFERS = {
    5: "gamma 2.8",
    8: "linear",
    9: "log",
    10: "log",
    16: "PQ (SMPTE ST 2084)",
    17: "SMPTE ST 428",
    18: "HLG (ARIB STD-B67)",
}


#: FFmpeg's AVColorSpace for a picture that does not say which matrix it was made with, and for
#: the Rec.709 and BT.601 (BT.470BG) matrices.
_UNSPECIFIED = 2
_BT709 = 1
_BT601 = 5
#: FFmpeg's AVColorRange of samples in the video ("MPEG") range.
LIMITED_RANGE = 1
#: swscale's name of the Rec.709 matrix.
_REC709 = "ITU709"


def _import_av():
    return server_extra("av", "reading video", "PyAV", "av")


def _uneven(shown: list) -> bool:
    """Whether the times frames are shown at (``pts``) step unevenly: by more than a tenth of the
    usual step and more than the time base's rounding (a time base of milliseconds steps 33 and 34
    at 30 frames per second, 8 and 9 at 120: even)."""
    if len(shown) < 3 or any(pts is None for pts in shown):
        return False
    steps = np.diff(np.sort(np.asarray(shown, dtype=np.int64)))
    usual = float(np.median(steps))
    return usual > 0 and float(steps.max() - steps.min()) > max(usual / 10, 1.0)


class VideoReader:
    """Frame ``i`` (0-based) of a video as float32 ``(H, W, 3 or 4)`` in 0..1, as it plays.

    Decoding is sequential: reading frames in increasing order costs one decode
    each; going backwards reopens the file. The shot runner reads in order.
    """

    def __init__(self, path: Path):
        self.path = Path(path)
        av = _import_av()
        try:
            with readable(self.path, "video") as name, av.open(name) as container:
                if not container.streams.video:
                    raise UnreadableFrameError(f"{self.path}: has no video stream")
                stream = container.streams.video[0]
                if stream.codec_context is None:  # PyAV opens no decoder for a codec FFmpeg lacks
                    raise av.error.DecoderNotFoundError(0, "no decoder")
                self._alpha_decoder = _alpha_decoder(av, stream, self.path)
                first = next(self._decoded(container), None)
                if first is None:
                    raise UnreadableFrameError(f"{self.path}: has no frame that decodes")
                self._layout = _SampleLayout(first.format)
                self.has_alpha = self._layout.alpha is not None
                #: Its samples as a file's are named: "half" or "float" (FFV1's float formats), else
                #: "uint16" for whole numbers of more than 8 bits (10 and 12-bit video), "uint8": a
                #: 10-bit plate written as 8-bit PNG is rounded, as a 16-bit image's is, and said.
                bits = max(c.bits for c in self._layout.colours)
                self.sample_type = {2: "half", 4: "float"}.get(self._layout.float_bytes) or (
                    "uint16" if bits > 8 else "uint8"
                )
                #: The bits its whole-number samples hold (10 for 10-bit video stored in 16).
                self.sample_bits = bits if self._layout.float_bytes == 0 else None
                #: Its transfer tag where it is Rec.709's (read with the sRGB curve: said where its
                #: colourspace is chosen, knowing what the user named).
                self.rec709_transfer = stream.codec_context.color_trc == _BT709
                _refuse_a_mirror(first, self.path)
                self._turns = round((first.rotation or 0) / 90) % 4  # counterclockwise quarter turns
                #: Degrees the file's display rotation turns its pictures (counterclockwise).
                self.rotation = 90 * self._turns
                #: Frames per second (a Fraction), where the file says; None where it does not.
                self.rate = stream.average_rate or stream.guessed_rate or None
                #: The SMPTE timecode of the first frame, where the file carries one (a QuickTime
                #: tmcd track, an MXF's start), and the frame count it names at the file's rate.
                self.timecode = _timecode(container, stream)
                self.timecode_frame = timecode_frame(self.timecode, self.rate) if self.timecode else None
                #: Seconds at which the first frame is shown (a part of a longer render starts late).
                self.start_seconds = float(first.time) if first.time is not None else None
                self._coded_size = (first.width, first.height)
                # An untagged HD picture is Rec.709's, as hosts and players take it; swscale would
                # take the SD matrix (BT.601) and shift its colours by 10-20 codes.
                self._untagged_matrix = (
                    {"src_colorspace": _REC709} if first.width >= 1280 or first.height > 576 else {}
                )
                width, height = first.width, first.height
                self.width, self.height = (height, width) if self._turns % 2 else (width, height)
                check_pixels(self.width, self.height, str(self.path))
                #: Width to height of a pixel as the file stores it (the container's, a MOV's pasp,
                #: before the codec's: PyAV gives ProRes's only once decoding); None where square.
                aspect = stream.sample_aspect_ratio or stream.codec_context.sample_aspect_ratio
                self.pixel_aspect = aspect if aspect not in (None, 0, 1) else None
                if self.pixel_aspect is not None and self._turns % 2:
                    self.pixel_aspect = 1 / self.pixel_aspect  # turned a quarter, a pixel's sides swap
                self._describe(stream.codec_context, first)
                first_shown = first.pts
                # The stream's own length: the file's is its longest stream's (an audio track
                # running past the last picture).
                duration = _seconds(stream.duration, stream.time_base) or (
                    _seconds(container.duration, 1e-6) if len(container.streams) == 1 else None
                )
            # Counted from the packets the file holds (no decoding): a header's count can be wrong,
            # and an edit list (a trim in an editor or a phone) leaves fewer frames than it says.
            with readable(self.path, "video") as name, av.open(name) as container:
                stream = container.streams.video[0]
                shown = [
                    packet.pts for packet in container.demux(stream) if packet.size and not packet.is_discard
                ]
                self.frame_count = len(shown)
                #: Whether its frames are shown at uneven intervals (a phone's clip in low light):
                #: its rate is then an average, which a roto rendered frame for frame need not share.
                self.variable_rate = _uneven(shown)
        except av.error.DecoderNotFoundError as error:
            raise UnreadableFrameError(
                f"{self.path}: its video codec is not one the FFmpeg inside PyAV decodes (a camera's raw "
                f"format or a licensed codec); transcode it to ProRes, DNxHR or an image sequence (EXR, "
                f"DPX) in the application that made it"
            ) from error
        except av.error.FFmpegError as error:
            raise UnreadableFrameError(
                f"{self.path}: cannot decode video ({error}); check the file is complete"
            ) from error
        self._check_start(shown, first_shown)
        self._check_length(duration)
        self._container = None
        self._frames = None
        self._next_index = 0
        # The frame read last: a plate whose matte is its alpha is read twice per frame, and going
        # back one frame would decode the file again from its start.
        self._last: tuple[int, np.ndarray] | None = None

    def _decoded(self, container):
        """The video's frames in order: through FFmpeg's own decoder, or through the one that reads a
        WebM's alpha (FFmpeg's VP8 and VP9 decoders drop it)."""
        stream = container.streams.video[0]
        if self._alpha_decoder is None:
            return container.decode(stream)
        context = _import_av().CodecContext.create(self._alpha_decoder, "r")
        context.extradata = stream.codec_context.extradata
        # The last packet demuxed is empty: it flushes the decoder.
        return (frame for packet in container.demux(stream) for frame in context.decode(packet))

    def _check_start(self, shown: list, first_shown) -> None:
        """A file cut away from a keyframe without re-encoding starts with frames that reference
        pictures it does not hold: they never decode, and every frame after them would be taken
        for the one that many places earlier (paired with another frame's matte)."""
        if first_shown is None or any(pts is None for pts in shown):
            return
        hidden = sum(1 for pts in shown if pts < first_shown)
        if hidden:
            raise UnreadableFrameError(
                f"{self.path}: its first {hidden} frame{'s' if hidden > 1 else ''} cannot be decoded (the "
                f"file starts part-way through a group of pictures, as a copy cut without re-encoding "
                f"away from a keyframe does), so every frame after them would be numbered "
                f"{hidden} early; re-export it, or cut it at a keyframe"
            )

    def _check_length(self, duration: float | None) -> None:
        """A file whose copy stopped part-way keeps its header: say so when it holds well under the
        frames its duration promises (the shot is then the frames it holds)."""
        if not duration or not self.rate or self.variable_rate:  # its rate an average: no promise
            return
        promised = duration * float(self.rate)
        if self.frame_count < promised * 0.9 - 1:
            log.warning(
                "%s holds %d frames but its header gives %.3g s at %g frames per second (about %d "
                "frames): the file may be cut short; only the frames it holds are fused",
                self.path,
                self.frame_count,
                duration,
                float(self.rate),
                round(promised),
            )

    def _describe(self, codec, first) -> None:
        """Say what about the file's tags is not honoured, once, when it is opened (``first``: its
        first picture)."""
        aspect = self.pixel_aspect
        if aspect is not None:
            log.warning(
                "%s has non-square pixels (%s:%s); its frames are used as stored, %dx%d (fused EXRs "
                "record the pixel aspect): render the matte at that size",
                self.path,
                aspect.numerator,
                aspect.denominator,
                self.width,
                self.height,
            )
        if getattr(first, "interlaced_frame", False):
            log.warning(
                "%s is interlaced (%s field first): its two fields are read woven, as one picture, and "
                "a band across moving edges combs; deinterlace it first (or render the shot progressive)",
                self.path,
                "top" if getattr(first, "top_field_first", True) else "bottom",
            )
        if first.colorspace == _UNSPECIFIED and is_planar_ycbcr(first.format):
            # Naming a colourspace does not change the matrix its Y'CbCr is decoded with.
            log.info(
                "%s names no colour matrix: decoded with %s's, as players take a picture of its size; "
                "where it was made with the other one (a proxy of an HD timeline at SD size), export it "
                "again with its matrix tagged",
                self.path,
                "Rec.709" if self._untagged_matrix else "BT.601",
            )
        #: Its colour tags that are not read (HDR's BT.2020, PQ, HLG): said where its colourspace is
        #: chosen, knowing whether one was named (a matte's are of no account).
        self.unread_colour_tags = tuple(
            name
            for name in (_OTHER_PRIMARIES.get(codec.color_primaries), _OTHER_TRANSFERS.get(codec.color_trc))
            if name
        )

    def _restart(self) -> None:
        self.close()
        av = _import_av()
        with readable(self.path, "video") as name:
            self._container = av.open(name)
        self._frames = self._decoded(self._container)
        self._next_index = 0

    def read(self, index: int) -> np.ndarray:
        """Frame ``index`` (read-only: the plate and its alpha share it)."""
        if not 0 <= index < self.frame_count:
            raise UnreadableFrameError(
                f"{self.path}: frame index {index} is outside the video's {self.frame_count} frames"
            )
        if self._last is not None and self._last[0] == index:
            return self._last[1]
        if self._frames is None or index < self._next_index:
            self._restart()
        av = _import_av()
        try:
            while True:
                frame = next(self._frames)
                current = self._next_index
                self._next_index += 1
                if current == index:
                    pixels = self._pixels(frame, index)
                    pixels = np.ascontiguousarray(np.rot90(pixels, self._turns)) if self._turns else pixels
                    pixels.flags.writeable = False
                    self._last = (index, pixels)
                    return pixels
        except StopIteration as error:
            raise UnreadableFrameError(
                f"{self.path}: video ended before frame index {index}; the file may be truncated"
            ) from error
        except av.error.FFmpegError as error:
            self.close()
            raise UnreadableFrameError(
                f"{self.path}: frame index {index} cannot be decoded ({error}); the file is damaged "
                f"there: re-export it, or fuse the frames before it with --frames"
            ) from error

    def _pixels(self, frame, index: int) -> np.ndarray:
        """A decoded frame as float32 ``(H, W, 3 or 4)`` in 0..1, as stored (not yet turned)."""
        if (frame.width, frame.height) != self._coded_size:
            raise UnreadableFrameError(
                f"{self.path}: frame index {index} is {frame.width}x{frame.height} but the video starts "
                f"at {self._coded_size[0]}x{self._coded_size[1]}; its picture size changes part-way: "
                f"re-export it at one size"
            )
        layout = self._layout
        if layout.float_bytes:
            return _float_samples(frame, layout)
        matrix = self._matrix(frame)
        if layout.packed_as is not None and matrix is not None:
            # Packed 4:2:2 (QuickTime's '2vuy', 'yuv2') unpacked into planes, a copy that changes no
            # code, then converted as planar Y'CbCr is: swscale's 8-bit RGB read white as 253.
            full = frame.color_range == FULL_RANGE
            planar = frame.reformat(format=layout.packed_as.name)
            unpacked = layout.packed_as
            luma, cb, cr = (unpacked.codes(planar, component) for component in unpacked.colours)
            return ycbcr_to_rgb(luma, cb, cr, 8, matrix, full)
        if layout.gray:
            rgb = np.repeat(self._grey_levels(frame)[..., None], 3, axis=2)
        elif layout.ycbcr and matrix is not None:
            luma, cb, cr = (layout.codes(frame, component) for component in layout.colours)
            full = frame.color_range == FULL_RANGE or layout.name.startswith("yuvj")
            rgb = ycbcr_to_rgb(luma, cb, cr, layout.colours[0].bits, matrix, full)
        elif layout.planar_rgb:
            rgb = np.stack([layout.samples(frame, component) for component in layout.colours], axis=2)
        else:
            options = self._untagged_matrix if frame.colorspace == _UNSPECIFIED else {}
            # An alpha packed among the colours (RGBA, ARGB) comes with them, exact at 8 and 16 bits.
            packed_alpha = layout.alpha is not None and not layout.alpha_direct
            if packed_alpha:
                converted = frame.to_ndarray(format=layout.rgba_format, **options)
                return converted.astype(np.float32) / layout.rgb_largest
            rgb = _swscale_rgb(frame, layout, options)
        if layout.alpha is None:
            return rgb
        alpha = layout.samples(frame, layout.alpha)
        return np.concatenate([rgb, alpha[..., None]], axis=2)

    def _matrix(self, frame) -> tuple[float, float] | None:
        """``(Kr, Kb)`` of the matrix ``frame`` was made with (an untagged picture's by its size), or
        None for one :mod:`.ycbcr` does not know (swscale converts it)."""
        if frame.colorspace == _UNSPECIFIED:
            # VP8 is BT.601 whatever its size; libvpx's decoder, which reads its alpha, does not say so.
            vp8 = self._alpha_decoder == _ALPHA_DECODERS["vp8"]
            return MATRICES[_BT709 if self._untagged_matrix and not vp8 else _BT601]
        return MATRICES.get(frame.colorspace)

    def _grey_levels(self, frame) -> np.ndarray:
        """A grey picture's levels in 0..1: as stored, or from the video range (16-235 at 8 bits)
        where the picture says it is in that range, as a grey matte encoded for video is."""
        layout = self._layout
        if frame.color_range != LIMITED_RANGE:
            return layout.samples(frame, layout.luma)
        levels = video_range_levels(layout.codes(frame, layout.luma), layout.luma.bits)
        return np.clip(levels, 0.0, 1.0, out=levels)

    def close(self) -> None:
        if self._container is not None:
            self._container.close()
        self._container = None
        self._frames = None
        self._last = None


class _SampleLayout:
    """How a pixel format's samples become 0..1 values. Planar Y'CbCr is converted by :mod:`.ycbcr`
    (swscale's 16-bit conversion is 0.4% dark), planar RGB as stored, other formats by swscale. A
    grey picture's level and an alpha plane are read as stored: swscale shifts 10 and 12-bit ones to
    16 bits without filling the low bits (opaque 12-bit alpha came out 0.99977, so a matte's inside
    was never whole), and drops a grey picture's alpha (PNG's grey + alpha)."""

    def __init__(self, pixel_format):
        components = list(pixel_format.components)
        self.name = pixel_format.name
        self.big_endian = pixel_format.is_big_endian
        self.alpha = next((c for c in components if c.is_alpha), None)
        self.luma = next((c for c in components if c.is_luma), None)
        # Samples stored as whole numbers of 8 to 16 bits, one per pixel and component: palette
        # indices, packed bits, Bayer mosaics and floats are swscale's to convert.
        plain = stores_whole_numbers_low(pixel_format)
        # One colour component: grey (PyAV's is_chroma gives a subsampling shift, 0 for 4:4:4).
        self.gray = plain and self.luma is not None and sum(1 for c in components if not c.is_alpha) == 1
        self._per_plane = {}
        for component in components:
            self._per_plane.setdefault(component.plane, []).append(component)
        deep = max(component.bits for component in components) > 8
        # Deep samples through swscale's planar 16-bit RGB: its packed rgb48le lost the green of
        # 4:2:0 pictures of odd width (853x480).
        self.rgb_format = "gbrp16le" if deep else "rgb24"
        self.rgba_format = "rgba64le" if deep else "rgba"
        self.rgb_largest = np.float32(65535.0 if deep else 255.0)
        # An alpha alone in its plane (planar formats), or after the level in grey + alpha.
        self.alpha_direct = (
            plain and self.alpha is not None and (self.gray or len(self._per_plane[self.alpha.plane]) == 1)
        )
        #: Planar Y'CbCr, converted by :mod:`.ycbcr` where its matrix is known; its Y', Cb and Cr.
        self.ycbcr = is_planar_ycbcr(pixel_format)
        #: Their R, G and B here (FFmpeg lists an RGB format's components in that order).
        self.colours = [component for component in components if not component.is_alpha]
        #: R, G and B each in a plane of its own (10-bit DNxHR 444, r210, FFV1 RGB), read as stored:
        #: through swscale's 16-bit planes white came out 0.99905 at 10 bits.
        self.planar_rgb = (
            plain
            and self.name.startswith("gbr")
            and len(self.colours) == 3
            and all(len(self._per_plane[c.plane]) == 1 for c in self.colours)
        )
        #: Bytes of a half or single float sample (``gbrpf16le``, ``grayf32le``: scene-linear values,
        #: never clipped); 0 for whole numbers.
        self.float_bytes = float_sample_bytes(pixel_format)
        #: For packed 8-bit 4:2:2 Y'CbCr, the layout of the same samples in planes.
        self.packed_as = _SampleLayout(_av_format("yuv422p")) if self.name in _PACKED_422 else None

    def codes(self, frame, component, dtype: np.dtype | None = None) -> np.ndarray:
        """``component``'s samples of ``frame`` as stored, integers ``(h, w)`` at its plane's size
        (or of ``dtype``: a float format's)."""
        together = self._per_plane[component.plane]
        plane = frame.planes[component.plane]
        if dtype is None:
            wide = component.bits > 8
            dtype = np.dtype(">u2" if self.big_endian else "<u2") if wide else np.dtype(np.uint8)
        rows = np.frombuffer(plane, dtype).reshape(plane.height, -1)
        per_pixel = len(together)
        values = rows[:, : plane.width * per_pixel].reshape(plane.height, plane.width, per_pixel)
        return values[..., together.index(component)]

    def samples(self, frame, component) -> np.ndarray:
        """``component``'s samples of ``frame`` as float32 ``(H, W)`` in 0..1, as stored."""
        return self.codes(frame, component).astype(np.float32) / np.float32((1 << component.bits) - 1)


def _float_samples(frame, layout: _SampleLayout) -> np.ndarray:
    """A picture of half or single float samples (``gbrpf16le``, ``grayf32le``) as float32
    ``(H, W, 3 or 4)``, read as stored: their values above 1.0 and below 0 too (swscale clipped
    them, converting through integers)."""
    dtype = np.dtype((">f" if layout.big_endian else "<f") + str(layout.float_bytes))
    colours = [layout.codes(frame, component, dtype) for component in layout.colours]
    if len(colours) == 1:  # grey
        colours *= 3
    if layout.alpha is not None:
        colours.append(layout.codes(frame, layout.alpha, dtype))
    return np.stack(colours, axis=2).astype(np.float32)


#: Packed 8-bit 4:2:2 Y'CbCr formats, each a reordering of yuv422p's samples.
_PACKED_422 = frozenset({"uyvy422", "yuyv422", "yvyu422"})


def _av_format(name: str):
    return _import_av().VideoFormat(name)


def _swscale_rgb(frame, layout: _SampleLayout, options: dict) -> np.ndarray:
    """``frame`` as float32 ``(H, W, 3)`` R'G'B' through swscale (``options``: the matrix of an
    untagged picture): 8-bit pictures packed, deeper ones planar (G, B, R planes)."""
    if layout.rgb_format == "rgb24":
        return frame.to_ndarray(format="rgb24", **options).astype(np.float32) / layout.rgb_largest
    planar = frame.reformat(format=layout.rgb_format, **options)
    green, blue, red = (
        np.frombuffer(plane, "<u2").reshape(plane.height, -1)[:, : plane.width] for plane in planar.planes
    )
    return np.stack([red, green, blue], axis=2).astype(np.float32) / layout.rgb_largest


#: libvpx's decoders, which read the alpha a WebM keeps beside its VP8 or VP9 picture.
_ALPHA_DECODERS = {"vp8": "libvpx", "vp9": "libvpx-vp9"}


def _alpha_decoder(av, stream, path: Path) -> str | None:
    """The decoder that reads ``stream``'s alpha, where it carries one FFmpeg's decoder drops (a
    WebM's ``alpha_mode``); None for FFmpeg's own."""
    name = _ALPHA_DECODERS.get(stream.codec_context.name)
    if name is None or stream.metadata.get("alpha_mode") != "1":
        return None
    if name not in av.codecs_available:
        log.warning(
            "%s: its alpha is not read: this PyAV's FFmpeg has no %s decoder", stream.container.name, name
        )
        return None
    return name


def _refuse_a_mirror(frame, path: Path) -> None:
    """A display matrix that mirrors the picture (a negative determinant: a front camera's clip, a
    mirrored export) is refused: PyAV gives its rotation alone, and the picture turned by it is not
    the one players show (a left-right mirror came out turned upside down)."""
    for entry in frame.side_data:
        # PyAV 18 iterates over the side data's types (a mapping's keys), earlier ones over the data.
        data = entry if hasattr(entry, "type") else frame.side_data[entry]
        if data.type.name != "DISPLAYMATRIX":
            continue
        a, b, _, c, d = (int(v) for v in np.frombuffer(bytes(data), np.int32)[:5])
        if a * d - b * c < 0:
            raise UnreadableFrameError(
                f"{path}: its display matrix mirrors the picture (as a front camera or a mirrored export "
                f"writes it), which is not applied here; export it with the mirror applied, as it "
                f"plays, then fuse that"
            )


def _timecode(container, stream) -> str | None:
    """The file's start timecode: the video stream's, the file's, or a timecode track's."""
    for metadata in (stream.metadata, container.metadata, *(other.metadata for other in container.streams)):
        # Matroska's tag is TIMECODE.
        text = next((value for key, value in metadata.items() if key.lower() == "timecode" and value), None)
        if text:
            return text
    return None


def _seconds(value, unit) -> float | None:
    return float(value * unit) if value else None
