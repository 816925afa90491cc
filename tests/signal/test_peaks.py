"""Beat detectors count the right number of beats at 50/80/120 bpm, also across NaN gaps."""

from __future__ import annotations

import neurokit2 as nk
import numpy as np
import pytest

from ttmbio.signal.filters import FilterSpec, apply, design
from ttmbio.signal.peaks import ecg_r_peaks, heart_rate_bpm, peaks_per_window, ppg_peaks

FS = 125.0
HRS = [50, 80, 120]


def _ecg(hr: int, seconds: float = 60.0) -> np.ndarray:
    raw = nk.ecg_simulate(duration=seconds, sampling_rate=int(FS), heart_rate=hr, random_state=hr)
    return apply(design(FilterSpec("butter", 4, 0.5, 40.0), FS), raw)


def _ppg(hr: int, seconds: float = 60.0) -> np.ndarray:
    raw = nk.ppg_simulate(duration=seconds, sampling_rate=int(FS), heart_rate=hr, random_state=hr)
    return apply(design(FilterSpec("butter", 4, 0.5, 8.0), FS), raw)


@pytest.mark.parametrize("hr", HRS)
@pytest.mark.parametrize("kind", ["ecg", "ppg"])
def test_count_and_rate(kind: str, hr: int) -> None:
    x, detect = (_ecg(hr), ecg_r_peaks) if kind == "ecg" else (_ppg(hr), ppg_peaks)
    peaks = detect(x, FS)
    assert peaks.dtype == np.int64
    assert abs(peaks.size - hr) <= 2  # 60 s at hr bpm
    assert np.all(np.diff(peaks) > 0)
    assert heart_rate_bpm([peaks], FS)[0] == pytest.approx(hr, abs=3)


def test_ecg_peaks_sit_on_r_waves() -> None:
    x = _ecg(80)
    peaks = ecg_r_peaks(x, FS)
    assert np.median(x[peaks]) > 0.8 * np.nanmax(x)


@pytest.mark.parametrize("kind", ["ecg", "ppg"])
def test_works_across_nan_gaps(kind: str) -> None:
    hr = 80
    x, detect = (_ecg(hr), ecg_r_peaks) if kind == "ecg" else (_ppg(hr), ppg_peaks)
    full = detect(x, FS)
    gap = slice(round(20 * FS), round(30 * FS))
    xg = x.copy()
    xg[gap] = np.nan
    xg[round(45 * FS) : round(45 * FS) + 100] = np.nan  # a second, short gap
    peaks = detect(xg, FS)
    assert np.isfinite(xg[peaks]).all()
    assert abs(peaks.size - (hr - hr * 10 / 60 - 1)) <= 3  # lost ~13 + ~1 beats
    # away from the gaps the detections are the same as on the intact signal
    far = (peaks < round(19 * FS)) | ((peaks > round(31 * FS)) & (peaks < round(44 * FS)))
    assert np.isin(peaks[far], full).all()
    starts = np.array([0, 4000])  # windows clear of both gaps
    hr_gappy = heart_rate_bpm(peaks_per_window(peaks, starts, 1024), FS)
    np.testing.assert_allclose(hr_gappy, heart_rate_bpm(peaks_per_window(full, starts, 1024), FS))
    assert heart_rate_bpm([peaks], FS)[0] == pytest.approx(hr, abs=3)  # RRs spanning gaps too


def test_all_nan_and_short_runs_give_no_peaks() -> None:
    assert ecg_r_peaks(np.full(1000, np.nan), FS).size == 0
    assert ppg_peaks(np.full(1000, np.nan), FS).size == 0
    assert ppg_peaks(np.zeros(1000), FS).size == 0  # neurokit2 raises IndexError here
    x = np.full(1000, np.nan)
    x[10:100] = 1.0  # < 2 s: skipped
    assert ecg_r_peaks(x, FS).size == 0


def test_peaks_per_window_relative_and_half_open() -> None:
    peaks = np.array([5, 10, 99, 100, 150, 300], dtype=np.int64)
    out = peaks_per_window(peaks, np.array([0, 100, 250, 400]), 100)
    assert [o.tolist() for o in out] == [[5, 10, 99], [0, 50], [50], []]
    assert all(o.dtype == np.int64 for o in out)


def test_heart_rate_is_median_based_and_nan_below_two_peaks() -> None:
    fs = 100.0
    windows = [
        np.array([0, 100, 200, 300]),  # RR 1 s -> 60 bpm
        np.array([0, 50, 100, 130, 180]),  # RR 0.5, 0.5, 0.3, 0.5 -> median 0.5 s -> 120
        np.array([7]),
        np.array([], dtype=np.int64),
        np.array([0, 40, 100]),  # RR 0.4, 0.6 -> median 0.5 -> 120
    ]
    hr = heart_rate_bpm(windows, fs)
    np.testing.assert_allclose(hr[[0, 1, 4]], [60.0, 120.0, 120.0])
    assert np.isnan(hr[2]) and np.isnan(hr[3])
    assert heart_rate_bpm([], fs).size == 0
    assert np.isnan(heart_rate_bpm([np.array([1])], fs)).all()
