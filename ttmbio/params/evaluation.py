"""The calibrate, evaluate and baseline sections."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import (
    Field,
    PositiveInt,
)

from ttmbio.params.common import Section

# --------------------------------------------------------------------------- calibrate


class CalibrateParams(Section):
    """Post-hoc calibration of a fine-tuned classifier, fitted on val predictions only."""

    model: str = "pretrained-1.0-seed42"  # a fine-tuning run: <init>-<fraction>-seed<seed>
    method: Literal["temperature", "platt", "isotonic"] = "temperature"
    n_bins: Annotated[int, Field(ge=2, le=100)] = 15


class EvaluateParams(Section):
    """Test-split evaluation of the calibrated model chosen in ``calibrate.model``."""

    bootstrap: Annotated[int, Field(ge=10)] = 1000
    # the independent unit a bootstrap resamples: auto = recordings for BUT-PPG, subjects for
    # VitalDB (a subject's cases share physiology); window only to show how narrow that is
    bootstrap_unit: Literal["auto", "recording", "subject", "window"] = "auto"
    confidence: Annotated[float, Field(gt=0.5, lt=1)] = 0.95
    voting: Literal["soft", "hard"] = "soft"
    threshold: Annotated[float, Field(gt=0, lt=1)] = 0.5
    seed: int = 42


# --------------------------------------------------------------------------- baseline


class LogisticBaseline(Section):
    """L2 logistic regression on standardised features (median-imputed)."""

    C: Annotated[float, Field(gt=0)] = 1.0
    max_iter: PositiveInt = 2000


class GBMBaseline(Section):
    """scikit-learn's histogram gradient boosting (missing values handled natively)."""

    max_iter: PositiveInt = 200
    learning_rate: Annotated[float, Field(gt=0, le=1)] = 0.05
    max_leaf_nodes: Annotated[int, Field(ge=2)] = 15
    min_samples_leaf: PositiveInt = 20
    l2_regularization: Annotated[float, Field(ge=0)] = 1.0


class BaselineParams(Section):
    """Classical baseline beside every fine-tuned result (``ttmbio baseline``): hand-crafted
    features of the task's channels and a scikit-learn classifier, trained on the same label
    subset, calibrated and scored like the model."""

    # auto: fit both, keep the one with the higher val AUROC (ties: logistic)
    model: Literal["auto", "logistic", "gbm"] = "auto"
    class_weight: Literal["balanced", "none"] = "balanced"  # as finetune.class_balance
    importance_repeats: PositiveInt = 5  # permutation importance on val (gbm)
    logistic: LogisticBaseline = LogisticBaseline()
    gbm: GBMBaseline = GBMBaseline()
