"""Resampling keeps frequency and amplitude, has resample_poly's length, and contains NaN gaps."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.signal import resample_poly

from ttmbio.signal.resample import rational_factors, resample

RATES = [(500.0, 125.0), (1000.0, 125.0), (30.0, 125.0), (100.0, 125.0), (125.0, 125.0)]


def _sine(fs: float, f0: float, seconds: float = 20.0, amp: float = 1.5) -> np.ndarray:
    t = np.arange(round(seconds * fs)) / fs
    return (amp * np.sin(2 * np.pi * f0 * t) + 3.0).astype(np.float32)


@pytest.mark.parametrize(("fs_in", "fs_out"), RATES)
def test_sine_keeps_frequency_and_amplitude(fs_in: float, fs_out: float) -> None:
    f0 = 2.5  # inside every band (30 Hz input has Nyquist 15)
    y = resample(_sine(fs_in, f0), fs_in, fs_out)
    assert y.dtype == np.float32
    core = y[round(fs_out) : -round(fs_out)] - 3.0  # skip 1 s of edges
    spec = np.abs(np.fft.rfft(core * np.hanning(core.size)))
    freqs = np.fft.rfftfreq(core.size, 1 / fs_out)
    assert freqs[np.argmax(spec)] == pytest.approx(f0, abs=fs_out / core.size)
    assert (core.max() - core.min()) / 2 == pytest.approx(1.5, rel=0.02)


@pytest.mark.parametrize(("fs_in", "fs_out"), RATES)
def test_length_matches_resample_poly(fs_in: float, fs_out: float) -> None:
    up, down = rational_factors(fs_in, fs_out)
    for n in (1, 7, 1001, 12345):
        x = np.random.default_rng(n).normal(size=n)
        y = resample(x, fs_in, fs_out)
        assert y.size == -(-n * up // down) == resample_poly(x, up, down).size


def test_factors() -> None:
    assert rational_factors(500, 125) == (1, 4)
    assert rational_factors(1000, 125) == (1, 8)
    assert rational_factors(30, 125) == (25, 6)
    assert rational_factors(100, 125) == (5, 4)
    assert rational_factors(125, 125) == (1, 1)
    with pytest.raises(ValueError, match="positive"):
        rational_factors(0, 125)


def test_identity_copies() -> None:
    x = np.array([1.0, np.nan, 3.0], dtype=np.float32)
    y = resample(x, 125, 125)
    np.testing.assert_array_equal(y, x)
    assert y is not x


def test_antialiasing_removes_above_new_nyquist() -> None:
    y = resample(_sine(500.0, 100.0), 500.0, 125.0)  # 100 Hz would alias to 25 Hz
    assert np.abs(y[125:-125] - 3.0).max() < 0.02


@pytest.mark.parametrize(("fs_in", "fs_out"), RATES[:4])
def test_nan_gap_spreads_only_within_filter_support(fs_in: float, fs_out: float) -> None:
    x = _sine(fs_in, 1.3, seconds=30.0)
    gap = slice(round(10 * fs_in), round(12 * fs_in))
    x[gap] = np.nan
    y = resample(x, fs_in, fs_out)
    up, down = rational_factors(fs_in, fs_out)
    spread = 10 * max(up, down) / down + 1  # scipy's FIR half-length, in output samples
    t_out = np.arange(y.size) / fs_out
    near = (t_out >= 10.0 - spread / fs_out) & (t_out < 12.0 + spread / fs_out)
    inside = (t_out >= 10.0) & (t_out < 12.0 - 1 / fs_out)
    assert np.isnan(y[inside]).all()
    assert np.isfinite(y[~near]).all()
    assert np.isnan(y).sum() <= 2 * fs_out + 2 * spread + 2


def test_finite_outputs_ignore_the_gap_fill() -> None:
    """Outside the NaN mask the result equals resampling the clean signal."""
    x = _sine(500.0, 1.3, seconds=30.0)
    xg = x.copy()
    xg[5000:6000] = np.nan
    y, y_clean = resample(xg, 500, 125), resample(x, 500, 125)
    ok = np.isfinite(y)
    np.testing.assert_allclose(y[ok], y_clean[ok], atol=1e-5)
    assert ok.sum() > y.size - 250 - 2 * 11


def test_single_nan_marks_exact_support() -> None:
    x = np.zeros(400, dtype=np.float32)
    x[200] = np.nan
    y = resample(x, 500, 125)  # up=1, down=4, half-length 40 input samples
    np.testing.assert_array_equal(np.flatnonzero(np.isnan(y)), np.arange(40, 61))


@pytest.mark.parametrize(("fs_in", "fs_out"), RATES)
def test_constant_stays_constant(fs_in: float, fs_out: float) -> None:
    """Polyphase branches have unit DC gain: no ripple that could hide a flatline."""
    y = resample(np.full(round(10 * fs_in), 80.0), fs_in, fs_out)
    np.testing.assert_allclose(y, 80.0, rtol=1e-6)
