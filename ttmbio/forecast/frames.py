"""The glucose CSV as frames: read with one-line errors, split by the data stage's patient
split, and the test patients' adaptation cutoffs."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from ttmbio.errors import SourceError, first_line
from ttmbio.params import ForecastParams


def read_forecast_csv(csv: Path, id_column: str) -> pd.DataFrame:
    """A user's or the data stage's CSV, patient ids as text; a one-line error otherwise."""
    if not csv.is_file():
        raise SourceError(f"{csv}: not found; pass a CSV with datetime, id, target and inputs")
    try:
        return pd.read_csv(csv, dtype={id_column: str})
    except (ValueError, UnicodeDecodeError, pd.errors.ParserError) as err:
        raise SourceError(f"{csv}: not a readable CSV ({first_line(err)})") from None


def split_frames(cfg: ForecastParams, data: Path) -> dict[str, pd.DataFrame]:
    """The data stage's rows, one frame per split of its patients."""
    frame = read_forecast_csv(data / "glucose.csv", cfg.model.id_column)
    splits = json.loads((data / "splits.json").read_text())["patients"]
    ids = frame[cfg.model.id_column]
    return {name: frame[ids.isin(members)] for name, members in splits.items()}


def adaptation_split(
    cfg: ForecastParams, frames: dict[str, pd.DataFrame]
) -> tuple[pd.DataFrame, dict[str, pd.Timestamp]]:
    """The test patients' rows and each one's adaptation cutoff (early data adapts)."""
    from ttmbio.forecast.splits import adaptation_cutoff

    m, test = cfg.model, frames["test"]
    return test, adaptation_cutoff(test, m.id_column, m.timestamp_column, cfg.splits.adapt_fraction)
