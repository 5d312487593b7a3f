"""The engine contract shared by the classical engines and the network.

An engine plans windows over a clip (which frames feed each prediction) and,
for each window, decides the band of its output frames: either a refined matte
``alpha`` (blend between plate and graded plate, used when the grade is known)
or colours ``rgb`` (when it is not). The shot runner averages overlapping
predictions and composites; every pixel outside the band stays the hard
composite, whatever the engine returns.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, replace
from functools import cached_property

import numpy as np

from ..windowing import Window, centered_windows
from .frame_stack import FrameStack


@dataclass
class FusionFrames:
    """The frames of one window, all float32: ``T`` frames of ``H×W``.

    Scene-linear arrays serve the classical engines (they blend in linear
    light); the ``*_display`` arrays are the same images in the bounded,
    perceptual working encoding (sRGB-encoded, 0..1) that the network sees.
    An input the engine does not declare in :attr:`Engine.inputs` is None.
    """

    frame_numbers: list[int]
    outputs: list[int]  # indices into frame_numbers of the frames to decide
    # Each per-frame array is a (T, ...) array, or a FrameStack that indexes the same way for an
    # engine that takes them (Engine.takes_frame_stacks).
    plate: np.ndarray | None  # (T, H, W, 3) scene-linear plate I
    graded: np.ndarray | None  # (T, H, W, 3) scene-linear graded plate G = T(I)
    edited: np.ndarray | None  # (T, H, W, 3) scene-linear hard composite E
    matte: np.ndarray  # (T, H, W) coarse matte A in 0..1
    band: np.ndarray  # (T, H, W) bool edge band M
    plate_display: np.ndarray | None  # (T, H, W, 3)
    graded_display: np.ndarray | None  # (T, H, W, 3)
    edited_display: np.ndarray | None  # (T, H, W, 3)
    band_pixels: list[float]  # band width in pixels, per frame
    num_local: int = 0  # the first num_local frames are local, the rest global context
    #: False when only the host's composite is known and the grade could not be recovered.
    grade_known: bool = True
    #: One key per frame that names it for as long as the shot runs, unique across shots: what an
    #: engine may cache a frame's work under between windows. None where frames have no identity
    #: (an engine that caches then keys by content).
    frame_keys: list[Hashable] | None = None
    #: Whether the outputs are only ever asked for as this window's (``Window.outputs_alone``): an
    #: engine may lay its work along their bands alone, not the window's every local frame's.
    outputs_alone: bool = False

    @property
    def center(self) -> int:
        """The first output: the target of single-output (classical) engines."""
        return self.outputs[0]

    @property
    def target(self) -> int:
        return self.frame_numbers[self.center]

    @cached_property
    def has_band(self) -> list[bool]:
        """Whether each frame's matte has a band: one off for a frame (empty, or the whole frame)
        has none, and is no evidence of the edge for its neighbours. Found once a window: an engine
        asks for each of its crops."""
        return [bool(band.any()) for band in self.band]

    def part(self, local: Sequence[int], context: Sequence[int] = ()) -> FusionFrames:
        """The window of the local frames ``local`` (in order) and the global frames ``context``
        alone, its outputs those among the local ones: every per-frame input a
        :class:`~.frame_stack.FrameStack` of the same arrays, no copy."""
        local, context = list(local), list(context)
        total = len(self.frame_numbers)
        if not all(0 <= t < self.num_local for t in local) or not all(
            self.num_local <= t < total for t in context
        ):
            raise ValueError(
                f"a window's part takes local frames (0-{self.num_local - 1}) and global ones "
                f"({self.num_local}-{total - 1}), not {local} and {context}"
            )
        indices = local + context
        stacks = {name: getattr(self, name) for name in WINDOW_ARRAYS}
        arrays = {
            name: None if stack is None else FrameStack([stack[t] for t in indices])
            for name, stack in stacks.items()
        }
        part = replace(
            self,
            frame_numbers=[self.frame_numbers[t] for t in indices],
            outputs=[indices.index(t) for t in self.outputs if t in local],
            band_pixels=[self.band_pixels[t] for t in indices],
            num_local=len(local),
            frame_keys=None if self.frame_keys is None else [self.frame_keys[t] for t in indices],
            **arrays,
        )
        part.__dict__["has_band"] = [self.has_band[t] for t in indices]  # found once, for the window
        return part


#: The per-frame arrays of a window: :class:`FusionFrames`' fields stacked over its frames.
WINDOW_ARRAYS = (
    "plate",
    "graded",
    "edited",
    "matte",
    "band",
    "plate_display",
    "graded_display",
    "edited_display",
)
#: Every per-frame input a window can carry (the names of :class:`FusionFrames`' fields).
FRAME_INPUTS = frozenset((*WINDOW_ARRAYS, "band_pixels"))


@dataclass
class FusionResult:
    """What an engine decided for one frame's band (exactly one field set)."""

    alpha: np.ndarray | None = None  # (H, W) refined matte in 0..1
    rgb: np.ndarray | None = None  # (H, W, 3) colours in the display (working) encoding


