"""What a forecasting run yields: forecasts beside the measured truth, and their long table.

Kept apart from the model (:mod:`ttmbio.forecast.model`) so that metrics and plots read
forecasts without importing torch.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ttmbio.params import ForecastModelConfig


@dataclass
class Forecasts:
    """Forecasts and what happened, per window: ``[n, forecast_length]`` in target units."""

    patient: np.ndarray  # [n] id of the series
    origin: np.ndarray  # [n] timestamp of the last context step
    predicted: np.ndarray  # [n, H]
    observed: np.ndarray  # [n, H], NaN beyond the data or where the sensor had a gap
    last: np.ndarray  # [n] last observed target value of the context (persistence)


def observed_target(
    raw: pd.DataFrame, frame: pd.DataFrame, c: ForecastModelConfig
) -> dict[str, pd.Series]:
    """Per patient, the target as measured (gaps stay NaN), indexed by the regular grid."""
    out: dict[str, pd.Series] = {}
    times = pd.to_datetime(raw[c.timestamp_column]).dt.floor(f"{c.resolution_min}min")
    values = pd.to_numeric(raw[c.target], errors="coerce").astype(np.float64)
    values = values.where(np.isfinite(values))
    for patient, idx in raw.groupby(raw[c.id_column].astype(str)).groups.items():
        series = pd.Series(values.loc[idx].to_numpy(), index=times.loc[idx].to_numpy())
        out[str(patient)] = series[~series.index.duplicated()]
    return out


def pad_future(frame: pd.DataFrame, c: ForecastModelConfig) -> pd.DataFrame:
    """Append ``forecast_length`` rows after each series so its last context can forecast.

    The appended target/inputs repeat the last row: they feed only the windows' ``future``
    part, which prediction never reads (observations come from the data itself).
    """
    step = pd.Timedelta(minutes=c.resolution_min)
    parts = []
    for _, group in frame.groupby(c.id_column, sort=False):
        tail = pd.DataFrame([group.iloc[-1]] * c.forecast_length)
        tail[c.timestamp_column] = group[c.timestamp_column].iloc[-1] + step * np.arange(
            1, c.forecast_length + 1
        )
        parts += [group, tail]
    return pd.concat(parts, ignore_index=True)


def forecasts_table(fc: Forecasts, config: ForecastModelConfig) -> pd.DataFrame:
    """Long format: one row per origin and step, with the measured value when there is one."""
    h = fc.predicted.shape[1]
    return pd.DataFrame(
        {
            config.id_column: np.repeat(fc.patient, h),
            "origin": np.repeat(fc.origin, h),
            "minutes_ahead": np.tile(config.resolution_min * np.arange(1, h + 1), len(fc.origin)),
            f"{config.target}_forecast": fc.predicted.reshape(-1),
            f"{config.target}_measured": fc.observed.reshape(-1),
        }
    )
