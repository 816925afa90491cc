"""What a synthetic VitalDB case is made of: its drawn physiology and pathology settings.

:func:`random_case_profile` draws a :class:`CaseProfile` (heart rate, pressures, morphology,
hypotension episodes and their warning signs, ectopy, AF, perfusion, artefact rate) in the
shares a :class:`~ttmbio.params.data.CaseMix` (the ``synth.vitaldb`` params) gives;
:mod:`ttmbio.synth.physiology` turns a profile into signals.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ttmbio.params.data import CaseMix
from ttmbio.synth.hypotension import max_episodes
from ttmbio.synth.waves import N_ECG_MORPHOLOGIES, N_PPG_MORPHOLOGIES

STRONG_PRECURSOR = (0.4, 1.0)  # precursor strength of an episode with warning signs
_WEAK_PRECURSOR = (0.0, 0.15)  # ... and of one that comes (almost) without warning


@dataclass(frozen=True)
class CaseProfile:
    """Per-case physiology and artefact settings, drawn by :func:`random_case_profile`.

    Ranges drawn there: HR 45-130 bpm, MAP 75-100 mmHg (outside episodes the MAP trajectory is
    floored at 72, and slides stop at 70, so "not hypotensive" stays > 65), pulse pressure
    35-65 mmHg, respiration 8-20 /min, 0-3 hypotension episodes (as many as fit), 0.1-1
    artefacts/min; BIS and the pathology below in the shares given by :class:`CaseMix`.
    Morphology indices wrap modulo ``N_ECG_MORPHOLOGIES`` / ``N_PPG_MORPHOLOGIES``.

    The pathology fields default to a healthy case, so a caller can build e.g. a case with
    6 PVC/min, one AF episode and ``artifact_rate_per_min=0`` (clean but arrhythmic):

    * ``pvc_per_min`` / ``pac_per_min``: ectopic beats per minute of sinus rhythm (see
      :mod:`ttmbio.synth.rhythm`); each one is a ``pvc`` / ``pac`` event;
    * ``n_af_episodes``: paroxysmal AF episodes of 1-5 min (shrunk to fit); ``af`` events;
    * ``low_perfusion``: PPG pulse amplitude x0.1-0.3 with the same noise floor;
    * ``precursor_strengths``: per hypotension episode, the strength (0-1) of its warning signs
      (:mod:`ttmbio.synth.hypotension`); missing entries are 0 (no warning);
    * ``n_false_alarms``: precursor-like dips that recover without hypotension; ``map_dip``
      events from the start of the fall to the end of the recovery (clipped to the case).
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
    pvc_per_min: float = 0.0
    pac_per_min: float = 0.0
    n_af_episodes: int = 0
    low_perfusion: bool = False
    precursor_strengths: tuple[float, ...] = ()
    n_false_alarms: int = 0


def _log_uniform(rng: np.random.Generator, bounds: tuple[float, float]) -> float:
    lo, hi = bounds
    if lo <= 0.0 or hi <= lo:
        return float(rng.uniform(lo, hi))
    return float(np.exp(rng.uniform(np.log(lo), np.log(hi))))


def random_case_profile(
    rng: np.random.Generator, duration_s: float, mix: CaseMix | None = None
) -> CaseProfile:
    """Draw a varied case; HR spans 45-130 bpm, episodes are limited to what fits."""
    mix = mix or CaseMix()
    lo_ep, hi_ep = mix.hypotension_episodes
    core = {
        "duration_s": float(duration_s),
        "base_hr_bpm": float(rng.uniform(45.0, 130.0)),
        "base_map_mmhg": float(rng.uniform(75.0, 100.0)),
        "pulse_pressure_mmhg": float(rng.uniform(35.0, 65.0)),
        "ecg_morphology": int(rng.integers(N_ECG_MORPHOLOGIES)),
        "ppg_morphology": int(rng.integers(N_PPG_MORPHOLOGIES)),
        "resp_rate_bpm": float(rng.uniform(8.0, 20.0)),
        "n_hypotension_episodes": int(
            min(rng.integers(lo_ep, hi_ep + 1), max_episodes(duration_s))
        ),
        "artifact_rate_per_min": float(rng.uniform(0.1, 1.0)),
        "has_bis": bool(rng.random() < mix.bis_fraction),
    }  # drawn in this order since the first version: keep it
    n_episodes = core["n_hypotension_episodes"]
    strong = rng.random(n_episodes) < mix.precursor_fraction
    strengths = np.where(
        strong,
        rng.uniform(*STRONG_PRECURSOR, size=n_episodes),
        rng.uniform(*_WEAK_PRECURSOR, size=n_episodes),
    )
    has_pvc, has_pac = rng.random() < mix.pvc_fraction, rng.random() < mix.pac_fraction
    pvc, pac = _log_uniform(rng, mix.pvc_per_min), _log_uniform(rng, mix.pac_per_min)
    has_af = rng.random() < mix.af_fraction
    n_af = int(rng.integers(1, 3))
    return CaseProfile(
        **core,
        pvc_per_min=pvc if has_pvc else 0.0,
        pac_per_min=pac if has_pac else 0.0,
        n_af_episodes=n_af if has_af else 0,
        low_perfusion=bool(rng.random() < mix.low_perfusion_fraction),
        precursor_strengths=tuple(round(float(s), 3) for s in strengths),
        n_false_alarms=int(rng.poisson(mix.false_alarms_per_hour * duration_s / 3600.0)),
    )
