"""Hypothesis strategies for the fuzz suite: Fusion service messages and ``movingcolor fuse`` arguments.

Most of what is drawn starts from something the server or the command line accepts and gets a few
things wrong: pure noise is refused at the first check and never reaches the decoders, the planner or
the engines. Bytes and images are drawn as small specifications (:class:`Blob`, :class:`WireImage`,
:class:`SetupSpec`) rather than as the bytes themselves, so that a failing example prints in a few
lines and can be replayed by hand.

Paths are drawn as templates: ``{shot}`` (a valid tiny shot on disk), ``{junk}`` (files the example
writes itself), ``{out}`` (the example's output folder) and ``{root}`` (the server's root folder) are
filled in by the tests.
"""

from __future__ import annotations

import functools
import random
import tempfile
from dataclasses import MISSING, dataclass, field, fields
from pathlib import Path

import numpy as np
from hypothesis import strategies as st
from movingcolor.frames.image_io import EXR_COMPRESSIONS, write_image
from movingcolor.protocol.digest import image_sha256
from movingcolor.protocol.images import FILE_FORMATS, raw_image
from movingcolor.synthetic import generate_shot
from movingcolor.v1 import fusion_pb2
from movingcolor.v1 import image_pb2 as pb

WIDTH, HEIGHT = 32, 24
FIRST = 1001
INT64 = st.integers(-(2**63), 2**63 - 1)
UINT32 = st.integers(0, 2**32 - 1)
UINT64 = st.integers(0, 2**64 - 1)

# -- sample bytes: valid images and grade files, made once per process ----------------------------------

CUBE = "LUT_3D_SIZE 2\n" + "".join(
    f"{r * 0.9:.3f} {g * 1.1:.3f} {b:.3f}\n" for b in (0, 1) for g in (0, 1) for r in (0, 1)
)
CC = (
    '<ColorCorrection id="shot">\n  <SOPNode><Slope>1.1 1.0 0.9</Slope><Offset>0.01 0 0</Offset>'
    "<Power>1 1 1</Power></SOPNode>\n  <SatNode><Saturation>1.1</Saturation></SatNode>\n</ColorCorrection>\n"
)
CCC = f'<ColorCorrectionCollection xmlns="urn:ASC:CDL:v1.01">\n{CC}</ColorCorrectionCollection>\n'
CDL = (
    '<ColorDecisionList xmlns="urn:ASC:CDL:v1.01">\n<ColorDecision>\n'
    f"{CC}</ColorDecision>\n</ColorDecisionList>\n"
)


def _pretty(self, printer, cycle) -> None:
    """Hypothesis prints falsifying examples with this: the short repr, not every field."""
    printer.text(repr(self))


def _short_repr(self) -> str:
    """Only the fields that differ from their defaults: failing examples print short."""
    shown = []
    for item in fields(self):
        value = getattr(self, item.name)
        required = item.default is MISSING and item.default_factory is MISSING
        default = item.default if item.default_factory is MISSING else item.default_factory()
        if required or value != default:
            shown.append(f"{item.name}={value!r}")
    return f"{type(self).__name__}({', '.join(shown)})"


@dataclass(frozen=True)
class Sample:
    """Valid bytes, and the ``ImageInfo`` they travel with when they are an image."""

    data: bytes
    encoding: int = pb.ENCODING_UNSPECIFIED
    format: str = ""
    width: int = 0
    height: int = 0
    channels: tuple[str, ...] = ()
    sample_type: int = pb.SAMPLE_TYPE_UNSPECIFIED
    colorspace: str = ""

    def info(self) -> pb.ImageInfo:
        return pb.ImageInfo(
            encoding=self.encoding,
            format=self.format,
            width=self.width,
            height=self.height,
            channels=list(self.channels),
            sample_type=self.sample_type,
            colorspace=self.colorspace,
            byte_size=len(self.data),
        )


def _file_sample(folder: Path, name: str, pixels: np.ndarray, channels, **options) -> Sample:
    path = folder / name
    write_image(path, pixels, channels=channels, **options)
    return Sample(path.read_bytes(), pb.ENCODING_FILE, path.suffix.lstrip("."))


def _oiio_sample(folder: Path, name: str, pixels: np.ndarray, channels, pixel_type=None, **layout) -> Sample:
    """A file as only OpenImageIO writes it: a data window apart from the display window (``window``:
    x, y, full width, full height), tiles (``tile``), several parts (``parts``), integer samples."""
    import OpenImageIO as oiio

    path = folder / name
    height, width, count = pixels.shape
    spec = oiio.ImageSpec(width, height, count, pixel_type or oiio.HALF)
    spec.channelnames = channels
    if "window" in layout:
        spec.x, spec.y, spec.full_width, spec.full_height = layout["window"]
        spec.full_x = spec.full_y = 0
    if "tile" in layout:
        spec.tile_width = spec.tile_height = layout["tile"]
    parts = layout.get("parts", 1)
    output = oiio.ImageOutput.create(str(path))
    output.open(str(path), [spec] * parts) if parts > 1 else output.open(str(path), spec)
    for index in range(parts):
        if index:
            output.open(str(path), spec, "AppendSubimage")
        output.write_image(pixels)
    output.close()
    return Sample(path.read_bytes(), pb.ENCODING_FILE, path.suffix.lstrip("."))


