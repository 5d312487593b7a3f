"""A shot planned once: its sources, colourspaces, mode, grade, band, frames and windows.

``run_shot`` (files in, files out), ``ShotStream`` (frames in from a stream), the
streamed shot and the window call of the service and RunJob all run a
:class:`ShotPlan`. Everything is validated here (frames present, headers readable,
sizes equal, colourspaces and grade known) before the first frame is read.

A streamed shot learns its sources' sizes and colourspaces only from its first
images, but its frames can be planned before: :meth:`FramePlan.plan` from the clip,
the render range and the engine tells the client what to send, and
:meth:`ShotPlan.stream` takes that frame plan once the first images arrive.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from pathlib import Path

from ..color.config import ColorConfig, shared_config
from ..engines import Engine, create_engine
from ..engines.registry import takes_device
from ..engines.torch_filters import compute_device
from ..errors import MovingColorError
from ..frames.frame_range import FrameRange
from ..frames.image_io import STORED_SAMPLES
from ..frames.output_pattern import output_pattern
from ..frames.overlap import check_outputs_spare_inputs
from ..frames.sequence import SequencePattern
from ..frames.source import FrameSource
from ..masks.band import BandWidth
from ..spec import ShotReport, ShotSpec
from .colorspaces import ShotColorspaces, choose_colorspaces
from .frame_plan import FramePlan
from .sources import ShotSources, check_sources, open_sources, shot_clip, sources_range, with_matte

log = logging.getLogger("movingcolor")

MODES = ("grade", "graded", "edited")


def shot_mode(spec: ShotSpec) -> str:
    """Which of grade, graded and edited the spec gives (exactly one)."""
    modes = [m for m in MODES if getattr(spec, m)]
    if len(modes) != 1:
        raise MovingColorError(
            "give exactly one of --grade (a grade to apply), --graded (the plate graded "
            "whole) or --edited (the host's composite through the matte)"
            + (f"; got {', '.join('--' + m for m in modes)}" if modes else "")
        )
    mode = modes[0]
    # The two options differ by a letter, and the one that does not apply was read and ignored.
    if mode == "grade" and spec.graded_colorspace:
        raise MovingColorError(
            "--graded-colorspace is the colourspace of a --graded or --edited file, and this shot "
            "applies --grade: give --grade-colorspace for the space the grade applies in, or leave it out"
        )
    if mode != "grade" and spec.grade_colorspace:
        raise MovingColorError(
            f"--grade-colorspace is the space a --grade applies in, and this shot gives --{mode}: give "
            f"--graded-colorspace for the colourspace of that file, or leave it out"
        )
    return mode


def engine_options(spec: ShotSpec) -> dict:
    if spec.engine == "movingcolor":
        return {"model": spec.model, "device": spec.device}
    if spec.model is not None:
        raise MovingColorError(f"--model applies to --engine movingcolor, not to {spec.engine!r}")
    if takes_device(spec.engine):
        # A classical engine computes on a GPU in torch, or with numpy on the CPU's cores.
        return {"device": compute_device(spec.device)}
    return {}


@dataclass(frozen=True)
class ShotPlan:
    """One shot, planned: what to read, how to read it, which windows to run, where to write.

    ``sources.matte`` is always set (the plate's alpha where no matte is given);
    ``pattern`` is None when the fused frames go back to the caller instead of to files.
    """

    spec: ShotSpec
    mode: str
    engine: Engine
    band_width: BandWidth
    sources: ShotSources
    colorspaces: ShotColorspaces
    frames: FramePlan
    pattern: SequencePattern | None
    #: The sources this plan opened or was given, closed by :meth:`close`.
    owned: tuple[FrameSource, ...]

    @classmethod
    def files(cls, spec: ShotSpec, engine: Engine | None = None) -> ShotPlan:
        """The plan of a shot whose sources are the spec's paths."""
        return _plan(spec, engine, None, None)

    @classmethod
    def stream(
        cls,
        spec: ShotSpec,
        sources: ShotSources,
        engine: Engine | None = None,
        frames: FramePlan | None = None,
        output_format: str | None = None,
    ) -> ShotPlan:
        """The plan of a shot whose sources the caller opened. ``frames``: the frame plan made
        before the first image (the service's); without it the frames are planned from the
        sources and the spec's range, as for files. ``output_format``: the file type the fused
        frames go back as (``.exr``, ``.png``, ``.tif``; None for raw samples), which sets the
        default output colourspace. Reading the sources' sizes waits for their first images."""
        return _plan(spec, engine, sources, frames, output_format)

    @property
    def range(self) -> FrameRange:
        """The render range."""
        return self.frames.render

    @property
    def config(self) -> ColorConfig:
        return self.colorspaces.config

    @property
    def writes_exr(self) -> bool:
        # A stream's frames go back as EXR unless the client asks for raw samples; half's range
        # is checked whenever half is asked for.
        return self.pattern is None or self.pattern.suffix.lower().endswith(".exr")

    def skipping(self, finished: frozenset[int]) -> ShotPlan:
        """This plan without the frames in ``finished`` (already written): their windows do not run."""
        return replace(self, frames=self.frames.skipping(self.engine, finished)) if finished else self

    def report(
        self,
        written: list[str],
        seconds: float,
        skipped: list[str] | None = None,
        warnings: list[str] | None = None,
    ) -> ShotReport:
        """What a run of this plan did: the frames it wrote (or sent) in ``seconds``, and what it
        warned of."""
        return ShotReport(
            frames=str(self.range),
            written=written,
            engine=self.engine.name,
            model=self.engine.model,
            band=str(self.band_width),
            colorspaces=self.colorspaces.by_role,
            grade=self.colorspaces.grade_label,
            config=self.config.source,
            seconds=round(seconds, 3),
            skipped=skipped or [],
            warnings=list(warnings or []),
        )

    def close(self) -> None:
        for source in self.owned:
            source.close()


def _plate_name(plate: FrameSource) -> str:
    """The name fused frames written into a folder take after the plate: a sequence's prefix, a
    video's file name (clips fused into one folder would otherwise all be ``fused``)."""
    pattern = getattr(plate, "pattern", None)
    if pattern is not None:
        return pattern.prefix
    origin = plate.origin()
    return Path(origin).stem if origin else ""


#: Bits of precision a file's samples carry, by OpenImageIO's type name (a float's mantissa).
_SAMPLE_BITS = {"uint8": 8, "half": 11, "uint16": 16, "float": 24}
_FLOATS = ("half", "float")


def _samples(source: FrameSource | None) -> str:
    """The samples ``source``'s files store (``FrameSource.sample_type``); a streamed source's, by the
    first file sent; "" where unknown (raw samples sent)."""
    if source is None:
        return ""
    return source.sample_type or str(source.header_facts().get(STORED_SAMPLES, ""))


def _bits(source: FrameSource, samples: str) -> int:
    """The bits ``source``'s samples (of type ``samples``) hold: a 10-bit video's 10 (stored in 16-bit
    words, which half floats' 11 hold), else its sample type's."""
    return getattr(source, "sample_bits", None) or _SAMPLE_BITS[samples]


def _say_if_samples_are_rounded(
    plate: FrameSource, extension: str, exr_type: str, other: FrameSource | None = None, mode: str = ""
) -> None:
    """Warn where the output stores fewer bits than the plate: its pixels outside the band, copied
    from the plate, are then not the plate's own. Likewise where the graded or edited file given has
    fewer than the plate: its pixels are what the frames hold inside the matte (outside, for the
    host's composite) and a float plate's values outside 0..1 are lost there."""
    rounded = "pixels outside the band are rounded, not the plate's own"
    theirs, ours = _samples(other), _samples(plate)
    if extension == ".exr" and exr_type == "half" and ours == "float":
        log.warning("a 32-bit float plate is written as half EXR (--exr-type float keeps it): %s", rounded)
    elif extension == ".png" and ours == "uint16":
        log.warning(
            "a plate of more than 8 bits is written as 8-bit PNG (.tif keeps 16 bits, .exr more): %s", rounded
        )
    if theirs in _SAMPLE_BITS and ours in _SAMPLE_BITS and _bits(other, theirs) < _bits(plate, ours):
        where = "outside the band too" if mode == "edited" else "inside the matte"
        clipped = " and clipped to 0..1" if ours in _FLOATS and theirs not in _FLOATS else ""
        log.warning(
            "the %s file holds %s samples and the plate %s: the frames hold its pixels %s, rounded%s, "
            "not the plate's own; render it as the plate is (float EXR for a float plate) to keep them",
            mode,
            theirs,
            ours,
            where,
            clipped,
        )


def _plan(
    spec: ShotSpec,
    engine: Engine | None,
    given: ShotSources | None,
    frames: FramePlan | None,
    output_format: str | None = None,
) -> ShotPlan:
    mode = shot_mode(spec)
    config = shared_config(spec.config)
    band_width = BandWidth.parse(spec.band)
    engine = engine or create_engine(spec.engine, **engine_options(spec))
    engine.reset()
    opened: list[FrameSource] = []
    try:
        if given:
            opened = list(given.present)
            sources = with_matte(given)
        else:
            sources = open_sources(spec, mode, opened)
        band_width.check_frame(sources.plate.width, sources.plate.height)
        check_sources(sources)
        colorspaces = choose_colorspaces(config, spec, mode, sources.plate, sources.other, output_format)
        if frames is None:
            render = sources_range(sources, spec.frames, spec.handles)
            frames = FramePlan.plan(engine, shot_clip(sources, render), render)
        for source in sources.present:
            source.check_frames(frames.render)
        pattern = None
        if spec.out:
            pattern = output_pattern(spec.out, _plate_name(sources.plate), sources.plate.origin())
            inputs = [path for source in sources.present for path in source.files()]
            check_outputs_spare_inputs(pattern, frames.render, inputs)
            if len(sources.plate.channels) > 3:
                log.info(
                    "the plate's channels %s are not written: fused frames hold R, G and B",
                    ", ".join(sources.plate.channels[3:]),
                )
        # Written to files here, or sent back as a file type's bytes (a server's shot): rounded alike.
        extension = pattern.suffix if pattern is not None else output_format
        if extension:
            _say_if_samples_are_rounded(sources.plate, extension.lower(), spec.exr_type, sources.other, mode)
    except BaseException:
        if not given:
            for source in opened:
                source.close()
        raise
    return ShotPlan(spec, mode, engine, band_width, sources, colorspaces, frames, pattern, tuple(opened))
