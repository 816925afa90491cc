"""Recording artefacts of the VitalDB-like cases: motion, disconnects, flatlines, clipping, mains.

Numpy only. :func:`place_artifacts` lays out non-overlapping events (at most 25 % of a case);
:func:`apply_artifacts` corrupts the waveforms in place accordingly.
"""

from __future__ import annotations

import numpy as np

from ttmbio.synth.waves import Event, smooth_noise

_MAX_ARTIFACT_FRACTION = 0.25  # keeps >= 75 % of every case clean
ARTIFACT_KINDS = (
    "motion",
    "disconnect_ecg",
    "disconnect_pleth",
    "disconnect_art",
    "flatline_ecg",
    "flatline_pleth",
    "flatline_art",
    "clipping_ecg",
    "clipping_pleth",
    "clipping_art",
    "mains_noise",
)
_ARTIFACT_WEIGHTS = np.array([7, 2, 2, 2, 1, 1, 1, 1.5, 1.5, 1.5, 4])
_ARTIFACT_DURATION_S = {
    "motion": (2.0, 15.0),
    "disconnect": (2.0, 60.0),
    "flatline": (2.0, 20.0),
    "clipping": (1.0, 10.0),
    "mains_noise": (5.0, 60.0),
}


def place_artifacts(
    duration_s: float, rate_per_min: float, rng: np.random.Generator, fs: float
) -> list[Event]:
    """Non-overlapping artefact events covering at most 25 % of the case.

    Durations are log-uniform (short glitches are more common than long ones); events that no
    longer fit the 25 % budget or find no free slot are dropped.
    """
    dur = duration_s
    n_events = rng.poisson(max(rate_per_min, 0.0) * dur / 60.0)
    budget = _MAX_ARTIFACT_FRACTION * dur
    weights = _ARTIFACT_WEIGHTS / _ARTIFACT_WEIGHTS.sum()
    taken: list[tuple[float, float]] = []
    events: list[Event] = []
    for _ in range(n_events):
        kind = str(rng.choice(ARTIFACT_KINDS, p=weights))
        lo, hi = _ARTIFACT_DURATION_S[kind if kind == "mains_noise" else kind.split("_")[0]]
        d = min(float(np.exp(rng.uniform(np.log(lo), np.log(hi)))), budget, dur - 2.0)
        if d < lo:
            continue
        for _attempt in range(20):
            start = round(rng.uniform(1.0, dur - d - 1.0) * fs) / fs
            end = round((start + d) * fs) / fs
            if all(end + 1.0 <= a or start >= b + 1.0 for a, b in taken):
                taken.append((start, end))
                events.append(Event(kind, start, end))
                budget -= end - start
                break
    return sorted(events, key=lambda e: e.start_s)


def apply_artifacts(
    events: list[Event], chans: dict[str, np.ndarray], rng: np.random.Generator, fs: float
) -> None:
    """Corrupt the waveforms in place according to ``events``."""
    mains_hz = 50.0 if rng.random() < 0.5 else 60.0
    for ev in events:
        i0, i1 = round(ev.start_s * fs), round(ev.end_s * fs)
        n = i1 - i0
        if ev.kind == "motion":
            taper = np.sin(np.pi * (np.arange(n) + 0.5) / n) ** 0.5
            scale = {"ecg": 1.2, "pleth": 25.0, "art": 25.0}
            for name, x in chans.items():
                lf = smooth_noise(rng, n, fs, rng.uniform(0.5, 3.0))
                hf = smooth_noise(rng, n, fs, 15.0)
                x[i0:i1] += taper * scale[name] * rng.uniform(0.4, 1.5) * (lf + 0.2 * hf)
        elif ev.kind == "mains_noise":
            tt = np.arange(i0, i1) / fs
            amp = rng.uniform(0.05, 0.3)
            chans["ecg"][i0:i1] += amp * np.sin(2 * np.pi * mains_hz * tt + rng.uniform(0, 6.3))
        else:
            what, name = ev.kind.split("_")
            x = chans[name]
            if what == "disconnect":
                x[i0:i1] = np.nan
            elif what == "flatline":
                x[i0:i1] = x[max(i0 - 1, 0)]
            else:  # clipping: a baseline shift drives the amplifier into its rail
                seg = x[i0:i1]
                finite = x[np.isfinite(x)]
                if rng.random() < 0.7:  # upper rail: just above anything the channel reaches
                    rail = float(finite.max()) + 0.02 * float(np.ptp(finite))
                    shift = rail - np.quantile(seg, rng.uniform(0.55, 0.8))
                    x[i0:i1] = np.minimum(seg + shift, rail)
                else:
                    rail = float(finite.min()) - 0.02 * float(np.ptp(finite))
                    shift = rail - np.quantile(seg, rng.uniform(0.2, 0.45))
                    x[i0:i1] = np.maximum(seg + shift, rail)
