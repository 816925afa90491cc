"""``forecast predict`` on a user's CSV: forecasts from a saved or a zero-shot TTM."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict

from ttmbio.atomic import atomic_write_text
from ttmbio.errors import ConfigError
from ttmbio.forecast.frames import read_forecast_csv
from ttmbio.params.forecast import ForecastModelConfig


class PredictReport(BaseModel):
    """``forecast predict``: forecast origins and steps written to the CSV."""

    model_config = ConfigDict(frozen=True)

    output: Path
    origins: int
    steps: int

    def line(self) -> str:
        return f"forecast predict: {self.origins} origins x {self.steps} steps -> {self.output}"


def predict_csv(
    cfg: ForecastModelConfig | None,
    data: Path,
    output: Path,
    model: Path | None,
    pretrained: str | None,
    stride: int,
) -> PredictReport:
    """Forecasts from every ``stride``-th origin of a user's CSV, with a saved forecaster
    (``model``) or zero-shot with a pretrained TTM (``pretrained``, configured by ``cfg``):
    exactly one of them."""
    from ttmbio.forecast.forecasts import forecasts_table
    from ttmbio.forecast.model import Forecaster

    if (model is None) == (pretrained is None):
        raise ConfigError("pass exactly one of --model (a saved forecaster) or --pretrained")
    if model is not None:
        forecaster = Forecaster.load(model)
        fc = forecaster.predict(read_forecast_csv(data, forecaster.config.id_column), stride)
    else:
        if cfg is None:
            raise ConfigError("--pretrained needs the forecast.model params (pass --params)")
        forecaster = Forecaster(cfg.model_copy(update={"model_path": pretrained}))
        fc = forecaster.predict_zero_shot(read_forecast_csv(data, cfg.id_column), stride)
    table = forecasts_table(fc, forecaster.config)
    atomic_write_text(output, table.to_csv(index=False, float_format="%.4f"))
    return PredictReport(output=output, origins=len(fc.origin), steps=fc.predicted.shape[1])
