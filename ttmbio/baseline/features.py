"""Hand-crafted features of a window stack: ``[N, C, T]`` signals -> ``[N, F]`` named columns.

Computed on the stored signals (band-passed, not normalised: amplitudes keep their units), and
only from the channels a task reads, so a VitalDB task never sees ABP. Per channel family:

* ECG: heart rate (60 / median RR) and HRV (SDNN, RMSSD of the RR intervals) from R peaks,
  peak-to-peak amplitude (p95 - p5), and the store's beat-template SQI (``ecg_sqi``);
* PPG: pulse rate and pulse-rate variability (SD of peak intervals), amplitude (p95 - p5),
  mean per-beat amplitude (systolic peak minus the trough before it) and its trend in the
  window (least-squares slope, absolute and relative to the mean), skewness, kurtosis, power
  in the cardiac band (0.7-3.5 Hz, 42-210 bpm; log and share of the 0.5-8 Hz power), and the
  store's pulse-template SQI (``ppg_tsqi``);
* ECG and PPG together: the disagreement of the two rates;
* ACC_*: standard deviation per axis and of the magnitude, and the log energy of the
  magnitude above 0.5 Hz (movement, not posture);
* any other channel: standard deviation and p95 - p5.

Beats are detected once per window with the detectors of :mod:`ttmbio.signal.peaks`
(neurokit2); everything else is vectorised over the stack. A feature that a window cannot
define (fewer than two beats, say) is NaN, left to the classifier's imputation.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.signal import butter, sosfiltfilt, welch
from scipy.stats import kurtosis, skew

from ttmbio.signal.peaks import ecg_r_peaks, heart_rate_bpm, ppg_peaks

CARDIAC_BAND_HZ = (0.7, 3.5)
PPG_BAND_HZ = (0.5, 8.0)  # the PPG's stored pass band (windows.filters.PPG)
ACC_HIGHPASS_HZ = 0.5
# per-window quality fields the windows stage stores, by the channel they are computed from
META_FIELDS: dict[str, tuple[str, ...]] = {"ECG": ("ecg_sqi",), "PPG": ("ppg_tsqi",)}

Columns = dict[str, np.ndarray]


@dataclass(frozen=True)
class FeatureTable:
    """``values[i, j]``: feature ``names[j]`` of window ``i`` (float64, NaN = undefined)."""

    names: list[str]
    values: np.ndarray

    def column(self, name: str) -> np.ndarray:
        return self.values[:, self.names.index(name)]


def meta_fields(channels: Sequence[str]) -> list[str]:
    """The stored per-window fields :func:`window_features` needs for ``channels``."""
    return [f for c in channels for f in META_FIELDS.get(c, ())]


def _detect(x: np.ndarray, fs: float, detector: Callable[[np.ndarray, float], np.ndarray]) -> list:
    """Beat indices of each window (a window the detector cannot read has none)."""
    found = []
    for w in x:
        try:
            found.append(detector(w, fs))
        except (ValueError, IndexError, ZeroDivisionError):  # flat or degenerate windows
            found.append(np.zeros(0, dtype=np.int64))
    return found


def interval_features(peaks: list[np.ndarray], fs: float, prefix: str, rate: str) -> Columns:
    """Rate (60 / median interval), SD of the intervals and, for ECG, their RMSSD (ms)."""
    n = len(peaks)
    sd, rmssd = np.full(n, np.nan), np.full(n, np.nan)
    for i, p in enumerate(peaks):
        if len(p) >= 3:
            ms = np.diff(p) * 1000.0 / fs
            sd[i] = ms.std(ddof=1)
            rmssd[i] = np.sqrt(np.mean(np.diff(ms) ** 2))
    if prefix == "ecg":
        return {"ecg_hr_bpm": heart_rate_bpm(peaks, fs), "ecg_sdnn_ms": sd, "ecg_rmssd_ms": rmssd}
    return {f"{prefix}_{rate}": heart_rate_bpm(peaks, fs), f"{prefix}_interval_sd_ms": sd}


def amplitude(x: np.ndarray) -> np.ndarray:
    """Robust peak-to-peak amplitude per window: 95th minus 5th percentile."""
    low, high = np.percentile(x, [5.0, 95.0], axis=-1)
    return high - low


def beat_amplitudes(x: np.ndarray, peaks: list[np.ndarray], fs: float) -> Columns:
    """Mean per-beat amplitude (each peak minus the minimum since the previous peak), its
    least-squares slope over the window, in units per second and relative to the mean, and
    its respiratory variation dPOP = (max - min) / mean (Cannesson et al., BJA 2007)."""
    n = len(peaks)
    mean, slope, swing = np.full(n, np.nan), np.full(n, np.nan), np.full(n, np.nan)
    for i, p in enumerate(peaks):
        if len(p) < 2:
            continue
        amps = x[i, p[1:]] - np.minimum.reduceat(x[i], p)[:-1]  # min over [p_k, p_k+1)
        mean[i] = amps.mean()
        if len(amps) >= 3:
            t = p[1:] / fs
            slope[i] = np.polyfit(t, amps, 1)[0]
            swing[i] = np.ptp(amps)
    with np.errstate(invalid="ignore", divide="ignore"):
        relative = slope / mean
        dpop = swing / mean
    return {
        "ppg_beat_amp_mean": mean,
        "ppg_beat_amp_slope": slope,
        "ppg_beat_amp_rel_slope": relative,
        "ppg_dpop": dpop,
    }


def band_power(x: np.ndarray, fs: float) -> Columns:
    """Welch power in the cardiac band: log10 and share of the PPG pass band's power."""
    f, psd = welch(x, fs=fs, nperseg=min(x.shape[-1], int(4 * fs)), axis=-1)
    df = f[1] - f[0]

    def power(band: tuple[float, float]) -> np.ndarray:
        return psd[:, (f >= band[0]) & (f <= band[1])].sum(axis=-1) * df

    cardiac, total = power(CARDIAC_BAND_HZ), power(PPG_BAND_HZ)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(total > 0, cardiac / total, np.nan)
    return {"ppg_log_cardiac_power": np.log10(cardiac + 1e-12), "ppg_cardiac_power_share": share}


