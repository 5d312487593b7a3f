"""Fusion metrics. Images are display-encoded (sRGB-encoded, 0..1) float arrays
``(H, W, 3)``; clips are ``(T, H, W, 3)``; ``region`` masks are boolean ``(H, W)``.

Formulas and sources:

* **PSNR** = 10·log10(1 / MSE) over the region (peak 1.0); infinite when identical.
* **SSIM** (Wang et al. 2004) from scikit-image, 7×7 Gaussian-free windows, averaged over
  the region of its per-pixel map.
* **ΔE2000** (CIEDE2000, Sharma et al. 2005) from scikit-image on CIELAB (D65) of the
  sRGB-encoded values; mean over the region (``delta_e2000_map``: per pixel, for pictures).
* **TD**, texture difference: mean over the region of |HP(Y_result) − HP(Y_reference)|,
  Y the Rec.709 luma of the encoded values and HP(Y) = Y − Gaussian(Y, σ = 2 px). It
  measures detail lost or invented, insensitive to smooth colour changes. ×100 in tables.
* **E_warp** (Lai et al., ECCV 2018): the mean over consecutive pairs of
  Σ M·‖O_t − warp(O_{t+1})‖² / Σ M, with the flow computed on the *input* frames from
  t to t+1 by OpenCV's DIS optical flow (FlowNet2 weights are unavailable), backward
  warping, and M the non-occluded pixels of a forward-backward consistency check
  (Sundaram et al. 2010), within the region. ×10³ in tables.
* **E_warp of the error**, where the truth is known: E_warp of O − G (output minus
  truth) with the same flows. Plain E_warp has a floor at the truth's own value (the
  scene's real change, and flow errors), and an engine that blurs over time can go below
  it; warping is linear, so this is ‖(O_t − warp O_{t+1}) − (G_t − warp G_{t+1})‖²: only
  temporal change that the truth does not have counts, the flicker of the error. The same
  reasoning as the reference-based temporal metrics of video super-resolution (tOF, tLP;
  Chu et al., TecoGAN 2020). ×10³ in tables.
* **PC-PSNR / PC-SSIM**, patch consistency (Gupta et al. 2017, as the DEVIL benchmark
  computes it): per frame a 50×50 patch is drawn (here centred on a region pixel), the
  most similar 50×50 patch of the next output frame is searched within ±20 px, and the
  PSNR and SSIM of that pair are averaged over frames.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from ..color.difference import delta_e2000

__all__ = [
    "delta_e2000",
    "delta_e2000_map",
    "flow_warping_error",
    "input_flows",
    "patch_consistency",
    "psnr",
    "ssim",
    "texture_difference",
]

_LUMA = np.array([0.2126, 0.7152, 0.0722], np.float32)


def delta_e2000_map(result: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Per-pixel CIEDE2000, ``(H, W)``: the values whose mean over a region ``delta_e2000`` gives,
    for showing where an error is rather than how large it is on average."""
    from skimage.color import deltaE_ciede2000, rgb2lab

    return deltaE_ciede2000(rgb2lab(np.clip(result, 0, 1)), rgb2lab(np.clip(reference, 0, 1)))


def _region(image: np.ndarray, region: np.ndarray | None) -> np.ndarray:
    return np.ones(image.shape[:2], bool) if region is None else region


def psnr(result: np.ndarray, reference: np.ndarray, region: np.ndarray | None = None) -> float:
    mask = _region(result, region)
    if not mask.any():
        return float("nan")
    mse = float(np.mean((result[mask].astype(np.float64) - reference[mask]) ** 2))
    return float("inf") if mse == 0 else 10.0 * np.log10(1.0 / mse)


def ssim(result: np.ndarray, reference: np.ndarray, region: np.ndarray | None = None) -> float:
    from skimage.metrics import structural_similarity

    mask = _region(result, region)
    if not mask.any():
        return float("nan")
    _, full = structural_similarity(reference, result, channel_axis=2, data_range=1.0, full=True)
    return float(full.mean(axis=2)[mask].mean())


