"""Rhythm-tolerant SQIs: bSQI (two-detector agreement) and the dominant-morphology SQI.

bSQI is checked against hand-made peak lists with the counts worked out by hand; the
morphology SQI against hand-made beat trains (sinus, a PVC, bigeminy, noise), next to the
spec's template SQI, which fails the clean arrhythmic ones.
"""

from __future__ import annotations

from typing import get_args

import neurokit2 as nk
import numpy as np
import pytest

from ttmbio.params import ECGDetector
from ttmbio.signal.filters import FilterSpec, apply, design
from ttmbio.signal.peaks import ECG_DETECTORS, ecg_r_peaks, peaks_per_window
from ttmbio.signal.quality import bsqi, ecg_template_sqi, match_beats, morphology_sqi

FS = 125.0
TOL = round(0.15 * FS)  # 19 samples


# ------------------------------------------------------------------------------ match / bSQI


def test_match_beats_is_one_to_one_within_the_tolerance() -> None:
    a = np.array([100, 200, 300, 400])
    b = np.array([105, 210, 219, 400 + TOL + 1])
    in_a, in_b = match_beats(a, b, TOL)
    # 100-105 and 200-210 match; 219's nearest is 200, whose nearest is 210, and 300's
    # nearest (219) is 81 samples away: no match; 400 vs 420 is 20 > 19 samples apart
    assert in_a.tolist() == [True, True, False, False]
    assert in_b.tolist() == [True, True, False, False]
    in_a, in_b = match_beats(np.array([100, 110]), np.array([105]), TOL)
    assert in_a.sum() == in_b.sum() == 1  # never two beats on one
    assert match_beats(np.array([], dtype=int), b, TOL)[1].tolist() == [False] * 4


def test_bsqi_on_hand_made_peak_lists() -> None:
    length = 1000
    starts = np.array([0, 1000, 2000, 3000])
    a = np.array([100, 300, 500, 700, 900, 1100, 1300, 1500, 1700, 1900, 2100, 2300])
    b = np.array(
        # window 0: identical; window 1: one missed (1300), one extra (1400), one 18 samples
        # late (still a match); window 2: 2100 matched, 2300 missed, 2500 extra
        [100, 300, 500, 700, 900, 1100, 1400, 1518, 1700, 1900, 2100, 2500]
    )
    got = bsqi(a, b, starts, length, FS)
    assert got[0] == 1.0
    assert got[1] == pytest.approx(4 / (5 + 5 - 4))  # matched / (n_a + n_b - matched)
    assert got[2] == pytest.approx(1 / (2 + 2 - 1))
    assert np.isnan(got[3])  # no beat from either detector


def test_bsqi_tolerance_is_150_ms_and_a_border_pair_counts_once() -> None:
    starts = np.array([0, 500])
    a = np.array([100, 300, 495, 700, 900])
    late = np.array([100, 300, 505, 700 + TOL, 900 + TOL + 1])  # 900 + 20 is 160 ms late
    got = bsqi(a, late, starts, 500, FS)
    # window 0 holds a's 100, 300, 495 (all matched, 495's partner 505 sits in window 1)
    assert got[0] == 1.0
    # window 1: a 700 (matched), a 900 and b 920 unmatched -> 1 / 3
    assert got[1] == pytest.approx(1 / 3)
    assert bsqi(a, a + 10, starts, 500, 1000.0)[0] == 1.0  # tolerance scales with fs


def test_bsqi_of_two_detectors_is_high_on_clean_ecg_and_low_on_noise() -> None:
    raw = nk.ecg_simulate(duration=120, sampling_rate=int(FS), heart_rate=75, random_state=2)
    band = design(FilterSpec("butter", 4, 0.5, 40.0), FS)
    ecg = apply(band, raw)
    starts = np.arange(0, ecg.size - 1024, 512)
    a, b = ecg_r_peaks(ecg, FS, "pantompkins1985"), ecg_r_peaks(ecg, FS, "kalidas2017")
    assert bsqi(a, b, starts, 1024, FS).min() >= 0.9
    noise = apply(band, np.random.default_rng(0).normal(size=ecg.size))
    noisy = ecg + noise * np.std(ecg) / np.std(noise)  # 0 dB in the ECG band
    a, b = ecg_r_peaks(noisy, FS, "pantompkins1985"), ecg_r_peaks(noisy, FS, "kalidas2017")
    assert np.median(bsqi(a, b, starts, 1024, FS)) < 0.8


