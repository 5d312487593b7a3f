"""One shot, end to end: read, grade, band, fuse, composite, write.

Every source is validated (frames present, headers readable, sizes equal,
colourspaces and grade known) before the first frame is written. Each output
frame is written atomically, so an interrupted run leaves only whole frames.
"""

from __future__ import annotations

import functools
import logging
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass

import numpy as np

from .. import __version__
from ..color.config import ColorConfig, apply_processor
from ..color.grade import parse_grade
from ..color.grade_fit import GOOD_FIT_RMS, LOCAL_FIT_MIN_RADIUS, recover_graded, recover_graded_locally
from ..engines import Engine, FusionFrames, create_engine
from ..errors import (
    BandSpecError,
    FrameRangeError,
    FrameSizeMismatchError,
    FrameSourceError,
    InvalidPixelsError,
    MovingColorError,
)
from ..frames.frame_range import FrameRange
from ..frames.image_io import read_header, read_pixels, write_image
from ..frames.overlap import check_outputs_spare_inputs
from ..frames.source import ChannelSource, FrameSource, open_source
from ..frames.temporaries import remove_stale_temporaries
from ..masks.band import BandWidth, edge_band
from ..masks.matte import matte_from_pixels
from ..spec import ShotReport, ShotSpec
from ..windowing import Window
from ..windowing.average import OverlapAverage
from . import fingerprint
from .output import output_pattern, prepare_folder

log = logging.getLogger("movingcolor")

Progress = Callable[[int, int, int], None]

#: The most frames one shot may fuse: far beyond any real shot, and it keeps a range that a typo
#: or a hostile client declares (0-1000000000000) from being enumerated.
MAX_SHOT_FRAMES = 1_000_000
#: Bands up to this many pixels are accepted on any frame, however small.
MIN_BAND_LIMIT = 100
#: The largest magnitude a half-float EXR can hold; beyond it a value is written as infinity.
HALF_MAX = 65504.0


@dataclass
class ShotSources:
    """Sources the caller has already opened, used instead of the spec's paths.

    The service passes frames streamed over the network this way (``frames.stream``).
    ``matte`` None means the plate's alpha; ``other`` is the graded or edited source
    the spec's mode asks for. ``release(frame)`` is called once the runner no longer
    needs a frame's raw pixels, so a source that buffers frames can drop them.
    """

    plate: FrameSource
    matte: FrameSource | None = None
    other: FrameSource | None = None
    release: Callable[[int], None] | None = None


@dataclass
class _Frame:
    """One frame prepared for fusion, in the spaces the composite needs."""

    plate_lin: np.ndarray
    graded_lin: np.ndarray
    edited_lin: np.ndarray
    plate_out: np.ndarray
    graded_out: np.ndarray
    edited_out: np.ndarray
    plate_display: np.ndarray
    graded_display: np.ndarray
    edited_display: np.ndarray
    matte: np.ndarray
    band: np.ndarray
    band_pixels: float
    grade_known: bool


def _rgb(pixels: np.ndarray) -> np.ndarray:
    """The RGB channels of a frame (a one-channel image is grey)."""
    if pixels.shape[2] >= 3:
        return np.ascontiguousarray(pixels[:, :, :3])
    return np.ascontiguousarray(np.repeat(pixels[:, :, :1], 3, axis=2))


def blend_exact(weight, fg_lin, bg_lin, fg_out, bg_out, lin_to_out) -> np.ndarray:
    """``weight·fg + (1-weight)·bg`` in linear light, returned in the output space.

    Where the weight is exactly 0 or 1 the output-space source pixel is copied,
    so untouched pixels stay bit-exact instead of taking a round trip through
    linear. Arrays are ``(N, 3)`` with ``weight`` ``(N,)``.
    """
    w = weight[:, None]
    result = apply_processor(lin_to_out, w * fg_lin + (1.0 - w) * bg_lin)
    full, none = weight >= 1.0, weight <= 0.0
    result[full] = fg_out[full]
    result[none] = bg_out[none]
    return result


def _engine_options(spec: ShotSpec) -> dict:
    if spec.engine == "movingcolor":
        return {"model": spec.model, "device": spec.device}
    if spec.model is not None:
        raise MovingColorError(f"--model applies to --engine movingcolor, not to {spec.engine!r}")
    return {}


