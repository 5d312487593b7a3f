"""The classical engines' filters in torch, on the engine's device.

The guided filter's refinement (:mod:`.guided_filter`), its temporal average and the feathered
matte's Gaussian, computed on batches of band tiles by torch wherever the engine runs: a CUDA GPU
fuses every engine there. Each agrees with the numpy path (scipy's box filters, the feather's
matrix products) to float32 rounding, edges included: the box and the Gaussian treat a crop's edges
as scipy's ``reflect`` and ``nearest`` modes do.

On a CPU the numpy path is used (:func:`compute_device`): it is as fast on band tiles, and a run of
a classical engine there never pays torch's import (seconds).
"""

from __future__ import annotations

import numpy as np

from ..color.symmetric3 import PAIRS, regularised, solve_symmetric3
from ..errors import MissingDependencyError, MovingColorError
from ..model.device import no_gpu_to_ask_torch_for, resolve_device
from .band_refinement import NUMPY_REFINER, Refiner
from .gaussian import gaussian_reach, gaussian_taps
from .guided_filter import refine_radius


def compute_device(device: str | None) -> str | None:
    """The torch device a classical engine computes on for the ``device`` setting (auto, cpu, cuda,
    cuda:N), or None for numpy on the CPU's cores: ``cuda`` as asked, ``auto`` when torch is
    installed and a CUDA GPU is present, ``cpu`` (and a machine without a GPU) numpy."""
    if device in (None, "", "cpu"):
        return None
    if device == "auto":
        # Only a machine with a GPU driver can have one: elsewhere torch is not even imported.
        if no_gpu_to_ask_torch_for():
            return None
        try:
            import torch
        except ImportError:
            return None
        return resolve_device("cuda") if torch.cuda.is_available() else None
    if not device.startswith("cuda"):
        raise MovingColorError(f"device {device!r} is not known: use auto, cpu or cuda")
    try:
        import torch  # noqa: F401
    except ImportError as error:
        raise MissingDependencyError(
            f"--device {device} needs torch: pip install 'movingcolor[server]', or use --device cpu"
        ) from error
    return resolve_device(device)


def _symmetric_indices(size: int, radius: int, device):
    """Indices of an axis of ``size`` widened by ``radius`` each side, mirrored about its edges with
    the edge pixel repeated (scipy's ``reflect``), repeating for a radius beyond the axis."""
    import torch

    index = torch.remainder(torch.arange(-radius, size + radius, device=device), 2 * size)
    return torch.where(index >= size, 2 * size - 1 - index, index)


def box_mean(x, radius: int):
    """Mean over ``(2r+1)²`` windows of ``(N, C, H, W)``, edges reflected as scipy's
    ``uniform_filter(mode="reflect")``; running sums, so the cost does not grow with the radius."""
    import torch

    height, width = x.shape[-2:]
    size = 2 * radius + 1
    x = x.index_select(-2, _symmetric_indices(height, radius, x.device))
    x = x.index_select(-1, _symmetric_indices(width, radius, x.device))
    # Summed in float64, as scipy sums: a window's sum is the difference of two running totals over
    # the whole row, and in float32 their rounding grew with the row's length (1e-5 at 4,000 pixels,
    # beyond the agreement with numpy promised above). Pooling each window on its own in float32
    # was as exact, but slower at every radius measured (1.4-2x at 2-8 pixels on a CPU) and its
    # cost grows with the radius, which a percentage band makes hundreds of pixels at 4K.
    dtype, x = x.dtype, x.to(torch.float64)
    for axis in (-2, -1):
        sums = x.cumsum(axis)
        first = sums.narrow(axis, size - 1, 1)
        count = sums.shape[axis] - size
        x = torch.cat([first, sums.narrow(axis, size, count) - sums.narrow(axis, 0, count)], axis)
    return (x / (size * size)).to(dtype)


def guided_coefficients(guide, source, radius: int, eps: float, box=box_mean):
    """The colour guided filter's smoothed linear model ``q = sum(slope·guide) + offset`` in torch:
    ``guide (N, 3, H, W)`` and ``source (N, 1, H, W)`` give ``(N, 4, H, W)``, three slopes and an
    offset, each averaged by ``box`` (:func:`.guided_filter.guided_coefficients` in numpy)."""
    import torch

    mean_guide = box(guide, radius)
    mean_source = box(source, radius)
    cross = box(guide * source, radius) - mean_guide * mean_source  # (N, 3, H, W)
    products = torch.cat([guide[:, i : i + 1] * guide[:, j : j + 1] for i, j in PAIRS], dim=1)
    covariance = box(products, radius)
    entries = [covariance[:, k] - mean_guide[:, i] * mean_guide[:, j] for k, (i, j) in enumerate(PAIRS)]
    rhs = tuple(cross[:, i] for i in range(3))
    slope = torch.stack(solve_symmetric3(regularised(entries, eps), rhs), dim=1)
    offset = mean_source - (slope * mean_guide).sum(1, keepdim=True)
    return box(torch.cat([slope, offset], dim=1), radius)


