"""Insulin and carbs on board, the way open-source closed-loop systems (oref0) count them."""

from __future__ import annotations

import math

import numpy as np

IOB_PEAK_MIN = 75.0  # oref0 "rapid-acting" curve
IOB_DIA_MIN = 360.0  # duration of insulin action: 6 h
CARB_ABSORPTION_MIN = 180.0  # carbs absorbed linearly over 3 h


def exponential_iob_fraction(
    minutes: np.ndarray, peak_min: float = IOB_PEAK_MIN, dia_min: float = IOB_DIA_MIN
) -> np.ndarray:
    """Fraction of a bolus still on board ``minutes`` after it, OpenAPS exponential curve.

    The insulin activity curve of Dragan Maksimovic (LoopKit/Loop#388), as implemented in
    oref0 ``lib/iob/calculate.js`` (``iobCalcExponential``), with ``td`` the duration of
    insulin action and ``tp`` the peak time::

        tau = tp (1 - tp/td) / (1 - 2 tp/td)      a = 2 tau / td
        S   = 1 / (1 - a + (1 + a) exp(-td/tau))
        IOB(t) = 1 - S (1 - a) ((t^2 / (tau td (1 - a)) - t/tau - 1) exp(-t/tau) + 1)

    for 0 <= t < td, 0 afterwards; IOB(0) = 1 and IOB(td) = 0.
    """
    if not 0 < peak_min < dia_min / 2:
        raise ValueError(f"need 0 < peak ({peak_min}) < duration/2 ({dia_min / 2}) min")
    t = np.asarray(minutes, dtype=float)
    tau = peak_min * (1 - peak_min / dia_min) / (1 - 2 * peak_min / dia_min)
    a = 2 * tau / dia_min
    s = 1 / (1 - a + (1 + a) * math.exp(-dia_min / tau))
    inner = (t**2 / (tau * dia_min * (1 - a)) - t / tau - 1) * np.exp(-t / tau) + 1
    fraction = 1 - s * (1 - a) * inner
    return np.where(t < dia_min, np.clip(fraction, 0.0, 1.0), 0.0)


def _on_board(amounts: np.ndarray, remaining: np.ndarray, steady: float) -> np.ndarray:
    """Sum of earlier amounts weighted by what remains of each: a causal convolution.

    ``steady`` is a per-step amount assumed to have been given for ever before the series.
    """
    x = np.asarray(amounts, dtype=float)
    lead = len(remaining) - 1
    padded = np.concatenate([np.full(lead, float(steady)), x])
    return np.clip(np.convolve(padded, remaining)[lead : lead + len(x)], 0.0, None)


def insulin_on_board(
    dose_units: np.ndarray,
    sample_min: int = 5,
    *,
    steady_dose: float = 0.0,
    peak_min: float = IOB_PEAK_MIN,
    dia_min: float = IOB_DIA_MIN,
) -> np.ndarray:
    """IOB (U) at each step, the step's own dose included (see exponential_iob_fraction)."""
    remaining = exponential_iob_fraction(np.arange(0.0, dia_min, sample_min), peak_min, dia_min)
    return _on_board(dose_units, remaining, steady_dose)


def carbs_on_board(
    carbs_g: np.ndarray, sample_min: int = 5, absorption_min: float = CARB_ABSORPTION_MIN
) -> np.ndarray:
    """COB (g) at each step, the step's own meal included, with linear absorption.

    A meal of C grams leaves C (1 - t/absorption_min) on board t minutes later, 0 from
    ``absorption_min`` on: the simple linear model of oref0's default carb absorption.
    """
    t = np.arange(0.0, absorption_min, sample_min)
    return _on_board(carbs_g, 1.0 - t / absorption_min, 0.0)
