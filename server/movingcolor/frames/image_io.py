"""Image files through OpenImageIO: float32 pixels in, atomic writes out."""

from __future__ import annotations

import errno
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import OpenImageIO as oiio

from ..errors import DiskFullError, InvalidPixelsError, MovingColorError, OutputError, UnreadableFrameError
from .confine import OutputFolder, readable, unconfined
from .limits import check_pixels
from .memory_file import memory_file, read_back
from .temporaries import temporary_path

# What --exr-type and the output extension map to: the samples each file stores.
EXR_PIXEL_TYPES = {"half": np.float16, "float": np.float32}
#: The largest magnitude a half float holds; beyond it a value is written (or sent) as infinity.
HALF_MAX = 65504.0
#: The integer samples a PNG or TIFF output stores, by extension.
INTEGER_SAMPLES = {".png": np.uint8, ".tif": np.uint16, ".tiff": np.uint16}
#: OpenImageIO's name for each of those sample types.
_OIIO_TYPES = {np.float16: oiio.HALF, np.float32: oiio.FLOAT, np.uint8: oiio.UINT8, np.uint16: oiio.UINT16}
EXR_COMPRESSIONS = ("zip", "zips", "piz", "pxr24", "b44", "b44a", "dwaa", "dwab", "rle", "none")
WRITABLE_FORMATS = {".exr": "openexr", ".png": "png", ".tif": "tiff", ".tiff": "tiff"}


#: The channels of a file that are read: the first four (R, G, B and A, which OpenImageIO puts
#: first), and A wherever it is (OpenImageIO keeps Y ahead of it). A render's other layers (depth,
#: AOVs: thirty channels at 4K are a gigabyte a frame) are never used.
READ_CHANNELS = 4


def _channels_read(stored: tuple[str, ...]) -> list[int]:
    """The indices of the channels read of a file storing ``stored``, in stored order."""
    read = list(range(min(len(stored), READ_CHANNELS)))
    names = channel_names(stored)
    if "A" in names[READ_CHANNELS:]:
        read.append(names.index("A"))
    return read


def channel_names(stored: tuple[str, ...]) -> tuple[str, ...]:
    """``stored`` with the picture's own channels named as MovingColor reads them: OpenEXR allows
    ``r, g, b, a`` as well as ``R, G, B, A``, and a matte's lowercase alpha was taken for no alpha
    (its picture became the matte)."""
    return tuple(name.upper() if name in ("r", "g", "b", "a") else name for name in stored)


#: What a fused frame keeps of its plate frame's header: what a pipeline reads to conform and show
#: it (per frame: a timecode runs with the frames). Chromaticities are kept apart: they hold only
#: where the output's colourspace is the plate's.
CONFORM_ATTRIBUTES = (
    "smpte:TimeCode",
    "smpte:KeyCode",
    "FramesPerSecond",
    "PixelAspectRatio",
    "Copyright",
    "ImageDescription",
    "Artist",
    "DateTime",
)
CHROMATICITIES = "chromaticities"
#: Also kept: what else a plate's header says about the shot in the file format's own words or a
#: studio's (``shot``, the camera's make, lens and matrices, a capture's ``utcOffset``): names with
#: no namespace. Not kept: a namespace's (a host's, a tool's, Exif's and XMP's, Cryptomatte's layer
#: manifests: ``nuke/``, ``Exif:``, ``photoshop:``, ``cryptomatte/``), which speak of the file they
#: were written into, and what describes the file itself (layout, views, compression, colour, the
#: tool that wrote it), which the fused frame's own header says, or would no longer be true of it
#: (an ACES container's flag, which OpenImageIO refuses on a compressed frame).
NOT_CARRIED = frozenset(
    {
        "compression",
        "dwaCompressionLevel",
        "Software",
        "HostComputer",
        "Orientation",
        "XResolution",
        "YResolution",
        "ResolutionUnit",
        "screenWindowCenter",
        "screenWindowWidth",
        "planarconfig",
        "multiView",
        "view",
        "name",
        "type",
        "version",
        "chunkCount",
        "tiles",
        "lineOrder",
        "deepImageState",
        "textureformat",
        "wrapmodes",
        "acesImageContainerFlag",
        "colorInteropID",
        "adoptedNeutral",
        "whiteLuminance",
        "renderingTransform",
        "lookModTransform",
        "ICCProfile",
        "XMP",
    }
)


