"""One frame read and prepared for fusion: in the spaces the engine and the composite need.

Each full-resolution array costs a colour conversion and memory for as long as a
window needs the frame, so a frame carries only the arrays its engine declares
(:attr:`Engine.inputs`) and those the composite needs for what the engine decides.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Hashable
from dataclasses import dataclass, fields, replace
from typing import Protocol

import numpy as np

from ..background_import import SCIPY_FILTERS, import_in_background
from ..color.config import apply_processor
from ..color.converted_on_demand import ConvertedOnDemand
from ..color.grade_fit import (
    DIRECT_MATTE,
    GOOD_FIT_RMS,
    LOCAL_FIT_MIN_RADIUS,
    bounded_by_interior_grade,
    fit_interior,
    recover_graded_and_compare,
    recover_graded_locally,
)
from ..engines import Engine
from ..frames.matte import channels_of_other_shapes, matte_from_pixels
from ..masks.band import edge_band, edge_band_with_fade, transform_may_need_scipy
from .composite import SOFT_SHARE, at_pixels, blend_exact, soft_share
from .plan import ShotPlan
from .sources import say_a_matte_whose_alpha_is_a_layers

log = logging.getLogger("movingcolor")

#: What every frame carries: the composite starts from the hard composite in the output space and
#: blends plate and graded plate (scene-linear and output space) through a matte in the band.
COMPOSITE_ARRAYS = frozenset(
    {"plate", "graded", "plate_out", "graded_out", "edited_out", "matte", "band", "band_fade", "band_pixels"}
)
#: What a colour decision needs besides: its change to the composite is carried into the output
#: space, and a frame decided both ways turns blend weights into display colours.
COLOUR_ARRAYS = frozenset({"edited_display", "plate_display", "graded_display"})


@dataclass
class PreparedFrame:
    """One frame prepared for fusion; an array the shot does not need is None.

    ``plate``, ``graded`` and ``edited`` are scene-linear (the working space); ``*_out``
    the same images in the output colourspace; ``*_display`` in the bounded encoding
    the network sees.
    """

    matte: np.ndarray
    band: np.ndarray
    band_pixels: float
    grade_known: bool
    #: Per band pixel (``array[band]``'s order), the share of the engine's change the composite
    #: keeps: it fades to nothing at the band's outer edge (``edge_band_with_fade``).
    band_fade: np.ndarray | None = None
    plate: np.ndarray | None = None
    graded: np.ndarray | None = None
    edited: np.ndarray | None = None
    plate_out: np.ndarray | None = None
    graded_out: np.ndarray | None = None
    edited_out: np.ndarray | None = None
    plate_display: np.ndarray | None = None
    graded_display: np.ndarray | None = None
    edited_display: np.ndarray | None = None
    #: The plate's (and the graded or edited source's) RGB as read, held by a target read for
    #: its windows until it is completed for its composite (:meth:`FramePreparer.complete`).
    plate_rgb: np.ndarray | None = None
    other_rgb: np.ndarray | None = None

    @property
    def nbytes(self) -> int:
        """The bytes of its arrays, each counted once (the linear plate may be the plate as read)."""
        arrays = {}
        for field in fields(self):
            value = getattr(self, field.name)
            if isinstance(value, ConvertedOnDemand):
                # Counted whole, as converted, with the pixels it converts from.
                arrays[id(value.source)] = value.source
            if isinstance(value, (np.ndarray, ConvertedOnDemand)):
                arrays[id(value)] = value
        return sum(value.nbytes for value in arrays.values())


def frame_arrays(engine: Engine, grade_known: bool = False) -> frozenset[str]:
    """The arrays each frame is prepared with for ``engine``, in a shot whose every grade is known
    (``grade_known``) or not."""
    needed = COMPOSITE_ARRAYS | engine.inputs_for(grade_known)
    return needed | COLOUR_ARRAYS if engine.decides_colours_for(grade_known) else needed


def _rgb(pixels: np.ndarray) -> np.ndarray:
    """The RGB channels of a frame (a one-channel image is grey)."""
    if pixels.shape[2] >= 3:
        return np.ascontiguousarray(pixels[:, :, :3])
    return np.ascontiguousarray(np.repeat(pixels[:, :, :1], 3, axis=2))


class KeptFrames(Protocol):
    """Where prepared context frames are kept between runs (a bounded cache)."""

    def get(self, key: Hashable) -> PreparedFrame | None: ...

    def put(self, key: Hashable, value: PreparedFrame, size: int) -> None: ...


#: A target's pixels as read are kept until it is completed when its plate is at most this many
#: float bytes (1080p RGBA: 33 MB); a larger one is read again.
KEEP_READ_BYTES = 40 << 20
#: What a frame that only gives context (a neighbour or a global frame that is not fused itself)
#: carries besides its engine's inputs.
CONTEXT_ARRAYS = frozenset({"matte", "band", "band_pixels"})
#: The display encodings engines read only near the band, made there only (``_display_of``); the
#: host's composite's is read whole (the colour head, a grade recovered from it).
ON_DEMAND_ARRAYS = frozenset({"plate_display", "graded_display"})
#: The arrays made from the plate in the working space (besides a composite and a grade recovered
#: from the host's composite).
LINEAR_PLATE_READERS = frozenset({"plate", "edited", "edited_display"})
#: What a fused frame takes from its prepared context, when one is kept: all that does not depend
#: on the grade's output space or the composite.
REUSED_ARRAYS = frozenset(
    {"matte", "band", "band_pixels", "band_fade", "plate_display", "graded_display", "edited_display"}
)


def _graded(processor, plate_rgb: np.ndarray, region: np.ndarray | None) -> np.ndarray:
    """The grade ``processor`` applied to ``plate_rgb`` ``(H, W, 3)``: on every pixel, or only on
    ``region``'s (zero elsewhere, where nothing reads it)."""
    if region is None:
        return apply_processor(processor, plate_rgb)
    graded = np.zeros(plate_rgb.shape, np.float32)
    # By flat index: several times faster than a boolean mask on a whole frame.
    where = np.flatnonzero(region)
    if where.size:  # OpenColorIO refuses an empty image
        graded.reshape(-1, 3)[where] = apply_processor(processor, at_pixels(plate_rgb, where))
    return graded


