"""Window features against reference computations on signals of known content."""

from __future__ import annotations

import neurokit2 as nk
import numpy as np
import pytest

from tests.baseline.stores import FS, LENGTH, band
from ttmbio.baseline.features import meta_fields, window_features
from ttmbio.signal.peaks import ecg_r_peaks

T = np.arange(LENGTH) / FS


def _ecg(hr: int) -> np.ndarray:
    raw = nk.ecg_simulate(
        duration=LENGTH / FS, sampling_rate=int(FS), heart_rate=hr, random_state=hr
    )
    return band(raw[:LENGTH], 0.5, 40.0)


def _sqi(n: int) -> dict[str, np.ndarray]:
    return {"ecg_sqi": np.full(n, 0.95), "ppg_tsqi": np.full(n, 0.97)}


@pytest.mark.parametrize("hr", [55, 75, 110])
def test_ecg_rate_and_hrv_match_neurokit_on_a_simulated_ecg(hr: int) -> None:
    ecg = _ecg(hr)
    table = window_features(ecg[None, None], ["ECG"], FS, {"ecg_sqi": np.array([0.9])})
    assert table.column("ecg_hr_bpm")[0] == pytest.approx(hr, abs=3)
    reference = nk.hrv_time(ecg_r_peaks(ecg, FS), sampling_rate=int(FS))
    assert table.column("ecg_sdnn_ms")[0] == pytest.approx(reference["HRV_SDNN"][0], rel=1e-6)
    assert table.column("ecg_rmssd_ms")[0] == pytest.approx(reference["HRV_RMSSD"][0], rel=1e-6)
    assert table.column("ecg_sqi")[0] == pytest.approx(0.9)


def test_ppg_features_of_a_known_sinusoid() -> None:
    amp, hz = 3.0, 1.2  # 72 beats per minute
    ppg = amp * np.sin(2 * np.pi * hz * T)
    table = window_features(ppg[None, None], ["PPG"], FS, {"ppg_tsqi": np.array([0.99])})
    col = table.column
    assert col("ppg_rate_bpm")[0] == pytest.approx(60 * hz, abs=1.0)
    assert col("ppg_interval_sd_ms")[0] < 10.0  # one sample is 8 ms
    assert col("ppg_amp_p95_p5")[0] == pytest.approx(2 * amp * np.sin(0.45 * np.pi), rel=0.01)
    assert col("ppg_beat_amp_mean")[0] == pytest.approx(2 * amp, rel=0.01)
    assert abs(col("ppg_beat_amp_slope")[0]) < 0.01 * amp
    assert col("ppg_skewness")[0] == pytest.approx(0.0, abs=0.05)
    assert col("ppg_kurtosis")[0] == pytest.approx(-1.5, abs=0.05)  # a sine's excess kurtosis
    assert col("ppg_cardiac_power_share")[0] == pytest.approx(1.0, abs=0.02)
    assert col("ppg_log_cardiac_power")[0] == pytest.approx(np.log10(amp**2 / 2), abs=0.05)
    assert col("ppg_tsqi")[0] == pytest.approx(0.99)


def test_ppg_amplitude_trend_is_the_slope_of_beat_heights() -> None:
    growth = 0.05  # pulse height grows 5 % of its start per second
    ppg = (1.0 + growth * T) * np.sin(2 * np.pi * 1.2 * T)
    table = window_features(ppg[None, None], ["PPG"], FS, {"ppg_tsqi": np.array([0.99])})
    slope, mean = table.column("ppg_beat_amp_slope")[0], table.column("ppg_beat_amp_mean")[0]
    assert slope == pytest.approx(2 * growth, rel=0.1)  # peak-to-trough: twice the sine's
    assert table.column("ppg_beat_amp_rel_slope")[0] == pytest.approx(slope / mean, rel=1e-12)


def test_acc_energy_of_known_movement() -> None:
    a = 0.4
    still = np.stack([np.zeros(LENGTH), np.zeros(LENGTH), np.ones(LENGTH)])
    moving = still.copy()
    moving[2] += a * np.sin(2 * np.pi * 2.0 * T)  # 2 Hz along gravity: |acc| = z
    channels = ["ACC_X", "ACC_Y", "ACC_Z"]
    table = window_features(np.stack([still, moving]), channels, FS)
    assert table.names == [
        "acc_x_std",
        "acc_y_std",
        "acc_z_std",
        "acc_mag_std",
        "acc_log_hp_energy",
    ]
    assert table.column("acc_z_std") == pytest.approx([0.0, np.std(moving[2])], abs=1e-12)
    assert table.column("acc_mag_std")[1] == pytest.approx(np.std(moving[2]), rel=1e-9)
    assert np.std(moving[2]) == pytest.approx(a / np.sqrt(2), rel=0.01)
    energy = table.column("acc_log_hp_energy")
    assert energy[1] == pytest.approx(np.log10(a**2 / 2), abs=0.02)
    assert energy[0] < energy[1] - 6  # no movement: nothing above 0.5 Hz


def test_features_come_only_from_the_given_channels_and_rates_agree() -> None:
    ecg = _ecg(72)
    ppg = 5.0 * np.sin(2 * np.pi * 1.2 * T)
    x = np.stack([np.stack([ppg, ecg])] * 3)
    table = window_features(x, ["PPG", "ECG"], FS, _sqi(3))
    assert not [n for n in table.names if "abp" in n or "acc" in n]
    assert meta_fields(["PPG", "ECG"]) == ["ppg_tsqi", "ecg_sqi"]
    assert table.values.shape == (3, len(table.names)) and table.values.dtype == np.float64
    assert table.column("ppg_ecg_rate_diff_bpm")[0] < 4.0
    other = window_features(x[:, :1] + 80, ["ABP"], FS)
    assert other.names == ["abp_std", "abp_amp_p95_p5"]


def test_flat_windows_give_nan_features_not_errors() -> None:
    x = np.zeros((2, 2, LENGTH))
    table = window_features(x, ["PPG", "ECG"], FS, _sqi(2))
    assert np.isnan(table.column("ecg_hr_bpm")).all()
    assert np.isnan(table.column("ppg_beat_amp_mean")).all()
    assert np.isfinite(table.values).sum() > 0  # amplitudes and SQIs are still defined


def test_refuses_a_stack_that_does_not_match_the_channels_or_misses_meta() -> None:
    with pytest.raises(ValueError, match="expected windows"):
        window_features(np.zeros((2, 3, LENGTH)), ["PPG", "ECG"], FS, _sqi(2))
    with pytest.raises(ValueError, match="ppg_tsqi"):
        window_features(np.zeros((2, 1, LENGTH)), ["PPG"], FS)