def acc_features(acc: np.ndarray, names: Sequence[str], fs: float) -> Columns:
    """Movement from ``acc`` [N, axes, T]: SD per axis and of the magnitude, and the log10
    mean square of the magnitude high-passed at 0.5 Hz."""
    out = {f"{name.lower()}_std": acc[:, k].std(axis=-1) for k, name in enumerate(names)}
    magnitude = np.sqrt((acc.astype(np.float64) ** 2).sum(axis=1))
    out["acc_mag_std"] = magnitude.std(axis=-1)
    sos = butter(4, ACC_HIGHPASS_HZ, btype="highpass", fs=fs, output="sos")
    moving = sosfiltfilt(sos, magnitude, axis=-1)
    out["acc_log_hp_energy"] = np.log10(np.mean(moving**2, axis=-1) + 1e-12)
    return out


def window_features(
    x: np.ndarray,
    channels: Sequence[str],
    fs: float,
    meta: Mapping[str, np.ndarray] | None = None,
) -> FeatureTable:
    """Features of windows ``x`` [N, C, T] whose channels are ``channels`` (in order);
    ``meta`` holds the stored fields :func:`meta_fields` names for these channels."""
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 3 or x.shape[1] != len(channels):
        raise ValueError(f"expected windows [N, {len(channels)}, T], got shape {x.shape}")
    meta = meta or {}
    missing = [f for f in meta_fields(channels) if f not in meta]
    if missing:
        raise ValueError(f"meta lacks the fields {missing} that channels {list(channels)} need")
    at = {c: i for i, c in enumerate(channels)}
    cols: Columns = {}
    if "ECG" in at:
        ecg = x[:, at["ECG"]]
        cols.update(interval_features(_detect(ecg, fs, ecg_r_peaks), fs, "ecg", "hr_bpm"))
        cols["ecg_amp_p95_p5"] = amplitude(ecg)
    if "PPG" in at:
        ppg = x[:, at["PPG"]]
        peaks = _detect(ppg, fs, ppg_peaks)
        cols.update(interval_features(peaks, fs, "ppg", "rate_bpm"))
        cols["ppg_amp_p95_p5"] = amplitude(ppg)
        cols.update(beat_amplitudes(ppg, peaks, fs))
        with np.errstate(invalid="ignore", divide="ignore"):
            cols["ppg_skewness"] = skew(ppg, axis=-1)
            cols["ppg_kurtosis"] = kurtosis(ppg, axis=-1)
        cols.update(band_power(ppg, fs))
    if "ECG" in at and "PPG" in at:
        cols["ppg_ecg_rate_diff_bpm"] = np.abs(cols["ecg_hr_bpm"] - cols["ppg_rate_bpm"])
    axes = [c for c in channels if c.startswith("ACC_")]
    if axes:
        cols.update(acc_features(x[:, [at[c] for c in axes]], axes, fs))
    for c in channels:
        if c not in ("ECG", "PPG") and not c.startswith("ACC_"):
            cols[f"{c.lower()}_std"] = x[:, at[c]].std(axis=-1)
            cols[f"{c.lower()}_amp_p95_p5"] = amplitude(x[:, at[c]])
    for field in meta_fields(channels):
        cols[field] = np.asarray(meta[field], dtype=np.float64)
    names = list(cols)
    values = np.column_stack([cols[k] for k in names]) if names else np.zeros((len(x), 0))
    values[~np.isfinite(values)] = np.nan
    return FeatureTable(names, values)
