"""Arrhythmias for the VitalDB-like cases: ectopic beats and paroxysmal atrial fibrillation.

Numpy only. :func:`build_rhythm` rewrites a sinus beat sequence (from
:func:`ttmbio.synth.waves.beats_from_hr`) beat by beat, walking along the sinus node's phase
(the sinus beat index, interpolated in time), and returns each beat's kind, its pulse gain and
the ground-truth events. The rules, from the clinical ECG literature:

* **PVC** (premature ventricular complex): comes at 55-75 % of the sinus RR, has no P wave, a
  wide bizarre QRS (sigma 28-40 ms against 8-16 ms for sinus beats, polarity per focus) and a
  discordant T wave. The sinus node is not reset, so the next sinus beat falls on the sinus
  grid two cycles after the preceding normal beat: a **full compensatory pause**. The ventricle
  has had little time to fill, so the pulse is weak or absent (**pulse deficit**: 0-40 % of the
  normal PPG amplitude and pulse pressure, arriving 20-60 ms later) and the next beat is
  potentiated (110-130 %).
* **PAC** (premature atrial complex): comes at 65-85 % of the sinus RR with an early, abnormal
  P wave (shorter PR, low or inverted, per focus) and a normal QRS. It resets the sinus node, so
  the next sinus beat follows 1.0-1.1 cycles later: a **non-compensatory pause**. Its pulse is
  reduced to 55-85 %.
* **AF** (atrial fibrillation): during an episode the RR intervals are drawn independently
  (gamma, coefficient of variation 0.15-0.3) around a rate 10-40 % above the sinus rate; P waves
  are absent and fibrillatory f-waves (4-9 Hz, 0.03-0.08 mV, wandering frequency and amplitude)
  ride on the baseline. Each pulse follows the Frank-Starling law: the shorter the preceding
  RR, the smaller the pulse. Sinus rhythm resumes 1.0-1.6 cycles after the last AF beat.

Ectopic beats are only placed after two sinus beats (no couplets), inside the recording and
away from AF. Each ectopic beat is an ``Event("pvc" | "pac")`` spanning its R peak +- 0.1 s
(the R peak is the midpoint); each AF episode is an ``Event("af")`` over its span.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ttmbio.synth.waves import Event, smooth_noise

SINUS, PVC, PAC, AF = 0, 1, 2, 3
ECTOPIC_HALF_SPAN_S = 0.1  # pvc / pac events span the R peak +- this

_PVC_COUPLING = (0.55, 0.75)
_PAC_COUPLING = (0.65, 0.85)
_PAC_RESET_CYCLES = (1.0, 1.1)
_PVC_PULSE = (0.0, 0.4)
_PAC_PULSE = (0.55, 0.85)
_POST_PVC_PULSE = (1.1, 1.3)
_PVC_EXTRA_DELAY_S = (0.02, 0.06)  # longer pre-ejection period of a ventricular beat
_AF_EPISODE_S = (60.0, 300.0)
_AF_EDGE_S = 5.0  # AF keeps this far from the case borders
_AF_GAP_S = 20.0
_AF_RATE_FACTOR = (1.1, 1.4)
_AF_HR_LIMITS_BPM = (60.0, 160.0)
_AF_CV = (0.15, 0.3)
_AF_RR_LIMITS_S = (0.3, 2.0)
_AF_RESUME_CYCLES = (1.0, 1.6)
_F_WAVE_HZ = (4.0, 9.0)
_F_WAVE_MV = (0.03, 0.08)
_F_WAVE_TAPER_S = 0.3


@dataclass(frozen=True)
class AFSpan:
    start_s: float
    end_s: float
    hr_factor: float  # AF mean rate relative to the local sinus rate
    cv: float  # coefficient of variation of the RR intervals


@dataclass
class Rhythm:
    """Beat times (s), each beat's kind (SINUS/PVC/PAC/AF) and pulse gain, and events."""

    beats: np.ndarray
    kind: np.ndarray
    pulse_gain: np.ndarray
    af: list[AFSpan]
    events: list[Event]

    @property
    def is_sinus(self) -> bool:
        return not self.af and bool((self.kind == SINUS).all())


def layout_af(n: int, duration_s: float, rng: np.random.Generator) -> list[AFSpan]:
    """``n`` non-overlapping AF episodes of 1-5 min (shrunk to fit, at most ~60 % of a case)."""
    usable = duration_s - 2 * _AF_EDGE_S - _AF_GAP_S * max(n - 1, 0)
    if n <= 0 or usable < 10.0 * n:
        return []
    lengths = rng.uniform(*_AF_EPISODE_S, size=n)
    lengths *= min(1.0, 0.6 * usable / lengths.sum())
    gaps = rng.dirichlet(np.ones(n + 1)) * (usable - lengths.sum())
    spans, cursor = [], _AF_EDGE_S
    for i in range(n):
        cursor += gaps[i]
        spans.append(
            AFSpan(
                start_s=round(float(cursor), 3),
                end_s=round(float(cursor + lengths[i]), 3),
                hr_factor=float(rng.uniform(*_AF_RATE_FACTOR)),
                cv=float(rng.uniform(*_AF_CV)),
            )
        )
        cursor += lengths[i] + _AF_GAP_S
    return spans


