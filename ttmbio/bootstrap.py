"""Cluster bootstrap: intervals that resample independent units, not overlapping windows.

Windows overlap and share a recording, a subject and its physiology, so they are not
independent draws; resampling them makes intervals too narrow. Here a resample draws *units*
(recordings or subjects) with replacement and gives each window the number of times its unit
was drawn as a weight. Every metric is computed on a weight matrix ``[resamples, windows]`` at
once (weighted Mann-Whitney AUROC, weighted average precision, ...), checked in the tests
against scikit-learn's ``sample_weight`` forms and torchmetrics. A paired comparison applies
the same weights to two models' scores of the same windows, so the interval of the
difference keeps the pairing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

# metric(scores [n], labels [n], weights [B, n], threshold, n_bins) -> values [B]
Metric = Callable[[np.ndarray, np.ndarray, np.ndarray, float, int], np.ndarray]


def _class_weight_by_score(
    scores: np.ndarray, labels: np.ndarray, weights: np.ndarray, descending: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Positive and negative weight ``[B, G]`` of each run of tied scores, in score order."""
    order = np.argsort(-scores if descending else scores, kind="stable")
    s = scores[order]
    starts = np.flatnonzero(np.r_[True, s[1:] != s[:-1]])
    w = np.atleast_2d(weights)[:, order]
    y = labels[order].astype(bool)
    return np.add.reduceat(w * y, starts, axis=1), np.add.reduceat(w * ~y, starts, axis=1)


def weighted_auroc(
    scores: np.ndarray, labels: np.ndarray, weights: np.ndarray, *_: object
) -> np.ndarray:
    """Weighted Mann-Whitney AUROC per row of ``weights`` (ties count one half)."""
    pos, neg = _class_weight_by_score(scores, labels, weights, descending=False)
    below = np.cumsum(neg, axis=1) - neg
    total = pos.sum(axis=1) * neg.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (pos * (below + 0.5 * neg)).sum(axis=1) / total


