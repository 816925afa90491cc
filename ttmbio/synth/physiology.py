"""Physiologically plausible synthetic biosignals for the embedded demo datasets.

Pure signal generation (numpy only at run time; no I/O, no printing). Two generators:

* :func:`simulate_vital_case` -- a VitalDB-like intra-operative case: ECG lead II, PPG (PLETH)
  and invasive arterial pressure (ART) at 500 Hz plus HR / ART-mean / BIS numerics, with
  hypotension episodes and their precursors, ectopic beats, atrial fibrillation, low perfusion
  and recorded artefacts.
* :func:`simulate_butppg_record` (from :mod:`ttmbio.synth.butppg`, re-exported here) -- a
  BUT-PPG-like 10 s smartphone record: camera PPG at 30 Hz, reference ECG at 1000 Hz and a
  3-axis accelerometer at 100 Hz, whose quality lives in the PPG.

The building blocks live in :mod:`ttmbio.synth.waves` (beats, ECG, pulse shapes),
:mod:`ttmbio.synth.rhythm` (ectopy, AF) and :mod:`ttmbio.synth.hypotension` (episodes,
precursors, false alarms) and :mod:`ttmbio.synth.artifacts`; this module assembles a case.

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
  ripple) is below 65 mmHg. Most episodes are preceded by a precursor of variable strength
  (MAP sliding towards 70-76 mmHg over 2-10 min, HR up, PPG amplitude down) and some cases have
  false alarms, the same slide recovering without hypotension (``map_dip`` events); neither
  takes the MAP below 70 mmHg.
* **Rhythm**: PVCs (wide QRS, full compensatory pause, pulse deficit), PACs (early abnormal P,
  non-compensatory pause) and paroxysmal AF (irregular RR, no P waves, f-waves, Frank-Starling
  pulses) rewrite the sinus beat sequence; every ectopic beat (``pvc`` / ``pac``, R peak
  +- 0.1 s) and AF episode (``af``) is an event. **Low perfusion** shrinks the PPG pulse to
  10-30 % with the same noise floor. All pathology is drawn from a stream spawned off the
  case's generator, so a case without pathology is exactly what it was before pathology existed.
* **Artefacts** (motion, disconnects, flatlines, clipping, mains noise) are placed without overlap,
  cover at most 25 % of a case and are each returned as an :class:`Event`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ttmbio.signal.runs import true_runs
from ttmbio.synth import rhythm as rh
from ttmbio.synth.artifacts import ARTIFACT_KINDS, apply_artifacts, place_artifacts
from ttmbio.synth.butppg import (
    FS_BUT_ACC,
    FS_BUT_ECG,
    FS_BUT_PPG,
    ButPPGSignals,
    simulate_butppg_record,
)
from ttmbio.synth.case_profile import CaseMix, CaseProfile, random_case_profile
from ttmbio.synth.hypotension import (
    BASELINE_MAP_FLOOR,
    HYPOTENSION_MAP_MMHG,
    Episode,
    false_alarm_slides,
    layout_episodes,
    precursor_slides,
    slide_effects,
)
from ttmbio.synth.waves import (
    ART_MORPHS,
    ECG_MORPHS,
    GRID_FS,
    GRID_PAD_S,
    HR_LIMITS_BPM,
    N_ECG_MORPHOLOGIES,
    N_PPG_MORPHOLOGIES,
    PPG_MORPHS,
    Event,
    PulseTrain,
    beats_from_hr,
    ecg_from_beats,
    slow_drift,
)

__all__ = [
    "ARTIFACT_KINDS",
    "BEAT_TYPES",
    "BIS_PERIOD_S",
    "FS_BUT_ACC",
    "FS_BUT_ECG",
    "FS_BUT_PPG",
    "FS_VITAL",
    "HYPOTENSION_MAP_MMHG",
    "NUMERIC_PERIOD_S",
    "N_ECG_MORPHOLOGIES",
    "N_PPG_MORPHOLOGIES",
    "ButPPGSignals",
    "CaseMix",
    "CaseProfile",
    "Event",
    "VitalCaseSignals",
    "random_case_profile",
    "simulate_butppg_record",
    "simulate_vital_case",
]

FS_VITAL = 500.0
NUMERIC_PERIOD_S = 2.0
BIS_PERIOD_S = 5.0

BEAT_TYPES = {"sinus": rh.SINUS, "pvc": rh.PVC, "pac": rh.PAC, "af": rh.AF}

_NUMERIC_WINDOW_S = 8.0  # trailing averaging window of the HR / MAP numerics
_LOW_PERFUSION_SCALE = (0.1, 0.3)  # PPG pulse amplitude of a poorly perfused finger
# --------------------------------------------------------------------------------------------
# VitalDB-like cases
# --------------------------------------------------------------------------------------------


@dataclass
class VitalCaseSignals:
    """Waveforms (float32, NaN in disconnects), numerics and ground-truth events of one case.

    Numerics are float32, rounded like a monitor, at 2, 4, 6 ... s (HR and ART mean share the
    time axis); NaN while the source channel is disconnected. BIS (5 s) is None without BIS.
    ``r_peaks_s`` are the true R-peak times inside the case and ``beat_types`` their kinds
    (``BEAT_TYPES`` codes: 0 sinus, 1 PVC, 2 PAC, 3 AF), whatever the artefacts did.
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
    r_peaks_s: np.ndarray = field(default_factory=lambda: np.zeros(0))
    beat_types: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int8))