class _Shot:
    def __init__(self, spec: ShotSpec, engine: Engine | None, given: ShotSources | None = None):
        modes = [m for m in ("grade", "graded", "edited") if getattr(spec, m)]
        if len(modes) != 1:
            raise MovingColorError(
                "give exactly one of --grade (a grade to apply), --graded (the plate graded "
                "whole) or --edited (the host's composite through the matte)"
                + (f"; got {', '.join('--' + m for m in modes)}" if modes else "")
            )
        self.spec = spec
        self.mode = modes[0]
        self.config = ColorConfig(spec.config)
        self.band_width = BandWidth.parse(spec.band)
        self.engine = engine or create_engine(spec.engine, **_engine_options(spec))
        self.engine.reset()
        self.sources: list[FrameSource] = []
        self.release = given.release if given else None
        if given:
            self.sources = [s for s in (given.plate, given.matte, given.other) if s is not None]
            self.plate = given.plate
            self.matte = given.matte or ChannelSource(self.plate, "A")
            self.other: FrameSource | None = given.other
        else:
            self.plate = self._open(spec.plate, "plate", 0)
            first = self.plate.frames[0] if self.plate.frames else 0
            if spec.matte == "alpha":
                self.matte = ChannelSource(self.plate, "A")
            else:
                self.matte = self._open(spec.matte, "matte", first)
            self.other = None
            if self.mode != "grade":
                self.other = self._open(getattr(spec, self.mode), self.mode, first)
        self._check_sizes()
        self._check_band()
        self._check_channels()
        self._choose_colorspaces()
        self.range = self._frame_range()
        for source in self._all_sources():
            source.check_frames(self.range)
        # A shot whose frames go back over the network (ShotStream) has no output path.
        self.pattern = None
        if spec.out:
            self.pattern = output_pattern(
                spec.out, getattr(getattr(self.plate, "pattern", None), "prefix", "")
            )
            self._check_output_is_not_input()
        self._cache: dict[int, _Frame] = {}

    @property
    def pattern_is_exr(self) -> bool:
        # A stream's frames go back as EXR unless the client asks for raw samples; half's range
        # is checked whenever half is asked for.
        return self.pattern is None or self.pattern.suffix.lower().endswith(".exr")

    def _open(self, text: str, name: str, first: int) -> FrameSource:
        source = open_source(text, name, first)
        self.sources.append(source)
        return source

    def _all_sources(self) -> list[FrameSource]:
        return [s for s in (self.plate, self.matte, self.other) if s is not None]

    def _check_sizes(self) -> None:
        for source in self._all_sources()[1:]:
            if (source.width, source.height) != (self.plate.width, self.plate.height):
                raise FrameSizeMismatchError(
                    f"{source.name} {source.location(self.plate.frames[0] if self.plate.frames else 0)}"
                    f" is {source.width}x{source.height} but the plate is "
                    f"{self.plate.width}x{self.plate.height}; render both at the same resolution"
                )

    def _check_band(self) -> None:
        """A band wider than the frame changes every pixel and makes the filters as wide as the
        band (a typo's 39144595 px ran for hours); small frames keep room for the default band."""
        longest = max(self.plate.width, self.plate.height, MIN_BAND_LIMIT)
        if not self.band_width.relative and self.band_width.value > longest:
            raise BandSpecError(
                f"band width {self.band_width} is wider than the {self.plate.width}x{self.plate.height} "
                f"frame; a band is a strip along the matte's edge: give a few pixels (12) or a "
                f"percentage of the object's size (10%)"
            )

    def _check_channels(self) -> None:
        """Colour sources carry R, G and B: a two-channel image (luminance and alpha, a UV pass) is
        not a plate, and reading it as grey would fuse the wrong picture without a word."""
        for source in (self.plate, self.other):
            if source is not None and len(source.channels) < 3:
                raise FrameSourceError(
                    f"{source.name} {source.location(source.frames[0] if source.frames else 0)} has "
                    f"{len(source.channels)} channel(s) ({', '.join(source.channels) or 'none'}); a "
                    f"{source.name} needs R, G and B: render it as RGB or RGBA"
                )

    def _choose_colorspaces(self) -> None:
        cfg, spec = self.config, self.spec
        plate = cfg.choose(
            spec.plate_colorspace, self.plate.declared_colorspace, self.plate.is_float, "plate"
        )
        self.plate_cs = plate.name
        self.lin = cfg.scene_linear
        self.display = cfg.srgb_encoded
        self.out_cs = cfg.resolve(spec.out_colorspace) if spec.out_colorspace else self.plate_cs
        self.grade_cs = cfg.resolve(spec.grade_colorspace) if spec.grade_colorspace else self.plate_cs
        log.info("plate colourspace: %s (%s)", self.plate_cs, plate.reason)
        self.colorspaces = {"plate": self.plate_cs, "working": self.lin, "output": self.out_cs}
        self.grade_label = ""
        if self.mode == "grade":
            grade = parse_grade(self.spec.grade, cfg)
            self.grade_label = f"{grade.kind}: {grade.label}"
            self.grade_to_lin = grade.processor(cfg, self.plate_cs, self.lin, self.grade_cs)
            self.grade_to_out = grade.processor(cfg, self.plate_cs, self.out_cs, self.grade_cs)
            self.colorspaces["grade"] = grade.colorspace or self.grade_cs
            log.info("grade %s applied in %s", self.grade_label, self.colorspaces["grade"])
        else:
            other = cfg.choose(
                spec.graded_colorspace, self.other.declared_colorspace, self.other.is_float, self.mode
            )
            self.other_cs = other.name
            self.colorspaces[self.mode] = other.name
            self.grade_label = f"{self.mode} plate"
            log.info("%s colourspace: %s (%s)", self.mode, other.name, other.reason)

    def _frame_range(self) -> FrameRange:
        available = self.plate.available_range()
        for source in self._all_sources()[1:]:
            available = available.clamp(source.available_range())
        self.available = available
        # Context frames must exist in every source (stills cover all frames).
        sets = [set(s.frames) for s in self._all_sources() if s.frames]
        self.context_frames = set.intersection(*sets) if sets else None
        if self.spec.frames:
            wanted = FrameRange.parse(self.spec.frames)
        elif sets:
            # Every frame of the plate (or of the first source with frames, for a still plate),
            # which every other source must have too: a matte that ends early is an error to
            # fix, not a shorter shot.
            first = next(s for s in self._all_sources() if s.frames)
            wanted = first.available_range()
        else:
            raise FrameRangeError(
                "every source is a single image, so the shot has no frame range of its own; "
                "give the frames to fuse with --frames (e.g. --frames 1)"
            )
        self._check_length(wanted)
        for source in self._all_sources():
            source.require(wanted)
        if self.spec.handles:
            grown = wanted.with_handles(self.spec.handles)
            clamped = grown.clamp(available)
            if clamped != grown:
                log.warning("handles limited to the available frames: %s instead of %s", clamped, grown)
            wanted = clamped
        self._check_length(wanted)
        return wanted

    @staticmethod
    def _check_length(frames: FrameRange) -> None:
        if len(frames) > MAX_SHOT_FRAMES:
            raise FrameRangeError(
                f"frame range {frames} holds {len(frames)} frames, more than a shot may "
                f"({MAX_SHOT_FRAMES}); split it into chunks with --frames"
            )

    def _input_files(self) -> list[str]:
        """Every file any source reads, over its whole clip (context frames included)."""
        return [path for source in self._all_sources() for path in source.files()]

    def _check_output_is_not_input(self) -> None:
        check_outputs_spare_inputs(self.pattern, self.range, self._input_files())

    # -- per frame ------------------------------------------------------------

    def _prepare(self, number: int) -> _Frame:
        cfg = self.config
        raw = self.plate.read(number)
        plate_rgb = _rgb(raw)
        matte = matte_from_pixels(self.matte.read(number), self.matte.channels)
        band, band_pixels = edge_band(matte, self.band_width), self.band_width.pixels(matte >= 0.5)
        plate_lin = cfg.convert(plate_rgb, self.plate_cs, self.lin)
        plate_out = cfg.convert(plate_rgb, self.plate_cs, self.out_cs)
        plate_display = self._display(plate_lin)
        lin_to_out = cfg.converter(self.lin, self.out_cs)
        grade_known = True
        if self.mode == "grade":
            graded_lin = apply_processor(self.grade_to_lin, plate_rgb)
            graded_out = apply_processor(self.grade_to_out, plate_rgb)
        else:
            other = _rgb(self.other.read(number))
            other_lin = cfg.convert(other, self.other_cs, self.lin)
            other_out = cfg.convert(other, self.other_cs, self.out_cs)
            if self.mode == "graded":
                graded_lin, graded_out = other_lin, other_out
            else:
                estimate, grade_known = self._recover_graded(
                    number, plate_lin, other_lin, matte, band, band_pixels
                )
                graded_lin = cfg.convert(estimate, self.display, self.lin)
                graded_out = apply_processor(lin_to_out, graded_lin)
                full = matte >= 1.0
                graded_out[full] = other_out[full]
                graded_lin[full] = other_lin[full]
        if self.mode == "edited":
            edited_lin, edited_out = other_lin, other_out
        else:
            edited_out = blend_exact(
                matte.reshape(-1),
                graded_lin.reshape(-1, 3),
                plate_lin.reshape(-1, 3),
                graded_out.reshape(-1, 3),
                plate_out.reshape(-1, 3),
                lin_to_out,
            ).reshape(plate_rgb.shape)
            a = matte[:, :, None]
            edited_lin = a * graded_lin + (1.0 - a) * plate_lin
        return _Frame(
            plate_lin=plate_lin,
            graded_lin=graded_lin,
            edited_lin=edited_lin,
            plate_out=plate_out,
            graded_out=graded_out,
            edited_out=edited_out,
            plate_display=plate_display,
            graded_display=self._display(graded_lin),
            edited_display=self._display(edited_lin),
            matte=matte,
            band=band,
            band_pixels=band_pixels,
            grade_known=grade_known,
        )

    def _recover_graded(
        self,
        number: int,
        plate_lin: np.ndarray,
        edited_lin: np.ndarray,
        matte: np.ndarray,
        band: np.ndarray,
        band_pixels: float,
    ) -> tuple[np.ndarray, bool]:
        """The graded plate (display encoding) estimated from the host's composite, and whether
        the fit explains the composite: one colour map for the whole frame, refined near the
        band by a colour map per pixel (which follows a grade that varies across the object)."""
        cfg = self.config
        plate = cfg.convert(plate_lin, self.lin, self.display)
        edited = cfg.convert(edited_lin, self.lin, self.display)
        estimate, residual = recover_graded(plate, edited, matte)
        local, local_residual = recover_graded_locally(
            plate,
            edited,
            matte,
            radius=max(LOCAL_FIT_MIN_RADIUS, math.ceil(band_pixels) + 4),
            region=band,
            fallback=estimate,
        )
        log.debug(
            "frame %d: grade recovered from the composite, RMS %.4f (one map), %.4f (per pixel)",
            number,
            residual,
            local_residual,
        )
        if math.isfinite(local_residual):
            estimate = local
        return estimate, min(residual, local_residual) <= GOOD_FIT_RMS

    def _display(self, linear: np.ndarray) -> np.ndarray:
        """The bounded working encoding engines see (sRGB-encoded, clipped to 0..1)."""
        return np.clip(self.config.convert(linear, self.lin, self.display), 0.0, 1.0)

    def _frames(self, window: Window) -> FusionFrames:
        frames = [self._cache[n] for n in window.frames]
        stack = lambda name: np.stack([getattr(f, name) for f in frames])  # noqa: E731
        numbers = list(window.frames)
        return FusionFrames(
            frame_numbers=numbers,
            outputs=[numbers.index(n) for n in window.outputs],
            plate=stack("plate_lin"),
            graded=stack("graded_lin"),
            edited=stack("edited_lin"),
            matte=stack("matte"),
            band=stack("band"),
            plate_display=stack("plate_display"),
            graded_display=stack("graded_display"),
            edited_display=stack("edited_display"),
            band_pixels=[f.band_pixels for f in frames],
            num_local=len(window.local),
            # The predicted frames decide the head; a reference frame whose grade could not be
            # recovered still gives context (its best estimate), and does not take the head from
            # every window that sees it.
            grade_known=all(self._cache[n].grade_known for n in window.local),
        )

    def fused_frames(self, skip: frozenset[int] = frozenset()):
        """Yield ``(frame number, head, output-space pixels)`` for the range, in frame order,
        leaving out the frames in ``skip`` (their windows do not run at all).

        Windows run in plan order; a prepared frame is kept only until the last
        window that needs it, so memory stays bounded on long clips.
        """
        # Stills cover any frame: with no sequence among the sources the clip is the range.
        clip = sorted(self.context_frames) if self.context_frames else list(self.range)
        targets = [n for n in self.range if n not in skip]
        if not targets:
            return
        windows = self.engine.plan(clip, targets)
        last_use: dict[int, int] = {}
        for index, window in enumerate(windows):
            for number in window.frames:
                last_use[number] = index
        average = OverlapAverage(windows, self._alpha_as_colour)
        for index, window in enumerate(windows):
            for number in window.frames:
                if number not in self._cache:
                    self._cache[number] = self._prepare(number)
                    if self.release:
                        self.release(number)
            frames = self._frames(window)
            results = self.engine.fuse_window(frames)
            for number, result in zip(window.outputs, results, strict=True):
                if result.alpha is not None:
                    average.add(number, "alpha", result.alpha)
                else:
                    average.add(number, "rgb", result.rgb)
            for number, kind, value in average.finished(index):
                fused = self._composite(number, kind, value)
                self._check_finite(number, fused)
                yield number, ("blend" if kind == "alpha" else "color"), fused
            for number in window.frames:
                if last_use[number] == index:
                    del self._cache[number]

    def _check_finite(self, number: int, fused: np.ndarray) -> None:
        """A fused frame is written only when every value is a number the output can hold: a NaN or
        an infinity (or, in a half-float EXR, a value past half's range, which becomes one) would
        spread through every comp that reads the frame."""
        limit = HALF_MAX if self.spec.exr_type == "half" and self.pattern_is_exr else np.inf
        bad = ~(np.abs(fused) <= limit)
        if bad.any():
            count = int(bad.any(axis=-1).sum())
            what = "NaN or infinite" if limit == np.inf else f"NaN, infinite or beyond half float's {limit:g}"
            raise InvalidPixelsError(
                f"frame {number}: {count} fused pixels are {what}; the grade ({self.grade_label}) "
                f"pushes colours out of range: soften it"
                + (", or write --exr-type float" if limit != np.inf else "")
            )

    def _alpha_as_colour(self, number: int, alpha_sum: np.ndarray, count: int) -> np.ndarray:
        """The sum of the display colours that ``count`` blend weights summing to ``alpha_sum``
        give frame ``number`` (the blend is affine in the weight). Needed where windows differ
        in head: with only the host's composite, a window takes the colour head when the grade of
        any frame it predicts could not be recovered, so a frame can get both kinds of prediction."""
        frame = self._cache[number]
        change = frame.graded_display - frame.plate_display
        return count * frame.plate_display + np.clip(alpha_sum, 0.0, count)[..., None] * change

    def _composite(self, number: int, kind: str, value: np.ndarray) -> np.ndarray:
        frame = self._cache[number]
        out = frame.edited_out.copy()
        band = frame.band
        if band.any():
            if kind == "alpha":
                lin_to_out = self.config.converter(self.lin, self.out_cs)
                out[band] = blend_exact(
                    np.clip(value[band], 0.0, 1.0),
                    frame.graded_lin[band],
                    frame.plate_lin[band],
                    frame.graded_out[band],
                    frame.plate_out[band],
                    lin_to_out,
                )
            else:
                # A colour prediction lives in the network's display encoding, 0..1; the host's
                # composite may not (highlights over 1, colours outside the display's gamut). Its
                # change to that composite is carried into the output space instead of its
                # colours, so what the network cannot represent keeps the host's values.
                to_out = functools.partial(self.config.convert, src=self.display, dst=self.out_cs)
                change = to_out(value[band]) - to_out(frame.edited_display[band])
                out[band] = frame.edited_out[band] + change
        return out

    def header(self, number: int, head: str) -> dict:
        return {
            "movingcolor:head": head,
            "oiio:ColorSpace": self.out_cs,
            # OpenImageIO may rewrite oiio:ColorSpace to an interop ID; keep the config's name too.
            "movingcolor:colorspace": self.out_cs,
            "movingcolor:ocio_config": self.config.source,
            "movingcolor:frame": number,
            "movingcolor:engine": self.engine.name,
            "movingcolor:model": self.engine.model,
            "movingcolor:version": __version__,
            "movingcolor:band": str(self.band_width),
            "movingcolor:grade": self.grade_label,
            fingerprint.HEADER_KEY: self.fingerprint,
            "Software": f"MovingColor {__version__}",
        }

    @functools.cached_property
    def fingerprint(self) -> str:
        """What every output frame of this shot is made from (see ``fingerprint``)."""
        spec = self.spec
        # Frame range, handles and force select frames; they do not change any frame's pixels.
        settings = {
            key: value
            for key, value in asdict(spec).items()
            if key not in ("frames", "handles", "force", "out", "device")
        }
        settings.update(engine=self.engine.name, model=self.engine.model, colorspaces=self.colorspaces)
        clip = sorted(self.context_frames) if self.context_frames else list(self.range)
        inputs = sorted({source.location(n).split(" (")[0] for source in self._all_sources() for n in clip})
        weights = getattr(self.engine, "weights", None)
        return fingerprint.fingerprint(settings, inputs, [weights] if weights else [])

    def finished_frames(self) -> frozenset[int]:
        """Frames of the range whose output exists, reads back whole and carries this
        shot's fingerprint: a rerun leaves them alone."""
        if self.spec.force or self.pattern is None:
            return frozenset()
        done = set()
        for number in self.range:
            path = self.pattern.path(number)
            if not path.exists():
                continue
            try:
                header = read_header(path)
                if header.attributes.get(fingerprint.HEADER_KEY) != self.fingerprint:
                    continue
                read_pixels(path)  # truncated or corrupt frames are redone
            except MovingColorError:
                continue
            done.add(number)
        return frozenset(done)

    def close(self) -> None:
        for source in self.sources:
            source.close()


