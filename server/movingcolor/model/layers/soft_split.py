"""Soft split and soft composite (FuseFormer, Liu et al. ICCV 2021): features cut into
overlapping patches that become tokens, and tokens folded back with the overlaps averaged.

Each patch is flattened in ``F.unfold``'s order (channel, row, column) and projected by a
linear layer; that is one strided convolution whose kernel is the linear layer's weight, and
projecting tokens to patches and folding them back is its transpose. The layers keep their
weights as linear layers (the paper's form, and the checkpoints') and run them as convolutions:
the same sums, without materialising the patch tensor (k² times the feature map) and transposing
it, which on a CPU cost as much as the arithmetic.
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
        return split_patches(x, self.embed, self.kernel, self.stride, self.padding)


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
        return composite_patches(tokens, self.project, size, self.kernel, self.stride, self.padding)


def split_patches(x: torch.Tensor, embed: nn.Linear, kernel: int, stride: int, padding: int) -> torch.Tensor:
    """``(N, C, H, W) -> (N, L, D)``: ``embed`` applied to every ``k×k`` patch (``F.unfold``'s
    patches, zero-padded), as a strided convolution."""
    weight = embed.weight.view(embed.out_features, x.shape[1], kernel, kernel)
    tokens = F.conv2d(x, weight, embed.bias, stride=stride, padding=padding)  # (N, D, Lh, Lw)
    return tokens.flatten(2).transpose(1, 2)


def composite_patches(
    tokens: torch.Tensor, project: nn.Linear, size: tuple[int, int], kernel: int, stride: int, padding: int
) -> torch.Tensor:
    """``(N, L, D) -> (N, C, H, W)``: each token projected by ``project`` to a ``k×k`` patch of C
    channels and the patches folded back onto ``size`` (``F.fold``), overlaps averaged; as a
    transposed convolution, and the bias folded once for all tokens."""
    count, length, hidden = tokens.shape
    grid = token_grid(size, kernel, stride, padding)
    if grid[0] * grid[1] != length:
        raise ValueError(f"{length} tokens do not tile a {size[0]}x{size[1]} map ({grid[0]}x{grid[1]})")
    channels = project.out_features // (kernel * kernel)
    weight = project.weight.t().reshape(hidden, channels, kernel, kernel)
    extra = tuple(s + 2 * padding - kernel - (g - 1) * stride for s, g in zip(size, grid, strict=True))
    maps = tokens.transpose(1, 2).reshape(count, hidden, *grid)
    folded = F.conv_transpose2d(maps, weight, stride=stride, padding=padding, output_padding=extra)
    bias = project.bias[None, :, None].expand(1, -1, length)
    return (folded + fold_average(bias, size, kernel, stride, padding, divide=False)) / patch_count(
        size, kernel, stride, padding, tokens
    )


def fold_average(
    patches: torch.Tensor, size: tuple[int, int], kernel: int, stride: int, padding: int, divide: bool = True
) -> torch.Tensor:
    """Fold ``(N, C*k*k, L)`` patches to ``(N, C, H, W)``, averaging overlaps (summing them when
    not ``divide``)."""
    folded = F.fold(patches, size, kernel, stride=stride, padding=padding)
    return folded / patch_count(size, kernel, stride, padding, patches) if divide else folded


def patch_count(
    size: tuple[int, int], kernel: int, stride: int, padding: int, like: torch.Tensor
) -> torch.Tensor:
    """``(1, 1, H, W)``: how many patches cover each pixel."""
    ones = torch.ones(1, 1, *size, device=like.device, dtype=like.dtype)
    return F.fold(
        F.unfold(ones, kernel, stride=stride, padding=padding), size, kernel, stride=stride, padding=padding
    )


def token_grid(size: tuple[int, int], kernel: int, stride: int, padding: int) -> tuple[int, int]:
    """How many patches fit along each axis (unfold's output grid)."""
    return tuple((s + 2 * padding - kernel) // stride + 1 for s in size)
