"""neurokit2's default ECG and PPG detectors with their per-beat loop done in one pass.

Profiling the windows stage showed ~85 % of peak detection inside the detectors' Python loop,
one ``scipy.signal.find_peaks(prominence=...)`` call per QRS complex or systolic wave. Here
the thresholds are neurokit2's own code path (``signal_smooth``, same parameters); only the
loop changes: every candidate region is laid end to end, separated by one ``+inf`` sample,
and ``find_peaks`` runs once. A ``+inf`` neighbour is never lower than a region's edge sample
and stops the prominence search exactly where the region's own edge would, so each region's
local maxima and prominences are those of the per-region call; the most prominent maximum of
each region (the first on ties) and the refractory rule then follow as neurokit2 applies them.
``tests/signal/test_batched_peaks.py`` checks the output equals neurokit2's.
"""

from __future__ import annotations

import numpy as np
from neurokit2.signal import signal_smooth
from scipy.signal import find_peaks, peak_prominences


def _edges(above: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """neurokit2's region starts and ends of a boolean trace (ends before the first start
    dropped); empty when no region starts."""
    beg = np.where(np.logical_and(np.logical_not(above[0:-1]), above[1:]))[0]
    end = np.where(np.logical_and(above[0:-1], np.logical_not(above[1:])))[0]
    if len(beg) == 0:
        return beg, end
    end = end[end > beg[0]]
    n = min(beg.size, end.size)
    return beg[:n], end[:n]


def _most_prominent(signal: np.ndarray, beg: np.ndarray, end: np.ndarray) -> np.ndarray:
    """Per region ``signal[beg:end]``: its most prominent local maximum (first of equals), as
    a global index, or -1 where the region has none."""
    lengths = end - beg
    best = np.full(len(beg), -1, dtype=np.int64)
    if len(beg) == 0:
        return best
    offsets = np.concatenate(([0], np.cumsum(lengths + 1)[:-1]))  # +1: the separator
    region = np.repeat(np.arange(len(beg)), lengths)
    k = np.arange(int(lengths.sum())) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    joined = np.full(int(lengths.sum()) + len(beg), np.inf)
    joined[offsets[region] + k] = signal[beg[region] + k]
    peaks, _ = find_peaks(joined)
    peaks = peaks[np.isfinite(joined[peaks])]  # the separators are maxima too
    if len(peaks) == 0:
        return best
    prominence = peak_prominences(joined, peaks)[0]
    owner = np.searchsorted(offsets, peaks, side="right") - 1
    # each region's first maximum of prominence: sort by (region, -prominence, position)
    order = np.lexsort((peaks, -prominence, owner))
    first = order[np.r_[True, owner[order][1:] != owner[order][:-1]]]
    best[owner[first]] = beg[owner[first]] + peaks[first] - offsets[owner[first]]
    return best


def _refractory(candidates: np.ndarray, ok: np.ndarray, min_gap: int) -> np.ndarray:
    """neurokit2's chain: keep a candidate more than ``min_gap`` after the last kept one
    (starting from a virtual peak at 0)."""
    kept, last = [], 0
    for peak, valid in zip(candidates.tolist(), ok.tolist(), strict=True):
        if valid and peak - last > min_gap:
            kept.append(peak)
            last = peak
    return np.asarray(kept, dtype=np.int64)


def ecg_findpeaks_neurokit(signal: np.ndarray, sampling_rate: float) -> np.ndarray:
    """``nk.ecg_findpeaks(signal, sampling_rate, method="neurokit")["ECG_R_Peaks"]``."""
    signal = np.array(signal)
    grad = np.gradient(signal)
    absgrad = np.abs(grad)
    smoothgrad = signal_smooth(absgrad, kernel="boxcar", size=int(np.rint(0.1 * sampling_rate)))
    avggrad = signal_smooth(smoothgrad, kernel="boxcar", size=int(np.rint(0.75 * sampling_rate)))
    beg, end = _edges(smoothgrad > 1.5 * avggrad)
    if len(beg) == 0:
        return np.zeros(0, dtype=np.int64)
    min_len = np.mean(end - beg) * 0.4
    best = _most_prominent(signal, beg, end)
    ok = (end - beg >= min_len) & (best >= 0)
    return _refractory(best, ok, int(np.rint(sampling_rate * 0.3)))


def ppg_findpeaks_elgendi(signal: np.ndarray, sampling_rate: float) -> np.ndarray:
    """``nk.ppg_findpeaks(signal, sampling_rate, method="elgendi")["PPG_Peaks"]`` (empty where
    neurokit2 raises IndexError because no wave starts)."""
    signal = np.asarray(signal)
    signal_abs = signal.copy()
    signal_abs[signal_abs < 0] = 0
    sqrd = signal_abs**2
    ma_peak = signal_smooth(sqrd, kernel="boxcar", size=int(np.rint(0.111 * sampling_rate)))
    ma_beat = signal_smooth(sqrd, kernel="boxcar", size=int(np.rint(0.667 * sampling_rate)))
    beg, end = _edges(ma_peak > ma_beat + 0.02 * np.mean(sqrd))
    if len(beg) == 0:
        return np.zeros(0, dtype=np.int64)
    best = _most_prominent(signal, beg, end)
    ok = (end - beg >= int(np.rint(0.111 * sampling_rate))) & (best >= 0)
    return _refractory(best, ok, int(np.rint(0.3 * sampling_rate)))
