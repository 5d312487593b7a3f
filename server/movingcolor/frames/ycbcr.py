"""Planar Y'CbCr pictures (``yuv420p10le``, ``yuv422p10le``, ``yuva444p12le``...) to R'G'B' in 0..1.

swscale's conversion to 16-bit RGB (``rgb48le``, ``gbrp16le``, even float) reads limited-range
reference white (10-bit 940, 12-bit 3760) as 0.99615 and mid grey as 0.49807, a 0.4% gain on every
pixel of a ProRes 422 or 10-bit H.264 plate, and its packed ``rgb48le`` output loses the green of
4:2:0 pictures of odd width. The Rec.709 / BT.601 / BT.2020 matrices and the two ranges are a few
lines of arithmetic, so the samples of these formats are converted here, exactly as the standards
write them. Chroma is brought to the luma's size by linear interpolation: co-sited with the even
luma samples across (the MPEG-2 and later default, and ProRes's), centred between the two rows it
covers down (4:2:0).
"""

from __future__ import annotations

import numpy as np

#: Kr and Kb of each matrix by FFmpeg's AVColorSpace: BT.709, FCC, BT.470BG and SMPTE 170M (both
#: BT.601's), SMPTE 240M, BT.2020 non-constant luminance.
MATRICES = {
    1: (0.2126, 0.0722),
    4: (0.30, 0.11),
    5: (0.299, 0.114),
    6: (0.299, 0.114),
    7: (0.212, 0.087),
    9: (0.2627, 0.0593),
}
#: FFmpeg's AVColorRange of full-range ("JPEG") samples.
FULL_RANGE = 2


def float_sample_bytes(pixel_format) -> int:
    """The bytes of one sample of ``pixel_format`` (PyAV's) where it holds half (2) or single (4)
    floats (``gbrpf16le``, ``grayf32le``); 0 for whole numbers. PyAV gives no flag; FFmpeg's names do."""
    name = pixel_format.name
    return 2 if "f16" in name else 4 if "f32" in name else 0


def stores_whole_numbers_low(pixel_format) -> bool:
    """Whether ``pixel_format`` (PyAV's) stores each sample as a whole number of 8 to 16 bits in the
    low bits of its bytes, one per pixel and component: not palette indices, packed bits, Bayer
    mosaics, half or single floats (``gbrpf16le``: 0.5 read as 0.219) or samples kept in the high
    bits (``gbrp10msble``). PyAV gives no flag for the last two; FFmpeg's names do."""
    name = pixel_format.name
    return (
        not (pixel_format.has_palette or pixel_format.is_bit_stream or pixel_format.is_bayer)
        and not float_sample_bytes(pixel_format)
        and "msb" not in name
        and all(8 <= c.bits <= 16 for c in pixel_format.components)
    )


def is_planar_ycbcr(pixel_format) -> bool:
    """Whether ``pixel_format`` (PyAV's) keeps Y', Cb and Cr (and an alpha) each in a plane of its
    own, as whole numbers of 8 to 16 bits stored low in their bytes: the formats this module reads."""
    components = list(pixel_format.components)
    colours = [c for c in components if not c.is_alpha]
    return (
        pixel_format.name.startswith("yuv")
        and len(colours) == 3
        and colours[0].is_luma
        and len({c.plane for c in components}) == len(components)
        and stores_whole_numbers_low(pixel_format)
    )


