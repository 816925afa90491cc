"""Data-quality checks and imputation for forecasting input (spec 002).

TTM reads fixed-length windows on a regular time grid with no missing values, so before any
training or forecasting the data are checked (columns present, timestamps parseable, target
not constant), regularised (one row per ``resolution_min`` step per patient, gaps as NaN rows),
screened (patients missing too much target dropped, constant inputs dropped) and imputed.
What was found and changed is returned as a :class:`QualityReport`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from ttmbio.errors import ConfigError, SourceError
from ttmbio.params import ForecastModelConfig

Imputation = Literal["mean", "median", "forward_fill"]
IMPUTATIONS = ("mean", "median", "forward_fill")


class DataQualityError(SourceError):
    """Forecasting input that cannot be used; the message names the column or patient and fix."""


@dataclass
class QualityReport:
    """What the checks found and did; ``rows``/``patients`` describe the cleaned frame.

    ``nan_fraction`` is measured on the regular grid (gap rows count as missing) before any
    patient is dropped; ``duplicates`` counts rows dropped because a patient already had a row
    in the same grid step (exact repeats and readings that floor to the same step).
    """

    rows: int
    patients: int
    nan_fraction: dict[str, float]
    infinite: dict[str, int]
    zero_variance: list[str]
    irregular: dict[str, int]
    dropped_patients: dict[str, str]
    imputed: dict[str, int]
    duplicates: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: plain ints, floats, strings, lists and dicts."""
        return asdict(self)


def _columns_hint(frame: pd.DataFrame) -> str:
    cols = [str(c) for c in frame.columns]
    return str(cols if len(cols) <= 12 else [*cols[:12], "..."])


def to_frame(data: pd.DataFrame | dict[str, pd.DataFrame], id_column: str) -> pd.DataFrame:
    """One long frame with a string ``id_column`` from a frame or a dict patient -> frame.

    In a dict the key is the patient id; an id column inside a patient's frame is optional
    and must agree with the key when present.
    """
    if isinstance(data, pd.DataFrame):
        if id_column not in data.columns:
            raise DataQualityError(
                f"frame has no id column {id_column!r} (columns: {_columns_hint(data)}); "
                "set forecast.model.id_column or pass a dict patient -> frame"
            )
        frame = data.copy()
    elif isinstance(data, dict):
        if not data:
            raise DataQualityError("no patients given (empty dict); pass patient -> frame")
        parts = []
        for key, part in data.items():
            if not isinstance(part, pd.DataFrame):
                raise DataQualityError(
                    f"patient {key!r}: expected a pandas DataFrame, got {type(part).__name__}"
                )
            part = part.copy()
            if id_column in part.columns:
                ids = part[id_column].dropna().astype(str).unique()
                if len(ids) and (len(ids) > 1 or ids[0] != str(key)):
                    raise DataQualityError(
                        f"patient {key!r}: its {id_column!r} column holds {list(ids[:3])}; "
                        "make it match the dict key or drop the column"
                    )
            part[id_column] = str(key)
            parts.append(part)
        frame = pd.concat(parts, ignore_index=True)
    else:
        raise DataQualityError(
            f"expected a DataFrame or a dict patient -> DataFrame, got {type(data).__name__}"
        )
    if frame[id_column].isna().any():
        raise DataQualityError(
            f"{int(frame[id_column].isna().sum())} rows have no patient id in {id_column!r}; "
            "fill or drop them"
        )
    frame[id_column] = frame[id_column].astype(str)
    return frame


def _check_args(
    target: str, inputs: list[str], resolution_min: int, imputation: str, max_nan_fraction: float
) -> None:
    if imputation not in IMPUTATIONS:
        raise ConfigError(f"imputation {imputation!r} is not one of {list(IMPUTATIONS)}")
    if not (isinstance(resolution_min, int | np.integer) and resolution_min > 0):
        raise ConfigError(f"resolution_min must be a positive whole number, got {resolution_min}")
    if not 0 <= max_nan_fraction <= 1:
        raise ConfigError(f"max_nan_fraction must be within [0, 1], got {max_nan_fraction}")
    if target in inputs:
        raise ConfigError(f"target {target!r} is also listed as an input; remove it from inputs")
    if len(set(inputs)) != len(inputs):
        raise ConfigError(f"inputs {inputs} list a column twice")


