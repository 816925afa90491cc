"""The ``forecast data`` stage as a library call: a simulated T1D cohort split by patient."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
from pydantic import BaseModel, ConfigDict

from ttmbio.atomic import atomic_dir, atomic_write_json
from ttmbio.params import ForecastParams


class DataReport(BaseModel):
    """``forecast data``: the simulated cohort's summary (the metrics file) and its split."""

    model_config = ConfigDict(frozen=True)

    out: Path
    sample_min: int
    metrics: dict[str, Any]
    splits: dict[str, list[str]]

    def line(self) -> str:
        m = self.metrics
        return (
            f"forecast data: {m['patients']} patients, {m['rows']} rows at {self.sample_min} "
            f"min, {m['pct_missing_bg']:.1f} % sensor gaps; split "
            + ", ".join(f"{k} {len(v)}" for k, v in self.splits.items())
            + f" -> {self.out}"
        )


def write_forecast_data(cfg: ForecastParams, out: Path, metrics: Path) -> DataReport:
    """Simulate virtual T1D patients (simglucose) into ``out`` whole, split them by patient."""
    from ttmbio.forecast.quality import check_with_config
    from ttmbio.forecast.splits import split_patients
    from ttmbio.forecast.synth import synthesize_glucose

    m = cfg.model
    with atomic_dir(out) as tmp:
        summary = synthesize_glucose(cfg.data, tmp)
        frame = pd.read_csv(tmp / "glucose.csv", dtype={m.id_column: str})
        _, report = check_with_config(frame, m)
        patients = sorted(set(frame[m.id_column]) - set(report.dropped_patients))
        splits = split_patients(patients, cfg.splits.ratios, cfg.splits.seed)
        atomic_write_json(tmp / "splits.json", {"patients": splits})
    doc = {
        **summary,
        "quality": report.to_dict(),
        "split_patients": {k: len(v) for k, v in splits.items()},
    }
    atomic_write_json(metrics, doc)
    return DataReport(out=out, sample_min=cfg.data.sample_min, metrics=doc, splits=splits)