def test_unknown_detector_is_refused() -> None:
    assert set(get_args(ECGDetector)) == set(ECG_DETECTORS)  # params offer what peaks runs
    with pytest.raises(ValueError, match="unknown ECG detector"):
        ecg_r_peaks(np.zeros(1000), FS, "nope")


# ------------------------------------------------------------------------- morphology SQI


def _gauss(t: np.ndarray, mu: float, sd: float) -> np.ndarray:
    return np.exp(-0.5 * ((t - mu) / sd) ** 2)


def _train(kinds: str, rr: float = 100.0, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Beats every ``rr`` samples (a little jitter); 'N' sinus-like, 'V' wide and inverted."""
    rng = np.random.default_rng(seed)
    peaks = (np.arange(len(kinds)) + 1.0) * rr + rng.integers(-2, 3, len(kinds))
    t = np.arange(int((len(kinds) + 1) * rr))  # every beat fits, half a beat to spare
    x = np.zeros(t.size)
    for p, k in zip(peaks, kinds, strict=True):
        if k == "N":
            x += _gauss(t, p, 2.0) - 0.2 * _gauss(t, p + 5, 2.0) + 0.25 * _gauss(t, p + 30, 7.0)
        else:
            x += -1.3 * _gauss(t, p, 5.0) + 0.4 * _gauss(t, p + 30, 9.0)
    return x + rng.normal(0, 0.01, t.size), peaks.astype(np.int64)


@pytest.mark.parametrize(
    ("kinds", "expected"),
    [
        ("NNNNNNNNNN", 1.0),  # sinus
        ("NNNNVNNNNN", 0.9),  # one PVC: one beat no shape explains
        ("NNVNNVNNVN", 1.0),  # trigeminy: two shapes, both seen >= 2 times
        ("NVNVNVNVNV", 1.0),  # bigeminy
    ],
)
def test_morphology_sqi_explains_ectopy_the_template_sqi_does_not(
    kinds: str, expected: float
) -> None:
    x, peaks = _train(kinds)
    got = morphology_sqi(x[None], [peaks], FS)[0]
    assert got == pytest.approx(expected, abs=0.01)
    if "V" in kinds:
        assert ecg_template_sqi(x[None], [peaks], FS)[0] < 0.9  # the spec's SQI fails them


def test_morphology_sqi_limits_the_number_of_shapes() -> None:
    x, peaks = _train("NVNVNVNVNV")
    assert morphology_sqi(x[None], [peaks], FS, max_morphologies=1)[0] == pytest.approx(0.5)


def test_morphology_sqi_fails_noise_and_cannot_judge_few_beats() -> None:
    rng = np.random.default_rng(3)
    noise = rng.normal(size=(20, 1024))
    peaks = [np.sort(rng.choice(np.arange(60, 964), 10, replace=False)) for _ in range(20)]
    assert np.nanmax(morphology_sqi(noise, peaks, FS)) < 0.5
    x, p = _train("NNNNNNNNNN")
    assert np.isnan(morphology_sqi(x[None], [p[:2]], FS)[0])  # < 3 beats
    x_nan = x.copy()
    x_nan[p[4]] = np.nan
    assert np.isnan(morphology_sqi(x_nan[None], [p], FS)[0])
    flat = np.zeros((1, x.size))
    assert morphology_sqi(flat, [p], FS)[0] == 0.0  # flat beats match no shape
    with pytest.raises(ValueError, match="peak lists"):
        morphology_sqi(x[None], [], FS)


def test_morphology_sqi_cap_and_per_window_peaks() -> None:
    x, peaks = _train("N" * 25)
    starts = np.array([0, 512, 1024])
    got = morphology_sqi(
        np.stack([x[s : s + 1024] for s in starts]),
        peaks_per_window(peaks, starts, 1024),
        FS,
        max_half_s=0.25,
    )
    assert got.tolist() == [1.0, 1.0, 1.0]
