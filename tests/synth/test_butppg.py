"""BUT-PPG-like records: quality lives in the PPG, ACC is only partly informative, labels noisy."""

from __future__ import annotations

import neurokit2 as nk
import numpy as np
import pytest
from scipy import signal
from sklearn.metrics import roc_auc_score

from ttmbio.synth import butppg as bp


def _acc_sd(acc: np.ndarray) -> float:
    sos = signal.butter(2, 0.5, "highpass", fs=bp.FS_BUT_ACC, output="sos")
    return float(np.std(signal.sosfiltfilt(sos, acc.astype(float), axis=0)))


def _ppg_periodicity(r: bp.ButPPGSignals) -> float:
    """Share of the PPG's 0.5-8 Hz power within 0.15 Hz of the heart rate or its harmonic."""
    sos = signal.butter(4, [0.5, 8.0], "bandpass", fs=bp.FS_BUT_PPG, output="sos")
    x = signal.sosfiltfilt(sos, r.ppg.astype(float))
    f, p = signal.welch(x, bp.FS_BUT_PPG, nperseg=256, nfft=1024)
    hz = r.hr_bpm / 60.0
    band = (f > 0.5) & (f < 8.0)
    near = (np.abs(f - hz) < 0.15) | (np.abs(f - 2 * hz) < 0.15)
    return float(p[band & near].sum() / p[band].sum())


def _spectral_hr(ppg: np.ndarray) -> float:
    x = signal.detrend(ppg.astype(float)) * np.hanning(ppg.size)
    f = np.fft.rfftfreq(8192, 1 / bp.FS_BUT_PPG)
    p = np.abs(np.fft.rfft(x, 8192))
    band = (f >= 0.7) & (f <= 3.5)
    return float(60 * f[band][np.argmax(p[band])])


@pytest.fixture(scope="module")
def records() -> list[bp.ButPPGSignals]:
    """300 records, 35 % of them good, each from its own seed (as the dataset draws them)."""
    seeds = np.random.SeedSequence(11).spawn(300)
    return [
        bp.simulate_butppg_record(np.random.default_rng(s), i % 20 < 7) for i, s in enumerate(seeds)
    ]


@pytest.mark.parametrize("n", [60, 101, 600])
@pytest.mark.parametrize("share", [0.0, 0.07, 0.2])
def test_label_noise_flips_the_requested_share_and_keeps_the_good_share(
    n: int, share: float
) -> None:
    rng = np.random.default_rng(n)
    flipped = []
    for _ in range(50):
        labels = np.zeros(n, dtype=bool)
        labels[: round(0.35 * n)] = True
        rng.shuffle(labels)
        truth = bp.flip_balanced(rng, labels, share)
        assert truth.sum() == labels.sum()
        flipped.append(np.mean(truth != labels))
    assert np.mean(flipped) == pytest.approx(share, abs=1.0 / n + 1e-9)
    assert (share == 0.0) == (max(flipped) == 0.0)


def test_labels_follow_the_label_argument() -> None:
    r = bp.simulate_butppg_record(np.random.default_rng(1), good=False, label=True)
    assert (r.quality, r.true_quality) == (1, 0)
    assert bp.simulate_butppg_record(np.random.default_rng(1), good=True).quality == 1


def test_accelerometer_is_only_partly_associated_with_quality(
    records: list[bp.ButPPGSignals],
) -> None:
    good = np.array([r.true_quality for r in records])
    acc = np.array([_acc_sd(r.acc_g) for r in records])
    auroc = roc_auc_score(1 - good, acc)  # more movement -> poor
    assert 0.5 < auroc < 0.85
    moving = np.array([r.motion != "still" for r in records])
    assert 0.1 < moving[good == 1].mean() < 0.4 and 0.35 < moving[good == 0].mean() < 0.65
    # poor PPG with a still phone exists, and so does a moving phone with good PPG
    assert ((good == 0) & ~moving).sum() >= 30 and ((good == 1) & moving).sum() >= 10


def test_quality_is_carried_by_the_ppg(records: list[bp.ButPPGSignals]) -> None:
    good = np.array([r.true_quality for r in records])
    sev = np.array([r.severity for r in records])
    assert sev[good == 1].max() <= 0.4 and sev[good == 0].min() >= 0.35
    borderline = np.mean(sev[good == 1] > 0.12)
    assert 0.15 < borderline < 0.45
    period = np.array([_ppg_periodicity(r) for r in records])
    assert roc_auc_score(good, period) > 0.8  # the PPG's own regularity separates the classes
    assert {r.mechanism for r in records if not r.true_quality} == set(bp.MECHANISMS)
    for r in records:
        if r.true_quality and r.severity < 0.12 and r.motion == "still":
            assert abs(_spectral_hr(r.ppg) - r.hr_bpm) <= 8.0


def test_reference_ecg_does_not_depend_on_quality(records: list[bp.ButPPGSignals]) -> None:
    errors = {0: [], 1: []}
    for r in records[:60]:
        _, info = nk.ecg_peaks(r.ecg_mv.astype(float), sampling_rate=1000)
        hr = 60000 / np.mean(np.diff(info["ECG_R_Peaks"]))
        errors[r.true_quality].append(abs(hr - r.hr_bpm))
    assert max(errors[0] + errors[1]) <= 3.0


def test_records_are_deterministic_per_seed() -> None:
    kw = {"borderline_fraction": 0.5, "moving_fraction": (0.5, 0.5)}
    a = bp.simulate_butppg_record(np.random.default_rng(9), good=False, **kw)
    b = bp.simulate_butppg_record(np.random.default_rng(9), good=False, **kw)
    c = bp.simulate_butppg_record(np.random.default_rng(10), good=False, **kw)
    for f in ("ppg", "ecg_mv", "acc_g"):
        assert np.array_equal(getattr(a, f), getattr(b, f))
    assert (a.severity, a.mechanism, a.motion) == (b.severity, b.mechanism, b.motion)
    assert not np.array_equal(a.ppg, c.ppg)
