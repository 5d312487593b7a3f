"""The feathered matte's Gaussian on the CPU: scipy's kernel, and the blur as products with matrices
of it (:mod:`.torch_filters` has torch's, from the same taps)."""

from __future__ import annotations

import functools

import numpy as np

#: Bytes of double-precision crops blurred at once: a wide band's crops at 4K reach gigabytes.
BATCH_BYTES = 16 << 20
#: The largest side whose blur matrix is kept between calls (8 MB).
CACHED_SIZE = 1024


def gaussian_reach(sigma: float, truncate: float) -> int:
    """Pixels the Gaussian reaches on each side: ``truncate`` sigmas, rounded (scipy's rule)."""
    return int(truncate * sigma + 0.5)


def gaussian_taps(sigma: float, truncate: float) -> np.ndarray:
    """Float64 ``(2·reach + 1,)``: weights ``exp(-k² / 2σ²)`` for ``|k|`` up to the reach, summing
    to 1 (scipy's ``gaussian_filter`` kernel)."""
    if not sigma > 0:
        return np.ones(1)  # no blur, as scipy's filter gives for a sigma of 0
    reach = gaussian_reach(sigma, truncate)
    taps = np.exp(-0.5 * (np.arange(-reach, reach + 1) / sigma) ** 2)
    return taps / taps.sum()


def gaussian_blur(crops: np.ndarray, sigma: float, truncate: float) -> np.ndarray:
    """``crops (N, H, W)`` blurred on their image axes, edges repeated: scipy's
    ``gaussian_filter(mode="nearest")``, in ``crops``' dtype.

    Each axis's blur is a product with a matrix of the taps: the BLAS runs it on every core, and
    it is faster than scipy's filter on a band's crops (5.3 and 8.5 against 9.8 and 10.2 ms for 64
    crops of 96 pixels at sigma 4, at two hours of one day). In double precision, as scipy sums:
    a plateau of the matte stays its value to the bit (in single precision a matte of 1 blurred to
    0.99999994, and the composite blended there instead of copying). A few crops at a time
    (``BATCH_BYTES``), so the double-precision copies stay small."""
    count, height, width = crops.shape
    across = _gaussian_matrix(width, sigma, truncate)
    down = _gaussian_matrix(height, sigma, truncate).T
    blurred = np.empty(crops.shape, crops.dtype)
    step = max(1, BATCH_BYTES // max(1, height * width * 8))
    for start in range(0, count, step):
        batch = crops[start : start + step].astype(np.float64, copy=False)
        blurred[start : start + step] = down @ (batch @ across)
    return blurred


def _gaussian_matrix(size: int, sigma: float, truncate: float) -> np.ndarray:
    """Float64 ``(size, size)`` ``M`` with ``(x @ M)[i]`` the blur of ``x`` at ``i``: each weight
    beyond the ends added to the end pixel's (the edge repeated). A band's crops' matrices are kept
    for the next frame; a large one (a wide band's box) is made for its call alone: sixteen of
    4096 would hold 2 GiB."""
    if size > CACHED_SIZE:
        return _made_gaussian_matrix(size, sigma, truncate)
    return _kept_gaussian_matrix(size, sigma, truncate)


@functools.lru_cache(maxsize=16)
def _kept_gaussian_matrix(size: int, sigma: float, truncate: float) -> np.ndarray:
    """:func:`_made_gaussian_matrix`, kept. Read-only: shared."""
    matrix = _made_gaussian_matrix(size, sigma, truncate)
    matrix.flags.writeable = False
    return matrix


def _made_gaussian_matrix(size: int, sigma: float, truncate: float) -> np.ndarray:
    taps = gaussian_taps(sigma, truncate)
    offsets = np.arange(len(taps)) - len(taps) // 2
    outputs = np.arange(size)
    sources = np.clip(outputs[None, :] + offsets[:, None], 0, size - 1)  # (taps, size)
    matrix = np.zeros((size, size))
    np.add.at(
        matrix,
        (sources, np.broadcast_to(outputs, sources.shape)),
        np.broadcast_to(taps[:, None], sources.shape),
    )
    return matrix
