"""The learned engine: the MovingColor network over sliding windows.

The blend head sees the band at a scale set by the band (:mod:`.band_crops`): the whole frame
at a working resolution (``working_size`` on the long side, or finer when the band is thin and
the frame still fits), or crops along the band when it does not; a crop seen pixel for pixel
gives its matte directly. Otherwise the output reaches the plate's resolution without losing
the plate's detail:

* blend head (grade known): the refined matte is upsampled with a fast guided
  filter steered by the full-resolution plate, then the runner blends the
  full-resolution plate and graded plate through it. A model that starts from
  the guided engine's matte (``matte_start = "guided"``) has only its change to
  that matte upsampled, and added to the guided matte computed at full
  resolution, so an unchanged band is exactly the guided engine's;
* colour head (only the host's composite known and no grade recovered): only
  the network's low-frequency correction of its start (the plate, or the host's
  composite) is upsampled and added to that start at full resolution, so texture
  comes from the full-resolution frame itself.

torch is imported when the engine is created, so the light install (no torch)
can still list it.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable, Sequence
from dataclasses import replace

import numpy as np

from ..color.converted_on_demand import convert_ahead
from ..errors import MovingColorError
from ..lru_cache import LruCache
from ..masks.band import has_edge, occupied_tiles
from ..model.channels import GRADED, MATTE, PLATE
from ..model.device import require_torch, resolve_device
from ..windowing import Window, sliding_windows
from .band_crops import MIN_WORKING_SIDE, SIDE_MULTIPLE, BandCrop, band_crops, band_scale
from .band_refinement import (
    NUMPY_REFINER,
    Tile,
    TileRefinements,
    content_key,
    refine_frames_by_tiles,
    smoothed_band_alpha,
)
from .base import Engine, FusionFrames, FusionResult
from .crisp_edge import crisp_edge
from .frame_stack import FrameStack
from .guided_filter import (
    CHANGE_SIGMA,
    TEMPORAL_RADIUS,
    TEMPORAL_SIGMA,
    neighbours_with_band,
    smooth_over_time,
)
from .guided_upsample import UPSAMPLE_EPS, UPSAMPLE_RADIUS, guided_upsample, guided_upsample_tiles
from .shot_cuts import is_cut, kept_reduction, runs_between_cuts
from .steady_matte import steadied_mattes
from .torch_filters import refiner_on

#: Bytes of the guided start's refinements kept at the network's scale for later windows that see
#: a frame with the same matte on the same crop (a 1080p frame's 12-pixel band crosses 9-14 crops;
#: 196 KB a crop and frame). Global frames, a still band and a window asked for again find them; a
#: scrub's next window does not when the matte is steadied (each window steadies its own) or the
#: band moves (the crops are laid along the window's bands, and move with them).
LOW_STARTS_BYTES = 64 << 20

#: Bytes of the steadied matte's reduced plates and flows kept for later windows: a window of six
#: frames holds about 35 MB of them at any frame size (the flow's frames are at most 640 pixels
#: long), and a scrub's next window shares all but one frame and two flows with it.
FLOWS_BYTES = 64 << 20


def working_shape(height: int, width: int, working_size: int) -> tuple[int, int]:
    """The network's frame size: long side at most ``working_size``, both multiples of 4, neither
    under ``MIN_WORKING_SIDE`` (a tiny or very thin frame is scaled up to it)."""
    scale = min(1.0, working_size / max(height, width))
    return (
        max(MIN_WORKING_SIDE, int(round(height * scale / 4)) * 4),
        max(MIN_WORKING_SIDE, int(round(width * scale / 4)) * 4),
    )


class MovingColorEngine(Engine):
    name = "movingcolor"
    description = "the learned fusion network (a trained model: --model)"
    # The network sees frames in the display encoding only: a frame held for context carries
    # none of the scene-linear copies (over 300 MB a frame at 4K).
    inputs = frozenset({"plate_display", "graded_display", "edited_display", "matte", "band", "band_pixels"})
    takes_frame_stacks = True
    takes_device = True

    def __init__(
        self,
        model: str | None = None,
        device: str = "auto",
        head: str = "auto",
        network=None,
        edge_contrast: float | None = None,
        steady_matte: bool = True,
    ):
        torch = require_torch()
        from ..model.checkpoint import WEIGHTS, load_checkpoint, model_stamp
        from ..model.registry import find_model

        if head not in ("auto", "blend", "color"):
            raise MovingColorError(f"head {head!r} is not known: use auto, blend or color")
        self.device = resolve_device(device)
        #: The weights file, so outputs can record exactly which weights made them.
        self.weights = None
        if network is None:
            folder = find_model(model)
            # Before the files are read: a model replaced while it loads is loaded again next time.
            self.model_stamp = model_stamp(folder)
            loaded = load_checkpoint(folder, self.device)
            network, self.model, self.weights = loaded.network, loaded.name, folder / WEIGHTS
        else:
            self.model = f"untrained {network.config.name}"
        # Channels-last weights: oneDNN's convolutions run ~15% faster on a CPU that way, and
        # tensor cores prefer the layout too.
        self.network = network.to(self.device, memory_format=torch.channels_last).eval()
        self.config = network.config
        if self.device == "cpu":
            _settle_cpu_arithmetic(self.network)
        self.head = head
        #: Whether the blend head starts from the matte steadied over the window's local frames
        #: (:mod:`.steady_matte`) instead of each frame's matte as given.
        self.steady_matte = steady_matte
        # The model's own curve (it may have been trained through it) unless one is asked for.
        self.edge_contrast = network.config.edge_contrast if edge_contrast is None else edge_contrast
        self._torch = torch
        # The full-resolution guided start's band tiles per frame, for the next window that shares
        # the frame: a window's local frames are enough for the stride's overlap.
        # On a GPU they are computed there too; on a CPU numpy's filters are as fast.
        self._refiner = refiner_on(self.device if self.device.startswith("cuda") else None)
        self.filters_with_scipy = self._refiner is NUMPY_REFINER
        self._refinements = TileRefinements(capacity=2 * self.config.local_frames, refiner=self._refiner)
        # Each frame's network input at the working size, for every window that sees the frame
        # (global frames are seen by many): downsizing a full-resolution frame costs more than
        # the network's share of it. Small: about 4.6 MB a frame at the shipped working size.
        self._low_inputs: OrderedDict = OrderedDict()
        self._low_inputs_capacity = 4 * (self.config.local_frames + self.config.max_global_frames)
        self._low_inputs_lock = threading.Lock()
        # The guided start's spatial refinement of each such input (its smoothing over time
        # depends on the window and is not kept): sized for a window's crops along the band, not
        # only for whole frames.
        self._low_starts: LruCache[np.ndarray] = LruCache(LOW_STARTS_BYTES)
        self._flows: LruCache[np.ndarray] = LruCache(FLOWS_BYTES)

    def plan(self, clip: list[int], targets: list[int]) -> list[Window]:
        c = self.config
        return sliding_windows(
            clip, targets, c.local_frames, c.local_stride, c.global_stride, c.max_global_frames
        )

    def inputs_for(self, grade_known: bool) -> frozenset[str]:
        # With every grade known the blend head decides, and the composite it reads outside the
        # band is made from the plate and the graded plate (:meth:`_low_input`).
        return self.inputs - {"edited_display"} if grade_known and self.head != "color" else self.inputs

    def decides_colours_for(self, grade_known: bool) -> bool:
        return self.head == "color" or not grade_known

    def fuse(self, frames: FusionFrames) -> FusionResult:
        index = frames.outputs.index(frames.center)
        return self.fuse_window(frames)[index]

    def _inputs(
        self,
        frames: FusionFrames,
        grade_known: bool,
        size: tuple[int, int],
        region: tuple[slice, slice] = (slice(None), slice(None)),
    ):
        """``(1, T, 11, h, w)`` network input ``[I, E·(1-M), M, G, A]`` of the plate's ``region``
        (the whole frame unless given) resized to ``size``; 12 channels, the coarse matte last, for
        a model that reads it (``coarse_matte_input``).

        Built and downsized one frame at a time, so a 4K window never holds all
        its frames at full resolution with eleven channels.
        """
        torch = self._torch
        # Without a known grade the graded channels carry the visible composite: outside the
        # band only, as in the paper's training, or whole when the colour head refines it.
        if grade_known:
            graded = frames.graded_display
        elif self.config.color_start == "composite":
            graded = frames.edited_display
        else:
            graded = None
        height = len(range(*region[0].indices(frames.plate_display.shape[1])))
        inputs, keys = [], []
        for t in range(len(frames.frame_numbers)):
            key = self._low_input_key(frames, t, graded is None, grade_known, size, region)
            keys.append(key)
            with self._low_inputs_lock:
                x = self._low_inputs.get(key) if key is not None else None
            if x is None:
                x = self._low_input(frames, t, graded, size, region)
                if key is not None:
                    with self._low_inputs_lock:
                        self._low_inputs[key] = x
                        while len(self._low_inputs) > self._low_inputs_capacity:
                            self._low_inputs.popitem(last=False)
            inputs.append(x)
        x = torch.cat(inputs)[None]  # (1, T, 11, h, w), or 12 with the coarse matte
        has_band = frames.has_band[: frames.num_local]
        if grade_known and self.config.matte_start == "guided":
            scale = size[0] / height
            x[0, :, MATTE] = torch.from_numpy(
                self._guided_start(
                    x[0, :, PLATE].permute(0, 2, 3, 1).cpu().numpy(),
                    x[0, :, MATTE][:, 0].cpu().numpy(),
                    [b * scale for b in frames.band_pixels],
                    has_band,
                    keys,
                )
            ).to(self.device)[:, None]
        stand_ins = context_stand_ins(has_band)
        if stand_ins is not None:
            x = x[:, stand_ins + list(range(frames.num_local, x.shape[1]))]
        return x

    def _low_input_key(
        self,
        frames: FusionFrames,
        t: int,
        graded_hidden: bool,
        grade_known: bool,
        size: tuple[int, int],
        region: tuple[slice, slice],
    ) -> Hashable | None:
        """What frame ``t``'s network input of ``region`` at ``size`` is kept under (None where the
        frame has no key)."""
        if frames.frame_keys is None:
            return None
        region_key = tuple((part.start, part.stop) for part in region)
        return (frames.frame_keys[t], graded_hidden, grade_known, size, region_key)

    def _convert_crops_ahead(self, frames: FusionFrames, crops: list[tuple[BandCrop, list[int]]]) -> None:
        """Convert the display encodings the crops read, where the frames convert on demand, on
        every core before the crops run one after another: each frame's crops whose network
        input is not kept from an earlier window, and each decoded frame's crops (their plate
        guides the upsampling)."""
        graded = frames.graded_display
        for t in range(len(frames.frame_numbers)):
            regions, plate_only = [], []
            for crop, decoded in crops:
                region = (crop.rows, crop.cols)
                key = self._low_input_key(frames, t, False, True, crop.size, region)
                with self._low_inputs_lock:
                    kept = key is not None and key in self._low_inputs
                if not kept:
                    regions.append(region)
                elif t in decoded:
                    plate_only.append(region)
            convert_ahead([frames.plate_display[t], None if graded is None else graded[t]], regions)
            convert_ahead([frames.plate_display[t]], plate_only)

    def _low_input(
        self, frames: FusionFrames, t: int, graded, size: tuple[int, int], region: tuple[slice, slice]
    ):
        """Frame ``t``'s ``(1, 11 or 12, h, w)`` network input: its ``region`` at ``size``, each part
        resized on its own (the filter treats channels apart), so no eleven-channel copy of the
        frame is ever made at full resolution (390 MB at 4K)."""
        torch = self._torch
        band = frames.band[t][region].astype(np.float32)[..., None]
        # Each read once: a display encoding converted on demand gives a new array per read.
        plate = frames.plate_display[t][region]
        graded_part = graded[t][region] if graded is not None else None
        if frames.edited_display is not None:
            composite = frames.edited_display[t][region]
        else:
            # Outside the band the matte is 0 or 1 (the band holds every soft pixel), so there the
            # host's composite is the plate or the graded plate, bit for bit; in the band it is
            # hidden. A frame need not carry the composite as a whole array (over 100 MB at 4K).
            inside = frames.matte[t][region][..., None] >= 1.0
            composite = np.where(inside, graded_part, plate)
        hidden = composite * (1.0 - band)
        matte = frames.matte[t][region][..., None]
        parts = (plate, hidden, band, graded_part if graded_part is not None else hidden, matte)
        if self.config.coarse_matte_input:
            # Channel A becomes the guided start (:meth:`_inputs`); this one stays as given.
            parts += (matte,)
        low = []
        for part in parts:
            x = torch.from_numpy(np.ascontiguousarray(part)).permute(2, 0, 1)[None].to(self.device)
            if size != tuple(part.shape[:2]):
                x = torch.nn.functional.interpolate(
                    x, size=size, mode="bilinear", antialias=True, align_corners=False
                )
            low.append(x)
        return torch.cat(low, dim=1)  # channels in model.channels' order

    def _full_resolution_start(self, frames: FusionFrames, tiles: list[list[Tile]]) -> dict[int, np.ndarray]:
        """The guided engine's matte for each output frame at full resolution, computed on its band's
        ``tiles`` only (elsewhere the coarse matte, which the composite keeps there anyway): each
        frame refined spatially, then averaged over time with its local neighbours. A window with
        one output (a host's scrub) refines only that frame's neighbourhood."""
        local = frames.num_local

        def near(center: int) -> list[int]:
            around = range(max(0, center - TEMPORAL_RADIUS), min(local, center + TEMPORAL_RADIUS + 1))
            return neighbours_with_band(center, around, frames.has_band)

        # A frame's refinement is wanted on its own band's tiles and its neighbours'.
        wanted: list[set[Tile]] = [set() for _ in range(local)]
        for center in frames.outputs:
            for t in near(center):
                wanted[t].update(tiles[center])
        refined: list[dict[Tile, np.ndarray]] = []
        for t in range(local):
            if not wanted[t]:
                refined.append({})
                continue
            plate, matte, band_pixels = frames.plate_display[t], frames.matte[t], frames.band_pixels[t]
            keys = frames.frame_keys
            key = content_key(plate, matte, band_pixels) if keys is None else keys[t]
            refined.append(self._refinements.tiles(key, plate, matte, band_pixels, sorted(wanted[t])))
        starts = {}
        for center in frames.outputs:
            frames_near = near(center)
            starts[center] = smoothed_band_alpha(
                frames.matte[center],
                frames.band[center],
                [frames.plate_display[t] for t in frames_near],
                [refined[t] for t in frames_near],
                frames_near.index(center),
                TEMPORAL_SIGMA,
                CHANGE_SIGMA,
                self._refiner.average,
                [frames.frame_numbers[t] - frames.frame_numbers[center] for t in frames_near],
            )
        return starts

    def _guided_start(
        self,
        plates: np.ndarray,
        mattes: np.ndarray,
        band_pixels: list[float],
        has_band: list[bool],
        keys: list[Hashable | None],
    ):
        """The guided engine's mattes ``(T, H, W)``: smoothed over time among the local
        (consecutive) frames (``has_band``, each one's: those whose matte has a band); the global
        frames, far apart in time, are refined alone. A frame's
        spatial refinement depends on its network input alone: it is kept under that input's
        ``keys`` entry for the next window that sees the frame (a host's scrub sends four of
        five frames again)."""
        refined: list[np.ndarray | None] = [
            None if key is None else self._low_starts.get(key) for key in keys
        ]
        missing = [t for t, values in enumerate(refined) if values is None]
        if missing:
            computed = refine_frames_by_tiles(
                plates[missing], mattes[missing], [band_pixels[t] for t in missing]
            )
            for t, values in zip(missing, computed, strict=True):
                refined[t] = values
                if keys[t] is not None:
                    values.flags.writeable = False  # shared with later windows
                    self._low_starts.put(keys[t], values, values.nbytes)
        local = len(has_band)
        head = smooth_over_time(refined[:local], plates[:local], has_band=has_band)
        return np.concatenate([head, np.asarray(refined[local:], np.float32).reshape(-1, *mattes.shape[1:])])

    def fuse_window(self, frames: FusionFrames) -> list[FusionResult]:
        """The window's decisions; a refined matte's edge made as crisp as the plate's
        (:mod:`.crisp_edge`), as the guided engine's is, so a network that leaves its guided start
        unchanged gives that engine's matte. A window that spans a cut (:mod:`.shot_cuts`) is
        decided shot by shot, each of its outputs among its own shot's frames alone."""
        decided: dict[int, FusionResult] = {}
        for part, outputs in _parts_between_cuts(frames, self._flows):
            decided.update(zip(outputs, self._decide_window(part), strict=True))
        return [
            result
            if result.alpha is None
            # A soft matte without an edge (0.5 over the whole frame) gives the network no context
            # and nothing to fuse: it returned nothing graded; the matte stands, as in every engine.
            else FusionResult(alpha=np.array(frames.matte[index], np.float32))
            if not has_edge(frames.matte[index])
            else FusionResult(alpha=crisp_edge(result.alpha, frames.band[index], self.edge_contrast))
            for index, result in ((index, decided[index]) for index in frames.outputs)
        ]

    def _decide_window(self, frames: FusionFrames) -> list[FusionResult]:
        torch = self._torch
        grade_known = frames.grade_known if self.head == "auto" else self.head == "blend"
        head = "blend" if grade_known else "color"
        local = frames.num_local
        height, width = frames.plate_display.shape[1:3]
        size = working_shape(height, width, self.config.working_size)
        if head == "blend":
            if self.steady_matte:
                frames = _with_steadied_mattes(frames, self._flows)
            scale = band_scale(frames.band_pixels[:local], height, width, self.config.working_size)
            if max(height, width) * scale > self.config.working_size + SIDE_MULTIPLE:
                return self._fuse_band_crops(frames, scale)
            # The band's scale may be finer than the frame's working scale, and the frame still
            # fits the network whole at it.
            size = working_shape(height, width, round(max(height, width) * scale))
        x = self._inputs(frames, grade_known, size)
        with torch.inference_mode():
            y = self._run_network(x, local, head, frames.outputs)  # (outputs, 1 or 3, h, w)
            low_plate = x[0, :local, PLATE].float()  # (local, 3, h, w)
            # The colour head's start at the working size: the plate, or the host's composite.
            colour_start_low = (
                x[0, :local, GRADED].float() if self.config.color_start == "composite" else low_plate
            )
            full_size = tuple(frames.plate_display.shape[1:3])
            same_size = tuple(y.shape[-2:]) == full_size
            guided_start = head == "blend" and self.config.matte_start == "guided"
            if guided_start and not same_size:
                band_tiles = _output_band_tiles(frames)
                start_full = self._full_resolution_start(frames, band_tiles)
            results = []
            for position, index in enumerate(frames.outputs):
                if guided_start and not same_size:
                    # Only the network's change to the guided matte is upsampled, and only where
                    # the composite reads it: on the band's tiles.
                    change = y[position : position + 1] - x[0, index : index + 1, MATTE].float()
                    alpha = start_full[index]
                    upsampled = guided_upsample_tiles(
                        low_plate[index : index + 1],
                        change,
                        frames.plate_display[index],
                        band_tiles[index],
                    )
                    for (top, left, bottom, right), values in upsampled.items():
                        part = alpha[top:bottom, left:right]
                        alpha[top:bottom, left:right] = np.clip(part + values, 0.0, 1.0)
                    results.append(FusionResult(alpha=alpha))
                    continue
                plate_full = (
                    torch.from_numpy(np.asarray(frames.plate_display[index]))
                    .permute(2, 0, 1)[None]
                    .to(self.device)
                )
                if head == "blend":
                    alpha = y[position : position + 1]
                    if not same_size:
                        alpha = guided_upsample(
                            low_plate[index : index + 1], alpha, plate_full, UPSAMPLE_RADIUS, UPSAMPLE_EPS
                        )
                    alpha = alpha[0, 0].clamp(0.0, 1.0).cpu().numpy()
                    results.append(FusionResult(alpha=alpha.astype(np.float32)))
                else:
                    # Only the network's low-frequency correction of its start is upsampled:
                    # texture comes from the full-resolution start (the plate or the composite).
                    base = plate_full
                    if self.config.color_start == "composite":
                        base = (
                            torch.from_numpy(frames.edited_display[index])
                            .permute(2, 0, 1)[None]
                            .to(self.device)
                        )
                    correction = y[position : position + 1] - colour_start_low[index : index + 1]
                    if not same_size:
                        correction = torch.nn.functional.interpolate(
                            correction, size=full_size, mode="bilinear", align_corners=False
                        )
                    rgb = (base + correction)[0].clamp(0.0, 1.0).permute(1, 2, 0).cpu().numpy()
                    results.append(FusionResult(rgb=rgb.astype(np.float32)))
        return results

    def _run_network(self, x, local: int, head: str, outputs: list[int]):
        """The network's ``(len(outputs), 1 or 3, h, w)`` output for input ``x`` ``(1, T, C, h, w)``:
        the local frames ``outputs``, in that order."""
        torch = self._torch
        # Inference mode, not only no_grad: no version counters or views tracked (~15% on a CPU).
        with torch.inference_mode():
            if self.device.startswith("cuda"):
                with torch.autocast("cuda", dtype=torch.bfloat16):
                    return self.network(x, local, head, outputs)[0].float()
            return self.network(x, local, head, outputs)[0].float()

    def _fuse_band_crops(self, frames: FusionFrames, scale: float) -> list[FusionResult]:
        """The blend head on crops along the band at the band's ``scale`` (``band_crops``): each
        output frame's matte is the network's on the kept cores of the crops holding its band,
        and the coarse matte elsewhere (where the composite does not read it). A crop is seen
        resampled (``FINEST_SCALE`` at the finest), and the network's change is upsampled onto the
        full-resolution guided start, as the whole-frame path does."""
        torch = self._torch
        local = frames.num_local
        # The cores are laid along every local frame's band, not the outputs' alone, so a frame's
        # crops do not depend on which of the window's frames are asked for (a shot fused in
        # chunks equals the shot fused whole); a crop whose core no output's band crosses is not
        # run. Outputs asked for alone (a host's window for one frame) have them laid along their
        # own bands: a 1080p scrub's target crosses 8-9 crops where the window's bands cross 10-15.
        laid_along = frames.outputs if frames.outputs_alone else range(local)
        union = np.zeros(frames.band[0].shape, bool)
        for t in laid_along:
            union |= frames.band[t]
        # Each crop with the outputs whose band crosses its core: the frames it decodes.
        crops = []
        for crop in band_crops(union, scale):
            decoded = [
                index for index in frames.outputs if frames.band[index][crop.core_rows, crop.core_cols].any()
            ]
            if decoded:
                crops.append((crop, decoded))
        self._convert_crops_ahead(frames, crops)
        # Where no crop decodes a frame, its band is absent: the coarse matte, which the composite
        # does not read there.
        guided_start = self.config.matte_start == "guided"
        if guided_start and crops:
            # Each frame's guided start (a fresh full-frame array, the coarse matte off the band) is
            # where its crops' cores are written: each core once, read just before. A second
            # full-frame array per output would be 200 MB more for a 4K window.
            alphas = self._full_resolution_start(frames, _output_band_tiles(frames))
        else:
            alphas = {index: np.array(frames.matte[index], np.float32) for index in frames.outputs}
        # Each output's pieces: where a crop's output is used, its weights there and the network's
        # change (its matte, without a guided start), cross-faded where the crops' cores meet.
        pieces: dict[int, list[tuple[tuple[slice, slice], np.ndarray, np.ndarray]]] = {
            index: [] for index in frames.outputs
        }
        for crop, decoded in crops:
            # A moving object's bands cross different cores frame by frame (a 1080p window of six
            # frames, 12-pixel band: 10-13 crops each, 18 together): a crop decodes only the frames
            # whose band crosses its core; the others are still its context.
            region = (crop.rows, crop.cols)
            x = self._inputs(frames, True, crop.size, region)
            y = self._run_network(x, local, "blend", decoded)  # (decoded, 1, h, w)
            used, weights = crop.blend_weights()
            kept = crop.in_crop(used)
            for position, index in enumerate(decoded):
                plate = np.ascontiguousarray(frames.plate_display[index][region])
                plate_full = torch.from_numpy(plate).permute(2, 0, 1)[None].to(self.device)
                source = y[position : position + 1]
                if guided_start:
                    source = source - x[0, index : index + 1, MATTE].float()
                low_plate = x[0, index : index + 1, PLATE].float()
                upsampled = guided_upsample(low_plate, source, plate_full, UPSAMPLE_RADIUS, UPSAMPLE_EPS)
                pieces[index].append((used, weights, upsampled[0, 0].cpu().numpy()[kept]))
        for index in frames.outputs:
            _blend_pieces(alphas[index], pieces.pop(index), guided_start)
        return [FusionResult(alpha=alphas[index]) for index in frames.outputs]


def context_stand_ins(has_band: Sequence[bool]) -> list[int] | None:
    """For each local frame of a window, the frame the network is shown in its place: itself where
    its matte has a band, else the nearest frame that has one (the earlier of two as near), or None
    where every frame has a band (or none has). A matte off for a frame (empty, or the whole frame)
    is no evidence of the edge, and shown as it was it spoiled the window's other frames through
    the transformer (a full matte at one frame of a real clip took the grade's halo outside the
    object from 0.02-0.03 to 0.11-0.14 in the five frames after it). Such a frame has no band, so
    nothing of it is decided: its own output is the composite whatever the network sees."""
    with_band = [t for t, present in enumerate(has_band) if present]
    if not with_band or len(with_band) == len(has_band):
        return None
    return [t if has_band[t] else min(with_band, key=lambda s: (abs(s - t), s)) for t in range(len(has_band))]


def _parts_between_cuts(frames: FusionFrames, cache: LruCache) -> list[tuple[FusionFrames, list[int]]]:
    """The window's parts to decide, each with its outputs (indices into ``frames``): the window
    itself where its local frames are one shot; else the local frames of each shot that holds an
    output (:mod:`.shot_cuts`), with the global frames that may be of the same shot (sampled across
    the clip, they may be of any of its shots). The frames' reductions are kept in ``cache``."""
    local, total = frames.num_local, len(frames.frame_numbers)
    if local < 2:
        return [(frames, list(frames.outputs))]
    keys = frames.frame_keys or [None] * total
    lows = [kept_reduction(frames.plate_display[t], keys[t], cache) for t in range(local)]
    runs = runs_between_cuts(lows)
    if len(runs) == 1:
        # Global frames far apart in one shot may score as a cut (a pan's frames ten apart): a
        # window whose own frames are one shot keeps them all.
        return [(frames, list(frames.outputs))]

    def nearest(run: range, t: int) -> np.ndarray:
        return lows[run[0] if frames.frame_numbers[t] < frames.frame_numbers[run[0]] else run[-1]]

    context = {t: kept_reduction(frames.plate_display[t], keys[t], cache) for t in range(local, total)}
    parts = []
    for run in runs:
        outputs = [index for index in frames.outputs if index in run]
        if outputs:
            kept = [t for t, low in context.items() if not is_cut(low, nearest(run, t))]
            parts.append((frames.part(run, kept), outputs))
    return parts


def _blend_pieces(
    alpha: np.ndarray, pieces: list[tuple[tuple[slice, slice], np.ndarray, np.ndarray]], change: bool
) -> None:
    """Write the crops' ``pieces`` (plate region, weights, values) into ``alpha`` ``(H, W)`` where any
    covers it: their weighted mean, added to ``alpha`` there when they are a ``change`` to it, clipped
    to 0..1. Summed over the pieces' bounding box alone, one output at a time."""
    if not pieces:
        return
    top = min(region[0].start for region, _, _ in pieces)
    left = min(region[1].start for region, _, _ in pieces)
    bottom = max(region[0].stop for region, _, _ in pieces)
    right = max(region[1].stop for region, _, _ in pieces)
    total = np.zeros((bottom - top, right - left), np.float32)
    weight = np.zeros_like(total)
    for (rows, cols), weights, values in pieces:
        inside = (slice(rows.start - top, rows.stop - top), slice(cols.start - left, cols.stop - left))
        total[inside] += weights * values
        weight[inside] += weights
    covered = weight > 0
    box = alpha[top:bottom, left:right]
    blended = total[covered] / weight[covered]
    box[covered] = np.clip(box[covered] + blended if change else blended, 0.0, 1.0)


#: The side of the frames the network is run on once when it is loaded (:func:`_settle_cpu_arithmetic`):
#: large enough for MKL to split its work among threads.
SETTLE_SIDE = 64


def _settle_cpu_arithmetic(network) -> None:
    """Run ``network`` once on a small blank window and drop the result.

    The first network call of a process on a CPU with more than one core sometimes gives numbers
    that differ from every later call with the same input (up to 4e-5 in a matte, measured with
    the shipped model at 224x224: 4 of 6 processes; one thread, ``MKL_NUM_THREADS=1``, never):
    MKL's threads settle on that first call. A window fused first and the same window fused again
    then differed, so a host's frames and the same frames asked again did not match to the bit.
    After one call, of any size that uses the threads, every call repeats exactly."""
    import torch

    c = network.config
    blank = torch.zeros(1, 1, c.in_channels, SETTLE_SIDE, SETTLE_SIDE).contiguous()
    with torch.inference_mode():
        network(blank, 1, "blend")


def _with_steadied_mattes(frames: FusionFrames, flows: LruCache) -> FusionFrames:
    """``frames`` with the local frames' mattes steadied over time (:mod:`.steady_matte`); the
    global frames, far apart in time, keep theirs. A steadied matte depends on its window's local
    frames, so its key names them all: a window that shares the frame with different neighbours
    computes its own inputs. The flows between named frames are kept in ``flows`` for the windows
    that share them."""
    local = frames.num_local
    keys = frames.frame_keys
    steadied = steadied_mattes(
        frames.matte[:local],
        frames.plate_display[:local],
        frames.band[:local],
        frames.band_pixels[:local],
        keys=None if keys is None else keys[:local],
        flows=flows,
    )
    mattes = FrameStack(steadied + [frames.matte[t] for t in range(local, len(frames.frame_numbers))])
    if keys is not None:
        context = tuple(keys[:local])
        keys = [("steadied", key, context) for key in keys[:local]] + list(keys[local:])
    return replace(frames, matte=mattes, frame_keys=keys)


def _output_band_tiles(frames: FusionFrames) -> list[list[Tile]]:
    """Each local frame's band tiles where it is an output; none where it is context alone."""
    outputs = set(frames.outputs)
    return [occupied_tiles(frames.band[t]) if t in outputs else [] for t in range(frames.num_local)]


ENGINE = MovingColorEngine