def refine_mattes_on(device: str):
    """:func:`.guided_filter.refine_matte` computed by torch on ``device``: the same signature,
    numpy in and out (a batch ``(N, H, W, 3)``, ``(N, H, W)``)."""

    def refine(guide: np.ndarray, matte: np.ndarray, band_pixels: float, eps: float) -> np.ndarray:
        import torch

        with torch.inference_mode():
            guides = torch.from_numpy(np.ascontiguousarray(guide)).to(device).movedim(-1, -3)
            mattes = torch.from_numpy(np.ascontiguousarray(matte, np.float32)).to(device)[..., None, :, :]
            flat_guides = guides.reshape(-1, *guides.shape[-3:])
            flat_mattes = mattes.reshape(-1, *mattes.shape[-3:])
            model = guided_coefficients(flat_guides, flat_mattes, refine_radius(band_pixels), eps)
            refined = (model[:, :3] * flat_guides).sum(1) + model[:, 3]
            return refined.clamp(0.0, 1.0).reshape(matte.shape).cpu().numpy()

    return refine


def temporal_average_on(device: str):
    """:func:`.guided_filter.temporal_average` computed by torch on ``device``: the same signature,
    numpy in and out."""

    def average(
        refined: list[np.ndarray], guides, center: int, sigma: float, change_sigma: float, offsets=None
    ) -> np.ndarray:
        import torch

        with torch.inference_mode():
            mattes = torch.from_numpy(np.stack(refined).astype(np.float32, copy=False)).to(device)
            plates = torch.from_numpy(np.stack(list(guides)).astype(np.float32, copy=False)).to(device)
            if offsets is None:
                offsets = torch.arange(len(refined), device=device, dtype=torch.float32) - center
            else:
                offsets = torch.tensor(list(offsets), device=device, dtype=torch.float32)
            change = ((plates - plates[center]) ** 2).sum(-1)
            shape = (-1,) + (1,) * (change.ndim - 1)
            weights = torch.exp(-0.5 * (offsets / sigma).reshape(shape) ** 2 - 0.5 * change / change_sigma**2)
            return ((weights * mattes).sum(0) / weights.sum(0)).cpu().numpy()

    return average


def refiner_on(device: str | None) -> Refiner:
    """The band refinement by torch on ``device``, or numpy's where it is None."""
    return NUMPY_REFINER if device is None else torch_refiner(device)


def torch_refiner(device: str) -> Refiner:
    """The guided refinement and its temporal average by torch on ``device``, each batch whole (the
    device parallelises it)."""
    return Refiner(refine_mattes_on(device), temporal_average_on(device), split=False)


def gaussian_blur_on(crops: np.ndarray, sigma: float, truncate: float, device: str) -> np.ndarray:
    """``crops (N, H, W)`` blurred by a Gaussian of ``sigma`` on the two image axes, reaching
    ``truncate`` sigmas, edges repeated: scipy's ``gaussian_filter(mode="nearest")``, by torch on
    ``device``."""
    import torch
    import torch.nn.functional as F

    reach = gaussian_reach(sigma, truncate)
    taps = gaussian_taps(sigma, truncate)
    with torch.inference_mode():
        # In double precision, as numpy's matrix products sum: a plateau of the matte stays its value
        # to the bit. A sum of shifted copies, not a convolution: cuDNN convolves float32 in TF32
        # on recent GPUs (a tenth of float32's precision: 2e-4 off numpy's blur).
        x = torch.from_numpy(np.ascontiguousarray(crops, np.float32)).to(device)[:, None].double()
        x = _blur_along(F.pad(x, (0, 0, reach, reach), mode="replicate"), taps, 2)
        x = _blur_along(F.pad(x, (reach, reach, 0, 0), mode="replicate"), taps, 3)
        return x[:, 0].float().cpu().numpy()


def _blur_along(padded, taps: np.ndarray, dim: int):
    """``padded`` (its ``dim`` longer by the taps' reach each side) blurred along ``dim`` by ``taps``:
    the taps' sum of its copies shifted by each tap."""
    size = padded.shape[dim] - (len(taps) - 1)
    blurred = padded.narrow(dim, 0, size) * float(taps[0])
    for shift in range(1, len(taps)):
        blurred.add_(padded.narrow(dim, shift, size), alpha=float(taps[shift]))
    return blurred
