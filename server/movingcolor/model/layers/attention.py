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

    def keys_values(self, tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The keys and values of ``tokens (B, T·L, D)``, each ``(B, heads, T·L, D/heads)``, for
        :meth:`attend`."""
        batch, length, hidden = tokens.shape
        weight, bias = self.qkv.weight[hidden:], self.qkv.bias[hidden:]
        kv = F.linear(tokens, weight, bias).view(batch, length, 2, self.heads, hidden // self.heads)
        key, value = kv.permute(2, 0, 3, 1, 4)
        return key, value

    def attend(self, queries: torch.Tensor, key: torch.Tensor, value: torch.Tensor) -> torch.Tensor:
        """The attention of ``queries (B, Q, D)`` (some of the tokens) over every token's ``key`` and
        ``value`` (:meth:`keys_values`): ``(B, Q, D)``, what :meth:`forward` gives those tokens
        (a token's output reads only its own query)."""
        batch, length, hidden = queries.shape
        weight, bias = self.qkv.weight[:hidden], self.qkv.bias[:hidden]
        query = F.linear(queries, weight, bias).view(batch, length, self.heads, -1).transpose(1, 2)
        attended = F.scaled_dot_product_attention(query, key, value)  # (B, heads, Q, D/heads)
        return self.out(attended.transpose(1, 2).reshape(batch, length, hidden))