#: What a header says of how its file stores the pictures, kept with the conform attributes (so that a
#: streamed plate's shot knows it as a file plate's does, from the file sent) and never written: it is
#: true of the plate's file, not of a fused frame (a 10-bit DPX's bits made its TIFF output 10-bit).
DPX_TRANSFER = "dpx:Transfer"
ICC_DESCRIPTION = "ICCProfile:profile_description"
BITS_PER_SAMPLE = "oiio:BitsPerSample"
#: The samples the file stores (:attr:`ImageHeader.pixel_type`), which no attribute of its own says.
STORED_SAMPLES = "movingcolor:stored_samples"
HEADER_FACTS = frozenset({DPX_TRANSFER, ICC_DESCRIPTION, BITS_PER_SAMPLE, STORED_SAMPLES})


#: Scalar attribute types OpenImageIO's Python binding does not set by their own type, and the
#: Python type each is set as instead.
_SCALARS_SET_AS = {"double": float, "half": float, "int64": int, "uint64": int, "int16": int, "uint16": int}


def carried_attribute(name: str) -> bool:
    """Whether a fused frame keeps attribute ``name`` of its plate frame's header."""
    if name in CONFORM_ATTRIBUTES or name == CHROMATICITIES:
        return True
    return ":" not in name and "/" not in name and name not in NOT_CARRIED


@dataclass(frozen=True)
class ImageHeader:
    """What a file says about itself without decoding its pixels. ``width`` and ``height`` are the
    display window's (the frame's format), which is what :func:`read_pixels` returns."""

    path: Path
    width: int
    height: int
    channels: tuple[str, ...]
    pixel_type: str
    colorspace: str
    attributes: dict = field(default_factory=dict, compare=False)
    #: ``(x, y, width, height)`` of the pixels the file stores, from the display window's corner,
    #: where they are not the display window (an EXR's bounding box, or overscan); else None.
    data_window: tuple[int, int, int, int] | None = None
    #: The conform attributes it holds (``CONFORM_ATTRIBUTES`` and chromaticities), typed, and what it
    #: says of how the file stores the pictures (``HEADER_FACTS``), which are never written.
    carried: dict = field(default_factory=dict, compare=False)
    #: Every channel the file stores, of which ``channels`` are those read (``_channels_read``).
    stored_channels: tuple[str, ...] = field(default=(), compare=False)

    @property
    def is_float(self) -> bool:
        return self.pixel_type in ("half", "float", "double")


def error_text(geterror) -> str:
    """OpenImageIO's last error message. A corrupt file's message can quote the file's own bytes,
    which need not be UTF-8: the binding then raises while converting it, and the caller would
    report that exception instead of the corrupt file."""
    try:
        return geterror().strip()
    except UnicodeDecodeError:
        return "its header holds bytes that are not text: the file is corrupt"


#: PNG chunks that say how a file's values are encoded; they come before its first IDAT.
_PNG_COLOUR_CHUNKS = (b"sRGB", b"gAMA", b"cHRM", b"iCCP", b"cICP")


def _png_declares_colour(name: str) -> bool:
    """Whether the PNG ``name`` holds a chunk that declares its encoding. OpenImageIO reports every
    PNG as sRGB, one that says nothing too, so only the file's chunks tell the two apart."""
    try:
        with open(name, "rb") as file:
            file.seek(8)  # the signature
            while True:
                head = file.read(8)
                if len(head) < 8:
                    return False
                length, kind = int.from_bytes(head[:4], "big"), head[4:]
                if kind in _PNG_COLOUR_CHUNKS:
                    return True
                if kind in (b"IDAT", b"IEND"):
                    return False
                file.seek(length + 4, os.SEEK_CUR)  # the chunk's data and its CRC
    except OSError:
        return True  # unknown: OpenImageIO's word stands


#: ICC profiles by their description (lowercase, letters and digits alone), each a beginning of the
#: descriptions that name it, and the colourspace each encodes, by its interop ID: those phones,
#: cameras and image editors embed ("sRGB IEC61966-2.1", Apple's and Android's "Display P3").
_ICC_PROFILES = (
    ("srgb", "srgb_rec709_scene"),
    ("displayp3", "srgb_p3d65_scene"),
    ("adobergb1998", "g22_adobergb_scene"),
    ("compatiblewithadobergb1998", "g22_adobergb_scene"),
)


