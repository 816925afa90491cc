"""Test-split metrics for a calibrated classifier, per window and per recording.

Per window: accuracy, balanced accuracy, AUROC with a percentile-bootstrap confidence interval,
AUPRC, F1, per-class accuracy (recall), the confusion matrix and ECE before and after
calibration. Per recording (case or BUT-PPG record), overlapping windows are combined by soft
voting (mean probability) or hard voting (share of windows called positive) and scored again.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from sklearn.metrics import balanced_accuracy_score, confusion_matrix, f1_score
from torchmetrics.functional.classification import binary_auroc, binary_average_precision

from ttmbio.calibration import calibration_report


def auroc(scores: np.ndarray, labels: np.ndarray) -> float:
    return float(binary_auroc(torch.as_tensor(scores), torch.as_tensor(labels).long()))


def bootstrap_auroc_ci(
    scores: np.ndarray, labels: np.ndarray, n: int, confidence: float, seed: int
) -> tuple[float, float]:
    """Percentile bootstrap over windows; resamples holding a single class are redrawn."""
    rng = np.random.default_rng(seed)
    values: list[float] = []
    while len(values) < n:
        idx = rng.integers(0, len(labels), len(labels))
        if labels[idx].min() != labels[idx].max():
            values.append(auroc(scores[idx], labels[idx]))
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(values, [tail, 100 - tail])
    return float(low), float(high)


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
        "auprc": float(
            binary_average_precision(torch.as_tensor(scores), torch.as_tensor(labels).long())
        ),
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


def evaluate_binary(
    raw: np.ndarray,
    calibrated: np.ndarray,
    labels: np.ndarray,
    case_ids: np.ndarray,
    cfg: Any,
    n_bins: int,
) -> dict[str, Any]:
    """Every test metric of the evaluate stage, as one JSON-ready dict."""
    windows = classification_metrics(calibrated, labels, cfg.threshold)
    low, high = bootstrap_auroc_ci(calibrated, labels, cfg.bootstrap, cfg.confidence, cfg.seed)
    windows["auroc_ci_low"], windows["auroc_ci_high"] = low, high
    windows["calibration_before"] = calibration_report(raw, labels, n_bins)
    windows["calibration_after"] = calibration_report(calibrated, labels, n_bins)
    _, case_scores, case_labels = vote(case_ids, calibrated, labels, cfg.voting, cfg.threshold)
    recordings = (
        classification_metrics(case_scores, case_labels, cfg.threshold)
        if len(np.unique(case_labels)) == 2
        else {"n": len(case_labels)}
    )
    return {"windows": windows, "recordings": {"voting": cfg.voting, **recordings}}


def evaluate_scored(
    test: dict[str, np.ndarray], calibrator: Any, cfg: Any, n_bins: int
) -> tuple[dict[str, Any], np.ndarray, np.ndarray, np.ndarray]:
    """Report of a scored test store (``score_store``'s dict) through ``calibrator``; also
    returns the labelled windows' raw and calibrated scores and labels, for plots."""
    known = test["label"] >= 0
    raw, labels = test["score"][known], test["label"][known].astype(int)
    calibrated = calibrator.apply(raw)
    report = evaluate_binary(raw, calibrated, labels, test["case_id"][known], cfg, n_bins)
    return report, raw, calibrated, labels