class Engine(ABC):
    """A fusion engine. Subclasses set ``name`` and implement :meth:`fuse`."""

    name: str = ""
    description: str = ""
    #: Frames needed on each side of the target (single-output engines).
    temporal_radius: int = 0
    #: Recorded in output headers; classical engines have none.
    model: str = "none"
    #: The model files as the engine loaded them (:func:`~..model.checkpoint.model_stamp`): a
    #: server loads a model again, and fuses anew, once they changed. Empty without a model.
    model_stamp: str = ""
    #: The :class:`FusionFrames` inputs this engine reads. The runner prepares only these (each
    #: full-resolution array costs a colour conversion and memory per frame held); an engine
    #: that does not say reads everything.
    inputs: frozenset[str] = FRAME_INPUTS
    #: Whether the engine takes a window's inputs as :class:`~.frame_stack.FrameStack`\ s (a frame,
    #: a range of frames or a crop of every frame; no copy of the window) rather than stacked
    #: arrays: the built-in engines do, an engine that does not say gets arrays.
    takes_frame_stacks: bool = False
    #: Whether the engine takes a ``device`` option: the torch device it computes on (the network's,
    #: or a classical engine's: None there for numpy on the CPU's cores).
    takes_device: bool = False
    #: Whether the engine may decide a band by colours (``FusionResult.rgb``), not only by a
    #: matte; colours need the display encodings for compositing.
    decides_colours: bool = True
    #: False for an engine whose decision is the coarse matte itself: the frame is then the hard
    #: composite, so the runner neither runs the engine nor composites, and no band is computed.
    decides_band: bool = True
    #: Whether the engine filters with scipy's ``ndimage`` (the numpy path of the guided filter):
    #: its import is then started beside the shot's first reads (:mod:`..background_import`).
    filters_with_scipy: bool = False

    def plan(self, clip: list[int], targets: list[int]) -> list[Window]:
        """Windows to run, in order, to decide every frame of ``targets``."""
        return centered_windows(clip, targets, self.temporal_radius)

    def inputs_for(self, grade_known: bool) -> frozenset[str]:
        """The inputs read in a shot whose every frame's grade is known (``grade_known``: a grade
        or a graded plate was given, not only the host's composite); :attr:`inputs` unless an
        engine needs less then."""
        return self.inputs

    def decides_colours_for(self, grade_known: bool) -> bool:
        """Whether the engine may decide by colours in such a shot; :attr:`decides_colours`
        unless an engine decides by a matte alone then."""
        return self.decides_colours

    def fuse_window(self, frames: FusionFrames) -> list[FusionResult]:
        """Decide every output frame of a window; one result per ``frames.outputs``."""
        return [self.fuse(replace(frames, outputs=[index])) for index in frames.outputs]

    @abstractmethod
    def fuse(self, frames: FusionFrames) -> FusionResult:
        """Decide the band of ``frames.target``."""

    def reset(self) -> None:  # noqa: B027 (optional hook)
        """Forget any per-shot state (caches) before a new shot."""