def icc_colorspace(description: str) -> str:
    """The interop ID of the colourspace the ICC profile described as ``description`` encodes, or ""
    where it is none of ``_ICC_PROFILES`` (a linear variant of one is none of them either)."""
    text = "".join(character for character in description.lower() if character.isalnum())
    if "linear" in text:
        return ""
    return next((interop for start, interop in _ICC_PROFILES if text.startswith(start)), "")


def _declared_colorspace(name: str, format_name: str, spec: oiio.ImageSpec) -> str:
    """The colourspace the file's header declares: MovingColor's record of the one it wrote, else the
    one its ICC profile is known as (empty for a profile that is none known: the file then declares
    nothing), else OpenImageIO's ``oiio:ColorSpace``, except the sRGB it gives a PNG that declares
    nothing (empty then: the reader's default, or the plate's for a graded render, applies)."""
    # MovingColor's own record first: OpenImageIO drops a name its built-in config does not know, and
    # rewrites one it does as its own (a show's "linear" became lin_rec709_scene), so a fused frame
    # read back as a plate lost the colourspace it was written in.
    own = spec.get_string_attribute("movingcolor:colorspace")
    if own:
        return own
    icc = spec.get_string_attribute(ICC_DESCRIPTION)
    if icc and spec.getattribute("CICP") is None:
        # OpenImageIO declares every PNG and JPEG sRGB whatever profile it embeds (a Display P3 photo's
        # colours were read as sRGB's); a PNG's cICP chunk, which it does read, outranks the profile.
        return icc_colorspace(icc)
    declared = spec.get_string_attribute("oiio:ColorSpace")
    if format_name == "png" and not _png_declares_colour(name):
        return ""
    return declared


def _open(name: str) -> oiio.ImageInput | None:
    """An ImageInput on ``name`` that gives the colours as stored: OpenImageIO multiplies the colours
    of a file whose alpha is unassociated (PNG, a TIFF that says so) by its alpha unless asked not
    to, and a plate's colours outside the matte came out black where its alpha was 0 (and halved
    where it was 0.5), though the fused frame holds no alpha to undo it with."""
    config = oiio.ImageSpec()
    config.attribute("oiio:UnassociatedAlpha", 1)
    return oiio.ImageInput.open(name, config)


def _refuse_deep(spec: oiio.ImageSpec, path: Path) -> None:
    """A deep image (many samples per pixel, a renderer's deep EXR) is no plate: read flat, its
    samples came out as garbage values."""
    if spec.deep:
        raise UnreadableFrameError(
            f"{path}: is a deep image (samples at many depths per pixel); flatten it first, e.g. "
            f"oiiotool {path.name} --flatten -o flat.exr, or render it flat"
        )


def any_image_attributes(path: Path) -> dict | None:
    """The header attributes of ``path`` where OpenImageIO opens it as an image of any kind (a deep
    one, one over the pixel limit: images this product does not read, but images); None where it
    opens as none (a truncated or empty file, text)."""
    with readable(path) as name:
        image = _open(name)
        if image is None:
            oiio.geterror()  # taken, so the next error read is not this one
            return None
        try:
            return {a.name: a.value for a in image.spec().extra_attribs}
        except UnicodeDecodeError:
            return None
        finally:
            image.close()


def read_header(path: Path) -> ImageHeader:
    """Open ``path`` and read its header; raises :class:`UnreadableFrameError`, and
    :class:`ImageTooLargeError` for an image over the pixel limit (``frames.limits``)."""
    with readable(path) as name:
        image = _open(name)
        if image is None:
            reason = error_text(oiio.geterror) or "unknown format"
            if os.path.isfile(name) and not os.access(name, os.R_OK):
                # OpenImageIO says it could not open the file, as for a corrupt one.
                raise UnreadableFrameError(
                    f"{path}: this user may not read it (permission denied); give this user read "
                    f"access to it, or run as one who has it"
                )
            raise UnreadableFrameError(
                f"{path}: cannot open as an image ({reason}); "
                f"check that the file is complete and in a format OpenImageIO reads"
            )
        try:
            spec = image.spec()
            _refuse_deep(spec, path)
            check_pixels(spec.width, spec.height, str(path))
            width, height = _display_size(spec)
            check_pixels(width, height, str(path))
            try:
                attributes = {a.name: a.value for a in spec.extra_attribs}
                carried = {
                    a.name: TypedAttribute(str(a.type), a.value)
                    for a in spec.extra_attribs
                    if carried_attribute(a.name) or a.name in HEADER_FACTS
                }
                stored = tuple(spec.channelnames)
                read = _channels_read(stored)
                pixel_type = _read_pixel_type(spec, read)
                carried[STORED_SAMPLES] = TypedAttribute("string", pixel_type)
                if spec.getattribute("CICP") is not None:
                    carried.pop(ICC_DESCRIPTION, None)  # the cICP chunk declares (_declared_colorspace)
            except UnicodeDecodeError:
                raise UnreadableFrameError(
                    f"{path}: its header holds names or attributes that are not text: the file is "
                    f"corrupt; re-render or re-copy it"
                ) from None
            return ImageHeader(
                path=Path(path),
                width=width,
                height=height,
                channels=channel_names(tuple(stored[index] for index in read)),
                pixel_type=pixel_type,
                colorspace=_declared_colorspace(name, image.format_name(), spec),
                attributes=attributes,
                data_window=_data_window(spec),
                carried=carried,
                stored_channels=stored,
            )
        finally:
            image.close()


