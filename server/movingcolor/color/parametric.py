"""The paper's parametric grade: eight adjustments baked into an OCIO 3D LUT.

MovingColor's training grades frames with random values of eight photo-editing
adjustments, defined on display-encoded values in 0..1 (the ``rgb_color_enhance``
family of LUT generators). The same formulas serve as a user grade here, so
training and inference grade identically. They are evaluated on a 3D LUT grid
and wrapped as an OpenColorIO transform, applied in an sRGB-encoded space; a grade of
adjustments that each work on one channel at a time (exposure, brightness, contrast,
gamma) is a 1D LUT with an entry for every half-float value instead, since the steep ends
of exposure and gamma curves fall between a 3D grid's points (``exposure=-2`` came out 51
code values of 8-bit off its formula at 254, ``gamma=0.3`` 38 near black).
Because the adjustments are display-referred, encoded values outside 0..1 are
clamped by the LUT; for scene-referred HDR work use a CDL or a LUT file.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import PyOpenColorIO as ocio

from ..errors import GradeError

LUT_SIZE = 33
#: Adjustments that change each channel on its own, the same way: a 1D LUT holds them exactly.
PER_CHANNEL = frozenset({"exposure", "brightness", "contrast", "gamma"})

# Rec.709 luma weights, used by the saturation and vibrance adjustments.
LUMA = np.array([0.2126, 0.7152, 0.0722], dtype=np.float64)  # Rec.709 luma weights
# Rec.601 YUV, the space the warmth adjustment shifts in.
_RGB_TO_YUV = np.array(
    [
        [0.299, 0.587, 0.114],
        [-0.299 / 1.772, -0.587 / 1.772, 0.886 / 1.772],
        [0.701 / 1.402, -0.587 / 1.402, -0.114 / 1.402],
    ]
)
_YUV_TO_RGB = np.linalg.inv(_RGB_TO_YUV)
# Per-unit warmth shifts of (Y, U, V): warmer lifts red and drops blue.
_WARM = np.array([0.1765, -0.1255, 0.0902])
_COOL = np.array([-0.0588, -0.1569, 0.1255])


@dataclass(frozen=True)
class ParametricGrade:
    """Eight adjustments; every default is the identity.

    Ranges are those the adjustments are defined over; training samples a
    narrower range (see the training module).
    """

    brightness: float = 0.0  # -1..1, added to every channel
    exposure: float = 0.0  # -5..5 stops, applied as 1-(1-x)^(2^e) so white stays white
    contrast: float = 0.0  # -1..5, scales distance from mid-grey 0.5 by (1+c)
    warmth: float = 0.0  # -1..1, shifts YUV towards orange (>0) or blue (<0)
    saturation: float = 0.0  # -1..5, scales distance from luma by (1+s)
    vibrance: float = 0.0  # -1..5, saturation that spares already saturated colours
    hue: float = 0.0  # 0..1, rotation of HSV hue in turns
    gamma: float = 1.0  # 0..10, output = x^gamma (above 1 darkens mid-tones)

    RANGES = {
        "brightness": (-1.0, 1.0),
        "exposure": (-5.0, 5.0),
        "contrast": (-1.0, 5.0),
        "warmth": (-1.0, 1.0),
        "saturation": (-1.0, 5.0),
        "vibrance": (-1.0, 5.0),
        "hue": (0.0, 1.0),
        "gamma": (0.0, 10.0),
    }

    def __post_init__(self) -> None:
        for name, (low, high) in self.RANGES.items():
            value = getattr(self, name)
            if not low <= value <= high:
                raise GradeError(f"parametric grade: {name}={value} is outside {low}..{high}")

    @classmethod
    def from_mapping(cls, values: dict[str, float]) -> ParametricGrade:
        unknown = set(values) - set(cls.RANGES)
        if unknown:
            raise GradeError(
                f"parametric grade: unknown adjustment(s) {', '.join(sorted(unknown))}; "
                f"known: {', '.join(cls.RANGES)}"
            )
        return cls(**values)

    def changed(self) -> dict[str, float]:
        identity = ParametricGrade()
        return {
            f.name: getattr(self, f.name)
            for f in dataclasses.fields(self)
            if getattr(self, f.name) != getattr(identity, f.name)
        }

    def apply_encoded(self, rgb: np.ndarray) -> np.ndarray:
        """The adjustments on display-encoded ``rgb`` ``(..., 3)``, in the fixed order
        contrast, saturation, vibrance, exposure, brightness, warmth, hue, gamma."""
        x = np.asarray(rgb, dtype=np.float64).copy()
        if self.contrast:
            x = (x - 0.5) * (1.0 + self.contrast) + 0.5
        if self.saturation:
            luma = x @ LUMA
            x += (x - luma[..., None]) * self.saturation
        if self.vibrance:
            peak = x.max(axis=-1, keepdims=True)
            luma = (x @ LUMA)[..., None]
            x += (x - peak) * (peak - luma) * (2.0 * self.vibrance)
        if self.exposure:
            x = 1.0 - np.clip(1.0 - x, 0.0, None) ** (2.0**self.exposure)
        if self.brightness:
            x += self.brightness
        if self.warmth:
            yuv = x @ _RGB_TO_YUV.T
            shift = _WARM if self.warmth > 0 else _COOL
            scale = np.sin(yuv[..., :1] * np.pi)
            yuv += scale * shift * abs(self.warmth)
            x = yuv @ _YUV_TO_RGB.T
        if self.hue:
            x = _rotate_hue(x, self.hue)
        if self.gamma != 1.0:
            x = np.clip(x, 0.0, None) ** self.gamma
        return x.astype(np.float32)

    def to_transform(self, size: int = LUT_SIZE) -> ocio.Lut1DTransform | ocio.Lut3DTransform:
        """The adjustments as an OCIO LUT on encoded values clamped to 0..1: a 1D LUT with an entry
        per half-float value where every adjustment works per channel, else sampled on a
        ``size``³ grid as a 3D LUT."""
        if set(self.changed()) <= PER_CHANNEL:
            values = np.arange(1 << 16, dtype=np.uint16).view(np.float16).astype(np.float64)
            values = np.clip(np.nan_to_num(values, nan=0.0), 0.0, 1.0)
            curve = self.apply_encoded(np.repeat(values[:, None], 3, axis=1))
            lut = ocio.Lut1DTransform(length=1 << 16, inputHalfDomain=True)
            lut.setData(np.ascontiguousarray(curve, dtype=np.float32).ravel())
            return lut
        axis = np.linspace(0.0, 1.0, size)
        # OCIO Lut3D data is blue-fastest (as in CLF): a flattened (r, g, b) grid.
        r, g, b = np.meshgrid(axis, axis, axis, indexing="ij")
        grid = np.stack([r, g, b], axis=-1).reshape(-1, 3)
        lut = ocio.Lut3DTransform()
        lut.setGridSize(size)
        lut.setData(np.ascontiguousarray(self.apply_encoded(grid), dtype=np.float32).ravel())
        lut.setInterpolation(ocio.INTERP_TETRAHEDRAL)
        return lut


def _rotate_hue(rgb: np.ndarray, turns: float) -> np.ndarray:
    """Rotate the HSV hue of ``rgb`` by ``turns`` (value and saturation kept)."""
    peak = rgb.max(axis=-1)
    low = rgb.min(axis=-1)
    delta = peak - low
    safe = np.where(delta > 0, delta, 1.0)
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    hue = np.where(
        peak == r, ((g - b) / safe) % 6.0, np.where(peak == g, (b - r) / safe + 2.0, (r - g) / safe + 4.0)
    )
    hue = np.where(delta > 0, hue / 6.0, 0.0)
    hue = (hue + turns) % 1.0
    # Rebuild from hue with the same peak and floor (HSV with V=peak, S=delta/peak).
    k = lambda n: (n + hue * 6.0) % 6.0  # noqa: E731
    f = lambda n: peak - delta * np.clip(np.minimum(k(n), 4.0 - k(n)), 0.0, 1.0)  # noqa: E731
    return np.stack([f(5.0), f(3.0), f(1.0)], axis=-1)