# Respiratory variation of the pulse (PPV, and dPOP on the pleth) grows as preload falls
# (Cannesson et al., Br J Anaesth 2007: dPOP > 13-15 % marks a preload-dependent patient):
# the relative swing rises from 3-10 % by this much at the full precursor / episode, a
# scale-free sign that an 8 s window can hold (one to three breaths).
_RESP_SWING_PER_LOSS = 0.25


@dataclass
class _Trajectories:
    """Control-grid trajectories shared by all channels of a case."""

    t: np.ndarray
    resp: np.ndarray  # respiratory phase signal in [-1, 1]
    hr: np.ndarray
    map_smooth: np.ndarray  # intended MAP without the respiratory ripple
    episode: np.ndarray  # summed episode envelope in [0, 1]
    ppg_amp_factor: np.ndarray
    pp_factor: np.ndarray  # pulse-pressure factor of precursors and false alarms
    dips: list[Event]  # false alarms: MAP dips that recover without hypotension
    # deepens the respiratory swing of the pulses (see _RESP_SWING_PER_LOSS)
    preload_loss: np.ndarray


def _case_trajectories(
    p: CaseProfile,
    episodes: list[Episode],
    rng: np.random.Generator,
    prng: np.random.Generator,
) -> _Trajectories:
    """HR, MAP and PPG-amplitude trajectories; ``prng`` draws the precursors / false alarms
    (a separate stream, so a case without them is the same as before they existed)."""
    t = np.arange(-GRID_PAD_S, p.duration_s + GRID_PAD_S, 1.0 / GRID_FS)
    resp_f = p.resp_rate_bpm / 60.0 * (1.0 + 0.03 * slow_drift(rng, t, (60.0, 300.0), 2))
    resp = np.sin(2 * np.pi * np.cumsum(resp_f) / GRID_FS + rng.uniform(0, 2 * np.pi))
    rsa = rng.uniform(1.0, 4.0) * (1.0 + (90.0 - p.base_hr_bpm) / 90.0)
    hr = p.base_hr_bpm + rng.uniform(3.0, 8.0) * slow_drift(rng, t, (120.0, 900.0)) + rsa * resp
    drift = rng.uniform(1.0, 3.0) * slow_drift(rng, t, (120.0, 900.0))
    base_map = np.maximum(p.base_map_mmhg + drift, BASELINE_MAP_FLOOR)
    envs = [ep.envelope(t) for ep in episodes]
    env_sum = np.clip(np.sum(envs, axis=0), 0, 1) if envs else np.zeros_like(t)
    slides = precursor_slides(episodes, p.precursor_strengths, prng)
    busy = [(s.start_s, s.end_s) for s in slides] + [(e.start_s, e.end_s) for e in episodes]
    dips = false_alarm_slides(p.n_false_alarms, p.duration_s, busy, prng)
    fx = slide_effects(t, base_map, slides + dips, env_sum)
    map_level = base_map - fx.map_drop  # >= 70 mmHg
    map_smooth = map_level.copy()
    amp = np.ones_like(t)
    for ep, env in zip(episodes, envs, strict=True):
        map_smooth += env * (ep.target_map + 0.5 * drift - map_level)  # <= 61.5
        hr += env * ep.hr_rise
        amp -= env * (1.0 - ep.ppg_amp_frac)
    hr = np.clip(hr + fx.hr_rise, *HR_LIMITS_BPM)
    events = [
        Event("map_dip", round(max(d.start_s, 0.0), 3), round(min(d.end_s, p.duration_s), 3))
        for d in dips
    ]
    loss = np.clip(fx.preload_loss + env_sum, 0.0, 1.0)
    return _Trajectories(
        t, resp, hr, map_smooth, env_sum, amp * fx.ppg_factor, fx.pp_factor, events, loss
    )


