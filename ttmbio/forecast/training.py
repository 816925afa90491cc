"""The ``forecast train`` and ``forecast finetune`` stages as library calls, and ``forecast
fit`` on a user's CSV: a forecaster trained, then saved whole."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from ttmbio.atomic import atomic_dir, atomic_write_json
from ttmbio.forecast.frames import adaptation_split, read_forecast_csv, split_frames
from ttmbio.params import ForecastParams
from ttmbio.params.forecast import ForecastModelConfig


class TrainReport(BaseModel):
    """``forecast train``: windows seen and the best val loss (the metrics file)."""

    model_config = ConfigDict(frozen=True)

    out: Path
    train_windows: int
    val_windows: int
    epochs_run: int
    best_val_loss: float | None

    def line(self) -> str:
        return (
            f"forecast train: {self.train_windows} windows, {self.epochs_run} epochs, "
            f"best val loss {self.best_val_loss} -> {self.out}"
        )


class FitReport(BaseModel):
    """``forecast fit`` / ``forecast finetune``: windows trained on, patients dropped."""

    model_config = ConfigDict(frozen=True)

    out: Path
    train_windows: int
    dropped_patients: dict[str, str]


def train_forecaster(cfg: ForecastParams, data: Path, out: Path, metrics: Path) -> TrainReport:
    """Train on the train patients, keep the best epoch on the val patients."""
    from ttmbio.forecast.model import Forecaster

    frames = split_frames(cfg, data)
    forecaster = Forecaster(cfg.model)
    result = forecaster.fit(frames["train"], frames["val"])
    with atomic_dir(out) as tmp:
        forecaster.save(tmp)
    evals = [r["eval_loss"] for r in result["history"] if "eval_loss" in r]
    report = TrainReport(
        out=out,
        train_windows=result["train_windows"],
        val_windows=result["val_windows"],
        epochs_run=len(evals),
        best_val_loss=min(evals) if evals else None,
    )
    atomic_write_json(metrics, report.model_dump(exclude={"out"}))
    return report


def adapt_forecaster(cfg: ForecastParams, data: Path, base: Path, out: Path) -> FitReport:
    """Adapt the base forecaster to the test patients' early data (before their cutoff)."""
    from ttmbio.forecast.model import Forecaster
    from ttmbio.forecast.splits import before

    m = cfg.model
    test, cutoff = adaptation_split(cfg, split_frames(cfg, data))
    forecaster = Forecaster.load(base)
    result = forecaster.fit(
        before(test, m.id_column, m.timestamp_column, cutoff),
        epochs=cfg.finetune_epochs,
        learning_rate=cfg.finetune_learning_rate,
    )
    with atomic_dir(out) as tmp:
        forecaster.save(tmp)
    return _fit_report(out, result)


def fit_csv(cfg: ForecastModelConfig, data: Path, out: Path, val: Path | None) -> FitReport:
    """Train a forecaster on a user's CSV (and optional val CSV) into the folder ``out``."""
    from ttmbio.forecast.model import Forecaster

    forecaster = Forecaster(cfg)
    result = forecaster.fit(
        read_forecast_csv(data, cfg.id_column),
        None if val is None else read_forecast_csv(val, cfg.id_column),
    )
    with atomic_dir(out) as tmp:
        forecaster.save(tmp)
    return _fit_report(out, result)


def _fit_report(out: Path, result: dict[str, Any]) -> FitReport:
    dropped = result["quality"]["dropped_patients"]
    return FitReport(out=out, train_windows=result["train_windows"], dropped_patients=dropped)
