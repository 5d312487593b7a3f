"""Multi-head self-attention over the tokens of all frames in a window."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


class TemporalSelfAttention(nn.Module):
    """``(B, T·L, D) -> (B, T·L, D)``: every token attends to every token of the local and
    global frames, which is how colour and texture propagate across time."""

    def __init__(self, hidden: int, heads: int):
        super().__init__()
        if hidden % heads:
            raise ValueError(f"hidden size {hidden} is not divisible by {heads} heads")
        self.heads = heads
        self.qkv = nn.Linear(hidden, 3 * hidden)
        self.out = nn.Linear(hidden, hidden)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        batch, length, hidden = tokens.shape
        qkv = self.qkv(tokens).view(batch, length, 3, self.heads, hidden // self.heads)
        query, key, value = qkv.permute(2, 0, 3, 1, 4)  # each (B, heads, T·L, D/heads)
        attended = F.scaled_dot_product_attention(query, key, value)
        return self.out(attended.transpose(1, 2).reshape(batch, length, hidden))
