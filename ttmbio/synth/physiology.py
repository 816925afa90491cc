"""Physiologically plausible synthetic biosignals for the embedded demo datasets.

Pure signal generation (numpy only at run time; no I/O, no printing). Two generators:

* :func:`simulate_vital_case` -- a VitalDB-like intra-operative case: ECG lead II, PPG (PLETH)
  and invasive arterial pressure (ART) at 500 Hz plus HR / ART-mean / BIS numerics, with
  hypotension episodes and recorded artefacts.
* :func:`simulate_butppg_record` -- a BUT-PPG-like 10 s smartphone record: camera PPG at 30 Hz,
  reference ECG at 1000 Hz and a 3-axis accelerometer at 100 Hz, good or poor quality.

Method (the data are synthetic, so the recipe is part of the contract):

* **One beat sequence drives every waveform.** An instantaneous heart-rate trajectory (baseline +
  slow drift + respiratory sinus arrhythmia + episode tachycardia) is built on a coarse 10 Hz
  control grid and integrated to a cardiac phase; R peaks sit at the integer crossings of that
  phase (plus a few ms of jitter). The arterial pulse foot follows each R peak after a pulse
  arrival time of 150-250 ms; the finger PPG foot follows the arterial foot by 40-100 ms.
* **ECG** is a per-beat sum of Gaussians in time relative to the R peak -- the P, Q, R, S and T
  waves of McSharry et al.'s ECGSYN (IEEE TBME 2003), evaluated directly in the time domain instead
  of integrating the ODE (which is far too slow for 500 Hz hours). The P/T offsets and widths scale
  with the preceding RR interval (Bazett-like QT shortening). Each sample sums the contributions
  of its previous and next R peak, so P waves of the next beat and T waves of the last one overlap
  correctly at high heart rate.
* **ART and PPG pulses** are an asymmetric-Gaussian systolic wave plus a reflected/dicrotic wave,
  detrended to zero at both feet of the beat and normalised to a peak of 1. ART is
  ``DBP + PP * shape`` with the diastolic pressure solved per beat so that the beat mean equals the
  intended MAP trajectory (DBP = MAP - PP * mean(shape)); the mean of ``art_mmhg`` over any few
  beats therefore tracks the intended MAP, which is what makes "MAP < 65" labels exact.
* **Hypotension episodes** are raised-cosine envelopes that pull the MAP trajectory to 50-60 mmHg,
  raise HR by 10-25 bpm, cut the PPG pulse amplitude to 40-70 % and the pulse pressure by 30 %.
  The ``hypotension`` event spans exactly the time the intended MAP (without the respiratory
  ripple) is below 65 mmHg.
* **Artefacts** (motion, disconnects, flatlines, clipping, mains noise) are placed without overlap,
  cover at most 25 % of a case and are each returned as an :class:`Event`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

FS_VITAL = 500.0
NUMERIC_PERIOD_S = 2.0
BIS_PERIOD_S = 5.0
HYPOTENSION_MAP_MMHG = 65.0

FS_BUT_PPG = 30.0
FS_BUT_ECG = 1000.0
FS_BUT_ACC = 100.0

_GRID_FS = 10.0  # control trajectories (HR, MAP, respiration) live on this grid
_GRID_PAD_S = 4.0  # beats are generated this far before/after the record
_NUMERIC_WINDOW_S = 8.0  # trailing averaging window of the HR / MAP numerics
_MAX_ARTIFACT_FRACTION = 0.25  # keeps >= 75 % of every case clean
_BASELINE_MAP_FLOOR = 72.0  # outside episodes the MAP trajectory never drops below this
_EPISODE_EDGE_S = 20.0  # no episode ramps within this distance of the case borders
_EPISODE_GAP_S = 45.0  # minimum distance between two episodes
_EPISODE_MIN_S = 60.0
_EPISODE_MAX_S = 300.0
_EPISODE_MIN_FOOTPRINT_S = 85.0  # 60 s below 65 mmHg plus half of two ramps (<= 25 s each)
_HR_LIMITS_BPM = (46.0, 148.0)

# ECG morphologies: [wave P, Q, R, S, T] x (offset from R [s], sigma [s], amplitude [mV]),
# offsets/sigmas given for RR = 1 s (P and T stretch with RR).
_ECG_MORPHS = np.array(
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
N_ECG_MORPHOLOGIES = len(_ECG_MORPHS)
_ECG_STRETCH_EXP = np.array([0.3, 0.0, 0.0, 0.0, 0.5])  # offset/sigma ~ RR**exp per wave


@dataclass(frozen=True)
class _PulseMorph:
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
_PPG_MORPHS = (
    _PulseMorph(0.13, 0.050, 0.085, 0.55, 0.36, 0.045, 0.13, 0.25, 0.8),
    _PulseMorph(0.15, 0.060, 0.110, 0.42, 0.37, 0.060, 0.14, 0.30, 0.9),
    _PulseMorph(0.17, 0.070, 0.150, 0.50, 0.30, 0.080, 0.16, 0.30, 1.0),
    _PulseMorph(0.22, 0.100, 0.180, 0.20, 0.43, 0.070, 0.14, 0.35, 0.9),
)
# Radial ART shapes paired with the PPG shape (same vascular state): sharper upstroke.
_ART_MORPHS = (
    _PulseMorph(0.09, 0.035, 0.070, 0.45, 0.30, 0.040, 0.14, 0.45, 1.2),
    _PulseMorph(0.10, 0.040, 0.085, 0.38, 0.31, 0.045, 0.15, 0.50, 1.3),
    _PulseMorph(0.11, 0.045, 0.110, 0.55, 0.25, 0.060, 0.16, 0.50, 1.4),
    _PulseMorph(0.13, 0.060, 0.120, 0.25, 0.34, 0.050, 0.13, 0.55, 1.2),
)
N_PPG_MORPHOLOGIES = len(_PPG_MORPHS)

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


# --------------------------------------------------------------------------------------------
# Public data structures
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Event:
    """Ground-truth annotation; samples ``round(start_s*fs) .. round(end_s*fs)-1`` are affected."""

    kind: str
    start_s: float
    end_s: float


@dataclass(frozen=True)
class CaseProfile:
    """Per-case physiology and artefact settings, drawn by :func:`random_case_profile`.

    Ranges drawn there: HR 45-130 bpm, MAP 75-100 mmHg (outside episodes the MAP trajectory is
    floored at 72 so "not hypotensive" stays > 65), pulse pressure 35-65 mmHg, respiration
    8-20 /min, 0-3 hypotension episodes (as many as fit), 0.1-1 artefacts/min, BIS in 60 %.
    Morphology indices wrap modulo ``N_ECG_MORPHOLOGIES`` / ``N_PPG_MORPHOLOGIES``.
    """

    duration_s: float
    base_hr_bpm: float
    base_map_mmhg: float
    pulse_pressure_mmhg: float
    ecg_morphology: int
    ppg_morphology: int
    resp_rate_bpm: float
    n_hypotension_episodes: int
    artifact_rate_per_min: float
    has_bis: bool


@dataclass
class VitalCaseSignals:
    """Waveforms (float32, NaN in disconnects), numerics and ground-truth events of one case.

    Numerics are float32, rounded like a monitor, at 2, 4, 6 ... s (HR and ART mean share the
    time axis); NaN while the source channel is disconnected. BIS (5 s) is None without BIS.
    """

    fs: float
    ecg_mv: np.ndarray
    pleth: np.ndarray
    art_mmhg: np.ndarray
    hr_times_s: np.ndarray
    hr_bpm: np.ndarray
    map_times_s: np.ndarray
    map_mmhg: np.ndarray
    bis: np.ndarray | None
    bis_times_s: np.ndarray | None
    events: list[Event]


@dataclass
class ButPPGSignals:
    """One BUT-PPG-like record: PPG 30 Hz, ECG 1000 Hz, ACC 100 Hz [n, 3] in g."""

    ppg: np.ndarray
    ecg_mv: np.ndarray
    acc_g: np.ndarray
    hr_bpm: float
    quality: int


# --------------------------------------------------------------------------------------------
# Shared building blocks
# --------------------------------------------------------------------------------------------


def _slow_drift(
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


def _smooth_noise(rng: np.random.Generator, n: int, fs: float, cutoff_hz: float) -> np.ndarray:
    """Unit-variance Gaussian noise band-limited to ``cutoff_hz`` (FFT brick-wall filter)."""
    if n < 4:
        return np.zeros(n)
    spec = np.fft.rfft(rng.standard_normal(n))
    spec[np.fft.rfftfreq(n, 1.0 / fs) > cutoff_hz] = 0.0
    x = np.fft.irfft(spec, n)
    sd = x.std()
    return x / sd if sd > 0 else x


def _beats_from_hr(
    grid_t: np.ndarray, hr_bpm: np.ndarray, rng: np.random.Generator, jitter_s: float
) -> np.ndarray:
    """R-peak times: integer crossings of the integrated cardiac phase, plus small jitter."""
    dt = np.diff(grid_t, prepend=grid_t[0])
    phase = np.cumsum(hr_bpm / 60.0 * dt) + rng.uniform()
    k = np.arange(np.ceil(phase[0]), np.floor(phase[-1]) + 1)
    beats = np.interp(k, phase, grid_t)
    return beats + rng.normal(0.0, jitter_s, beats.size)


def _ecg_from_beats(
    t: np.ndarray, beats: np.ndarray, morph: np.ndarray, amp_scale: np.ndarray
) -> np.ndarray:
    """ECGSYN-style sum of Gaussians; each sample sums its previous and next beat's waves.

    ``morph`` is one entry of ``_ECG_MORPHS``; ``amp_scale`` is a per-beat amplitude factor.
    ``beats`` must start before ``t[0]`` and end after ``t[-1]``.
    """
    rr_prev = np.diff(beats, prepend=2 * beats[0] - beats[1])
    stretch = np.clip(rr_prev, 0.35, 1.6)[:, None] ** _ECG_STRETCH_EXP[None, :]
    offsets = morph[None, :, 0] * stretch
    sigmas = morph[None, :, 1] * stretch
    amps = morph[None, :, 2] * amp_scale[:, None]
    nxt = np.searchsorted(beats, t)
    ecg = np.zeros_like(t)
    for idx in (nxt - 1, nxt):
        dt = t - beats[idx]
        for w in range(morph.shape[0]):
            z = (dt - offsets[idx, w]) / sigmas[idx, w]
            ecg += amps[idx, w] * np.exp(-0.5 * z * z)
    return ecg


def _asym_gauss(u: np.ndarray, mu: np.ndarray, sl: np.ndarray, sr: np.ndarray) -> np.ndarray:
    z = (u - mu) / np.where(u < mu, sl, sr)
    return np.exp(-0.5 * z * z)


def _pulse_raw(u: np.ndarray, c: np.ndarray, m: _PulseMorph) -> np.ndarray:
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


class _PulseTrain:
    """Pulse waveform for a sequence of feet: shape is 0 at every foot and peaks at 1 per beat."""

    _N_STAT = 64  # samples per beat used to get each beat's peak and mean exactly

    def __init__(self, feet: np.ndarray, morph: _PulseMorph):
        self.feet = feet
        self.morph = morph
        self.period = np.diff(feet, append=2 * feet[-1] - feet[-2])
        self.stretch = np.sqrt(np.clip(self.period, 0.35, 1.6) / 0.8)
        zero = np.zeros_like(feet)
        self.raw0 = _pulse_raw(zero, self.stretch, morph)
        self.raw_end = _pulse_raw(self.period, self.stretch, morph)
        frac = np.arange(self._N_STAT) / self._N_STAT
        grid = self._detrended(frac[None, :] * self.period[:, None], slice(None), True)
        self.peak = grid.max(axis=1)
        self.mean = grid.mean(axis=1) / self.peak  # beat mean of the normalised shape

    def _detrended(self, u: np.ndarray, idx: np.ndarray | slice, per_beat_rows: bool) -> np.ndarray:
        def sel(a: np.ndarray) -> np.ndarray:
            return a[idx][:, None] if per_beat_rows else a[idx]

        raw = _pulse_raw(u, sel(self.stretch), self.morph)
        r0, r1 = sel(self.raw0), sel(self.raw_end)
        return raw - r0 - (r1 - r0) * u / sel(self.period)

    def beat_index(self, t: np.ndarray) -> np.ndarray:
        return np.searchsorted(self.feet, t, side="right") - 1

    def shape(self, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Normalised shape at ``t`` and the beat index of each sample."""
        k = self.beat_index(t)
        s = self._detrended(t - self.feet[k], k, False) / self.peak[k]
        return s, k


