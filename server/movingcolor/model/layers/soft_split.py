"""Soft split and soft composite (FuseFormer, Liu et al. ICCV 2021): features cut into
overlapping patches that become tokens, and tokens folded back with the overlaps averaged.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


class SoftSplit(nn.Module):
    """``(N, C, H, W) -> (N, L, D)``: overlapping ``k×k`` patches embedded as D-dim tokens."""

    def __init__(self, channels: int, hidden: int, kernel: int, stride: int, padding: int):
        super().__init__()
        self.kernel, self.stride, self.padding = kernel, stride, padding
        self.embed = nn.Linear(channels * kernel * kernel, hidden)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        patches = F.unfold(x, self.kernel, stride=self.stride, padding=self.padding)  # (N, C*k*k, L)
        return self.embed(patches.transpose(1, 2))  # (N, L, D)


class SoftComposite(nn.Module):
    """``(N, L, D) -> (N, C, H, W)``: tokens projected to patches and folded back.

    Overlapping contributions are averaged (divided by the per-pixel patch count),
    so the composite of a constant field is that constant.
    """

    def __init__(self, channels: int, hidden: int, kernel: int, stride: int, padding: int):
        super().__init__()
        self.kernel, self.stride, self.padding = kernel, stride, padding
        self.project = nn.Linear(hidden, channels * kernel * kernel)

    def forward(self, tokens: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        patches = self.project(tokens).transpose(1, 2)  # (N, C*k*k, L)
        return fold_average(patches, size, self.kernel, self.stride, self.padding)


def fold_average(
    patches: torch.Tensor, size: tuple[int, int], kernel: int, stride: int, padding: int
) -> torch.Tensor:
    """Fold ``(N, C*k*k, L)`` patches to ``(N, C, H, W)``, averaging overlaps."""
    folded = F.fold(patches, size, kernel, stride=stride, padding=padding)
    ones = torch.ones(1, 1, *size, device=patches.device, dtype=patches.dtype)
    count = F.fold(
        F.unfold(ones, kernel, stride=stride, padding=padding), size, kernel, stride=stride, padding=padding
    )
    return folded / count


def token_grid(size: tuple[int, int], kernel: int, stride: int, padding: int) -> tuple[int, int]:
    """How many patches fit along each axis (unfold's output grid)."""
    return tuple((s + 2 * padding - kernel) // stride + 1 for s in size)
