"""The forecast section: glucose data, the TTM forecaster and its splits (spec 002)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import (
    Field,
    PositiveInt,
    model_validator,
)

from ttmbio.params.common import Fraction, Section
from ttmbio.params.data import check_split_ratios

# --------------------------------------------------------------------------- forecast


class GlucoseSynthParams(Section):
    """Virtual type-1 diabetes patients simulated with simglucose (UVA/Padova 2008 model)."""

    seed: int = 42
    n_patients: Annotated[int, Field(ge=3, le=30)] = 30  # simglucose has 30 virtual patients
    days: Annotated[float, Field(gt=0, le=60)] = 5.0
    sample_min: PositiveInt = 5  # CGM resolution
    gaps_per_day: Annotated[float, Field(ge=0)] = 0.5  # sensor dropouts (NaN runs)
    gap_minutes: tuple[float, float] = (15.0, 90.0)
    workers: PositiveInt = 2

    @model_validator(mode="after")
    def _gap(self) -> GlucoseSynthParams:
        low, high = self.gap_minutes
        if not 0 < low <= high:
            raise ValueError(
                f"gap_minutes must be [low, high] with 0 < low <= high, got {low, high}"
            )
        return self


class ForecastModelConfig(Section):
    """The forecaster (spec 002's TTMConfig): TTM shapes, features, preprocessing, training."""

    context_length: Annotated[int, Field(ge=16)] = 512
    forecast_length: PositiveInt = 96
    patch_length: PositiveInt = 16
    d_model: PositiveInt = 64
    num_layers: PositiveInt = 3
    dropout: Fraction = 0.1
    target: str = "bg_mM"
    inputs: list[str] = Field(default_factory=lambda: ["cob", "iob", "dose_units"])
    id_column: str = "p_num"
    timestamp_column: str = "datetime"
    resolution_min: PositiveInt = 5
    scaler: Literal["standard", "minmax", "robust"] = "standard"
    imputation: Literal["mean", "median", "forward_fill"] = "forward_fill"
    max_nan_fraction: Fraction = 0.3  # a patient's column with more missing is unusable
    learning_rate: Annotated[float, Field(gt=0)] = 1e-3
    epochs: Annotated[int, Field(ge=0)] = 10
    batch_size: PositiveInt = 64
    train_stride: PositiveInt = 6  # steps between training (and val) windows
    freeze_backbone: bool = False
    model_path: str | None = None  # a saved TTM folder (or a hub id, online) to start from
    logging_dir: Path | None = None  # TensorBoard logs of the HF Trainer; null = none
    seed: int = 42

    @model_validator(mode="after")
    def _shapes(self) -> ForecastModelConfig:
        if self.context_length % self.patch_length:
            raise ValueError(
                f"context_length ({self.context_length}) must be a multiple of patch_length "
                f"({self.patch_length})"
            )
        if self.target in self.inputs:
            raise ValueError(f"target {self.target!r} must not also be listed in inputs")
        return self


class ForecastSplitParams(Section):
    """Patient-level splits; held-out patients are split in time for personalisation."""

    seed: int = 42
    ratios: dict[str, Fraction] = Field(
        default_factory=lambda: {"train": 0.6, "val": 0.2, "test": 0.2}
    )
    adapt_fraction: Annotated[float, Field(gt=0, lt=1)] = 0.5  # of each test patient's series

    @model_validator(mode="after")
    def _sum(self) -> ForecastSplitParams:
        check_split_ratios(self.ratios)
        return self


class ForecastParams(Section):
    """Glucose forecasting (spec 002): data, model, splits, fine-tuning and evaluation."""

    data: GlucoseSynthParams = GlucoseSynthParams()
    model: ForecastModelConfig = ForecastModelConfig()
    splits: ForecastSplitParams = ForecastSplitParams()
    finetune_epochs: Annotated[int, Field(ge=1)] = 5
    finetune_learning_rate: Annotated[float, Field(gt=0)] = 3e-4
    horizons_min: list[PositiveInt] = Field(default_factory=lambda: [30, 60])
    eval_stride: PositiveInt = 6  # steps between evaluated forecast origins

    @model_validator(mode="after")
    def _horizons(self) -> ForecastParams:
        full = self.model.forecast_length * self.model.resolution_min
        too_long = [h for h in self.horizons_min if h > full or h % self.model.resolution_min]
        if too_long:
            raise ValueError(
                f"horizons_min {too_long} must be multiples of resolution_min "
                f"({self.model.resolution_min}) within the forecast ({full} min)"
            )
        return self
