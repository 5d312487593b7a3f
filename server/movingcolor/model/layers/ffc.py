"""Fast Fourier Convolution (Chi, Jiang and Mu, NeurIPS 2020), as used in the
MovingColor encoder: a local stream of ordinary convolutions and a global stream
whose spectral transform sees the whole frame through a real FFT.
"""

from __future__ import annotations

import torch
from torch import nn


class FourierUnit(nn.Module):
    """Pointwise convolution in the frequency domain.

    ``(B, C, H, W) -> rfft2 -> (B, 2C, H, W/2+1) -> 1x1 conv, BN, ReLU -> irfft2 -> (B, C, H, W)``.
    The FFT runs in float32 whatever the autocast state: cuFFT's half precision
    needs power-of-two sizes, and bf16 FFTs are not supported.
    """

    def __init__(self, channels: int):
        super().__init__()
        self.conv = nn.Conv2d(2 * channels, 2 * channels, kernel_size=1, bias=False)
        self.norm = nn.BatchNorm2d(2 * channels)
        self.act = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, channels, height, width = x.shape
        dtype = x.dtype
        with torch.autocast(device_type=x.device.type, enabled=False):
            spectrum = torch.fft.rfft2(x.float(), norm="ortho")  # (B, C, H, W//2+1) complex
            stacked = torch.cat([spectrum.real, spectrum.imag], dim=1)  # (B, 2C, H, W//2+1)
            stacked = self.act(self.norm(self.conv(stacked)))
            real, imag = stacked.chunk(2, dim=1)
            out = torch.fft.irfft2(torch.complex(real, imag), s=(height, width), norm="ortho")
        return out.to(dtype)


class SpectralTransform(nn.Module):
    """The global-to-global path: 1x1 reduce, Fourier unit, residual, 1x1 expand."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        hidden = max(out_channels // 2, 1)
        self.reduce = nn.Sequential(
            nn.Conv2d(in_channels, hidden, kernel_size=1, bias=False),
            nn.BatchNorm2d(hidden),
            nn.ReLU(inplace=True),
        )
        self.fourier = FourierUnit(hidden)
        self.expand = nn.Conv2d(hidden, out_channels, kernel_size=1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.reduce(x)
        return self.expand(x + self.fourier(x))


class FFC(nn.Module):
    """One FFC layer on a (local, global) pair of streams, each followed by BN and ReLU.

    ``local  (B, C_l, H, W) -> local'  = conv_ll(local) + conv_gl(global)``
    ``global (B, C_g, H, W) -> global' = conv_lg(local) + spectral(global)``
    """

    def __init__(self, channels: int, global_ratio: float, kernel_size: int = 3):
        super().__init__()
        self.global_channels = int(round(channels * global_ratio))
        self.local_channels = channels - self.global_channels
        lc, gc, pad = self.local_channels, self.global_channels, kernel_size // 2

        def conv(cin: int, cout: int) -> nn.Module:
            return nn.Conv2d(cin, cout, kernel_size, padding=pad, padding_mode="reflect", bias=False)

        self.local_to_local = conv(lc, lc)
        self.global_to_local = conv(gc, lc)
        self.local_to_global = conv(lc, gc)
        self.global_to_global = SpectralTransform(gc, gc)
        self.local_out = nn.Sequential(nn.BatchNorm2d(lc), nn.ReLU(inplace=True))
        self.global_out = nn.Sequential(nn.BatchNorm2d(gc), nn.ReLU(inplace=True))

    def forward(self, local: torch.Tensor, global_: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        new_local = self.local_to_local(local) + self.global_to_local(global_)
        new_global = self.local_to_global(local) + self.global_to_global(global_)
        return self.local_out(new_local), self.global_out(new_global)


class FFCResBlock(nn.Module):
    """Two FFC layers with a residual connection on each stream. ``(B, C, H, W) -> same``."""

    def __init__(self, channels: int, global_ratio: float):
        super().__init__()
        self.first = FFC(channels, global_ratio)
        self.second = FFC(channels, global_ratio)
        self.split = self.first.local_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        local, global_ = x[:, : self.split], x[:, self.split :]
        new_local, new_global = self.second(*self.first(local, global_))
        return torch.cat([local + new_local, global_ + new_global], dim=1)
