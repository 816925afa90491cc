"""Window-level spectral targets for the embedding objective of pretraining.

Masked patch reconstruction rewards latents that describe each patch's waveform; averaged over
patches (what a task head reads), such phase-bound features largely cancel, and the window's
amplitude and rhythm are no longer linearly readable (measured in the README's "Does
pretraining pay off?"). Following TSPulse's frequency-space reconstruction from an embedding
(Ekambaram et al. 2025), a linear head must predict each channel's log band power of the
*whole, unmasked* window from that channel's patch-averaged latent. Overall level (amplitude,
perfusion) shifts every band, the heart rate moves power between bands, so both must be
present in the pooled embedding.

Bands are log-spaced between ``low_hz`` and Nyquist over the window's rFFT bins; a band too
narrow to hold a bin takes the nearest bin, so every band is defined for any window length.
"""

from __future__ import annotations

import itertools

import numpy as np
import torch


def band_edges(length: int, fs: float, n_bands: int, low_hz: float) -> list[tuple[int, int]]:
    """``[start, stop)`` rFFT bin ranges of ``n_bands`` log-spaced bands, each non-empty."""
    nyquist = fs / 2
    if not 0 < low_hz < nyquist:
        raise ValueError(f"low_hz must be in (0, {nyquist}) Hz (Nyquist), got {low_hz}")
    resolution = fs / length
    edges_hz = np.geomspace(low_hz, nyquist, n_bands + 1)
    edges = np.clip(np.round(edges_hz / resolution).astype(int), 1, length // 2 + 1)
    return [(int(a), int(max(b, a + 1))) for a, b in itertools.pairwise(edges)]


def log_band_power(x: torch.Tensor, edges: list[tuple[int, int]], eps: float) -> torch.Tensor:
    """``[..., T]`` signals -> ``[..., n_bands]`` log(mean power in band + eps)."""
    power = torch.fft.rfft(x.float(), dim=-1).abs().square() / x.shape[-1]
    bands = [power[..., a:b].mean(dim=-1) for a, b in edges]
    return torch.log(torch.stack(bands, dim=-1) + eps)
