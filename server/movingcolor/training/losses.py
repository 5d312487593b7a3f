"""Training losses.

* **L1 in the band**: only the band may change, so errors are averaged over band pixels.
* **Alpha L1** (regional mode): the refined matte against the true alpha, in the band.
* **Temporal** (optional): the frame-to-frame change of the composite against the
  truth's, in the band. Flicker is exactly a change the truth does not have, and motion
  a change it does, so this penalises the first without freezing the second.
* **Texture**, the perceptual term: pretrained VGG weights cannot be downloaded here, so
  an honest substitute compares image gradients at three scales (1, 1/2, 1/4), which
  penalises blur and invented edges, plus an FFT amplitude L1 that penalises missing or
  extra frequencies.
* **T-PatchGAN** (Chang et al. 2019): a discriminator of 3D convolutions with spectral
  norm judging space-time patches of the composited output; hinge loss.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F
from torch.nn.utils import spectral_norm


def band_l1(prediction: torch.Tensor, target: torch.Tensor, band: torch.Tensor) -> torch.Tensor:
    """Mean |prediction − target| over band pixels. ``(..., C, H, W)``, band ``(..., 1, H, W)``."""
    weight = band.expand_as(prediction)
    return (weight * (prediction - target).abs()).sum() / weight.sum().clamp(min=1.0)


def temporal_l1(prediction: torch.Tensor, target: torch.Tensor, band: torch.Tensor) -> torch.Tensor:
    """Band L1 of consecutive frames' differences. ``(B, T, C, H, W)``, band ``(B, T, 1, H, W)``;
    a pixel counts where either frame's band covers it."""
    change = lambda x: x[:, 1:] - x[:, :-1]  # noqa: E731
    return band_l1(change(prediction), change(target), torch.maximum(band[:, 1:], band[:, :-1]))


def _gradients(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    return x[..., :, 1:] - x[..., :, :-1], x[..., 1:, :] - x[..., :-1, :]


def texture_loss(prediction: torch.Tensor, target: torch.Tensor, scales: int = 3) -> torch.Tensor:
    """Multi-scale gradient L1 plus FFT-amplitude L1 on ``(N, C, H, W)`` images."""
    total = prediction.new_zeros(())
    p, t = prediction, target
    for _ in range(scales):
        for gp, gt in zip(_gradients(p), _gradients(t), strict=True):
            total = total + (gp - gt).abs().mean()
        p, t = F.avg_pool2d(p, 2), F.avg_pool2d(t, 2)
    with torch.autocast(device_type=prediction.device.type, enabled=False):
        amplitude = lambda x: torch.fft.rfft2(x.float(), norm="ortho").abs()  # noqa: E731
        total = total + (amplitude(prediction) - amplitude(target)).abs().mean()
    return total


class TemporalPatchDiscriminator(nn.Module):
    """T-PatchGAN: ``(B, T, 3, H, W)`` clips → a map of real/fake scores over space-time patches."""

    def __init__(self, channels: int = 32):
        super().__init__()

        def block(cin: int, cout: int, stride: tuple[int, int, int]) -> list[nn.Module]:
            conv = nn.Conv3d(cin, cout, (3, 5, 5), stride=stride, padding=(1, 2, 2))
            return [spectral_norm(conv), nn.LeakyReLU(0.2, inplace=True)]

        self.layers = nn.Sequential(
            *block(3, channels, (1, 2, 2)),
            *block(channels, 2 * channels, (1, 2, 2)),
            *block(2 * channels, 4 * channels, (1, 2, 2)),
            *block(4 * channels, 4 * channels, (1, 2, 2)),
            spectral_norm(nn.Conv3d(4 * channels, 1, (3, 5, 5), padding=(1, 2, 2))),
        )

    def forward(self, clip: torch.Tensor) -> torch.Tensor:
        return self.layers(clip.permute(0, 2, 1, 3, 4))  # (B, 3, T, H, W) in, scores out


def hinge_discriminator_loss(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    return F.relu(1.0 - real).mean() + F.relu(1.0 + fake).mean()


def hinge_generator_loss(fake: torch.Tensor) -> torch.Tensor:
    return -fake.mean()