def _af_rr(rng: np.random.Generator, mean_rr: float, cv: float) -> float:
    k = 1.0 / (cv * cv)
    return float(np.clip(rng.gamma(k, mean_rr / k), *_AF_RR_LIMITS_S))


def build_rhythm(
    sinus: np.ndarray,
    duration_s: float,
    pvc_per_min: float,
    pac_per_min: float,
    af: list[AFSpan],
    rng: np.random.Generator,
) -> Rhythm:
    """Insert ectopic beats and AF episodes into the sinus beat times ``sinus``.

    ``sinus`` must extend a few seconds beyond both ends of the recording (the beats returned do
    too). Without ectopy or AF, the sinus beats come back unchanged.
    """
    n = sinus.size
    if (pvc_per_min <= 0 and pac_per_min <= 0 and not af) or n < 4:
        ones = np.ones(n)
        return Rhythm(sinus.copy(), np.zeros(n, dtype=np.int8), ones, [], [])
    idx = np.arange(n, dtype=float)
    last_rr = sinus[-1] - sinus[-2]

    def time_of(theta: float) -> float:
        if theta > n - 1:
            return float(sinus[-1] + (theta - (n - 1)) * last_rr)
        return float(np.interp(theta, idx, sinus))

    def phase_of(t: float) -> float:
        return float(np.interp(t, sinus, idx))

    beats: list[float] = []
    kinds: list[int] = []
    gains: list[float] = []
    events: list[Event] = []
    theta, af_next = 0.0, 0
    while theta <= n - 1:
        t = time_of(theta)
        if af_next < len(af) and t >= af[af_next].start_s:
            span = af[af_next]
            rr_sinus = time_of(phase_of(span.start_s) + 1.0) - time_of(phase_of(span.start_s))
            hr_af = np.clip(60.0 / rr_sinus * span.hr_factor, *_AF_HR_LIMITS_BPM)
            mean_rr = 60.0 / float(hr_af)
            prev = beats[-1] if beats else span.start_s - mean_rr
            tb = max(span.start_s + rng.uniform(0.0, 1.0) * mean_rr, prev + _AF_RR_LIMITS_S[0])
            while tb < span.end_s:
                rr_prev = tb - prev
                gain = np.clip((rr_prev - 0.2) / (mean_rr - 0.2), 0.1, 1.5) ** 0.8
                beats.append(tb)
                kinds.append(AF)
                gains.append(float(gain))
                prev, tb = tb, tb + _af_rr(rng, mean_rr, span.cv)
            events.append(Event("af", span.start_s, span.end_s))
            resume = phase_of(prev) + rng.uniform(*_AF_RESUME_CYCLES)
            theta = max(resume, phase_of(span.end_s + 0.25))
            af_next += 1
            continue
        beats.append(t)
        kinds.append(SINUS)
        gains.append(rng.uniform(*_POST_PVC_PULSE) if len(kinds) > 1 and kinds[-2] == PVC else 1.0)
        rr = time_of(theta + 1.0) - t
        af_soon = af_next < len(af) and af[af_next].start_s - t < 2.5 * rr + 1.0
        eligible = (
            1.0 <= t <= duration_s - 2.5 * rr - 1.0
            and len(kinds) > 1
            and kinds[-2] == SINUS
            and not af_soon
        )
        u = rng.random() if eligible else 1.0
        # per-beat chances; each ectopic beat takes ~3 cycles of which only 1 could have been
        # ectopic (no couplets), hence the 1 / (1 - 2 q) so that the rates come out per minute
        q = min((pvc_per_min + pac_per_min) * rr / 60.0, 0.3)
        scale = rr / 60.0 / (1.0 - 2.0 * q)
        p_pvc, p_pac = pvc_per_min * scale, pac_per_min * scale
        if u < p_pvc:
            tp = t + rng.uniform(*_PVC_COUPLING) * rr
            beats.append(tp)
            kinds.append(PVC)
            gains.append(rng.uniform(*_PVC_PULSE))
            events.append(_ectopic_event("pvc", tp))
            theta += 2.0  # the sinus node keeps its rhythm: full compensatory pause
        elif u < p_pvc + p_pac:
            tp = t + rng.uniform(*_PAC_COUPLING) * rr
            beats.append(tp)
            kinds.append(PAC)
            gains.append(rng.uniform(*_PAC_PULSE))
            events.append(_ectopic_event("pac", tp))
            theta = phase_of(tp) + rng.uniform(*_PAC_RESET_CYCLES)  # sinus node reset
        else:
            theta += 1.0
    return Rhythm(
        np.asarray(beats),
        np.asarray(kinds, dtype=np.int8),
        np.asarray(gains, dtype=float),
        list(af),
        sorted(events, key=lambda e: e.start_s),
    )


