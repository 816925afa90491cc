"""Filter design matches scipy, is zero-phase, attenuates as designed and respects NaN runs."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.signal import butter, cheby2, sosfreqz

from ttmbio.signal.filters import FilterSpec, apply, design, finite_runs, padlen

FS = 125.0
SPECS = [
    (
        FilterSpec("butter", 4, 0.5, 40.0),
        lambda: butter(4, [0.5, 40.0], "bandpass", fs=FS, output="sos"),
    ),
    (FilterSpec("butter", 2, 0.5, None), lambda: butter(2, 0.5, "highpass", fs=FS, output="sos")),
    (FilterSpec("butter", 6, None, 8.0), lambda: butter(6, 8.0, "lowpass", fs=FS, output="sos")),
    (
        FilterSpec("cheby2", 4, 0.5, 8.0, stopband_db=40.0),
        lambda: cheby2(4, 40.0, [0.5, 8.0], "bandpass", fs=FS, output="sos"),
    ),
    (FilterSpec("cheby2", 5, None, 15.0, 30.0), lambda: cheby2(5, 30.0, 15.0, fs=FS, output="sos")),
]


def _sine(f: float, seconds: float = 30.0, phase: float = 0.3) -> np.ndarray:
    return np.sin(2 * np.pi * f * np.arange(round(seconds * FS)) / FS + phase)


@pytest.mark.parametrize(("spec", "reference"), SPECS)
def test_response_matches_scipy(spec: FilterSpec, reference) -> None:
    sos = design(spec, FS)
    freqs = np.linspace(0.01, FS / 2 - 0.01, 512)
    _, h = sosfreqz(sos, worN=freqs, fs=FS)
    _, h_ref = sosfreqz(reference(), worN=freqs, fs=FS)
    np.testing.assert_allclose(np.abs(h), np.abs(h_ref), atol=1e-9)
    assert sos.ndim == 2 and sos.shape[1] == 6


def test_passband_sine_keeps_amplitude_and_phase() -> None:
    sos = design(FilterSpec("butter", 4, 0.5, 40.0), FS)
    x = _sine(5.0)
    y = apply(sos, x)
    core = slice(round(5 * FS), -round(5 * FS))
    assert y.dtype == np.float32
    assert np.abs(y[core]).max() == pytest.approx(1.0, rel=0.02)
    # zero phase: the output lines up with the input sample by sample (no lag)
    assert np.abs(y[core] - x[core]).max() < 0.02
    lags = np.arange(-10, 11)
    xc = [np.dot(np.roll(x, k)[core], y[core]) for k in lags]
    assert lags[int(np.argmax(xc))] == 0


@pytest.mark.parametrize(("spec", "f_stop"), [(SPECS[0][0], 55.0), (SPECS[3][0], 20.0)])
def test_stopband_sine_attenuated_as_designed(spec: FilterSpec, f_stop: float) -> None:
    sos = design(spec, FS)
    _, h = sosfreqz(sos, worN=[f_stop], fs=FS)
    expected_gain = np.abs(h[0]) ** 2  # filtfilt applies the response twice
    y = apply(sos, _sine(f_stop, seconds=60.0)).astype(np.float64)
    # amplitude at f_stop by least squares (ignores the slow edge transient of the 0.5 Hz HPF)
    t = np.arange(y.size) / FS
    basis = np.stack([np.sin(2 * np.pi * f_stop * t), np.cos(2 * np.pi * f_stop * t)], axis=1)
    core = slice(round(10 * FS), -round(10 * FS))
    coef, *_ = np.linalg.lstsq(basis[core], y[core], rcond=None)
    gain = float(np.hypot(*coef))
    assert gain == pytest.approx(expected_gain, rel=0.05, abs=1e-7)
    assert gain < 10 ** (-40 / 20)  # >= 40 dB down after the two passes


def test_nan_runs_preserved_and_segments_filtered_separately() -> None:
    sos = design(FilterSpec("butter", 4, 0.5, 40.0), FS)
    x = _sine(5.0) + 100.0  # a large offset would ring at gap edges if NaN leaked
    x[1000:1100] = np.nan
    x[2000 : 2000 + padlen(sos)] = 7.0  # isolated run too short for sosfiltfilt
    x[2000 + padlen(sos) : 2100] = np.nan
    x[1999] = np.nan
    y = apply(sos, x)
    assert np.isnan(y[1000:1100]).all() and np.isnan(y[1999:2100]).all()
    assert np.isfinite(y[:1000]).all() and np.isfinite(y[1100:1999]).all()
    np.testing.assert_allclose(y[:1000], apply(sos, x[:1000]), atol=1e-6)
    np.testing.assert_allclose(y[2100:], apply(sos, x[2100:]), atol=1e-6)


def test_apply_stacks_of_windows() -> None:
    sos = design(FilterSpec("butter", 2, 1.0, 20.0), FS)
    w = np.random.default_rng(0).normal(size=(3, 500))
    np.testing.assert_allclose(apply(sos, w)[1], apply(sos, w[1]), atol=1e-6)
    w[2, 100] = np.nan
    y = apply(sos, w)
    assert np.isnan(y[2, 100]) and np.isfinite(y[:2]).all()


def test_finite_runs() -> None:
    starts, stops = finite_runs(np.array([np.nan, 1, 2, np.nan, np.inf, 3]))
    assert starts.tolist() == [1, 5] and stops.tolist() == [3, 6]


@pytest.mark.parametrize(
    ("spec", "match"),
    [
        (FilterSpec("butter", 4, 0.5, 62.5), "Nyquist"),
        (FilterSpec("butter", 4, 70.0, None), "Nyquist"),
        (FilterSpec("butter", 4, 0.0, 10.0), "Nyquist"),
        (FilterSpec("butter", 4, 10.0, 5.0), "below"),
        (FilterSpec("butter", 4, 5.0, 5.0), "below"),
        (FilterSpec("butter", 4, None, None), "both are None"),
        (FilterSpec("butter", 0, 0.5, 8.0), "order"),
        (FilterSpec("cheby2", 4, 0.5, 8.0, stopband_db=0.0), "stopband_db"),
        (FilterSpec("bessel", 4, 0.5, 8.0), "kind"),  # type: ignore[arg-type]
    ],
)
def test_invalid_specs_raise(spec: FilterSpec, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        design(spec, FS)