def _vital_ecg(
    p: CaseProfile,
    tr: _Trajectories,
    rhythm: rh.Rhythm,
    t: np.ndarray,
    rng: np.random.Generator,
    prng: np.random.Generator,
) -> np.ndarray:
    morph = ECG_MORPHS[p.ecg_morphology % N_ECG_MORPHOLOGIES]
    beats = rhythm.beats
    if not rhythm.is_sinus:
        morph = rh.beat_morphologies(morph, rhythm, prng)
    resp_at_beats = np.interp(beats, tr.t, tr.resp)
    amp = rng.uniform(0.85, 1.15) * (1.0 + rng.uniform(0.03, 0.08) * resp_at_beats)
    ecg = ecg_from_beats(t, beats, morph, amp)
    if rhythm.af:
        ecg += rh.f_waves(t, FS_VITAL, rhythm.af, prng)
    wander = rng.uniform(0.03, 0.1) * tr.resp + rng.uniform(0.03, 0.12) * slow_drift(
        rng, tr.t, (8.0, 60.0)
    )
    ecg += np.interp(t, tr.t, wander)
    ecg += rng.normal(0.0, rng.uniform(0.006, 0.015), t.size)
    return ecg


def _vital_art(
    p: CaseProfile,
    tr: _Trajectories,
    feet: np.ndarray,
    gain: np.ndarray,
    t: np.ndarray,
    rng: np.random.Generator,
) -> np.ndarray:
    """ART = DBP + PP * shape with per-beat DBP chosen so that each beat mean is the MAP.

    ``gain`` scales each beat's pulse pressure (weak ectopic beats, Frank-Starling in AF).
    """
    train = PulseTrain(feet, ART_MORPHS[p.ppg_morphology % N_PPG_MORPHOLOGIES])
    resp_b = np.interp(feet, tr.t, tr.resp)
    env_b = np.interp(feet, tr.t, tr.episode)
    map_b = np.interp(feet + 0.5 * train.period, tr.t, tr.map_smooth)
    map_b += rng.uniform(0.5, 2.0) * resp_b
    swing = rng.uniform(0.03, 0.1) + _RESP_SWING_PER_LOSS * np.interp(feet, tr.t, tr.preload_loss)
    pp_b = p.pulse_pressure_mmhg * (1.0 - 0.3 * env_b) * (1.0 + swing * resp_b)
    pp_b *= gain * np.interp(feet, tr.t, tr.pp_factor)
    dbp_b = map_b - pp_b * train.mean
    shape, k = train.shape(t)
    art = np.interp(t, feet, dbp_b) + pp_b[k] * shape
    return art + rng.normal(0.0, 0.3, t.size)


