"""Signal-quality indices on a stack of windows ``[n, T]`` (one value per window).

The windows stage keeps a window only if every index passes its threshold, so each function
returns NaN where it cannot judge (too few beats, NaN samples) and the caller treats NaN as
failing.
"""

from __future__ import annotations

import numpy as np

from ttmbio.signal.runs import row_runs


def _as_windows(w: np.ndarray) -> np.ndarray:
    w = np.asarray(w, dtype=np.float64)
    if w.ndim != 2:
        raise ValueError(f"expected a stack of windows [n, T], got shape {w.shape}")
    return w


def _centred_beats(
    x: np.ndarray, peaks: np.ndarray, max_half: int | None = None
) -> np.ndarray | None:
    """Beats ``[n, width]`` of one window, each centred on its peak and its own mean removed.

    The width is one median peak-to-peak interval (Orphanidou et al. 2015), at most
    ``2 * max_half`` samples; beats that do not fit entirely in the window are dropped. None
    when fewer than 3 beats fit or one has NaN.
    """
    peaks = np.asarray(peaks, dtype=np.int64)
    if peaks.size < 3:
        return None
    rr = np.sort(np.diff(peaks))
    half = round(0.25 * float(rr[(rr.size - 1) // 2] + rr[rr.size // 2]))  # median RR / 2
    if max_half is not None:
        half = min(half, max_half)
    if half < 1:
        return None
    peaks = peaks[(peaks - half >= 0) & (peaks + half <= x.size)]
    if peaks.size < 3:
        return None
    beats = x[peaks[:, None] + np.arange(-half, half)[None, :]]
    if not np.isfinite(beats).all():
        return None
    return beats - beats.mean(axis=1, keepdims=True)


def _template_sqi_one(x: np.ndarray, peaks: np.ndarray) -> float:
    """Mean correlation of the beats of one window with their average (NaN if < 3 beats)."""
    beats = _centred_beats(x, peaks)
    if beats is None:
        return np.nan
    template = beats.mean(axis=0)  # mean of centred beats == centred mean beat
    num = beats @ template
    den = np.sqrt((beats * beats).sum(axis=1) * (template @ template))
    r = np.divide(num, den, out=np.zeros_like(num), where=den > 0)  # flat beat: no match
    return float(r.mean())


def _template_sqi(windows: np.ndarray, peaks: list[np.ndarray]) -> np.ndarray:
    w = _as_windows(windows)
    if len(peaks) != w.shape[0]:
        raise ValueError(f"{len(peaks)} peak lists for {w.shape[0]} windows")
    # one cheap vectorised step per window: beat counts and widths differ between windows
    return np.array([_template_sqi_one(x, p) for x, p in zip(w, peaks, strict=True)])


def ecg_template_sqi(ecg_windows: np.ndarray, r_peaks: list[np.ndarray], fs: float) -> np.ndarray:
    """Beat-template-matching SQI per window (Orphanidou et al. 2015), in [-1, 1].

    Method of Orphanidou C, Bonnici T, Charlton P, Clifton D, Vallance D, Tarassenko L (2015),
    "Signal-quality indices for the electrocardiogram and photoplethysmogram: derivation and
    applications to wireless monitoring", IEEE J Biomed Health Inform 19(3):832-838: beats are
    cut around each R peak with a width of one median RR interval (centred on the peak), the
    beats that fit entirely in the window are averaged into a template, and the SQI is the mean
    Pearson correlation of the beats with that template. Noise, motion and missed/false beats
    all lower it; the paper accepts ECG at >= 0.86, the spec asks >= 0.9. Only the template
    part is implemented (not the paper's HR / RR-ratio feasibility rules). ``r_peaks[i]`` are
    indices relative to window ``i`` (see :func:`ttmbio.signal.peaks.peaks_per_window`).
    NaN when fewer than 3 beats fit. ``fs`` is accepted for API symmetry; widths come from RR.
    """
    del fs  # the template width is the median RR in samples, independent of the rate
    return _template_sqi(ecg_windows, r_peaks)


def ppg_template_sqi(ppg_windows: np.ndarray, peaks: list[np.ndarray], fs: float) -> np.ndarray:
    """The same beat-template SQI on PPG pulses around systolic peaks (Orphanidou et al. 2015).

    The paper applies template matching to the PPG too. On the project's synthetic PPG it
    separates clean from noisy/motion windows far better than skewness, whose value depends
    mostly on heart rate and pulse morphology (see :func:`ppg_skewness_sqi`).
    """
    del fs
    return _template_sqi(ppg_windows, peaks)


def _morphology_share(beats: np.ndarray, r_min: float, k: int) -> float:
    """Share of the centred ``beats`` that join one of at most ``k`` morphologies."""
    norm = np.sqrt(np.einsum("ij,ij->i", beats, beats))[:, None]
    z = np.divide(beats, norm, out=np.zeros_like(beats), where=norm > 0)  # flat beat: matches none
    mean = z.mean(axis=0)
    if (z @ mean >= r_min * np.sqrt(mean @ mean)).all() and mean.any():
        return 1.0  # one shape, the mean beat, explains every beat (most clean windows)
    corr = z @ z.T  # beat-to-beat Pearson correlations
    left = np.arange(len(z))
    for _ in range(k):
        sub = corr[np.ix_(left, left)] if left.size < len(z) else corr
        seed = np.argmax(sub.sum(axis=1))  # the most typical beat left
        near = left[sub[seed] >= r_min]
        if near.size == 0:  # the seed is flat: nothing left has a shape
            break
        template = z[near].mean(axis=0)
        size = np.sqrt(template @ template)
        joins = z[left] @ template >= r_min * size
        if size == 0 or joins.sum() < 2:  # a shape seen once is an outlier, not a morphology
            break
        left = left[~joins]
        if left.size < 2:
            break
    return 1.0 - left.size / len(z)


def _morphology_sqi_one(
    x: np.ndarray, peaks: np.ndarray, r_min: float, k: int, max_half: int | None
) -> float:
    """Share of one window's beats explained by at most ``k`` morphologies (NaN if < 3 beats)."""
    beats = _centred_beats(x, peaks, max_half)
    return np.nan if beats is None else _morphology_share(beats, r_min, k)


def morphology_sqi(
    windows: np.ndarray,
    peaks: list[np.ndarray],
    fs: float,
    r_min: float = 0.9,
    max_morphologies: int = 2,
    max_half_s: float | None = None,
) -> np.ndarray:
    """Dominant-morphology template SQI per window, in [0, 1]: rhythm-tolerant.

    The beat-template SQI of Orphanidou et al. (2015, :func:`ecg_template_sqi`) correlates
    every beat with one average beat, so a clean window with a premature ventricular beat (a
    wide, differently shaped QRS) or with bigeminy fails. Here beats are cut as there (one
    median beat interval wide, centred on the peak; at most ``2 * max_half_s`` wide), then
    grouped into morphologies: the most typical beat left (highest summed correlation with the
    others) seeds a template, the mean of the beats correlating >= ``r_min`` with it, and every
    beat left that correlates >= ``r_min`` with that template joins the morphology. This
    repeats up to ``max_morphologies`` times (2: the dominant rhythm plus one ectopic focus); a
    morphology needs >= 2 beats. The SQI is the share of the window's beats that joined one
    (1 straight away when the mean beat already matches every beat, as in most clean
    windows): 1 for clean sinus rhythm, ectopy or AF (whose beats keep their shape while the
    intervals vary); noise, motion and false or missed beats leave beats that match no
    template. For the ECG a cap of R +- 0.25 s (P wave and QRS; the T wave mostly outside)
    keeps the irregular neighbours of AF beats out of the comparison: on the synthetic cases
    the uncapped width kept ~90 % of clean AF windows, the cap 100 %, at the same rejection of
    0 dB noise. NaN when fewer than 3 beats fit; ``peaks[i]`` are indices relative to window
    ``i``; ECG R peaks or PPG systolic peaks.
    """
    w = _as_windows(windows)
    if len(peaks) != w.shape[0]:
        raise ValueError(f"{len(peaks)} peak lists for {w.shape[0]} windows")
    if not 0 < r_min <= 1 or max_morphologies < 1:
        raise ValueError(
            f"need 0 < r_min <= 1 and max_morphologies >= 1, got {r_min}, {max_morphologies}"
        )
    cap = None if max_half_s is None else max(round(max_half_s * fs), 1)
    return np.array(
        [
            _morphology_sqi_one(x, p, r_min, max_morphologies, cap)
            for x, p in zip(w, peaks, strict=True)
        ]
    )


def match_beats(a: np.ndarray, b: np.ndarray, tolerance: int) -> tuple[np.ndarray, np.ndarray]:
    """One-to-one matching of two sorted beat lists: (matched mask of ``a``, of ``b``).

    Beats ``a[i]`` and ``b[j]`` match when each is the other's nearest beat and they are at
    most ``tolerance`` samples apart (mutual nearest neighbours), so no beat is used twice.
    """
    a = np.asarray(a, dtype=np.int64)
    b = np.asarray(b, dtype=np.int64)
    in_a, in_b = np.zeros(a.size, dtype=bool), np.zeros(b.size, dtype=bool)
    if a.size == 0 or b.size == 0:
        return in_a, in_b

    def nearest(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        right = np.clip(np.searchsorted(y, x), 0, y.size - 1)
        left = np.clip(right - 1, 0, y.size - 1)
        return np.where(np.abs(x - y[left]) <= np.abs(y[right] - x), left, right)

    j = nearest(a, b)
    mutual = (nearest(b, a)[j] == np.arange(a.size)) & (np.abs(a - b[j]) <= tolerance)
    in_a[mutual] = True
    in_b[j[mutual]] = True
    return in_a, in_b


def bsqi(
    peaks_a: np.ndarray,
    peaks_b: np.ndarray,
    starts: np.ndarray,
    length: int,
    fs: float,
    tolerance_s: float = 0.15,
) -> np.ndarray:
    """Beat-agreement SQI per window (Li, Mark & Clifford 2008), in [0, 1].

    Li Q, Mark RG, Clifford GD (2008), "Robust heart rate estimation from multiple asynchronous
    noisy sources using signal quality indices and a Kalman filter", Physiol Meas 29:15-32:
    run two QRS detectors of different design on the same signal, and
    ``bSQI = matched / (n_a + n_b - matched)`` with beats matched within +-150 ms. Clean
    signal: both find the same beats, whatever the rhythm; noise makes their false and missed
    beats disagree. ``peaks_a`` / ``peaks_b`` are each detector's sorted peaks over the whole
    recording (matched once, so a pair split by a window border still matches); a matched pair
    counts in the window holding its ``a`` beat, an unmatched beat in the window holding it.
    ``starts`` are window starts, ``length`` samples long. NaN where neither found a beat.
    """
    a = np.asarray(peaks_a, dtype=np.int64)
    b = np.asarray(peaks_b, dtype=np.int64)
    in_a, in_b = match_beats(a, b, round(tolerance_s * fs))
    starts = np.asarray(starts, dtype=np.int64)

    def per_window(pos: np.ndarray, flag: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        lo = np.searchsorted(pos, starts, side="left")
        hi = np.searchsorted(pos, starts + length, side="left")
        cum = np.concatenate(([0], np.cumsum(flag)))
        return hi - lo, cum[hi] - cum[lo]

    n_a, matched = per_window(a, in_a)
    n_b, matched_b = per_window(b, in_b)
    total = n_a + n_b - matched_b  # matched + unmatched a + unmatched b
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(total > 0, matched / total, np.nan)


def ppg_skewness_sqi(ppg_windows: np.ndarray) -> np.ndarray:
    """Skewness SQI per window (Elgendi 2016), ``scipy.stats.skew`` of the filtered PPG.

    Elgendi M (2016), "Optimal signal quality index for photoplethysmogram signals",
    Bioengineering 3(4):21, found skewness the best of eight SQIs at separating excellent from
    unfit PPG: a clean pulse wave has a sharp systolic peak over a broad diastolic phase, so its
    amplitude distribution is right-skewed, while noise and motion are near-symmetric. Use it on
    the 0.5-8 Hz band-passed signal. Equals ``scipy.stats.skew(w, axis=1)`` (biased estimator
    m3 / m2**1.5, NaN for constant or NaN windows) but computed directly, ~5x faster.
    """
    w = _as_windows(ppg_windows)
    d = w - w.mean(axis=1, keepdims=True)
    d2 = d * d
    m2 = d2.mean(axis=1)
    m3 = (d2 * d).mean(axis=1)
    tiny = m2 <= (np.finfo(np.float64).eps * np.abs(w).max(axis=1, initial=0.0)) ** 2
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(tiny, np.nan, m3 / m2**1.5)


def _float_windows(w: np.ndarray) -> np.ndarray:
    """2-D float view without an upcast copy (float32 stays float32: these are comparisons)."""
    w = np.asarray(w)
    if not np.issubdtype(w.dtype, np.floating):
        w = w.astype(np.float64)
    if w.ndim != 2:
        raise ValueError(f"expected a stack of windows [n, T], got shape {w.shape}")
    return w


def _extremes(w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-window (max, min) ignoring NaN; all-NaN windows give NaN without a warning."""
    return np.fmax.reduce(w, axis=1, keepdims=True), np.fmin.reduce(w, axis=1, keepdims=True)


def longest_flat_run_s(windows: np.ndarray, fs: float, rel_tol: float = 1e-3) -> np.ndarray:
    """Longest stretch per window where consecutive samples differ by <= ``rel_tol`` x range.

    Catches flatlines (a stuck sensor or a held last value) that keep a plausible level. The
    length is the run's number of samples / fs, so a constant window gives ``T / fs`` and a
    window with no two near-equal neighbours gives 0. A constant window has range 0 and counts
    as flat (``|diff| == 0``). NaN samples break runs. Compute it on unfiltered samples (native
    or resampled: :func:`ttmbio.signal.resample.resample` keeps a constant exactly constant);
    a band-pass turns a flat line into a decaying transient.
    """
    w = _float_windows(windows)
    out = np.zeros(w.shape[0])
    if w.shape[1] < 2:
        return out
    hi, lo = _extremes(w)
    flat = np.abs(np.diff(w, axis=1)) <= rel_tol * (hi - lo)
    rows, lengths = row_runs(flat)
    np.maximum.at(out, rows, lengths + 1.0)  # k flat steps span k + 1 samples
    return out / fs


def clipped_fraction(windows: np.ndarray, rel_tol: float = 5e-3, min_run: int = 5) -> np.ndarray:
    """Fraction of samples per window saturated at a rail (its max or its min).

    A sample counts when it lies within ``rel_tol`` x range of the window's max (or min) and
    belongs to a run of >= ``min_run`` such consecutive samples: a saturated amplifier or ADC
    sits on its rail for many samples, while a clean waveform touches its extreme only briefly
    at one beat. Constant windows give 1; NaN samples never count.

    Compute it on the native-rate raw signal, before resampling: the anti-aliasing FIR
    overshoots at the corners of a clipped plateau (Gibbs), which lifts the window max a few %
    of the range above the rail, so the plateau is no longer "at the max" at 125 Hz. The rail
    is the window's extreme by definition: a plateau below other beats of the same window (a
    rail that only part of the window reaches) is not counted.
    """
    if not 0 <= rel_tol < 0.5:
        raise ValueError(f"rel_tol={rel_tol} must be in [0, 0.5) so the two rails do not overlap")
    w = _float_windows(windows)
    n, m = w.shape
    if m == 0:
        return np.zeros(n)
    hi, lo = _extremes(w)
    tol = rel_tol * (hi - lo)
    total = np.zeros(n)
    for rail in (w >= hi - tol, w <= lo + tol):
        rows, lengths = row_runs(rail)
        keep = lengths >= min_run
        total += np.bincount(rows[keep], weights=lengths[keep], minlength=n)
    return np.minimum(total, m) / m  # a constant window is on both rails at once