class ShotStream:
    """A shot's fused frames in frame order, handed to the caller instead of written.

    The service sends them back over the network. Everything is validated on
    construction, as ``run_shot`` validates before its first write; ``spec.out``
    may be empty. Iterating yields ``(frame number, pixels, header)``: pixels in the
    output colourspace, ``header`` what ``run_shot`` records in the frame's file.
    """

    def __init__(self, spec: ShotSpec, sources: ShotSources | None = None, engine: Engine | None = None):
        self._shot = _Shot(spec, engine, sources)
        self.range = self._shot.range
        self.engine = self._shot.engine
        self.band = str(self._shot.band_width)
        self.colorspaces = self._shot.colorspaces
        self.grade = self._shot.grade_label
        self.config = self._shot.config.source

    def __iter__(self) -> Iterator[tuple[int, np.ndarray, dict]]:
        for number, head, fused in self._shot.fused_frames():
            yield number, fused, self._shot.header(number, head)

    def close(self) -> None:
        self._shot.close()


def run_shot(spec: ShotSpec, progress: Progress | None = None, engine: Engine | None = None) -> ShotReport:
    """Fuse the shot ``spec`` describes and write its frames; returns a report."""
    started = time.perf_counter()
    shot = _Shot(spec, engine)
    try:
        prepare_folder(shot.pattern)
        for stale in remove_stale_temporaries(shot.pattern, shot.range):
            log.info("removed %s, left by an earlier run that did not finish", stale.name)
        written: list[str] = []
        finished = shot.finished_frames()
        if finished:
            log.info(
                "%d of %d frames already written for these inputs and settings: skipped "
                "(--force redoes them)",
                len(finished),
                len(shot.range),
            )
        total = len(shot.range) - len(finished)
        try:
            for done, (number, head, fused) in enumerate(shot.fused_frames(finished), start=1):
                path = shot.pattern.path(number)
                write_image(
                    path,
                    fused,
                    pixel_type=spec.exr_type,
                    compression=spec.compression,
                    attributes=shot.header(number, head),
                )
                written.append(str(path))
                if progress:
                    progress(done, total, number)
        except MovingColorError as error:
            if written:
                # Finished frames are whole and valid; say so rather than hide them.
                error.args = (
                    f"{error} (the {len(written)} frames before it were written completely to "
                    f"{shot.pattern.directory})",
                )
            raise
    finally:
        shot.close()
    return ShotReport(
        frames=str(shot.range),
        written=written,
        engine=shot.engine.name,
        model=shot.engine.model,
        band=str(shot.band_width),
        colorspaces=shot.colorspaces,
        grade=shot.grade_label,
        config=shot.config.source,
        seconds=round(time.perf_counter() - started, 3),
        skipped=[str(shot.pattern.path(n)) for n in sorted(finished)],
    )
