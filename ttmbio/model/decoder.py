"""Reconstruction head for masked signal modeling.

Each channel's patches are rebuilt from that channel's own latents (design contract 4): the
same small MLP maps every ``[d_model]`` latent to ``patch_length`` samples, with no mixing or
averaging across channels, so it fits any number of channels.
"""

from __future__ import annotations

import torch
from torch import nn

from ttmbio.params import ModelParams


class PatchDecoder(nn.Module):
    """``[B, C, P, D]`` latents -> ``[B, C, P * patch_length]`` signal."""

    def __init__(self, cfg: ModelParams, hidden: int) -> None:
        super().__init__()
        self.patch_length = cfg.patch_length
        self.mlp = nn.Sequential(
            nn.Linear(cfg.d_model, hidden), nn.GELU(), nn.Linear(hidden, cfg.patch_length)
        )

    def forward(self, latents: torch.Tensor) -> torch.Tensor:
        b, c, p, _ = latents.shape
        return self.mlp(latents).reshape(b, c, p * self.patch_length)


class MaskedAutoencoder(nn.Module):
    """Encoder + decoder: the module trained (and wrapped by DDP) during pretraining."""

    def __init__(self, encoder: nn.Module, decoder: PatchDecoder) -> None:
        super().__init__()
        self.encoder, self.decoder = encoder, decoder

    def forward(self, masked_x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(masked_x))
