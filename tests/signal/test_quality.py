"""SQIs: clean windows pass, noisy / flat / clipped windows are flagged, with numbers."""

from __future__ import annotations

from dataclasses import dataclass

import neurokit2 as nk
import numpy as np
import pytest
from scipy.stats import skew

from ttmbio.signal.filters import FilterSpec, apply, design
from ttmbio.signal.peaks import ecg_r_peaks, peaks_per_window, ppg_peaks
from ttmbio.signal.quality import (
    clipped_fraction,
    ecg_template_sqi,
    longest_flat_run_s,
    ppg_skewness_sqi,
    ppg_template_sqi,
)
from ttmbio.signal.resample import resample
from ttmbio.synth.physiology import FS_VITAL, CaseProfile, simulate_vital_case

FS = 125.0
T = 1024
ECG_BAND = design(FilterSpec("butter", 4, 0.5, 40.0), FS)
PPG_BAND = design(FilterSpec("butter", 4, 0.5, 8.0), FS)


@dataclass
class Case:
    ecg_500: np.ndarray  # raw, 500 Hz
    ppg_500: np.ndarray
    starts: np.ndarray  # 125 Hz window starts clear of every event (+- 2 s)


def _cut(x: np.ndarray, starts: np.ndarray) -> np.ndarray:
    return np.stack([x[s : s + T] for s in starts])


