"""The learned engine: the MovingColor network over sliding windows.

The network runs at a working resolution (``working_size`` on the long side).
Its output reaches the plate's resolution without losing the plate's detail:

* blend head (grade known): the refined matte is upsampled with a fast guided
  filter steered by the full-resolution plate, then the runner blends the
  full-resolution plate and graded plate through it;
* colour head (only the host's composite known and no grade recovered): only
  the network's low-frequency correction of the plate is upsampled and added to
  the full-resolution plate, so texture comes from the plate itself.

torch is imported when the engine is created, so the light install (no torch)
can still list it.
"""

from __future__ import annotations

import numpy as np

from ..errors import MissingDependencyError, MovingColorError
from ..windowing import Window, sliding_windows
from .base import Engine, FusionFrames, FusionResult
from .guided import guided_coefficients

# Guided upsampling: window radius at the working resolution, and regularisation.
UPSAMPLE_RADIUS = 2
UPSAMPLE_EPS = 1e-4


def _torch():
    try:
        import torch
    except ImportError as error:
        raise MissingDependencyError(
            "the movingcolor engine needs torch: pip install 'movingcolor[server]'"
        ) from error
    return torch


def resolve_device(device: str) -> str:
    torch = _torch()
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device not in ("cpu", "cuda") and not device.startswith("cuda:"):
        raise MovingColorError(f"device {device!r} is not known: use auto, cpu or cuda")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise MovingColorError("--device cuda: no CUDA GPU is available here; use --device cpu")
    return device


def working_shape(height: int, width: int, working_size: int) -> tuple[int, int]:
    """The network's frame size: long side at most ``working_size``, both multiples of 4."""
    scale = min(1.0, working_size / max(height, width))
    return max(4, int(round(height * scale / 4)) * 4), max(4, int(round(width * scale / 4)) * 4)


class MovingColorEngine(Engine):
    name = "movingcolor"
    description = "the learned fusion network (a trained model: --model)"

    def __init__(self, model: str | None = None, device: str = "auto", head: str = "auto", network=None):
        torch = _torch()
        from ..model.registry import load_model

        if head not in ("auto", "blend", "color"):
            raise MovingColorError(f"head {head!r} is not known: use auto, blend or color")
        self.device = resolve_device(device)
        if network is None:
            loaded = load_model(model, self.device)
            network, self.model = loaded.network, loaded.name
        else:
            self.model = f"untrained {network.config.name}"
        self.network = network.to(self.device).eval()
        self.config = network.config
        self.head = head
        self._torch = torch

    def plan(self, clip: list[int], targets: list[int]) -> list[Window]:
        c = self.config
        return sliding_windows(
            clip, targets, c.local_frames, c.local_stride, c.global_stride, c.max_global_frames
        )

    def fuse(self, frames: FusionFrames) -> FusionResult:
        index = frames.outputs.index(frames.center)
        return self.fuse_window(frames)[index]

    def _inputs(self, frames: FusionFrames, grade_known: bool):
        """``(1, T, 11, h, w)`` network input ``[I, E·(1-M), M, G, A]`` at the working size."""
        torch = self._torch
        band = frames.band.astype(np.float32)[..., None]
        graded = frames.graded_display if grade_known else frames.edited_display
        stacked = np.concatenate(
            [
                frames.plate_display,
                frames.edited_display * (1.0 - band),
                band,
                graded,
                frames.matte[..., None],
            ],
            axis=-1,
        )  # (T, H, W, 11)
        x = (
            torch.from_numpy(np.ascontiguousarray(stacked)).permute(0, 3, 1, 2).to(self.device)
        )  # (T, 11, H, W)
        height, width = x.shape[-2:]
        size = working_shape(height, width, self.config.working_size)
        if size != (height, width):
            x = torch.nn.functional.interpolate(
                x, size=size, mode="bilinear", antialias=True, align_corners=False
            )
        return x[None]

    def _upsample(self, maps: np.ndarray, size: tuple[int, int]) -> np.ndarray:
        """Bilinear ``(h, w, C) -> (H, W, C)``."""
        torch = self._torch
        tensor = torch.from_numpy(np.ascontiguousarray(maps)).permute(2, 0, 1)[None]
        out = torch.nn.functional.interpolate(tensor, size=size, mode="bilinear", align_corners=False)
        return out[0].permute(1, 2, 0).numpy()

    def fuse_window(self, frames: FusionFrames) -> list[FusionResult]:
        torch = self._torch
        grade_known = frames.grade_known if self.head == "auto" else self.head == "blend"
        head = "blend" if grade_known else "color"
        x = self._inputs(frames, grade_known)
        local = frames.num_local
        with torch.no_grad():
            if self.device.startswith("cuda"):
                with torch.autocast("cuda", dtype=torch.bfloat16):
                    y = self.network(x, local, head)
            else:
                y = self.network(x, local, head)
        y = y[0].float().cpu().numpy()  # (local, 1 or 3, h, w)
        low_plate = x[0, :local, 0:3].float().cpu().numpy()  # (local, 3, h, w)
        full_size = frames.plate_display.shape[1:3]
        same_size = y.shape[-2:] == full_size
        results = []
        for index in frames.outputs:
            plate_full = frames.plate_display[index]
            if head == "blend":
                alpha = y[index, 0]
                if not same_size:
                    guide = low_plate[index].transpose(1, 2, 0)
                    slope, offset = guided_coefficients(guide, alpha, UPSAMPLE_RADIUS, UPSAMPLE_EPS)
                    coefficients = self._upsample(np.concatenate([slope, offset[..., None]], -1), full_size)
                    alpha = (coefficients[..., :3] * plate_full).sum(-1) + coefficients[..., 3]
                results.append(FusionResult(alpha=np.clip(alpha, 0.0, 1.0).astype(np.float32)))
            else:
                correction = (y[index] - low_plate[index]).transpose(1, 2, 0)
                if not same_size:
                    correction = self._upsample(correction, full_size)
                results.append(
                    FusionResult(rgb=np.clip(plate_full + correction, 0.0, 1.0).astype(np.float32))
                )
        return results


ENGINE = MovingColorEngine
