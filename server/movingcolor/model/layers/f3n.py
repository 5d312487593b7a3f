"""The fusion feed-forward network (F3N, FuseFormer): an FFN whose hidden tokens are
composited back to a feature map and split again, so overlapping patches exchange
information, with GELU as the non-linearity."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from .soft_split import fold_average


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
        hidden = self.expand(tokens).transpose(1, 2)  # (N, c·k·k, L)
        fused = fold_average(hidden, size, self.kernel, self.stride, self.padding)  # (N, c, H, W)
        hidden = F.unfold(fused, self.kernel, stride=self.stride, padding=self.padding)  # (N, c·k·k, L)
        return self.shrink(self.act(hidden.transpose(1, 2)))
