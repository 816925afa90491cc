"""Held-out patients: the fine-tuned forecaster against zero-shot use and persistence.

Every method forecasts from the same origins (every ``eval_stride`` steps after each patient's
adaptation cutoff), and is scored on the same measured values, so the rows of the metrics file
compare like with like. Persistence repeats the last value of the context.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict

from ttmbio.atomic import atomic_write_json
from ttmbio.forecast.forecasts import Forecasts
from ttmbio.forecast.frames import adaptation_split, split_frames
from ttmbio.forecast.metrics import horizon_metrics
from ttmbio.params import ForecastParams


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


class EvaluateReport(BaseModel):
    """``forecast evaluate``: per-horizon metrics of each forecaster and of persistence."""

    model_config = ConfigDict(frozen=True)

    metrics: dict[str, Any]
    horizons_min: list[int]

    def line(self) -> str:
        m = self.metrics
        parts = [
            f"{h} RMSE {m['finetuned'][h]['rmse_mgdl']:.1f} / zero-shot "
            f"{m['zero_shot'][h]['rmse_mgdl']:.1f} / persistence "
            f"{m['persistence'][h]['rmse_mgdl']:.1f} mg/dL"
            for h in (f"{h}min" for h in self.horizons_min)
        ]
        return f"forecast evaluate ({m['windows']} windows): " + "; ".join(parts)


def evaluate_forecasters(
    cfg: ForecastParams, data: Path, base: Path, finetuned: Path, metrics: Path, plots: Path
) -> EvaluateReport:
    """RMSE, MAE, MARD and Clarke zones per horizon on held-out patients after their
    cutoff: the adapted and the zero-shot forecaster against persistence; plus plots."""
    from ttmbio.forecast.evaluate import after_cutoff, compare, persistence
    from ttmbio.forecast.metrics import MGDL_PER_MMOL
    from ttmbio.forecast.model import Forecaster
    from ttmbio.forecast.plots import plot_clarke, plot_examples

    m = cfg.model
    test, cutoff = adaptation_split(cfg, split_frames(cfg, data))
    runs = {
        "finetuned": Forecaster.load(finetuned).predict(test, cfg.eval_stride),
        "zero_shot": Forecaster.load(base).predict(test, cfg.eval_stride),
    }
    runs = {name: after_cutoff(fc, cutoff) for name, fc in runs.items()}
    doc = compare(runs, m.resolution_min, cfg.horizons_min)
    atomic_write_json(metrics, doc)
    ft = runs["finetuned"]
    plot_examples(runs, persistence(ft), m.resolution_min, plots / "examples.png")
    step = cfg.horizons_min[0] // m.resolution_min - 1
    plot_clarke(
        ft.observed[:, step] * MGDL_PER_MMOL,
        ft.predicted[:, step] * MGDL_PER_MMOL,
        f"fine-tuned, {cfg.horizons_min[0]} min ahead (held-out patients)",
        plots / "clarke.png",
    )
    return EvaluateReport(metrics=doc, horizons_min=list(cfg.horizons_min))