# --------------------------------------------------------------------------------------------
# VitalDB-like cases
# --------------------------------------------------------------------------------------------


def _max_episodes(duration_s: float) -> int:
    """How many hypotension episodes of at least 1 min fit into a case."""
    usable = duration_s - 2 * _EPISODE_EDGE_S + _EPISODE_GAP_S
    return int(max(usable, 0.0) // (_EPISODE_MIN_FOOTPRINT_S + _EPISODE_GAP_S))


def random_case_profile(rng: np.random.Generator, duration_s: float) -> CaseProfile:
    """Draw a varied case; HR spans 45-130 bpm, episodes are limited to what fits."""
    return CaseProfile(
        duration_s=float(duration_s),
        base_hr_bpm=float(rng.uniform(45.0, 130.0)),
        base_map_mmhg=float(rng.uniform(75.0, 100.0)),
        pulse_pressure_mmhg=float(rng.uniform(35.0, 65.0)),
        ecg_morphology=int(rng.integers(N_ECG_MORPHOLOGIES)),
        ppg_morphology=int(rng.integers(N_PPG_MORPHOLOGIES)),
        resp_rate_bpm=float(rng.uniform(8.0, 20.0)),
        n_hypotension_episodes=int(min(rng.integers(0, 4), _max_episodes(duration_s))),
        artifact_rate_per_min=float(rng.uniform(0.1, 1.0)),
        has_bis=bool(rng.random() < 0.6),
    )


@dataclass(frozen=True)
class _Episode:
    start_s: float  # start of the down ramp
    ramp_on_s: float
    plateau_s: float
    ramp_off_s: float
    target_map: float
    hr_rise: float
    ppg_amp_frac: float

    def envelope(self, t: np.ndarray) -> np.ndarray:
        """Raised-cosine on/off envelope in [0, 1]."""
        a = self.start_s
        b = a + self.ramp_on_s
        c = b + self.plateau_s
        d = c + self.ramp_off_s
        on = np.clip((t - a) / self.ramp_on_s, 0.0, 1.0)
        off = np.clip((d - t) / self.ramp_off_s, 0.0, 1.0)
        return 0.5 - 0.5 * np.cos(np.pi * np.minimum(on, off))


def _layout_episodes(n: int, duration_s: float, rng: np.random.Generator) -> list[_Episode]:
    """Place ``n`` non-overlapping episodes; shrink to 1 min or drop those that cannot fit."""
    n = min(n, _max_episodes(duration_s))
    if n <= 0:
        return []
    ramps = rng.uniform(10.0, 25.0, size=(n, 2))
    below = rng.uniform(_EPISODE_MIN_S, _EPISODE_MAX_S, size=n)  # time under 65 mmHg
    available = duration_s - 2 * _EPISODE_EDGE_S - _EPISODE_GAP_S * (n - 1)
    half_ramps = ramps.sum(axis=1) / 2
    footprint = below + half_ramps
    if footprint.sum() > available:
        spare = available - half_ramps.sum() - _EPISODE_MIN_S * n
        extra = below - _EPISODE_MIN_S
        below = _EPISODE_MIN_S + extra * max(spare, 0.0) / max(extra.sum(), 1e-9)
        footprint = below + half_ramps
    slack = max(available - footprint.sum(), 0.0)
    gaps = rng.dirichlet(np.ones(n + 1)) * slack
    episodes, cursor = [], _EPISODE_EDGE_S
    for i in range(n):
        cursor += gaps[i]
        plateau = below[i] - half_ramps[i]
        episodes.append(
            _Episode(
                start_s=float(cursor),
                ramp_on_s=float(ramps[i, 0]),
                plateau_s=float(plateau),
                ramp_off_s=float(ramps[i, 1]),
                target_map=float(rng.uniform(50.0, 60.0)),
                hr_rise=float(rng.uniform(10.0, 25.0)),
                ppg_amp_frac=float(rng.uniform(0.4, 0.7)),
            )
        )
        cursor += footprint[i] + _EPISODE_GAP_S  # ramp_on + plateau + ramp_off
    return episodes


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """[start, stop) index pairs of the True runs of a boolean array."""
    d = np.diff(np.concatenate(([0], mask.astype(np.int8), [0])))
    return list(zip(np.flatnonzero(d == 1), np.flatnonzero(d == -1), strict=True))


@dataclass
class _Trajectories:
    """Control-grid trajectories shared by all channels of a case."""

    t: np.ndarray
    resp: np.ndarray  # respiratory phase signal in [-1, 1]
    hr: np.ndarray
    map_smooth: np.ndarray  # intended MAP without the respiratory ripple
    episode: np.ndarray  # summed episode envelope in [0, 1]
    ppg_amp_factor: np.ndarray


def _case_trajectories(
    p: CaseProfile, episodes: list[_Episode], rng: np.random.Generator
) -> _Trajectories:
    t = np.arange(-_GRID_PAD_S, p.duration_s + _GRID_PAD_S, 1.0 / _GRID_FS)
    resp_f = p.resp_rate_bpm / 60.0 * (1.0 + 0.03 * _slow_drift(rng, t, (60.0, 300.0), 2))
    resp = np.sin(2 * np.pi * np.cumsum(resp_f) / _GRID_FS + rng.uniform(0, 2 * np.pi))
    rsa = rng.uniform(1.0, 4.0) * (1.0 + (90.0 - p.base_hr_bpm) / 90.0)
    hr = p.base_hr_bpm + rng.uniform(3.0, 8.0) * _slow_drift(rng, t, (120.0, 900.0)) + rsa * resp
    drift = rng.uniform(1.0, 3.0) * _slow_drift(rng, t, (120.0, 900.0))
    base_map = np.maximum(p.base_map_mmhg + drift, _BASELINE_MAP_FLOOR)
    map_smooth = base_map.copy()
    env_sum = np.zeros_like(t)
    amp = np.ones_like(t)
    for ep in episodes:
        env = ep.envelope(t)
        env_sum += env
        map_smooth += env * (ep.target_map + 0.5 * drift - base_map)  # <= 61.5
        hr += env * ep.hr_rise
        amp -= env * (1.0 - ep.ppg_amp_frac)
    hr = np.clip(hr, *_HR_LIMITS_BPM)
    return _Trajectories(t, resp, hr, map_smooth, np.clip(env_sum, 0, 1), amp)


def _vital_ecg(
    p: CaseProfile, tr: _Trajectories, beats: np.ndarray, t: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    morph = _ECG_MORPHS[p.ecg_morphology % N_ECG_MORPHOLOGIES]
    resp_at_beats = np.interp(beats, tr.t, tr.resp)
    amp = rng.uniform(0.85, 1.15) * (1.0 + rng.uniform(0.03, 0.08) * resp_at_beats)
    ecg = _ecg_from_beats(t, beats, morph, amp)
    wander = rng.uniform(0.03, 0.1) * tr.resp + rng.uniform(0.03, 0.12) * _slow_drift(
        rng, tr.t, (8.0, 60.0)
    )
    ecg += np.interp(t, tr.t, wander)
    ecg += rng.normal(0.0, rng.uniform(0.006, 0.015), t.size)
    return ecg


def _vital_art(
    p: CaseProfile, tr: _Trajectories, feet: np.ndarray, t: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """ART = DBP + PP * shape with per-beat DBP chosen so that each beat mean is the MAP."""
    train = _PulseTrain(feet, _ART_MORPHS[p.ppg_morphology % N_PPG_MORPHOLOGIES])
    resp_b = np.interp(feet, tr.t, tr.resp)
    env_b = np.interp(feet, tr.t, tr.episode)
    map_b = np.interp(feet + 0.5 * train.period, tr.t, tr.map_smooth)
    map_b += rng.uniform(0.5, 2.0) * resp_b
    pp_b = p.pulse_pressure_mmhg * (1.0 - 0.3 * env_b) * (1.0 + rng.uniform(0.03, 0.1) * resp_b)
    dbp_b = map_b - pp_b * train.mean
    shape, k = train.shape(t)
    art = np.interp(t, feet, dbp_b) + pp_b[k] * shape
    return art + rng.normal(0.0, 0.3, t.size)


def _vital_pleth(
    tr: _Trajectories, feet: np.ndarray, morph: int, t: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    train = _PulseTrain(feet, _PPG_MORPHS[morph % N_PPG_MORPHOLOGIES])
    shape, _ = train.shape(t)
    amp0 = rng.uniform(20.0, 40.0)
    amp = amp0 * tr.ppg_amp_factor * (1.0 + rng.uniform(0.03, 0.1) * tr.resp)
    base = (
        rng.uniform(30.0, 45.0)
        + rng.uniform(1.0, 4.0) * tr.resp
        + rng.uniform(1.0, 4.0) * _slow_drift(rng, tr.t, (20.0, 200.0))
    )
    pleth = np.interp(t, tr.t, base) + np.interp(t, tr.t, amp) * shape
    return pleth + rng.normal(0.0, 0.15, t.size)


def _place_artifacts(p: CaseProfile, rng: np.random.Generator) -> list[Event]:
    """Non-overlapping artefact events covering at most 25 % of the case.

    Durations are log-uniform (short glitches are more common than long ones); events that no
    longer fit the 25 % budget or find no free slot are dropped.
    """
    dur = p.duration_s
    n_events = rng.poisson(max(p.artifact_rate_per_min, 0.0) * dur / 60.0)
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
            start = round(rng.uniform(1.0, dur - d - 1.0) * FS_VITAL) / FS_VITAL
            end = round((start + d) * FS_VITAL) / FS_VITAL
            if all(end + 1.0 <= a or start >= b + 1.0 for a, b in taken):
                taken.append((start, end))
                events.append(Event(kind, start, end))
                budget -= end - start
                break
    return sorted(events, key=lambda e: e.start_s)


def _apply_artifacts(
    events: list[Event], chans: dict[str, np.ndarray], rng: np.random.Generator
) -> None:
    """Corrupt the waveforms in place according to ``events``."""
    mains_hz = 50.0 if rng.random() < 0.5 else 60.0
    for ev in events:
        i0, i1 = round(ev.start_s * FS_VITAL), round(ev.end_s * FS_VITAL)
        n = i1 - i0
        if ev.kind == "motion":
            taper = np.sin(np.pi * (np.arange(n) + 0.5) / n) ** 0.5
            scale = {"ecg": 1.2, "pleth": 25.0, "art": 25.0}
            for name, x in chans.items():
                lf = _smooth_noise(rng, n, FS_VITAL, rng.uniform(0.5, 3.0))
                hf = _smooth_noise(rng, n, FS_VITAL, 15.0)
                x[i0:i1] += taper * scale[name] * rng.uniform(0.4, 1.5) * (lf + 0.2 * hf)
        elif ev.kind == "mains_noise":
            tt = np.arange(i0, i1) / FS_VITAL
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


def _blocked_numeric(times: np.ndarray, events: list[Event], kind: str) -> np.ndarray:
    """True where the numeric's trailing window overlaps a disconnect of its source channel."""
    blocked = np.zeros(times.size, dtype=bool)
    for ev in events:
        if ev.kind == kind:
            blocked |= (times > ev.start_s) & (times - _NUMERIC_WINDOW_S < ev.end_s)
    return blocked


def _hr_numeric(beats: np.ndarray, times: np.ndarray) -> np.ndarray:
    """Monitor HR: 60 / mean RR of the beats in the trailing 8 s window, rounded."""
    i1 = np.searchsorted(beats, times, side="right")
    i0 = np.searchsorted(beats, times - _NUMERIC_WINDOW_S, side="right")
    i0 = np.minimum(i0, i1 - 2)  # at least one RR interval
    hr = 60.0 * (i1 - 1 - i0) / (beats[i1 - 1] - beats[i0])
    return np.round(hr)


def _map_numeric(art_clean: np.ndarray, times: np.ndarray) -> np.ndarray:
    """Monitor ART mean: trailing 8 s average of the artefact-free waveform, rounded."""
    cs = np.concatenate(([0.0], np.cumsum(art_clean)))
    i1 = np.minimum(np.round(times * FS_VITAL).astype(int), art_clean.size)
    i0 = np.maximum(i1 - int(_NUMERIC_WINDOW_S * FS_VITAL), 0)
    return np.round((cs[i1] - cs[i0]) / np.maximum(i1 - i0, 1))


def _bis_series(duration_s: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """BIS every 5 s: Ornstein-Uhlenbeck around a case-specific depth of anaesthesia."""
    times = np.arange(BIS_PERIOD_S, duration_s + 1e-9, BIS_PERIOD_S)
    target, sd, tau = rng.uniform(38.0, 55.0), rng.uniform(3.0, 7.0), rng.uniform(60.0, 300.0)
    a = np.exp(-BIS_PERIOD_S / tau)
    innov = rng.normal(0.0, sd * np.sqrt(1 - a * a), times.size)
    x = np.empty(times.size)
    level = rng.normal(0.0, sd)
    for i, e in enumerate(innov):
        level = a * level + e
        x[i] = level
    return times, np.clip(np.round(target + x), 20.0, 80.0).astype(np.float32)


def _hypotension_events(tr: _Trajectories, duration_s: float) -> list[Event]:
    inside = (tr.t >= 0) & (tr.t <= duration_s)
    t, below = tr.t[inside], tr.map_smooth[inside] < HYPOTENSION_MAP_MMHG
    stop_t = np.append(t, duration_s)
    return [
        Event("hypotension", float(round(t[a], 3)), float(round(stop_t[b], 3)))
        for a, b in _runs(below)
    ]


def simulate_vital_case(profile: CaseProfile, rng: np.random.Generator) -> VitalCaseSignals:
    """Generate one VitalDB-like case (ECG/PLETH/ART at 500 Hz, numerics, events).

    Numerics are computed by a 'monitor' from the artefact-free beats / waveform (monitors
    reject artefacts) and are NaN while their source channel is disconnected.
    """
    p = profile
    episodes = _layout_episodes(p.n_hypotension_episodes, p.duration_s, rng)
    tr = _case_trajectories(p, episodes, rng)
    beats = _beats_from_hr(tr.t, tr.hr, rng, jitter_s=0.004)
    n = round(p.duration_s * FS_VITAL)
    t = np.arange(n) / FS_VITAL

    pat = rng.uniform(0.15, 0.22) + 0.02 * np.interp(beats, tr.t, tr.episode)
    feet_art = beats + pat + rng.normal(0.0, 0.002, beats.size)
    feet_ppg = feet_art + rng.uniform(0.04, 0.10)

    ecg = _vital_ecg(p, tr, beats, t, rng)
    art = _vital_art(p, tr, feet_art, t, rng)
    pleth = _vital_pleth(tr, feet_ppg, p.ppg_morphology, t, rng)

    hr_times = np.arange(NUMERIC_PERIOD_S, p.duration_s + 1e-9, NUMERIC_PERIOD_S)
    hr = _hr_numeric(beats, hr_times)
    map_num = _map_numeric(art, hr_times)

    artifacts = _place_artifacts(p, rng)
    _apply_artifacts(artifacts, {"ecg": ecg, "pleth": pleth, "art": art}, rng)
    hr[_blocked_numeric(hr_times, artifacts, "disconnect_ecg")] = np.nan
    map_num[_blocked_numeric(hr_times, artifacts, "disconnect_art")] = np.nan

    bis_times, bis = _bis_series(p.duration_s, rng) if p.has_bis else (None, None)
    events = sorted(_hypotension_events(tr, p.duration_s) + artifacts, key=lambda e: e.start_s)
    return VitalCaseSignals(
        fs=FS_VITAL,
        ecg_mv=ecg.astype(np.float32),
        pleth=pleth.astype(np.float32),
        art_mmhg=art.astype(np.float32),
        hr_times_s=hr_times,
        hr_bpm=hr.astype(np.float32),
        map_times_s=hr_times.copy(),
        map_mmhg=map_num.astype(np.float32),
        bis=bis,
        bis_times_s=bis_times,
        events=events,
    )


# --------------------------------------------------------------------------------------------
# BUT-PPG-like smartphone records
# --------------------------------------------------------------------------------------------


def _gravity(rng: np.random.Generator, max_tilt_rad: float = 0.35) -> np.ndarray:
    """Gravity in device axes for a phone held roughly flat (mostly on +z), in g."""
    tilt, az = rng.uniform(0.0, max_tilt_rad), rng.uniform(0, 2 * np.pi)
    return np.array([np.sin(tilt) * np.cos(az), np.sin(tilt) * np.sin(az), np.cos(tilt)])


def _bursts(
    rng: np.random.Generator,
    t: np.ndarray,
    n_bursts: int,
    width_s: tuple[float, float],
) -> np.ndarray:
    """Sum of smooth bumps (peak 1) at random times: when hands move or fingers press."""
    env = np.zeros_like(t)
    for _ in range(n_bursts):
        c, w = rng.uniform(t[0], t[-1]), rng.uniform(*width_s)
        env = np.maximum(env, np.exp(-0.5 * ((t - c) / (w / 2.355)) ** 2))
    return env


def _butppg_motion(
    rng: np.random.Generator, mode: str, t_acc: np.ndarray, t_ppg: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Dynamic ACC [n, 3] (g), additive PPG artefact and PPG pulse-gain factor for one mode.

    The PPG artefact is derived from the same movement that produced the acceleration, so the
    two co-occur (as for a finger pressed on a phone camera while moving).
    """
    n = t_acc.size
    if mode == "walking":
        f = rng.uniform(1.6, 2.2)
        ph = rng.uniform(0, 2 * np.pi, 3)
        amp = rng.uniform(0.1, 0.45) * np.array([0.5, 0.7, 1.0])
        acc = amp * (
            np.sin(2 * np.pi * f * t_acc[:, None] + ph)
            + 0.4 * np.sin(4 * np.pi * f * t_acc[:, None] + 2 * ph)
        )
        acc += 0.03 * np.stack([_smooth_noise(rng, n, FS_BUT_ACC, 8.0) for _ in range(3)], 1)
        sway = _smooth_noise(rng, t_ppg.size, FS_BUT_PPG, 0.7)
        ppg = rng.uniform(3.0, 15.0) * (np.sin(2 * np.pi * f * t_ppg + ph[2]) + sway)
        return acc, ppg, np.ones_like(t_ppg)
    if mode == "hand":
        env = _bursts(rng, t_acc, int(rng.integers(1, 4)), (1.0, 4.0))
        lf = np.stack(
            [_smooth_noise(rng, n, FS_BUT_ACC, rng.uniform(1.0, 4.0)) for _ in range(3)], 1
        )
        acc = rng.uniform(0.05, 0.25) * env[:, None] * lf
        drive = np.interp(t_ppg, t_acc, env * lf[:, 2])
        return acc, rng.uniform(8.0, 30.0) * drive, np.ones_like(t_ppg)
    # pressure or light change: a few steps, each with a hand movement (fidgeting) around it
    n_steps = int(rng.integers(1, 4))
    times = np.sort(rng.uniform(1.0, t_ppg[-1] - 0.5, n_steps))
    lf = np.stack([_smooth_noise(rng, n, FS_BUT_ACC, rng.uniform(0.8, 3.0)) for _ in range(3)], 1)
    ppg = np.zeros_like(t_ppg)
    gain = np.ones_like(t_ppg)
    acc = np.zeros((n, 3))
    for tc in times:
        step = 1.0 / (1.0 + np.exp(-(t_ppg - tc) / rng.uniform(0.05, 0.3)))
        ppg += rng.choice([-1, 1]) * rng.uniform(5.0, 30.0) * step
        if mode == "pressure":
            gain *= 1.0 + (rng.uniform(0.2, 2.0) - 1.0) * step
        bump = np.exp(-0.5 * ((t_acc - tc) / rng.uniform(0.1, 0.3)) ** 2)
        acc += rng.uniform(0.05, 0.25) * bump[:, None] * rng.normal(0.0, 1.0, 3)
        fidget = np.exp(-0.5 * ((t_acc - tc) / rng.uniform(0.5, 1.5)) ** 2)
        acc += rng.uniform(0.03, 0.12) * fidget[:, None] * lf
        ppg += rng.uniform(2.0, 8.0) * np.interp(t_ppg, t_acc, fidget * lf[:, 2])
    return acc, ppg, gain


def simulate_butppg_record(
    rng: np.random.Generator, good: bool, duration_s: float = 10.0, base_hr_bpm: float | None = None
) -> ButPPGSignals:
    """Generate one BUT-PPG-like record.

    ``ppg`` is brightness-like (mean red value of a camera frame, 0-255 scale): blood volume
    *reduces* brightness, so systolic peaks point downwards. Poor records get motion artefacts
    (walking, hand movement, finger-pressure or light changes) that co-occur with accelerometer
    energy, or low perfusion (tiny pulse amplitude) with a still phone.
    """
    hr0 = float(base_hr_bpm) if base_hr_bpm is not None else float(rng.uniform(50.0, 110.0))
    grid = np.arange(-_GRID_PAD_S, duration_s + _GRID_PAD_S, 1.0 / _GRID_FS)
    resp = np.sin(2 * np.pi * rng.uniform(0.2, 0.3) * grid + rng.uniform(0, 2 * np.pi))
    hr = np.clip(
        hr0
        + rng.uniform(0.5, 3.0) * resp
        + rng.uniform(0.0, 3.0) * _slow_drift(rng, grid, (15.0, 60.0), 2),
        *_HR_LIMITS_BPM,
    )
    beats = _beats_from_hr(grid, hr, rng, jitter_s=0.005)
    inside = beats[(beats >= 0) & (beats < duration_s)]
    hr_ref = float(60.0 / np.mean(np.diff(inside)))

    t_ecg = np.arange(round(duration_s * FS_BUT_ECG)) / FS_BUT_ECG
    morph = _ECG_MORPHS[rng.integers(N_ECG_MORPHOLOGIES)]
    ecg = _ecg_from_beats(t_ecg, beats, morph, np.full(beats.size, rng.uniform(0.8, 1.2)))
    ecg += rng.uniform(0.02, 0.1) * np.interp(t_ecg, grid, resp)
    ecg += rng.normal(0.0, 0.01 if good else 0.03, t_ecg.size)

    t_ppg = np.arange(round(duration_s * FS_BUT_PPG)) / FS_BUT_PPG
    feet = beats + rng.uniform(0.2, 0.3)
    shape, _ = _PulseTrain(feet, _PPG_MORPHS[rng.integers(N_PPG_MORPHOLOGIES)]).shape(t_ppg)
    amp = rng.uniform(1.0, 4.0) * (1.0 + 0.05 * np.interp(t_ppg, grid, resp))
    level = rng.uniform(120.0, 230.0) + rng.uniform(0.2, 1.0) * _slow_drift(
        rng, t_ppg, (8.0, 30.0), 2
    )
    noise_sd = rng.uniform(0.03, 0.1)

    t_acc = np.arange(round(duration_s * FS_BUT_ACC)) / FS_BUT_ACC
    acc = np.tile(_gravity(rng), (t_acc.size, 1))
    acc += rng.normal(0.0, 0.004, acc.shape)
    artefact = np.zeros_like(t_ppg)
    if not good:
        mode = str(
            rng.choice(
                ["walking", "hand", "pressure", "light", "low_perfusion"],
                p=[0.3, 0.3, 0.15, 0.1, 0.15],
            )
        )
        if mode == "low_perfusion":
            amp = amp * rng.uniform(0.03, 0.12)
            noise_sd = rng.uniform(0.1, 0.3)
        else:
            dyn, artefact, gain = _butppg_motion(rng, mode, t_acc, t_ppg)
            acc += dyn
            amp = amp * gain
    ppg = level - amp * shape + artefact + rng.normal(0.0, noise_sd, t_ppg.size)
    return ButPPGSignals(
        ppg=ppg.astype(np.float32),
        ecg_mv=ecg.astype(np.float32),
        acc_g=acc.astype(np.float32),
        hr_bpm=hr_ref,
        quality=int(good),
    )