@dataclass(frozen=True)
class TypedAttribute:
    """A header attribute with its OpenImageIO type (``timecode``, ``rational``, ...), written back
    as it was read: a timecode given as two integers would be written as integers."""

    type: str
    value: object


def _as_planes(pixels: np.ndarray) -> np.ndarray:
    """``pixels`` as ``(H, W, C)``: OpenImageIO gives one channel as ``(H, W)``."""
    return pixels[:, :, None] if pixels.ndim == 2 else pixels


def _read_pixel_type(spec, read: list[int]) -> str:
    """The sample type of the channels ``read`` (a file of half R, G, B and a float depth holds half
    colours: it was reported as float, and its colours as rounded when written as half)."""
    formats = [str(spec.channelformat(index)) for index in read]
    if not formats or len(set(formats)) > 1:
        return str(spec.format)
    return formats[0]


def _display_size(spec) -> tuple[int, int]:
    """``(width, height)`` of ``spec``'s display window; its data window's where it has none."""
    if spec.full_width > 0 and spec.full_height > 0:
        return spec.full_width, spec.full_height
    return spec.width, spec.height


def _data_window(spec) -> tuple[int, int, int, int] | None:
    """``(x, y, width, height)`` of the stored pixels from the display window's corner, or None
    where they are the display window."""
    width, height = _display_size(spec)
    window = (spec.x - spec.full_x, spec.y - spec.full_y, spec.width, spec.height)
    return None if window == (0, 0, width, height) else window


def _in_display_window(pixels: np.ndarray, spec) -> np.ndarray:
    """``pixels`` (the data window, ``(h, w, C)``) placed in the display window: zero where nothing
    is stored, the data window's part outside the display window left out."""
    window = _data_window(spec)
    if window is None:
        return pixels
    x, y = window[0], window[1]
    width, height = _display_size(spec)
    frame = np.zeros((height, width, pixels.shape[2]), np.float32)
    rows = slice(max(y, 0), min(y + pixels.shape[0], height))
    cols = slice(max(x, 0), min(x + pixels.shape[1], width))
    if rows.start < rows.stop and cols.start < cols.stop:
        frame[rows, cols] = pixels[rows.start - y : rows.stop - y, cols.start - x : cols.stop - x]
    return frame