class FramePreparer:
    """Reads a plan's frames and prepares each with the arrays in ``arrays``; a frame only read for
    context gets its engine's inputs alone (:meth:`prepare`). ``kept``, where given, holds such
    context frames between runs under the sources' content keys (``ShotSources.frame_key``), so a
    host's next window finds the neighbours its last one prepared."""

    def __init__(self, plan: ShotPlan, arrays: frozenset[str] | None = None, kept: KeptFrames | None = None):
        self.plan = plan
        self._said_wide = False  # a percentage band found as wide as the frame, said once
        self._said_shapes = False  # a colour matte's channels of other shapes, said once
        self._said_layers = False  # a matte without an alpha but with a layer's, said once
        self._looked_soft = False  # whether a matte soft over much of the frame was looked for
        # The preparers run on threads of their own: each of these is said once, not once a thread.
        self._saying = threading.Lock()
        # What needs scipy: recovering each frame's grade from a host's composite, an engine that
        # filters with it, a band that may reach beyond the distances found without it.
        if plan.mode == "edited" or (
            plan.engine.decides_band
            and (plan.engine.filters_with_scipy or transform_may_need_scipy(plan.band_width))
        ):
            import_in_background(SCIPY_FILTERS)
        # A grade or a graded plate gives every frame's grade; only a host's composite may not.
        grade_known = plan.mode != "edited"
        inputs = plan.engine.inputs_for(grade_known)
        self.arrays = frame_arrays(plan.engine, grade_known) if arrays is None else arrays
        self.context_arrays = (inputs & self.arrays) | CONTEXT_ARRAYS
        #: The arrays that, when wanted, need the graded plate on every pixel.
        self._reads_graded = frozenset({"graded_display", "edited", "edited_display"}) | (inputs & {"graded"})
        self._kept = kept if plan.sources.frame_key is not None else None
        if self._kept is not None:
            # A kept context frame may be a host's next target: with the band's fade and the pixels
            # read (:meth:`prepare`), nothing it was prepared with is read or computed again then.
            # Not its linear plate: a scrubbing host's newest frame is prepared before its window is
            # fused, its completion as a target beside the next window's newest frame.
            self.context_arrays |= {"band_fade"}
            if self._makes_linear_plate(self.context_arrays, composite=False):
                # Its preparation makes it anyway (an engine that reads the host's composite, a
                # grade recovered from it): kept with it, not made again at completion.
                self.context_arrays |= {"plate"}

    def _makes_linear_plate(self, wanted: frozenset[str], composite: bool) -> bool:
        """Whether preparing the arrays ``wanted`` (and the composite, where ``composite``) makes the
        plate in the working space: the composite blends in it, and a grade recovered from the
        host's composite (where the graded plate is needed) starts from it."""
        recovers_grade = self.plan.mode == "edited" and bool(wanted & (self._reads_graded | {"graded"}))
        return composite or bool(wanted & LINEAR_PLATE_READERS) or recovers_grade

    def prepare(self, number: int, context_only: bool = False) -> PreparedFrame:
        """Frame ``number`` with every array of the shot, or, ``context_only``, with only what the
        engine reads of it (no grade in the output space, no composite)."""
        found = self._kept_context(number)
        if not context_only:
            return self._prepare(number, self.arrays, found)
        if found is not None:
            return found
        key = self._key(number)
        # A kept frame holds its plate as read: a scrubbing host's neighbour becomes its target.
        # A graded or edited source is not read for context (a target reads it when prepared).
        kept = key is not None
        return self._keep(key, self._prepare(number, self.context_arrays, keep_reads=kept, read_other=False))

    def read_target(self, number: int, keep_read: bool = False) -> PreparedFrame:
        """Frame ``number``, to be fused, as its windows read it: what the engine reads, the band's
        fade, and its pixels as read where they are kept (a stream's, a small plate's, or any
        where ``keep_read``: a frame completed soon after it is read); the arrays
        only its composite needs (five frames of float RGB) are made by :meth:`complete` when it is
        composited, so a window that fuses many frames at once (the network's six) does not hold
        them all. A shot whose grade is recovered from the host's composite prepares its targets
        whole (the recovery would otherwise run twice)."""
        if self.plan.mode == "edited":
            return self.prepare(number)
        found = self._kept_context(number)
        # A stream's frames are dropped once read, so kept. A file's are kept too where a window of
        # them costs little memory or the caller says the frame is completed soon; larger ones
        # (106 MB a 4K frame, six to a network window) are read again when it is completed.
        plate = self.plan.sources.plate
        keep_reads = (
            keep_read
            or self.plan.sources.release is not None
            or plate.width * plate.height * len(plate.channels) * 4 <= KEEP_READ_BYTES
        )
        return self._prepare(number, self.context_arrays | {"band_fade"}, found, keep_reads=keep_reads)

    def complete(self, number: int, frame: PreparedFrame) -> PreparedFrame:
        """Target ``frame`` (from :meth:`read_target`) with every array of the shot, bit for bit
        what :meth:`prepare` gives; a frame already whole is returned as it is."""
        if frame.edited_out is not None:
            return frame
        return self._prepare(number, self.arrays, frame)

    def as_context(self, number: int, frame: PreparedFrame) -> PreparedFrame:
        """Fused frame ``number`` as a later window reads it for context: without the arrays
        only its composite needed (at 4K, over 100 MB each); kept for later runs too."""
        dropped = (self.arrays - self.context_arrays) | {"plate_rgb", "other_rgb"}
        context = replace(frame, **{name: None for name in dropped})
        return self._keep(self._key(number), context)

    def _key(self, number: int) -> Hashable | None:
        return self.plan.sources.frame_key(number) if self._kept is not None else None

    def _kept_context(self, number: int) -> PreparedFrame | None:
        """Frame ``number`` as an earlier run prepared it for context, when kept."""
        key = self._key(number)
        return self._kept.get(key) if key is not None else None

    def _keep(self, key: Hashable | None, frame: PreparedFrame) -> PreparedFrame:
        if key is not None:
            for field in fields(frame):
                value = getattr(frame, field.name)
                if isinstance(value, np.ndarray):
                    value.flags.writeable = False  # shared with later runs: nobody may change it
            self._kept.put(key, frame, frame.nbytes)
        return frame

    def _prepare(
        self,
        number: int,
        wanted: frozenset[str],
        known: PreparedFrame | None = None,
        keep_reads: bool = False,
        read_other: bool = True,
    ) -> PreparedFrame:
        """Frame ``number`` with the arrays in ``wanted``; those of :data:`REUSED_ARRAYS` that
        ``known`` (the frame prepared before for context) holds are taken from it, not recomputed,
        and so are the sources' pixels it holds; ``keep_reads``: the frame holds the pixels read
        (the graded or edited source's too, read for that, unless ``read_other`` is False)."""
        plan, spaces = self.plan, self.plan.colorspaces
        cfg, lin = spaces.config, spaces.working
        composite = "edited_out" in wanted
        reused = {
            name: getattr(known, name)
            for name in REUSED_ARRAYS & (wanted | {"band_pixels"})
            if known is not None and getattr(known, name) is not None
        }
        if known is not None and known.plate_rgb is not None:
            plate_rgb = known.plate_rgb
        elif known is not None and isinstance(known.plate_display, ConvertedOnDemand):
            # Its display encoding holds the plate as read, to convert from: not read again.
            plate_rgb = known.plate_display.source
        else:
            plate_rgb = _rgb(plan.sources.plate.read(number))
            # Read-only from here: where the plate is already in the working or output space, those
            # arrays are the plate itself rather than copies of it (over 100 MB each at 4K).
            plate_rgb.flags.writeable = False
        other = known.other_rgb if known is not None else None
        if keep_reads and read_other and other is None and plan.mode != "grade":
            # Its completion needs the graded source, which a stream drops once the frame is read.
            other = _rgb(plan.sources.other.read(number))
        if "matte" in reused and "band" in reused and ("band_fade" in reused or not composite):
            matte, band, band_fade = reused["matte"], reused["band"], reused.get("band_fade")
            band_pixels = reused["band_pixels"]
        else:
            matte, band_pixels, band, band_fade = self._matte_and_band(
                number, composite or "band_fade" in wanted
            )
        plate_out = cfg.convert(plate_rgb, spaces.plate, spaces.output, copy=False) if composite else None
        lin_to_out = cfg.converter(lin, spaces.output)
        grade_known = True
        graded_lin = graded_out = other_lin = other_out = None
        # A grade's display encoding is made from the plate as read, where an engine reads it
        # (``_display_of``): it needs no graded plate of the whole frame.
        grade_applied = plan.mode == "grade"
        reads_graded = self._reads_graded - {"graded_display"} if grade_applied else self._reads_graded
        needs_graded = composite or bool(wanted & (reads_graded | {"graded"}))
        if known is not None and known.plate is not None:
            plate_lin = known.plate
        elif self._makes_linear_plate(wanted, composite):
            plate_lin = cfg.convert(plate_rgb, spaces.plate, lin, copy=False)
        else:
            # A frame read for context whose engine reads no linear plate: a whole frame's
            # conversion (30 ms at 1080p from an sRGB plate) made only if it is composited.
            plate_lin = None
        if grade_applied:
            # An engine that reads no graded image needs the grade only where the composite takes
            # it: inside the matte and in the band (the grade is a per-pixel colour transform).
            # What reads the grade everywhere may have been reused from ``known``.
            region = None if (wanted - reused.keys()) & reads_graded else (matte > 0.0) | band
            if needs_graded:
                graded_lin = _graded(spaces.grade_to_working, plate_rgb, region)
            if composite:
                # Written in the working space (scene-linear EXR), the graded plate is converted once.
                same = spaces.output == lin
                if same:
                    graded_lin.flags.writeable = False
                graded_out = graded_lin if same else _graded(spaces.grade_to_output, plate_rgb, region)
        elif needs_graded:
            if other is None:
                other = _rgb(plan.sources.other.read(number))
            other_lin = cfg.convert(other, spaces.other, lin)
            other_out = cfg.convert(other, spaces.other, spaces.output) if composite else None
            if plan.mode == "graded":
                graded_lin, graded_out = other_lin, other_out
            else:
                interior = fit_interior(matte)
                estimate, grade_known, solved = self._recover_graded(
                    number, plate_lin, other_lin, matte, interior, band, band_pixels
                )
                graded_lin = bounded_by_interior_grade(
                    cfg.convert(estimate, spaces.display, lin), plate_lin, other_lin, matte, band, interior
                )
                full = matte >= 1.0
                graded_lin[full] = other_lin[full]
                if solved is not None:
                    mixed, solved_lin, _ = solved
                    graded_lin[mixed] = solved_lin  # unclipped where it was solved in linear
                if composite:
                    graded_out = apply_processor(lin_to_out, graded_lin)
                    graded_out[full] = other_out[full]
        edited_lin = edited_out = None
        if plan.mode == "edited":
            edited_lin, edited_out = other_lin, other_out
        else:
            if composite:
                edited_out = blend_exact(
                    matte.reshape(-1),
                    graded_lin.reshape(-1, 3),
                    plate_lin.reshape(-1, 3),
                    graded_out.reshape(-1, 3),
                    plate_out.reshape(-1, 3),
                    lin_to_out,
                ).reshape(plate_rgb.shape)
            if wanted & {"edited", "edited_display"}:
                a = matte[:, :, None]
                edited_lin = a * graded_lin + (1.0 - a) * plate_lin
        return PreparedFrame(
            matte=matte,
            band=band,
            band_pixels=band_pixels,
            grade_known=grade_known,
            band_fade=band_fade,
            plate=plate_lin if "plate" in wanted or composite else None,
            graded=graded_lin if "graded" in wanted or composite else None,
            edited=edited_lin if "edited" in wanted else None,
            plate_out=plate_out,
            graded_out=graded_out,
            edited_out=edited_out,
            plate_display=self._display_of("plate_display", plate_rgb, wanted, reused, spaces.plate),
            graded_display=(
                self._display_of("graded_display", plate_rgb, wanted, reused, grade=True)
                if grade_applied
                else self._display_of("graded_display", graded_lin, wanted, reused)
            ),
            edited_display=self._display_of("edited_display", edited_lin, wanted, reused),
            plate_rgb=plate_rgb if keep_reads else None,
            other_rgb=other if keep_reads else None,
        )

    def _say_once(self, number: int, pixels: np.ndarray, matte: np.ndarray) -> None:
        """What a shot's matte is said to be, once (the caller holds ``_saying``): without an alpha
        but with a layer's, of channels holding other shapes, soft over much of the frame."""
        matte_source = self.plan.sources.matte
        if not self._said_layers:
            self._said_layers = True
            say_a_matte_whose_alpha_is_a_layers(matte_source)
        if not self._said_shapes:
            # Judged on the first frame where the matte covers anything (a roto may start empty).
            self._said_shapes = bool(matte.max() > 0.0)
            shapes = channels_of_other_shapes(pixels, matte_source.channels) if self._said_shapes else []
            if shapes:
                log.warning(
                    "the matte's channels %s hold different shapes (frame %d): the matte is where any of "
                    "them is on, their union; where it is a multi-matte and one object is meant, give "
                    "that channel as a matte of its own (e.g. oiiotool matte.exr --ch R -o one.exr)",
                    ", ".join(shapes),
                    number,
                )
        engine = self.plan.engine
        # An engine that decides the band from the picture: feather blurs a ramp into itself.
        from_picture = engine.decides_band and not engine.inputs.isdisjoint({"plate", "plate_display"})
        # Judged, as the shapes are, on the first frame where the matte covers anything.
        if not self._looked_soft and from_picture and matte.max() > 0.0:
            self._looked_soft = True
            soft = soft_share(matte)
            if soft >= SOFT_SHARE:
                # A graduated window's ramp is all band to an engine that re-decides the band: it
                # changed pixels hundreds of pixels from the contour, without a word, at a cost
                # in memory and time that grows with the ramp (13.5 GB a frame at 8K).
                log.warning(
                    "the matte is soft (neither 0 nor 1) over %.0f%% of frame %d: engine %s re-decides "
                    "all of it, not a band about its edge; for a graduated grade (a ramp, a window), "
                    "--engine feather or hard blends through the matte as it is",
                    100 * soft,
                    number,
                    engine.name,
                )

    def _matte_and_band(
        self, number: int, with_fade: bool
    ) -> tuple[np.ndarray, float, np.ndarray, np.ndarray | None]:
        """Frame ``number``'s matte, band width in pixels, band and, ``with_fade``, the band's fade."""
        plan = self.plan
        matte_source = plan.sources.matte
        pixels = matte_source.read(number)
        matte = matte_from_pixels(pixels, matte_source.channels)
        with self._saying:
            self._say_once(number, pixels, matte)
        band_pixels = plan.band_width.pixels(matte >= 0.5)
        if not self._said_wide:
            with self._saying:
                if not self._said_wide:
                    # Once a shot: each frame's object gives the percentage its width.
                    height, width = matte.shape
                    self._said_wide = plan.band_width.says_if_wide(band_pixels, width, height, number)
        if not plan.engine.decides_band:
            return matte, band_pixels, np.zeros(matte.shape, bool), None
        if with_fade:
            band, band_fade = edge_band_with_fade(matte, plan.band_width)
            return matte, band_pixels, band, band_fade
        return matte, band_pixels, edge_band(matte, plan.band_width), None

    def _display_of(
        self,
        name: str,
        pixels: np.ndarray | None,
        wanted: frozenset[str],
        reused: dict[str, np.ndarray],
        space: str | None = None,
        grade: bool = False,
    ) -> np.ndarray | ConvertedOnDemand | None:
        """Array ``name`` (the display encoding of ``pixels``, in ``space``, the working space
        unless given; or, ``grade``, of the plate as read ``pixels`` graded into the working space),
        or the one ``reused`` holds, when ``wanted``.
        What engines read only near the band is converted there only (:class:`ConvertedOnDemand`)."""
        if name not in wanted:
            return None
        if name in reused:
            return reused[name]
        spaces = self.plan.colorspaces
        if grade:
            to_display = spaces.config.converter(spaces.working, spaces.display)
            return ConvertedOnDemand(pixels, [spaces.grade_to_working, to_display])
        if name in ON_DEMAND_ARRAYS:
            to_display = spaces.config.converter(space or spaces.working, spaces.display)
            if to_display is not None:
                return ConvertedOnDemand(pixels, [to_display])
        return self._display(pixels, space)

    def _recover_graded(
        self,
        number: int,
        plate_lin: np.ndarray,
        edited_lin: np.ndarray,
        matte: np.ndarray,
        interior: np.ndarray,
        band: np.ndarray,
        band_pixels: float,
    ) -> tuple[np.ndarray, bool, tuple | None]:
        """The graded plate (display encoding) estimated from the host's composite, whether the fit
        explains the composite, and where the composite gave the graded colours directly (see
        :meth:`_solved_from_composite`): one colour map for the whole frame, refined near the band by
        a colour map per pixel (which follows a grade that varies across the object)."""
        spaces = self.plan.colorspaces
        cfg = spaces.config
        plate = cfg.convert(plate_lin, spaces.working, spaces.display)
        edited = cfg.convert(edited_lin, spaces.working, spaces.display)
        estimate, residual, comparable = recover_graded_and_compare(plate, edited, matte, interior)
        local, local_residual = recover_graded_locally(
            plate,
            edited,
            matte,
            radius=max(LOCAL_FIT_MIN_RADIUS, math.ceil(band_pixels) + 4),
            region=band,
            fallback=estimate,
            interior=interior,
        )
        log.debug(
            "frame %d: grade recovered from the composite, RMS %.4f (one map), %.4f (per pixel)",
            number,
            residual,
            local_residual,
        )
        # The per-pixel maps where they explain the interior at least as well as one map does (both
        # measured alike): on colours of another kind than the interior's, a worse fit extrapolates
        # further off.
        if math.isfinite(local_residual) and local_residual <= comparable:
            estimate = local
        solved = self._solved_from_composite(plate_lin, edited_lin, plate, edited, estimate, matte)
        if solved is not None:
            mixed, _, display = solved
            estimate[mixed] = display
        return estimate, min(residual, local_residual) <= GOOD_FIT_RMS, solved

    def _solved_from_composite(
        self,
        plate_lin: np.ndarray,
        edited_lin: np.ndarray,
        plate: np.ndarray,
        edited: np.ndarray,
        fitted: np.ndarray,
        matte: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        """Where the matte is mostly on (``DIRECT_MATTE`` to under 1), the graded colours the host's
        composite implies: it mixed them with the plate, ``E = m G + (1 - m) P``, so ``G`` is solved
        rather than taken from a fit carried to colours unlike the interior's (one read 1.95 where
        the composite held 0.56, at a matte of 0.99). A host mixes in its working space (Nuke's
        scene-linear) or in an encoding (a grading application's qualifier): the space is the one in
        which the fitted colours (``fitted``, display-encoded) explain the composite better there.
        Returns the mask and the solved colours, scene-linear and display-encoded; None where the
        matte is nowhere mostly on."""
        spaces = self.plan.colorspaces
        cfg = spaces.config
        mixed = (matte >= DIRECT_MATTE) & (matte < 1.0)
        if not mixed.any():
            return None
        weight = matte[mixed][:, None].astype(np.float32)
        guess = fitted[mixed]
        guess_lin = cfg.convert(guess, spaces.display, spaces.working)
        mixed_linear = weight * guess_lin + (1 - weight) * plate_lin[mixed]
        linear_error = np.abs(
            cfg.convert(mixed_linear, spaces.working, spaces.display) - edited[mixed]
        ).mean()
        display_error = np.abs(weight * guess + (1 - weight) * plate[mixed] - edited[mixed]).mean()
        # Linear unless the encoding explains the composite clearly better: where the fit has
        # nothing to go on (a matte that is nowhere whole: the guess is the plate) the two differ by
        # rounding alone, and solved in the encoding the graded colours came out up to 0.9 off.
        if display_error >= linear_error * 0.99:
            solved_lin = plate_lin[mixed] + (edited_lin[mixed] - plate_lin[mixed]) / weight
            solved = np.clip(cfg.convert(solved_lin, spaces.working, spaces.display), 0.0, 1.0)
        else:
            # Unclipped to scene-linear (a grade may take colours past the encoding's 1).
            solved = plate[mixed] + (edited[mixed] - plate[mixed]) / weight
            solved_lin = cfg.convert(solved, spaces.display, spaces.working)
            solved = np.clip(solved, 0.0, 1.0)
        return mixed, solved_lin, solved

    def _display(self, pixels: np.ndarray, space: str | None = None) -> np.ndarray:
        """The bounded working encoding engines see (sRGB-encoded, clipped to 0..1) of ``pixels``
        in ``space`` (the working space unless given). The plate's is converted from the plate as
        read, in one step: a plate already display-encoded needs no conversion at all."""
        spaces = self.plan.colorspaces
        display = spaces.config.convert(pixels, space or spaces.working, spaces.display, copy=False)
        if display is pixels:
            # Already display-encoded: read-only and within range, the pixels are their own view
            # (a full-frame copy saved, 25 MB at 1080p); otherwise a clipped copy.
            if not pixels.flags.writeable and pixels.min() >= 0.0 and pixels.max() <= 1.0:
                return pixels
            return np.clip(pixels, 0.0, 1.0)
        # In place: the conversion's result is a fresh copy (a second full-frame array costs more
        # than the clip).
        return np.clip(display, 0.0, 1.0, out=display)