def _vital_pleth(
    tr: _Trajectories,
    feet: np.ndarray,
    gain: np.ndarray,
    foot: np.ndarray,
    morph: int,
    perfusion: float,
    t: np.ndarray,
    rng: np.random.Generator,
) -> np.ndarray:
    """PLETH = baseline + amplitude * (shape + foot level); ``gain`` per beat (at most 1 keeps
    the pulse on the 0-100 scale), ``foot`` per beat (:func:`rhythm.foot_levels`),
    ``perfusion`` scales the pulse but not the noise floor."""
    train = PulseTrain(feet, PPG_MORPHS[morph % N_PPG_MORPHOLOGIES])
    shape, k = train.shape(t)
    shape *= (gain / max(1.0, float(gain.max())))[k]
    amp0 = rng.uniform(20.0, 40.0) * perfusion
    swing = rng.uniform(0.03, 0.1) + _RESP_SWING_PER_LOSS * tr.preload_loss
    amp = amp0 * tr.ppg_amp_factor * (1.0 + swing * tr.resp)
    base = (
        rng.uniform(30.0, 45.0)
        + rng.uniform(1.0, 4.0) * tr.resp
        + rng.uniform(1.0, 4.0) * slow_drift(rng, tr.t, (20.0, 200.0))
    )
    pleth = np.interp(t, tr.t, base) + np.interp(t, tr.t, amp) * (shape + np.interp(t, feet, foot))
    return pleth + rng.normal(0.0, 0.15, t.size)


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
        for a, b in zip(*true_runs(below), strict=True)
    ]


def simulate_vital_case(profile: CaseProfile, rng: np.random.Generator) -> VitalCaseSignals:
    """Generate one VitalDB-like case (ECG/PLETH/ART at 500 Hz, numerics, events).

    Numerics are computed by a 'monitor' from the artefact-free beats / waveform (monitors
    reject artefacts) and are NaN while their source channel is disconnected.
    """
    p = profile
    prng = rng.spawn(1)[0]  # pathology draws: leaves the main stream as it always was
    episodes = layout_episodes(p.n_hypotension_episodes, p.duration_s, rng)
    tr = _case_trajectories(p, episodes, rng, prng)
    sinus = beats_from_hr(tr.t, tr.hr, rng, jitter_s=0.004)
    af = rh.layout_af(p.n_af_episodes, p.duration_s, prng)
    rhythm = rh.build_rhythm(sinus, p.duration_s, p.pvc_per_min, p.pac_per_min, af, prng)
    beats = rhythm.beats
    n = round(p.duration_s * FS_VITAL)
    t = np.arange(n) / FS_VITAL

    pat = rng.uniform(0.15, 0.22) + 0.02 * np.interp(beats, tr.t, tr.episode)
    feet_art = beats + pat + rng.normal(0.0, 0.002, beats.size)
    if not rhythm.is_sinus:
        feet_art += rh.pulse_delays(rhythm, prng)
    feet_ppg = feet_art + rng.uniform(0.04, 0.10)
    perfusion = float(prng.uniform(*_LOW_PERFUSION_SCALE)) if p.low_perfusion else 1.0

    ecg = _vital_ecg(p, tr, rhythm, t, rng, prng)
    art = _vital_art(p, tr, feet_art, rhythm.pulse_gain, t, rng)
    foot = rh.foot_levels(rhythm)
    pleth = _vital_pleth(tr, feet_ppg, rhythm.pulse_gain, foot, p.ppg_morphology, perfusion, t, rng)

    hr_times = np.arange(NUMERIC_PERIOD_S, p.duration_s + 1e-9, NUMERIC_PERIOD_S)
    hr = _hr_numeric(beats, hr_times)
    map_num = _map_numeric(art, hr_times)

    artifacts = place_artifacts(p.duration_s, p.artifact_rate_per_min, rng, FS_VITAL)
    apply_artifacts(artifacts, {"ecg": ecg, "pleth": pleth, "art": art}, rng, FS_VITAL)
    hr[_blocked_numeric(hr_times, artifacts, "disconnect_ecg")] = np.nan
    map_num[_blocked_numeric(hr_times, artifacts, "disconnect_art")] = np.nan

    bis_times, bis = _bis_series(p.duration_s, rng) if p.has_bis else (None, None)
    inside = (beats >= 0.0) & (beats < p.duration_s)
    events = sorted(
        _hypotension_events(tr, p.duration_s) + tr.dips + rhythm.events + artifacts,
        key=lambda e: e.start_s,
    )
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
        r_peaks_s=beats[inside],
        beat_types=rhythm.kind[inside],
    )