def _ectopic_event(kind: str, r_peak_s: float) -> Event:
    return Event(
        kind,
        round(r_peak_s - ECTOPIC_HALF_SPAN_S, 4),
        round(r_peak_s + ECTOPIC_HALF_SPAN_S, 4),
    )


def pulse_delays(rhythm: Rhythm, rng: np.random.Generator) -> np.ndarray:
    """Extra pulse-arrival delay per beat (s): ventricular beats eject later."""
    delay = np.zeros(rhythm.beats.size)
    pvc = rhythm.kind == PVC
    delay[pvc] = rng.uniform(*_PVC_EXTRA_DELAY_S, size=int(pvc.sum()))
    return delay


def foot_levels(rhythm: Rhythm) -> np.ndarray:
    """Per-beat PPG foot level in units of the pulse amplitude (0 for a regular rhythm).

    The finger's blood volume keeps draining in diastole: after a short interval (a premature
    beat, a fast AF cycle) the next foot sits higher, after a long pause lower.
    """
    if rhythm.is_sinus:
        return np.zeros(rhythm.beats.size)
    rr_prev = np.diff(rhythm.beats, prepend=2 * rhythm.beats[0] - rhythm.beats[1])
    rel = rr_prev / np.median(rr_prev) - 1.0
    return -0.3 * np.clip(rel, -0.7, 1.5)


def beat_morphologies(morph: np.ndarray, rhythm: Rhythm, rng: np.random.Generator) -> np.ndarray:
    """Per-beat ECG morphology ``[beat, wave, 3]`` from a case's sinus morphology ``[wave, 3]``.

    One ventricular and one atrial focus per case (unifocal ectopy): the PVC complex has no P
    wave, a wide QRS of either polarity and a T wave opposite to its QRS; the PAC keeps the QRS
    and T but has an early, low or inverted P wave; AF beats have no P wave.
    """
    out = np.repeat(morph[None], rhythm.beats.size, axis=0)
    r_amp = abs(morph[2, 2])
    sign = 1.0 if rng.random() < 0.6 else -1.0
    pvc = np.array(
        [
            [morph[0, 0], morph[0, 1], 0.0],
            [-0.045, rng.uniform(0.015, 0.025), -sign * rng.uniform(0.05, 0.2)],
            [0.0, rng.uniform(0.028, 0.040), sign * r_amp * rng.uniform(1.1, 1.8)],
            [rng.uniform(0.05, 0.07), rng.uniform(0.025, 0.035), -sign * rng.uniform(0.2, 0.5)],
            [rng.uniform(0.28, 0.34), rng.uniform(0.06, 0.08), -sign * rng.uniform(0.3, 0.6)],
        ]
    )
    p_shift = rng.uniform(0.75, 0.9)
    p_amp = rng.uniform(-0.9, -0.4) if rng.random() < 0.5 else rng.uniform(0.3, 0.7)
    p_width = rng.uniform(0.8, 1.3)
    out[rhythm.kind == PVC] = pvc
    pac = rhythm.kind == PAC
    out[pac, 0, 0] *= p_shift
    out[pac, 0, 1] *= p_width
    out[pac, 0, 2] *= p_amp
    out[rhythm.kind == AF, 0, 2] = 0.0
    return out


def f_waves(t: np.ndarray, fs: float, af: list[AFSpan], rng: np.random.Generator) -> np.ndarray:
    """Fibrillatory baseline waves during the AF spans (zero elsewhere), in mV."""
    out = np.zeros_like(t)
    for span in af:
        i0, i1 = round(span.start_s * fs), round(span.end_s * fs)
        i0, i1 = max(i0, 0), min(i1, t.size)
        m = i1 - i0
        if m < 4:
            continue
        f0 = rng.uniform(*_F_WAVE_HZ)
        freq = np.clip(f0 + 0.4 * smooth_noise(rng, m, fs, 0.5), *_F_WAVE_HZ)
        phase = 2 * np.pi * np.cumsum(freq) / fs + rng.uniform(0, 2 * np.pi)
        amp = rng.uniform(*_F_WAVE_MV) * np.clip(1.0 + 0.3 * smooth_noise(rng, m, fs, 0.3), 0.3, 2)
        wave = (np.sin(phase) + 0.3 * np.sin(2 * phase + rng.uniform(0, 2 * np.pi))) / 1.3
        k = np.arange(m) / fs
        taper = np.clip(np.minimum(k, k[-1] - k) / _F_WAVE_TAPER_S, 0.0, 1.0)
        out[i0:i1] = amp * taper * wave
    return out
