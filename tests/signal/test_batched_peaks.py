"""The batched detectors return exactly neurokit2's peaks, on clean and difficult signals."""

from __future__ import annotations

import neurokit2 as nk
import numpy as np
import pytest

from ttmbio.signal.batched_peaks import ecg_findpeaks_neurokit, ppg_findpeaks_elgendi
from ttmbio.signal.filters import FilterSpec, apply, design
from ttmbio.signal.resample import resample
from ttmbio.synth.physiology import CaseProfile, simulate_vital_case

FS = 125.0


def _nk_ecg(x: np.ndarray) -> np.ndarray:
    return np.asarray(nk.ecg_findpeaks(x, sampling_rate=FS, method="neurokit")["ECG_R_Peaks"])


def _nk_ppg(x: np.ndarray) -> np.ndarray:
    try:
        return np.asarray(nk.ppg_findpeaks(x, sampling_rate=FS, method="elgendi")["PPG_Peaks"])
    except IndexError:  # neurokit2 indexes beg_waves[0] even when no wave starts
        return np.zeros(0, dtype=np.int64)


def _case(seed: int, **kw: object) -> tuple[np.ndarray, np.ndarray]:
    """Filtered ECG and PPG at 125 Hz of a simulated case (ectopy, AF, artefacts...)."""
    profile = CaseProfile(
        **{
            "duration_s": 180.0,
            "base_hr_bpm": 70.0 + 10 * seed,
            "base_map_mmhg": 85.0,
            "pulse_pressure_mmhg": 45.0,
            "ecg_morphology": seed % 3,
            "ppg_morphology": seed % 3,
            "resp_rate_bpm": 14.0,
            "n_hypotension_episodes": 0,
            "artifact_rate_per_min": 0.0,
            "has_bis": False,
            **kw,
        }
    )
    sig = simulate_vital_case(profile, np.random.default_rng(seed))
    ecg = apply(design(FilterSpec("butter", 4, 0.5, 40.0), FS), resample(sig.ecg_mv, 500.0, FS))
    ppg = apply(design(FilterSpec("butter", 4, 0.5, 8.0), FS), resample(sig.pleth, 500.0, FS))
    return ecg.astype(np.float64), ppg.astype(np.float64)


CASES = {
    "sinus": {},
    "ectopy": {"pvc_per_min": 6.0, "pac_per_min": 4.0},
    "af": {"n_af_episodes": 1},
    "low perfusion": {"low_perfusion": True},
}


@pytest.mark.parametrize("name", list(CASES))
def test_equal_to_neurokit2_on_simulated_cases(name: str) -> None:
    for seed in range(3):
        ecg, ppg = _case(seed, **CASES[name])
        for x in (ecg, ppg, ecg + np.random.default_rng(seed).normal(0, 0.3, len(ecg))):
            assert np.array_equal(ecg_findpeaks_neurokit(x, FS), _nk_ecg(x))
        for x in (ppg, ecg, ppg + np.random.default_rng(seed).normal(0, 2.0, len(ppg))):
            assert np.array_equal(ppg_findpeaks_elgendi(x, FS), _nk_ppg(x))


def test_equal_to_neurokit2_on_noise_plateaus_and_silence() -> None:
    rng = np.random.default_rng(0)
    noise = rng.normal(size=2000)
    steps = np.round(np.cumsum(rng.normal(size=2000)) / 3)  # plateaus: flat-topped maxima
    flat = np.zeros(2000)
    for x in (noise, steps, flat, noise[:250]):  # 250: the shortest run detectors get
        assert np.array_equal(ecg_findpeaks_neurokit(x, FS), _nk_ecg(x).astype(np.int64))
        assert np.array_equal(ppg_findpeaks_elgendi(x, FS), _nk_ppg(x).astype(np.int64))
    assert ppg_findpeaks_elgendi(-np.abs(noise), FS).size == 0  # no wave: neurokit2 raises
