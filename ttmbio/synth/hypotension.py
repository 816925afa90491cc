"""Hypotension episodes of the VitalDB-like cases, their warning signs and false alarms.

Numpy only. Three kinds of slow change act on a case's control trajectories:

* an **episode** (:class:`Episode`) is a raised-cosine envelope that pulls the MAP trajectory to
  50-60 mmHg, raises HR by 10-25 bpm, cuts the PPG pulse to 40-70 % and the pulse pressure by
  30 %; only episodes take the MAP below 65 mmHg;
* a **precursor** (:class:`Slide`) precedes an episode: over the 2-10 min before the down ramp
  (clipped at the previous episode; a slide that started before the recording is seen only
  from t = 0) the MAP slides from its baseline towards 70-76 mmHg, HR rises by 3-15 bpm and the
  PPG pulse amplitude falls by 15-45 %, all scaled by the episode's precursor strength in
  [0, 1] (0: the episode comes without warning) and growing like ``u**k`` (k 1-2) towards the
  episode; during the episode the episode's own envelope takes over;
* a **false alarm** is the same slide without an episode: it reaches its nadir (never below
  70 mmHg), holds up to 1 min and recovers within 0.5-2 min.

Slides never overlap each other and never take the MAP below :data:`SLIDE_MAP_FLOOR`, so "MAP
below 65 mmHg" still happens only inside episodes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

HYPOTENSION_MAP_MMHG = 65.0
BASELINE_MAP_FLOOR = 72.0  # outside episodes and slides the MAP trajectory stays above this
SLIDE_MAP_FLOOR = 70.0  # precursors and false alarms never take the MAP below this
EPISODE_EDGE_S = 20.0  # no episode ramps within this distance of the case borders
EPISODE_GAP_S = 45.0  # minimum distance between two episodes
EPISODE_MIN_S = 60.0
EPISODE_MAX_S = 300.0
EPISODE_MIN_FOOTPRINT_S = 85.0  # 60 s below 65 mmHg plus half of two ramps (<= 25 s each)

_LEAD_S = (120.0, 360.0)  # precursor length before the down ramp
_SLIDE_TARGET_MMHG = (SLIDE_MAP_FLOOR, 76.0)
_SLIDE_HR_RISE_BPM = (3.0, 15.0)
_SLIDE_PPG_DROP = (0.15, 0.45)
_SLIDE_PP_DROP = 0.15  # pulse pressure narrows by this share at full strength
_FALSE_ALARM_FALL_S = (90.0, 480.0)
_FALSE_ALARM_HOLD_S = (0.0, 60.0)
_FALSE_ALARM_RECOVER_S = (30.0, 120.0)
_SLIDE_CLEARANCE_S = 30.0  # free time kept between a false alarm and any episode or slide


@dataclass(frozen=True)
class Episode:
    start_s: float  # start of the down ramp
    ramp_on_s: float
    plateau_s: float
    ramp_off_s: float
    target_map: float
    hr_rise: float
    ppg_amp_frac: float

    @property
    def end_s(self) -> float:
        return self.start_s + self.ramp_on_s + self.plateau_s + self.ramp_off_s

    def envelope(self, t: np.ndarray) -> np.ndarray:
        """Raised-cosine on/off envelope in [0, 1]."""
        a = self.start_s
        b = a + self.ramp_on_s
        c = b + self.plateau_s
        d = c + self.ramp_off_s
        on = np.clip((t - a) / self.ramp_on_s, 0.0, 1.0)
        off = np.clip((d - t) / self.ramp_off_s, 0.0, 1.0)
        return 0.5 - 0.5 * np.cos(np.pi * np.minimum(on, off))


@dataclass(frozen=True)
class Slide:
    """A gradual MAP fall with HR rise and PPG-amplitude fall: a precursor or a false alarm.

    The envelope grows like ``((t - start) / (nadir - start)) ** exponent`` up to ``nadir_s``,
    holds 1 until ``hold_end_s`` and returns to 0 along a raised cosine of ``release_s``.
    """

    start_s: float
    nadir_s: float
    hold_end_s: float
    release_s: float
    exponent: float
    strength: float  # 0-1, scales every effect
    map_target: float  # MAP reached at full strength (if the baseline is above it)
    hr_rise: float
    ppg_drop: float
    false_alarm: bool

    @property
    def end_s(self) -> float:
        return self.hold_end_s + self.release_s

    def envelope(self, t: np.ndarray, exponent: float | None = None) -> np.ndarray:
        u = np.clip((t - self.start_s) / (self.nadir_s - self.start_s), 0.0, 1.0)
        off = np.clip((self.end_s - t) / self.release_s, 0.0, 1.0)
        power = self.exponent if exponent is None else exponent
        return np.minimum(u**power, 0.5 - 0.5 * np.cos(np.pi * off))


def max_episodes(duration_s: float) -> int:
    """How many hypotension episodes of at least 1 min fit into a case."""
    usable = duration_s - 2 * EPISODE_EDGE_S + EPISODE_GAP_S
    return int(max(usable, 0.0) // (EPISODE_MIN_FOOTPRINT_S + EPISODE_GAP_S))


def layout_episodes(n: int, duration_s: float, rng: np.random.Generator) -> list[Episode]:
    """Place ``n`` non-overlapping episodes; shrink to 1 min or drop those that cannot fit."""
    n = min(n, max_episodes(duration_s))
    if n <= 0:
        return []
    ramps = rng.uniform(10.0, 25.0, size=(n, 2))
    below = rng.uniform(EPISODE_MIN_S, EPISODE_MAX_S, size=n)  # time under 65 mmHg
    available = duration_s - 2 * EPISODE_EDGE_S - EPISODE_GAP_S * (n - 1)
    half_ramps = ramps.sum(axis=1) / 2
    footprint = below + half_ramps
    if footprint.sum() > available:
        spare = available - half_ramps.sum() - EPISODE_MIN_S * n
        extra = below - EPISODE_MIN_S
        below = EPISODE_MIN_S + extra * max(spare, 0.0) / max(extra.sum(), 1e-9)
        footprint = below + half_ramps
    slack = max(available - footprint.sum(), 0.0)
    gaps = rng.dirichlet(np.ones(n + 1)) * slack
    episodes, cursor = [], EPISODE_EDGE_S
    for i in range(n):
        cursor += gaps[i]
        plateau = below[i] - half_ramps[i]
        episodes.append(
            Episode(
                start_s=float(cursor),
                ramp_on_s=float(ramps[i, 0]),
                plateau_s=float(plateau),
                ramp_off_s=float(ramps[i, 1]),
                target_map=float(rng.uniform(50.0, 60.0)),
                hr_rise=float(rng.uniform(10.0, 25.0)),
                ppg_amp_frac=float(rng.uniform(0.4, 0.7)),
            )
        )
        cursor += footprint[i] + EPISODE_GAP_S  # ramp_on + plateau + ramp_off
    return episodes


def _slide_effects(rng: np.random.Generator) -> dict[str, float]:
    return {
        "exponent": float(rng.uniform(1.0, 2.0)),
        "map_target": float(rng.uniform(*_SLIDE_TARGET_MMHG)),
        "hr_rise": float(rng.uniform(*_SLIDE_HR_RISE_BPM)),
        "ppg_drop": float(rng.uniform(*_SLIDE_PPG_DROP)),
    }


def precursor_slides(
    episodes: list[Episode], strengths: tuple[float, ...], rng: np.random.Generator
) -> list[Slide]:
    """One slide per episode with a strength > 0 (missing strengths count as 0)."""
    slides, prev_end = [], -np.inf
    for i, ep in enumerate(episodes):
        strength = float(np.clip(strengths[i], 0.0, 1.0)) if i < len(strengths) else 0.0
        lead = float(rng.uniform(*_LEAD_S))
        start = max(ep.start_s - lead, prev_end + 10.0)
        prev_end = ep.end_s
        if strength <= 0.0 or start >= ep.start_s - 1.0:
            continue
        slides.append(
            Slide(
                start_s=start,
                nadir_s=ep.start_s,
                hold_end_s=ep.start_s + ep.ramp_on_s + ep.plateau_s,
                release_s=ep.ramp_off_s,
                strength=strength,
                false_alarm=False,
                **_slide_effects(rng),
            )
        )
    return slides


def false_alarm_slides(
    n: int,
    duration_s: float,
    busy: list[tuple[float, float]],
    rng: np.random.Generator,
) -> list[Slide]:
    """Up to ``n`` precursor-like dips that end without hypotension, clear of ``busy`` spans.

    The nadir lies inside the case; the fall may have begun before the recording. A dip that
    finds no free slot in 20 tries is dropped.
    """
    slides: list[Slide] = []
    taken = list(busy)
    for _ in range(n):
        fall = float(rng.uniform(*_FALSE_ALARM_FALL_S))
        hold = float(rng.uniform(*_FALSE_ALARM_HOLD_S))
        release = float(rng.uniform(*_FALSE_ALARM_RECOVER_S))
        strength = float(rng.uniform(0.5, 1.0))
        effects = _slide_effects(rng)
        lo, hi = -0.5 * fall, duration_s - fall - 10.0
        if hi <= lo:
            continue
        for _attempt in range(20):
            start = float(rng.uniform(lo, hi))
            end = start + fall + hold + release
            c = _SLIDE_CLEARANCE_S
            if all(end + c <= a or start >= b + c for a, b in taken):
                taken.append((start, end))
                slides.append(
                    Slide(
                        start_s=start,
                        nadir_s=start + fall,
                        hold_end_s=start + fall + hold,
                        release_s=release,
                        strength=strength,
                        false_alarm=True,
                        **effects,
                    )
                )
                break
    return sorted(slides, key=lambda s: s.start_s)


@dataclass
class SlideEffects:
    """What the slides do on the control grid (all neutral when there are none)."""

    map_drop: np.ndarray  # mmHg subtracted from the baseline MAP
    hr_rise: np.ndarray  # bpm added, fading out where an episode takes over
    ppg_factor: np.ndarray  # PPG pulse-amplitude factor in (0, 1]
    pp_factor: np.ndarray  # pulse-pressure factor in (0, 1]
    preload_loss: np.ndarray  # in [0, 1]: how far the slides have gone (strength x envelope)


def slide_effects(
    t: np.ndarray,
    base_map: np.ndarray,
    slides: list[Slide],
    episode_env: np.ndarray,
) -> SlideEffects:
    """Combine the slides on grid ``t``; where ``episode_env`` (summed episode envelopes) rises,
    the episode takes over from its precursor."""
    drop, hr, ppg, pp, load = (np.zeros_like(t) for _ in range(5))
    for s in slides:
        w = s.strength * s.envelope(t)
        load += s.strength * s.envelope(t, exponent=0.5)  # volume is lost from the start
        drop += w * np.maximum(base_map - s.map_target, 0.0)
        fade = w * (1.0 - episode_env)
        hr += fade * s.hr_rise
        ppg += fade * s.ppg_drop
        pp += fade * _SLIDE_PP_DROP
    drop = np.minimum(drop, np.maximum(base_map - SLIDE_MAP_FLOOR, 0.0))
    return SlideEffects(
        drop,
        hr,
        1.0 - np.clip(ppg, 0.0, 0.9),
        1.0 - np.clip(pp, 0.0, 0.5),
        np.clip(load, 0.0, 1.0),
    )
