"""The embedding objective's spectral target: log-spaced bands of the window's power."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch
from scipy.signal import periodogram

from ttmbio.model.decoder import MaskedAutoencoder, PatchDecoder, SpectrumHead
from ttmbio.model.encoder import TTMEncoder
from ttmbio.params import ModelParams
from ttmbio.ssl.spectrum import band_edges, log_band_power

FS, T = 125.0, 1024


def test_bands_are_ordered_non_empty_and_cover_low_hz_to_nyquist() -> None:
    edges = band_edges(T, FS, 24, 0.5)
    assert len(edges) == 24
    assert all(b > a for a, b in edges)
    assert all(a2 >= a1 for (a1, _), (a2, _) in itertools.pairwise(edges))
    assert edges[0][0] == round(0.5 / (FS / T)) and edges[-1][1] == T // 2


def test_low_hz_at_or_above_nyquist_is_refused() -> None:
    with pytest.raises(ValueError, match="Nyquist"):
        band_edges(T, FS, 8, 62.5)


def test_band_power_matches_scipy_periodogram_and_peaks_at_the_tone() -> None:
    t = np.arange(T) / FS
    x = np.sin(2 * np.pi * 1.5 * t) + 0.1 * np.random.default_rng(0).standard_normal(T)
    edges = band_edges(T, FS, 24, 0.5)
    ours = log_band_power(torch.from_numpy(x)[None], edges, eps=1e-6)[0].numpy()
    _, pxx = periodogram(x, fs=FS, window="boxcar", scaling="spectrum", return_onesided=False)
    # scipy's two-sided power spectrum is |X|^2 / T^2; ours is |X|^2 / T
    reference = [math.log(pxx[a:b].mean() * T + 1e-6) for a, b in edges]
    np.testing.assert_allclose(ours, reference, rtol=1e-5, atol=1e-5)
    peak = int(np.argmax(ours))
    a, b = edges[peak]
    assert a * FS / T <= 1.5 < b * FS / T


def test_doubling_the_amplitude_raises_every_band_by_log_4() -> None:
    x = torch.randn(3, 2, T)
    edges = band_edges(T, FS, 16, 0.5)
    delta = log_band_power(2 * x, edges, 1e-9) - log_band_power(x, edges, 1e-9)
    torch.testing.assert_close(delta, torch.full_like(delta, math.log(4.0)), atol=1e-4, rtol=0)


def test_autoencoder_returns_bands_only_with_a_spectrum_head() -> None:
    cfg = ModelParams(channels=["PPG", "ECG"], d_model=16, num_layers=2)
    x = torch.randn(2, 2, cfg.context_length)
    plain = MaskedAutoencoder(TTMEncoder(cfg), PatchDecoder(cfg, 8))
    recon, bands = plain(x)
    assert recon.shape == x.shape and bands is None
    with_head = MaskedAutoencoder(TTMEncoder(cfg), PatchDecoder(cfg, 8), SpectrumHead(16, 12))
    recon, bands = with_head(x)
    assert recon.shape == x.shape and bands is not None and bands.shape == (2, 2, 12)
