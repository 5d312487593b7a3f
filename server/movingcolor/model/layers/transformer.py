"""The temporal transformer block of the global-local propagation module."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

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

    def frames_out(
        self, tokens: torch.Tensor, size: tuple[int, int], frames: Sequence[int]
    ) -> Iterator[torch.Tensor]:
        """What :meth:`forward` gives ``frames`` of ``tokens (B, T, L, D)``, one ``(B, L, D)`` at a
        time: they attend to every frame's tokens, but no other frame's attention or feed-forward
        is computed (the network's last block, when only some frames are decoded). Each frame is
        computed alone, so its result does not depend on which others are asked for."""
        batch, count, length, hidden = tokens.shape
        normed = self.norm_attention(tokens.reshape(batch, count * length, hidden))
        key, value = self.attention.keys_values(normed)
        normed = normed.reshape(batch, count, length, hidden)
        for t in frames:
            kept = tokens[:, t] + self.attention.attend(normed[:, t], key, value)  # (B, L, D)
            yield kept + self.ffn(self.norm_ffn(kept), size)