def read_pixels(path: Path) -> np.ndarray:
    """The channels of ``path`` that are read (R, G, B and A: ``READ_CHANNELS``) as float32
    ``(H, W, C)``; integer data scaled to 0..1.

    The frame is the file's display window: where the stored pixels (its data window) are only
    a part of it, as in a Nuke EXR whose bounding box is a roto shape's, the rest is zero; where
    they reach beyond it (overscan), that part is left out.

    Raises on unreadable or truncated files and on NaN/Inf pixels: a NaN would
    spread through every filter and blend downstream. The header's size is checked
    against the pixel limit before any pixel is decoded.
    """
    with readable(path) as name:
        # Through an ImageInput, not an ImageBuf: its read lets other threads run meanwhile (an
        # ImageBuf's held the interpreter for most of a frame), and no second copy is made.
        image = _open(name)
        if image is None:
            raise UnreadableFrameError(
                f"{path}: cannot read pixels ({error_text(oiio.geterror) or 'unknown format'}); "
                f"the file may be truncated or corrupt: re-render or re-copy it"
            )
        try:
            spec = image.spec()
            _refuse_deep(spec, path)
            check_pixels(spec.width, spec.height, str(path))
            check_pixels(*_display_size(spec), str(path))
            read = _channels_read(tuple(spec.channelnames))
            pixels = image.read_image(0, 0, 0, min(spec.nchannels, READ_CHANNELS), oiio.FLOAT)
            if pixels is not None and len(read) > READ_CHANNELS:
                alpha = image.read_image(0, 0, read[-1], read[-1] + 1, oiio.FLOAT)
                pixels = None if alpha is None else np.concatenate([_as_planes(pixels), _as_planes(alpha)], 2)
            if pixels is None or pixels.size == 0:
                message = error_text(image.geterror) or "no pixel data"
                raise UnreadableFrameError(
                    f"{path}: cannot read pixels ({message}); the file may be truncated or corrupt: "
                    f"re-render or re-copy it"
                )
        finally:
            image.close()
    pixels = np.asarray(pixels, dtype=np.float32)
    if pixels.ndim == 2:
        pixels = pixels[:, :, None]
    pixels = _in_display_window(pixels, spec)
    if not np.isfinite(pixels).all():
        bad = int((~np.isfinite(pixels)).any(axis=-1).sum())
        raise InvalidPixelsError(
            f"{path}: {bad} pixels are NaN or infinite; fix them upstream "
            f"(e.g. a Nuke Expression node or oiiotool --fixnan box3)"
        )
    return pixels


def write_image(
    path: Path,
    pixels: np.ndarray,
    *,
    channels: tuple[str, ...] = ("R", "G", "B"),
    pixel_type: str = "half",
    compression: str = "zip",
    attributes: dict | None = None,
) -> None:
    """Write ``pixels`` (float32 ``(H, W, C)``) to ``path`` atomically.

    The file is written under a temporary name in the same folder and renamed
    into place, so a reader (or a crash) never sees half a frame. Integer formats
    (PNG, TIFF 8/16-bit) clip to 0..1 as their encoding demands; EXR keeps every
    value, including those above 1.0 and below 0.0.
    """
    path = Path(path)
    spec, data, fileformat = _output_spec(
        path.suffix, str(path), pixels, channels, pixel_type, compression, attributes
    )
    if not path.parent.is_dir():
        raise OutputError(f"{path.parent}: output folder does not exist; create it first")
    temporary = temporary_path(path).name
    with OutputFolder(path.parent) as folder:
        try:
            failure = _write_pixels(folder.name_for_writer(temporary), spec, data, fileformat)
            if failure is not None:
                # OpenImageIO reports a failed write by its own words about the temporary file; say
                # what went wrong for the frame (a full disk is the usual cause) and name that.
                detail = failure.replace(folder.name_for_writer(temporary), path.name)
                if _disk_is_full(path.parent):
                    raise DiskFullError(f"{path}: write failed (the disk is full): {detail}; {_WRITE_FIX}")
                raise OutputError(f"{path}: write failed: {detail}; {_WRITE_FIX}")
            folder.replace(temporary, path.name)
        except OSError as error:
            failed = DiskFullError if error.errno == errno.ENOSPC else OutputError
            raise failed(f"{path}: cannot write ({_reason(error)}); {_WRITE_FIX}") from error
        finally:
            folder.remove(temporary)


def encode_image(
    extension: str,
    pixels: np.ndarray,
    *,
    channels: tuple[str, ...] = ("R", "G", "B"),
    pixel_type: str = "half",
    compression: str = "zip",
    attributes: dict | None = None,
) -> bytes:
    """The bytes :func:`write_image` would write to a file ending in ``extension``, made in memory."""
    label = f"a {extension.lstrip('.')} image"
    spec, data, fileformat = _output_spec(
        extension, label, pixels, channels, pixel_type, compression, attributes
    )
    with memory_file(suffix=extension) as name:
        failure = _write_pixels(str(name), spec, data, fileformat)
        if failure is not None:
            raise OutputError(f"cannot encode {label}: {failure}")
        return read_back(name)


def decode_header(data: bytes, extension: str, label: str) -> ImageHeader:
    """The header of an image file's bytes (:func:`read_header`), without decoding its pixels."""
    with memory_file(data, suffix=extension) as name, unconfined():
        try:
            return read_header(name)
        except MovingColorError as error:
            error.args = (str(error).replace(str(name), label),)
            raise


