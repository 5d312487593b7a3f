"""The MovingColor network (ACM MM 2024, sections 3-4), bottom-up like the paper.

    frames (B, T, 11, H, W) in the working encoding, T = local + global frames
                                             (12 with the coarse matte: coarse_matte_input)
      -> convolutional encoder               (B·T, C, H/4, W/4)
      -> FFC encoder, N residual blocks      (B·T, C, H/4, W/4)
      -> soft split                          (B, T, L, D)
      -> temporal transformer blocks         (B, T, L, D)
      -> soft composite (+ encoder skip)     (B·T, C, H/4, W/4)
      -> decoder of each head, local frames  (B, T_local, 1 or 3, H, W) (or those asked for)

Two heads share everything up to the decoder. The *blend* head predicts a
refined matte, starting from the matte in channel A: α̂ = clamp(A + tanh(Δ), 0, 1).
A is the coarse matte, or (``matte_start = "guided"``) the guided filter's
refinement of it, so the network learns only what the filter misses. The
*colour* head (the paper's) predicts band colours as a residual on the plate.
Both final layers start at zero, so an untrained network returns its starting matte
(the hard composite from a coarse start).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn
from torch.nn import functional as F

from .channels import GRADED, MATTE, PLATE
from .config import NetworkConfig
from .layers.ffc import FFCResBlock
from .layers.soft_split import SoftComposite, SoftSplit, token_grid
from .layers.transformer import TemporalTransformerBlock


def _conv(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, stride=stride, padding=1, padding_mode="reflect"),
        nn.LeakyReLU(0.2, inplace=True),
    )


class ConvEncoder(nn.Module):
    """``(N, in, H, W) -> (N, C, H/4, W/4)``: a stem then two stride-2 stages."""

    def __init__(self, in_channels: int, channels: tuple[int, ...]):
        super().__init__()
        first, second, third = channels
        self.layers = nn.Sequential(
            _conv(in_channels, first),
            _conv(first, second, stride=2),
            _conv(second, third, stride=2),
            _conv(third, third),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


class Decoder(nn.Module):
    """``(N, C, H/4, W/4) -> (N, out, H, W)``: two ×2 upsamplings; the last layer starts at zero."""

    def __init__(self, features: int, channels: tuple[int, ...], out_channels: int):
        super().__init__()
        first, second = channels
        self.up1 = _conv(features, first)
        self.up2 = _conv(first, second)
        self.head = nn.Conv2d(second, out_channels, 3, padding=1)
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.up1(F.interpolate(x, scale_factor=2.0, mode="bilinear", align_corners=False))
        x = self.up2(F.interpolate(x, scale_factor=2.0, mode="bilinear", align_corners=False))
        return self.head(x)


class MovingColorNet(nn.Module):
    def __init__(self, config: NetworkConfig):
        super().__init__()
        self.config = config
        c = config
        self.encoder = ConvEncoder(c.in_channels, c.encoder_channels)
        self.ffc = nn.Sequential(*[FFCResBlock(c.features, c.ffc_global_ratio) for _ in range(c.ffc_blocks)])
        patch = (c.patch_kernel, c.patch_stride, c.patch_padding)
        self.split = SoftSplit(c.features, c.hidden, *patch)
        self.transformer = nn.ModuleList(
            [TemporalTransformerBlock(c.hidden, c.heads, *patch) for _ in range(c.transformer_blocks)]
        )
        self.composite = SoftComposite(c.features, c.hidden, *patch)
        self.blend_decoder = Decoder(c.features, c.decoder_channels, 1)
        self.color_decoder = Decoder(c.features, c.decoder_channels, 3)

    def features(self, frames: torch.Tensor, outputs: Sequence[int] | None = None) -> torch.Tensor:
        """``(B, T, in, H, W) -> (B·T, C, H/4, W/4)`` propagated across all T frames; given
        ``outputs``, the features of those frames alone, ``(B·O, C, H/4, W/4)`` in their order:
        the last transformer block computes only their tokens (they still attend to every
        frame), and only they return to a feature map."""
        batch, count, channels, height, width = frames.shape
        if height % 4 or width % 4:
            raise ValueError(f"frame size {width}x{height} must be a multiple of 4")
        x = self.encoder(frames.reshape(batch * count, channels, height, width))  # (B·T, C, H/4, W/4)
        x = self.ffc(x)
        size = x.shape[-2:]
        tokens = self.split(x)  # (B·T, L, D)
        tokens = tokens.reshape(batch, count, *tokens.shape[1:])  # (B, T, L, D)
        blocks = list(self.transformer)
        last = blocks.pop() if outputs is not None and blocks else None
        for block in blocks:
            tokens = block(tokens, size)
        if outputs is None:
            return x + self.composite(tokens.flatten(0, 1), size)
        chosen = list(outputs)
        # One frame at a time: a frame's features are then computed alike whichever other frames
        # are asked for, to the bit (a shot's frames do not depend on its chunking). Without a
        # transformer, the outputs' tokens are taken as they are.
        frames = (tokens[:, t] for t in chosen) if last is None else last.frames_out(tokens, size, chosen)
        composite = torch.stack([self.composite(frame, size) for frame in frames], dim=1)  # (B, O, C, h, w)
        x = x.reshape(batch, count, *x.shape[1:])[:, chosen]
        return (x + composite).flatten(0, 1)

    def forward(
        self,
        frames: torch.Tensor,
        local: int,
        head: str = "blend",
        outputs: Sequence[int] | None = None,
    ) -> torch.Tensor:
        """Predict the band of the first ``local`` frames (the rest are global frames), or of the
        local frames listed in ``outputs`` alone.

        ``frames (B, T, 11, H, W)`` with channels ``[I, E·(1-M), M, G, A]`` (``channels``; a model with
        ``coarse_matte_input`` takes a twelfth, the coarse matte) in 0..1; for the
        colour head G carries the visible composite instead: without the band (``color_start =
        "plate"``), or whole (``"composite"``). Returns ``(B, O, 1, H, W)`` refined mattes
        (blend) or ``(B, O, 3, H, W)`` band colours (colour), in 0..1, ``O`` = ``local`` or
        ``len(outputs)`` in their order. Every local frame still informs the others through the
        transformer; only their decoding back to full resolution is skipped: a host's scrub asks
        for one of five.
        """
        batch, count, _, height, width = frames.shape
        chosen = list(range(local)) if outputs is None else list(outputs)
        if any(not 0 <= t < local for t in chosen):
            raise ValueError(f"outputs {chosen} must be local frames (0 to {local - 1})")
        x = self.features(frames, chosen)  # (B·O, C, H/4, W/4)
        inputs = frames[:, chosen].reshape(batch * len(chosen), -1, height, width)
        if head == "blend":
            delta = self.blend_decoder(x)
            matte = inputs[:, MATTE]
            out = torch.clamp(matte + torch.tanh(delta), 0.0, 1.0)
        elif head == "color":
            residual = self.color_decoder(x)
            start = inputs[:, GRADED] if self.config.color_start == "composite" else inputs[:, PLATE]
            out = torch.clamp(start + residual, 0.0, 1.0)
        else:
            raise ValueError(f"unknown head {head!r}: use 'blend' or 'color'")
        return out.reshape(batch, len(chosen), -1, height, width)


def token_count(config: NetworkConfig, height: int, width: int) -> int:
    """Tokens per frame at a working size: the transformer's cost driver."""
    rows, cols = token_grid(
        (height // 4, width // 4), config.patch_kernel, config.patch_stride, config.patch_padding
    )
    return rows * cols
