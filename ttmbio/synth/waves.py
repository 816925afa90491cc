"""Waveform building blocks shared by the VitalDB-like and BUT-PPG-like generators.

Numpy only. One beat sequence drives every waveform: :func:`beats_from_hr` turns a heart-rate
trajectory into R peaks, :func:`ecg_from_beats` draws ECGSYN-style P-QRS-T complexes around
them (one morphology for all beats, or one per beat for ectopic and fibrillating rhythms) and
:class:`PulseTrain` gives the arterial / finger pulse shape that follows each pulse foot.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

GRID_FS = 10.0  # control trajectories (HR, MAP, respiration) live on this grid
GRID_PAD_S = 4.0  # beats are generated this far before/after the record
HR_LIMITS_BPM = (46.0, 148.0)

# ECG morphologies: [wave P, Q, R, S, T] x (offset from R [s], sigma [s], amplitude [mV]),
# offsets/sigmas given for RR = 1 s (P and T stretch with RR).
ECG_MORPHS = np.array(
    [
        # normal sinus
        [
            [-0.17, 0.022, 0.15],
            [-0.028, 0.009, -0.12],
            [0.0, 0.010, 1.20],
            [0.028, 0.010, -0.30],
            [0.27, 0.045, 0.30],
        ],
        # tall R, small S, tall broad T
        [
            [-0.16, 0.025, 0.12],
            [-0.025, 0.008, -0.05],
            [0.0, 0.009, 1.85],
            [0.025, 0.009, -0.15],
            [0.28, 0.050, 0.45],
        ],
        # low voltage with inverted T
        [
            [-0.15, 0.020, 0.08],
            [-0.030, 0.010, -0.08],
            [0.0, 0.011, 0.80],
            [0.030, 0.012, -0.20],
            [0.29, 0.055, -0.18],
        ],
        # wide QRS (bundle-branch-like) with deep S
        [
            [-0.18, 0.025, 0.12],
            [-0.035, 0.012, -0.10],
            [0.0, 0.016, 1.00],
            [0.040, 0.018, -0.45],
            [0.30, 0.060, 0.25],
        ],
    ]
)
N_ECG_MORPHOLOGIES = len(ECG_MORPHS)
ECG_STRETCH_EXP = np.array([0.3, 0.0, 0.0, 0.0, 0.5])  # offset/sigma ~ RR**exp per wave


@dataclass(frozen=True)
class PulseMorph:
    """Pulse template parameters in seconds for an 0.8 s beat (scaled by sqrt(RR / 0.8))."""

    mu1: float  # systolic peak time after the foot
    sl1: float  # rise width (left sigma)
    sr1: float  # decay width (right sigma)
    a2: float  # reflected / dicrotic wave amplitude (relative)
    mu2: float
    sl2: float
    sr2: float
    a3: float  # diastolic run-off (Windkessel) amplitude: exponential decay after systole
    tau3: float  # its time constant [s]


# PPG shapes: strong notch; moderate notch; stiff (late reflection merges, no notch); slow rise.
PPG_MORPHS = (
    PulseMorph(0.13, 0.050, 0.085, 0.55, 0.36, 0.045, 0.13, 0.25, 0.8),
    PulseMorph(0.15, 0.060, 0.110, 0.42, 0.37, 0.060, 0.14, 0.30, 0.9),
    PulseMorph(0.17, 0.070, 0.150, 0.50, 0.30, 0.080, 0.16, 0.30, 1.0),
    PulseMorph(0.22, 0.100, 0.180, 0.20, 0.43, 0.070, 0.14, 0.35, 0.9),
)
# Radial ART shapes paired with the PPG shape (same vascular state): sharper upstroke.
ART_MORPHS = (
    PulseMorph(0.09, 0.035, 0.070, 0.45, 0.30, 0.040, 0.14, 0.45, 1.2),
    PulseMorph(0.10, 0.040, 0.085, 0.38, 0.31, 0.045, 0.15, 0.50, 1.3),
    PulseMorph(0.11, 0.045, 0.110, 0.55, 0.25, 0.060, 0.16, 0.50, 1.4),
    PulseMorph(0.13, 0.060, 0.120, 0.25, 0.34, 0.050, 0.13, 0.55, 1.2),
)
N_PPG_MORPHOLOGIES = len(PPG_MORPHS)


@dataclass(frozen=True)
class Event:
    """Ground-truth annotation; samples ``round(start_s*fs) .. round(end_s*fs)-1`` are affected."""

    kind: str
    start_s: float
    end_s: float


def slow_drift(
    rng: np.random.Generator, t: np.ndarray, periods_s: tuple[float, float], n_components: int = 3
) -> np.ndarray:
    """Zero-mean smooth drift with peak |value| <= 1 (sum of random low-frequency sines)."""
    periods = rng.uniform(*periods_s, size=n_components)
    phases = rng.uniform(0, 2 * np.pi, size=n_components)
    weights = rng.uniform(0.5, 1.0, size=n_components)
    drift = (
        weights[:, None] * np.sin(2 * np.pi * t[None, :] / periods[:, None] + phases[:, None])
    ).sum(axis=0)
    return drift / weights.sum()


def smooth_noise(rng: np.random.Generator, n: int, fs: float, cutoff_hz: float) -> np.ndarray:
    """Unit-variance Gaussian noise band-limited to ``cutoff_hz`` (FFT brick-wall filter)."""
    if n < 4:
        return np.zeros(n)
    spec = np.fft.rfft(rng.standard_normal(n))
    spec[np.fft.rfftfreq(n, 1.0 / fs) > cutoff_hz] = 0.0
    x = np.fft.irfft(spec, n)
    sd = x.std()
    return x / sd if sd > 0 else x


def beats_from_hr(
    grid_t: np.ndarray, hr_bpm: np.ndarray, rng: np.random.Generator, jitter_s: float
) -> np.ndarray:
    """R-peak times: integer crossings of the integrated cardiac phase, plus small jitter."""
    dt = np.diff(grid_t, prepend=grid_t[0])
    phase = np.cumsum(hr_bpm / 60.0 * dt) + rng.uniform()
    k = np.arange(np.ceil(phase[0]), np.floor(phase[-1]) + 1)
    beats = np.interp(k, phase, grid_t)
    return beats + rng.normal(0.0, jitter_s, beats.size)


def ecg_from_beats(
    t: np.ndarray, beats: np.ndarray, morph: np.ndarray, amp_scale: np.ndarray
) -> np.ndarray:
    """ECGSYN-style sum of Gaussians; each sample sums its previous and next beat's waves.

    ``morph`` is one entry of ``ECG_MORPHS`` ([wave, 3]) for every beat, or one per beat
    ([beat, wave, 3], e.g. wide ectopic complexes or absent P waves); ``amp_scale`` is a per-beat
    amplitude factor. ``beats`` must start before ``t[0]`` and end after ``t[-1]``.
    """
    m = morph[None] if morph.ndim == 2 else morph
    rr_prev = np.diff(beats, prepend=2 * beats[0] - beats[1])
    stretch = np.clip(rr_prev, 0.35, 1.6)[:, None] ** ECG_STRETCH_EXP[None, :]
    offsets = m[:, :, 0] * stretch
    sigmas = m[:, :, 1] * stretch
    amps = m[:, :, 2] * amp_scale[:, None]
    nxt = np.searchsorted(beats, t)
    ecg = np.zeros_like(t)
    for idx in (nxt - 1, nxt):
        dt = t - beats[idx]
        for w in range(m.shape[1]):
            z = (dt - offsets[idx, w]) / sigmas[idx, w]
            ecg += amps[idx, w] * np.exp(-0.5 * z * z)
    return ecg


def _asym_gauss(u: np.ndarray, mu: np.ndarray, sl: np.ndarray, sr: np.ndarray) -> np.ndarray:
    z = (u - mu) / np.where(u < mu, sl, sr)
    return np.exp(-0.5 * z * z)


def pulse_raw(u: np.ndarray, c: np.ndarray, m: PulseMorph) -> np.ndarray:
    """Systolic + reflected/dicrotic wave + diastolic run-off at time ``u`` after the foot.

    ``c`` stretches the systolic/dicrotic timing with the beat length. The run-off term rises with
    the systolic upstroke and then decays exponentially (two-element Windkessel), which gives the
    falling diastolic pressure instead of a flat line at low heart rates.
    """
    mu1 = m.mu1 * c
    z = (u - mu1) / (m.sl1 * c)
    runoff = np.where(u < mu1, np.exp(-0.5 * z * z), np.exp(-(u - mu1) / m.tau3))
    return (
        _asym_gauss(u, mu1, m.sl1 * c, m.sr1 * c)
        + m.a2 * _asym_gauss(u, m.mu2 * c, m.sl2 * c, m.sr2 * c)
        + m.a3 * runoff
    )


class PulseTrain:
    """Pulse waveform for a sequence of feet: shape is 0 at every foot and peaks at 1 per beat."""

    _N_STAT = 64  # samples per beat used to get each beat's peak and mean exactly

    def __init__(self, feet: np.ndarray, morph: PulseMorph):
        self.feet = feet
        self.morph = morph
        self.period = np.diff(feet, append=2 * feet[-1] - feet[-2])
        self.stretch = np.sqrt(np.clip(self.period, 0.35, 1.6) / 0.8)
        zero = np.zeros_like(feet)
        self.raw0 = pulse_raw(zero, self.stretch, morph)
        self.raw_end = pulse_raw(self.period, self.stretch, morph)
        frac = np.arange(self._N_STAT) / self._N_STAT
        grid = self._detrended(frac[None, :] * self.period[:, None], slice(None), True)
        self.peak = grid.max(axis=1)
        self.mean = grid.mean(axis=1) / self.peak  # beat mean of the normalised shape

    def _detrended(self, u: np.ndarray, idx: np.ndarray | slice, per_beat_rows: bool) -> np.ndarray:
        def sel(a: np.ndarray) -> np.ndarray:
            return a[idx][:, None] if per_beat_rows else a[idx]

        raw = pulse_raw(u, sel(self.stretch), self.morph)
        r0, r1 = sel(self.raw0), sel(self.raw_end)
        return raw - r0 - (r1 - r0) * u / sel(self.period)

    def beat_index(self, t: np.ndarray) -> np.ndarray:
        return np.searchsorted(self.feet, t, side="right") - 1

    def shape(self, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Normalised shape at ``t`` and the beat index of each sample."""
        k = self.beat_index(t)
        s = self._detrended(t - self.feet[k], k, False) / self.peak[k]
        return s, k