def ycbcr_to_rgb(
    luma: np.ndarray,
    cb: np.ndarray,
    cr: np.ndarray,
    bits: int,
    matrix: tuple[float, float],
    full_range: bool,
) -> np.ndarray:
    """Float32 ``(H, W, 3)`` R'G'B' in 0..1 from integer planes: ``luma`` ``(H, W)`` and chroma
    ``(h, w)`` at the luma's size or subsampled (4:2:2, 4:2:0, 4:1:1), with ``bits`` per sample,
    ``matrix`` as ``(Kr, Kb)`` and ``full_range`` (else the limited, "video" range). Values past
    0..1 (super-whites, colours a matrix cannot make) are clipped, as a player shows them."""
    steps = np.float32(1 << (bits - 8))
    if full_range:
        largest = np.float32((1 << bits) - 1)
        y = luma.astype(np.float32)
        y *= 1 / largest
        offset, scale = np.float32(1 << (bits - 1)), largest
    else:
        y = video_range_levels(luma, bits)
        offset, scale = 128 * steps, 224 * steps
    kr, kb = matrix
    kg = 1.0 - kr - kb
    # Each colour's share of Cb and Cr made at the chroma's size, then brought to the luma's: the
    # interpolation is linear, so the order does not change the result, and the small plane is
    # where the arithmetic is cheap.
    pb = (cb.astype(np.float32) - offset) / scale
    pr = (cr.astype(np.float32) - offset) / scale
    shares = (
        np.float32(2 * (1 - kr)) * pr,
        -(np.float32(2 * (1 - kr) * kr / kg) * pr + np.float32(2 * (1 - kb) * kb / kg) * pb),
        np.float32(2 * (1 - kb)) * pb,
    )
    height, width = luma.shape
    rgb = np.empty((height, width, 3), np.float32)
    for channel, share in enumerate(shares):
        np.add(y, _to_luma_size(share, height, width), out=rgb[..., channel])
    return np.clip(rgb, 0.0, 1.0, out=rgb)


def video_range_levels(codes: np.ndarray, bits: int) -> np.ndarray:
    """Luma (or grey) codes of ``bits`` in the video range as float32 levels: black (16 at 8 bits)
    0, reference white (235) 1, beyond them below 0 and above 1."""
    steps = np.float32(1 << (bits - 8))
    levels = codes.astype(np.float32)
    levels -= 16 * steps
    levels /= 219 * steps
    return levels


def _to_luma_size(chroma: np.ndarray, height: int, width: int) -> np.ndarray:
    """A float32 chroma plane at the luma's ``(height, width)``."""
    return _upsampled(_upsampled(chroma, width, axis=1, centred=False), height, axis=0, centred=True)


def _upsampled(values: np.ndarray, size: int, axis: int, centred: bool) -> np.ndarray:
    """``values`` brought to ``size`` samples along ``axis`` by linear interpolation, a chroma
    sample sitting on its first luma sample (co-sited) or in the middle of the ones it covers
    (``centred``); the edge samples are held."""
    count = values.shape[axis]
    if count == size:
        return values
    factor = round(size / count)
    if factor == 2:
        return _doubled(values, size, axis, centred)
    offset = (factor - 1) / 2 if centred else 0.0
    position = np.clip((np.arange(size) - offset) / factor, 0, count - 1)
    below = np.floor(position).astype(np.intp)
    above = np.minimum(below + 1, count - 1)
    weight = (position - below).astype(np.float32)
    shape = [1, 1]
    shape[axis] = size
    weight = weight.reshape(shape)
    first, second = np.take(values, below, axis=axis), np.take(values, above, axis=axis)
    return first + weight * (second - first)


def _doubled(values: np.ndarray, size: int, axis: int, centred: bool) -> np.ndarray:
    """:func:`_upsampled` by two (4:2:2, 4:2:0), by slices: the general path's gathers cost most of
    a 4K frame's conversion."""

    def along(part: slice) -> tuple[slice, ...]:
        return (part, slice(None)) if axis == 0 else (slice(None), part)

    count = values.shape[axis]
    shape = list(values.shape)
    shape[axis] = 2 * count
    out = np.empty(shape, np.float32)
    # Each sample's neighbours before and after it, the edges held.
    before = np.concatenate([values[along(slice(0, 1))], values[along(slice(0, -1))]], axis=axis)
    after = np.concatenate([values[along(slice(1, None))], values[along(slice(-1, None))]], axis=axis)
    if centred:
        # A chroma row between luma rows 2k and 2k+1: a quarter of its neighbour's on each side.
        near = np.float32(0.75) * values
        out[along(slice(0, None, 2))] = near + np.float32(0.25) * before
        out[along(slice(1, None, 2))] = near + np.float32(0.25) * after
    else:
        out[along(slice(0, None, 2))] = values
        out[along(slice(1, None, 2))] = np.float32(0.5) * (values + after)
    return out[along(slice(0, size))]
