"""Metrics that judge a binary classifier's calibration: ECE, NLL, Brier score and the
reliability curve (scikit-learn where it has them), with the input checks they share with
the calibrator fits."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.calibration import calibration_curve
from sklearn.metrics import brier_score_loss, log_loss

from ttmbio.bootstrap import weighted_ece
from ttmbio.errors import ConfigError

#: probabilities are clipped to [EPS, 1 - EPS] before a logit or a log, so 0 and 1 stay finite
EPS = 1e-6


def as_probs(probs: Any, name: str = "probs") -> np.ndarray:
    """Float64 copy of ``probs``; NaN, inf or values outside [0, 1] are a caller bug, not data."""
    arr = np.asarray(probs, dtype=np.float64)
    if arr.size == 0:
        raise ValueError(f"{name} is empty; calibration needs at least one prediction")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or inf; drop or fix those predictions first")
    if arr.min() < 0.0 or arr.max() > 1.0:
        raise ValueError(
            f"{name} must be probabilities of class 1 in [0, 1] (got range "
            f"[{arr.min():.4g}, {arr.max():.4g}]); apply a sigmoid to logits first"
        )
    return arr


def check_pair(probs: Any, labels: Any) -> tuple[np.ndarray, np.ndarray]:
    """Validated 1-D (probs, labels); labels are 0/1 integers of the same length."""
    p = as_probs(probs)
    y = np.asarray(labels)
    if p.ndim != 1 or y.ndim != 1:
        raise ValueError(
            f"probs and labels must be 1-D (got shapes {p.shape} and {y.shape}); "
            "pass the probability of class 1 per sample"
        )
    if p.shape != y.shape:
        raise ValueError(f"length mismatch: {p.size} probs but {y.size} labels")
    if y.dtype.kind == "f" and not np.all(np.isfinite(y)):
        raise ValueError("labels contain NaN or inf; labels must be 0 or 1")
    if not np.all((y == 0) | (y == 1)):
        bad = np.unique(y[(y != 0) & (y != 1)])[:5].tolist()
        raise ValueError(f"labels must be 0 or 1 (binary task); found {bad}")
    return p, y.astype(np.int64)


def expected_calibration_error(probs: np.ndarray, labels: np.ndarray, n_bins: int = 15) -> float:
    """Top-label ECE: equal-width bins over the confidence of the predicted class.

    The confidence is ``max(p, 1 - p)`` and a prediction is correct when class 1 iff p > 0.5
    (argmax of [1 - p, p]) matches the label: the standard top-label ECE, equal to
    torchmetrics' ``multiclass_calibration_error`` on the two-column probabilities (the
    tests check it), computed in numpy so the stages that only score need no torch.
    """
    if isinstance(n_bins, bool) or not isinstance(n_bins, int) or n_bins < 1:
        raise ConfigError(f"n_bins must be a positive integer, got {n_bins!r}")
    p, y = check_pair(probs, labels)
    return float(weighted_ece(p, y, np.ones((1, len(p))), 0.5, n_bins)[0])


def nll(probs: np.ndarray, labels: np.ndarray) -> float:
    """Mean binary cross-entropy (scikit-learn's ``log_loss``) of probs clipped to
    [EPS, 1 - EPS], so one sure miss stays finite."""
    p, y = check_pair(probs, labels)
    return float(log_loss(y, np.clip(p, EPS, 1.0 - EPS), labels=[0, 1]))


def brier(probs: np.ndarray, labels: np.ndarray) -> float:
    """Mean squared error between p(class 1) and the 0/1 label (``brier_score_loss``)."""
    p, y = check_pair(probs, labels)
    return float(brier_score_loss(y, p, pos_label=1))


def calibration_report(probs: np.ndarray, labels: np.ndarray, n_bins: int) -> dict[str, float]:
    """The three numbers a metrics file records before and after calibration."""
    return {
        "ece": expected_calibration_error(probs, labels, n_bins=n_bins),
        "nll": nll(probs, labels),
        "brier": brier(probs, labels),
    }


def reliability_curve(probs: np.ndarray, labels: np.ndarray, n_bins: int) -> dict[str, list[float]]:
    """Per non-empty equal-width bin of p(class 1): mean prediction, frequency of class 1, count.

    The means are scikit-learn's ``calibration_curve(strategy="uniform")``; its bins are
    (k/n, (k+1)/n], the first one closed so p = 0 is counted, and the counts here use the
    same rule. Empty bins are dropped so a plot draws only points backed by data.
    """
    if isinstance(n_bins, bool) or not isinstance(n_bins, int) or n_bins < 1:
        raise ConfigError(f"n_bins must be a positive integer, got {n_bins!r}")
    p, y = check_pair(probs, labels)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    count = np.bincount(np.searchsorted(edges[1:-1], p), minlength=n_bins)
    keep = count > 0
    frequency, predicted = calibration_curve(y, p, n_bins=n_bins, strategy="uniform")
    return {
        "bin_lower": edges[:-1][keep].tolist(),
        "bin_upper": edges[1:][keep].tolist(),
        "mean_predicted": predicted.tolist(),
        "observed_frequency": frequency.tolist(),
        "count": count[keep].astype(float).tolist(),
    }


def reliability_curves(
    raw: np.ndarray, calibrated: np.ndarray, labels: np.ndarray, n_bins: int
) -> dict[str, dict[str, list[float]]]:
    """The reliability curves before and after calibration, as files and plots show them."""
    return {
        "before": reliability_curve(raw, labels, n_bins),
        "after": reliability_curve(calibrated, labels, n_bins),
    }