def _check_columns(
    frame: pd.DataFrame, target: str, inputs: list[str], id_column: str, timestamp_column: str
) -> None:
    hint = _columns_hint(frame)
    if timestamp_column not in frame.columns:
        raise DataQualityError(
            f"frame has no timestamp column {timestamp_column!r} (columns: {hint}); "
            "set forecast.model.timestamp_column"
        )
    if target not in frame.columns:
        raise DataQualityError(
            f"frame has no target column {target!r} (columns: {hint}); set forecast.model.target"
        )
    missing = [c for c in inputs if c not in frame.columns]
    if missing:
        raise DataQualityError(
            f"frame has no input column(s) {missing} (columns: {hint}); "
            "add them to the data or remove them from forecast.model.inputs"
        )


def _parse_times(frame: pd.DataFrame, timestamp_column: str) -> pd.Series:
    raw = frame[timestamp_column]
    try:
        times = pd.to_datetime(raw, errors="coerce")
    except (TypeError, ValueError) as e:  # e.g. mixed time zones
        raise DataQualityError(
            f"timestamp column {timestamp_column!r} cannot be parsed ({e}); "
            "give ISO 8601 strings or datetimes"
        ) from None
    bad = times.isna()
    if bad.any():
        examples = [repr(v) for v in raw[bad].head(3)]
        raise DataQualityError(
            f"timestamp column {timestamp_column!r} has {int(bad.sum())} missing or unparseable "
            f"values (e.g. {', '.join(examples)}); fix or drop those rows"
        )
    return times


def _numeric(frame: pd.DataFrame, column: str) -> pd.Series:
    raw = frame[column]
    values = pd.to_numeric(raw, errors="coerce")
    bad = values.isna() & raw.notna()
    if bad.any():
        raise DataQualityError(
            f"column {column!r} has {int(bad.sum())} non-numeric values "
            f"(e.g. {raw[bad].iloc[0]!r}); make it numeric or blank those cells"
        )
    return values.astype(np.float64)


def _regularise(
    frame: pd.DataFrame, id_column: str, timestamp_column: str, resolution_min: int
) -> tuple[pd.DataFrame, dict[str, int]]:
    """Reindex each patient onto its ``resolution_min`` grid from first to last step; the
    steps with no reading become NaN rows. Returns the frame and inserted rows per patient."""
    freq = pd.Timedelta(minutes=resolution_min)
    parts, inserted = [], {}
    for patient, part in frame.groupby(id_column, sort=True):
        times = part[timestamp_column]
        grid = pd.date_range(times.iloc[0], times.iloc[-1], freq=freq, name=timestamp_column)
        regular = part.set_index(timestamp_column).reindex(grid)
        regular[id_column] = patient
        added = len(grid) - len(part)
        if added:
            inserted[str(patient)] = int(added)
        parts.append(regular.reset_index())
    return pd.concat(parts, ignore_index=True), inserted


def _impute(
    frame: pd.DataFrame, columns: list[str], id_column: str, imputation: Imputation
) -> pd.DataFrame:
    """Fill NaN within each patient. A patient's column that is all NaN (nothing to carry or
    average) takes the column's statistic over all patients: the median for forward_fill."""
    groups = frame.groupby(id_column, sort=False)[columns]
    if imputation == "forward_fill":
        filled = groups.ffill()
        filled = filled.groupby(frame[id_column], sort=False).bfill()
        fallback = frame[columns].median()
    else:
        filled = frame[columns].fillna(groups.transform(imputation))
        fallback = frame[columns].agg(imputation)
    out = frame.copy()
    out[columns] = filled.fillna(fallback)
    return out


