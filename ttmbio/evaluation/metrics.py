"""Test-split metrics for a calibrated classifier, per window and per recording.

Per window: accuracy, balanced accuracy, AUROC, AUPRC, F1, per-class accuracy (recall), the
confusion matrix and ECE before and after calibration, with percentile intervals of AUROC,
AUPRC, balanced accuracy and ECE from a cluster bootstrap over the independent units
(recordings or subjects, ``evaluate.bootstrap_unit``), never over overlapping windows. Per
recording (case or BUT-PPG record), overlapping windows are combined by soft voting (mean
probability) or hard voting (share of windows called positive) and scored again.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.metrics import (
    average_precision_score,
    balanced_accuracy_score,
    confusion_matrix,
    f1_score,
    roc_auc_score,
)

from ttmbio.bootstrap import BootstrapSettings, metric_intervals
from ttmbio.calibration.metrics import calibration_report
from ttmbio.errors import ConfigError, SourceError
from ttmbio.params import DataParams

# the per-window field each bootstrap unit is read from
UNIT_FIELDS = {"recording": "case_id", "subject": "subject_id", "window": None}


def auroc(scores: np.ndarray, labels: np.ndarray) -> float:
    """AUROC; NaN when only one class is present (undefined, where torchmetrics says 0)."""
    labels = np.asarray(labels)
    if len(np.unique(labels)) < 2:
        return float("nan")
    return float(roc_auc_score(labels, scores))


def votes(scores: np.ndarray, voting: str, threshold: float) -> np.ndarray:
    """What each window contributes to its recording's score: its probability (soft) or
    1/0 for called positive or not (hard); the recording's score is their mean."""
    return scores if voting == "soft" else (scores >= threshold).astype(float)


def vote(
    case_ids: np.ndarray, scores: np.ndarray, labels: np.ndarray, voting: str, threshold: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One score and label per recording: mean probability (soft) or positive share (hard)."""
    cases, inverse = np.unique(case_ids, return_inverse=True)
    per_window = votes(scores, voting, threshold)
    counts = np.bincount(inverse)
    case_scores = np.bincount(inverse, weights=per_window) / counts
    case_labels = (np.bincount(inverse, weights=labels) / counts >= 0.5).astype(int)
    return cases, case_scores, case_labels


def classification_metrics(
    scores: np.ndarray, labels: np.ndarray, threshold: float
) -> dict[str, Any]:
    """Threshold and ranking metrics of one score set (probabilities of class 1)."""
    predicted = (scores >= threshold).astype(int)
    matrix = confusion_matrix(labels, predicted, labels=[0, 1])
    per_class = matrix.diagonal() / np.maximum(matrix.sum(axis=1), 1)
    return {
        "n": len(labels),
        "accuracy": float((predicted == labels).mean()),
        "balanced_accuracy": float(balanced_accuracy_score(labels, predicted)),
        "auroc": auroc(scores, labels),
        "auprc": float(average_precision_score(labels, scores)),
        "f1": float(f1_score(labels, predicted, zero_division=0)),
        "accuracy_class_0": float(per_class[0]),
        "accuracy_class_1": float(per_class[1]),
        # scalars, not a nested list: `dvc metrics show` drops lists
        "confusion": {
            "tn": int(matrix[0, 0]),
            "fp": int(matrix[0, 1]),
            "fn": int(matrix[1, 0]),
            "tp": int(matrix[1, 1]),
        },
    }


def resolve_unit(choice: str, dataset: str) -> str:
    """A bootstrap unit (``evaluate.bootstrap_unit`` or ``--unit``), ``auto`` resolved for
    ``dataset``."""
    if choice != "auto":
        return choice
    try:
        return DataParams.bootstrap_unit(dataset)
    except ValueError as err:
        raise ConfigError(f"{err}; set evaluate.bootstrap_unit to recording or subject") from None


def units_of(scored: dict[str, np.ndarray], unit: str) -> np.ndarray:
    """Each window's unit id: its recording, its subject, or itself."""
    field = UNIT_FIELDS[unit]
    return np.arange(len(scored["case_id"])) if field is None else np.asarray(scored[field])


def bootstrap_settings(cfg: Any, n_bins: int) -> BootstrapSettings:
    return BootstrapSettings(cfg.bootstrap, cfg.confidence, cfg.seed, cfg.threshold, n_bins)


def evaluate_binary(
    raw: np.ndarray,
    calibrated: np.ndarray,
    labels: np.ndarray,
    case_ids: np.ndarray,
    units: np.ndarray,
    unit: str,
    cfg: Any,
    n_bins: int,
) -> dict[str, Any]:
    """Every test metric of the evaluate stage, as one JSON-ready dict; ``units`` are the
    windows' bootstrap units (named ``unit``)."""
    windows = classification_metrics(calibrated, labels, cfg.threshold)
    windows["bootstrap_unit"] = unit
    windows["n_units"] = len(np.unique(units))
    intervals = metric_intervals(calibrated, labels, units, bootstrap_settings(cfg, n_bins))
    for name in ("auroc", "auprc", "balanced_accuracy"):
        windows[f"{name}_ci_low"], windows[f"{name}_ci_high"] = intervals[name]
    windows["calibration_before"] = calibration_report(raw, labels, n_bins)
    windows["calibration_after"] = calibration_report(calibrated, labels, n_bins)
    after = windows["calibration_after"]
    after["ece_ci_low"], after["ece_ci_high"] = intervals["ece"]
    _, case_scores, case_labels = vote(case_ids, calibrated, labels, cfg.voting, cfg.threshold)
    recordings = (
        classification_metrics(case_scores, case_labels, cfg.threshold)
        if len(np.unique(case_labels)) == 2
        else {"n": len(case_labels)}
    )
    return {"windows": windows, "recordings": {"voting": cfg.voting, **recordings}}


def labelled(test: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The windows of a scored store that have a label (unknown labels are -1)."""
    known = test["label"] >= 0
    return {k: np.asarray(v)[known] for k, v in test.items()}


def evaluate_scored(
    test: dict[str, np.ndarray], calibrator: Any, cfg: Any, n_bins: int, dataset: str
) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Report of a scored test store (``score_store``'s dict) of ``dataset`` through
    ``calibrator``; also returns the labelled windows with ``probability`` (calibrated)
    beside their raw ``score``, for plots and the scores file."""
    known = labelled(test)
    raw, labels = known["score"], known["label"].astype(int)
    if len(np.unique(labels)) < 2:  # no AUROC, and no bootstrap resample with both classes
        raise SourceError(
            f"the {dataset} test split has {len(labels)} labelled windows of "
            f"{'one class only' if len(labels) else 'no class'}; evaluation needs both "
            "classes: give the test split more cases (splits.ratios.test) or see "
            "metrics/windows.json"
        )
    known["probability"] = calibrator.apply(raw)
    unit = resolve_unit(cfg.bootstrap_unit, dataset)
    report = evaluate_binary(
        raw,
        known["probability"],
        labels,
        known["case_id"],
        units_of(known, unit),
        unit,
        cfg,
        n_bins,
    )
    return report, known