def weighted_auprc(
    scores: np.ndarray, labels: np.ndarray, weights: np.ndarray, *_: object
) -> np.ndarray:
    """Weighted average precision, scikit-learn's step-wise definition, per row."""
    pos, neg = _class_weight_by_score(scores, labels, weights, descending=True)
    tp, fp = np.cumsum(pos, axis=1), np.cumsum(neg, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = np.nan_to_num(tp / (tp + fp))
        recall = tp / tp[:, -1:]
    steps = np.diff(recall, axis=1, prepend=0.0)
    return (steps * precision).sum(axis=1)


def weighted_balanced_accuracy(
    scores: np.ndarray, labels: np.ndarray, weights: np.ndarray, threshold: float, *_: object
) -> np.ndarray:
    """Mean of sensitivity and specificity at ``threshold``, per row."""
    w = np.atleast_2d(weights)
    y = labels.astype(bool)
    called = scores >= threshold
    with np.errstate(invalid="ignore", divide="ignore"):
        tpr = (w * (y & called)).sum(axis=1) / (w * y).sum(axis=1)
        tnr = (w * (~y & ~called)).sum(axis=1) / (w * ~y).sum(axis=1)
    return (tpr + tnr) / 2


def weighted_ece(
    scores: np.ndarray, labels: np.ndarray, weights: np.ndarray, _: float, n_bins: int
) -> np.ndarray:
    """Top-label ECE, weighted, per row: equal-width bins ``[k/n, (k+1)/n)`` over the
    confidence of the predicted class (class 1 iff p > 0.5), and confidence 1 in a bin of its
    own, as torchmetrics' ``binary_calibration_error`` bins; unit weights give
    ``calibration.expected_calibration_error``."""
    w = np.atleast_2d(weights)
    predicted = scores > 0.5
    confidence = np.where(predicted, scores, 1.0 - scores)
    correct = (predicted == labels.astype(bool)).astype(float)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    bins = np.searchsorted(edges, confidence, side="right") - 1  # torch.bucketize(right=True)
    onehot = np.zeros((len(scores), n_bins + 1))
    onehot[np.arange(len(scores)), bins] = 1.0
    gap = (w * (correct - confidence)) @ onehot
    return np.abs(gap).sum(axis=1) / w.sum(axis=1)


def weighted_mae(
    scores: np.ndarray, targets: np.ndarray, weights: np.ndarray, *_: object
) -> np.ndarray:
    """Mean absolute error of a regression, per row."""
    w = np.atleast_2d(weights)
    return (w * np.abs(scores - targets)).sum(axis=1) / w.sum(axis=1)


CLASSIFICATION: dict[str, Metric] = {
    "auroc": weighted_auroc,
    "auprc": weighted_auprc,
    "balanced_accuracy": weighted_balanced_accuracy,
    "ece": weighted_ece,
}
REGRESSION: dict[str, Metric] = {"mae": weighted_mae}
LOWER_IS_BETTER = frozenset({"ece", "mae"})


def unit_weights(
    units: np.ndarray,
    n: int,
    rng: np.random.Generator,
    labels: np.ndarray | None = None,
) -> np.ndarray:
    """``[n, windows]`` weights: how often each window's unit was drawn in each resample.

    With ``labels``, a resample that holds a single class (no AUROC) is drawn again, so the
    intervals are conditional on both classes being present, as the point estimate is.
    """
    _, inverse = np.unique(units, return_inverse=True)
    n_units = int(inverse.max()) + 1
    kept: list[np.ndarray] = []
    have = 0
    while have < n:
        draws = rng.integers(0, n_units, (n - have, n_units))
        counts = np.zeros((len(draws), n_units))
        np.add.at(counts, (np.arange(len(draws))[:, None], draws), 1.0)
        w = counts[:, inverse]
        if labels is not None:
            y = labels.astype(bool)
            w = w[((w * y).sum(axis=1) > 0) & ((w * ~y).sum(axis=1) > 0)]
        kept.append(w)
        have += len(w)
    return np.concatenate(kept)[:n]


def percentile_interval(values: np.ndarray, confidence: float) -> tuple[float, float]:
    tail = (1 - confidence) / 2 * 100
    low, high = np.nanpercentile(values, [tail, 100 - tail])
    return float(low), float(high)


@dataclass(frozen=True)
class BootstrapSettings:
    """How to resample: ``n`` resamples drawn with ``seed``, ``confidence`` intervals."""

    n: int = 1000
    confidence: float = 0.95
    seed: int = 42
    threshold: float = 0.5
    n_bins: int = 15


def metric_intervals(
    scores: np.ndarray,
    labels: np.ndarray,
    units: np.ndarray,
    settings: BootstrapSettings,
    metrics: dict[str, Metric] = CLASSIFICATION,
) -> dict[str, tuple[float, float]]:
    """Percentile interval of each metric, resampling ``units``."""
    binary = metrics is CLASSIFICATION
    w = unit_weights(
        units, settings.n, np.random.default_rng(settings.seed), labels if binary else None
    )
    return {
        name: percentile_interval(
            fn(scores, labels, w, settings.threshold, settings.n_bins), settings.confidence
        )
        for name, fn in metrics.items()
    }


@dataclass(frozen=True)
class PairedDelta:
    """One metric of two models on the same windows: base, new, new - base and its interval."""

    metric: str
    base: float
    new: float
    delta: float
    low: float
    high: float

    @property
    def significant(self) -> bool:
        """The interval of the difference excludes 0."""
        return self.low > 0 or self.high < 0

    @property
    def better(self) -> bool:
        return self.delta < 0 if self.metric in LOWER_IS_BETTER else self.delta > 0


def paired_deltas(
    base: np.ndarray,
    new: np.ndarray,
    labels: np.ndarray,
    units: np.ndarray,
    settings: BootstrapSettings,
    metrics: dict[str, Metric] = CLASSIFICATION,
) -> list[PairedDelta]:
    """Each metric of ``new`` minus ``base`` on the same windows, with the interval of the
    difference from one set of unit resamples shared by both models (a paired bootstrap)."""
    binary = metrics is CLASSIFICATION
    w = unit_weights(
        units, settings.n, np.random.default_rng(settings.seed), labels if binary else None
    )
    ones = np.ones((1, len(labels)))
    rows = []
    for name, fn in metrics.items():
        args = (settings.threshold, settings.n_bins)
        b, n = float(fn(base, labels, ones, *args)[0]), float(fn(new, labels, ones, *args)[0])
        low, high = percentile_interval(
            fn(new, labels, w, *args) - fn(base, labels, w, *args), settings.confidence
        )
        rows.append(PairedDelta(name, b, n, n - b, low, high))
    return rows