def _high_pass_luma(image: np.ndarray) -> np.ndarray:
    luma = image @ _LUMA
    return luma - ndimage.gaussian_filter(luma, 2.0)


def texture_difference(result: np.ndarray, reference: np.ndarray, region: np.ndarray | None = None) -> float:
    mask = _region(result, region)
    if not mask.any():
        return float("nan")
    return float(np.abs(_high_pass_luma(result) - _high_pass_luma(reference))[mask].mean())


def _gray8(image: np.ndarray) -> np.ndarray:
    return np.clip(image @ _LUMA * 255.0 + 0.5, 0, 255).astype(np.uint8)


def _flow(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    import cv2

    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    return dis.calc(_gray8(first), _gray8(second), None)


def _warp(image: np.ndarray, flow: np.ndarray) -> np.ndarray:
    import cv2

    height, width = flow.shape[:2]
    xx, yy = np.meshgrid(np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32))
    return cv2.remap(
        image, xx + flow[..., 0], yy + flow[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )


def input_flows(inputs: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """Forward flow t→t+1 on the input frames and its non-occluded pixels, per pair.

    Computed once per clip and shared by every engine's E_warp.
    """
    flows = []
    for t in range(len(inputs) - 1):
        forward = _flow(inputs[t], inputs[t + 1])
        backward = _flow(inputs[t + 1], inputs[t])
        back_at = _warp(backward, forward)
        mismatch = np.sum((forward + back_at) ** 2, axis=-1)
        scale = np.sum(forward**2, axis=-1) + np.sum(back_at**2, axis=-1)
        flows.append((forward, mismatch < 0.01 * scale + 0.5))
    return flows


def flow_warping_error(
    outputs: np.ndarray, flows: list[tuple[np.ndarray, np.ndarray]], regions: np.ndarray | None = None
) -> float:
    """E_warp over a clip, with ``flows`` from :func:`input_flows` (or a generator's true
    flow with all pixels valid)."""
    errors = []
    for t, (forward, valid) in enumerate(flows):
        mask = valid & regions[t] if regions is not None else valid
        if not mask.any():
            continue
        warped = _warp(np.ascontiguousarray(outputs[t + 1]), forward.astype(np.float32))
        errors.append(float(np.sum((outputs[t] - warped) ** 2, axis=-1)[mask].mean()))
    return float(np.mean(errors)) if errors else float("nan")


def patch_consistency(
    outputs: np.ndarray, regions: np.ndarray | None = None, patch: int = 50, search: int = 20, seed: int = 0
) -> tuple[float, float]:
    """(PC-PSNR, PC-SSIM) over a clip."""
    from skimage.metrics import structural_similarity

    rng = np.random.default_rng(seed)
    count, height, width = outputs.shape[:3]
    half = patch // 2
    psnrs, ssims = [], []
    for t in range(count - 1):
        allowed = np.zeros((height, width), bool)
        allowed[half + search : height - half - search, half + search : width - half - search] = True
        if regions is not None:
            allowed &= regions[t]
        candidates = np.argwhere(allowed)
        if len(candidates) == 0:
            continue
        y, x = candidates[rng.integers(len(candidates))]
        source = outputs[t, y - half : y + half, x - half : x + half]
        best, best_at = -np.inf, (y, x)
        for dy in range(-search, search + 1):
            for dx in range(-search, search + 1):
                candidate = outputs[t + 1, y + dy - half : y + dy + half, x + dx - half : x + dx + half]
                value = psnr(candidate, source)
                if value > best:
                    best, best_at = value, (y + dy, x + dx)
        by, bx = best_at
        match = outputs[t + 1, by - half : by + half, bx - half : bx + half]
        psnrs.append(min(best, 100.0))  # identical patches: cap, so one frame cannot make the mean infinite
        ssims.append(structural_similarity(source, match, channel_axis=2, data_range=1.0))
    if not psnrs:
        return float("nan"), float("nan")
    return float(np.mean(psnrs)), float(np.mean(ssims))
