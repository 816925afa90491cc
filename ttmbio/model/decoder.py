"""Pretraining heads: patch reconstruction and the window spectrum from the pooled embedding.

Each channel's patches are rebuilt from that channel's own latents (design contract 4): the
same small MLP maps every ``[d_model]`` latent to ``patch_length`` samples, with no mixing or
averaging across channels, so it fits any number of channels. The optional spectrum head is
linear on each channel's patch-averaged latent (the features a task head pools), so what it
must predict has to be linearly present there (see :mod:`ttmbio.ssl.spectrum`).
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


class SpectrumHead(nn.Module):
    """``[B, C, P, D]`` latents -> ``[B, C, n_bands]``: a linear map of the patch mean."""

    def __init__(self, d_model: int, n_bands: int) -> None:
        super().__init__()
        self.linear = nn.Linear(d_model, n_bands)

    def forward(self, latents: torch.Tensor) -> torch.Tensor:
        return self.linear(latents.mean(dim=2))


class MaskedAutoencoder(nn.Module):
    """Encoder + heads: the module trained (and wrapped by DDP) during pretraining.

    ``forward`` returns the reconstructed windows and, with a spectrum head, the predicted
    log band powers (else ``None``).
    """

    def __init__(
        self, encoder: nn.Module, decoder: PatchDecoder, spectrum: SpectrumHead | None = None
    ) -> None:
        super().__init__()
        self.encoder, self.decoder, self.spectrum = encoder, decoder, spectrum

    def forward(
        self, masked_x: torch.Tensor, observed: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        latents = self.encoder(masked_x, observed)
        bands = self.spectrum(latents) if self.spectrum is not None else None
        return self.decoder(latents), bands