def _video_sample(folder: Path, frames: list[np.ndarray]) -> Sample | None:
    """The frames as an MPEG-4 video; None on the light install (no PyAV)."""
    try:
        import av
    except ImportError:
        return None
    path = folder / "clip.mp4"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("mpeg4", rate=24)
        stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        for pixels in frames:
            rgb = (np.clip(pixels, 0, 1) * 255).astype(np.uint8)
            container.mux(stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")))
        container.mux(stream.encode())
    return Sample(path.read_bytes())


def _raw_sample(pixels: np.ndarray, channels, sample_type=pb.SAMPLE_TYPE_FLOAT, colorspace="") -> Sample:
    info, data = raw_image(pixels, channels, sample_type, colorspace)
    return Sample(
        data, pb.ENCODING_RAW, "", info.width, info.height, tuple(channels), sample_type, colorspace
    )


@functools.cache
def samples() -> dict[str, Sample]:
    """Every sample by name: images of the tiny shot's first frame in each encoding, and grade files."""
    shot = generate_shot(width=WIDTH, height=HEIGHT, frames=1, seed=5)
    plate = shot.plate[0].astype(np.float32)
    matte = shot.matte[0].astype(np.float32)[..., None]
    rgba = np.concatenate([plate, matte], axis=-1)
    wild = plate.copy()
    wild[0, 0] = (1e30, -1e30, 7e4)  # above half's range: infinite once stored as half
    nan = plate.copy()
    nan[3, 4, 1] = np.nan
    found: dict[str, Sample] = {}
    with tempfile.TemporaryDirectory(prefix="movingcolor-fuzz-") as tmp:
        folder = Path(tmp)
        found["plate.exr"] = _file_sample(folder, "plate.exr", plate, ("R", "G", "B"))
        found["plate-float.exr"] = _file_sample(folder, "pf.exr", plate, ("R", "G", "B"), pixel_type="float")
        found["plate-rgba.exr"] = _file_sample(folder, "rgba.exr", rgba, ("R", "G", "B", "A"))
        found["plate.png"] = _file_sample(folder, "plate.png", np.clip(plate, 0, 1), ("R", "G", "B"))
        found["plate.tif"] = _file_sample(folder, "plate.tif", np.clip(plate, 0, 1), ("R", "G", "B"))
        found["matte.png"] = _file_sample(folder, "matte.png", matte, ("Y",))
        found["matte.exr"] = _file_sample(folder, "matte.exr", matte, ("A",))
        found["small.exr"] = _file_sample(folder, "small.exr", plate[:12, :16], ("R", "G", "B"))
        found["pixel.png"] = _file_sample(folder, "pixel.png", np.ones((1, 1, 1), np.float32), ("Y",))
        rgb = ("R", "G", "B")
        found["window.exr"] = _oiio_sample(folder, "window.exr", plate[:20, :24], rgb, window=(4, 2, 32, 24))
        found["overscan.exr"] = _oiio_sample(folder, "over.exr", plate, rgb, window=(-4, -2, 24, 20))
        found["tiled.exr"] = _oiio_sample(folder, "tiled.exr", plate, rgb, tile=16)
        found["parts.exr"] = _oiio_sample(folder, "parts.exr", plate, rgb, parts=2)
        found["two.exr"] = _oiio_sample(folder, "two.exr", plate[..., :2], ("R", "G"))
        found["plate16.png"] = _oiio_sample(folder, "p16.png", np.clip(plate, 0, 1), rgb, "uint16")
        found["plate32.tif"] = _oiio_sample(folder, "p32.tif", np.clip(plate, 0, 1), rgb, "uint32")
        video = _video_sample(folder, [shot.plate[0]] * 3)
        if video is not None:
            found["clip.mp4"] = video
    found["plate.raw"] = _raw_sample(plate, ("R", "G", "B"), colorspace="ACEScg")
    found["plate-half.raw"] = _raw_sample(plate, ("R", "G", "B"), pb.SAMPLE_TYPE_HALF)
    found["plate-rgba.raw"] = _raw_sample(rgba, ("R", "G", "B", "A"))
    found["plate-wild.raw"] = _raw_sample(wild, ("R", "G", "B"))
    with np.errstate(over="ignore"):  # on purpose: values that half cannot hold
        found["plate-wild-half.raw"] = _raw_sample(wild, ("R", "G", "B"), pb.SAMPLE_TYPE_HALF)
    found["plate-nan.raw"] = _raw_sample(nan, ("R", "G", "B"))
    found["matte.raw"] = _raw_sample(matte, ("Y",))
    found["matte-alpha.raw"] = _raw_sample(matte, ("A",), pb.SAMPLE_TYPE_HALF)
    found["small.raw"] = _raw_sample(plate[:12, :16], ("R", "G", "B"))
    for name, text in (("grade.cube", CUBE), ("grade.cc", CC), ("grade.ccc", CCC), ("grade.cdl", CDL)):
        found[name] = Sample(text.encode())
    return found


PLATE_SAMPLES = ("plate.exr", "plate-float.exr", "plate-rgba.exr", "plate.png", "plate.tif", "plate.raw")
ODD_PLATE_SAMPLES = (
    "plate-half.raw",
    "plate-rgba.raw",
    "plate-wild.raw",
    "plate-wild-half.raw",
    "plate-nan.raw",
    "small.exr",
    "small.raw",
    "pixel.png",
    "matte.png",
    "matte.raw",
    "window.exr",
    "overscan.exr",
    "tiled.exr",
    "parts.exr",
    "two.exr",
    "plate16.png",
    "plate32.tif",
)
ALPHA_PLATE_SAMPLES = ("plate-rgba.exr", "plate-rgba.raw")
MATTE_SAMPLES = ("matte.png", "matte.exr", "matte.raw", "matte-alpha.raw")
GRADE_SAMPLES = ("grade.cube", "grade.cc", "grade.ccc", "grade.cdl")
IMAGE_SAMPLES = PLATE_SAMPLES + ODD_PLATE_SAMPLES + MATTE_SAMPLES


@dataclass(frozen=True, repr=False)
class Blob:
    """Bytes by recipe: a sample's (or ``seed``'s random bytes, for ``source="random"``), cut short
    at ``cut`` and with bytes xor-ed at offsets (taken modulo the length)."""

    source: str
    seed: int = 0
    size: int = 0
    cut: int | None = None
    flips: tuple[tuple[int, int], ...] = ()

    def data(self) -> bytes:
        if self.source == "random":
            data = bytearray(random.Random(self.seed).randbytes(self.size))
        else:
            data = bytearray(samples()[self.source].data)
        if self.cut is not None:
            del data[self.cut :]
        for offset, xor in self.flips:
            if data:
                data[offset % len(data)] ^= xor
        return bytes(data)

    def base_info(self) -> pb.ImageInfo:
        """The info the bytes travel with when they are intact: the sample's."""
        sample = samples().get(self.source)
        return sample.info() if sample is not None else pb.ImageInfo()

    __repr__ = _short_repr
    _repr_pretty_ = _pretty


MATTE_KINDS = ("disc", "disc", "empty", "full", "noise", "soft", "line")


@dataclass(frozen=True, repr=False)
class TinyImage:
    """An image of a generated shot of any size down to 1x1: the plate (scene-linear, some values
    above 1 and below 0), its matte (a disc, nothing, everything, noise, soft noise, one line), or
    the plate with the matte as its alpha. Raw float samples on the wire, or a file (``format``)."""

    width: int
    height: int
    matte: str
    seed: int
    what: str = "plate"  # plate, rgba or matte
    format: str = ""  # "" for raw samples, else exr or png

    def pixels(self) -> tuple[np.ndarray, tuple[str, ...]]:
        rng = np.random.default_rng(self.seed)
        plate = (rng.random((self.height, self.width, 3), dtype=np.float32) * 1.4 - 0.1).astype(np.float32)
        yy, xx = np.mgrid[: self.height, : self.width]
        if self.matte == "disc":
            cy, cx = rng.random(2) * (self.height, self.width)
            radius = max(1.0, min(self.width, self.height) * rng.uniform(0.2, 0.6))
            matte = ((yy - cy) ** 2 + (xx - cx) ** 2 < radius**2).astype(np.float32)
        elif self.matte in ("empty", "full"):
            matte = np.full((self.height, self.width), float(self.matte == "full"), np.float32)
        elif self.matte == "noise":
            matte = (rng.random((self.height, self.width)) > 0.5).astype(np.float32)
        elif self.matte == "soft":
            matte = rng.random((self.height, self.width), dtype=np.float32)
        else:
            matte = (xx == self.width // 2).astype(np.float32)
        if self.what == "matte":
            return matte[..., None], ("Y",)
        if self.what == "rgba":
            return np.concatenate([plate, matte[..., None]], axis=-1), ("R", "G", "B", "A")
        return plate, ("R", "G", "B")

    def data(self) -> bytes:
        pixels, channels = self.pixels()
        if not self.format:
            return raw_image(pixels, channels)[1]
        with tempfile.TemporaryDirectory(prefix="movingcolor-fuzz-") as tmp:
            path = Path(tmp) / f"image.{self.format}"
            write_image(path, np.clip(pixels, 0, 1) if self.format == "png" else pixels, channels=channels)
            return path.read_bytes()

    def base_info(self) -> pb.ImageInfo:
        if self.format:
            return pb.ImageInfo(encoding=pb.ENCODING_FILE, format=self.format)
        pixels, channels = self.pixels()
        return raw_image(pixels, channels)[0]

    __repr__ = _short_repr
    _repr_pretty_ = _pretty


@st.composite
def tiny_shots(draw) -> dict:
    """How a generated shot is made: size (down to 1x1), matte kind, seed, file format."""
    return {
        "width": draw(st.integers(1, 40)),
        "height": draw(st.integers(1, 40)),
        "matte": draw(st.sampled_from(MATTE_KINDS)),
        "seed": draw(st.integers(0, 2**16)),
        "format": draw(st.sampled_from(["", "", "exr", "png"])),
    }


def blobs(sources: tuple[str, ...]) -> st.SearchStrategy[Blob]:
    """Mostly intact samples; some cut short, some with flipped bytes, some random."""
    intact = st.builds(Blob, st.sampled_from(sources))
    flipped = st.builds(
        Blob,
        st.sampled_from(sources),
        flips=st.lists(st.tuples(st.integers(0, 2**20), st.integers(1, 255)), min_size=1, max_size=6).map(
            tuple
        ),
    )
    cut = st.builds(Blob, st.sampled_from(sources), cut=st.integers(0, 4096))
    noise = st.builds(Blob, st.just("random"), seed=st.integers(0, 2**32), size=st.integers(0, 600))
    return st.one_of(intact, intact, flipped, cut, noise)


# -- text --------------------------------------------------------------------------------------------------

NUMBERS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(-(10**30), 10**30).map(str),
    st.sampled_from(
        ["1", "0", "-0", "1e308", "1e309", "-1e400", "nan", "inf", "-inf", "1_000", "0x10", "", " "]
    ),
)
GRADE_KEYS = st.sampled_from(
    [
        "slope",
        "offset",
        "power",
        "sat",
        "exposure",
        "warmth",
        "saturation",
        "contrast",
        "brightness",
        "gamma",
        "hue",
        "vibrance",
        "SLOPE",
        " sat ",
        "tint",
        "",
    ]
)


@st.composite
def grade_texts(draw) -> str:
    """CDL and parametric grades with any numbers, odd keys and separators; looks; noise."""
    kind = draw(st.sampled_from(["keys", "keys", "keys", "look", "text"]))
    if kind == "look":
        return draw(
            st.sampled_from(["look:ACES 1.3 Reference Gamut Compression", "look:", "look:nope", "nope"])
        )
    if kind == "text":
        return draw(st.text(max_size=40))
    parts = []
    for key in draw(st.lists(GRADE_KEYS, min_size=1, max_size=5)):
        values = draw(st.lists(NUMBERS, min_size=0, max_size=4))
        parts.append(f"{key}={','.join(values)}" if draw(st.integers(0, 9)) else key)
    return draw(st.sampled_from([";", "; ", ",", ";;"])).join(parts)


def texts(*common: str, size: int = 30) -> st.SearchStrategy[str]:
    """One of ``common`` mostly, else any text."""
    return st.one_of(st.sampled_from(common), st.sampled_from(common), st.text(max_size=size))


ENGINES = texts("", "hard", "hard", "feather", "guided", "guided", "movingcolor", "HARD", "guided ")
MODELS = st.one_of(
    st.just(""), st.just(""), texts("tiny-random", "default", "nope", "../default", "/tmp", ".")
)
DEVICES = st.one_of(st.just(""), texts("auto", "cpu", "cuda", "cuda:0", "cuda:7", "mps", "cpu:1", "CPU"))
BANDS = st.one_of(
    texts("", "12", "3", "0", "-4", "10%", "0%", "100%", "250%", "%", "1e9", "nan", "inf", "3.5", "12px"),
    NUMBERS,
    NUMBERS.map(lambda n: n + "%"),
)
CONFIGS = st.one_of(
    st.just(""),
    texts("ocio://default", "ocio://studio-config-latest", "ocio://nope", "ocio://", "/etc/ocio.ocio"),
)
COLORSPACES = st.one_of(
    st.just(""),
    st.just(""),
    texts(
        "ACEScg",
        "ACES2065-1",
        "ACEScct",
        "sRGB Encoded Rec.709 (sRGB)",
        "Linear Rec.709 (sRGB)",
        "Raw",
        "sRGB - Display",
        "scene_linear",
        "nope",
    ),
)


# -- the wire ----------------------------------------------------------------------------------------------


@dataclass(repr=False)
class SetupSpec:
    """A ``ShotSetup``: its plain fields, and the grade file's bytes as a recipe."""

    fields: dict
    grade_file: Blob | None = None

    def __repr__(self) -> str:
        # Empty strings are unset fields in proto3, so they go unsaid; False in the oneof does not.
        shown = {name: value for name, value in self.fields.items() if value != "" and value != []}
        blob = f", grade_file={self.grade_file!r}" if self.grade_file is not None else ""
        return f"SetupSpec({shown!r}{blob})"

    _repr_pretty_ = _pretty

    def message(self) -> fusion_pb2.ShotSetup:
        fields = dict(self.fields)
        render = fields.pop("render", None)
        output = fields.pop("output", None)
        grade = fields.pop("grade", None)
        setup = fusion_pb2.ShotSetup(**fields)
        if render is not None:
            setup.render.CopyFrom(pb.FrameRange(first=render[0], last=render[1]))
        if output is not None:
            setup.output.CopyFrom(fusion_pb2.Output(**output))
        if grade is not None:
            setup.grade.CopyFrom(fusion_pb2.Grade(**grade))
            if self.grade_file is not None:
                setup.grade.file = self.grade_file.data()
        return setup

    @property
    def roles(self) -> tuple[int, ...]:
        """The roles each frame brings, as the setup asks for them."""
        roles = [pb.ROLE_PLATE]
        if self.fields.get("matte", 0) == fusion_pb2.MATTE_SOURCE_FRAMES:
            roles.append(pb.ROLE_MATTE)
        if self.fields.get("graded"):
            roles.append(pb.ROLE_GRADED)
        if self.fields.get("edited"):
            roles.append(pb.ROLE_EDITED)
        return tuple(roles)


def valid_clip(frames: int) -> list[int]:
    return list(range(FIRST, FIRST + frames))


CLIPS = st.one_of(
    st.integers(1, 4).map(valid_clip),
    st.integers(1, 4).map(valid_clip),
    st.integers(1, 4).map(valid_clip),
    st.lists(st.integers(FIRST - 3, FIRST + 6), max_size=6),  # unsorted, repeated, gaps
    st.lists(INT64, max_size=4),
    st.lists(INT64, max_size=3, unique=True).map(sorted),
    st.just([-(2**63), 2**63 - 1]),
)


@st.composite
def outputs(draw) -> dict | None:
    if draw(st.integers(0, 2)) == 0:
        return None
    return {
        "encoding": draw(st.sampled_from([0, 1, 1, 2, 2, 3, 2**31 - 1])),
        "format": draw(texts("", "exr", "png", "tif", "tiff", ".exr", "EXR", "jpg", "dpx", "gif")),
        "sample_type": draw(st.sampled_from([0, 1, 2, 3, -1])),
        "compression": draw(st.one_of(st.just(""), texts(*EXR_COMPRESSIONS, "lzma", "ZIP"))),
    }


VALID_GRADES = st.one_of(
    st.sampled_from(
        ["slope=1.2,1.0,0.9;offset=0.01;power=1.0;sat=1.1", "exposure=0.5;warmth=0.2", "sat=0.8"]
    ),
    st.tuples(st.floats(0.5, 2.0), st.floats(-0.05, 0.05), st.floats(0.5, 2.0)).map(
        lambda v: f"slope={v[0]:.3f};offset={v[1]:.3f};power={v[2]:.3f}"
    ),
)
GRADE_FILE_NAMES = {
    "grade.cube": "look.cube",
    "grade.cc": "shot.cc",
    "grade.ccc": "shot.ccc",
    "grade.cdl": "shot.cdl",
}
#: What a setup may get wrong; the fields not drawn wild are valid.
SETUP_FIELDS = (
    "clip", "render", "handles", "source", "matte", "engine", "model", "device", "band", "config",
    "colorspaces", "output",
)  # fmt: skip


@st.composite
def _source(draw, wild: bool) -> tuple[dict, Blob | None]:
    """The setup's ``source`` oneof: a grade (text or file), graded or edited frames; or none of them."""
    kinds = ["grade", "grade", "file", "graded", "edited"] + (["false", "none"] if wild else [])
    kind = draw(st.sampled_from(kinds))
    if kind == "grade":
        return {"grade": {"text": draw(grade_texts() if wild else VALID_GRADES)}}, None
    if kind == "file":
        if not wild:
            name = draw(st.sampled_from(GRADE_SAMPLES))
            cccid = "shot" if name == "grade.ccc" else ""
            return {"grade": {"file_name": GRADE_FILE_NAMES[name], "cccid": cccid}}, Blob(name)
        names = texts(
            "look.cube", "shot.cc", "shot.ccc", "shot.cdl", "shot.clf", "shot.3dl", "shot.spi3d", "noext",
            ".cube", "../../up.cube", "a/b.cube", "/etc/passwd", "", "x.exr", "x.py",
        )  # fmt: skip
        cccid = st.one_of(st.just(""), texts("shot", "0", "nope"))
        grade = {"file_name": draw(names), "cccid": draw(cccid)}
        return {"grade": grade}, draw(blobs(GRADE_SAMPLES + IMAGE_SAMPLES[:2]))
    if kind in ("graded", "edited"):
        return {kind: True}, None
    if kind == "false":
        return {draw(st.sampled_from(["graded", "edited"])): False}, None
    return {}, None


@st.composite
def setups(draw, window: bool = False, valid: bool = False) -> SetupSpec:
    """A ``ShotSetup`` with up to three fields drawn wild (huge, negative and inverted ranges, any
    text), or none when ``valid``."""
    wild = set() if valid else set(draw(st.lists(st.sampled_from(SETUP_FIELDS), max_size=3)))

    def pick(name: str, valid: st.SearchStrategy, odd: st.SearchStrategy):
        return draw(odd if name in wild else valid)

    fields: dict = {}
    if window:
        fields["clip"] = pick("clip", st.just([]), CLIPS)
        target = draw(st.integers(FIRST, FIRST + 3))
        fields["render"] = pick("render", st.just((target, target)), st.tuples(INT64, INT64))
    else:
        clip = pick("clip", st.integers(1, 4).map(valid_clip), CLIPS)
        fields["clip"] = clip
        within = st.lists(st.sampled_from(clip), min_size=2, max_size=2).map(sorted).map(tuple)
        ranges = st.one_of(
            st.tuples(INT64, INT64),
            st.just((-(2**63), 2**63 - 1)),
            st.tuples(
                st.integers(FIRST - 5, FIRST + 5), st.sampled_from([-1, 0, 1, 10**6, 10**12, 2**40])
            ).map(lambda r: (r[0], r[0] + r[1])),
        )
        render = pick("render", st.one_of(st.none(), within) if clip else st.none(), ranges)
        if render is not None:
            fields["render"] = render
    fields["handles"] = pick("handles", st.integers(0, 2), st.one_of(st.integers(0, 4), UINT32))
    source, grade_file = draw(_source("source" in wild))
    fields.update(source)
    fields["matte"] = pick("matte", st.sampled_from([0, 0, 1]), st.sampled_from([2, -5, 2**31 - 1]))
    valid_engines = st.sampled_from(["hard", "hard", "feather", "guided", "guided", "movingcolor", ""])
    fields["engine"] = pick("engine", valid_engines, ENGINES)
    fields["model"] = pick("model", st.sampled_from(["", "", "tiny-random"]), MODELS)
    if fields["model"] == "tiny-random" and "engine" not in wild:
        fields["engine"] = "movingcolor"
    fields["device"] = pick("device", st.sampled_from(["", "auto", "cpu"]), DEVICES)
    fields["band"] = pick("band", st.sampled_from(["", "12", "4", "10%"]), BANDS)
    fields["config"] = pick("config", st.sampled_from(["", "ocio://default"]), CONFIGS)
    for name in ("plate_colorspace", "graded_colorspace", "grade_colorspace", "out_colorspace"):
        fields[name] = pick("colorspaces", st.just(""), COLORSPACES)
    valid_outputs = st.sampled_from(
        [
            None,
            {"encoding": 1, "format": "exr", "sample_type": 1, "compression": "zip"},
            {"encoding": 1, "format": "png"},
            {"encoding": 1, "format": "tif", "sample_type": 2},
            {"encoding": 2, "sample_type": 2},
            {"encoding": 2, "sample_type": 1},
        ]
    )
    output = pick("output", valid_outputs, outputs())
    if output is not None:
        fields["output"] = output
    return SetupSpec(fields, grade_file)


@dataclass(repr=False)
class WireImage:
    """One image on the wire: a blob with its info (``info`` overrides the blob's own), cut into parts.

    ``cuts`` are split points (modulo the size); ``digest`` puts the bytes' SHA-256 in the info (or
    ``sha256`` says what to put there); ``cached`` sends a reference instead of the bytes. The later
    parts may carry another role or frame, or an info of their own: images interleaved.
    """

    role: int
    frame: int
    blob: Blob
    info: dict = field(default_factory=dict)
    cuts: tuple[int, ...] = ()
    drop_info: bool = False
    digest: bool = False
    cached: bool = False
    later_role: int | None = None
    later_frame: int | None = None
    info_on_later: bool = False

    __repr__ = _short_repr
    _repr_pretty_ = _pretty

    def parts(self) -> list[pb.ImagePart]:
        data = self.blob.data()
        info = self.blob.base_info()
        info.byte_size = len(data)
        if self.digest:
            info.sha256 = image_sha256(data)
        for name, value in self.info.items():
            if name == "channels":
                del info.channels[:]
                info.channels.extend(value)
            elif name == "attributes":
                info.attributes.update(value)
            else:
                setattr(info, name, value)
        if self.cached:
            info.cached = True
            return [pb.ImagePart(role=self.role, frame=self.frame, info=info)]
        points = sorted({cut % (len(data) + 1) for cut in self.cuts} - {0})
        chunks = [data[a:b] for a, b in zip([0, *points], [*points, len(data)], strict=True)]
        parts = []
        for index, chunk in enumerate(chunks):
            part = pb.ImagePart(role=self.role, frame=self.frame, data=chunk)
            if index == 0 and not self.drop_info:
                part.info.CopyFrom(info)
            elif index:
                if self.later_role is not None:
                    part.role = self.later_role
                if self.later_frame is not None:
                    part.frame = self.later_frame
                if self.info_on_later:
                    part.info.CopyFrom(info)
            parts.append(part)
        return parts


DIGEST_TEXT = st.one_of(
    st.sampled_from(["", "0" * 64, "f" * 64, "F" * 64, "0" * 63, "g" * 64, "0" * 65]),
    st.text("0123456789abcdef", min_size=64, max_size=64),
    st.text(max_size=70),
)


@st.composite
def info_overrides(draw) -> dict:
    """A few fields of ``ImageInfo`` set to anything: sizes, channels, types, byte counts."""
    overrides: dict = {}
    for name in draw(
        st.lists(
            st.sampled_from(
                [
                    "encoding",
                    "format",
                    "width",
                    "height",
                    "channels",
                    "sample_type",
                    "colorspace",
                    "byte_size",
                    "attributes",
                    "sha256",
                ]
            ),
            max_size=3,
            unique=True,
        )
    ):
        if name == "encoding":
            value = draw(st.sampled_from([0, 1, 2, 3, 2**31 - 1, -1]))
        elif name == "format":
            value = draw(texts(*FILE_FORMATS, "EXR", ".exr", "gif", "cube", ""))
        elif name in ("width", "height"):
            value = draw(st.one_of(st.sampled_from([0, 1, 12, 16, 24, 32, 48]), UINT32))
        elif name == "channels":
            value = draw(st.lists(texts("R", "G", "B", "A", "Y", "Z", ""), max_size=6))
        elif name == "sample_type":
            value = draw(st.sampled_from([0, 1, 2, 3, -1]))
        elif name == "colorspace":
            value = draw(COLORSPACES)
        elif name == "byte_size":
            value = draw(st.one_of(st.integers(0, 20000), st.just(2**64 - 1), st.just(2**20 + 1), UINT64))
        elif name == "attributes":
            value = draw(st.dictionaries(st.text(max_size=10), st.text(max_size=10), max_size=3))
        else:
            value = draw(DIGEST_TEXT)
        overrides[name] = value
    return overrides


ROLE_VALUES = st.sampled_from([0, 1, 2, 3, 4, 5, 6, -1, 2**31 - 1])


#: What may be wrong with an odd image.
ODD_IMAGE = (
    "bytes", "bytes", "info", "info", "drop_info", "later_role", "later_frame", "info_on_later", "role",
    "frame", "cached",
)  # fmt: skip


@st.composite
def wire_images(
    draw, role: int, frame: int, window: bool = False, odd: bool = False, alpha: bool = False
) -> WireImage:
    """The image ``role`` of ``frame``: a valid one for its role (a plate with an alpha channel when
    ``alpha``), or (``odd``) one with something wrong: its bytes, its info, how it is cut into parts,
    its role or frame."""
    if role == pb.ROLE_PLATE and alpha:
        sources = ALPHA_PLATE_SAMPLES
    elif role == pb.ROLE_MATTE:
        sources = MATTE_SAMPLES
    elif role in (pb.ROLE_PLATE, pb.ROLE_GRADED, pb.ROLE_EDITED):
        sources = PLATE_SAMPLES
    else:
        sources = IMAGE_SAMPLES
    image = WireImage(role, frame, draw(st.builds(Blob, st.sampled_from(sources))))
    if window:
        image.digest = draw(st.integers(0, 3)) > 0
        image.cached = image.digest and draw(st.integers(0, 4)) == 0
    if draw(st.booleans()):
        image.cuts = tuple(draw(st.lists(st.integers(0, 2**16), max_size=4)))
    if not odd:
        return image
    what = draw(st.sampled_from(ODD_IMAGE))
    if what == "bytes":
        image.blob = draw(blobs(IMAGE_SAMPLES))
    elif what == "info":
        image.info = draw(info_overrides())
    elif what == "drop_info":
        image.drop_info = True
    elif what == "later_role":
        image.later_role = draw(ROLE_VALUES)
    elif what == "later_frame":
        image.later_frame = draw(INT64)
    elif what == "info_on_later":
        image.info_on_later = True
    elif what == "role":
        image.role = draw(ROLE_VALUES)
    elif what == "frame":
        image.frame = draw(st.one_of(st.integers(FIRST - 3, FIRST + 6), INT64))
    else:
        image.digest, image.cached = draw(st.booleans()), True
        if draw(st.booleans()):
            image.info = {"sha256": draw(DIGEST_TEXT)}
    return image


#: Stream items besides images: the setup again, an empty request, a part with nothing in it.
EXTRAS = st.sampled_from(["setup", "blank", "empty-part"])


@dataclass(repr=False)
class Stream:
    """A FuseShot or FuseWindow request stream: the setup (unless ``no_setup``), then the items."""

    setup: SetupSpec
    items: list
    no_setup: bool = False

    def __repr__(self) -> str:
        items = "".join(f"\n    {item!r}," for item in self.items)
        return f"Stream(\n  setup={self.setup!r},\n  items=[{items}\n  ],\n  no_setup={self.no_setup})"

    _repr_pretty_ = _pretty

    def messages(self) -> list[fusion_pb2.FuseShotRequest]:
        setup = self.setup.message()
        messages = [] if self.no_setup else [fusion_pb2.FuseShotRequest(setup=setup)]
        for item in self.items:
            if item == "setup":
                messages.append(fusion_pb2.FuseShotRequest(setup=setup))
            elif item == "blank":
                messages.append(fusion_pb2.FuseShotRequest())
            elif item == "empty-part":
                messages.append(fusion_pb2.FuseShotRequest(part=pb.ImagePart()))
            else:
                messages.extend(fusion_pb2.FuseShotRequest(part=part) for part in item.parts())
        return messages


STRUCTURE = st.sampled_from(["as is"] * 6 + ["drop", "repeat", "shuffle", "extra", "no setup", "roles"])


@st.composite
def streams(draw, window: bool = False, valid: bool = False) -> Stream:
    """A setup, then each frame's images for the roles it asks for; up to two images with something
    wrong, and sometimes one thing wrong with the stream: an image missing or repeated, images out of
    order, a stray message, no setup, other roles. A ``valid`` stream has nothing wrong."""
    setup = draw(setups(window, valid))
    if window:
        target = setup.fields["render"][0]
        radius = draw(st.integers(0, 3))
        frames = [target + offset for offset in range(-radius, radius + 1) if abs(target + offset) < 2**62]
    else:
        clip = setup.fields["clip"]
        frames = sorted(set(clip))[:5] if len(clip) <= 6 else clip[:3]
    structure = "as is" if valid else draw(STRUCTURE)
    roles = setup.roles
    if structure == "roles":
        roles = tuple(draw(st.lists(ROLE_VALUES, min_size=1, max_size=3)))
    count = len(frames) * len(roles)
    alpha = setup.fields.get("matte") == fusion_pb2.MATTE_SOURCE_PLATE_ALPHA
    odd = set(draw(st.lists(st.integers(0, count - 1), max_size=2))) if count and not valid else set()
    items: list = [
        draw(wire_images(role, frame, window, index in odd, alpha))
        for index, (frame, role) in enumerate((f, r) for f in frames for r in roles)
    ]
    if draw(st.integers(0, 3)) == 0:  # every image from one generated shot of its own size
        tiny = draw(tiny_shots())
        for index, item in enumerate(items):
            if item.role in (pb.ROLE_PLATE, pb.ROLE_MATTE, pb.ROLE_GRADED, pb.ROLE_EDITED):
                what = "matte" if item.role == pb.ROLE_MATTE else "rgba" if alpha else "plate"
                seed = tiny["seed"] + index
                item.blob = TinyImage(
                    tiny["width"], tiny["height"], tiny["matte"], seed, what, tiny["format"]
                )
    if structure == "drop" and items:
        items.pop(draw(st.integers(0, len(items) - 1)))
    elif structure == "repeat" and items:
        items.insert(draw(st.integers(0, len(items))), items[draw(st.integers(0, len(items) - 1))])
    elif structure == "shuffle":
        items = list(draw(st.permutations(items)))
    elif structure == "extra":
        items.insert(draw(st.integers(0, len(items))), draw(EXTRAS))
    return Stream(setup, items, no_setup=structure == "no setup")


def find_requests() -> st.SearchStrategy[fusion_pb2.FindImagesRequest]:
    known = st.sampled_from(IMAGE_SAMPLES).map(lambda name: image_sha256(samples()[name].data))
    small = st.lists(st.one_of(known, DIGEST_TEXT), max_size=8)
    many = st.integers(1000, 1100).map(lambda n: [f"{i:064x}" for i in range(n)])
    return st.one_of(small, small, many).map(lambda digests: fusion_pb2.FindImagesRequest(sha256=digests))


def cancel_requests() -> st.SearchStrategy[fusion_pb2.CancelJobRequest]:
    ids = st.one_of(st.text("0123456789abcdef", min_size=12, max_size=12), st.text(max_size=40))
    return ids.map(lambda job_id: fusion_pb2.CancelJobRequest(job_id=job_id))


# -- paths, for RunJob and the command line -----------------------------------------------------------------

#: Frames of the tiny shot on disk; the shot's folders are made by the tests (``write_tiny_shot``).
SHOT_FRAMES = 3


def write_tiny_shot(folder: Path) -> None:
    """The shot the path templates name under ``{shot}``: EXR plates (RGB, RGBA and a smaller size),
    PNG mattes, and grade files."""
    shot = generate_shot(width=WIDTH, height=HEIGHT, frames=SHOT_FRAMES, seed=5)
    for name in ("plate", "rgba", "matte", "small", "graded"):
        (folder / name).mkdir(parents=True, exist_ok=True)
    for index in range(SHOT_FRAMES):
        number = FIRST + index
        plate = shot.plate[index].astype(np.float32)
        matte = shot.matte[index].astype(np.float32)[..., None]
        attributes = {"oiio:ColorSpace": "ACEScg"}
        write_image(folder / "plate" / f"plate.{number:04d}.exr", plate, attributes=attributes)
        write_image(
            folder / "rgba" / f"rgba.{number:04d}.exr",
            np.concatenate([plate, matte], axis=-1),
            channels=("R", "G", "B", "A"),
        )
        write_image(folder / "matte" / f"matte.{number:04d}.png", matte, channels=("Y",))
        write_image(folder / "small" / f"small.{number:04d}.exr", plate[:12, :16])
        write_image(folder / "graded" / f"graded.{number:04d}.exr", plate * 1.2, attributes=attributes)
    for name in (*GRADE_SAMPLES, "clip.mp4"):
        if name in samples():
            (folder / name).write_bytes(samples()[name].data)


SEQUENCES = [
    "{shot}/plate/plate.####.exr",
    "{shot}/plate/plate.%04d.exr",
    "{shot}/plate",
    "{shot}/plate/plate.1001.exr",
    "{shot}/rgba/rgba.####.exr",
    "{shot}/small/small.####.exr",
    "{shot}/graded/graded.####.exr",
    "{shot}/matte/matte.####.png",
    "{shot}/plate/plate.##.exr",
    "{shot}/plate/plate.####.png",
    "{shot}/missing.####.exr",
    "{shot}/missing",
    "{shot}",
    "{shot}/grade.cube",
    "{shot}/clip.mp4",
    "{junk}",
    "{junk}/a.exr",
    "{junk}/seq.####.exr",
    "{junk}/b.png",
    "{junk}/v.mp4",
    "{junk}/w.mov",
]
JUNK_NAMES = [
    "a.exr",
    "b.png",
    "c.cube",
    "d.cc",
    "e.ccc",
    "f.tif",
    "seq.1001.exr",
    "seq.1002.exr",
    "seq.1003.exr",
    "h.ocio",
    "i.clf",
    "j.cdl",
    "k.3dl",
    "l.dpx",
    "m.jpg",
    "v.mp4",
    "w.mov",
]


def junk_files() -> st.SearchStrategy[dict[str, Blob]]:
    """Files an example writes into ``{junk}``: samples broken a little, or noise, named as images, grades."""
    sources = IMAGE_SAMPLES + GRADE_SAMPLES + (("clip.mp4",) if "clip.mp4" in samples() else ())
    return st.dictionaries(st.sampled_from(JUNK_NAMES), blobs(sources), max_size=4)


@st.composite
def out_patterns(draw) -> str:
    """Output patterns: ``%0Nd`` with any N, any count of ``#``, odd extensions; folders; inputs' paths."""
    kind = draw(st.sampled_from(["printf", "hashes", "hashes", "folder", "plain", "input", "text"]))
    ext = draw(texts(".exr", ".exr", ".png", ".tif", ".tiff", ".EXR", ".jpg", ".dpx", "", ".exr.gz", "."))
    if kind == "printf":
        return "{out}/f.%0" + str(draw(st.one_of(st.integers(0, 20), st.integers()))) + "d" + ext
    if kind == "hashes":
        return (
            "{out}/" + draw(st.sampled_from(["f.", "", "a/b/f_", "f"])) + "#" * draw(st.integers(0, 20)) + ext
        )
    if kind == "folder":
        return draw(st.sampled_from(["{out}", "{out}/", "{out}/new/deeper"]))
    if kind == "plain":
        return "{out}/f" + ext
    if kind == "input":
        return draw(
            st.sampled_from(SEQUENCES + ["{shot}/plate/plate.####.exr/x.####.exr", "{junk}/a.exr/f.####.exr"])
        )
    return "{out}/" + draw(st.text(max_size=20))


#: Ranges far beyond any shot, at the ends of int64 and past them: counted, never walked.
HUGE_RANGES = st.one_of(
    st.tuples(st.integers(-(2**70), 2**70), st.integers(-(2**70), 2**70)).map(sorted),
    st.sampled_from([(-(2**63), 2**63 - 1), (0, 10**23), (1001, 2**63), (-(10**20), 10**20), (1, 10**12)]),
).map(lambda r: f"{r[0]}-{r[1]}")
FRAMES_TEXT = st.one_of(
    st.sampled_from(
        [
            "1001-1003",
            "1002",
            "1001-1001",
            "1003-1001",
            "1000-1004",
            "-5--1",
            "0",
            "abc",
            "",
            "1001-",
            "１００２",
        ]
    ),
    HUGE_RANGES,
    st.tuples(INT64, INT64).map(lambda r: f"{r[0]}-{r[1]}"),
    st.text(max_size=12),
)


VALID_INPUTS = [
    ("{shot}/plate/plate.####.exr", "{shot}/matte/matte.####.png"),
    ("{shot}/plate/plate.%04d.exr", "{shot}/matte"),
    ("{shot}/plate", "{shot}/matte/matte.%04d.png"),
    ("{shot}/rgba/rgba.####.exr", "alpha"),
    ("{shot}/plate/plate.1001.exr", "{shot}/matte/matte.1001.png"),
    ("{shot}/clip.mp4", "{shot}/clip.mp4"),
]
TINY_INPUTS = [
    ("{junk}/tiny/plate.####.exr", "{junk}/tiny/matte.####.png"),
    ("{junk}/tiny/plate.####.png", "{junk}/tiny/matte.####.png"),
    ("{junk}/tiny/rgba.####.exr", "alpha"),
]
VALID_GRADE_FILES = ["{shot}/grade.cube", "{shot}/grade.cc", "{shot}/grade.ccc#shot", "{shot}/grade.cdl"]
WILD_GRADE_FILES = [
    "{shot}/grade.ccc#nope", "{shot}/grade.ccc", "{shot}/missing.cube", "{shot}/plate",
    "{shot}/plate/plate.1001.exr",
] + ["{junk}/" + name for name in JUNK_NAMES]  # fmt: skip
#: What a shot's options may get wrong; those not drawn wild are valid.
SHOT_FIELDS = (
    "plate", "matte", "mode", "engine", "out", "frames", "handles", "band", "exr_type", "compression",
    "config", "colorspaces", "model", "max_pixels",
)  # fmt: skip


@st.composite
def shot_options(draw, tiny: bool = False) -> dict[str, str | None]:
    """``movingcolor fuse``'s options as ``{name: value}`` (None: left out): a valid shot with up to three
    options drawn wild. Two modes at once (grade and graded) or none are among the wild ones. With
    ``tiny``, the valid shot may be the generated one in ``{junk}/tiny``."""
    wild = set(draw(st.lists(st.sampled_from(SHOT_FIELDS), max_size=3)))

    def pick(name: str, valid: st.SearchStrategy, odd: st.SearchStrategy):
        return draw(odd if name in wild else valid)

    paths = st.one_of(st.sampled_from(SEQUENCES), st.none(), st.text(max_size=20))
    plate, matte = draw(st.sampled_from(VALID_INPUTS + TINY_INPUTS * 3 if tiny else VALID_INPUTS))
    options: dict[str, str | None] = {
        "plate": pick("plate", st.just(plate), paths),
        "matte": pick("matte", st.just(matte), st.one_of(st.just("alpha"), paths)),
    }
    valid_mode = st.one_of(
        st.tuples(st.just("grade"), st.one_of(VALID_GRADES, st.sampled_from(VALID_GRADE_FILES))),
        st.tuples(st.sampled_from(["graded", "edited"]), st.just("{shot}/graded/graded.####.exr")),
    )
    wild_grades = st.one_of(grade_texts(), st.sampled_from(WILD_GRADE_FILES))
    if "mode" in wild:
        modes = [(), ("grade",), ("graded",), ("edited",), ("grade", "graded"), ("graded", "edited")]
        for mode in draw(st.sampled_from(modes)):
            options[mode] = draw(wild_grades if mode == "grade" else paths)
    else:
        mode, value = draw(valid_mode)
        options[mode] = value
    valid_engines = st.sampled_from(["hard", "hard", "hard", "feather", "guided", "guided", "movingcolor"])
    options["engine"] = pick("engine", valid_engines, ENGINES)
    valid_out = st.sampled_from(["{out}/f.####.exr", "{out}/f.%04d.png", "{out}", "{out}/a/f_####.tif"])
    options["out"] = pick("out", valid_out, st.one_of(out_patterns(), st.none()))
    options["frames"] = pick("frames", st.sampled_from([None, None, "1001-1002", "1002"]), FRAMES_TEXT)
    handles = st.one_of(st.integers(-3, 3), st.integers(), st.just("x")).map(str)
    options["handles"] = pick("handles", st.sampled_from([None, "0", "1"]), handles)
    options["band"] = pick("band", st.sampled_from([None, "12", "6", "10%"]), BANDS)
    options["exr_type"] = pick("exr_type", st.sampled_from([None, "half", "float"]), texts("HALF", "double"))
    compressions = st.sampled_from([None, "zip", "piz", "dwaa", "none"])
    options["compression"] = pick("compression", compressions, texts(*EXR_COMPRESSIONS, "lzma", "ZIP"))
    configs = texts(
        "ocio://default", "ocio://nope", "{junk}/h.ocio", "{shot}/missing.ocio", "{shot}", "{shot}/grade.cc"
    )
    options["config"] = pick("config", st.sampled_from([None, "ocio://default"]), configs)
    for name in ("plate_colorspace", "graded_colorspace", "grade_colorspace", "out_colorspace"):
        valid = st.sampled_from([None, None, "ACEScg"] if name == "plate_colorspace" else [None])
        options[name] = pick("colorspaces", valid, COLORSPACES)
    options["model"] = pick("model", st.just(None), MODELS)
    options["device"] = pick("model", st.sampled_from([None, "cpu"]), DEVICES)
    max_pixels = st.one_of(st.sampled_from([0, -1, 1, 767, 768, 10**20]), st.integers()).map(str)
    options["max_pixels"] = pick("max_pixels", st.sampled_from([None, "100000"]), max_pixels)
    return options


@st.composite
def fuse_arguments(draw) -> tuple[list[str], dict[str, Blob]]:
    """``movingcolor fuse`` arguments (with path templates) and the junk files they may name."""
    junk = draw(junk_files())
    tiny = draw(st.one_of(st.none(), tiny_shots()))
    if tiny is not None:
        for index in range(SHOT_FRAMES):
            make = dict(tiny, seed=tiny["seed"] + index, format=tiny["format"] or "exr")
            matte = dict(make, format="png")
            junk[f"tiny/plate.{FIRST + index}.{make['format']}"] = TinyImage(**make)
            junk[f"tiny/rgba.{FIRST + index}.exr"] = TinyImage(**dict(make, format="exr"), what="rgba")
            junk[f"tiny/matte.{FIRST + index}.png"] = TinyImage(**matte, what="matte")
    args = ["fuse"]
    for name, value in draw(shot_options(tiny is not None)).items():
        if value is None:
            continue
        option = "--" + name.replace("_", "-")
        # A value that looks like an option must be attached, as a shell user would write it.
        args += [f"{option}={value}"] if value.startswith("-") else [option, value]
    for flag in draw(st.lists(st.sampled_from(["--json", "--force", "-q"]), max_size=2, unique=True)):
        args.insert(0, flag) if flag == "-q" else args.append(flag)
    return args, junk


#: RunJob paths beyond the root, or not paths: each must be refused.
ELSEWHERE = [
    "/etc/passwd", "/tmp", "relative/plate.####.exr", "{root}/../x.####.exr", "{root}/shot/../../x",
    "{root}/link/plate.####.exr", "/", "{root}/a\x00b.exr", "ocio://default", "{root}",
]  # fmt: skip


def _in_root(value: str) -> str:
    return value.replace("{shot}", "{root}/shot").replace("{junk}", "{root}/shot")


@st.composite
def job_requests(draw) -> fusion_pb2.JobRequest:
    """RunJob requests: ``shot_options`` with the paths in the server's root, or outside it."""
    options = draw(shot_options())
    request = fusion_pb2.JobRequest()
    escape = draw(
        st.lists(st.sampled_from(["plate", "matte", "graded", "edited", "out", "grade", "model"]), max_size=2)
    )
    for name, value in options.items():
        if name == "max_pixels" or value is None:
            continue
        if name == "handles":
            request.handles = int(value) if value.isdigit() and int(value) < 2**32 else 0
            continue
        setattr(request, name, _in_root(value))
    for name in escape:
        models = ["{root}", "{root}/shot", "{root}/missing", "{root}/link"]
        setattr(request, name, draw(st.sampled_from(models if name == "model" else ELSEWHERE)))
    return request