@pytest.fixture(scope="module")
def case() -> Case:
    profile = CaseProfile(
        duration_s=240.0, base_hr_bpm=72.0, base_map_mmhg=85.0, pulse_pressure_mmhg=45.0,
        ecg_morphology=0, ppg_morphology=0, resp_rate_bpm=12.0, n_hypotension_episodes=0,
        artifact_rate_per_min=0.5, has_bis=False,
    )  # fmt: skip
    sig = simulate_vital_case(profile, np.random.default_rng(11))
    n = round(sig.ecg_mv.size * FS / FS_VITAL)
    bad = np.zeros(n, dtype=bool)
    for ev in sig.events:
        bad[max(round((ev.start_s - 2) * FS), 0) : round((ev.end_s + 2) * FS)] = True
    starts = np.array([s for s in range(250, n - T - 250, T // 2) if not bad[s : s + T].any()])
    assert starts.size >= 10
    return Case(sig.ecg_mv.copy(), sig.pleth.copy(), starts)


def _ecg_sqi(ecg_500: np.ndarray, starts: np.ndarray) -> np.ndarray:
    ecg = apply(ECG_BAND, resample(ecg_500, FS_VITAL, FS))
    peaks = peaks_per_window(ecg_r_peaks(ecg, FS), starts, T)
    return ecg_template_sqi(_cut(ecg, starts), peaks, FS)


def _ppg_filtered(ppg_500: np.ndarray) -> np.ndarray:
    return apply(PPG_BAND, resample(ppg_500, FS_VITAL, FS))


# ------------------------------------------------------------------------------- template SQI


def test_clean_ecg_windows_pass(case: Case) -> None:
    sqi = _ecg_sqi(case.ecg_500, case.starts)
    assert np.all(sqi >= 0.9), sqi.min()


@pytest.mark.parametrize("hr", [50, 80, 120])
def test_clean_neurokit_ecg_passes(hr: int) -> None:
    raw = nk.ecg_simulate(duration=40, sampling_rate=int(FS), heart_rate=hr, random_state=hr)
    ecg = apply(ECG_BAND, raw)
    starts = np.arange(0, ecg.size - T + 1, T // 2)
    sqi = ecg_template_sqi(_cut(ecg, starts), peaks_per_window(ecg_r_peaks(ecg, FS), starts, T), FS)
    assert np.all(sqi >= 0.9), sqi.min()


def test_white_noise_at_0db_fails(case: Case) -> None:
    rng = np.random.default_rng(1)
    clean = apply(ECG_BAND, resample(case.ecg_500, FS_VITAL, FS))
    # 0 dB in band: the noise's power after the 0.5-40 Hz filter equals the ECG's
    noise = rng.normal(size=case.ecg_500.size)
    noise_in_band = apply(ECG_BAND, resample(noise, FS_VITAL, FS))
    noise *= np.nanstd(_cut(clean, case.starts)) / np.nanstd(noise_in_band)
    sqi = _ecg_sqi(case.ecg_500 + noise.astype(np.float32), case.starts)
    assert np.all(sqi < 0.9), sqi.max()


def test_motion_bursts_fail(case: Case) -> None:
    rng = np.random.default_rng(2)
    t = np.arange(case.ecg_500.size) / FS_VITAL
    motion = sum(rng.uniform(0.5, 1.5) * np.sin(2 * np.pi * f * t + rng.uniform(0, 6.3))
                 for f in rng.uniform(0.7, 4.0, 6))  # fmt: skip
    motion *= 0.5 + 0.5 * np.sin(2 * np.pi * 0.4 * t) ** 2  # bursty envelope
    sqi = _ecg_sqi(case.ecg_500 + motion.astype(np.float32), case.starts)
    assert np.median(sqi) < 0.8 and np.all(sqi < 0.9), sqi


def test_template_sqi_exact_cases() -> None:
    fs = 100.0
    beat = np.exp(-0.5 * ((np.arange(100) - 50) / 3.0) ** 2)
    x = np.tile(beat, 10)[None, :]  # perfectly periodic: every beat equals the template
    peaks = [np.arange(50, 1000, 100)]
    assert ecg_template_sqi(x, peaks, fs)[0] == pytest.approx(1.0)
    two = [np.array([150, 250])]
    assert np.isnan(ecg_template_sqi(x, two, fs)[0])  # < 3 beats
    edge = [np.array([10, 50, 150, 990])]  # beats at 10 and 990 do not fit -> 2 left
    assert np.isnan(ecg_template_sqi(x, edge, fs)[0])
    x_nan = x.copy()
    x_nan[0, 240] = np.nan
    assert np.isnan(ecg_template_sqi(x_nan, peaks, fs)[0])
    with pytest.raises(ValueError, match="peak lists"):
        ecg_template_sqi(x, [], fs)


def test_ppg_template_sqi_separates_noise(case: Case) -> None:
    ppg = _ppg_filtered(case.ppg_500)
    clean = ppg_template_sqi(_cut(ppg, case.starts),
                             peaks_per_window(ppg_peaks(ppg, FS), case.starts, T), FS)  # fmt: skip
    noise = apply(PPG_BAND, np.random.default_rng(3).normal(size=ppg.size))
    noisy = ppg + noise * (np.nanstd(ppg) / np.nanstd(noise))  # 0 dB in the 0.5-8 Hz band
    bad = ppg_template_sqi(_cut(noisy, case.starts),
                           peaks_per_window(ppg_peaks(noisy, FS), case.starts, T), FS)  # fmt: skip
    assert clean.min() >= 0.97 and np.nanmax(bad) < 0.95


# ------------------------------------------------------------------------------- skewness SQI


def test_skewness_matches_scipy(case: Case) -> None:
    ppg = _cut(_ppg_filtered(case.ppg_500), case.starts)
    rand = np.random.default_rng(4).gamma(2.0, size=(5, 300))
    for w in (ppg, rand):
        np.testing.assert_allclose(ppg_skewness_sqi(w), skew(w.astype(np.float64), axis=1),
                                   rtol=1e-9, atol=1e-12)  # fmt: skip
    assert ppg_skewness_sqi(rand).mean() > 1.0  # gamma(2) has skewness sqrt(2)
    const = np.full((2, 100), 3.7)
    const[1, 5] = np.nan
    assert np.isnan(ppg_skewness_sqi(const)).all()


# ------------------------------------------------------------------------ flatline / clipping


def test_clean_windows_are_not_flat_or_clipped(case: Case) -> None:
    for raw in (case.ecg_500, case.ppg_500):
        w = _cut(resample(raw, FS_VITAL, FS), case.starts)
        assert longest_flat_run_s(w, FS).max() < 0.1
        assert clipped_fraction(w).max() < 0.02


def test_injected_flatline_is_flagged(case: Case) -> None:
    ppg = case.ppg_500.copy()
    s = case.starts[len(case.starts) // 2]
    i0 = round((s + 300) / FS * FS_VITAL)
    ppg[i0 : i0 + round(1.2 * FS_VITAL)] = ppg[i0 - 1]  # 1.2 s held value at 500 Hz
    w = _cut(resample(ppg, FS_VITAL, FS), np.array([s]))
    assert longest_flat_run_s(w, FS)[0] >= 1.0
    assert longest_flat_run_s(np.full((1, T), 2.0), FS)[0] == pytest.approx(T / FS)


@pytest.mark.parametrize("rail", ["top", "bottom"])
def test_injected_clipping_is_flagged(case: Case, rail: str) -> None:
    w = _cut(resample(case.ppg_500, FS_VITAL, FS), case.starts[:4]).astype(np.float64)
    q = np.quantile(w, 0.85 if rail == "top" else 0.15, axis=1, keepdims=True)
    w = np.minimum(w, q) if rail == "top" else np.maximum(w, q)
    frac = clipped_fraction(w)
    assert np.all(frac >= 0.1), frac
    assert clipped_fraction(np.full((1, 50), 1.0))[0] == 1.0


@pytest.mark.parametrize("channel", ["ecg", "ppg"])
def test_clipping_at_the_native_rate_is_flagged(case: Case, channel: str) -> None:
    """Saturation is an ADC property: judge the 500 Hz samples of each 125 Hz window."""
    raw = (case.ecg_500 if channel == "ecg" else case.ppg_500).astype(np.float64)
    starts_500 = case.starts[:6] * 4
    w_clean = _cut4(raw, starts_500)
    clipped = raw.copy()
    for s in starts_500:  # the simulator's recipe: a rail at the 55-80 % quantile
        seg = clipped[s : s + 4 * T]
        seg[:] = np.minimum(seg, np.quantile(seg, 0.6))
    frac = clipped_fraction(_cut4(clipped, starts_500))
    assert np.all(frac >= 0.15), frac  # 40 % sit on the rail, noise breaks up a part of it
    assert clipped_fraction(w_clean).max() < 0.01


def _cut4(x: np.ndarray, starts_500: np.ndarray) -> np.ndarray:
    return np.stack([x[s : s + 4 * T] for s in starts_500])


def _brute_clipped(x: np.ndarray, rel_tol: float, min_run: int) -> float:
    hi, lo = np.nanmax(x), np.nanmin(x)
    count = 0
    for rail in (x >= hi - rel_tol * (hi - lo), x <= lo + rel_tol * (hi - lo)):
        run = 0
        for v in [*rail.tolist(), False]:
            if v:
                run += 1
            else:
                count += run if run >= min_run else 0
                run = 0
    return min(count, x.size) / x.size


def _brute_flat(x: np.ndarray, fs: float, rel_tol: float) -> float:
    flat = np.abs(np.diff(x)) <= rel_tol * (np.nanmax(x) - np.nanmin(x))
    best = run = 0
    for v in flat.tolist():
        run = run + 1 if v else 0
        best = max(best, run)
    return (best + 1) / fs if best else 0.0


def test_run_detectors_match_a_plain_loop() -> None:
    rng = np.random.default_rng(5)
    w = np.round(rng.normal(size=(40, 200)).cumsum(axis=1), 0)  # plenty of ties and plateaus
    w[3] = 1.0
    w[4, :50] = w[4].max() + 1
    w[5, 10] = np.nan
    fast_c, fast_f = clipped_fraction(w, 0.05, 3), longest_flat_run_s(w, 50.0, 0.01)
    for i, x in enumerate(w):
        assert fast_c[i] == pytest.approx(_brute_clipped(x, 0.05, 3)), i
        assert fast_f[i] == pytest.approx(_brute_flat(x, 50.0, 0.01)), i
    with pytest.raises(ValueError, match="rel_tol"):
        clipped_fraction(w, rel_tol=0.5)


def test_nan_windows_do_not_warn() -> None:
    w = np.full((2, 64), np.nan)
    w[1] = np.arange(64.0)
    with np.errstate(all="raise"):
        assert longest_flat_run_s(w, FS).tolist() == [0.0, 0.0]
        assert clipped_fraction(w)[0] == 0.0
