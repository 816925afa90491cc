"""Cluster bootstrap: weighted metrics against scikit-learn/torchmetrics, and coverage."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import norm
from sklearn.metrics import (
    average_precision_score,
    balanced_accuracy_score,
    mean_absolute_error,
    roc_auc_score,
)

from ttmbio.bootstrap import (
    BootstrapSettings,
    metric_intervals,
    paired_deltas,
    unit_weights,
    weighted_auprc,
    weighted_auroc,
    weighted_balanced_accuracy,
    weighted_ece,
    weighted_mae,
)
from ttmbio.calibration.metrics import expected_calibration_error


@pytest.fixture
def scored() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 400)
    scores = np.round(np.clip(rng.normal(0.45 + 0.2 * labels, 0.2), 0, 1), 2)  # many ties
    weights = rng.integers(0, 4, (6, 400)).astype(float)
    return scores, labels, weights


def test_weighted_metrics_equal_sklearn_sample_weight(scored) -> None:
    scores, labels, weights = scored
    auroc = weighted_auroc(scores, labels, weights)
    auprc = weighted_auprc(scores, labels, weights)
    bacc = weighted_balanced_accuracy(scores, labels, weights, 0.5)
    mae = weighted_mae(scores, labels.astype(float), weights)
    for i, w in enumerate(weights):
        assert auroc[i] == pytest.approx(roc_auc_score(labels, scores, sample_weight=w), abs=1e-12)
        assert auprc[i] == pytest.approx(
            average_precision_score(labels, scores, sample_weight=w), abs=1e-12
        )
        called = (scores >= 0.5).astype(int)
        assert bacc[i] == pytest.approx(balanced_accuracy_score(labels, called, sample_weight=w))
        assert mae[i] == pytest.approx(mean_absolute_error(labels, scores, sample_weight=w))


def test_weighted_ece_with_unit_weights_is_the_torchmetrics_ece(scored) -> None:
    scores, labels, _ = scored
    ones = np.ones((1, len(labels)))
    for n_bins in (5, 15):
        assert weighted_ece(scores, labels, ones, 0.5, n_bins)[0] == pytest.approx(
            expected_calibration_error(scores, labels, n_bins), abs=1e-6
        )


def test_integer_weights_equal_repeating_windows(scored) -> None:
    scores, labels, weights = scored
    w = weights[0]
    repeat = np.repeat(np.arange(len(labels)), w.astype(int))
    ones = np.ones((1, len(repeat)))
    assert weighted_ece(scores, labels, w[None], 0.5, 15)[0] == pytest.approx(
        weighted_ece(scores[repeat], labels[repeat], ones, 0.5, 15)[0]
    )


def test_unit_weights_draw_whole_units_and_keep_both_classes() -> None:
    units = np.repeat(np.array(["a", "b", "c", "d"]), [3, 1, 2, 2])
    labels = np.array([1, 1, 1, 0, 0, 0, 1, 1])  # a: 1, b: 0, c: 0, d: 1
    w = unit_weights(units, 500, np.random.default_rng(1), labels)
    assert w.shape == (500, 8)
    for unit in "abcd":  # every window of a unit has its unit's count
        cols = w[:, units == unit]
        assert (cols == cols[:, :1]).all()
    assert (w[:, ::1].sum(axis=1) > 0).all()
    assert ((w * labels).sum(axis=1) > 0).all() and ((w * (1 - labels)).sum(axis=1) > 0).all()
    assert np.allclose(w[:, [0, 3, 4, 6]].sum(axis=1), 4)  # 4 units drawn per resample


def _clustered(rng: np.random.Generator, n_clusters: int, per_cluster: int, delta: float):
    """Labels constant within a cluster (a recording's quality), a strong cluster effect."""
    labels_c = rng.integers(0, 2, n_clusters)
    effect = rng.normal(0, 1.0, n_clusters)
    labels = np.repeat(labels_c, per_cluster)
    scores = delta * labels + np.repeat(effect, per_cluster) + rng.normal(0, 0.3, len(labels))
    return scores, labels, np.repeat(np.arange(n_clusters), per_cluster)


def test_cluster_bootstrap_covers_the_true_auroc_and_the_window_bootstrap_does_not() -> None:
    """200 seeded replicates of 40 recordings x 15 overlapping windows each."""
    delta, sd_cluster, sd_window = 1.0, 1.0, 0.3
    # positives and negatives always come from different clusters: AUROC = P(s1 > s0)
    truth = norm.cdf(delta / np.sqrt(2 * (sd_cluster**2 + sd_window**2)))
    rng = np.random.default_rng(2024)
    settings = BootstrapSettings(n=300, confidence=0.95, seed=0)
    covered = {"cluster": 0, "window": 0}
    replicates = 200
    for r in range(replicates):
        scores, labels, clusters = _clustered(rng, 40, 15, delta)
        for kind, units in (("cluster", clusters), ("window", np.arange(len(labels)))):
            low, high = metric_intervals(
                scores, labels, units, BootstrapSettings(n=300, seed=r), {"auroc": weighted_auroc}
            )["auroc"]
            covered[kind] += low <= truth <= high
    assert settings.confidence == 0.95
    cluster, window = covered["cluster"] / replicates, covered["window"] / replicates
    assert cluster >= 0.90, (cluster, window)
    assert window <= cluster - 0.2, (cluster, window)


def test_paired_deltas_noise_is_not_significant_and_a_better_model_is() -> None:
    rng = np.random.default_rng(5)
    scores, labels, clusters = _clustered(rng, 40, 10, 1.0)
    base = 1 / (1 + np.exp(-scores))
    noise = 1 / (1 + np.exp(-(scores + rng.normal(0, 0.05, len(scores)))))
    better = 1 / (1 + np.exp(-(scores + 2.0 * labels)))
    settings = BootstrapSettings(n=500, seed=1)
    same = {r.metric: r for r in paired_deltas(base, noise, labels, clusters, settings)}
    assert not same["auroc"].significant and not same["auprc"].significant
    up = {r.metric: r for r in paired_deltas(base, better, labels, clusters, settings)}
    assert up["auroc"].significant and up["auroc"].better and up["auroc"].low > 0
    assert up["auroc"].base == pytest.approx(roc_auc_score(labels, base))
    assert up["auroc"].new == pytest.approx(roc_auc_score(labels, better))