def decode_image(
    data: bytes,
    extension: str,
    label: str,
    before_pixels: Callable[[ImageHeader], None] | None = None,
) -> tuple[ImageHeader, np.ndarray]:
    """The header and pixels of an image file's bytes, read in memory by :func:`read_header` and
    :func:`read_pixels` (the same checks as for a file; errors name the image by ``label``).

    ``before_pixels(header)`` runs between the two and may raise to refuse the image before any
    pixel is decoded.
    """
    with memory_file(data, suffix=extension) as name, unconfined():
        try:
            header = read_header(name)
            if before_pixels is not None:
                before_pixels(header)
            return header, read_pixels(name)
        except MovingColorError as error:
            error.args = (str(error).replace(str(name), label),)
            raise


def _output_spec(
    extension: str,
    label: str,
    pixels: np.ndarray,
    channels: tuple[str, ...],
    pixel_type: str,
    compression: str,
    attributes: dict | None,
) -> tuple[oiio.ImageSpec, np.ndarray, str]:
    """The file's spec for writing ``pixels`` as ``extension`` (its sample type, channels and
    attributes), the samples to hand the writer (float32 for EXR unless given the file's own
    samples, integer codes for PNG and TIFF), and the writer's format name."""
    ext = extension.lower()
    if ext not in WRITABLE_FORMATS:
        raise OutputError(
            f"{label}: cannot write {ext or 'files without an extension'}; "
            f"use one of {', '.join(WRITABLE_FORMATS)}"
        )
    height, width, nchannels = pixels.shape
    if ext == ".exr":
        if pixel_type not in EXR_PIXEL_TYPES:
            raise OutputError(f"EXR pixel type {pixel_type!r} unknown: use half or float")
        if compression not in EXR_COMPRESSIONS:
            raise OutputError(
                f"EXR compression {compression!r} unknown: use one of {', '.join(EXR_COMPRESSIONS)}"
            )
    sample_type = _sample_type(ext, pixel_type)
    spec = oiio.ImageSpec(width, height, nchannels, _OIIO_TYPES[sample_type])
    spec.channelnames = channels
    if ext == ".exr":
        spec.attribute("compression", compression)
    for key, value in (attributes or {}).items():
        if key in HEADER_FACTS:
            continue
        if ext == ".png" and isinstance(value, TypedAttribute) and _png_keeps_as_text(key, value):
            # OpenImageIO's PNG writer keeps text alone, and dropped the rest without a word: a plate's
            # timecode and rate were lost. Written as OpenImageIO gives them as text.
            spec.attribute(key, _as_text(value))
        elif isinstance(value, TypedAttribute):
            if value.type in _SCALARS_SET_AS:
                # OpenImageIO's Python binding sets no attribute of these types (silently): a
                # studio's double-typed attribute was lost. Set as the nearest type it sets.
                spec.attribute(key, _SCALARS_SET_AS[value.type](value.value))
            else:
                spec.attribute(key, oiio.TypeDesc(value.type), value.value)
        elif ext == ".png" and isinstance(value, int | float):
            # A PNG keeps text alone: a number (the frame's) is kept as its text, or it is lost.
            spec.attribute(key, str(value))
        else:
            spec.attribute(key, value)
    if ext == ".exr" and pixels.dtype != sample_type:
        # Given float32, OpenImageIO converts to half as it encodes, a few rows at a time: no
        # second full-frame buffer. A 4K frame's half samples are 53 MB, and making them first cost
        # a caller that writes where it computes 3-4% more (a writer thread is spared it).
        data = np.ascontiguousarray(pixels, dtype=np.float32)
    else:
        data = file_samples(pixels, ext, pixel_type)
    return spec, data, WRITABLE_FORMATS[ext]


#: Typed attributes a PNG records in chunks of its own (pixel aspect in its pHYs), and chromaticities,
#: which say the colours of the output's colourspace where its sRGB or cICP chunk does: not as text.
_PNG_TYPED = frozenset({"PixelAspectRatio", CHROMATICITIES})


def _png_keeps_as_text(key: str, value: TypedAttribute) -> bool:
    return value.type != "string" and key not in _PNG_TYPED


#: The drop-frame flag of an SMPTE timecode (its frames' byte, bit 6), which OpenImageIO's text leaves out.
_DROP_FRAME = 1 << 6


