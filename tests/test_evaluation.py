from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, roc_auc_score

from ttmbio.evaluation import bootstrap_auroc_ci, classification_metrics, vote


def test_soft_and_hard_voting_by_hand() -> None:
    cases = np.array(["a", "a", "a", "b", "b"])
    scores = np.array([0.9, 0.4, 0.8, 0.2, 0.6])
    labels = np.array([1, 1, 1, 0, 0])
    ids, soft, y = vote(cases, scores, labels, "soft", 0.5)
    assert ids.tolist() == ["a", "b"] and y.tolist() == [1, 0]
    np.testing.assert_allclose(soft, [0.7, 0.4])
    _, hard, _ = vote(cases, scores, labels, "hard", 0.5)
    np.testing.assert_allclose(hard, [2 / 3, 0.5])


def test_metrics_agree_with_scikit_learn() -> None:
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 400)
    scores = np.clip(labels * 0.3 + rng.random(400) * 0.7, 0, 1)
    m = classification_metrics(scores, labels, 0.5)
    assert m["auroc"] == pytest.approx(roc_auc_score(labels, scores), abs=1e-6)
    assert m["auprc"] == pytest.approx(average_precision_score(labels, scores), abs=1e-4)
    predicted = scores >= 0.5
    assert m["accuracy"] == pytest.approx(float((predicted == labels).mean()))
    assert sum(m["confusion"].values()) == 400
    assert m["accuracy_class_1"] == pytest.approx(float(predicted[labels == 1].mean()))


def test_bootstrap_interval_brackets_the_estimate_and_is_seeded() -> None:
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 2, 300)
    scores = labels * 0.2 + rng.random(300)
    point = roc_auc_score(labels, scores)
    low, high = bootstrap_auroc_ci(scores, labels, 200, 0.95, seed=3)
    assert low < point < high and high - low < 0.2
    assert (low, high) == bootstrap_auroc_ci(scores, labels, 200, 0.95, seed=3)
