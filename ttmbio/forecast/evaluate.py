"""Held-out patients: the fine-tuned forecaster against zero-shot use and persistence.

Every method forecasts from the same origins (every ``eval_stride`` steps after each patient's
adaptation cutoff), and is scored on the same measured values, so the rows of the metrics file
compare like with like. Persistence repeats the last value of the context.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd

from ttmbio.forecast.forecasts import Forecasts
from ttmbio.forecast.metrics import horizon_metrics


def after_cutoff(fc: Forecasts, cutoff: dict[str, pd.Timestamp]) -> Forecasts:
    """Only forecasts made at or after each patient's cutoff: their targets were never seen
    in adaptation."""
    keep = np.array(
        [pd.Timestamp(t) >= cutoff[p] for p, t in zip(fc.patient, fc.origin, strict=True)],
        dtype=bool,
    )
    return replace(
        fc,
        patient=fc.patient[keep],
        origin=fc.origin[keep],
        predicted=fc.predicted[keep],
        observed=fc.observed[keep],
        last=fc.last[keep],
    )


def persistence(fc: Forecasts) -> np.ndarray:
    """The last context value carried forward over the whole horizon."""
    return np.repeat(fc.last[:, None], fc.predicted.shape[1], axis=1)


def compare(
    forecasts: dict[str, Forecasts], resolution_min: int, horizons_min: list[int]
) -> dict[str, Any]:
    """Metrics per method and horizon, plus each method's RMSE relative to persistence."""
    names = list(forecasts)
    first = forecasts[names[0]]
    for name in names[1:]:
        other = forecasts[name]
        if not (
            np.array_equal(other.patient, first.patient)
            and np.array_equal(other.origin, first.origin)
        ):
            raise ValueError(f"{name} forecasts from other origins than {names[0]}")
    methods = {name: fc.predicted for name, fc in forecasts.items()}
    methods["persistence"] = persistence(first)
    out: dict[str, Any] = {
        name: horizon_metrics(first.observed, predicted, resolution_min, horizons_min)
        for name, predicted in methods.items()
    }
    for name in names:
        out[name]["rmse_vs_persistence"] = {
            h: out[name][h]["rmse_mgdl"] / out["persistence"][h]["rmse_mgdl"]
            for h in out["persistence"]
            if out["persistence"][h]["rmse_mgdl"] > 0
        }
    out["windows"] = len(first.origin)
    out["patients"] = len(set(first.patient.tolist()))
    return out