def _as_text(value: TypedAttribute) -> str:
    """``value`` as OpenImageIO writes it as text (a timecode ``HH:MM:SS:FF``, a rational ``24000/1001``,
    arrays' values between commas); a drop-frame timecode with its ``;``."""
    spec = oiio.ImageSpec()
    if value.type in _SCALARS_SET_AS:
        spec.attribute("value", _SCALARS_SET_AS[value.type](value.value))
    else:
        spec.attribute("value", oiio.TypeDesc(value.type), value.value)
    text = spec.get_string_attribute("value")
    if value.type == "timecode" and isinstance(value.value, tuple | list) and value.value[0] & _DROP_FRAME:
        text = text[:-3] + ";" + text[-2:]
    return text


def _sample_type(ext: str, pixel_type: str) -> type | None:
    """The samples a file ending in ``ext`` stores (``pixel_type``: ``--exr-type`` for an EXR)."""
    return EXR_PIXEL_TYPES.get(pixel_type, np.float32) if ext == ".exr" else INTEGER_SAMPLES.get(ext)


def file_samples(pixels: np.ndarray, extension: str, pixel_type: str = "half") -> np.ndarray:
    """``pixels`` (float32 ``(H, W, C)``) as the samples a file ending in ``extension`` stores:
    half floats for a half EXR, float32 for a float EXR, integer codes for PNG (8-bit) and TIFF
    (16-bit). Samples already of that type are taken as they are.

    A caller that writes on another thread makes them first, so the writer only encodes (a 1080p
    half EXR: 0.07 s to write from half samples, 0.09 from float32, on the thread a shot's frames
    queue for); :func:`write_image` takes them as they are. numpy rounds float to half exactly as
    OpenEXR does, to nearest even, beyond half's range to infinity."""
    ext = extension.lower()
    wanted = _sample_type(ext, pixel_type)
    if wanted is None:
        formats = ", ".join(WRITABLE_FORMATS)
        raise OutputError(f"cannot write {ext or 'files without an extension'}; use one of {formats}")
    if pixels.dtype == wanted:
        return np.ascontiguousarray(pixels)
    data = np.ascontiguousarray(pixels, dtype=np.float32)
    if ext == ".exr":
        with np.errstate(over="ignore"):  # past half's range is infinity, as OpenEXR writes it
            return data.astype(wanted)
    # Integer codes rounded here, to nearest: OpenImageIO's own conversion differs by a code
    # between its paths (and could between CPUs' vector units).
    return np.rint(np.clip(data, 0.0, 1.0) * np.float32(np.iinfo(wanted).max)).astype(wanted)


def _write_pixels(name: str, spec: oiio.ImageSpec, data: np.ndarray, fileformat: str) -> str | None:
    """Write ``data`` to the file ``name`` as ``spec`` says; OpenImageIO's error text on failure.

    Straight from the array through an ImageOutput (an ImageBuf cost a quarter of a 1080p EXR
    write)."""
    output = oiio.ImageOutput.create(fileformat)
    if output is None:
        return error_text(oiio.geterror) or f"no {fileformat} writer"
    try:
        written = output.open(name, spec) and output.write_image(data)
        failure = None if written else error_text(output.geterror) or "the writer gave no reason"
    finally:
        # Closing finishes the file (an EXR's chunk offsets): a failure there is a failed write too.
        closed = output.close()
    # OpenImageIO's PNG writer says a write that ran out of room in its error text alone, with every
    # call answering success: a frame cut short was counted written. (Its TIFF writer leaves an error
    # there for a whole file too, of the Exif block it could not add: taken at its word.)
    if failure is None and (not closed or (fileformat == "png" and output.has_error)):
        failure = error_text(output.geterror) or "the file could not be finished"
    if failure is not None and "\n" in failure:
        # A writer that goes on past a failed write says so for every block it could not write.
        lines = failure.splitlines()
        failure = f"{lines[0].strip()} (and {len(lines) - 1} more such errors)"
    return failure


_WRITE_FIX = "check the output folder is writable and its disk has room, then run again"


def _disk_is_full(folder: Path) -> bool:
    try:
        stats = os.statvfs(folder)
    except OSError:
        return False
    # Less than a small frame's worth left for this user: the write most likely ran out of room.
    # A file system of no blocks (/proc, /sys) has no room to run out of: that is not the cause.
    return stats.f_blocks > 0 and stats.f_bavail * stats.f_frsize < 1 << 20


def _reason(error: OSError) -> str:
    if error.errno == errno.ENOSPC:
        return "the disk is full"
    return error.strerror or str(error)
