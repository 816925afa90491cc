"""Hypotension-forecast labels from the arterial pressure that follows each window.

Protocol of Hatib et al. (Anesthesiology 2018) and Lee et al. (BJA 2021): a *hypotensive
event* is mean arterial pressure below a threshold (65 mmHg) for at least ``event_min_s``
(60 s). A window is

* **positive (1)** when an event *starts* within ``horizon_s`` after the window ends;
* **negative (0)** when no event starts in that horizon, the horizon lies inside the
  recording and its ABP is usable (MAP known for >= 90 % of its seconds);
* **excluded** otherwise, by reason: ``INSIDE_EVENT`` (-1) when the window overlaps an event
  (the patient is already hypotensive: nothing left to predict), ``NO_HORIZON`` (-2) when the
  horizon runs past the end of the recording or its ABP is missing.

MAP is read once per second from the ABP waveform as a centred 4 s mean (several beats,
so the cardiac cycle averages out) wherever >= 75 % of those samples are finite; a
disconnected line therefore never counts as hypotension. Short dips below the threshold
(< ``event_min_s``) are not events: they neither make a positive nor spoil a negative.

:func:`label_subset` picks the labelled windows a run trains on at a label fraction; the
fine-tuning runs and the classical baseline share it, so both see the very same windows.
"""

from __future__ import annotations

import numpy as np

from ttmbio.signal.runs import true_runs

INSIDE_EVENT = -1
NO_HORIZON = -2
EXCLUSION_NAMES = {INSIDE_EVENT: "inside_event", NO_HORIZON: "no_horizon"}

_MAP_SPAN_S = 4.0  # centred averaging span of the per-second MAP
_MIN_FINITE_SPAN = 0.75  # share of finite samples a MAP value needs
_MIN_USABLE_HORIZON = 0.9  # share of horizon seconds with a MAP for a negative label


def map_per_second(
    abp: np.ndarray,
    fs: float,
    offset: int = 0,
    n_total: int | None = None,
    centre_from: int = 0,
    centre_to: int | None = None,
) -> np.ndarray:
    """MAP at 0.5, 1.5, 2.5 ... s: centred ``_MAP_SPAN_S`` mean of the finite samples
    (NaN where fewer than 75 % are finite).

    ``abp`` may be part of a recording of ``n_total`` samples, starting at sample ``offset``;
    then only the seconds centred in ``[centre_from, centre_to)`` are given, and ``abp`` must
    cover their spans. Each mean is a sum over its own span, so a second's MAP has the same
    bits whichever part of the recording it is computed from.
    """
    abp = np.asarray(abp, dtype=np.float64)
    n_total = offset + len(abp) if n_total is None else n_total
    stop = n_total if centre_to is None else centre_to
    second = np.arange(int(n_total / fs))
    centre = (second + 0.5) * fs
    centre = centre[(centre >= centre_from) & (centre < stop)]
    if centre.size == 0:
        return np.zeros(0)
    lo = np.clip(np.round(centre - 0.5 * _MAP_SPAN_S * fs).astype(np.int64), 0, n_total) - offset
    hi = np.clip(np.round(centre + 0.5 * _MAP_SPAN_S * fs).astype(np.int64), 0, n_total) - offset
    if lo.min() < 0 or hi.max() > len(abp):
        raise ValueError(f"abp from sample {offset} does not cover the spans of its seconds")
    finite = np.isfinite(abp)
    values = np.append(np.where(finite, abp, 0.0), 0.0)  # index len(abp) is a valid bound
    bounds = np.stack([lo, hi], axis=1).ravel()
    total = np.add.reduceat(values, bounds)[::2]  # sum of values[lo:hi] when lo < hi
    count = np.concatenate(([0], np.cumsum(finite)))
    n = count[hi] - count[lo]
    mean = np.where(n > 0, total, 0.0) / np.maximum(n, 1)
    return np.where(n >= _MIN_FINITE_SPAN * (hi - lo), mean, np.nan)


def hypotension_events(
    map_s: np.ndarray, threshold: float, event_min_s: float
) -> list[tuple[int, int]]:
    """[start, stop) seconds of every run of MAP < ``threshold`` lasting >= ``event_min_s``."""
    below = np.isfinite(map_s) & (map_s < threshold)
    runs = zip(*true_runs(below), strict=True)
    return [(int(a), int(z)) for a, z in runs if z - a >= event_min_s]


def forecast_labels(
    map_s: np.ndarray,
    fs: float,
    starts: np.ndarray,
    length: int,
    horizon_s: float,
    threshold: float,
    event_min_s: float,
) -> np.ndarray:
    """Per window (``starts`` in samples at ``fs``): 1, 0, or an exclusion code (int8), from
    the recording's per-second MAP (:func:`map_per_second`)."""
    n_sec = len(map_s)
    events = hypotension_events(map_s, threshold, event_min_s)
    onsets = np.array([a for a, _ in events], dtype=np.float64)
    usable = np.concatenate(([0], np.cumsum(np.isfinite(map_s))))
    begin = np.asarray(starts, dtype=np.float64) / fs
    end = (np.asarray(starts, dtype=np.float64) + length) / fs
    labels = np.zeros(len(begin), dtype=np.int8)
    for i, (b, e) in enumerate(zip(begin, end, strict=True)):
        if any(a < e and b < z for a, z in events):
            labels[i] = INSIDE_EVENT
        elif ((onsets >= e) & (onsets < e + horizon_s)).any():
            labels[i] = 1
        else:
            h0, h1 = int(np.ceil(e)), int(np.ceil(e + horizon_s))
            if h1 > n_sec or usable[h1] - usable[h0] < _MIN_USABLE_HORIZON * (h1 - h0):
                labels[i] = NO_HORIZON
    return labels


def label_subset(targets: np.ndarray, kind: str, fraction: float, seed: int) -> np.ndarray:
    """Windows with a known label, sub-sampled to ``fraction`` (per class when binary)."""
    known = np.flatnonzero(np.isfinite(targets) & (targets >= 0 if kind == "binary" else True))
    if fraction >= 1.0:
        return known
    rng = np.random.default_rng(seed)
    if kind != "binary":
        return np.sort(rng.choice(known, max(1, round(fraction * len(known))), replace=False))
    picked = [
        rng.choice(members, max(1, round(fraction * len(members))), replace=False)
        for label in (0, 1)
        if len(members := known[targets[known] == label])
    ]
    return np.sort(np.concatenate(picked))
