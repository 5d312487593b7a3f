"""The temporal transformer block of the global-local propagation module."""

from __future__ import annotations

import torch
from torch import nn

from .attention import TemporalSelfAttention
from .f3n import FusionFeedForward


class TemporalTransformerBlock(nn.Module):
    """LayerNorm → self-attention over all frames' tokens → residual → LayerNorm → F3N → residual.

    ``tokens (B, T, L, D) -> (B, T, L, D)``; ``size`` is the feature map the tokens tile.
    """

    def __init__(self, hidden: int, heads: int, kernel: int, stride: int, padding: int):
        super().__init__()
        self.norm_attention = nn.LayerNorm(hidden)
        self.attention = TemporalSelfAttention(hidden, heads)
        self.norm_ffn = nn.LayerNorm(hidden)
        self.ffn = FusionFeedForward(hidden, kernel, stride, padding)

    def forward(self, tokens: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        batch, frames, length, hidden = tokens.shape
        flat = tokens.reshape(batch, frames * length, hidden)  # (B, T·L, D)
        flat = flat + self.attention(self.norm_attention(flat))
        per_frame = flat.reshape(batch * frames, length, hidden)  # (B·T, L, D)
        per_frame = per_frame + self.ffn(self.norm_ffn(per_frame), size)
        return per_frame.reshape(batch, frames, length, hidden)
