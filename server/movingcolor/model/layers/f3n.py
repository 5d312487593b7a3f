"""The fusion feed-forward network (F3N, FuseFormer): an FFN whose hidden tokens are
composited back to a feature map and split again, so overlapping patches exchange
information, with GELU as the non-linearity."""

from __future__ import annotations

import torch
from torch import nn

from .soft_split import composite_patches, split_patches


class FusionFeedForward(nn.Module):
    """``(N, L, D) -> (N, L, D)`` for N = B·T frames of L tokens each."""

    def __init__(self, hidden: int, kernel: int, stride: int, padding: int, expansion: int = 4):
        super().__init__()
        # The hidden width is a whole number of k×k patches so it folds to a map.
        patch = kernel * kernel
        self.channels = max(1, (hidden * expansion) // patch)
        self.kernel, self.stride, self.padding = kernel, stride, padding
        self.expand = nn.Linear(hidden, self.channels * patch)
        self.act = nn.GELU()
        self.shrink = nn.Linear(self.channels * patch, hidden)

    def forward(self, tokens: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        patch = (self.kernel, self.stride, self.padding)
        # Expanded tokens as patches, folded to a map with overlaps averaged: (N, c, H, W).
        fused = composite_patches(tokens, self.expand, size, *patch)
        # Split again and shrunk. The activation is taken on the map, before the split: the split
        # only copies values (and pads with zeros, which GELU keeps), so it is the same as after.
        return split_patches(self.act(fused), self.shrink, *patch)