def check_and_clean(
    data: pd.DataFrame | dict[str, pd.DataFrame],
    *,
    target: str,
    inputs: list[str],
    id_column: str = "p_num",
    timestamp_column: str = "datetime",
    resolution_min: int = 5,
    imputation: Imputation = "forward_fill",
    max_nan_fraction: float = 0.3,
) -> tuple[pd.DataFrame, QualityReport]:
    """Checked, regular, gap-free frame ``[timestamp, id, target, *kept inputs]`` and a report.

    Steps: parse timestamps; sort by (id, time); ±inf -> NaN; floor times to the grid and keep
    the first row per patient and step; reindex each patient onto the grid (gaps become NaN
    rows); drop patients whose target is missing in more than ``max_nan_fraction`` of steps;
    drop inputs constant (or empty) over the kept patients; impute per patient.
    Raises :class:`DataQualityError` for data that cannot be used, ``ConfigError`` for bad
    arguments.
    """
    inputs = list(inputs)
    _check_args(target, inputs, resolution_min, imputation, max_nan_fraction)
    frame = to_frame(data, id_column)
    _check_columns(frame, target, inputs, id_column, timestamp_column)
    if frame.empty:
        raise DataQualityError(
            f"frame is empty (columns: {_columns_hint(frame)}); give at least one row per patient"
        )
    numbers = [target, *inputs]
    frame = frame[[timestamp_column, id_column, *numbers]].copy()
    frame[timestamp_column] = _parse_times(frame, timestamp_column)
    infinite: dict[str, int] = {}
    for col in numbers:
        values = _numeric(frame, col)
        infinite[col] = int(np.isinf(values).sum())
        frame[col] = values.where(~np.isinf(values))

    # stable sort on the exact time: within a grid step the earliest reading is kept
    frame = frame.sort_values([id_column, timestamp_column], kind="stable")
    frame[timestamp_column] = frame[timestamp_column].dt.floor(f"{resolution_min}min")
    repeated = frame.duplicated([id_column, timestamp_column], keep="first")
    duplicates = {str(p): int(n) for p, n in repeated.groupby(frame[id_column]).sum().items() if n}
    frame = frame[~repeated]

    frame, irregular = _regularise(frame, id_column, timestamp_column, resolution_min)
    nan_fraction = {col: float(frame[col].isna().mean()) for col in numbers}

    target_nan = frame[target].isna().groupby(frame[id_column]).mean()
    dropped = {
        str(p): (
            f"target {target!r} missing in {share:.1%} of {resolution_min}-min steps "
            f"(max_nan_fraction {max_nan_fraction})"
        )
        for p, share in target_nan.items()
        if share > max_nan_fraction
    }
    if len(dropped) == len(target_nan):
        worst = ", ".join(f"{p}: {s:.1%}" for p, s in target_nan.sort_values().head(3).items())
        raise DataQualityError(
            f"every patient was dropped: target {target!r} is missing in more than "
            f"max_nan_fraction={max_nan_fraction} of steps (least missing: {worst}); "
            "raise forecast.model.max_nan_fraction or fill the gaps"
        )
    frame = frame[~frame[id_column].isin(dropped)].reset_index(drop=True)

    if frame[target].nunique(dropna=True) <= 1:
        seen = frame[target].dropna()
        what = f"every value is {seen.iloc[0]}" if len(seen) else "no value is present"
        raise DataQualityError(
            f"target {target!r} has zero variance ({what}) over the usable patients; "
            "check the column or the unit conversion"
        )
    zero_variance = [c for c in inputs if frame[c].nunique(dropna=True) <= 1]
    kept = [target, *(c for c in inputs if c not in zero_variance)]
    frame = frame[[timestamp_column, id_column, *kept]]

    imputed = {col: int(frame[col].isna().sum()) for col in kept}
    frame = _impute(frame, kept, id_column, imputation)
    frame[kept] = frame[kept].astype(np.float64)
    frame[id_column] = frame[id_column].astype(str)

    report = QualityReport(
        rows=len(frame),
        patients=int(frame[id_column].nunique()),
        nan_fraction=nan_fraction,
        infinite=infinite,
        zero_variance=zero_variance,
        irregular=irregular,
        dropped_patients=dropped,
        imputed=imputed,
        duplicates=duplicates,
    )
    return frame.reset_index(drop=True), report


def check_with_config(
    data: pd.DataFrame | dict[str, pd.DataFrame],
    config: ForecastModelConfig,
    inputs: list[str] | None = None,
) -> tuple[pd.DataFrame, QualityReport]:
    """:func:`check_and_clean` with the columns and rules of ``forecast.model`` params
    (``inputs`` overrides ``config.inputs``, e.g. the ones a trained model kept)."""
    return check_and_clean(
        data,
        target=config.target,
        inputs=config.inputs if inputs is None else inputs,
        id_column=config.id_column,
        timestamp_column=config.timestamp_column,
        resolution_min=config.resolution_min,
        imputation=config.imputation,
        max_nan_fraction=config.max_nan_fraction,
    )
